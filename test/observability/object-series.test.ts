/**
 * The per-object families (src/observability/metrics.ts ObjectSeries) keep numbers by object and
 * write their text at scrape time: the series of one object stay together (by namespace, then
 * name, in the order first seen), a series keeps its value when its object gains another variant
 * of the other labels, and removing an object drops all its series and their count.
 */
import { Registry } from 'prom-client';
import t from 'tap';
import { metricsText, ObjectSeries } from '../../src/observability/metrics.ts';

function family(registry: Registry) {
  return new ObjectSeries({
    name: 'x_condition',
    help: 'help',
    type: 'gauge',
    labelNames: ['name', 'namespace', 'condition', 'status'] as const,
    registers: [registry],
  });
}

t.test("an object's series are written together, by namespace and name as first seen", async (t) => {
  const registry = new Registry();
  const g = family(registry);
  g.set({ name: 'a', namespace: 'ns1', condition: 'Ready', status: 'True' }, 1);
  g.set({ name: 'b', namespace: 'ns2', condition: 'Ready', status: 'True' }, 1);
  g.set({ name: 'c', namespace: 'ns1', condition: 'Ready', status: 'False' }, 0);
  // `a` gains a second variant after its values were sized for one.
  g.set({ name: 'a', namespace: 'ns1', condition: 'Ready', status: 'False' }, 0);
  g.set({ name: 'b', namespace: 'ns2', condition: 'Ready', status: 'True' }, 2);
  const lines = (await metricsText(registry)).split('\n').filter((l) => l.startsWith('x_condition'));
  t.same(lines, [
    'x_condition{name="a",namespace="ns1",condition="Ready",status="True"} 1',
    'x_condition{name="a",namespace="ns1",condition="Ready",status="False"} 0',
    'x_condition{name="c",namespace="ns1",condition="Ready",status="False"} 0',
    'x_condition{name="b",namespace="ns2",condition="Ready",status="True"} 2',
  ]);
  t.equal(g.size, 4);
  t.equal(await metricsText(registry), await registry.metrics(), 'the same text as registry.metrics()');

  g.removeObject('ns1', 'a');
  t.equal(g.size, 2, 'both of its series went');
  g.removeObject('ns1', 'a');
  t.equal(g.size, 2, 'removing it again changes nothing');
  t.same(
    (await g.get()).values.map((v) => v.labels.name),
    ['c', 'b'],
  );
  g.set({ name: 'a', namespace: 'ns1', condition: 'Ready', status: 'True' }, 1);
  t.equal(g.size, 3, 'a re-created object starts with the series it is given');
});

t.test('a per-object family is named by its object first', async (t) => {
  t.throws(
    () =>
      new ObjectSeries({
        name: 'x',
        help: 'help',
        type: 'counter',
        labelNames: ['namespace', 'name'] as const,
        registers: [],
      }),
    /first labels are name and namespace/,
  );
  const g = family(new Registry());
  t.throws(
    () => g.set({ name: 'a', namespace: 'b', other: 'x' } as never, 1),
    /not included in initial labelset/,
  );
});
