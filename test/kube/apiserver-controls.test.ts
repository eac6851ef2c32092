/**
 * The API-server double's test controls and finer conventions: the request log (no bodies),
 * faults matched by path or any verb, the injectable clock, generation only on custom
 * resources, CRDs accepted and stored, expireWatchHistory (410), restart keeping the state, and
 * reinvocationPolicy IfNeeded in the admission chain.
 */
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { CoordinationV1Api, CoreV1Api, V1MicroTime, Watch } from '@kubernetes/client-node';
import t, { type Test } from 'tap';
import { KubeClient, statusCode } from '../../src/kube/client.ts';
import { createCertificates } from '../../src/server/certs.ts';
import { KubeApiServer } from '../fakes/kube-apiserver/index.ts';
import { request } from '../helpers/https.ts';
import { generated, until } from './helpers.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

async function start(t: Test, opts: Parameters<typeof KubeApiServer.start>[0] = {}) {
  const api = await KubeApiServer.start(opts);
  t.teardown(() => api.close());
  return { api, client: new KubeClient(api.kubeConfig()) };
}

t.test('request log: method, path with query, verb, user agent and status; never a body', async (t) => {
  const { api, client } = await start(t);
  const canary = `CANARY-${Math.random().toString(36).slice(2)}`;
  await client.createSecret('app', { metadata: { name: 's' }, stringData: { password: canary } });
  await client.getSecret('app', 'missing');
  await generated(client).core.listNamespacedSecret({ namespace: 'app', labelSelector: 'a=b' });
  const probe = await request(`${api.url}/api/v1/namespaces/app/secrets/s`, undefined, {
    ca: api.caPem,
    headers: { 'user-agent': 'probe/1.0' },
  });
  t.equal(probe.status, 200);

  const log = api.requests();
  t.same(
    log.map((r) => `${r.method} ${r.verb} ${r.status}`),
    ['POST create 201', 'GET get 404', 'GET list 200', 'GET get 200'],
  );
  t.equal(log[2]?.path, '/api/v1/namespaces/app/secrets?labelSelector=a%3Db', 'the query is kept');
  t.equal(log[3]?.userAgent, 'probe/1.0');
  t.notMatch(JSON.stringify(log), canary, 'no body in the log');
  t.equal(api.requests({ verb: 'get' }).length, 2);
  t.equal(api.requests({ path: /\/secrets\/s$/ }).length, 1);
  api.clearRequests();
  t.same(api.requests(), []);
});

t.test('faults by path, by any verb, as a 409 storm; counts run out', async (t) => {
  const { api, client } = await start(t);
  await client.createSecret('app', { metadata: { name: 'a' } });
  await client.createSecret('app', { metadata: { name: 'b' } });
  api.failNext({ verb: 'get', path: '/secrets/b', code: 500, count: 2 });
  t.ok(await client.getSecret('app', 'a'), 'another path is not affected');
  for (let i = 0; i < 2; i++) t.equal(statusCode(await client.getSecret('app', 'b').catch((e) => e)), 500);
  t.ok(await client.getSecret('app', 'b'), 'the fault ran out');

  api.failNext({ verb: 'patch', resource: 'secrets', code: 409, count: 3 });
  for (let i = 0; i < 3; i++) {
    const e = await client.patchSecret('app', 'a', { data: { x: 'eA==' } }).catch((err) => err);
    t.equal(statusCode(e), 409);
  }
  t.ok(await client.patchSecret('app', 'a', { data: { x: 'eA==' } }), 'the storm passes');
  t.equal(api.writes('secrets', 'patch'), 1, 'failed writes are not counted');

  api.failNext({ verb: '*', code: 503 });
  t.equal(
    statusCode(
      await generated(client)
        .core.listNamespacedConfigMap({ namespace: 'app' })
        .catch((e) => e),
    ),
    503,
  );
  t.ok(await generated(client).core.listNamespacedConfigMap({ namespace: 'app' }));
});

t.test('clock, generation, CRDs', async (t) => {
  const { api, client } = await start(t, { now: () => new Date('2030-01-02T03:04:05.678Z') });
  const s = await client.createSecret('app', { metadata: { name: 's' } });
  t.equal(
    s.metadata?.creationTimestamp,
    '2030-01-02T03:04:05Z',
    'creationTimestamp from the injected clock, in whole seconds',
  );
  t.equal(s.metadata?.generation, undefined, 'a Secret has no generation');

  const leases = api.kubeConfig().makeApiClient(CoordinationV1Api);
  const lease = await leases.createNamespacedLease({
    namespace: 'app',
    body: { metadata: { name: 'l' }, spec: { holderIdentity: 'a', renewTime: new V1MicroTime(0) } },
  });
  const renewed = await leases.replaceNamespacedLease({
    namespace: 'app',
    name: 'l',
    body: { ...lease, spec: { ...lease.spec, holderIdentity: 'b' } },
  });
  t.equal(renewed.metadata?.generation, undefined, 'nor does a Lease, whatever its spec does');

  const crd = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'externalsecrets.external-secrets.io' },
    spec: { group: 'external-secrets.io', names: { kind: 'ExternalSecret', plural: 'externalsecrets' } },
  };
  const res = await request(`${api.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions`, crd, {
    ca: api.caPem,
  });
  t.equal(res.status, 201);
  const stored = api.get('customresourcedefinitions', undefined, 'externalsecrets.external-secrets.io');
  t.equal(stored?.metadata?.generation, 1, 'a CRD is stored, with a generation');
  const again = await request(`${api.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions`, crd, {
    ca: api.caPem,
  });
  t.equal(again.status, 409);
  t.equal(again.json<{ reason: string }>().reason, 'AlreadyExists');
});

t.test(
  'expireWatchHistory forces 410 on resume; restart drops connections and keeps the state',
  async (t) => {
    const { api, client } = await start(t);
    await client.createSecret('app', { metadata: { name: 's' } });
    const rv = api.resourceVersion;
    await client.patchSecret('app', 's', { data: { a: 'YQ==' } });
    api.expireWatchHistory();
    const events: Array<{ type: string; code?: number }> = [];
    await new Promise<void>((resolve) => {
      void new Watch(api.kubeConfig()).watch(
        '/api/v1/secrets',
        { resourceVersion: rv },
        (type, obj) => events.push({ type, code: obj.code }),
        () => resolve(),
      );
    });
    t.same(events, [{ type: 'ERROR', code: 410 }]);

    let ended = false;
    const seen: string[] = [];
    const ctl = await new Watch(api.kubeConfig()).watch(
      '/api/v1/secrets',
      { resourceVersion: api.resourceVersion },
      (type, obj) => seen.push(`${type} ${obj.metadata.name}`),
      () => {
        ended = true;
      },
    );
    t.teardown(() => ctl.abort());
    api.restart();
    await until(() => ended, 'the watch ends on restart');
    t.ok(await client.getSecret('app', 's'), 'state kept across the restart');
    const core = api.kubeConfig().makeApiClient(CoreV1Api);
    t.equal((await core.listNamespacedSecret({ namespace: 'app' })).items.length, 1);
  },
);

t.test('reinvocationPolicy IfNeeded: called again when a later webhook changed the object', async (t) => {
  const certs = await createCertificates({ hosts: ['127.0.0.1'] });
  const calls: string[] = [];
  const server = createServer({ cert: certs.cert, key: certs.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const review = JSON.parse(Buffer.concat(chunks).toString()) as {
        request: { uid: string; object: { metadata: { labels?: Record<string, string> } } };
      };
      const which = req.url?.startsWith('/first') ? 'first' : 'second';
      calls.push(which);
      const labels = review.request.object.metadata.labels ?? {};
      // first: counts its calls in a label; second: adds a label once.
      const ops =
        which === 'first'
          ? [{ op: 'add', path: '/metadata/labels/first', value: String(Number(labels.first ?? 0) + 1) }]
          : labels.second
            ? []
            : [{ op: 'add', path: '/metadata/labels/second', value: 'yes' }];
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          response: {
            uid: review.request.uid,
            allowed: true,
            patchType: 'JSONPatch',
            patch: Buffer.from(JSON.stringify(ops)).toString('base64'),
          },
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  const port = (server.address() as AddressInfo).port;
  const config = (name: string, reinvocationPolicy: string) => ({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name },
    webhooks: [
      {
        name: `${name}.test.io`,
        clientConfig: {
          url: `https://127.0.0.1:${port}/${name}`,
          caBundle: Buffer.from(certs.caCert).toString('base64'),
        },
        rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['secrets'] }],
        failurePolicy: 'Fail',
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
        reinvocationPolicy,
      },
    ],
  });
  const { api, client } = await start(t);
  api.setWebhooks([config('first', 'IfNeeded'), config('second', 'Never')]);
  const s = await client.createSecret('app', { metadata: { name: 'r', labels: {} } });
  t.same(calls, ['first', 'second', 'first'], 'first is called again, once');
  t.same(s.metadata?.labels, { first: '2', second: 'yes' });

  calls.length = 0;
  api.setWebhooks([config('first', 'Never'), config('second', 'Never')]);
  const n = await client.createSecret('app', { metadata: { name: 'n', labels: {} } });
  t.same(calls, ['first', 'second'], 'Never: one call each');
  t.same(n.metadata?.labels, { first: '1', second: 'yes' });
});

t.test('server-side apply needs a fieldManager; creates, then merges', async (t) => {
  const { api } = await start(t);
  const apply = (doc: object, query: string) =>
    request(`${api.url}/api/v1/namespaces/app/configmaps/cfg${query}`, JSON.stringify(doc), {
      ca: api.caPem,
      method: 'PATCH',
      headers: { 'content-type': 'application/apply-patch+yaml' },
    });
  const doc = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, data: { a: '1' } };
  const missing = await apply(doc, '');
  t.equal(missing.status, 422);
  t.match(missing.json<{ message: string }>().message, /fieldManager: Required value/);
  t.equal((await apply(doc, '?fieldManager=esw')).status, 201, 'creates when missing');
  const merged = await apply({ ...doc, data: { b: '2' } }, '?fieldManager=esw');
  t.equal(merged.status, 200);
  t.same(api.get('configmaps', 'app', 'cfg')?.data, { a: '1', b: '2' });
});

t.test('deleting a Namespace deletes what it holds', async (t) => {
  const { api, client } = await start(t);
  api.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'gone' } });
  await client.createSecret('gone', { metadata: { name: 's' } });
  await client.createSecret('kept', { metadata: { name: 's' } });
  await generated(client).core.deleteNamespace({ name: 'gone' });
  t.equal(api.get('secrets', 'gone', 's'), undefined);
  t.ok(api.get('secrets', 'kept', 's'), 'other namespaces untouched');
});

t.test('dry run reaches only webhooks without side effects', async (t) => {
  const { api, client } = await start(t);
  api.setWebhooks([
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: 'v' },
      webhooks: [
        {
          name: 'unknown.test.io',
          // Never called: the dry run is refused before any call.
          clientConfig: { url: 'https://127.0.0.1:1/never' },
          rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['secrets'] }],
          sideEffects: 'Unknown',
          admissionReviewVersions: ['v1'],
        },
      ],
    },
  ]);
  const e = await generated(client)
    .core.createNamespacedSecret({ namespace: 'app', body: { metadata: { name: 'd' } }, dryRun: 'All' })
    .catch((err: unknown) => err);
  t.equal(statusCode(e), 400);
  t.match(
    (JSON.parse(String((e as { body?: unknown }).body)) as { message: string }).message,
    'admission webhook "unknown.test.io" does not support dry run',
  );
});

t.test(
  'paged lists: limit and continue serve one snapshot at the first page’s resourceVersion',
  async (t) => {
    const { api, client } = await start(t);
    for (const name of ['a', 'b', 'c', 'd', 'e']) await client.createSecret('app', { metadata: { name } });
    const first = await generated(client).core.listNamespacedSecret({ namespace: 'app', limit: 2 });
    t.same(
      first.items.map((s) => s.metadata?.name),
      ['a', 'b'],
    );
    t.equal(first.metadata?.remainingItemCount, 3);
    const rv = first.metadata?.resourceVersion ?? '';
    await client.deleteSecret('app', 'd');
    await client.patchSecret('app', 'c', { data: { x: 'eA==' } });
    const second = await generated(client).core.listNamespacedSecret({
      namespace: 'app',
      limit: 2,
      _continue: first.metadata?._continue ?? '',
    });
    t.same(
      second.items.map((s) => s.metadata?.name),
      ['c', 'd'],
      'the snapshot: d still there',
    );
    t.same(second.items[0]?.data, undefined, 'c as it was at the first page');
    t.equal(second.metadata?.resourceVersion, rv);
    const third = await generated(client).core.listNamespacedSecret({
      namespace: 'app',
      limit: 2,
      _continue: second.metadata?._continue ?? '',
    });
    t.same(
      third.items.map((s) => s.metadata?.name),
      ['e'],
    );
    t.notOk(third.metadata?._continue, 'the last page has no continue token');

    const events: string[] = [];
    const ctl = await new Watch(api.kubeConfig()).watch(
      '/api/v1/namespaces/app/secrets',
      { resourceVersion: rv },
      (type, obj) => events.push(`${type} ${obj.metadata.name}`),
      () => {},
    );
    t.teardown(() => ctl.abort());
    await until(() => events.length === 2, 'the changes made while paging');
    t.same(events, ['DELETED d', 'MODIFIED c'], 'a watch from the list resourceVersion misses nothing');

    const again = await generated(client).core.listNamespacedSecret({ namespace: 'app', limit: 1 });
    await client.createSecret('app', { metadata: { name: 'f' } });
    api.expireWatchHistory();
    const e = await generated(client)
      .core.listNamespacedSecret({ namespace: 'app', limit: 1, _continue: again.metadata?._continue ?? '' })
      .catch((err: unknown) => err);
    t.equal(statusCode(e), 410, 'a continue token older than the history is 410 Expired');
  },
);
