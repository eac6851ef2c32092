/**
 * bench:metrics-scrape — what a /metrics scrape costs the event loop at N ExternalSecrets: the
 * registry filled as the refresher fills it (a sync-calls series and two status-condition series
 * per ExternalSecret), then written R times by `metricsText` (what /metrics serves) while a probe
 * re-armed with setImmediate measures each turn of the loop; the longest turn is the longest
 * stretch an admission request waits behind the scrape. prom-client's `registry.metrics()` (one
 * go) is timed in the same runs.
 *
 *   node bench/metrics-scrape.ts     BENCH_N=10000 BENCH_RUNS=8
 */
import { createMetrics, metricsText } from '../src/observability/metrics.ts';

const N = Number(process.env.BENCH_N ?? 10_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 8);
const m = createMetrics();
for (let i = 0; i < N; i++) {
  const labels = { name: `es-${i}`, namespace: `ns-${i % 100}` };
  m.syncCalls.inc(labels);
  m.statusCondition.set({ ...labels, condition: 'Ready', status: 'True' }, 1);
  m.statusCondition.set({ ...labels, condition: 'Ready', status: 'False' }, 0);
}
const ms = (x: number) => x.toFixed(1);
console.log(`${N} ExternalSecrets; ${RUNS} scrapes`);
console.log(
  '| scrape | CPU ms | wall ms | turns | longest turns ms | registry.metrics() in one go, CPU ms |',
);
console.log('|---:|---:|---:|---:|---:|---:|');
for (let r = 1; r <= RUNS; r++) {
  let last = performance.now();
  const turns: number[] = [];
  let going = true;
  const probe = () => {
    const now = performance.now();
    turns.push(now - last);
    last = now;
    if (going) setImmediate(probe);
  };
  setImmediate(probe);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await metricsText(m.registry);
  going = false;
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  const c1 = process.cpuUsage();
  await m.registry.metrics();
  const whole = process.cpuUsage(c1);
  const top = turns
    .sort((a, b) => b - a)
    .slice(0, 3)
    .map(ms)
    .join(', ');
  console.log(
    `| ${r} | ${ms((cpu.user + cpu.system) / 1000)} | ${ms(wall)} | ${turns.length} | ${top} | ${ms((whole.user + whole.system) / 1000)} |`,
  );
}
