/**
 * esw_event_loop_max_delay_seconds: one observation per period, that period's longest delay of
 * the event loop. A stretch of synchronous work shows as at least its own length (a loaded
 * machine can only make it longer), and the series is served on /metrics.
 */
import t from 'tap';
import { createMetrics, metricsText, monitorEventLoop } from '../../src/observability/metrics.ts';

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
  t.equal(order.length, families + 1);
});
