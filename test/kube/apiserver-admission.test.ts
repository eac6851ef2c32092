/**
 * The double's admission chain against a small real HTTPS webhook: caBundle verification,
 * rules, objectSelector, namespaceSelector, matchConditions, failurePolicy, timeout, patches
 * (stringData merged first), denial messages, warnings, service references.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { createCertificates, serviceDnsNames } from '../../src/server/certs.ts';
import { KubeApiServer, type KubeApiServerOptions } from '../fakes/kube-apiserver/index.ts';
import { request } from '../helpers/https.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

interface Review {
  request: {
    uid: string;
    operation: string;
    name: string;
    namespace?: string;
    dryRun: boolean;
    userInfo: { username: string };
    object: {
      metadata: { labels?: Record<string, string> };
      data?: Record<string, string>;
      stringData?: unknown;
    } | null;
    oldObject: { metadata: { name: string } } | null;
    resource: { resource: string };
  };
}
type Answer = (r: Review) => object | 'hang';

async function webhook(t: Test, answer: Answer, hosts = ['127.0.0.1', ...serviceDnsNames('hook', 'esw')]) {
  const certs = await createCertificates({ hosts });
  const seen: Review[] = [];
  const server: Server = createServer({ cert: certs.cert, key: certs.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const review = JSON.parse(Buffer.concat(chunks).toString()) as Review;
      seen.push(review);
      const a = answer(review);
      if (a === 'hang') return;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          response: { uid: review.request.uid, ...a },
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
  return {
    url: `https://127.0.0.1:${port}/mutate`,
    port,
    caBundle: Buffer.from(certs.caCert).toString('base64'),
    seen,
  };
}

const patchOf = (ops: object[]) => Buffer.from(JSON.stringify(ops)).toString('base64');

function mutating(clientConfig: object, extra: object = {}) {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: 'esw' },
    webhooks: [
      {
        name: 'secrets.esw.io',
        clientConfig,
        rules: [
          { operations: ['CREATE', 'UPDATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['secrets'] },
        ],
        objectSelector: { matchLabels: { 'esw.io/inject': 'true' } },
        namespaceSelector: { matchExpressions: [{ key: 'esw.io/skip', operator: 'DoesNotExist' }] },
        failurePolicy: 'Fail',
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
        timeoutSeconds: 1,
        ...extra,
      },
    ],
  };
}

async function start(t: Test, opts: KubeApiServerOptions = {}) {
  const api = await KubeApiServer.start(opts);
  t.teardown(() => api.close());
  const call = async (method: string, path: string, body?: unknown, token?: string) => {
    const res = await request(`${api.url}${path}`, body, {
      ca: api.caPem,
      method,
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    return { status: res.status, body: res.json<Record<string, unknown>>(), headers: res.headers };
  };
  return { api, call };
}

const secret = (name: string, labels: Record<string, string> = { 'esw.io/inject': 'true' }) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, labels },
  stringData: { user: 'admin' },
});

t.test(
  'mutation: stringData merged before the call, patch applied, warnings relayed, selectors honoured',
  async (t) => {
    const hook = await webhook(t, () => ({
      allowed: true,
      patchType: 'JSONPatch',
      patch: patchOf([
        { op: 'add', path: '/data/password', value: Buffer.from('filled').toString('base64') },
      ]),
      warnings: ['store "aws" is slow'],
    }));
    const { api, call } = await start(t);
    api.setWebhooks([mutating({ url: hook.url, caBundle: hook.caBundle })]);
    const res = await call('POST', '/api/v1/namespaces/app/secrets', secret('db'));
    t.equal(res.status, 201);
    t.equal(hook.seen.length, 1);
    const req = hook.seen[0]?.request;
    t.equal(req?.operation, 'CREATE');
    t.equal(req?.namespace, 'app');
    t.equal(
      req?.object?.data?.user,
      Buffer.from('admin').toString('base64'),
      'the webhook sees stringData merged',
    );
    t.notOk(req?.object?.stringData);
    t.same(api.get('secrets', 'app', 'db')?.data, { user: 'YWRtaW4=', password: 'ZmlsbGVk' }, 'patch stored');
    t.equal(res.headers.warning, '299 - "store \\"aws\\" is slow"');

    t.equal((await call('POST', '/api/v1/namespaces/app/secrets', secret('plain', {}))).status, 201);
    t.equal(hook.seen.length, 1, 'objectSelector: an unlabelled Secret is not sent');
    api.put({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'skipped', labels: { 'esw.io/skip': 'yes' } },
    });
    t.equal((await call('POST', '/api/v1/namespaces/skipped/secrets', secret('x'))).status, 201);
    t.equal(hook.seen.length, 1, 'namespaceSelector: a namespace labelled out is not sent');
    t.equal(
      (
        await call('POST', '/api/v1/namespaces/app/configmaps', {
          metadata: { name: 'c', labels: { 'esw.io/inject': 'true' } },
        })
      ).status,
      201,
    );
    t.equal(hook.seen.length, 1, 'rules: configmaps are not sent');

    const upd = await call('PUT', '/api/v1/namespaces/app/secrets/db', {
      ...secret('db'),
      data: { user: 'eA==' },
    });
    t.equal(upd.status, 200);
    t.equal(hook.seen[1]?.request.operation, 'UPDATE');
    t.equal(hook.seen[1]?.request.oldObject?.metadata.name, 'db', 'UPDATE carries oldObject');

    const dry = await call('POST', '/api/v1/namespaces/app/secrets?dryRun=All', secret('dry'));
    t.equal(dry.status, 201);
    t.equal(hook.seen[2]?.request.dryRun, true, 'dryRun relayed');
    t.equal(api.get('secrets', 'app', 'dry'), undefined, 'dry run stores nothing');
  },
);

t.test('denial: the API server status code and message', async (t) => {
  const hook = await webhook(t, () => ({
    allowed: false,
    status: { code: 422, message: 'spec.data[0].remoteRef.key: Required value' },
  }));
  const { api, call } = await start(t);
  const cfg = mutating({ url: hook.url, caBundle: hook.caBundle });
  api.setWebhooks([{ ...cfg, kind: 'ValidatingWebhookConfiguration' }]);
  const res = await call('POST', '/api/v1/namespaces/app/secrets', secret('db'));
  t.equal(res.status, 422);
  t.equal(
    res.body.message,
    'admission webhook "secrets.esw.io" denied the request: spec.data[0].remoteRef.key: Required value',
  );
  t.equal(res.body.kind, 'Status');
  t.equal(api.get('secrets', 'app', 'db'), undefined, 'nothing stored');
});

t.test('caBundle is verified; failurePolicy Fail rejects, Ignore admits unmutated', async (t) => {
  const hook = await webhook(t, () => ({ allowed: true }));
  const other = await createCertificates({ hosts: ['127.0.0.1'] });
  const { api, call } = await start(t);
  const wrongCa = Buffer.from(other.caCert).toString('base64');
  api.setWebhooks([mutating({ url: hook.url, caBundle: wrongCa })]);
  const res = await call('POST', '/api/v1/namespaces/app/secrets', secret('a'));
  t.equal(res.status, 500);
  t.match(res.body.message, /^failed calling webhook "secrets.esw.io": failed to call webhook: Post/);
  t.equal(hook.seen.length, 0, 'the TLS handshake failed: no request reached the webhook');
  api.setWebhooks([mutating({ url: hook.url, caBundle: wrongCa }, { failurePolicy: 'Ignore' })]);
  t.equal((await call('POST', '/api/v1/namespaces/app/secrets', secret('a'))).status, 201);
});

t.test('timeoutSeconds: a hanging webhook fails the request (Fail) or is skipped (Ignore)', async (t) => {
  const hook = await webhook(t, () => 'hang');
  const { api, call } = await start(t);
  api.setWebhooks([mutating({ url: hook.url, caBundle: hook.caBundle })]);
  const res = await call('POST', '/api/v1/namespaces/app/secrets', secret('a'));
  t.equal(res.status, 500);
  t.match(res.body.message, /failed calling webhook "secrets.esw.io".*context deadline exceeded/);
  api.setWebhooks([mutating({ url: hook.url, caBundle: hook.caBundle }, { failurePolicy: 'Ignore' })]);
  t.equal((await call('POST', '/api/v1/namespaces/app/secrets', secret('a'))).status, 201);
});

t.test('matchConditions on the username; service references with servername verification', async (t) => {
  // The certificate names only the service: the double must dial 127.0.0.1 with SNI hook.esw.svc.
  const hook = await webhook(t, () => ({ allowed: true }), serviceDnsNames('hook', 'esw'));
  const { api, call } = await start(t, {
    users: { 'sa-token': 'system:serviceaccount:esw:esw' },
    serviceResolver: (_ns: string, _name: string, _port: number) => `https://127.0.0.1:${hook.port}`,
  });
  const cond = [
    { name: 'not-self', expression: "request.userInfo.username != 'system:serviceaccount:esw:esw'" },
  ];
  api.setWebhooks([
    mutating(
      { service: { namespace: 'esw', name: 'hook', path: '/mutate', port: 443 }, caBundle: hook.caBundle },
      { matchConditions: cond },
    ),
  ]);
  t.equal((await call('POST', '/api/v1/namespaces/app/secrets', secret('a'), 'sa-token')).status, 201);
  t.equal(hook.seen.length, 0, 'the excluded user is not sent');
  t.equal((await call('POST', '/api/v1/namespaces/app/secrets', secret('b'), 'someone')).status, 201);
  t.equal(hook.seen.length, 1, 'others are, to hook.esw.svc verified against the caBundle');
  t.equal(hook.seen[0]?.request.userInfo.username, 'kubernetes-admin');

  api.setWebhooks([
    mutating(
      { url: hook.url, caBundle: hook.caBundle },
      { matchConditions: [{ name: 'x', expression: 'has(object.data)' }] },
    ),
  ]);
  const res = await call('POST', '/api/v1/namespaces/app/secrets', secret('c'));
  t.equal(res.status, 500, 'an expression the double does not support fails under failurePolicy Fail');
  t.match(res.body.message, /failed to evaluate match condition/);
});

t.test('DELETE is sent with oldObject when the rule asks for it', async (t) => {
  const hook = await webhook(t, (r) =>
    r.request.operation === 'DELETE'
      ? { allowed: false, status: { message: 'protected' } }
      : { allowed: true },
  );
  const { api, call } = await start(t);
  api.setWebhooks([
    {
      ...mutating({ url: hook.url, caBundle: hook.caBundle }),
      kind: 'ValidatingWebhookConfiguration',
      webhooks: [
        {
          ...mutating({ url: hook.url, caBundle: hook.caBundle }).webhooks[0],
          rules: [
            {
              operations: ['*'],
              apiGroups: ['*'],
              apiVersions: ['*'],
              resources: ['*'],
              scope: 'Namespaced',
            },
          ],
        },
      ],
    },
  ]);
  t.equal((await call('POST', '/api/v1/namespaces/app/secrets', secret('a'))).status, 201);
  const del = await call('DELETE', '/api/v1/namespaces/app/secrets/a');
  t.equal(del.status, 400, 'a denial without a code is a 400');
  t.equal(del.body.message, 'admission webhook "secrets.esw.io" denied the request: protected');
  t.equal(hook.seen[1]?.request.oldObject?.metadata.name, 'a');
  t.equal(hook.seen[1]?.request.object, null);
  t.ok(api.get('secrets', 'app', 'a'), 'still there');
});
