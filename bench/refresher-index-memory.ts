/**
 * bench:refresher-index-memory — what the Refresher's index of dependents by store group
 * (`#dependents`: store group -> the keys of the objects naming it) holds at N ExternalSecrets
 * over N/100 SecretStores, one store each, as heapUsed after a forced collection.
 *
 * The index is private, so it is measured as the same structure built the same way beside the
 * Refresher: a Map of one Set per store group, each object's key added as `#indexDependents`
 * adds it (one at a time, in the informer's order), the key strings made beforehand — the
 * Refresher's index shares them with its per-object state, so they are not the index's. For
 * scale, the whole Refresher holding the same objects (its state, round planner, target index
 * and the index) is measured too, the objects themselves made beforehand (the informer's).
 *
 *   nice -n 19 node --expose-gc bench/refresher-index-memory.ts   (BENCH_N=100000, BENCH_RUNS=3)
 */
import type { Refresher } from '../src/refresher/refresher.ts';
import { machine, saveResult } from './lib.ts';
import { benchRefresher, externalSecret } from './refresher-fixtures.ts';

const N = Number(process.env.BENCH_N ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const STORES = Math.ceil(N / 100);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

function heap(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

const objects = Array.from({ length: N }, (_, i) => externalSecret(i));
const keys = objects.map((es) => `${es.metadata?.namespace}/${es.metadata?.name}`);
const groups = objects.map((es) => `SecretStore/${es.metadata?.namespace}/aws`);

/** The index's structure, built as `#indexDependents` builds it. */
function index(): Map<string, Set<string>> {
  const byGroup = new Map<string, Set<string>>();
  for (let i = 0; i < N; i++) {
    const group = groups[i] as string;
    const key = keys[i] as string;
    const set = byGroup.get(group);
    if (set) set.add(key);
    else byGroup.set(group, new Set([key]));
  }
  return byGroup;
}

function refresher(): Refresher {
  const r = benchRefresher();
  for (const es of objects) r.upsertExternalSecret(es);
  return r;
}

const indexBytes: number[] = [];
const refresherBytes: number[] = [];
for (let run = 0; run < RUNS; run++) {
  let before = heap();
  let held: unknown = index();
  indexBytes.push(heap() - before);
  held = undefined;
  before = heap();
  held = refresher();
  refresherBytes.push(heap() - before);
  held = undefined;
  void held;
}

const mb = (xs: number[]) => xs.map((x) => (x / 2 ** 20).toFixed(2)).join(', ');
const perObject = (xs: number[]) => xs.map((x) => (x / N).toFixed(1)).join(', ');
console.log(`# ${N} ExternalSecrets, ${STORES} SecretStores (${machine()})`);
console.log('| held | heapUsed after gc, MB (each run) | bytes an ExternalSecret |');
console.log('|---|---|---|');
console.log(`| the index of dependents (its structure) | ${mb(indexBytes)} | ${perObject(indexBytes)} |`);
console.log(
  `| the whole Refresher holding them (not owning any) | ${mb(refresherBytes)} | ${perObject(refresherBytes)} |`,
);
await saveResult('refresher-index-memory', { n: N, stores: STORES, indexBytes, refresherBytes });
