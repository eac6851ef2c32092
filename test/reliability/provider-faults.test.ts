/**
 * Provider faults through the real HTTPS server: the runtime's StoreResolver with the real AWS
 * SDK against its wire fake and node-vault against the Vault fake. Timeouts, slow answers, 429
 * with Retry-After, 500s, connection resets and malformed bodies each refuse the placeholder
 * Secret with 503 before the webhook's deadline (the server answers; no timing assertion), the
 * message names the reference and the store, never a value; once the fault clears the same
 * review is allowed with the right patch.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jsonpatch from 'fast-json-patch';
import t, { type Test } from 'tap';
import type { AdmissionResponse } from '../../src/admission/types.ts';
import type { KubeObject, Secret } from '../../src/api/types.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { createRuntime, loadIntoRegistry } from '../../src/runtime.ts';
import { createCertificates } from '../../src/server/certs.ts';
import { startServer } from '../../src/server/serve.ts';
import { type AwsFault, AwsSecretsManagerFake } from '../fakes/aws-secrets-manager.ts';
import { type Fault, VaultFake } from '../fakes/vault.ts';
import { admissionReview } from '../helpers/admission-review.ts';
import { request } from '../helpers/https.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const CANARY = `CANARY-${randomUUID()}`;
const DEADLINE_MS = 1500;
const b64 = (s: string) => Buffer.from(s).toString('base64');

function manifests(vaultUrl: string): KubeObject[] {
  const secret = (name: string, data: Record<string, string>) =>
    ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace: 'default' },
      data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
    }) as KubeObject;
  const store = (name: string, provider: Record<string, unknown>) =>
    ({
      apiVersion: 'external-secrets.io/v1',
      kind: 'SecretStore',
      metadata: { name, namespace: 'default', uid: randomUUID(), generation: 1 },
      spec: { provider },
    }) as KubeObject;
  return [
    secret('aws-creds', { id: 'AKIDEXAMPLE', key: 'secret-key-example' }),
    secret('vault-token', { token: 'root-token' }),
    store('aws-store', {
      aws: {
        service: 'SecretsManager',
        region: 'us-east-1',
        auth: {
          secretRef: {
            accessKeyIDSecretRef: { name: 'aws-creds', key: 'id' },
            secretAccessKeySecretRef: { name: 'aws-creds', key: 'key' },
          },
        },
      },
    }),
    store('vault-store', {
      vault: {
        server: vaultUrl,
        path: 'secret',
        version: 'v2',
        auth: { tokenSecretRef: { name: 'vault-token', key: 'token' } },
      },
    }),
  ];
}

function review(store: string, key: string): Record<string, unknown> {
  const object: Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 'app-secret',
      namespace: 'default',
      labels: { 'esw.io/inject': 'true' },
      annotations: { 'esw.io/store': store },
    },
    type: 'Opaque',
    data: { password: b64(`\${ref:${key}#password}`) },
  };
  return admissionReview('Secret', object, {
    name: 'app-secret',
    namespace: 'default',
    oldObject: null,
    dryRun: false,
  });
}

async function setup(t: Test, deadlineMs = DEADLINE_MS) {
  const aws = await AwsSecretsManagerFake.start();
  t.teardown(() => aws.close());
  const vault = new VaultFake();
  const vaultUrl = await vault.start();
  t.teardown(() => vault.close());
  vault.addToken('root-token');

  const dir = await mkdtemp(join(tmpdir(), 'esw-provider-faults-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const bundle = await createCertificates({ hosts: ['localhost', '127.0.0.1'] });
  const tls = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
  await writeFile(tls.certFile, bundle.cert);
  await writeFile(tls.keyFile, bundle.key);

  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (l: string) => lines.push(l) } });
  const metrics = createMetrics();
  const registry = new MemoryRegistry();
  loadIntoRegistry(
    registry,
    manifests(vaultUrl).map((object, index) => ({ file: 'test', index, object })),
    logger,
  );
  const runtime = createRuntime(registry, registry, {
    logger,
    metrics,
    admissionDeadlineMs: deadlineMs,
    cacheTtlMs: 30_000,
    endpoints: { aws: aws.endpoint },
  });
  t.teardown(() => runtime.close());
  const server = await startServer(runtime, {
    port: 0,
    host: '127.0.0.1',
    tls,
    logger,
    metrics,
    certPollMs: 60_000,
  });
  t.teardown(() => server.shutdown('test teardown'));
  const mutate = async (body: Record<string, unknown>) => {
    const res = await request(`https://127.0.0.1:${server.port}/mutate`, body, { ca: bundle.caCert });
    t.equal(res.status, 200, 'the server answered the review');
    const parsed = res.json<{ response: AdmissionResponse }>();
    t.equal(parsed.response.uid, (body.request as { uid: string }).uid, 'uid echoed');
    return parsed.response;
  };
  return { aws, vault, mutate, lines, server };
}

function patched(body: Record<string, unknown>, response: AdmissionResponse): Secret {
  const object = (body.request as { object: Secret }).object;
  const ops = JSON.parse(
    Buffer.from(response.patch ?? 'W10=', 'base64').toString('utf8'),
  ) as jsonpatch.Operation[];
  return jsonpatch.applyPatch(structuredClone(object), ops, true, false).newDocument as Secret;
}

function namesRefAndStore(r: AdmissionResponse, key: string, store: string): boolean {
  const m = r.status?.message ?? '';
  return m.includes(key) && m.includes(`default/${store}`);
}

/**
 * The same review again (a new uid) until allowed, at most three times: a review sent while the
 * slow call it coalesces with is still in flight may share that call's timeout once.
 */
async function untilAllowed(
  mutate: (b: Record<string, unknown>) => Promise<AdmissionResponse>,
  body: Record<string, unknown>,
): Promise<[Record<string, unknown>, AdmissionResponse]> {
  let last: [Record<string, unknown>, AdmissionResponse] | undefined;
  for (let i = 0; i < 3; i++) {
    const again = { ...body, request: { ...(body.request as object), uid: randomUUID() } };
    last = [again, await mutate(again)];
    if (last[1].allowed) break;
  }
  return last as [Record<string, unknown>, AdmissionResponse];
}

const password = (s: Secret) => Buffer.from(s.data?.password ?? '', 'base64').toString('utf8');

const AWS_FAULTS: [string, AwsFault][] = [
  ['slower than the deadline', { type: 'delay', ms: DEADLINE_MS * 3 }],
  ['429 with Retry-After', { type: 'error', status: 429, errorType: 'ThrottlingException', retryAfter: 1 }],
  ['500', { type: 'error', status: 500, errorType: 'InternalServiceError' }],
  ['connection reset', { type: 'reset' }],
  ['malformed body', { type: 'malformed' }],
];

t.test('AWS: every fault is a 503 naming the reference, then the same review is allowed', async (t) => {
  const { aws, mutate, lines } = await setup(t);
  const refusals: AdmissionResponse[] = [];
  for (const [i, [name, fault]] of AWS_FAULTS.entries()) {
    const key = `faults/aws-${i}`;
    aws.put(key, JSON.stringify({ password: `${CANARY}-${i}` }));
    aws.fault(fault, { key });
    const body = review('aws-store', key);
    const refused = await mutate(body);
    refusals.push(refused);
    t.equal(refused.allowed, false, `${name}: refused`);
    t.equal(refused.status?.code, 503, `${name}: 503 (${refused.status?.message})`);
    t.ok(namesRefAndStore(refused, key, 'aws-store'), `${name}: names the reference and the store`);
    t.notOk(refused.patch, `${name}: no patch`);

    aws.clearFaults();
    const [again, allowed] = await untilAllowed(mutate, body);
    t.equal(allowed.allowed, true, `${name}: allowed once the fault clears (${allowed.status?.message})`);
    t.equal(password(patched(again, allowed)), `${CANARY}-${i}`, `${name}: the right value patched`);
  }
  t.notOk(JSON.stringify(refusals).includes(CANARY), 'no value in a refusal');
  t.same(
    lines.filter((l) => l.includes(CANARY)),
    [],
    'no value in a log line',
  );
});

t.test(
  'AWS throttling within the default 8 s deadline: the SDK retries, then the refusal says so',
  async (t) => {
    // With the 1.5 s deadline above, the SDK's throttling back-off outlasts the deadline and the
    // refusal can only say "not resolved within"; with the default deadline its three attempts end
    // first and the refusal names the cause.
    const { aws, mutate } = await setup(t, 8_000);
    aws.put('faults/aws-throttled', JSON.stringify({ password: CANARY }));
    aws.fault(
      { type: 'error', status: 429, errorType: 'ThrottlingException' },
      { key: 'faults/aws-throttled' },
    );
    const refused = await mutate(review('aws-store', 'faults/aws-throttled'));
    t.equal(refused.status?.code, 503);
    t.match(refused.status?.message, /ESW_PROVIDER_THROTTLED/, refused.status?.message ?? '');
    t.ok(aws.count('GetSecretValue') >= 2, 'the SDK retried before giving up');
    t.notOk(JSON.stringify(refused).includes(CANARY));
  },
);

const VAULT_FAULTS: [string, Fault][] = [
  ['slower than the deadline', { delayMs: DEADLINE_MS * 3 }],
  ['429 with Retry-After', { status: 429, body: { errors: ['rate limit quota exceeded'] } }],
  ['500', { status: 500 }],
  ['connection reset', { reset: true }],
  ['malformed body', { status: 200, body: '{"data": {"data": ' }],
];

t.test('Vault: every fault is a 503 naming the reference, then the same review is allowed', async (t) => {
  const { vault, mutate, lines } = await setup(t);
  const refusals: AdmissionResponse[] = [];
  for (const [i, [name, fault]] of VAULT_FAULTS.entries()) {
    const key = `faults/vault-${i}`;
    vault.putKv2('secret', key, { password: `${CANARY}-${i}` });
    vault.fault(`secret/data/${key}`, fault);
    const body = review('vault-store', key);
    const refused = await mutate(body);
    refusals.push(refused);
    t.equal(refused.allowed, false, `${name}: refused`);
    t.equal(refused.status?.code, 503, `${name}: 503 (${refused.status?.message})`);
    t.ok(namesRefAndStore(refused, key, 'vault-store'), `${name}: names the reference and the store`);
    if (fault.status === 429) {
      t.match(refused.status?.message, /ESW_PROVIDER_THROTTLED/, `${name}: says the provider throttles`);
    }

    vault.clearFaults();
    const [again, allowed] = await untilAllowed(mutate, body);
    t.equal(allowed.allowed, true, `${name}: allowed once the fault clears (${allowed.status?.message})`);
    t.equal(password(patched(again, allowed)), `${CANARY}-${i}`, `${name}: the right value patched`);
  }
  t.notOk(JSON.stringify(refusals).includes(CANARY), 'no value in a refusal');
  t.same(
    lines.filter((l) => l.includes(CANARY)),
    [],
    'no value in a log line',
  );
});
