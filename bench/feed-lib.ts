/**
 * The latency harness of the push-refresh benches (push-refresh.ts, change-feed.ts,
 * change-feed-event-grid.ts): N ExternalSecrets of one store on the real refresher, an in-memory
 * Kubernetes port (no API server: this project's own cost) whose Secret writes are timed, each
 * trigger timed to every dependent's Secret written, and p50, p99 and last of those times.
 */
import type { ExternalSecret, Secret, SecretStore } from '../src/api/types.ts';
import { silentLogger } from '../src/observability/logger.ts';
import { Refresher } from '../src/refresher/refresher.ts';
import type { MemoryRegistry } from '../src/resolve/memory-registry.ts';
import type { StoreResolver } from '../src/resolve/resolver.ts';
import { MemoryKube } from '../test/refresher/memory-kube.ts';

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

/**
 * A refresher (concurrency 16) writing to an in-memory port, and when each target was last
 * written (created or replaced), by name. `timers`: the refresher runs its own queue on the real
 * clock (a feed's refresh is not ticked by the bench).
 */
export function timedRefresher(
  resolver: StoreResolver,
  opts: { timers: boolean },
): { refresher: Refresher; written: Map<string, number> } {
  const written = new Map<string, number>();
  const kube = new MemoryKube();
  const replace = kube.replaceSecret.bind(kube);
  kube.replaceSecret = async (ns: string, s: Secret) => {
    const out = await replace(ns, s);
    written.set(s.metadata?.name ?? '', performance.now());
    return out;
  };
  const create = kube.createSecret.bind(kube);
  kube.createSecret = async (ns: string, s: Secret) => {
    const out = await create(ns, s);
    written.set(s.metadata?.name ?? '', performance.now());
    return out;
  };
  const setTimer = (fn: () => void, ms: number) => {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  };
  const refresher = new Refresher({
    resolver,
    kube,
    logger: silentLogger(),
    concurrency: 16,
    ...(opts.timers ? { setTimer } : {}),
  });
  return { refresher, written };
}

/** `count` ExternalSecrets `es-<i>` (1 h interval) of `store`, each target `target-<i>` one `password`. */
export function addDependents(
  refresher: Refresher,
  count: number,
  store: SecretStore,
  remoteRef: (i: number) => { key: string; property?: string },
): void {
  const name = store.metadata?.name ?? '';
  const storeRef =
    store.kind === 'ClusterSecretStore'
      ? { name, kind: 'ClusterSecretStore' as const }
      : { name, kind: 'SecretStore' as const };
  for (let i = 0; i < count; i++) {
    const es: ExternalSecret = {
      apiVersion: 'external-secrets.io/v1',
      kind: 'ExternalSecret',
      metadata: { name: `es-${i}`, namespace: 'default', uid: `es-${i}`, generation: 1 },
      spec: {
        refreshInterval: '1h',
        secretStoreRef: storeRef,
        target: { name: `target-${i}` },
        data: [{ secretKey: 'password', remoteRef: remoteRef(i) }],
      },
    };
    refresher.upsertExternalSecret(es);
  }
  refresher.upsertStore(store);
}

/** A wait polling `ok` every 2 ms, failing once `ms` from now have passed (every wait shares it). */
export function deadline(ms: number): (what: string, ok: () => boolean) => Promise<void> {
  const end = Date.now() + ms;
  return async (what, ok) => {
    while (!ok()) {
      if (Date.now() > end) throw new Error(`timed out: ${what}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  };
}

export interface Latency {
  p50Ms: number;
  p99Ms: number;
  lastMs: number;
}

/**
 * `runs` triggers, each timed from just before `trigger(run)` to every one of `count` targets
 * written. Before each, `change(run)` puts the new values in place and resets the provider's
 * counts (with any pause the bench needs); after each, `done(run)` reads what the run cost.
 */
export async function timeTriggers(opts: {
  runs: number;
  count: number;
  written: Map<string, number>;
  waitUntil: (what: string, ok: () => boolean) => Promise<void>;
  change: (run: number) => void | Promise<void>;
  trigger: (run: number) => void | Promise<void>;
  done: (run: number) => void;
}): Promise<Latency> {
  const latencies: number[] = [];
  const lasts: number[] = [];
  for (let run = 1; run <= opts.runs; run++) {
    await opts.change(run);
    opts.written.clear();
    const t0 = performance.now();
    await opts.trigger(run);
    await opts.waitUntil(`run ${run}`, () => opts.written.size === opts.count);
    const times = [...opts.written.values()].map((t) => t - t0).sort((a, b) => a - b);
    latencies.push(...times);
    lasts.push(times[times.length - 1] ?? 0);
    opts.done(run);
  }
  latencies.sort((a, b) => a - b);
  return { p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), lastMs: Math.max(...lasts) };
}

/** A table row's times: `| p50 | p99 | last |` cells. */
export function latencyCells(r: Latency): string {
  return `${r.p50Ms.toFixed(0)} ms | ${r.p99Ms.toFixed(0)} ms | ${r.lastMs.toFixed(0)} ms`;
}

/**
 * A SecretStore `default/aws` on Secrets Manager, its credentials (Secret `aws`) put in
 * `registry`; `annotations` on the store (a change feed).
 */
export function awsSecretStore(registry: MemoryRegistry, annotations?: Record<string, string>): SecretStore {
  registry.upsert({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'aws', namespace: 'default' },
    data: { id: Buffer.from('AKID').toString('base64'), secret: Buffer.from('SECRET').toString('base64') },
  } as never);
  return {
    apiVersion: 'external-secrets.io/v1',
    kind: 'SecretStore',
    metadata: {
      name: 'aws',
      namespace: 'default',
      uid: 'u1',
      resourceVersion: '1',
      generation: 1,
      ...(annotations ? { annotations } : {}),
    },
    spec: {
      provider: {
        aws: {
          service: 'SecretsManager',
          region: 'us-east-1',
          auth: {
            secretRef: {
              accessKeyIDSecretRef: { name: 'aws', key: 'id' },
              secretAccessKeySecretRef: { name: 'aws', key: 'secret' },
            },
          },
        },
      },
    },
  };
}
