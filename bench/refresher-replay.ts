/**
 * bench:refresher-replay — the synchronous stretch of a shard gain (`Refresher.setShards`: the
 * gained objects scheduled, then `#replay` acting on every store's recent ask) at N
 * ExternalSecrets in N/100 namespaces, a SecretStore each, every store with an ask within the
 * replay window. In process: the Refresher with an injected clock, no provider, no API server
 * (a gain runs no sync before its loop turns). Each run gives every shard up, then gains them all
 * back (which replays every ask again), and times the call's synchronous part — the stretch the
 * event loop, and so admission, waits for. The same gain without asks shows replay's share.
 *
 *   nice -n 19 node bench/refresher-replay.ts      (BENCH_N=100000, BENCH_RUNS=5, BENCH_SHARDS=32)
 */
import type { ExternalSecret, SecretStore } from '../src/api/types.ts';
import { silentLogger } from '../src/observability/logger.ts';
import { createMetrics } from '../src/observability/metrics.ts';
import { esoResourceVersion } from '../src/refresher/external-secret.ts';
import type { KubeWriter } from '../src/refresher/ports.ts';
import { Refresher } from '../src/refresher/refresher.ts';
import type { Resolver } from '../src/resolve/types.ts';
import { machine, saveResult } from './lib.ts';

const N = Number(process.env.BENCH_N ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SHARDS = Number(process.env.BENCH_SHARDS ?? 32);
const STORES = Math.ceil(N / 100);
const T0 = Date.parse('2026-12-03T10:00:00Z');

const store = (s: number, annotations?: Record<string, string>): SecretStore => ({
  apiVersion: 'external-secrets.io/v1',
  kind: 'SecretStore',
  metadata: { name: 'aws', namespace: `ns-${s}`, uid: `store-${s}`, ...(annotations ? { annotations } : {}) },
  spec: { provider: { fake: { data: [] } } },
});

/** The i-th ExternalSecret, synced a minute ago at its current version (a takeover keeps its round). */
function externalSecret(i: number): ExternalSecret {
  const es: ExternalSecret = {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name: `es-${i}`, namespace: `ns-${Math.floor(i / 100)}`, uid: `u-${i}`, generation: 1 },
    spec: {
      refreshInterval: '1h',
      secretStoreRef: { name: 'aws', kind: 'SecretStore' },
      target: { name: `es-${i}` },
      data: [{ secretKey: 'password', remoteRef: { key: `key-${i % 1_000}`, property: 'password' } }],
    },
  };
  es.status = {
    refreshTime: new Date(T0 - 60_000).toISOString(),
    syncedResourceVersion: esoResourceVersion(es),
    conditions: [{ type: 'Ready', status: 'True', reason: 'SecretSynced' }],
  };
  return es;
}

/** One refresher holding every object, stores marked (an ask each) or not, owning nothing yet. */
function build(asks: boolean): Refresher {
  const r = new Refresher({
    // A gain schedules and replays; no sync runs before the loop turns, so these are never asked.
    resolver: {} as Resolver,
    kube: {} as KubeWriter,
    logger: silentLogger(),
    metrics: createMetrics(),
    now: () => T0,
    shards: SHARDS,
  });
  for (let s = 0; s < STORES; s++) r.upsertStore(store(s));
  for (let i = 0; i < N; i++) r.upsertExternalSecret(externalSecret(i));
  if (asks) for (let s = 0; s < STORES; s++) r.upsertStore(store(s, { 'force-sync': '1' }));
  return r;
}

async function gains(asks: boolean): Promise<number[]> {
  const r = build(asks);
  const all = Array.from({ length: SHARDS }, (_, i) => i);
  const ms: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    await r.setShards([]);
    const start = performance.now();
    const gained = r.setShards(all);
    ms.push(performance.now() - start);
    await gained;
    if (run === 0) console.error(`  queued after a gain: ${r.queueDepth}`);
  }
  await r.setShards([]);
  return ms;
}

const fmt = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(', ');
console.log(`# shard gain, ${N} ExternalSecrets, ${STORES} SecretStores, ${SHARDS} shards (${machine()})`);
const withAsks = await gains(true);
const without = await gains(false);
console.log('| gain | synchronous stretch, ms (each run) | longest |');
console.log('|---|---|---|');
console.log(`| every store with a recent ask | ${fmt(withAsks)} | ${Math.max(...withAsks).toFixed(1)} |`);
console.log(`| no ask | ${fmt(without)} | ${Math.max(...without).toFixed(1)} |`);
await saveResult('refresher-replay', { n: N, stores: STORES, shards: SHARDS, withAsks, without });
