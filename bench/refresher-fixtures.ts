/**
 * The scale scenario's objects for the in-process refresher benches (bench/refresher-gain.ts,
 * bench/refresher-replay.ts, bench/refresher-index-memory.ts): N ExternalSecrets in N/100
 * namespaces, one SecretStore `aws` each, the i-th reading key `key-(i mod 1,000)`, and a
 * Refresher with no provider and no API server behind it (nothing syncs before its loop turns).
 */
import type { ExternalSecret, KubeObject, SecretStore } from '../src/api/types.ts';
import { silentLogger } from '../src/observability/logger.ts';
import { esoResourceVersion } from '../src/refresher/external-secret.ts';
import type { KnownTargets } from '../src/refresher/known-targets.ts';
import type { KubeWriter } from '../src/refresher/ports.ts';
import { Refresher, type RefresherOptions } from '../src/refresher/refresher.ts';
import type { Resolver } from '../src/resolve/types.ts';

/** The benches' clock: every object's last sync a minute before it. */
export const T0 = Date.parse('2026-12-03T10:00:00Z');

/** The store of namespace ns-`s`, with `annotations` (a `force-sync` ask) if given. */
export function store(s: number, annotations?: Record<string, string>): SecretStore {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind: 'SecretStore',
    metadata: {
      name: 'aws',
      namespace: `ns-${s}`,
      uid: `store-${s}`,
      ...(annotations ? { annotations } : {}),
    },
    spec: { provider: { fake: { data: [] } } },
  };
}

/**
 * The i-th ExternalSecret. `synced`: a Ready status of a minute ago at its current version (a
 * gain keeps its round). `labelled`: two labels and an annotation, which ESO's resource version
 * (a sha3 of labels and annotations) then hashes, as it does for most real objects.
 */
export function externalSecret(
  i: number,
  opts: { synced?: boolean; labelled?: boolean } = {},
): ExternalSecret {
  const es: ExternalSecret = {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: {
      name: `es-${i}`,
      namespace: `ns-${Math.floor(i / 100)}`,
      uid: `u-${i}`,
      generation: 1,
      ...(opts.labelled
        ? {
            labels: { app: `app-${i % 50}`, team: `team-${i % 7}` },
            annotations: { 'reloader.stakater.com/match': 'true' },
          }
        : {}),
    },
    spec: {
      refreshInterval: '1h',
      secretStoreRef: { name: 'aws', kind: 'SecretStore' },
      target: { name: `es-${i}` },
      data: [{ secretKey: 'password', remoteRef: { key: `key-${i % 1_000}`, property: 'password' } }],
    },
  };
  if (opts.synced) {
    es.status = {
      refreshTime: new Date(T0 - 60_000).toISOString(),
      syncedResourceVersion: esoResourceVersion(es),
      conditions: [{ type: 'Ready', status: 'True', reason: 'SecretSynced' }],
    };
  }
  return es;
}

/**
 * A Refresher on the benches' clock, owning nothing yet, with `opts` (metrics, shards, …); its
 * resolver and writer are never asked.
 */
export function benchRefresher(opts: Partial<RefresherOptions> = {}): Refresher {
  return new Refresher({
    resolver: {} as Resolver,
    kube: {} as KubeWriter,
    logger: silentLogger(),
    now: () => T0,
    ...opts,
  });
}

/** CPU time (user + system) of this process, in ms: what a stretch costs, preemption aside. */
export const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/**
 * Every turn of the event loop (a setImmediate probe) until `r.scheduled()` resolves: the longest
 * by wall clock, the longest and the median by CPU time (under nice 19 on a loaded machine the
 * wall clock also holds the time the kernel gave other processes), and how many. `atLeastOne`:
 * the first turn is probed even when the scheduling is already done (the turn a request waiting
 * behind the call is answered in).
 */
export async function probeTurns(
  r: Refresher,
  atLeastOne: boolean,
): Promise<{ maxWall: number; maxCpu: number; medianCpu: number; turns: number }> {
  let done = false;
  void r.scheduled().then(() => {
    done = true;
  });
  let maxWall = 0;
  const cpus: number[] = [];
  let last = performance.now();
  let lastCpu = cpuMs();
  let probe = atLeastOne;
  while (probe || !done) {
    probe = false;
    await new Promise((resolve) => setImmediate(resolve));
    const now = performance.now();
    const nowCpu = cpuMs();
    maxWall = Math.max(maxWall, now - last);
    cpus.push(nowCpu - lastCpu);
    last = now;
    lastCpu = nowCpu;
  }
  cpus.sort((a, b) => a - b);
  return {
    maxWall,
    maxCpu: cpus.at(-1) ?? 0,
    medianCpu: cpus[Math.floor(cpus.length / 2)] ?? 0,
    turns: cpus.length,
  };
}

/** `known` reading `cache` (keyed `namespace/name`) as it reads a listed, watching informer's. */
export function attachMap(known: KnownTargets, cache: Map<string, KubeObject>): void {
  known.attach({
    get: (ns, name) => cache.get(`${ns ?? ''}/${name}`),
    healthy: () => true,
    listed: true,
    cache,
  });
}
