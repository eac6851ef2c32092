import t, { type Test } from 'tap';
import type { KubeObject, Secret } from '../../src/api/types.ts';
import { KubeClient } from '../../src/kube/client.ts';
import { Informer, startInformers } from '../../src/kube/informer.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { KubeApiServer } from '../fakes/kube-apiserver/index.ts';
import { heldSleep, until } from './helpers.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

async function setup(t: Test) {
  const api = await KubeApiServer.start({ bookmarkIntervalMs: 3_600_000 });
  t.teardown(() => api.close());
  const held = heldSleep();
  const inf = new Informer<Secret>(api.kubeConfig(), {
    path: '/api/v1/secrets',
    apiVersion: 'v1',
    kind: 'Secret',
    labelSelector: 'esw.io/inject=true',
    name: 'secrets',
    sleep: held.sleep,
    // Drops in these tests come within ms of connecting: always the backoff path when quiet.
    minWatchMs: 3_600_000,
  });
  const log: string[] = [];
  inf.on('add', (o) => log.push(`add ${o.metadata?.name} ${o.kind}`));
  inf.on('update', (o, old) => log.push(`update ${o.metadata?.name} ${old.data?.v}->${o.data?.v}`));
  inf.on('delete', (o) => log.push(`delete ${o.metadata?.name}`));
  t.teardown(() => inf.stop());
  return { api, inf, held, log };
}

const secret = (name: string, v: string, inject = true): KubeObject =>
  ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: 'ns1', labels: inject ? { 'esw.io/inject': 'true' } : {} },
    data: { v },
  }) as KubeObject;

t.test('lists, then watches add / update / delete of the selected objects only', async (t) => {
  const { api, inf, log } = await setup(t);
  api.put(secret('before', 'a'));
  api.put(secret('other', 'a', false));
  t.equal(inf.healthy(), false, 'not healthy before start');
  inf.start();
  await inf.synced;
  await until(() => inf.healthy(), 'watching');
  t.same(log, ['add before Secret'], 'the list fills the cache (kind set)');
  api.put(secret('x', 'a'));
  api.put(secret('x', 'b'));
  api.put(secret('other', 'b', false));
  api.put(secret('other', 'c')); // enters the selection
  api.remove('secrets', 'ns1', 'x');
  await until(() => log.length === 5, 'five events');
  t.same(log, ['add before Secret', 'add x Secret', 'update x a->b', 'add other Secret', 'delete x']);
  t.same([...inf.cache.keys()].sort(), ['ns1/before', 'ns1/other']);
  t.equal(inf.get('ns1', 'other')?.data?.v, 'c');
});

t.test(
  'a dropped watch resumes from the last resourceVersion; a failing one backs off, unhealthy meanwhile',
  async (t) => {
    const { api, inf, held, log } = await setup(t);
    api.put(secret('s', '1'));
    inf.start();
    await inf.synced;
    await until(() => inf.healthy(), 'watching');
    api.put(secret('s', '2'));
    await until(() => log.includes('update s 1->2'), 'first update');

    // The stream delivered events: a drop is resumed at once from the last resourceVersion.
    api.dropWatches();
    api.put(secret('s', '3'));
    await until(() => log.includes('update s 2->3'), 'update made around the drop');

    // Now the API server fails the re-watch: backoff (held), unhealthy, and no update lost.
    api.failNext({ verb: 'watch', resource: 'secrets', code: 500, count: 2 });
    api.dropWatches();
    await until(() => held.pending === 1, 'first backoff sleep');
    t.equal(inf.healthy(), false, 'not healthy while the watch is down');
    t.match(inf.reason(), /informer secrets: not watching/);
    api.put(secret('s', '4'));
    held.release();
    await until(() => held.pending === 1, 'second backoff sleep');
    t.same(held.delays, [500, 1000], 'exponential backoff');
    held.release();
    await until(() => log.includes('update s 3->4'), 'update made while the watch was down');
    await until(() => inf.healthy(), 'healthy again');
    t.equal(inf.reason(), undefined);
    t.equal(log.filter((l) => l.startsWith('update s')).length, 3, 'each update exactly once');
  },
);

t.test('410 Gone: relists and emits what changed during the gap, deletions included', async (t) => {
  const { api, inf, held, log } = await setup(t);
  api.put(secret('keep', '1'));
  api.put(secret('gone', '1'));
  inf.start();
  await inf.synced;
  await until(() => inf.healthy(), 'watching');
  // A watch that ended without delivering anything is retried after a backoff.
  api.dropWatches();
  await until(() => held.pending === 1, 'backoff');
  t.equal(inf.healthy(), false);
  api.put(secret('keep', '2'));
  api.remove('secrets', 'ns1', 'gone');
  api.put(secret('new', '1'));
  api.compact();
  held.release();
  await until(() => log.length === 5, 'relist events');
  t.same(log.slice(2).sort(), ['add new Secret', 'delete gone', 'update keep 1->2']);
  await until(() => inf.healthy(), 'healthy after relist');
  api.put(secret('keep', '3'));
  await until(() => log.includes('update keep 2->3'), 'watching after the relist');
});

t.test('startInformers feeds the registry and reports health and the metric', async (t) => {
  const api = await KubeApiServer.start();
  t.teardown(() => api.close());
  const registry = new MemoryRegistry();
  const metrics = createMetrics();
  const set = startInformers(api.kubeConfig(), { registry, metrics });
  t.teardown(() => set.stop());
  t.ok(set.healthy().length > 0, 'not healthy before the first list');
  await set.synced;
  await until(() => set.healthy().length === 0, 'all healthy');
  const gauge = await metrics.informerHealthy.get();
  t.equal(gauge.values.length, 7);
  t.ok(
    gauge.values.every((v) => v.value === 1),
    'esw_informer_healthy is 1 for every resource',
  );
  api.put({
    apiVersion: 'external-secrets.io/v1',
    kind: 'SecretStore',
    metadata: { name: 'st', namespace: 'team' },
    spec: { provider: { fake: { data: [] } } },
  });
  api.put({
    apiVersion: 'external-secrets.io/v1beta1',
    kind: 'ClusterSecretStore',
    metadata: { name: 'cs' },
    spec: {},
  });
  api.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team', labels: { env: 'prod' } } });
  api.put({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'm', namespace: 'team', labels: { 'reconcile.external-secrets.io/managed': 'true' } },
  });
  await until(() => registry.getStore('SecretStore', 'st', 'team') !== undefined, 'store in registry');
  await until(() => registry.getNamespace('team') !== undefined, 'namespace in registry');
  await until(() => registry.getStore('ClusterSecretStore', 'cs', undefined) !== undefined, 'cluster store');
  t.equal(registry.getNamespace('team')?.metadata?.labels?.env, 'prod');
  const seen: Secret[] = [];
  set.managedSecrets.on('update', (s) => seen.push(s));
  await until(() => set.managedSecrets.cache.size === 1, 'managed secret cached');
  t.same(
    set.managedSecrets.get('team', 'm'),
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 'm',
        namespace: 'team',
        resourceVersion: api.get('secrets', 'team', 'm')?.metadata?.resourceVersion,
      },
    },
    'the managed Secrets cache keeps identity and resourceVersion only',
  );
  api.put({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 'm',
      namespace: 'team',
      labels: { 'reconcile.external-secrets.io/managed': 'true' },
      annotations: { note: 'edited' },
    },
  });
  await until(() => seen.length === 1, 'managed secret updated');
  t.equal(
    seen[0]?.metadata?.annotations?.note,
    'edited',
    'its handlers still get the whole (projected) Secret',
  );
  t.equal(set.placeholderSecrets.cache.size, 0);
  api.remove('secretstores', 'team', 'st');
  await until(() => registry.getStore('SecretStore', 'st', 'team') === undefined, 'store removed');
  await set.stop();
  t.ok(set.healthy().length === 7, 'stopped informers are not healthy');
  t.ok((await metrics.informerHealthy.get()).values.every((v) => v.value === 0));
});

t.test('a quiet watch that ends after staying connected is resumed at once, without backoff', async (t) => {
  const api = await KubeApiServer.start({ bookmarkIntervalMs: 3_600_000 });
  t.teardown(() => api.close());
  const held = heldSleep();
  let clock = 0;
  const inf = new Informer<Secret>(api.kubeConfig(), {
    path: '/api/v1/secrets',
    apiVersion: 'v1',
    kind: 'Secret',
    sleep: held.sleep,
    now: () => clock,
  });
  t.teardown(() => inf.stop());
  inf.start();
  await until(() => inf.healthy(), 'watching');
  clock += 1_000; // connected for the minimum time, nothing happened
  api.dropWatches();
  api.put(secret('after', '1'));
  await until(() => inf.cache.has('ns1/after'), 'resumed and caught up');
  t.equal(held.delays.length, 0, 'no backoff');
  t.equal(inf.failures, 0);
});

t.test(
  'an API server restart (every connection destroyed): the informer and the client recover',
  async (t) => {
    const api = await KubeApiServer.start({ bookmarkIntervalMs: 3_600_000 });
    t.teardown(() => api.close());
    const kc = api.kubeConfig();
    const inf = new Informer<Secret>(kc, {
      path: '/api/v1/secrets',
      apiVersion: 'v1',
      kind: 'Secret',
      backoff: { initialMs: 10, maxMs: 50 },
    });
    t.teardown(() => inf.stop());
    inf.start();
    await until(() => inf.healthy(), 'watching');
    const client = new KubeClient(kc);
    await client.createSecret('ns1', { metadata: { name: 'before' } });
    await until(() => inf.cache.has('ns1/before'), 'seen before the restart');
    api.restart();
    api.put(secret('during', '1'));
    await until(() => inf.cache.has('ns1/during'), 'caught up after the restart');
    await until(() => inf.healthy(), 'healthy again');
    let got: unknown;
    for (let i = 0; i < 3 && !got; i++) got = await client.getSecret('ns1', 'during').catch(() => undefined);
    t.ok(got, 'the client works again after the restart');
  },
);

t.test('an optional resource the API server does not serve: synced, empty and healthy', async (t) => {
  const api = await KubeApiServer.start({ bookmarkIntervalMs: 3_600_000 });
  t.teardown(() => api.close());
  const held = heldSleep();
  const health: boolean[] = [];
  const inf = new Informer<KubeObject>(api.kubeConfig(), {
    path: '/apis/example.io/v1/nothings',
    apiVersion: 'example.io/v1',
    kind: 'Nothing',
    name: 'nothings',
    optional: true,
    sleep: held.sleep,
    onHealth: (ok) => health.push(ok),
  });
  t.teardown(() => inf.stop());
  inf.start();
  await inf.synced;
  t.ok(inf.healthy(), 'a 404 is no outage: readiness is not held');
  t.ok(inf.absent);
  t.equal(inf.reason(), undefined);
  t.same(health, [true]);
  t.same(inf.list(), []);

  const required = new Informer<KubeObject>(api.kubeConfig(), {
    path: '/apis/example.io/v1/nothings',
    apiVersion: 'example.io/v1',
    kind: 'Nothing',
    name: 'required',
    sleep: held.sleep,
  });
  t.teardown(() => required.stop());
  required.start();
  await until(() => required.failures > 0, 'the list failed');
  t.notOk(required.healthy(), 'without `optional`, a 404 is unhealthy');
});

t.test(
  'the ExternalSecret cache and its handlers get what is read of the status, not the echo',
  async (t) => {
    const api = await KubeApiServer.start();
    t.teardown(() => api.close());
    const set = startInformers(api.kubeConfig(), { registry: new MemoryRegistry() });
    t.teardown(() => set.stop());
    await set.synced;
    const seen: KubeObject[] = [];
    set.externalSecrets.on('add', (o) => seen.push(o));
    const spec = {
      refreshInterval: '1h',
      secretStoreRef: { name: 'st', kind: 'SecretStore' },
      target: { name: 'db', creationPolicy: 'Owner' },
      data: [{ secretKey: 'password', remoteRef: { key: 'app/db', property: 'password' } }],
    };
    const deleted = {
      type: 'Deleted',
      status: 'False',
      reason: 'SecretDeleted',
      message: 'kept: carried into the next status patch',
    };
    api.put({
      apiVersion: 'external-secrets.io/v1',
      kind: 'ExternalSecret',
      metadata: {
        name: 'es',
        namespace: 'team',
        labels: { app: 'db' },
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"a":1}', note: 'n' },
        managedFields: [{ manager: 'kubectl', operation: 'Apply' }],
      },
      spec,
      status: {
        refreshTime: '2026-12-02T14:00:00Z',
        syncedResourceVersion: `1-${'a'.repeat(56)}`,
        binding: { name: 'db' },
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'SecretSynced',
            message: 'secret synced',
            lastTransitionTime: '2026-12-02T13:00:00Z',
          },
          deleted,
        ],
      },
    });
    await until(() => seen.length === 1, 'added');
    const cached = set.externalSecrets.get('team', 'es');
    t.equal(cached, seen[0], 'the handlers and the cache share one object');
    t.same(cached?.spec, spec, 'the spec whole');
    t.same(cached?.metadata?.labels, { app: 'db' });
    t.same(cached?.metadata?.annotations, { note: 'n' }, "kubectl's last-applied copy dropped");
    t.notOk(cached?.metadata?.managedFields, 'managedFields dropped');
    t.same(cached?.status, {
      refreshTime: '2026-12-02T14:00:00Z',
      syncedResourceVersion: `1-${'a'.repeat(56)}`,
      conditions: [
        { type: 'Ready', status: 'True', reason: 'SecretSynced', lastTransitionTime: '2026-12-02T13:00:00Z' },
        deleted,
      ],
    });
  },
);
