/**
 * Placeholder Secrets through real provider SDKs: the AWS Secrets Manager client against its
 * JSON 1.1 wire fake, node-vault against the Vault HTTP fake, both behind the real StoreResolver
 * and the runtime's mutate handler. The same AdmissionReviews as the fake-provider tests: the
 * introduction's scenario, binary values, dockerconfigjson, versions, data-from, refusals, and
 * a canary that never reaches a log line or a message.
 */
import { randomUUID } from 'node:crypto';
import jsonpatch from 'fast-json-patch';
import t, { type Test } from 'tap';
import type { AdmissionRequest, AdmissionResult } from '../../src/admission/types.ts';
import type { KubeObject, Secret } from '../../src/api/types.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { createRuntime } from '../../src/runtime.ts';
import { AwsSecretsManagerFake } from '../fakes/aws-secrets-manager.ts';
import { VaultFake } from '../fakes/vault.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const CANARY = `CANARY-${randomUUID()}`;
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

function credentialSecret(name: string, data: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: 'default' },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
  } as KubeObject;
}

function storeObject(name: string, provider: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind: 'SecretStore',
    metadata: { name, namespace: 'default', uid: randomUUID(), generation: 1 },
    spec: { provider },
  } as KubeObject;
}

function placeholder(
  store: string,
  data: Record<string, string | Buffer>,
  opts: { type?: string; annotations?: Record<string, string> } = {},
): AdmissionRequest & { object: Secret } {
  const object: Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 'app-secret',
      namespace: 'default',
      labels: { 'esw.io/inject': 'true' },
      annotations: { 'esw.io/store': store, ...opts.annotations },
    },
    type: opts.type ?? 'Opaque',
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
  };
  return {
    uid: randomUUID(),
    kind: { group: '', version: 'v1', kind: 'Secret' },
    resource: { group: '', version: 'v1', resource: 'secrets' },
    name: 'app-secret',
    namespace: 'default',
    operation: 'CREATE',
    object,
    oldObject: null,
    dryRun: false,
  };
}

function filled(req: { object: Secret }, result: AdmissionResult): Secret {
  if (!result.allowed) throw new Error(`refused: ${result.status?.message}`);
  const ops = JSON.parse(
    Buffer.from(result.patch ?? 'W10=', 'base64').toString('utf8'),
  ) as jsonpatch.Operation[];
  return jsonpatch.applyPatch(structuredClone(req.object), ops, true, false).newDocument as Secret;
}

const bytes = (s: Secret, k: string) => Buffer.from(s.data?.[k] ?? '', 'base64');
const text = (s: Secret, k: string) => bytes(s, k).toString('utf8');

async function runtimeWith(t: Test, objects: KubeObject[], endpoints: { aws?: string } = {}) {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (l: string) => lines.push(l) } });
  const registry = new MemoryRegistry();
  for (const o of objects) registry.upsert(o);
  const runtime = createRuntime(registry, registry, {
    logger,
    metrics: createMetrics(),
    admissionDeadlineMs: 60_000, // not a deadline test: a loaded machine (SDKs load on first use) must not turn a fill into a refusal
    cacheTtlMs: 30_000,
    endpoints,
  });
  t.teardown(() => runtime.close());
  return { runtime, lines };
}

t.test('AWS Secrets Manager: the placeholder Secret filled through the real SDK', async (t) => {
  const fake = await AwsSecretsManagerFake.start();
  t.teardown(() => fake.close());
  fake.put(
    'my-app/database-credentials',
    JSON.stringify({ username: 'db_user', password: 'supersecretpassword' }),
  );
  const keystore = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x0a, 0x24, 0x7b]);
  fake.put('bin/keystore', keystore);
  fake.put('my-app/registry', JSON.stringify({ user: 'robot', token: CANARY }));
  const { runtime, lines } = await runtimeWith(
    t,
    [
      credentialSecret('aws-creds', { id: 'AKIDEXAMPLE', key: 'secret-key-example' }),
      storeObject('aws-store', {
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
    ],
    { aws: fake.endpoint },
  );

  const intro = placeholder('aws-store', {
    username: '${ref:my-app/database-credentials#username}',
    password: '${ref:my-app/database-credentials#password}',
    url: 'postgres://${ref:my-app/database-credentials#username}@db:5432/app',
  });
  const out = filled(intro, await runtime.mutate(intro));
  t.equal(text(out, 'username'), 'db_user');
  t.equal(text(out, 'password'), 'supersecretpassword');
  t.equal(text(out, 'url'), 'postgres://db_user@db:5432/app');
  t.equal(
    fake.count('GetSecretValue') + fake.count('BatchGetSecretValue'),
    1,
    'three references to one remote key cost one AWS call',
  );

  const binary = placeholder('aws-store', { 'keystore.p12': '${ref:bin/keystore}' });
  t.same(
    bytes(filled(binary, await runtime.mutate(binary)), 'keystore.p12'),
    keystore,
    'raw bytes, binary-safe',
  );

  const docker = placeholder(
    'aws-store',
    {
      '.dockerconfigjson': JSON.stringify({
        auths: {
          'registry.example.com': {
            username: '${ref:my-app/registry#user}',
            password: '${ref:my-app/registry#token}',
          },
        },
      }),
    },
    { type: 'kubernetes.io/dockerconfigjson' },
  );
  const dockerOut = filled(docker, await runtime.mutate(docker));
  t.same(JSON.parse(text(dockerOut, '.dockerconfigjson')), {
    auths: { 'registry.example.com': { username: 'robot', password: CANARY } },
  });

  const missing = placeholder('aws-store', { token: '${ref:my-app/absent#token}' });
  const refused = await runtime.mutate(missing);
  t.match(refused, { allowed: false, status: { code: 404, message: /token.*my-app\/absent.*aws-store/ } });

  fake.fault({ type: 'error', status: 503, errorType: 'InternalServiceError' }, { key: 'my-app/down' });
  const down = placeholder('aws-store', { token: '${ref:my-app/down}' });
  const downResult = await runtime.mutate(down);
  t.match(downResult, { allowed: false, status: { code: 503, message: /my-app\/down.*aws-store/ } });

  for (const r of [refused, downResult]) t.notOk(JSON.stringify(r).includes(CANARY), 'no value in a refusal');
  t.same(
    lines.filter((l) => l.includes(CANARY) || l.includes('supersecretpassword')),
    [],
    'no value in any log line',
  );
});

t.test('Vault KV v2: the placeholder Secret filled through node-vault', async (t) => {
  const fake = new VaultFake();
  const url = await fake.start();
  t.teardown(() => fake.close());
  fake.addToken('root-token');
  fake.putKv2('secret', 'my-app/database-credentials', { username: 'db_user', password: 'old-password' });
  fake.putKv2('secret', 'my-app/database-credentials', {
    username: 'db_user',
    password: 'supersecretpassword',
  });
  fake.putKv2('secret', 'my-app/config', {
    host: 'db.internal',
    port: 5432,
    tls: { mode: 'verify-full' },
    token: CANARY,
  });
  const { runtime, lines } = await runtimeWith(t, [
    credentialSecret('vault-token', { token: 'root-token' }),
    storeObject('vault-store', {
      vault: {
        server: url,
        path: 'secret',
        version: 'v2',
        auth: { tokenSecretRef: { name: 'vault-token', key: 'token' } },
      },
    }),
  ]);

  const intro = placeholder('vault-store', {
    username: '${ref:my-app/database-credentials#username}',
    password: '${ref:my-app/database-credentials#password}',
    previous: '${ref:my-app/database-credentials#password#1}',
    tls: 'sslmode=${ref:my-app/config#tls.mode}',
  });
  const out = filled(intro, await runtime.mutate(intro));
  t.equal(text(out, 'username'), 'db_user');
  t.equal(text(out, 'password'), 'supersecretpassword');
  t.equal(text(out, 'previous'), 'old-password', 'a version reaches Vault');
  t.equal(text(out, 'tls'), 'sslmode=verify-full', 'a nested property, embedded in text');

  const dataFrom = placeholder(
    'vault-store',
    { host: '${ref:my-app/database-credentials#username}.example' },
    { annotations: { 'esw.io/data-from': 'my-app/config' } },
  );
  const df = filled(dataFrom, await runtime.mutate(dataFrom));
  t.equal(text(df, 'host'), 'db_user.example', 'a key with a reference wins over data-from');
  t.equal(text(df, 'port'), '5432');
  t.equal(text(df, 'token'), CANARY);

  const gitops = placeholder(
    'vault-store',
    {},
    { annotations: { 'ref.esw.io/password': 'my-app/database-credentials#password' } },
  );
  t.equal(
    text(filled(gitops, await runtime.mutate(gitops)), 'password'),
    'supersecretpassword',
    'GitOps form',
  );

  const missing = placeholder('vault-store', { token: '${ref:my-app/config#nothere}' });
  const refused = await runtime.mutate(missing);
  t.match(refused, { allowed: false, status: { code: 404, message: /nothere.*vault-store/ } });
  t.notOk(JSON.stringify(refused).includes(CANARY), 'no value in the refusal');

  fake.deny('secret/data/my-app/locked');
  const locked = placeholder('vault-store', { token: '${ref:my-app/locked}' });
  const lockedResult = await runtime.mutate(locked);
  t.match(lockedResult, { allowed: false, status: { code: 403, message: /my-app\/locked.*vault-store/ } });

  t.same(
    lines.filter((l) => l.includes(CANARY) || l.includes('supersecretpassword') || l.includes('root-token')),
    [],
    'no value or credential in any log line',
  );
});
