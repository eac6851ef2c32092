/**
 * The per-request counters and histograms (src/observability/tally.ts) are written exactly as
 * prom-client writes the same observations (text and `get()`), refuse what prom-client refuses,
 * and check a label set once.
 */
import { Counter, Histogram, Registry } from 'prom-client';
import t from 'tap';
import { TallyCounter, TallyHistogram } from '../../src/observability/tally.ts';

const BUCKETS = [0.005, 0.025, 0.1, 0.5, 1, 2.5, 10];
const labelNames = ['operation', 'kind', 'result'] as const;

function pair() {
  const ours = new Registry();
  const theirs = new Registry();
  const spec = (registers: Registry[]) => ({
    name: 'x_seconds',
    help: 'help "text"\\',
    labelNames,
    registers,
  });
  return {
    ours,
    theirs,
    histogram: new TallyHistogram({ ...spec([ours]), buckets: [...BUCKETS].reverse() }),
    promHistogram: new Histogram({ ...spec([theirs]), buckets: BUCKETS }),
    counter: new TallyCounter({ ...spec([ours]), name: 'x_total' }),
    promCounter: new Counter({ ...spec([theirs]), name: 'x_total' }),
  };
}

const observations: [Record<string, string>, number][] = [
  [{ operation: 'validate', kind: 'ExternalSecret', result: 'allowed' }, 0.0004],
  [{ operation: 'mutate', kind: 'Secret', result: 'patched' }, 0.005],
  [{ operation: 'validate', kind: 'ExternalSecret', result: 'allowed' }, 0.3],
  [{ kind: 'ExternalSecret', result: 'allowed', operation: 'validate' }, 12],
  [{ operation: 'mutate', kind: 'Secret', result: 'patched' }, 2.5],
  [{ operation: 'mutate', kind: 'o"t\\h\ner', result: 'denied' }, 0],
  [{ operation: 'validate' }, 1],
];

t.test('the same text and values as prom-client, for the same observations', async (t) => {
  const p = pair();
  for (const [labels, v] of observations) {
    p.histogram.observe(labels, v);
    p.promHistogram.observe(labels, v);
    p.counter.inc(labels);
    p.promCounter.inc(labels);
    p.counter.inc(labels, v);
    p.promCounter.inc(labels, v);
  }
  t.equal(
    await p.ours.getSingleMetricAsString('x_seconds'),
    await p.theirs.getSingleMetricAsString('x_seconds'),
  );
  t.equal(await p.ours.getSingleMetricAsString('x_total'), await p.theirs.getSingleMetricAsString('x_total'));
  t.equal(await p.ours.metrics(), await p.theirs.metrics());
  const sorted = (v: { values: { labels: object; value: number }[] }) =>
    v.values.map((x) => JSON.stringify([Object.entries(x.labels).sort(), x.value])).sort();
  t.same(sorted(await p.counter.get()), sorted(await p.promCounter.get()));
  t.same(sorted(await p.histogram.get()), sorted(await p.promHistogram.get()));
  p.histogram.reset();
  p.counter.reset();
  t.same((await p.histogram.get()).values, []);
  t.same((await p.counter.get()).values, []);
});

t.test('refuses what prom-client refuses, and a name registered twice', async (t) => {
  const p = pair();
  t.throws(() => p.counter.inc({ nope: 'x' } as never), /not included in initial labelset/);
  t.throws(() => p.histogram.observe({ nope: 'x' } as never, 1), /not included in initial labelset/);
  t.throws(() => p.counter.inc({ operation: 'x' }, -1), /not possible to decrease/);
  t.throws(() => p.counter.inc({ operation: 'x' }, Number.NaN));
  t.throws(() => p.histogram.observe({ operation: 'x' }, Number.POSITIVE_INFINITY), /not a valid number/);
  t.same((await p.counter.get()).values, [], 'nothing recorded by a refused call');
  t.throws(
    () => new TallyCounter({ name: 'x_total', help: 'h', labelNames: [], registers: [p.ours] }),
    /already been registered/,
  );
});
