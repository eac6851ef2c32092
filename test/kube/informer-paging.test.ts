/**
 * The informer over a paged list: more objects than one page (500) arrive through `continue`
 * tokens, then the watch carries on from the list. (That the pages are one snapshot at the
 * first page's resourceVersion is the double's business: test/kube/apiserver-controls.test.ts.)
 * A list answered 410 is started again from scratch at once.
 */
import t from 'tap';
import type { Secret } from '../../src/api/types.ts';
import { Informer } from '../../src/kube/informer.ts';
import { KubeApiServer } from '../fakes/kube-apiserver/index.ts';
import { until } from './helpers.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

t.test('lists 1,100 Secrets in three pages, then watches from the first page', async (t) => {
  const api = await KubeApiServer.start({ bookmarkIntervalMs: 3_600_000 });
  t.teardown(() => api.close());
  for (let i = 0; i < 1100; i++) {
    api.put({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: `s${String(i).padStart(4, '0')}`,
        namespace: 'ns',
        labels: { 'esw.io/inject': 'true' },
      },
      data: { v: 'MA==' },
    });
  }
  const inf = new Informer<Secret>(api.kubeConfig(), {
    path: '/api/v1/secrets',
    apiVersion: 'v1',
    kind: 'Secret',
    labelSelector: 'esw.io/inject=true',
  });
  t.teardown(() => inf.stop());
  let adds = 0;
  const updates: string[] = [];
  inf.on('add', () => adds++);
  inf.on('update', (o) => updates.push(`${o.metadata?.name} ${o.data?.v}`));
  inf.start();
  await inf.synced;
  t.equal(inf.cache.size, 1100, 'every object listed');
  t.equal(adds, 1100);
  const lists = api.requests({ verb: 'list' });
  t.equal(lists.length, 3, 'three pages');
  t.equal(
    lists.filter((r) => r.path.includes('continue=')).length,
    2,
    'pages two and three by continue token',
  );

  await until(() => inf.healthy(), 'watching');
  api.put({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 's0999', namespace: 'ns', labels: { 'esw.io/inject': 'true' } },
    data: { v: 'MQ==' },
  });
  await until(() => updates.length === 1, 'the update');
  t.same(updates, ['s0999 MQ==']);
});

t.test('a list answered 410 (an expired continue token) is started again at once', async (t) => {
  const api = await KubeApiServer.start({ bookmarkIntervalMs: 3_600_000 });
  t.teardown(() => api.close());
  api.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } });
  const delays: number[] = [];
  const inf = new Informer(api.kubeConfig(), {
    path: '/api/v1/namespaces',
    apiVersion: 'v1',
    kind: 'Namespace',
    sleep: async (ms) => {
      delays.push(ms);
    },
  });
  t.teardown(() => inf.stop());
  api.failNext({ verb: 'list', resource: 'namespaces', code: 410 });
  inf.start();
  await inf.synced;
  t.ok(inf.get(undefined, 'team'));
  t.equal(api.requests({ verb: 'list' }).length, 2, 'listed again');
  t.same(delays, [], 'without a backoff');
});
