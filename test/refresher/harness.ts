/** A refresher wired to the real StoreResolver, a controllable provider and an in-memory cluster. */
import type { ExternalSecret, SecretStore } from '../../src/api/types.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import {
  type Provider,
  type ProviderClient,
  ProviderError,
  type RemoteKey,
} from '../../src/providers/types.ts';
import { esoResourceVersion } from '../../src/refresher/external-secret.ts';
import { Refresher, type RefresherOptions } from '../../src/refresher/refresher.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { StoreResolver } from '../../src/resolve/resolver.ts';
import { MemoryKube } from './memory-kube.ts';

export class Remote {
  readonly values = new Map<string, string>();
  calls = 0;
  fault: ProviderError | undefined;
  /** When set, getSecret waits for this before answering. */
  gate: Promise<void> | undefined;
}

export function remoteProvider(remote: Remote): Provider {
  const client: ProviderClient = {
    async getSecret(ref: RemoteKey) {
      remote.calls++;
      if (remote.gate) await remote.gate;
      if (remote.fault) throw remote.fault;
      const v = remote.values.get(ref.key);
      if (v === undefined) throw new ProviderError('NotFound', `test: secret "${ref.key}" does not exist`);
      return new TextEncoder().encode(v);
    },
    async close() {},
  };
  return { name: 'fake', validateStore: () => [], newClient: async () => client };
}

export const STORE: SecretStore = {
  apiVersion: 'external-secrets.io/v1',
  kind: 'SecretStore',
  metadata: {
    name: 'aws-secrets-manager-store',
    namespace: 'default',
    uid: 'store-uid',
    resourceVersion: '1',
  },
  spec: { provider: { fake: { data: [] } } },
};

/** The introduction's ExternalSecret (v1). */
export function introExternalSecret(
  over: Partial<ExternalSecret['spec']> = {},
  name = 'database-credentials-secret',
): ExternalSecret {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name, namespace: 'default', uid: `uid-${name}`, generation: 1, resourceVersion: '10' },
    spec: {
      refreshInterval: '1h',
      secretStoreRef: { name: 'aws-secrets-manager-store', kind: 'SecretStore' },
      target: { name: 'database-credentials', creationPolicy: 'Owner' },
      data: [
        { secretKey: 'username', remoteRef: { key: 'my-app/database-credentials', property: 'username' } },
        { secretKey: 'password', remoteRef: { key: 'my-app/database-credentials', property: 'password' } },
      ],
      ...over,
    },
  };
}

export function harness(opts: Partial<RefresherOptions> = {}) {
  let now = Date.parse('2026-11-28T10:00:00Z');
  const clock = { now: () => now, advance: (ms: number) => (now += ms) };
  const remote = new Remote();
  const registry = new MemoryRegistry();
  registry.upsert(STORE);
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (l: string) => lines.push(l) } });
  const metrics = createMetrics();
  const resolver = new StoreResolver({
    registry,
    secrets: registry,
    providers: new Map([['fake', remoteProvider(remote)]]),
    logger,
    now: clock.now,
    cacheTtlMs: 30_000,
  });
  const kube = new MemoryKube();
  const refresher = new Refresher({ resolver, kube, logger, metrics, now: clock.now, ...opts });
  return { clock, remote, registry, resolver, kube, refresher, lines, metrics };
}

/**
 * `es` as the replica that synced it a minute ago left it: Ready, synced at this very version, so
 * a start or gain keeps its round (no sync needed to build it).
 */
export function readyAtVersion(h: { clock: { now: () => number } }, es: ExternalSecret): ExternalSecret {
  return {
    ...es,
    status: {
      refreshTime: new Date(h.clock.now() - 60_000).toISOString(),
      syncedResourceVersion: esoResourceVersion(es),
      conditions: [{ type: 'Ready', status: 'True', reason: 'SecretSynced' }],
    },
  };
}

export const b64 = (s: string) => Buffer.from(s).toString('base64');
export const unb64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');

/**
 * Holds each sync at its read of the target Secret (past the round's prefetch) until opened;
 * `close()` holds the next ones again, counting reads from 0.
 */
export function holdSyncs(h: ReturnType<typeof harness>) {
  let release: () => void = () => undefined;
  let gate: Promise<void> | undefined;
  let reads = 0;
  const read = h.kube.getSecret.bind(h.kube);
  h.kube.getSecret = async (ns, name) => {
    reads++;
    if (gate) await gate;
    return read(ns, name);
  };
  const hold = {
    close(): void {
      reads = 0;
      gate = new Promise<void>((r) => {
        release = r;
      });
    },
    open(): void {
      gate = undefined;
      release();
    },
    /** The reads held so far, once the first has arrived (or after 100 turns of the loop). */
    async inFlight(): Promise<number> {
      for (let i = 0; i < 100 && reads === 0; i++) await new Promise((r) => setImmediate(r));
      return reads;
    },
  };
  hold.close();
  return hold;
}
