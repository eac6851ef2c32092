/**
 * POST /mutate and /validate over real, verified HTTPS with the standalone runtime and the
 * example stores (the embedded default): AdmissionReviews exactly as the fixtures hold them
 * (stringData already merged into data), the patch applied as the API server would.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { AdmissionResponse } from '../../src/admission/types.ts';
import type { Secret } from '../../src/api/types.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { createStandaloneRuntime } from '../../src/runtime.ts';
import { createCertificates } from '../../src/server/certs.ts';
import { request } from '../helpers/https.ts';
import { serveHttps } from '../helpers/serve-https.ts';
import {
  applyPatch,
  b64,
  decodedData,
  type FixtureName,
  fixtureReview,
  patchText,
} from './mutate-helpers.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const CANARY = `CANARY-${randomUUID()}`;
const ROOT = join(import.meta.dirname, '..', '..');

async function setup(t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'esw-mutate-https-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const bundle = await createCertificates({ hosts: ['localhost', '127.0.0.1'] });
  const canaryStores = join(dir, 'canary-stores.yaml');
  await writeFile(
    canaryStores,
    `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: canary-store, namespace: default }
spec:
  provider:
    fake:
      data:
        - key: app/db
          value: '{"username":"u","password":"${CANARY}"}'
        - key: big
          value: '${'x'.repeat(700 * 1024)}'
`,
  );
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (l: string) => lines.push(l) } });
  const metrics = createMetrics();
  const runtime = await createStandaloneRuntime([join(ROOT, 'examples', 'stores.yaml'), canaryStores], {
    logger,
    metrics,
    admissionDeadlineMs: 60_000, // not a deadline test: a loaded machine (SDKs load on first use) must not turn a fill into a refusal
    cacheTtlMs: 30_000,
  });
  t.teardown(() => runtime.close());
  const server = await serveHttps(t, runtime, { bundle: bundle, logger, metrics });
  const base = `https://127.0.0.1:${server.port}`;
  const post = async (path: string, review: Record<string, unknown>) => {
    const res = await request(`${base}${path}`, review, { ca: bundle.caCert });
    t.equal(res.status, 200, `${path} answers 200`);
    const body = res.json<{ kind: string; response: AdmissionResponse }>();
    t.equal(body.kind, 'AdmissionReview');
    t.equal(body.response.uid, (review.request as { uid: string }).uid, 'uid echoed');
    return body.response;
  };
  return { post, lines };
}

const objectOf = (review: Record<string, unknown>) => (review.request as { object: Secret }).object;

t.test('every scenario over HTTPS, the patch applied as the API server does', async (t) => {
  const { post } = await setup(t);
  const expected: [FixtureName, Record<string, string>][] = [
    [
      'create-intro',
      { username: 'db_user', password: 'supersecretpassword', url: 'postgres://db_user@db:5432/app' },
    ],
    ['create-single', { password: 'supersecretpassword' }],
    [
      'create-multiple',
      {
        dsn: 'db_user:supersecretpassword@db.internal:5432',
        'api-key': 'ak_live_new_4567',
        'api-key-old': 'ak_live_old_0123',
        'tls-mode': 'verify-full',
        literal: 'not a reference',
      },
    ],
    ['create-data-from', { username: 'db_user', password: 'supersecretpassword', extra: 'ak_live_new_4567' }],
    [
      'create-gitops',
      { username: 'db_user', password: 'supersecretpassword', 'api-key': 'ak_live_old_0123' },
    ],
    [
      'update-reapply',
      { username: 'db_user', password: 'supersecretpassword', url: 'postgres://db_user@db:5432/app' },
    ],
  ];
  for (const [name, data] of expected) {
    const review = fixtureReview(name);
    const response = await post('/mutate', review);
    t.equal(response.allowed, true, `${name}: ${JSON.stringify(response.status)}`);
    t.equal(response.patchType, 'JSONPatch');
    t.notOk(patchText(response).includes('${ref:'), `${name}: no literal placeholder in the patch`);
    const stored = applyPatch(objectOf(review), response);
    t.same(decodedData(stored), data, name);
    // Reinvocation with the stored object: nothing left to do.
    (review.request as { object: Secret }).object = stored;
    const again = await post('/mutate', review);
    t.same([again.allowed, again.patch], [true, undefined], `${name}: reinvocation gets no patch`);
    t.same((await post('/validate', review)).allowed, true, `${name}: the stored Secret passes the guard`);
  }

  const docker = fixtureReview('create-dockerconfigjson');
  const dockerRes = await post('/mutate', docker);
  t.same(JSON.parse(decodedData(applyPatch(objectOf(docker), dockerRes))['.dockerconfigjson'] ?? ''), {
    auths: { 'registry.example.com': { username: 'robot', password: 'registry-token' } },
  });

  const binary = fixtureReview('create-binary');
  objectOf(binary).data = { 'keystore.p12': b64('${ref:my-app/config#features}') };
  const binRes = await post('/mutate', binary);
  t.equal(decodedData(applyPatch(objectOf(binary), binRes))['keystore.p12'], '["audit","metrics"]');

  const dry = fixtureReview('create-intro');
  (dry.request as { dryRun: boolean }).dryRun = true;
  const dryRes = await post('/mutate', dry);
  t.equal(
    decodedData(applyPatch(objectOf(dry), dryRes)).password,
    'supersecretpassword',
    'dry-run is served',
  );

  const plain = await post('/mutate', fixtureReview('plain-secret'));
  t.same([plain.allowed, plain.patch], [true, undefined], 'a Secret without the label is not touched');
});

t.test('refusals over HTTPS: 422, 404, 403, the 1 MiB limit; the guard; no value anywhere', async (t) => {
  const { post, lines } = await setup(t);
  const withData = (data: Record<string, string>, store = 'canary-store', namespace = 'default') => {
    const review = fixtureReview('create-single');
    const request = review.request as { namespace: string; object: Secret };
    request.namespace = namespace;
    const object = request.object;
    (object.metadata as { namespace: string }).namespace = namespace;
    (object.metadata?.annotations as Record<string, string>)['esw.io/store'] = store;
    object.data = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)]));
    return review;
  };
  const cases: [string, Record<string, unknown>, number, RegExp][] = [
    ['syntax', withData({ a: '${ref:app/db#password#1#2}' }), 422, /ESW_REF_SYNTAX.*key "a"/],
    ['missing key', withData({ a: '${ref:app/none#password}' }), 404, /app\/none.*canary-store/],
    ['missing property', withData({ a: '${ref:app/db#nope}' }), 404, /property "nope".*canary-store/],
    [
      'store not allowed here',
      withData({ a: '${ref:shared/smtp#user}' }, 'demo-cluster-store', 'team-b'),
      404,
      /demo-cluster-store|SecretStore/,
    ],
    ['too large', withData({ a: '${ref:big}', b: '${ref:big}' }), 422, /ESW_SECRET_TOO_LARGE/],
  ];
  const cluster = withData({ a: '${ref:shared/smtp#user}' }, 'demo-cluster-store', 'team-b');
  (objectOf(cluster).metadata?.annotations as Record<string, string>)['esw.io/store-kind'] =
    'ClusterSecretStore';
  cases[3] = [
    'store not allowed here',
    cluster,
    403,
    /ClusterSecretStore "demo-cluster-store" may not be used/,
  ];
  for (const [name, review, code, message] of cases) {
    const response = await post('/mutate', review);
    t.equal(response.allowed, false, name);
    t.equal(response.status?.code, code, `${name}: ${response.status?.message}`);
    t.match(response.status?.message, message, name);
    t.notOk(JSON.stringify(response).includes(CANARY), `${name}: no value in the answer`);
  }

  const ok = await post('/mutate', withData({ a: 'p=${ref:app/db#password}' }));
  t.equal(ok.allowed, true);
  t.notOk(JSON.stringify(ok.warnings ?? []).includes(CANARY));

  const guard = await post('/validate', fixtureReview('create-intro'));
  t.same([guard.allowed, guard.status?.code], [false, 422], 'the guard refuses an unfilled Secret');
  t.notOk(lines.join('\n').includes(CANARY), 'no value in any log line');
});

t.test('the AdmissionReviews in examples/admission answer as the README says', async (t) => {
  const { post } = await setup(t);
  const example = async (name: string) =>
    JSON.parse(await readFile(join(ROOT, 'examples', 'admission', name), 'utf8')) as Record<string, unknown>;

  const mutateReview = await example('mutate-secret.json');
  const mutated = await post('/mutate', mutateReview);
  t.equal(mutated.allowed, true);
  t.same(decodedData(applyPatch(objectOf(mutateReview), mutated)), {
    username: 'db_user',
    password: 'supersecretpassword',
    url: 'postgres://db_user@db:5432/app',
  });

  const valid = await post('/validate', await example('validate-externalsecret.json'));
  t.equal(valid.allowed, true, JSON.stringify(valid.status));
  t.same(valid.warnings ?? [], [], 'demo-store exists: no warning');

  const invalid = await post('/validate', await example('validate-invalid-externalsecret.json'));
  t.equal(invalid.allowed, false);
  t.equal(invalid.status?.code, 422);
  // The API server's convention: reason Invalid, one cause per error (kubectl prints them one a
  // line), and a message that reads one error a line for clients that print only the message.
  t.equal(invalid.status?.reason, 'Invalid');
  t.match(invalid.status?.details, {
    name: 'database-credentials-secret',
    group: 'external-secrets.io',
    kind: 'ExternalSecret',
  });
  t.same(
    invalid.status?.details?.causes?.map((c) => [c.field, c.reason]),
    [
      ['spec.secretStoreRef.kind', 'FieldValueNotSupported'],
      ['spec.target.creationPolicy', 'FieldValueNotSupported'],
      ['spec.refreshInterval', 'FieldValueInvalid'],
      ['spec.data[0].remoteRef.key', 'FieldValueRequired'],
      ['spec.data[1].secretKey', 'FieldValueRequired'],
    ],
  );
  const messageLines = invalid.status?.message.split('\n') ?? [];
  t.equal(messageLines[0], 'ExternalSecret.external-secrets.io "database-credentials-secret" is invalid:');
  t.same(
    messageLines.slice(1),
    invalid.status?.details?.causes?.map((c) => `* ${c.field}: ${c.message}`),
    'one error a line, the same as the causes',
  );

  const unfilled = await post('/validate', await example('validate-unfilled-secret.json'));
  t.same([unfilled.allowed, unfilled.status?.code], [false, 422], 'the guard: an unfilled Secret is refused');
});
