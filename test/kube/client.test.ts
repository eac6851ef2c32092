import { CoreV1Api, Watch } from '@kubernetes/client-node';
import t, { type Test } from 'tap';
import { isEswError } from '../../src/errors.ts';
import { isConflict, isNotFound, KubeClient, statusCode } from '../../src/kube/client.ts';
import { KubeHttp } from '../../src/kube/http.ts';
import { KubeApiServer } from '../fakes/kube-apiserver/index.ts';
import { generated } from './helpers.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

async function setup(t: Test) {
  const api = await KubeApiServer.start();
  t.teardown(() => api.close());
  const client = new KubeClient(api.kubeConfig());
  return { api, client };
}

t.test(
  'Secret CRUD: create, 409 AlreadyExists, get, conditional replace with 409 on stale, patch, delete, 404',
  async (t) => {
    const { api, client } = await setup(t);
    const canary = `CANARY-${Math.random().toString(36).slice(2)}`;
    const created = await client.createSecret('default', {
      metadata: { name: 's1', labels: { app: 'x' } },
      stringData: { password: canary },
    });
    t.equal(
      Buffer.from(created.data?.password ?? '', 'base64').toString(),
      canary,
      'stringData merged into data',
    );
    t.notOk(created.stringData, 'stringData is never stored');
    t.ok(created.metadata?.uid);
    t.ok(Number(created.metadata?.resourceVersion) > 0);

    const dup = await client.createSecret('default', { metadata: { name: 's1' } }).catch((e: unknown) => e);
    t.ok(isConflict(dup), '409 on create of an existing name');
    t.ok(isEswError(dup) && dup.code === 'ESW_KUBE');
    t.equal(
      (dup as Error).message,
      'create secret default/s1: API server refused the request: 409 AlreadyExists',
      'our words: the call, the code and the reason (the Status message echoes values)',
    );
    t.notMatch((dup as Error).message, canary, 'no body in the message');

    const got = await client.getSecret('default', 's1');
    t.equal(got?.metadata?.resourceVersion, created.metadata?.resourceVersion);
    t.equal(await client.getSecret('default', 'missing'), null, 'null on 404');

    const replaced = await client.replaceSecret('default', 's1', {
      ...got,
      data: { password: Buffer.from('v2').toString('base64') },
    });
    t.not(replaced.metadata?.resourceVersion, got?.metadata?.resourceVersion);
    const stale = await client
      .replaceSecret('default', 's1', { ...got, data: { password: Buffer.from('v3').toString('base64') } })
      .catch((e: unknown) => e);
    t.ok(isConflict(stale), 'replace with a stale resourceVersion is a 409');
    t.equal(
      (stale as Error).message,
      'replace secret default/s1: API server refused the request: 409 Conflict',
    );
    t.equal(
      (api.get('secrets', 'default', 's1')?.data as Record<string, string> | undefined)?.password,
      Buffer.from('v2').toString('base64'),
      'not overwritten',
    );

    const patched = await client.patchSecret('default', 's1', {
      metadata: { labels: { app: null, team: 'a' } },
      data: { extra: 'eA==' },
    });
    t.same(patched.metadata?.labels, { team: 'a' }, 'merge patch: null deletes a key');
    t.same(Object.keys(patched.data ?? {}).sort(), ['extra', 'password']);
    const stalePatch = await client
      .patchSecret(
        'default',
        's1',
        { data: { x: 'eA==' } },
        { resourceVersion: got?.metadata?.resourceVersion ?? '' },
      )
      .catch((e: unknown) => e);
    t.ok(isConflict(stalePatch), 'conditional patch with a stale resourceVersion is a 409');

    t.equal(api.writes('secrets', 'create'), 1);
    t.equal(api.writes('secrets', 'update'), 1);
    t.equal(api.writes('secrets', 'patch'), 1);

    t.equal(await client.deleteSecret('default', 's1'), true);
    t.equal(await client.deleteSecret('default', 's1'), false, 'false when already gone');
    t.equal(api.get('secrets', 'default', 's1'), undefined);

    const viaRaw = await generated(client)
      .core.readNamespacedSecret({ namespace: 'default', name: 's1' })
      .catch((e: unknown) => e);
    t.ok(isNotFound(viaRaw), 'isNotFound works on the raw ApiException too');
    t.equal(statusCode(viaRaw), 404);
  },
);

t.test('a no-op update keeps the resourceVersion; generateName; injected faults', async (t) => {
  const { api, client } = await setup(t);
  const s = await client.createSecret('default', { metadata: { generateName: 'gen-' }, data: { a: 'YQ==' } });
  t.match(s.metadata?.name, /^gen-[a-z0-9]{5}$/);
  const same = await client.replaceSecret('default', s.metadata?.name ?? '', s);
  t.equal(same.metadata?.resourceVersion, s.metadata?.resourceVersion, 'nothing changed, nothing written');

  api.failNext({ verb: 'get', resource: 'secrets', code: 500, count: 2 });
  for (let i = 0; i < 2; i++) {
    const e = await client.getSecret('default', s.metadata?.name ?? '').catch((e: unknown) => e);
    t.equal(statusCode(e), 500);
  }
  t.ok(await client.getSecret('default', s.metadata?.name ?? ''), 'the storm passes after count requests');
});

t.test('ExternalSecret status subresource, generation, v1beta1 from the same storage', async (t) => {
  const { api, client } = await setup(t);
  await generated(client).custom.createNamespacedCustomObject({
    group: 'external-secrets.io',
    version: 'v1',
    namespace: 'team',
    plural: 'externalsecrets',
    body: {
      apiVersion: 'external-secrets.io/v1',
      kind: 'ExternalSecret',
      metadata: { name: 'es' },
      spec: { refreshInterval: '1h', secretStoreRef: { name: 'st' } },
      status: { ignored: true },
    },
  });
  const es = await client.getExternalSecret('team', 'es');
  t.equal(es?.metadata?.generation, 1);
  const withStatus = await client.replaceExternalSecretStatus({
    ...(es as object),
    spec: { refreshInterval: '5m' },
    status: { conditions: [{ type: 'Ready', status: 'True', reason: 'SecretSynced' }] },
  } as never);
  t.equal(withStatus.status?.conditions?.[0]?.reason, 'SecretSynced');
  t.equal(withStatus.spec?.refreshInterval, '1h', 'the status subresource does not change spec');
  t.equal(withStatus.metadata?.generation, 1, 'status changes do not bump generation');
  t.equal(api.writes('externalsecrets/status', 'update'), 1);

  const stale = await client
    .replaceExternalSecretStatus({ ...(es as object), status: {} } as never)
    .catch((e) => e);
  t.ok(isConflict(stale), 'status PUT is conditional on resourceVersion');

  const beta = await client.getExternalSecret('team', 'es', 'v1beta1');
  t.equal(beta?.apiVersion, 'external-secrets.io/v1beta1', 'served at the version asked');
  await generated(client).custom.patchNamespacedCustomObject({
    group: 'external-secrets.io',
    version: 'v1',
    namespace: 'team',
    plural: 'externalsecrets',
    name: 'es',
    body: [{ op: 'replace', path: '/spec/refreshInterval', value: '2h' }],
  });
  const after = await client.getExternalSecret('team', 'es');
  t.equal(after?.metadata?.generation, 2, 'a spec change (JSON patch) bumps generation');
  t.equal(after?.status?.conditions?.[0]?.reason, 'SecretSynced', 'main resource writes keep status');
  await client.patchExternalSecretStatus('team', 'es', { refreshTime: '2026-01-01T00:00:00Z' });
  t.equal(
    (api.get('externalsecrets', 'team', 'es')?.status as { refreshTime?: string } | undefined)?.refreshTime,
    '2026-01-01T00:00:00Z',
  );
});

t.test(
  'list and watch with label selectors, replay from a resourceVersion, 410 when compacted',
  async (t) => {
    const { api } = await setup(t);
    const kc = api.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const mk = (name: string, labels: Record<string, string>) =>
      core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name, labels } } });
    await mk('a', { tier: 'web', env: 'prod' });
    await mk('b', { tier: 'db', env: 'prod' });
    await mk('c', { tier: 'web' });
    const names = async (labelSelector: string) =>
      (await core.listNamespacedSecret({ namespace: 'default', labelSelector })).items.map(
        (s) => s.metadata?.name,
      );
    t.same(await names('tier=web'), ['a', 'c']);
    t.same(await names('tier==web,env=prod'), ['a']);
    t.same(await names('tier!=web'), ['b']);
    t.same(await names('tier in (db, web),env'), ['a', 'b']);
    t.same(await names('tier notin (web)'), ['b']);
    t.same(await names('!env'), ['c']);
    const byField = await core.listSecretForAllNamespaces({ fieldSelector: 'metadata.name=b' });
    t.same(
      byField.items.map((s) => s.metadata?.name),
      ['b'],
    );
    const bad = await names('tier in (web').catch((e: unknown) => e);
    t.equal(statusCode(bad), 400, 'a malformed selector is a 400');

    const list = await core.listNamespacedSecret({ namespace: 'default', labelSelector: 'tier=web' });
    const rv = list.metadata?.resourceVersion ?? '';
    await core.patchNamespacedSecret({
      namespace: 'default',
      name: 'b',
      body: [{ op: 'add', path: '/metadata/labels/tier', value: 'web' }],
    });
    await core.deleteNamespacedSecret({ namespace: 'default', name: 'a' });

    const events: string[] = [];
    const watch = new Watch(kc);
    let ended: (err: unknown) => void = () => {};
    const done = new Promise<unknown>((resolve) => {
      ended = resolve;
    });
    let third: () => void = () => {};
    const gotThree = new Promise<void>((resolve) => {
      third = resolve;
    });
    const ctl = await watch.watch(
      '/api/v1/namespaces/default/secrets',
      { labelSelector: 'tier=web', resourceVersion: rv },
      (type, obj) => {
        events.push(`${type} ${obj.metadata.name}`);
        if (events.length === 3) third();
      },
      (err) => ended(err),
    );
    t.teardown(() => ctl.abort());
    await mk('d', { tier: 'web' });
    await mk('e', { tier: 'db' });
    await gotThree;
    t.same(
      events,
      ['ADDED b', 'DELETED a', 'ADDED d'],
      'replay (b entered the selection, a deleted), then live',
    );
    api.dropWatches();
    t.equal(await done, null, 'a dropped watch ends the stream cleanly');

    api.compact();
    const errors: Array<{ type: string; code?: number }> = [];
    await new Promise<void>((resolve) => {
      void watch.watch(
        '/api/v1/namespaces/default/secrets',
        { resourceVersion: rv },
        (type, obj) => errors.push({ type, code: obj.code }),
        () => resolve(),
      );
    });
    t.same(errors, [{ type: 'ERROR', code: 410 }], 'a resourceVersion older than the window: ERROR 410 Gone');
  },
);

t.test(
  'every call of a client shares a few keep-alive connections, and in-flight requests are bounded',
  async (t) => {
    const api = await KubeApiServer.start();
    t.teardown(() => api.close());
    const http = new KubeHttp(api.kubeConfig(), { maxSockets: 4 });
    t.teardown(() => http.close());
    const client = new KubeClient(api.kubeConfig(), http);
    api.load({ reset: true });
    // 200 calls at once: the pool sends at most 4 at a time over at most 4 connections.
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        client.createSecret('default', { metadata: { name: `s-${i}` }, data: { a: 'YQ==' } }),
      ),
    );
    for (let i = 0; i < 50; i++) await client.getSecret('default', `s-${i}`);
    const load = api.load();
    t.ok(load.peakSockets <= 4, `at most 4 connections were opened (${load.peakSockets})`);
    t.ok(load.peakInFlight <= 4, `at most 4 requests in flight (${load.peakInFlight})`);
    t.equal(api.writes('secrets', 'create'), 200);
  },
);

t.test('KubeHttp: a 401 asks the KubeConfig for credentials again once; errors carry no body', async (t) => {
  const api = await KubeApiServer.start();
  t.teardown(() => api.close());
  const http = new KubeHttp(api.kubeConfig({ token: 't1' }));
  t.teardown(() => http.close());
  api.failNext({ verb: 'list', code: 401 });
  const ns = await http.get<{ items: unknown[] }>('/api/v1/namespaces');
  t.ok(Array.isArray(ns.items), 'retried after the 401');
  t.same(
    api.requests({ path: '/api/v1/namespaces' }).map((r) => r.status),
    [401, 200],
  );
  api.failNext({ verb: 'list', code: 401, count: 2, message: 'CANARY-401' });
  const err = await http.get('/api/v1/namespaces').catch((e: unknown) => e);
  t.equal(statusCode(err), 401, 'a second 401 is the answer');
  t.equal((err as Error).message, 'GET /api/v1/namespaces: API server refused the request: 401 Unauthorized');
  t.notMatch((err as Error).message, 'CANARY', 'the Status message is never copied');
});
