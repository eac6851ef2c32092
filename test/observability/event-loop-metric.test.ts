/**
 * esw_event_loop_max_delay_seconds: one observation per period, that period's longest delay of
 * the event loop. A stretch of synchronous work shows as at least its own length (a loaded
 * machine can only make it longer), and the series is served on /metrics.
 */
import t from 'tap';
import {
  createMetrics,
  METRICS_SLICE,
  metricsText,
  monitorEventLoop,
  ObjectSeries,
} from '../../src/observability/metrics.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('a 150 ms stretch of synchronous work is observed as a stall over 100 ms', async (t) => {
  const metrics = createMetrics();
  const stop = monitorEventLoop(metrics, 50);
  t.teardown(stop);
  await sleep(100);
  const end = Date.now() + 150;
  while (Date.now() < end) {
    // the event loop is blocked here, as by a long synchronous stretch of refresh work
  }
  const over100ms = async () => {
    const { values } = await metrics.eventLoopDelay.get();
    const count = values.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
    const upTo100 = values.find((v) => v.metricName?.endsWith('_bucket') && v.labels.le === 0.1)?.value ?? 0;
    return count - upTo100;
  };
  for (let i = 0; i < 600 && (await over100ms()) === 0; i++) await sleep(50);
  t.ok((await over100ms()) >= 1, 'a period had a stall over 100 ms');
  t.match(await metrics.registry.metrics(), /^esw_event_loop_max_delay_seconds_bucket\{le="0\.25"\} \d+$/m);
});

t.test('/metrics text is the registry own, one family per turn of the loop', async (t) => {
  const metrics = createMetrics();
  for (let i = 0; i < 100; i++) {
    const labels = { name: `es-${i}`, namespace: 'ns' };
    metrics.syncCalls.inc(labels);
    metrics.statusCondition.set({ ...labels, condition: 'Ready', status: 'True' }, 1);
  }
  metrics.eventLoopDelay.observe(0.003);
  const expected = await metrics.registry.metrics();
  const order: string[] = [];
  const single = metrics.registry.getSingleMetricAsString.bind(metrics.registry);
  metrics.registry.getSingleMetricAsString = (name: string) => {
    if (order.length === 0) setImmediate(() => order.push('probe'));
    order.push(name);
    return single(name);
  };
  t.equal(await metricsText(metrics.registry), expected, 'the same text as registry.metrics()');
  const families = metrics.registry.getMetricsAsArray().length;
  t.ok(families > 2);
  t.equal(order.indexOf('probe'), 1, 'a probe scheduled during the first family runs before the second');
  // The per-object families write themselves (ObjectSeries), the others through the registry.
  const own = metrics.registry
    .getMetricsAsArray()
    .filter((m) => (m as unknown) instanceof ObjectSeries).length;
  t.equal(own, 3);
  t.equal(order.length, families - own + 1);
});

t.test('a family with more series than a slice is written a slice per turn, byte for byte', async (t) => {
  const metrics = createMetrics();
  const n = METRICS_SLICE * 2 + 17;
  for (let i = 0; i < n; i++) {
    // Label values that need escaping (quote, backslash, newline) on some series.
    const name = i % 97 === 0 ? `es-"${i}"\\x\ny` : `es-${i}`;
    const labels = { name, namespace: `ns-${i % 7}` };
    metrics.syncCalls.inc(labels, i % 3);
    metrics.statusCondition.set({ ...labels, condition: 'Ready', status: 'True' }, i % 2);
    const odd = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0.5][i % 4] as number;
    metrics.statusCondition.set({ ...labels, condition: 'Ready', status: 'False' }, odd);
  }
  // A number as a label value is written as prom-client writes it.
  metrics.syncErrors.inc({ name: 7 as unknown as string, namespace: 'ns' });
  for (let i = 0; i < METRICS_SLICE; i++) metrics.syncErrors.inc({ name: `e-${i}`, namespace: 'ns' });
  metrics.eventLoopDelay.observe(0.003);
  const expected = await metrics.registry.metrics();
  // Turns of the event loop taken while the text is written: a probe re-armed on every turn.
  let turns = 0;
  let writing = true;
  const probe = () => {
    turns++;
    if (writing) setImmediate(probe);
  };
  setImmediate(probe);
  const text = await metricsText(metrics.registry);
  writing = false;
  t.equal(text, expected, 'the same text as registry.metrics()');
  // Escaped as Prometheus reads it: backslash, newline and quote in a label value.
  t.ok(
    text.includes(
      'externalsecret_status_condition{name="es-\\"0\\"\\\\x\\ny",namespace="ns-0",condition="Ready",status="True"} 0\n',
    ),
    'an escaped series',
  );
  t.ok(text.includes('externalsecret_sync_calls_error{name="7",namespace="ns"} 1\n'), 'a number label');
  t.ok(text.includes('} +Inf\n') && text.includes('} -Inf\n') && text.includes('} Nan\n'), 'odd values');
  const families = metrics.registry.getMetricsAsArray().length;
  // status_condition: 2n series, 4 slices plus; sync_calls: n series, 2 slices plus.
  const extraTurns = Math.ceil((2 * n) / METRICS_SLICE) - 1 + Math.ceil(n / METRICS_SLICE) - 1;
  t.ok(turns >= families + extraTurns, `the loop turned between slices (${turns} turns)`);
});

t.test('per-object series: counters only go up, gauges are set, a reset drops them', async (t) => {
  const metrics = createMetrics();
  const labels = { name: 'a', namespace: 'b' };
  metrics.syncCalls.inc(labels);
  metrics.syncCalls.inc(labels, 2);
  t.throws(() => metrics.syncCalls.inc(labels, -1), /only goes up/);
  t.throws(
    () => (metrics.syncCalls as unknown as { set(l: object, v: number): void }).set(labels, 1),
    /set on a counter/,
  );
  t.match(await metrics.registry.metrics(), /^externalsecret_sync_calls_total\{name="a",namespace="b"\} 3$/m);
  t.same(
    (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === 'externalsecret_sync_calls_total')
      ?.values,
    [{ labels, value: 3 }],
  );
  t.equal(metrics.syncCalls.size, 1);
  metrics.registry.resetMetrics();
  t.equal(metrics.syncCalls.size, 0);
  t.equal(await metricsText(metrics.registry), await metrics.registry.metrics(), 'empty families alike');
});
