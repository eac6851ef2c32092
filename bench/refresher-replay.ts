/**
 * bench:refresher-replay — the synchronous stretch of a shard gain (`Refresher.setShards`: the
 * gained objects scheduled, then `#replay` acting on every store's recent ask) at N
 * ExternalSecrets in N/100 namespaces, a SecretStore each, every store with an ask within the
 * replay window. In process: the Refresher with an injected clock, no provider, no API server
 * (a gain runs no sync before its loop turns). Each run gives every shard up, then gains them all
 * back (which replays every ask again), and times the call's synchronous part — the stretch the
 * event loop, and so admission, waits for — then the longest turn of the loop (a setImmediate
 * probe) until the replay, scheduled in slices, is done. The same gain without asks shows the
 * gain's own share.
 *
 *   nice -n 19 node bench/refresher-replay.ts      (BENCH_N=100000, BENCH_RUNS=5, BENCH_SHARDS=32)
 */
import { createMetrics } from '../src/observability/metrics.ts';
import type { Refresher } from '../src/refresher/refresher.ts';
import { machine, saveResult } from './lib.ts';
import { benchRefresher, cpuMs, externalSecret, probeTurns, store } from './refresher-fixtures.ts';

const N = Number(process.env.BENCH_N ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SHARDS = Number(process.env.BENCH_SHARDS ?? 32);
const STORES = Math.ceil(N / 100);
/** One refresher holding every object, stores marked (an ask each) or not, owning nothing yet. */
function build(asks: boolean): Refresher {
  // A gain schedules and replays; no sync runs before the loop turns.
  const r = benchRefresher({ metrics: createMetrics(), shards: SHARDS });
  for (let s = 0; s < STORES; s++) r.upsertStore(store(s));
  for (let i = 0; i < N; i++) r.upsertExternalSecret(externalSecret(i, { synced: true }));
  if (asks) for (let s = 0; s < STORES; s++) r.upsertStore(store(s, { 'force-sync': '1' }));
  return r;
}

interface Runs {
  gain: number[];
  gainCpu: number[];
  replay: number[];
  replayCpu: number[];
  medianCpu: number[];
  turns: number;
}

async function gains(asks: boolean): Promise<Runs> {
  const r = build(asks);
  const all = Array.from({ length: SHARDS }, (_, i) => i);
  const runs: Runs = { gain: [], gainCpu: [], replay: [], replayCpu: [], medianCpu: [], turns: 0 };
  for (let run = 0; run < RUNS; run++) {
    await r.setShards([]);
    const start = performance.now();
    const startCpu = cpuMs();
    const gained = r.setShards(all);
    runs.gain.push(performance.now() - start);
    runs.gainCpu.push(cpuMs() - startCpu);
    // The longest turn until the replay has scheduled everything, by wall clock and by CPU.
    const turns = await probeTurns(r, false);
    runs.replay.push(turns.maxWall);
    runs.replayCpu.push(turns.maxCpu);
    runs.medianCpu.push(turns.medianCpu);
    runs.turns = turns.turns;
    await gained;
  }
  await r.setShards([]);
  return runs;
}

const fmt = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(', ');
console.log(`# shard gain, ${N} ExternalSecrets, ${STORES} SecretStores, ${SHARDS} shards (${machine()})`);
const withAsks = await gains(true);
const without = await gains(false);
console.log(
  '| gain | the gain call, ms wall (each run) | its CPU, ms | then the longest turn until the replay is done, ms wall | its CPU, ms | the median turn, CPU ms | turns |',
);
console.log('|---|---|---|---|---|---|---|');
for (const [name, x] of [
  ['every store with a recent ask', withAsks],
  ['no ask', without],
] as const)
  console.log(
    `| ${name} | ${fmt(x.gain)} | ${fmt(x.gainCpu)} | ${fmt(x.replay)} | ${fmt(x.replayCpu)} | ${fmt(x.medianCpu)} | ${x.turns} |`,
  );
await saveResult('refresher-replay', { n: N, stores: STORES, shards: SHARDS, withAsks, without });
