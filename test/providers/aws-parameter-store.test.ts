import t, { type Test } from 'tap';
import type { AwsProvider, SecretKeySelector } from '../../src/api/types.ts';
import { awsProvider } from '../../src/providers/aws/index.ts';
import { type ClientContext, type ProviderClient, ProviderError } from '../../src/providers/types.ts';
import { AwsSsmFake } from '../fakes/aws-ssm.ts';
import { strictIdentity } from './identity-context.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';
const CANARY = `CANARY-ssm-${Math.random().toString(36).slice(2)}`;

const spec: AwsProvider = {
  service: 'ParameterStore',
  region: 'eu-west-1',
  auth: {
    secretRef: {
      accessKeyIDSecretRef: { name: 'aws-creds', key: 'access-key' },
      secretAccessKeySecretRef: { name: 'aws-creds', key: 'secret-key' },
    },
  },
};
const creds: Record<string, string> = {
  'aws-creds/access-key': 'AKIDSSM',
  'aws-creds/secret-key': 'ssm-secret-key',
};

function ctx(endpoint: string): ClientContext {
  return {
    store: { kind: 'SecretStore', name: 'ssm-store', namespace: 'default' },
    namespace: 'default',
    readSecretKey: async (sel: SecretKeySelector) => creds[`${sel.name}/${sel.key}`] as string,
    endpoints: { aws: 'http://127.0.0.1:9', awsSsm: endpoint },
    maxAttempts: 1,
    timeoutMs: 2_000,
    ...strictIdentity,
  };
}

const signal = () => AbortSignal.timeout(5_000);
const text = (b: Uint8Array | ProviderError | undefined) =>
  b instanceof ProviderError ? `!${b.kind}` : Buffer.from(b ?? []).toString('utf8');

async function setup(t: Test, over: Partial<AwsProvider> = {}) {
  const fake = await AwsSsmFake.start();
  const client: ProviderClient = await awsProvider.newClient({ ...spec, ...over }, ctx(fake.endpoint));
  t.teardown(async () => {
    await client.close();
    await fake.close();
  });
  return { fake, client };
}

t.test(
  'values through the real SSM client: types, SecureString decrypted, versions and labels',
  async (t) => {
    const { fake, client } = await setup(t);
    fake.put('/app/db', '{"user":"app","password":"old"}', { type: 'SecureString', labels: ['stable'] });
    fake.put('/app/db', `{"user":"app","password":"${CANARY}"}`, { type: 'SecureString' });
    fake.put('/app/hosts', 'a.example,b.example', { type: 'StringList' });
    fake.put('plain', 'v1');
    t.equal(
      text(await client.getSecret({ key: '/app/db' }, { signal: signal() })),
      `{"user":"app","password":"${CANARY}"}`,
    );
    t.match(
      text(await client.getSecret({ key: '/app/db', version: '1' }, { signal: signal() })),
      /old/,
      'name:1',
    );
    t.match(
      text(await client.getSecret({ key: '/app/db', version: 'stable' }, { signal: signal() })),
      /old/,
      'name:label',
    );
    t.equal(text(await client.getSecret({ key: '/app/hosts' }, { signal: signal() })), 'a.example,b.example');
    t.equal(text(await client.getSecret({ key: 'plain' }, { signal: signal() })), 'v1');
    t.ok(fake.decryption.every(Boolean), 'every read asks SSM to decrypt');
    t.same(fake.accessKeys, Array(5).fill('AKIDSSM'), 'signed with the store credentials');
    t.same(
      fake.asked.map((a) => a.names[0]),
      ['/app/db', '/app/db:1', '/app/db:stable', '/app/hosts', 'plain'],
      "ESO's names: key, then :version",
    );
    await t.rejects(client.getSecret({ key: '/nope' }, { signal: signal() }), {
      name: 'ProviderError',
      kind: 'NotFound',
      message: 'aws: parameter "/nope": ParameterNotFound',
    });
    await t.rejects(client.getSecret({ key: '/app/db', version: '9' }, { signal: signal() }), {
      kind: 'NotFound',
      message: 'aws: parameter "/app/db" version "9": ParameterVersionNotFound',
    });
  },
);

t.test('batch: GetParameters 10 names a call, selectors in the batch, duplicates sent once', async (t) => {
  const { fake, client } = await setup(t);
  for (let i = 0; i < 24; i++) fake.put(`/k/${i}`, `v${i}`);
  fake.put('/k/0', 'v0-new');
  t.equal(client.maxBatch, 10);
  const refs = [
    ...Array.from({ length: 24 }, (_, i) => ({ key: `/k/${i}` })),
    { key: '/k/0', version: '1' },
    { key: '/k/3' },
    { key: '/missing' },
  ];
  const out = (await client.getSecrets?.(refs, { signal: signal() })) ?? [];
  t.equal(fake.count('GetParameters'), 3, '26 distinct names in calls of 10: 3 calls');
  t.equal(fake.count('GetParameter'), 0);
  t.same(
    fake.asked.map((a) => a.names.length),
    [10, 10, 6],
  );
  t.equal(text(out[0]), 'v0-new');
  t.equal(text(out[23]), 'v23');
  t.equal(text(out[24]), 'v0', 'a version selector answered within the batch');
  t.equal(text(out[25]), 'v3', 'a name asked twice gets the one answer');
  t.equal(text(out[26]), '!NotFound', 'InvalidParameters are NotFound');
});

t.test('a batch refused as a whole is asked name by name; throttling is not multiplied', async (t) => {
  const { fake, client } = await setup(t);
  fake.put('/s/a', 'a', { type: 'SecureString' });
  fake.put('/s/b', CANARY, { type: 'SecureString' });
  fake.denyDecrypt('/s/b');
  const out = (await client.getSecrets?.([{ key: '/s/a' }, { key: '/s/b' }], { signal: signal() })) ?? [];
  t.equal(text(out[0]), 'a', 'the other name still resolves');
  t.match(out[1], { kind: 'Forbidden', message: 'aws: parameter "/s/b": AccessDeniedException (HTTP 400)' });
  t.equal(fake.count('GetParameters'), 1);
  t.equal(fake.count('GetParameter'), 2);
  t.notMatch(String((out[1] as Error).message), /kms|CANARY/, 'no AWS text, no value');

  fake.resetCounts();
  fake.fault(
    { type: 'error', status: 400, errorType: 'ThrottlingException', retryAfter: 3 },
    { op: 'GetParameters' },
  );
  const throttled = (await client.getSecrets?.([{ key: '/s/a' }, { key: '/x' }], { signal: signal() })) ?? [];
  t.match(throttled, [{ kind: 'Throttled', retryAfterSeconds: 3 }, { kind: 'Throttled' }]);
  t.equal(fake.count('GetParameter'), 0, 'no per-name retry while AWS throttles');
});

t.test('find: GetParametersByPath for path and name, DescribeParameters for tags', async (t) => {
  const { fake, client } = await setup(t, { prefix: '/ignored-by-find' });
  for (let i = 0; i < 23; i++) fake.put(`/team/app/k${i}`, `v${i}`, { tags: { team: i % 2 ? 'a' : 'b' } });
  fake.put('/team/other/x', CANARY, { type: 'SecureString', tags: { team: 'a' } });
  fake.put('root-level', 'r', { tags: { team: 'a' } });

  const byPath = (await client.findSecrets?.({ path: '/team/app' }, { signal: signal() })) ?? new Map();
  t.equal(byPath.size, 23);
  t.equal(text(byPath.get('/team/app/k7')), 'v7', 'found names are full names');
  t.equal(fake.count('GetParametersByPath'), 3, 'pages of 10');
  t.equal(fake.count('GetParameters') + fake.count('GetParameter'), 0, 'values come with the listing');

  fake.resetCounts();
  const byName =
    (await client.findSecrets?.({ name: { regexp: 'other/|k1$' } }, { signal: signal() })) ?? new Map();
  t.same([...byName.keys()].sort(), ['/team/app/k1', '/team/other/x'], 'path defaults to / (recursive)');
  t.equal(text(byName.get('/team/other/x')), CANARY, 'SecureString decrypted');

  fake.resetCounts();
  const byTags =
    (await client.findSecrets?.({ tags: { team: 'a' }, path: '/team' }, { signal: signal() })) ?? new Map();
  t.equal(byTags.size, 12, '11 odd keys under /team/app and /team/other/x; root-level is not under /team');
  t.equal(fake.count('DescribeParameters'), 1);
  t.equal(fake.count('GetParameters'), 2, '12 values, 10 a call');
  t.equal(fake.count('GetParametersByPath'), 0);

  fake.resetCounts();
  const tagsAndName =
    (await client.findSecrets?.({ tags: { team: 'a' }, name: { regexp: '^root' } }, { signal: signal() })) ??
    new Map();
  t.same([...tagsAndName.keys()], ['root-level'], 'tags and name.regexp both apply');
  t.equal(fake.count('GetParameters') + fake.count('GetParameter'), 1, 'only matching names are read');
});

t.test('find falls back to DescribeParameters when GetParametersByPath is denied, as ESO', async (t) => {
  const { fake, client } = await setup(t);
  for (let i = 0; i < 12; i++) fake.put(`/svc/k${i}`, `v${i}`);
  fake.fault(
    { type: 'error', status: 400, errorType: 'AccessDeniedException' },
    { op: 'GetParametersByPath' },
  );
  const found =
    (await client.findSecrets?.({ path: '/svc', name: { regexp: 'k1' } }, { signal: signal() })) ?? new Map();
  t.same([...found.keys()].sort(), ['/svc/k1', '/svc/k10', '/svc/k11']);
  t.equal(fake.count('DescribeParameters'), 1);
  t.equal(fake.count('GetParameters'), 1, 'three values in one call');
});

t.test('find: errors and a path SSM refuses', async (t) => {
  const { fake, client } = await setup(t);
  await t.rejects(client.findSecrets?.({ path: 'no-slash' }, { signal: signal() }) as Promise<unknown>, {
    kind: 'Invalid',
    message: 'aws: GetParametersByPath: ValidationException (HTTP 400)',
  });
  fake.fault({ type: 'error', status: 500, errorType: 'InternalServerError' }, { op: 'DescribeParameters' });
  await t.rejects(client.findSecrets?.({ tags: { a: 'b' } }, { signal: signal() }) as Promise<unknown>, {
    name: 'ProviderError',
    kind: 'Unavailable',
  });
});

t.test('metadata: ListTagsForResource, tags as ESO returns them', async (t) => {
  const { fake, client } = await setup(t, { prefix: '/env' });
  fake.put('/env/db', CANARY, {
    type: 'SecureString',
    tags: { team: 'payments', 'cost<center>': 'a&b', owner: 'ops' },
  });
  const tags = text(await client.getMetadata?.({ key: '/db', version: '1' }, { signal: signal() }));
  t.equal(
    tags,
    '{"cost\\u003ccenter\\u003e":"a\\u0026b","owner":"ops","team":"payments"}',
    "Go's json.Marshal",
  );
  t.same(fake.asked.at(-1), { op: 'ListTagsForResource', names: ['/env/db'] }, 'prefix, no version');
  t.equal(fake.count('GetParameter'), 0, 'the value is never read');
  await t.rejects(client.getMetadata?.({ key: '/nope' }, { signal: signal() }) as Promise<unknown>, {
    kind: 'NotFound',
    message: 'aws: parameter "/nope" (tags): InvalidResourceId (HTTP 400)',
  });
});

t.test(
  'validate (store status): DescribeParameters of one item; AccessDenied still proves the credentials',
  async (t) => {
    const { fake, client } = await setup(t);
    await client.validate?.({ signal: AbortSignal.timeout(10_000) });
    t.equal(fake.count('DescribeParameters'), 1, 'one cheap call');
    fake.fault(
      { type: 'error', status: 400, errorType: 'AccessDeniedException' },
      { op: 'DescribeParameters', count: 1 },
    );
    await client.validate?.({ signal: AbortSignal.timeout(10_000) });
    t.pass('not allowed to describe, but authenticated: valid');
    fake.fault(
      { type: 'error', status: 400, errorType: 'InvalidClientTokenId' },
      { op: 'DescribeParameters', count: 1 },
    );
    const err = await client.validate?.({ signal: AbortSignal.timeout(10_000) }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    t.match(err, { kind: 'Forbidden' });
    t.match(err?.message, /DescribeParameters \(store check\): InvalidClientTokenId/);
  },
);
