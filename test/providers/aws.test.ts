import t, { type Test } from 'tap';
import type { AwsProvider, SecretKeySelector } from '../../src/api/types.ts';
import { sharedAwsAgents } from '../../src/providers/aws/agents.ts';
import { awsProvider } from '../../src/providers/aws/index.ts';
import {
  awsClientOptions,
  awsRoleChain,
  awsRolePlan,
  versionSelector,
} from '../../src/providers/aws/options.ts';
import { type ClientContext, type ProviderClient, ProviderError } from '../../src/providers/types.ts';
import { AwsSecretsManagerFake } from '../fakes/aws-secrets-manager.ts';
import { AwsStsFake } from '../fakes/aws-sts.ts';
import { strictIdentity } from './identity-context.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';
const CANARY = `CANARY-aws-${Math.random().toString(36).slice(2)}`;

const creds: Record<string, string> = {
  'aws-creds/access-key': 'AKIDEXAMPLE',
  'aws-creds/secret-key': 'wJalrXUtnFEMI',
};
const spec: AwsProvider = {
  service: 'SecretsManager',
  region: 'eu-west-1',
  auth: {
    secretRef: {
      accessKeyIDSecretRef: { name: 'aws-creds', key: 'access-key' },
      secretAccessKeySecretRef: { name: 'aws-creds', key: 'secret-key' },
    },
  },
};

function ctx(endpoint: string, over: Partial<ClientContext> = {}): ClientContext {
  return {
    store: { kind: 'SecretStore', name: 'aws-store', namespace: 'default' },
    namespace: 'default',
    readSecretKey: async (sel: SecretKeySelector) => {
      const v = creds[`${sel.name}/${sel.key}`];
      if (v === undefined) throw new Error(`missing ${sel.name}/${sel.key}`);
      return v;
    },
    endpoints: { aws: endpoint },
    maxAttempts: 1,
    timeoutMs: 2_000,
    ...strictIdentity,
    ...over,
  };
}

const signal = () => AbortSignal.timeout(5_000);
const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

async function setup(
  t: Test,
  over: Partial<ClientContext> = {},
): Promise<{ fake: AwsSecretsManagerFake; client: ProviderClient }> {
  const fake = await AwsSecretsManagerFake.start();
  const client = await awsProvider.newClient(spec, ctx(fake.endpoint, over));
  t.teardown(async () => {
    await client.close();
    await fake.close();
  });
  return { fake, client };
}

t.test('option mapping is pure', async (t) => {
  const o = awsClientOptions({
    spec,
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    endpoint: 'http://127.0.0.1:1',
    maxAttempts: 3,
    timeoutMs: 8000,
  });
  t.equal(o.region, 'eu-west-1');
  t.equal(o.endpoint, 'http://127.0.0.1:1');
  t.equal(o.maxAttempts, 3);
  t.same(o.requestHandler, { requestTimeout: 8000, connectionTimeout: 3000 });
  t.same(o.credentials, { accessKeyId: 'a', secretAccessKey: 'b' });
  const chain = awsClientOptions({ spec: {}, maxAttempts: 0, timeoutMs: 1000 });
  t.equal(chain.credentials, undefined, 'no auth: the default credential chain (IRSA, pod identity)');
  t.equal(chain.region, 'us-east-1');
  t.equal(chain.maxAttempts, 1, 'attempts are at least one');
  t.same(versionSelector(undefined), { VersionStage: 'AWSCURRENT' });
  t.same(versionSelector('AWSPREVIOUS'), { VersionStage: 'AWSPREVIOUS' });
  t.same(versionSelector('uuid/1234'), { VersionId: '1234' });
  t.same(awsRolePlan({ role: 'arn:aws:iam::1:role/r', externalID: 'x' }, 'my store!'), {
    roleArn: 'arn:aws:iam::1:role/r',
    externalId: 'x',
    sessionName: 'esw-my-store-',
  });
  t.equal(awsRolePlan({}, 's'), undefined);
});

t.test('values: string, binary, versions and stages through the real SDK', async (t) => {
  const { fake, client } = await setup(t);
  const v1 = fake.put('app/db', '{"username":"db_user","password":"old"}');
  fake.put('app/db', `{"username":"db_user","password":"${CANARY}"}`);
  fake.put('app/bin', Buffer.from([0, 1, 2, 255]));
  t.equal(
    text(await client.getSecret({ key: 'app/db' }, { signal: signal() })),
    `{"username":"db_user","password":"${CANARY}"}`,
  );
  t.match(
    text(await client.getSecret({ key: 'app/db', version: 'AWSPREVIOUS' }, { signal: signal() })),
    /old/,
  );
  t.match(
    text(await client.getSecret({ key: 'app/db', version: `uuid/${v1}` }, { signal: signal() })),
    /old/,
  );
  t.same([...(await client.getSecret({ key: 'app/bin' }, { signal: signal() }))], [0, 1, 2, 255]);
  t.equal(fake.count('GetSecretValue'), 4);
});

t.test('batch: 45 keys in chunks of 20 = 3 BatchGetSecretValue calls, per-key errors', async (t) => {
  const { fake, client } = await setup(t);
  for (let i = 0; i < 44; i++) fake.put(`k${i}`, `v${i}`);
  const refs = [...Array.from({ length: 44 }, (_, i) => ({ key: `k${i}` })), { key: 'missing' }];
  t.equal(client.maxBatch, 20);
  const out = await client.getSecrets?.(refs, { signal: signal() });
  t.equal(fake.count('BatchGetSecretValue'), 3);
  t.equal(fake.count('GetSecretValue'), 0);
  t.same(
    fake.asked.map((a) => a.ids.length),
    [20, 20, 5],
  );
  t.equal(text(out?.[7] as Uint8Array), 'v7');
  const err = out?.[44];
  t.ok(
    err instanceof ProviderError && err.kind === 'NotFound',
    'a missing key is NotFound for that key only',
  );
  // A pinned version is not served by the batch API.
  fake.resetCounts();
  const pinned = await client.getSecrets?.(
    [{ key: 'k1' }, { key: 'k2', version: 'AWSCURRENT' }, { key: 'k3', version: 'AWSPREVIOUS' }],
    { signal: signal() },
  );
  t.equal(fake.count('BatchGetSecretValue'), 1);
  t.equal(fake.count('GetSecretValue'), 1);
  t.ok(pinned?.[2] instanceof ProviderError, 'k3 has no previous version');
});

t.test('a batch refused as a whole is asked again key by key, unless AWS throttles', async (t) => {
  const { fake, client } = await setup(t);
  for (let i = 0; i < 3; i++) fake.put(`k${i}`, `v${i}`);
  fake.put('bad', 'x');
  // One key makes the whole BatchGetSecretValue fail (a policy refusing it, a malformed id).
  fake.fault({ type: 'error', status: 400, errorType: 'ValidationException' }, { key: 'bad' });
  const refs = [{ key: 'k0' }, { key: 'bad' }, { key: 'k1' }, { key: 'k2' }];
  const out = await client.getSecrets?.(refs, { signal: signal() });
  t.same(
    fake.asked.map((a) => a.op),
    ['BatchGetSecretValue', 'GetSecretValue', 'GetSecretValue', 'GetSecretValue', 'GetSecretValue'],
  );
  t.same(
    [text(out?.[0] as Uint8Array), text(out?.[2] as Uint8Array), text(out?.[3] as Uint8Array)],
    ['v0', 'v1', 'v2'],
  );
  t.ok(out?.[1] instanceof ProviderError, 'only the bad key fails');

  fake.clearFaults();
  fake.resetCounts();
  fake.fault({ type: 'error', status: 400, errorType: 'ThrottlingException' }, { count: 1 });
  const throttled = await client.getSecrets?.(refs, { signal: signal() });
  t.equal(fake.count('GetSecretValue'), 0, 'throttled: no key-by-key storm');
  t.ok(throttled?.every((r) => r instanceof ProviderError && r.kind === 'Throttled'));
});

t.test('find: name regexp, tags and path', async (t) => {
  const { fake, client } = await setup(t);
  fake.put('team-a/db', 'a-db', { tags: { team: 'a', env: 'prod' } });
  fake.put('team-a/api', 'a-api', { tags: { team: 'a', env: 'dev' } });
  fake.put('team-b/db', 'b-db', { tags: { team: 'b', env: 'prod' } });
  const byName = await client.findSecrets?.({ name: { regexp: '/db$' } }, { signal: signal() });
  t.same([...(byName?.keys() ?? [])].sort(), ['team-a/db', 'team-b/db']);
  const byTags = await client.findSecrets?.({ tags: { team: 'a', env: 'prod' } }, { signal: signal() });
  t.same([...(byTags?.keys() ?? [])], ['team-a/db'], 'every tag pair must match exactly');
  const byPath = await client.findSecrets?.({ path: 'team-a/' }, { signal: signal() });
  t.same([...(byPath?.entries() ?? [])].map(([k, v]) => [k, text(v)]).sort(), [
    ['team-a/api', 'a-api'],
    ['team-a/db', 'a-db'],
  ]);
  await t.rejects(client.findSecrets?.({ name: { regexp: '(' } }, { signal: signal() }) as Promise<unknown>, {
    name: 'ProviderError',
    kind: 'Invalid',
    message: /not a valid regular expression/,
  });
});

t.test('errors become typed ProviderErrors without values or bodies', async (t) => {
  const { fake, client } = await setup(t);
  fake.put('ok', CANARY);
  const cases: [Parameters<AwsSecretsManagerFake['fault']>[0], string][] = [
    [{ type: 'error', status: 400, errorType: 'ResourceNotFoundException' }, 'NotFound'],
    [{ type: 'error', status: 400, errorType: 'AccessDeniedException' }, 'Forbidden'],
    [{ type: 'error', status: 400, errorType: 'ThrottlingException', retryAfter: 7 }, 'Throttled'],
    [{ type: 'error', status: 429, errorType: 'TooManyRequestsException' }, 'Throttled'],
    [{ type: 'error', status: 500, errorType: 'InternalServiceError' }, 'Unavailable'],
    [{ type: 'error', status: 503, errorType: 'SomethingNew' }, 'Unavailable'],
    [{ type: 'error', status: 400, errorType: 'DecryptionFailure' }, 'Invalid'],
    [{ type: 'reset' }, 'Unavailable'],
    [{ type: 'malformed' }, 'Unavailable'],
  ];
  for (const [fault, kind] of cases) {
    fake.clearFaults();
    fake.fault(fault, { key: 'ok', count: 1 });
    const err = await client.getSecret({ key: 'ok' }, { signal: signal() }).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(err instanceof ProviderError, `${JSON.stringify(fault)} is a ProviderError`);
    t.equal((err as ProviderError).kind, kind, `${JSON.stringify(fault)} -> ${kind}`);
    t.match((err as ProviderError).message, /secret "ok"/, 'names the key');
    t.notMatch((err as ProviderError).message, new RegExp(CANARY));
    t.notMatch((err as Error).message, /injected fault/, 'the response message is not passed through');
    if (fault.type === 'error' && fault.retryAfter) {
      t.equal((err as ProviderError).retryAfterSeconds, fault.retryAfter, 'Retry-After is kept');
    }
  }
  t.equal(
    text(await client.getSecret({ key: 'ok' }, { signal: signal() })),
    CANARY,
    'recovers once the fault clears',
  );
});

t.test('a slow provider fails within the deadline as Unavailable; retries are bounded', async (t) => {
  const { fake, client } = await setup(t);
  fake.put('slow', 'v');
  fake.fault({ type: 'delay', ms: 3_000 }, { key: 'slow', count: 1 });
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 100).unref();
  await t.rejects(client.getSecret({ key: 'slow' }, { signal: controller.signal }), {
    kind: 'Unavailable',
    message: /deadline/,
  });

  const fake2 = await AwsSecretsManagerFake.start();
  t.teardown(() => fake2.close());
  fake2.put('flaky', 'v');
  const retrying = await awsProvider.newClient(spec, ctx(fake2.endpoint, { maxAttempts: 3 }));
  t.teardown(() => retrying.close());
  fake2.fault({ type: 'error', status: 500, errorType: 'InternalServiceError' }, { key: 'flaky' });
  await t.rejects(retrying.getSecret({ key: 'flaky' }, { signal: signal() }), {
    name: 'ProviderError',
    kind: 'Unavailable',
    message: /aws/,
  });
  t.equal(fake2.count('GetSecretValue'), 3, 'three attempts, then it gives up');
});

t.test('credentials and service checks', async (t) => {
  const fake = await AwsSecretsManagerFake.start();
  t.teardown(() => fake.close());
  await t.rejects(
    awsProvider.newClient({ service: 'KeyManagement' as AwsProvider['service'] }, ctx(fake.endpoint)),
    {
      name: 'ProviderError',
      kind: 'Invalid',
      message:
        'aws: spec.provider.aws.service "KeyManagement" is not supported; use SecretsManager, ParameterStore, CertificateManager',
    },
  );
  await t.rejects(
    awsProvider.newClient(
      { auth: { secretRef: { accessKeyIDSecretRef: { name: 'aws-creds', key: 'access-key' } } } },
      ctx(fake.endpoint),
    ),
    { name: 'ProviderError', kind: 'Invalid', message: /needs both/ },
  );
  await t.rejects(
    awsProvider.newClient(
      {
        auth: {
          secretRef: {
            accessKeyIDSecretRef: { name: 'nope', key: 'a' },
            secretAccessKeySecretRef: { name: 'nope', key: 'b' },
          },
        },
      },
      ctx(fake.endpoint),
    ),
    /missing nope/,
  );
  t.equal(fake.count('GetSecretValue'), 0);
});

t.test('prefix, secrets marked for deletion, duplicate keys in a batch', async (t) => {
  const fake = await AwsSecretsManagerFake.start();
  t.teardown(() => fake.close());
  const client = await awsProvider.newClient({ ...spec, prefix: 'team-a/' }, ctx(fake.endpoint));
  t.teardown(() => client.close());
  fake.put('team-a/db', 'a-db');
  fake.put('team-a/api', 'a-api');
  fake.put('db', 'unprefixed');
  t.equal(text(await client.getSecret({ key: 'db' }, { signal: signal() })), 'a-db', 'prefix + key');
  const batch = await client.getSecrets?.([{ key: 'db' }, { key: 'api' }, { key: 'db' }], {
    signal: signal(),
  });
  t.same(
    batch?.map((b) => (b instanceof ProviderError ? b.kind : text(b))),
    ['a-db', 'a-api', 'a-db'],
    'a key asked twice is asked once (AWS refuses duplicates) and answered twice',
  );
  t.same(fake.asked.at(-1)?.ids, ['team-a/db', 'team-a/api']);
  const found = await client.findSecrets?.({ path: 'team-a/' }, { signal: signal() });
  t.same([...(found?.keys() ?? [])].sort(), ['team-a/api', 'team-a/db'], 'found names are full names');
  t.equal(text(found?.get('team-a/db') as Uint8Array), 'a-db', 'and are not prefixed again');

  fake.markForDeletion('team-a/db');
  const gone = await client.getSecret({ key: 'db' }, { signal: signal() }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.match(gone, { name: 'ProviderError', kind: 'NotFound' }, 'marked for deletion is NotFound, as ESO');
  const goneInBatch = await client.getSecrets?.([{ key: 'db' }, { key: 'api' }], { signal: signal() });
  t.match(goneInBatch?.[0], { kind: 'NotFound' });
  t.equal(text(goneInBatch?.[1] as Uint8Array), 'a-api');
});

t.test('role chains and per-store IRSA', async (t) => {
  t.same(
    awsRoleChain(
      {
        additionalRoles: ['arn:aws:iam::1:role/hop'],
        role: 'arn:aws:iam::2:role/reader',
        externalID: 'ext',
        sessionTags: [{ key: 'team', value: 'a' }],
        transitiveTagKeys: ['team'],
      },
      'store',
    ),
    [
      { roleArn: 'arn:aws:iam::1:role/hop', sessionName: 'esw-store' },
      {
        roleArn: 'arn:aws:iam::2:role/reader',
        externalId: 'ext',
        sessionName: 'esw-store',
        tags: [{ Key: 'team', Value: 'a' }],
        transitiveTagKeys: ['team'],
      },
    ],
    'additionalRoles first, then role with its external ID and session tags',
  );
  t.same(awsRoleChain({}, 'store'), [], 'no role: the base credentials');
  const fake = await AwsSecretsManagerFake.start();
  t.teardown(() => fake.close());
  // auth.jwt without a ServiceAccount: this server's own IRSA, refused for an unlisted SecretStore.
  await t.rejects(
    awsProvider.newClient({ region: 'eu-west-1', auth: { jwt: {} } }, ctx(fake.endpoint)),
    { code: 'ESW_IDENTITY_FORBIDDEN', message: /spec\.provider\.aws\.auth/ },
    "never silently served with this server's own identity",
  );
});

t.test('per-store IRSA: TokenRequest token -> AssumeRoleWithWebIdentity through fromWebToken', async (t) => {
  const sm = await AwsSecretsManagerFake.start();
  t.teardown(() => sm.close());
  const sts = await AwsStsFake.start();
  t.teardown(() => sts.close());
  sm.put('db', 'v');
  let issued = 0;
  const asked: unknown[] = [];
  const annotations: Record<string, Record<string, string>> = {
    app: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/app' },
    custom: {
      'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/custom',
      'eks.amazonaws.com/audience': 'my-aud',
    },
    bare: {},
  };
  const irsaCtx = ctx(sm.endpoint, {
    endpoints: { aws: sm.endpoint, awsSts: sts.endpoint },
    serviceAccountAnnotations: async (sel) => {
      const a = annotations[sel.name ?? ''];
      if (!a) throw new Error('not found');
      return a;
    },
    serviceAccountToken: async (sel) => {
      asked.push(sel);
      const payload = { sub: `system:serviceaccount:default:${sel.name}`, aud: sel.audiences, n: ++issued };
      return `h.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.s`;
    },
  });
  const client = await awsProvider.newClient(
    { region: 'eu-west-1', auth: { jwt: { serviceAccountRef: { name: 'app', audiences: ['extra'] } } } },
    irsaCtx,
  );
  t.teardown(() => client.close());
  for (let i = 0; i < 5; i++) t.equal(text(await client.getSecret({ key: 'db' }, { signal: signal() })), 'v');
  t.equal(sts.count('AssumeRoleWithWebIdentity'), 1, 'credentials reused until near expiry');
  t.same(asked, [{ name: 'app', audiences: ['sts.amazonaws.com', 'extra'] }]);
  t.match(sts.webIdentities, [
    {
      roleArn: 'arn:aws:iam::123456789012:role/app',
      sessionName: 'external-secrets-provider-aws',
      sub: 'system:serviceaccount:default:app',
      aud: ['sts.amazonaws.com', 'extra'],
      signed: false,
    },
  ]);
  t.ok(
    sm.accessKeys.every((k) => k.startsWith('ASIASTS')),
    'reads signed with the web-identity session',
  );

  // Short-lived STS credentials: a fresh token (from the cache of the Kubernetes layer) each renewal.
  sts.lifetimeSeconds = 60;
  const short = await awsProvider.newClient(
    { region: 'eu-west-1', auth: { jwt: { serviceAccountRef: { name: 'app' } } } },
    irsaCtx,
  );
  t.teardown(() => short.close());
  await short.getSecret({ key: 'db' }, { signal: signal() });
  await short.getSecret({ key: 'db' }, { signal: signal() });
  t.ok(sts.count('AssumeRoleWithWebIdentity') >= 3, 'near-expiry credentials are renewed');
  t.equal(
    asked.length,
    sts.count('AssumeRoleWithWebIdentity'),
    'each exchange asks the token source again (which caches until near its own expiry)',
  );
  sts.lifetimeSeconds = 3600;

  // The audience annotation replaces the default; the role chain goes on top.
  sts.audience = 'my-aud';
  const chained = await awsProvider.newClient(
    {
      region: 'eu-west-1',
      role: 'arn:aws:iam::2:role/reader',
      auth: { jwt: { serviceAccountRef: { name: 'custom' } } },
    },
    irsaCtx,
  );
  t.teardown(() => chained.close());
  t.equal(text(await chained.getSecret({ key: 'db' }, { signal: signal() })), 'v');
  t.match(sts.webIdentities.at(-1), { roleArn: 'arn:aws:iam::123456789012:role/custom', aud: ['my-aud'] });
  t.equal(sts.count('AssumeRole'), 1, 'role assumed on top of the web identity');
  t.match(sts.assumed.at(-1), { roleArn: 'arn:aws:iam::2:role/reader', signedBy: /^ASIASTS/ });

  await t.rejects(
    awsProvider.newClient(
      { region: 'eu-west-1', auth: { jwt: { serviceAccountRef: { name: 'bare' } } } },
      irsaCtx,
    ),
    {
      kind: 'Invalid',
      message:
        'aws: spec.provider.aws.auth.jwt.serviceAccountRef: ServiceAccount "default/bare" has no eks.amazonaws.com/role-arn annotation; an IAM role must be associated with it (as ESO requires)',
    },
  );
});

t.test('role assumption through the real credential provider and a fake STS', async (t) => {
  const fake = await AwsSecretsManagerFake.start();
  t.teardown(() => fake.close());
  fake.put('db', 'v');
  const client = await awsProvider.newClient(
    {
      ...spec,
      additionalRoles: ['arn:aws:iam::1:role/hop'],
      role: 'arn:aws:iam::2:role/reader',
      externalID: 'ext-1',
      sessionTags: [{ key: 'team', value: 'a' }],
    },
    ctx(fake.endpoint, { endpoints: { aws: fake.endpoint, awsSts: fake.endpoint } }),
  );
  t.teardown(() => client.close());
  t.equal(text(await client.getSecret({ key: 'db' }, { signal: signal() })), 'v');
  t.equal(text(await client.getSecret({ key: 'db' }, { signal: signal() })), 'v');
  t.match(fake.assumed, [
    { roleArn: 'arn:aws:iam::1:role/hop', sessionName: 'esw-aws-store', signedBy: 'AKIDEXAMPLE', tags: [] },
    {
      roleArn: 'arn:aws:iam::2:role/reader',
      externalId: 'ext-1',
      tags: ['team=a'],
      signedBy: 'ASIATEMP000000000001',
    },
  ]);
  t.equal(fake.assumed.length, 2, 'each role assumed once, then the session is reused');
  t.same(
    fake.accessKeys,
    ['ASIATEMP000000000002', 'ASIATEMP000000000002'],
    'reads are signed by the last role',
  );
});

t.test('metadata (metadataPolicy: Fetch): DescribeSecret tags as ESO returns them', async (t) => {
  const { fake, client } = await setup(t);
  fake.put('app/db', CANARY, { tags: { team: 'payments', 'a&b': '<x>', Owner: 'ops' } });
  fake.put('app/untagged', CANARY);
  t.equal(
    text(
      (await client.getMetadata?.({ key: 'app/db', version: 'AWSPREVIOUS' }, { signal: signal() })) ??
        new Uint8Array(),
    ),
    '{"Owner":"ops","a\\u0026b":"\\u003cx\\u003e","team":"payments"}',
    "Go's json.Marshal of the tag map: keys in byte order, HTML characters escaped",
  );
  t.equal(
    text((await client.getMetadata?.({ key: 'app/untagged' }, { signal: signal() })) ?? new Uint8Array()),
    '{}',
  );
  t.equal(fake.count('DescribeSecret'), 2);
  t.equal(fake.count('GetSecretValue') + fake.count('BatchGetSecretValue'), 0, 'no value is read');
  await t.rejects(client.getMetadata?.({ key: 'nope' }, { signal: signal() }) as Promise<unknown>, {
    kind: 'NotFound',
    message: 'aws: secret "nope" (tags): ResourceNotFoundException (HTTP 400)',
  });
});

t.test(
  'validate (store status): ListSecrets of one item; AccessDenied still proves the credentials',
  async (t) => {
    const { fake, client } = await setup(t);
    await client.validate?.({ signal: AbortSignal.timeout(10_000) });
    t.equal(fake.calls.get('ListSecrets'), 1, 'one cheap call');
    fake.fault(
      { type: 'error', status: 400, errorType: 'AccessDeniedException' },
      { op: 'ListSecrets', count: 1 },
    );
    await client.validate?.({ signal: AbortSignal.timeout(10_000) });
    t.pass('not allowed to list, but authenticated: valid');
    fake.fault(
      { type: 'error', status: 400, errorType: 'UnrecognizedClientException', message: 'token CANARY' },
      { op: 'ListSecrets', count: 1 },
    );
    const err = await client.validate?.({ signal: AbortSignal.timeout(10_000) }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    t.match(err, { kind: 'Forbidden' });
    t.match(err?.message, /ListSecrets \(store check\): UnrecognizedClientException/);
    t.notMatch(err?.message, /CANARY/, 'no response text in the message');
  },
);

t.test(
  'every store reads over one shared connection pool; closing one store leaves the others',
  async (t) => {
    const fake = await AwsSecretsManagerFake.start();
    t.teardown(() => fake.close());
    fake.put('db', 'shared-pool');
    // Node's Agent.addRequest (undocumented, stable since 0.x): called once per request it carries.
    const httpAgent = sharedAwsAgents().httpAgent as ReturnType<typeof sharedAwsAgents>['httpAgent'] & {
      addRequest(...args: unknown[]): void;
    };
    const addRequest = httpAgent.addRequest;
    let requests = 0;
    httpAgent.addRequest = function (this: unknown, ...args: unknown[]) {
      requests++;
      addRequest.apply(this, args);
    };
    t.teardown(() => {
      httpAgent.addRequest = addRequest;
    });
    const other = {
      ...ctx(fake.endpoint),
      store: { kind: 'SecretStore', name: 'aws-other', namespace: 'team-b' },
    } as ClientContext;
    const a = await awsProvider.newClient(spec, ctx(fake.endpoint));
    const b = await awsProvider.newClient({ ...spec, region: 'us-east-1' }, other);
    t.teardown(() => b.close());
    t.equal(text(await a.getSecret({ key: 'db' }, { signal: signal() })), 'shared-pool');
    t.equal(text(await b.getSecret({ key: 'db' }, { signal: signal() })), 'shared-pool');
    t.equal(requests, 2, "both stores' requests went through the process's agent");
    await a.close();
    t.equal(text(await b.getSecret({ key: 'db' }, { signal: signal() })), 'shared-pool', 'b still reads');
    t.equal(requests, 3);
    t.equal(sharedAwsAgents().httpAgent, httpAgent, 'one agent for the process');
  },
);
