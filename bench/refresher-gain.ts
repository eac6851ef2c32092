/**
 * bench:refresher-gain — how long a gain holds the event loop while it schedules its objects: a
 * leader's `start()` (`--shards 1`, every object at once) and a gain of every shard
 * (`setShards`, 32 shards) at N ExternalSecrets in N/100 namespaces, a SecretStore each, every
 * ExternalSecret synced a minute ago at its current version (each keeps its round: ESO's resource
 * version, a sha3-224 of its labels and annotations, computed and compared per object). No store
 * has an ask (bench/refresher-replay.ts times the replay). Each object's target Secret is in the
 * managed-Secret cache as written (KnownTargets over a Map, filled through its `keep` as the
 * informer fills it), and the Refresher looks it up per object scheduled (`targetState`, as
 * cluster.ts wires it): each keeps its round. In process: the Refresher with an injected clock,
 * no provider, no API server (a gain runs no sync before its loop turns).
 *
 * Timed per run: the call's synchronous stretch, then every turn of the event loop (a setImmediate
 * probe) until `scheduled()` resolves — wall clock and `process.cpuUsage()` — and the loss that
 * follows (`setShards([])`, `stop()`). `start()` runs on a new Refresher each run: a stopped one
 * keeps its queue, so a second start() has nothing to schedule. The gains run on one Refresher,
 * given every shard back after giving them all up (objects already gained once: a memo of
 * anything per object would show here). Last, ESO's resource version of every object computed
 * alone: what a memo of it would save a gain; and the target lookup of every object alone (against
 * the cache's bare Map read, and as ConfigMap targets).
 *
 *   nice -n 19 node bench/refresher-gain.ts      (BENCH_N=100000, BENCH_RUNS=3, BENCH_SHARDS=32)
 */
import type { ConfigMap, KubeObject, Secret } from '../src/api/types.ts';
import { createMetrics } from '../src/observability/metrics.ts';
import { ES_HASH_ANNOTATION, esoResourceVersion, MANAGED_LABEL } from '../src/refresher/external-secret.ts';
import { configMapData, configMapIntact, withConfigMapDigest } from '../src/refresher/generic-target.ts';
import { flagEdited, GenericTargets, KnownTargets } from '../src/refresher/known-targets.ts';
import type { Refresher } from '../src/refresher/refresher.ts';
import { dataHash, decodeData, withDataDigest, writeDataHash } from '../src/refresher/secret-data.ts';
import { machine, saveResult } from './lib.ts';
import { attachMap, benchRefresher, cpuMs, externalSecret, probeTurns, store } from './refresher-fixtures.ts';

const N = Number(process.env.BENCH_N ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SHARDS = Number(process.env.BENCH_SHARDS ?? 32);
const STORES = Math.ceil(N / 100);
const objects = Array.from({ length: N }, (_, i) => externalSecret(i, { synced: true, labelled: true }));

/** The i-th object's target Secret as its last sync wrote it (data-hash matching its data). */
function target(i: number): Secret {
  const data = { password: Buffer.from(`value-${i}`).toString('base64') };
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: `es-${i}`,
      namespace: `ns-${Math.floor(i / 100)}`,
      resourceVersion: String(i + 1),
      labels: { [MANAGED_LABEL]: 'true' },
      annotations: { [ES_HASH_ANNOTATION]: writeDataHash(decodeData(data), undefined) },
    },
    data,
  };
}

const known = new KnownTargets();
const cache = new Map<string, KubeObject>();
attachMap(known, cache);
for (let i = 0; i < N; i++) {
  const kept = known.keep(withDataDigest(target(i)) as KubeObject);
  cache.set(`${kept.metadata?.namespace}/${kept.metadata?.name}`, kept);
}
// Every lookup must find its target as written, or the gain would queue them all urgent.
if (N > 0 && known.state('ns-0/es-0') !== 'intact') throw new Error('targets not intact in the cache');

// As cluster.ts routes it: a generic target's key holds its kind. The gains' objects write
// Secrets; the ConfigMap cache (the same targets, written as ConfigMaps, projected and flagged as
// cluster.ts does) is read by the lookup timed alone only.
const generic = new GenericTargets();
const configMaps = new Map<string, KubeObject>();
generic.watch('ConfigMap', { listed: true, cache: configMaps });
for (let i = 0; i < N; i++) {
  const { metadata } = target(i);
  const cm: ConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata, data: { password: `value-${i}` } };
  cm.metadata = { ...metadata, annotations: { [ES_HASH_ANNOTATION]: dataHash(configMapData(cm)) } };
  configMaps.set(
    `${metadata?.namespace}/${metadata?.name}`,
    flagEdited(withConfigMapDigest(cm), configMapIntact),
  );
}
const targetState = (target: string) => (target.includes('|') ? generic.state(target) : known.state(target));

/** A refresher holding every object, owning nothing yet. */
function build(shards: number): Refresher {
  // A gain schedules; no sync runs before the loop turns.
  const r = benchRefresher({
    metrics: createMetrics(),
    shards,
    targetState,
  });
  for (let s = 0; s < STORES; s++) r.upsertStore(store(s));
  for (const es of objects) r.upsertExternalSecret(es);
  return r;
}

interface Stretches {
  /** The call itself: wall and CPU ms. */
  call: number;
  callCpu: number;
  /** From the call to `scheduled()` resolved: wall ms. */
  total: number;
  /** The turns of the loop until `scheduled()` resolved: the longest (wall, CPU), median CPU, count. */
  maxTurn: number;
  maxTurnCpu: number;
  medianTurnCpu: number;
  turns: number;
  /** The loss after it: wall ms. */
  loss: number;
  /** Objects queued once the gain had scheduled everything. */
  queued: number;
}

/** Runs `gain`, then probes every turn of the loop until the refresher has scheduled it all. */
async function time(r: Refresher, gain: () => void, loss: () => Promise<void>): Promise<Stretches> {
  const start = performance.now();
  const startCpu = cpuMs();
  gain();
  const call = performance.now() - start;
  const callCpu = cpuMs() - startCpu;
  // At least one turn: the first is the one a request waiting behind the call is answered in.
  const turns = await probeTurns(r, true);
  const total = performance.now() - start;
  const queued = r.queueDepth;
  const lossStart = performance.now();
  await loss();
  return {
    call,
    callCpu,
    total,
    maxTurn: turns.maxWall,
    maxTurnCpu: turns.maxCpu,
    medianTurnCpu: turns.medianCpu,
    turns: turns.turns,
    loss: performance.now() - lossStart,
    queued,
  };
}

async function starts(): Promise<Stretches[]> {
  const runs: Stretches[] = [];
  for (let run = 0; run < RUNS; run++) {
    const r = build(1);
    runs.push(
      await time(
        r,
        () => r.start(),
        () => r.stop(),
      ),
    );
  }
  return runs;
}

async function gains(): Promise<Stretches[]> {
  const r = build(SHARDS);
  const all = Array.from({ length: SHARDS }, (_, i) => i);
  const runs: Stretches[] = [];
  for (let run = 0; run < RUNS; run++) {
    let settled: Promise<void> = Promise.resolve();
    runs.push(
      await time(
        r,
        () => {
          settled = r.setShards(all);
        },
        async () => {
          await settled;
          await r.setShards([]);
        },
      ),
    );
  }
  return runs;
}

/** ESO's resource version of every object, alone: the share of a gain a memo of it would save. */
function versions(): number[] {
  const runs: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const start = performance.now();
    for (const es of objects) esoResourceVersion(es);
    runs.push(performance.now() - start);
  }
  return runs;
}

/**
 * The target lookup of every object alone, as a gain makes it (each object's key built once and
 * hashed by a map, as the Refresher's index of targets holds it; routed as cluster.ts routes it),
 * wall and CPU ms; the cache's Map read of the same keys alone, CPU ms (the floor of any lookup);
 * and the lookup of the same targets as ConfigMaps (`ConfigMap|ns/name`), CPU ms.
 */
function lookups(): { wall: number; cpu: number; mapCpu: number; configMapCpu: number }[] {
  const targets = objects.map((es) => `${es.metadata?.namespace}/${es.spec?.target?.name}`);
  const generics = targets.map((t) => `ConfigMap|${t}`);
  const index = new Set([...targets, ...generics]);
  if (index.size !== 2 * targets.length) throw new Error('duplicate targets');
  const runs: { wall: number; cpu: number; mapCpu: number; configMapCpu: number }[] = [];
  for (let run = 0; run < RUNS; run++) {
    const start = performance.now();
    const startCpu = cpuMs();
    for (const target of targets) if (targetState(target) !== 'intact') throw new Error('not intact');
    const wall = performance.now() - start;
    const cpu = cpuMs() - startCpu;
    const mapStart = cpuMs();
    for (const target of targets) if (!cache.get(target)) throw new Error('not cached');
    const mapCpu = cpuMs() - mapStart;
    const cmStart = cpuMs();
    for (const target of generics) if (targetState(target) !== 'intact') throw new Error('not intact');
    runs.push({ wall, cpu, mapCpu, configMapCpu: cpuMs() - cmStart });
  }
  return runs;
}

const fmt = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(', ');
console.log(`# ${N} ExternalSecrets, ${STORES} SecretStores (${machine()})`);
const started = await starts();
const gained = await gains();
const hashed = versions();
const looked = lookups();
console.log(
  '| gain | the call, ms wall (CPU) | then the longest turn until scheduled, ms wall (CPU) | median turn, CPU ms | turns | call to scheduled, ms wall | objects queued | the loss after, ms wall |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const [name, runs] of [
  ['start(), --shards 1', started],
  [`setShards: all ${SHARDS} shards`, gained],
] as const)
  console.log(
    `| ${name} | ${runs.map((x) => `${x.call.toFixed(1)} (${x.callCpu.toFixed(1)})`).join(', ')} | ${runs.map((x) => `${x.maxTurn.toFixed(1)} (${x.maxTurnCpu.toFixed(1)})`).join(', ')} | ${fmt(runs.map((x) => x.medianTurnCpu))} | ${runs.map((x) => x.turns).join(', ')} | ${fmt(runs.map((x) => x.total))} | ${runs.map((x) => x.queued).join(', ')} | ${fmt(runs.map((x) => x.loss))} |`,
  );
console.log(`ESO's resource version of the ${N} objects alone, ms: ${fmt(hashed)}`);
console.log(
  `The target lookup of the ${N} objects alone, ms wall (CPU): ${looked.map((x) => `${x.wall.toFixed(1)} (${x.cpu.toFixed(1)})`).join(', ')}; the cache's Map read alone, CPU ms: ${fmt(looked.map((x) => x.mapCpu))}; as ConfigMap targets, CPU ms: ${fmt(looked.map((x) => x.configMapCpu))}`,
);
await saveResult('refresher-gain', { n: N, stores: STORES, shards: SHARDS, started, gained, hashed, looked });
