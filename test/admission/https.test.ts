/**
 * Placeholder Secrets over real HTTPS: the webhook server (startServer) with the runtime's
 * handlers, AdmissionReviews shaped as the API server sends them (stringData already merged into
 * base64 data), through the real StoreResolver and the `fake` provider. A provider that never
 * answers shows the 503 refusal under the admission deadline. A canary value held by the store
 * never reaches a log line, a warning or a refusal message.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jsonpatch from 'fast-json-patch';
import t, { type Test } from 'tap';
import { mutateSecret } from '../../src/admission/mutate.ts';
import type { AdmissionResponse } from '../../src/admission/types.ts';
import { validateAdmission } from '../../src/admission/validate.ts';
import { parseManifests } from '../../src/api/manifests.ts';
import type { Secret } from '../../src/api/types.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { createProviders } from '../../src/providers/registry.ts';
import type { Provider, ProviderClient } from '../../src/providers/types.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { StoreResolver } from '../../src/resolve/resolver.ts';
import { loadIntoRegistry } from '../../src/runtime.ts';
import { createCertificates } from '../../src/server/certs.ts';
import { startServer } from '../../src/server/serve.ts';
import { admissionReview } from '../helpers/admission-review.ts';
import { request } from '../helpers/https.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const CANARY = `CANARY-${randomUUID()}`;
const DEADLINE_MS = 300;

const STORES = `
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: demo-store, namespace: default }
spec:
  provider:
    fake:
      data:
        - key: my-app/database-credentials
          value: '{"username":"db_user","password":"supersecretpassword"}'
        - key: my-app/canary
          value: '{"token":"${CANARY}"}'
---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: team-b-store, namespace: team-b }
spec:
  provider:
    fake:
      data: [{ key: my-app/canary, value: '${CANARY}' }]
---
apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: { name: team-b-only }
spec:
  conditions: [{ namespaces: [team-b] }]
  provider:
    fake:
      data: [{ key: my-app/canary, value: '${CANARY}' }]
`;

/** A provider whose calls never answer on their own: only the caller's abort ends them. */
const hangingProvider: Provider = {
  name: 'hang',
  validateStore: () => [],
  async newClient(): Promise<ProviderClient> {
    const never = (signal: AbortSignal) =>
      new Promise<never>((_, reject) => {
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
    return {
      getSecret: (_ref, opts) => never(opts.signal),
      findSecrets: (_find, opts) => never(opts.signal),
      close: async () => {},
    };
  },
};

const b64 = (s: string) => Buffer.from(s).toString('base64');

function review(
  uid: string,
  data: Record<string, string>,
  opts: { store?: string; storeKind?: string; namespace?: string; dryRun?: boolean } = {},
) {
  const namespace = opts.namespace ?? 'default';
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 'database-credentials',
      namespace,
      labels: { 'esw.io/inject': 'true' },
      annotations: {
        'esw.io/store': opts.store ?? 'demo-store',
        'esw.io/store-kind': opts.storeKind ?? 'SecretStore',
        'esw.io/refresh-interval': '1h',
      },
    },
    type: 'Opaque',
    // the API server merged stringData into data before calling the webhook
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
  };
  return admissionReview('Secret', secret, {
    uid,
    requestKind: { group: '', version: 'v1', kind: 'Secret' },
    name: 'database-credentials',
    namespace,
    userInfo: { username: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] },
    oldObject: null,
    dryRun: opts.dryRun ?? false,
  });
}

async function setup(t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'esw-mutate-https-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const bundle = await createCertificates({ hosts: ['localhost', '127.0.0.1'] });
  const tls = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
  await writeFile(tls.certFile, bundle.cert);
  await writeFile(tls.keyFile, bundle.key);

  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (l: string) => lines.push(l) } });
  const metrics = createMetrics();
  const registry = new MemoryRegistry();
  loadIntoRegistry(registry, parseManifests(STORES), logger);
  registry.upsert({
    apiVersion: 'external-secrets.io/v1',
    kind: 'SecretStore',
    metadata: { name: 'slow-store', namespace: 'default' },
    spec: { provider: { hang: {} } },
  } as Secret);
  const providers = createProviders();
  providers.set('hang', hangingProvider);
  const resolver = new StoreResolver({
    registry,
    secrets: registry,
    providers,
    logger,
    metrics,
    callTimeoutMs: 60_000, // longer than the admission deadline: the mutation's own deadline must act
  });
  t.teardown(() => resolver.close());
  const server = await startServer(
    {
      validate: async (req) => validateAdmission(req, { registry }),
      mutate: (req) => mutateSecret(req, { resolver, logger, deadlineMs: DEADLINE_MS }),
      notReady: () => [],
    },
    { port: 0, host: '127.0.0.1', tls, logger, metrics, certPollMs: 60_000 },
  );
  t.teardown(() => server.shutdown('test teardown'));
  const post = async (path: string, body: unknown) => {
    const res = await request(`https://127.0.0.1:${server.port}${path}`, body, { ca: bundle.caCert });
    t.equal(res.status, 200, `${path} answers 200`);
    return res.json<{ apiVersion: string; kind: string; response: AdmissionResponse }>().response;
  };
  return { post, lines };
}

function apply(object: Secret, response: AdmissionResponse): Secret {
  if (!response.patch) return structuredClone(object);
  const ops = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as jsonpatch.Operation[];
  return jsonpatch.applyPatch(structuredClone(object), ops, true, false).newDocument as Secret;
}

const decoded = (s: Secret) =>
  Object.fromEntries(
    Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
  );

t.test("the introduction's placeholder Secret over HTTPS, then reinvocation and the guard", async (t) => {
  const { post, lines } = await setup(t);
  const body = review('uid-intro', {
    username: '${ref:my-app/database-credentials#username}',
    password: '${ref:my-app/database-credentials#password}',
    url: 'postgres://${ref:my-app/database-credentials#username}@db:5432/app',
  });
  const response = await post('/mutate', body);
  t.equal(response.uid, 'uid-intro');
  t.equal(response.allowed, true);
  t.equal(response.patchType, 'JSONPatch');
  const patch = Buffer.from(response.patch ?? '', 'base64').toString('utf8');
  t.notOk(patch.includes('${ref:'), 'the patch never holds a literal placeholder');
  const stored = apply(body.request.object as Secret, response);
  t.same(decoded(stored), {
    username: 'db_user',
    password: 'supersecretpassword',
    url: 'postgres://db_user@db:5432/app',
  });
  t.match(stored.metadata?.annotations?.['esw.io/data-hash'], /^[0-9a-f]{64}$/);
  t.ok(stored.metadata?.annotations?.['esw.io/refs'], 'the templates are recorded for the refresher');

  // The API server reinvokes the webhook with the patched object: nothing left to do.
  const again = review('uid-reinvoke', {});
  again.request.object = stored as typeof again.request.object;
  const second = await post('/mutate', again);
  t.same(second, { uid: 'uid-reinvoke', allowed: true }, 'reinvocation: allowed, no patch');
  t.same(
    await post('/validate', again),
    { uid: 'uid-reinvoke', allowed: true },
    'the filled Secret passes the guard',
  );

  // Had the mutating call been skipped, the validating guard refuses the literal placeholder.
  const guarded = await post('/validate', body);
  t.equal(guarded.allowed, false);
  t.equal(guarded.status?.code, 422);
  t.match(guarded.status?.message, /"password"/);

  // The store may be named with its own namespace.
  const qualified = review(
    'uid-qualified',
    { user: '${ref:my-app/database-credentials#username}' },
    { store: 'default/demo-store' },
  );
  const qualifiedResponse = await post('/mutate', qualified);
  t.same(
    decoded(apply(qualified.request.object as Secret, qualifiedResponse)),
    { user: 'db_user' },
    'NAMESPACE/NAME of its own namespace',
  );

  // A dry-run (kubectl diff) gets the same answer.
  const dry = review(
    'uid-dry',
    { password: '${ref:my-app/database-credentials#password}' },
    { dryRun: true },
  );
  const dryResponse = await post('/mutate', dry);
  t.equal(dryResponse.allowed, true);
  t.same(decoded(apply(dry.request.object as Secret, dryResponse)), { password: 'supersecretpassword' });
  t.notOk(lines.join('\n').includes('supersecretpassword'), 'values never logged');
});

t.test(
  'refusals over HTTPS: 200 with allowed false, the code, the reference and the store, never a value',
  async (t) => {
    const { post, lines } = await setup(t);
    const cases: { name: string; body: ReturnType<typeof review>; code: number; message: RegExp }[] = [
      {
        name: 'syntax',
        body: review('uid-422', { token: '${ref:my-app/canary#token#v1#x}' }),
        code: 422,
        message: /token.*my-app\/canary/,
      },
      {
        name: 'missing key',
        body: review('uid-404', { token: '${ref:my-app/nope#token}' }),
        code: 404,
        message: /\$\{ref:my-app\/nope#token\}.*demo-store/,
      },
      {
        name: 'missing property',
        body: review('uid-404p', { token: '${ref:my-app/canary#nothere}' }),
        code: 404,
        message: /nothere.*demo-store/,
      },
      {
        name: "another namespace's SecretStore is not visible here",
        body: review('uid-403', { token: '${ref:my-app/canary}' }, { store: 'team-b-store' }),
        code: 404,
        message: /team-b-store/,
      },
      {
        name: 'a malformed store annotation',
        body: review('uid-422s', { token: '${ref:my-app/canary}' }, { store: 'a/b/c' }),
        code: 422,
        message: /esw\.io\/store.*NAMESPACE\/NAME/,
      },
      {
        name: 'a ClusterSecretStore named with a namespace',
        body: review(
          'uid-422c',
          { token: '${ref:my-app/canary}' },
          { store: 'default/team-b-only', storeKind: 'ClusterSecretStore' },
        ),
        code: 422,
        message: /ClusterSecretStore has no namespace/,
      },
      {
        name: "another namespace's SecretStore named with its namespace",
        body: review('uid-403', { token: '${ref:my-app/canary}' }, { store: 'team-b/team-b-store' }),
        code: 403,
        message: /SecretStore "team-b\/team-b-store" may only be used from namespace "team-b"/,
      },
      {
        name: 'ClusterSecretStore whose conditions exclude the namespace',
        body: review(
          'uid-403c',
          { token: '${ref:my-app/canary}' },
          { store: 'team-b-only', storeKind: 'ClusterSecretStore' },
        ),
        code: 403,
        message: /team-b-only/,
      },
      {
        name: 'provider never answers',
        body: review('uid-503', { token: '${ref:my-app/canary#token}' }, { store: 'slow-store' }),
        code: 503,
        message: /slow-store.*key "token" \$\{ref:my-app\/canary#token\}/,
      },
    ];
    for (const c of cases) {
      const response = await post('/mutate', c.body);
      t.equal(response.uid, c.body.request.uid, `${c.name}: uid echoed`);
      t.equal(response.allowed, false, `${c.name}: refused`);
      t.equal(response.status?.code, c.code, `${c.name}: status ${c.code}`);
      t.match(response.status?.message, c.message, `${c.name}: names the reference and the store`);
      t.notOk(JSON.stringify(response).includes(CANARY), `${c.name}: no value in the answer`);
      t.notOk(response.patch, `${c.name}: no patch`);
    }
    const leaked = lines.filter((l) => l.includes(CANARY));
    t.same(leaked, [], 'the canary never reaches a log line');
    t.ok(lines.length > 0, 'logs were captured');
  },
);
