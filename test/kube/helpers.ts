/**
 * Small helpers for the Kubernetes tests: bounded polling, a sleep the test releases, Lease
 * requests the test holds, and a replica of the sharded refresher.
 */
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { KubeClient, type Lease } from '../../src/kube/client.ts';
import { ShardCoordinator } from '../../src/kube/shards.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { ApiKubeWriter } from '../../src/refresher/kube-writer.ts';
import { Refresher } from '../../src/refresher/refresher.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { StoreResolver } from '../../src/resolve/resolver.ts';
import { type Remote, remoteProvider, STORE } from '../refresher/harness.ts';

/**
 * Polls `cond` every 10 ms; throws with `what` when it never holds. The bound only ends a broken
 * run: it is far above any real wait, so a loaded machine is slower, never failed.
 */
export async function until(cond: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A sleep that only returns when the test calls `release()`; records the requested delays. */
export function heldSleep() {
  const delays: number[] = [];
  let waiting: Array<() => void> = [];
  return {
    delays,
    sleep: (ms: number) =>
      new Promise<void>((resolve) => {
        delays.push(ms);
        waiting.push(resolve);
      }),
    get pending(): number {
      return waiting.length;
    },
    release(): void {
      const w = waiting;
      waiting = [];
      for (const r of w) r();
    },
  };
}

const apis = new WeakMap<object, { core: CoreV1Api; custom: CustomObjectsApi }>();

/**
 * client-node's generated clients for a KubeClient built from a client-node KubeConfig (the
 * project's KubeClient no longer carries them: it never loads the generated API).
 */
export function generated(client: { kc: object }): { core: CoreV1Api; custom: CustomObjectsApi } {
  let a = apis.get(client.kc);
  if (!a) {
    const kc = client.kc as KubeConfig;
    a = { core: kc.makeApiClient(CoreV1Api), custom: kc.makeApiClient(CustomObjectsApi) };
    apis.set(client.kc, a);
  }
  return a;
}

/** A client whose Lease calls the test can hold: sent and not answered, or answered late. */
export class HeldClient extends KubeClient {
  /** When set, a list of Leases waits for it before it is sent (contact lost). */
  cut: Promise<void> | undefined;
  /** When set, a Lease update is applied by the API server, and answered only after it. */
  late: Promise<void> | undefined;

  override async listLeases(namespace: string, labelSelector: string): Promise<Lease[]> {
    if (this.cut) await this.cut;
    return super.listLeases(namespace, labelSelector);
  }

  override async replaceLease(namespace: string, lease: Lease): Promise<Lease> {
    const written = await super.replaceLease(namespace, lease);
    if (this.late) await this.late;
    return written;
  }
}

/** A promise the test settles by hand. */
export function held(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve = () => {};
  let reject: (e: Error) => void = () => {};
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * One replica of the sharded refresher on the API-server double, wired as cluster.ts wires it: a
 * Lease client the test can hold, a resolver over `remote` for the harness's STORE, the refresher
 * writing only the shards its coordinator may write now. Its informers are the test's to feed.
 */
export function shardReplica(
  api: { kubeConfig(): KubeConfig },
  opts: {
    identity: string;
    remote: Remote;
    now: () => number;
    lines: string[];
    shards: number;
    requestReplayMs?: number;
  },
) {
  const { now, shards } = opts;
  const client = new HeldClient(api.kubeConfig());
  const logger = createLogger({ level: 'debug', destination: { write: (l: string) => opts.lines.push(l) } });
  const registry = new MemoryRegistry();
  registry.upsert(STORE);
  const resolver = new StoreResolver({
    registry,
    secrets: registry,
    providers: new Map([['fake', remoteProvider(opts.remote)]]),
    logger,
    now,
    cacheTtlMs: 30_000,
  });
  const refresher: Refresher = new Refresher({
    resolver,
    kube: new ApiKubeWriter(new KubeClient(api.kubeConfig()), now),
    logger,
    now,
    shards,
    mayWrite: (shard) => coordinator.mayWrite(shard),
    ...(opts.requestReplayMs === undefined ? {} : { requestReplayMs: opts.requestReplayMs }),
  });
  const coordinator: ShardCoordinator = new ShardCoordinator({
    client,
    namespace: 'esw',
    identity: opts.identity,
    shards,
    now,
    logger,
    onShards: (owned) => refresher.setShards(owned),
  });
  return { client, coordinator, refresher };
}

/** The ClusterExternalSecret of the write-deadline tests: one key of the SecretStore "vault" into team-a. */
export function sharedClusterExternalSecret() {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ClusterExternalSecret',
    metadata: { name: 'shared' },
    spec: {
      namespaces: ['team-a'],
      externalSecretSpec: {
        secretStoreRef: { name: 'vault', kind: 'SecretStore' },
        target: { name: 'shared' },
        data: [{ secretKey: 'k', remoteRef: { key: 'k' } }],
      },
    },
  };
}
