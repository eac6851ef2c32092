/**
 * bench:scale — the first sync and one refresh cycle at scale, measured as a user runs it:
 * `esw serve --kubeconfig` (the compiled build, refresher on) against the API-server double in
 * its own process over real HTTPS, seeded with N ExternalSecrets in N/100 namespaces, a
 * SecretStore each (AWS), two properties of N/10 keys, plus N unrelated 1 KiB Secrets
 * (test/fakes/scale-scenario.ts).
 *
 * Per N: time to ready, first-sync time (ready → every target written and every status Ready),
 * RSS at ready and its peak (VmHWM), AWS calls by kind against the economy, writes per target,
 * API requests in flight and connections (peak, seen by the double), then one refresh cycle
 * with nothing changed (Secret and status writes, AWS calls), and /validate latency at a fixed
 * 100 req/s during the first sync and during the cycle. The machine's load average is recorded
 * with every figure: the machine may be shared.
 *
 *   npm run bench:scale      (BENCH_SIZES=2000,10000,100000 BENCH_INTERVAL=2m)
 *
 * BENCH_SETTLE_MS (default 3000): the wait after the first sync before its counts are read; a
 * longer one leaves time to probe the webhook (a heap snapshot, a forced collection) at rest.
 * BENCH_HEAP_DIR=DIR preloads bench/heap-probe.ts into the webhook and reads its heap after a
 * forced collection at ready and after the first sync (`heap` in the row, and the live bytes the
 * first sync added per ExternalSecret); BENCH_HEAP_SNAPSHOT=1 writes a heap snapshot at each into DIR.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { machine, saveResult } from './lib.ts';
import {
  cpuSeconds,
  type LatencyResult,
  loadAverage,
  rss,
  sleep,
  startClusterProcess,
  startReplica,
  validateLoad,
  waitReplicaReady,
  writeServingCerts,
} from './scale-lib.ts';

const SIZES = (process.env.BENCH_SIZES ?? '2000,10000,100000').split(',').map(Number);
const INTERVAL = process.env.BENCH_INTERVAL ?? '2m';
const INTERVAL_MS = parseGo(INTERVAL);
const FIRST_SYNC_TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_S ?? 1200) * 1000;
const EXTRA_ARGS = (process.env.BENCH_ARGS ?? '').split(' ').filter(Boolean);
/** BENCH_CYCLE=0 skips the idle-cycle phase (first sync only). */
const MEASURE_CYCLE = process.env.BENCH_CYCLE !== '0';
const HEAP_DIR = process.env.BENCH_HEAP_DIR;
if (HEAP_DIR) {
  const probe = join(import.meta.dirname, 'heap-probe.ts');
  process.env.BENCH_NODE_ARGS = `${process.env.BENCH_NODE_ARGS ?? ''} --expose-gc --import ${probe}`;
}

interface HeapProbe {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

let probes = 0;
/** Asks the preloaded probe for the heap after a forced collection (and a snapshot) and waits for it. */
async function probeHeap(pid: number): Promise<HeapProbe> {
  const file = join(HEAP_DIR as string, `probe-${probes++}.json`);
  process.kill(pid, 'SIGUSR2');
  for (let waited = 0; waited < 600_000; waited += 500) {
    await sleep(500);
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text) return JSON.parse(text) as HeapProbe;
  }
  throw new Error(`no heap probe in ${file}`);
}

const mib = (bytes: number) => Math.round(bytes / 1048576);

function parseGo(d: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(d);
  if (!m) throw new Error(`BENCH_INTERVAL: ${d}`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}

interface Row {
  n: number;
  loadStart: string;
  loadEnd: string;
  seededMs: number;
  readyMs: number;
  firstSyncMs: number | undefined;
  rssReadyMiB: number;
  rssPeakFirstSyncMiB: number;
  rssPeakMiB: number;
  rssEndMiB: number;
  /** CPU seconds of the webhook during one idle cycle. */
  cycleCpuS?: number;
  /** CPU seconds of the webhook and of the cluster process from ready to the end of the first sync. */
  firstSyncCpuS: { webhook: number; cluster: number };
  economy: number;
  firstSync: {
    aws: Record<string, number>;
    targets: number;
    ready: number;
    maxWritesPerTarget: number;
    targetsWrittenTwice: number;
    targetsWithDifferentData: number;
    statusWrites: number;
    peakInFlight: number;
    peakSockets: number;
    apiRequests: Record<string, number>;
    validate: LatencyResult;
  };
  cycle?: {
    secretWrites: number;
    statusWrites: number;
    aws: Record<string, number>;
    peakInFlight: number;
    apiRequests: Record<string, number>;
    validate: LatencyResult;
  };
  clusterRssMiB: number;
  /** BENCH_HEAP_DIR: heap used after a forced collection (MiB), and what the first sync added per ExternalSecret (bytes). */
  heap?: { readyMiB: number; syncedMiB: number; externalSyncedMiB: number; addedPerObjectBytes: number };
}

async function run(n: number, port: number): Promise<Row> {
  const dir = await mkdtemp(join(tmpdir(), 'esw-scale-'));
  const loadStart = loadAverage();
  const cluster = await startClusterProcess(dir, { n, interval: INTERVAL });
  const tls = await writeServingCerts(dir);
  console.error(`[scale ${n}] seeded in ${cluster.seededMs} ms; starting the webhook`);
  await cluster.stats({ reset: true });
  const replica = startReplica('bench-0', port, cluster, tls, EXTRA_ARGS);
  try {
    const readyAt = await waitReplicaReady(replica);
    const readyMs = readyAt - replica.startedAt;
    const atReady = await rss(replica.pid);
    const cpuAtReady = await cpuSeconds(replica.pid);
    const clusterCpuAtReady = (await cluster.stats()).cpuS;
    console.error(`[scale ${n}] ready in ${readyMs} ms, RSS ${atReady.rssMiB} MiB`);
    // The refresher starts at ready: this reads the caches and whatever its first round holds.
    const heapReady = HEAP_DIR ? await probeHeap(replica.pid) : undefined;
    const firstLoad = validateLoad(replica);
    let stats = await cluster.stats();
    let lastReport = Date.now();
    for (;;) {
      if (stats.completeAt !== undefined || Date.now() - readyAt > FIRST_SYNC_TIMEOUT_MS) break;
      if (replica.proc.exitCode !== null) throw new Error('the webhook exited');
      await sleep(250);
      stats = await cluster.stats();
      if (Date.now() - lastReport >= 10_000) {
        lastReport = Date.now();
        const o = stats.observer;
        console.error(
          `[scale ${n}] +${Math.round((Date.now() - readyAt) / 1000)} s: ${o.targets} targets, ${o.ready} ready, in flight ${stats.load.inFlight} (peak ${stats.load.peakInFlight}), RSS ${(await rss(replica.pid)).rssMiB} MiB, load ${loadAverage()}`,
        );
      }
    }
    const firstValidate = await firstLoad.stop();
    const firstSyncCpuS = {
      webhook: Math.round((await cpuSeconds(replica.pid)) - cpuAtReady),
      cluster: Math.round(stats.cpuS - clusterCpuAtReady),
    };
    const firstSyncMs = stats.completeAt === undefined ? undefined : stats.completeAt - readyAt;
    const afterFirst = await rss(replica.pid);
    // Writes that trail the last one (status echoes, re-syncs) belong to the first sync too.
    await sleep(Number(process.env.BENCH_SETTLE_MS ?? 3_000));
    const heapSynced = HEAP_DIR ? await probeHeap(replica.pid) : undefined;
    stats = await cluster.stats({ reset: true });
    const first = stats.observer;
    const row: Row = {
      n,
      loadStart,
      loadEnd: '',
      seededMs: cluster.seededMs,
      readyMs,
      firstSyncMs,
      rssReadyMiB: atReady.rssMiB,
      rssPeakFirstSyncMiB: afterFirst.peakMiB,
      rssPeakMiB: 0,
      rssEndMiB: 0,
      firstSyncCpuS,
      economy: cluster.economy,
      firstSync: {
        aws: stats.aws,
        targets: first.targets,
        ready: first.ready,
        maxWritesPerTarget: first.maxWritesPerTarget,
        targetsWrittenTwice: first.targetsWrittenTwice,
        targetsWithDifferentData: first.targetsWithDifferentData,
        statusWrites: first.statusWrites,
        peakInFlight: stats.load.peakInFlight,
        peakSockets: stats.load.peakSockets,
        apiRequests: stats.apiRequests,
        validate: firstValidate,
      },
      clusterRssMiB: stats.rssMiB,
      ...(heapReady && heapSynced
        ? {
            heap: {
              readyMiB: mib(heapReady.heapUsed),
              syncedMiB: mib(heapSynced.heapUsed),
              externalSyncedMiB: mib(heapSynced.external),
              addedPerObjectBytes: Math.round((heapSynced.heapUsed - heapReady.heapUsed) / n),
            },
          }
        : {}),
    };
    if (firstSyncMs !== undefined && INTERVAL_MS > 0 && MEASURE_CYCLE) {
      // One whole refresh cycle with nothing changed at the provider.
      console.error(`[scale ${n}] first sync ${firstSyncMs} ms; one idle cycle (${INTERVAL})`);
      const cycleLoad = validateLoad(replica);
      const cpuBefore = await cpuSeconds(replica.pid);
      await sleep(INTERVAL_MS + 5_000);
      const cycleValidate = await cycleLoad.stop();
      row.cycleCpuS = Math.round((await cpuSeconds(replica.pid)) - cpuBefore);
      const c = await cluster.stats({ reset: true });
      row.cycle = {
        secretWrites: c.observer.writesTotal - first.writesTotal,
        statusWrites: c.observer.statusWrites - first.statusWrites,
        aws: c.aws,
        peakInFlight: c.load.peakInFlight,
        apiRequests: c.apiRequests,
        validate: cycleValidate,
      };
    }
    const end = await rss(replica.pid);
    row.rssPeakMiB = end.peakMiB;
    row.rssEndMiB = end.rssMiB;
    row.loadEnd = loadAverage();
    return row;
  } finally {
    await replica.stop();
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const rows: Row[] = [];
// BENCH_PORT: another first port, so two benches on one machine do not collide.
let port = Number(process.env.BENCH_PORT ?? 18_700);
for (const n of SIZES) {
  const row = await run(n, port++);
  rows.push(row);
  console.error(JSON.stringify(row, null, 1));
}

const fmt = (ms: number | undefined) => (ms === undefined ? 'not finished' : `${(ms / 1000).toFixed(1)} s`);
const calls = (a: Record<string, number>) =>
  `${a.GetSecretValue ?? 0} Get + ${a.BatchGetSecretValue ?? 0} Batch`;
console.log(`\n${machine()}\n`);
console.log(
  '| N | load (start → end) | ready | first sync (CPU s: webhook / double) | RSS ready → peak | first-sync AWS calls (economy) | writes per target (max) | API in flight (peak) | /validate p99 first sync / cycle | idle cycle: Secret + status writes, AWS calls |',
);
console.log('|---|---|---:|---:|---|---|---:|---:|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.n.toLocaleString('en')} | ${r.loadStart} → ${r.loadEnd} | ${fmt(r.readyMs)} | ${fmt(r.firstSyncMs)} (${r.firstSyncCpuS.webhook} / ${r.firstSyncCpuS.cluster}) | ${r.rssReadyMiB} → ${r.rssPeakMiB} MiB | ${calls(r.firstSync.aws)} (${r.economy} Batch) | ${r.firstSync.maxWritesPerTarget} | ${r.firstSync.peakInFlight} | ${r.firstSync.validate.p99} ms / ${r.cycle?.validate.p99 ?? '—'} ms | ${r.cycle ? `${r.cycle.secretWrites} + ${r.cycle.statusWrites}, ${calls(r.cycle.aws)}` : '—'} |`,
  );
}
console.log(`written to ${await saveResult('scale', { interval: INTERVAL, rows })}`);
