/**
 * The `vault` provider with the real node-vault client against the fake Vault HTTP API:
 * KV v1 and v2, versions, find, namespaces, each auth method, login reuse and renewal, caBundle.
 */
import t from 'tap';
import { createCertificates } from '../../src/server/certs.ts';
import type { VaultFake } from '../fakes/vault.ts';
import { restoreEnv } from '../helpers/env.ts';
import { strictIdentity } from './identity-context.ts';
import { CANARY, deadline, rejectsKind, setupVault, text } from './vault-context.ts';

const APPROLE = {
  secrets: { 'approle/role-id': 'role-1', 'approle/secret-id': 'secret-1' },
  prepare: (fake: VaultFake) => fake.addAppRole('role-1', 'secret-1'),
};
const appRoleSpec = (url: string) => ({
  server: url,
  path: 'secret',
  auth: {
    appRole: {
      roleRef: { name: 'approle', key: 'role-id' },
      secretRef: { name: 'approle', key: 'secret-id' },
    },
  },
});

t.test('KV v2: whole value as JSON, versions, deleted versions', async (t) => {
  const { fake, client } = await setupVault(
    t,
    (url) => ({ server: url, path: 'secret', auth: { tokenSecretRef: { name: 'vault', key: 'token' } } }),
    { secrets: { 'vault/token': 'root-token\n' }, prepare: (f) => f.addToken('root-token') },
  );
  fake.putKv2('secret', 'app/db', { user: 'u1', password: CANARY });
  fake.putKv2('secret', 'app/db', { user: 'u2', nested: { b: [1, 2], a: '<&>' }, password: CANARY });

  t.equal(
    text(await client.getSecret({ key: 'app/db' }, deadline())),
    `{"nested":{"a":"\\u003c\\u0026\\u003e","b":[1,2]},"password":"${CANARY}","user":"u2"}`,
    'latest version, JSON of data.data as ESO writes it',
  );
  t.same(JSON.parse(text(await client.getSecret({ key: 'app/db', version: '1' }, deadline()))), {
    user: 'u1',
    password: CANARY,
  });
  t.equal(fake.requests.at(-1), 'GET /v1/secret/data/app/db?version=1', 'version as a query parameter');

  t.equal(
    JSON.parse(text(await client.getSecret({ key: 'secret/data/app/db' }, deadline()))).user,
    'u2',
    'a key that already names the mount and data/ is read as is',
  );
  t.equal(fake.requests.at(-1), 'GET /v1/secret/data/app/db');

  fake.deleteKv2Version('secret', 'app/db', 1);
  await rejectsKind(
    t,
    client.getSecret({ key: 'app/db', version: '1' }, deadline()),
    'NotFound',
    'deleted version',
  );
  await rejectsKind(t, client.getSecret({ key: 'app/missing' }, deadline()), 'NotFound', 'missing key');
  await rejectsKind(
    t,
    client.getSecret({ key: 'app/db', version: '7' }, deadline()),
    'NotFound',
    'missing version',
  );
  await rejectsKind(
    t,
    client.getSecret({ key: 'app/db', version: 'x' }, deadline()),
    'Invalid',
    'non-numeric version',
  );
});

t.test('KV v1: JSON of data; a store without a mount reads the key as a path', async (t) => {
  const { fake, client } = await setupVault(
    t,
    (url) => ({
      server: url,
      path: 'kv',
      version: 'v1' as const,
      auth: { tokenSecretRef: { name: 'v', key: 't' } },
    }),
    { secrets: { 'v/t': 'tok' }, prepare: (f) => f.addToken('tok') },
  );
  fake.putKv1('kv', 'team/api', { key: 'abc', n: 1 });
  t.equal(text(await client.getSecret({ key: 'team/api' }, deadline())), '{"key":"abc","n":1}');
  t.equal(fake.requests.at(-1), 'GET /v1/kv/team/api');
  await rejectsKind(t, client.getSecret({ key: 'team/none' }, deadline()), 'NotFound', 'missing v1 key');

  const noMount = await setupVault(
    t,
    (url) => ({ server: url, auth: { tokenSecretRef: { name: 'v', key: 't' } } }),
    {
      secrets: { 'v/t': 'tok' },
      prepare: (f) => f.addToken('tok'),
    },
  );
  noMount.fake.putKv2('secret', 'svc', { a: 'b' });
  t.equal(text(await noMount.client.getSecret({ key: 'secret/svc' }, deadline())), '{"a":"b"}');
  t.equal(noMount.fake.requests.at(-1), 'GET /v1/secret/data/svc', 'data/ inserted after the mount');
});

t.test('namespace: X-Vault-Namespace on every request, logins included', async (t) => {
  const { fake, client } = await setupVault(
    t,
    (url) => ({ ...appRoleSpec(url), namespace: 'team-a/prod', forwardInconsistent: true }),
    APPROLE,
  );
  fake.putKv2('secret', 'x', { v: '1' });
  t.equal(text(await client.getSecret({ key: 'x' }, deadline())), '{"v":"1"}');
  t.same(fake.namespaces, ['team-a/prod', 'team-a/prod'], 'login and read carry the namespace');
  t.equal(fake.requests[0], 'POST /v1/auth/approle/login');
  t.same(
    fake.headers.map((h) => h['x-vault-inconsistent']),
    ['forward-active-node', 'forward-active-node'],
    'forwardInconsistent on every request',
  );
  t.same(
    fake.headers.map((h) => h['x-vault-token'] !== undefined),
    [false, true],
    'no token on the login, the login token on the read',
  );

  const plain = await setupVault(t, appRoleSpec, APPROLE);
  plain.fake.putKv2('secret', 'x', { v: '1' });
  await plain.client.getSecret({ key: 'x' }, deadline());
  t.same(plain.fake.namespaces, ['', ''], 'no namespace header without spec.namespace');
  t.same(
    plain.fake.headers.map((h) => h['x-vault-inconsistent']),
    [undefined, undefined],
  );
});

t.test('VAULT_* environment variables never replace the store', async (t) => {
  restoreEnv(t, ['VAULT_TOKEN', 'VAULT_NAMESPACE', 'VAULT_PREFIX']);
  process.env.VAULT_TOKEN = 'env-token';
  process.env.VAULT_NAMESPACE = 'env-namespace';
  process.env.VAULT_PREFIX = '/env-prefix';
  const { fake, client } = await setupVault(t, appRoleSpec, APPROLE);
  fake.addToken('env-token');
  fake.putKv2('secret', 'x', { v: '1' });
  t.equal(text(await client.getSecret({ key: 'x' }, deadline())), '{"v":"1"}');
  t.same(fake.requests, ['POST /v1/auth/approle/login', 'GET /v1/secret/data/x'], 'no env prefix');
  t.same(fake.namespaces, ['', ''], 'no env namespace');
  t.notOk(
    fake.headers.some((h) => h['x-vault-token'] === 'env-token'),
    'the env token is never sent',
  );
});

t.test('AppRole: roleId inline or from a Secret, custom mount, one login for 100 reads', async (t) => {
  const { fake, client, reads } = await setupVault(t, appRoleSpec, APPROLE);
  fake.putKv2('secret', 'db', { password: CANARY });

  const concurrent = await Promise.all(
    Array.from({ length: 100 }, () => client.getSecret({ key: 'db' }, deadline())),
  );
  t.equal(concurrent.length, 100);
  t.ok(concurrent.every((v) => text(v).includes(CANARY)));
  t.equal(fake.counts.logins, 1, '100 concurrent first reads share one login');

  for (let i = 0; i < 100; i++) await client.getSecret({ key: 'db' }, deadline());
  t.equal(fake.counts.logins, 1, '100 sequential reads: still one login');
  t.equal(fake.counts.reads, 200, 'every read reached Vault (caching is the resolver’s job)');
  t.same(reads, ['approle/role-id', 'approle/secret-id'], 'credentials read once, for the one login');

  const inline = await setupVault(
    t,
    (url) => ({
      server: url,
      path: 'secret',
      auth: { appRole: { path: 'apps/approle', roleId: 'role-9', secretRef: { name: 's', key: 'id' } } },
    }),
    { secrets: { 's/id': 'secret-9' }, prepare: (f) => f.addAppRole('role-9', 'secret-9', 'apps/approle') },
  );
  inline.fake.putKv2('secret', 'k', { a: 1 });
  t.equal(text(await inline.client.getSecret({ key: 'k' }, deadline())), '{"a":1}');
  t.equal(inline.fake.loginsByMount.get('apps/approle'), 1, 'login at the custom mount');

  const wrong = await setupVault(t, appRoleSpec, {
    ...APPROLE,
    secrets: { ...APPROLE.secrets, 'approle/secret-id': CANARY },
  });
  await rejectsKind(t, wrong.client.getSecret({ key: 'db' }, deadline()), 'Forbidden', 'wrong secret_id');
});

t.test('Kubernetes auth: JWT from a Secret or the service-account token source', async (t) => {
  const fromSecret = await setupVault(
    t,
    (url) => ({
      server: url,
      path: 'secret',
      auth: { kubernetes: { role: 'app', mountPath: 'k8s-east', secretRef: { name: 'sa-token' } } },
    }),
    {
      secrets: { 'sa-token/token': 'jwt-from-secret' },
      prepare: (f) => f.addKubernetesRole('app', 'jwt-from-secret', 'k8s-east'),
    },
  );
  fromSecret.fake.putKv2('secret', 'k', { a: 1 });
  t.equal(text(await fromSecret.client.getSecret({ key: 'k' }, deadline())), '{"a":1}');
  t.same(fromSecret.reads, ['sa-token/token'], 'the secretRef key defaults to "token"');
  t.equal(fromSecret.fake.loginsByMount.get('k8s-east'), 1);

  const projected = await setupVault(
    t,
    (url) => ({
      server: url,
      path: 'secret',
      auth: { kubernetes: { role: 'app', serviceAccountRef: { name: 'esw', audiences: ['vault'] } } },
    }),
    { serviceAccountToken: 'projected-jwt', prepare: (f) => f.addKubernetesRole('app', 'projected-jwt') },
  );
  projected.fake.putKv2('secret', 'k', { b: 2 });
  await Promise.all(Array.from({ length: 20 }, () => projected.client.getSecret({ key: 'k' }, deadline())));
  t.same(
    projected.saTokenRequests,
    [{ name: 'esw', audiences: ['vault'] }],
    'one token request for one login',
  );
  t.equal(projected.fake.loginsByMount.get('kubernetes'), 1, 'default mount "kubernetes"');

  const denied = await setupVault(
    t,
    (url) => ({ server: url, path: 'secret', auth: { kubernetes: { role: 'app' } } }),
    { serviceAccountToken: CANARY, prepare: (f) => f.addKubernetesRole('app', 'other-jwt') },
  );
  await rejectsKind(t, denied.client.getSecret({ key: 'k' }, deadline()), 'Forbidden', 'JWT refused');
});

t.test('a login is renewed near expiry and repeated only when it cannot be', async (t) => {
  const { fake, client, clock } = await setupVault(t, appRoleSpec, {
    ...APPROLE,
    prepare: (f) => {
      APPROLE.prepare(f);
      f.loginTtlSeconds = 600;
    },
  });
  fake.putKv2('secret', 'db', { a: 1 });
  await client.getSecret({ key: 'db' }, deadline());
  t.equal(fake.counts.logins, 1);

  clock.now += 400_000; // 200 s left of 600: not yet near expiry (margin 120 s)
  await client.getSecret({ key: 'db' }, deadline());
  t.equal(fake.counts.renewals, 0, 'no renewal while the lease is comfortable');

  clock.now += 100_000; // 100 s left: renew
  await Promise.all(Array.from({ length: 10 }, () => client.getSecret({ key: 'db' }, deadline())));
  t.equal(fake.counts.renewals, 1, 'one renewal, shared by concurrent reads');
  t.equal(fake.counts.logins, 1, 'renewed, not logged in again');

  clock.now += 700_000; // the renewed lease has run out unused
  await client.getSecret({ key: 'db' }, deadline());
  t.equal(fake.counts.logins, 2, 'an expired token means a fresh login');

  // The token's max TTL caps renewals: a renewal that leaves it near expiry is replaced by a login.
  fake.maxTtlSeconds = 30;
  clock.now += 500_000;
  await client.getSecret({ key: 'db' }, deadline());
  t.equal(fake.counts.renewals, 2);
  t.equal(fake.counts.logins, 3, 'capped renewal: login instead');
});

t.test(
  'a revoked token: one lookup, one re-login, the read succeeds; a policy denial costs no login',
  async (t) => {
    const { fake, client } = await setupVault(t, appRoleSpec, APPROLE);
    fake.putKv2('secret', 'db', { a: 1 });
    fake.putKv2('secret', 'private', { a: CANARY });
    await client.getSecret({ key: 'db' }, deadline());

    fake.revokeAll();
    const after = await Promise.all(
      Array.from({ length: 25 }, () => client.getSecret({ key: 'db' }, deadline())),
    );
    t.equal(after.length, 25, 'every read succeeded after the token was revoked');
    t.equal(fake.counts.logins, 2, 'exactly one re-login');
    t.equal(fake.counts.lookups, 1, 'one validity check shared by the 25 reads');

    fake.deny('secret/data/private');
    for (let i = 0; i < 5; i++) {
      await rejectsKind(t, client.getSecret({ key: 'private' }, deadline()), 'Forbidden', 'policy denial');
    }
    t.equal(fake.counts.logins, 2, 'a policy denial never triggers a login');
    t.equal(fake.counts.lookups, 6, 'one lookup per denied read tells denial from expiry');
  },
);

t.test('a static token is re-read from its Secret when Vault stops accepting it', async (t) => {
  const secrets = { 'vault/token': 'token-1' };
  const { fake, client, reads } = await setupVault(
    t,
    (url) => ({ server: url, path: 'secret', auth: { tokenSecretRef: { name: 'vault', key: 'token' } } }),
    { secrets, prepare: (f) => f.addToken('token-1') },
  );
  fake.putKv2('secret', 'db', { a: 1 });
  await client.getSecret({ key: 'db' }, deadline());
  fake.revokeToken('token-1');
  fake.addToken('token-2');
  secrets['vault/token'] = 'token-2';
  t.equal(text(await client.getSecret({ key: 'db' }, deadline())), '{"a":1}', 'rotated token picked up');
  t.same(reads, ['vault/token', 'vault/token']);
  fake.revokeToken('token-2');
  await rejectsKind(t, client.getSecret({ key: 'db' }, deadline()), 'Forbidden', 'revoked, not rotated');
});

t.test('findSecrets: recursive LIST, name regexp, tags, v1', async (t) => {
  const { fake, client } = await setupVault(t, appRoleSpec, APPROLE);
  fake.putKv2('secret', 'app/db', { u: 'db' }, { team: 'a' });
  fake.putKv2('secret', 'app/cache', { u: 'cache' }, { team: 'b' });
  fake.putKv2('secret', 'app/deep/queue', { u: 'queue' }, { team: 'a' });
  fake.putKv2('secret', 'other', { u: 'other' }, { team: 'a' });
  fake.putKv2('secret', 'app/gone', { u: 'gone' }, { team: 'a' });
  fake.deleteKv2Version('secret', 'app/gone', 1);

  const all = await client.findSecrets?.({ name: { regexp: '.*' } }, deadline());
  t.same(
    [...(all ?? new Map()).keys()].sort(),
    ['app/cache', 'app/db', 'app/deep/queue', 'other'],
    'deleted skipped',
  );
  t.equal(text(all?.get('app/deep/queue') ?? new Uint8Array()), '{"u":"queue"}');

  const underApp = await client.findSecrets?.({ path: 'app', name: { regexp: 'd' } }, deadline());
  t.same([...(underApp ?? new Map()).keys()].sort(), ['app/db', 'app/deep/queue'], 'path and name');

  const tagged = await client.findSecrets?.({ tags: { team: 'a' } }, deadline());
  t.same(
    [...(tagged ?? new Map()).keys()].sort(),
    ['app/db', 'app/deep/queue', 'other'],
    'custom_metadata tags',
  );

  const none = await client.findSecrets?.({ path: 'nothing-here', name: { regexp: '.' } }, deadline());
  t.equal(none?.size, 0, 'an empty folder (404 on LIST) finds nothing');
  await rejectsKind(
    t,
    client.findSecrets?.({ name: { regexp: '[' } }, deadline()) ?? Promise.resolve(),
    'Invalid',
    'bad regexp',
  );

  const v1 = await setupVault(
    t,
    (url) => ({
      server: url,
      path: 'kv',
      version: 'v1' as const,
      auth: { tokenSecretRef: { name: 'v', key: 't' } },
    }),
    { secrets: { 'v/t': 'tok' }, prepare: (f) => f.addToken('tok') },
  );
  v1.fake.putKv1('kv', 'a/one', { x: 1 });
  v1.fake.putKv1('kv', 'two', { y: 2 });
  const found = await v1.client.findSecrets?.({ name: { regexp: 'o' } }, deadline());
  t.same([...(found ?? new Map()).keys()].sort(), ['a/one', 'two']);
  t.ok(v1.fake.requests.includes('GET /v1/kv/?list=1'), 'LIST as GET ?list=1 (noCustomHTTPVerbs)');
  await rejectsKind(
    t,
    v1.client.findSecrets?.({ tags: { a: 'b' } }, deadline()) ?? Promise.resolve(),
    'Invalid',
    'v1 tags',
  );
});

t.test('caBundle: HTTPS Vault trusted through the store, refused without it', async (t) => {
  const bundle = await createCertificates({ hosts: ['127.0.0.1', 'localhost'] });
  const tls = { fake: { tls: { cert: bundle.cert, key: bundle.key } } };
  const caBundle = Buffer.from(bundle.caCert).toString('base64');
  const trusted = await setupVault(
    t,
    (url) => ({ server: url, path: 'secret', caBundle, auth: { tokenSecretRef: { name: 'v', key: 't' } } }),
    { ...tls, secrets: { 'v/t': 'tok' }, prepare: (f) => f.addToken('tok') },
  );
  t.match(trusted.fake.url, /^https:/);
  trusted.fake.putKv2('secret', 'k', { tls: true });
  t.equal(text(await trusted.client.getSecret({ key: 'k' }, deadline())), '{"tls":true}');

  const caFromSecret = await setupVault(
    t,
    (url) => ({
      server: url,
      path: 'secret',
      caProvider: { type: 'Secret' as const, name: 'ca', key: 'ca.crt' },
      auth: { tokenSecretRef: { name: 'v', key: 't' } },
    }),
    { ...tls, secrets: { 'v/t': 'tok', 'ca/ca.crt': bundle.caCert }, prepare: (f) => f.addToken('tok') },
  );
  caFromSecret.fake.putKv2('secret', 'k', { ca: 'secret' });
  t.equal(
    text(await caFromSecret.client.getSecret({ key: 'k' }, deadline())),
    '{"ca":"secret"}',
    'caProvider Secret',
  );

  const untrusted = await setupVault(
    t,
    (url) => ({ server: url, path: 'secret', auth: { tokenSecretRef: { name: 'v', key: 't' } } }),
    { ...tls, secrets: { 'v/t': 'tok' }, prepare: (f) => f.addToken('tok') },
  );
  const e = await rejectsKind(
    t,
    untrusted.client.getSecret({ key: 'k' }, deadline()),
    'Unavailable',
    'no CA',
  );
  t.match(e.message, /certificate/);
  t.equal(untrusted.fake.counts.reads, 0, 'nothing read over an untrusted connection');
});

t.test('invalid auth configurations are Invalid before any request', async (t) => {
  const { createVaultProvider } = await import('../../src/providers/vault/index.ts');
  const provider = createVaultProvider();
  const ctx = {
    store: { kind: 'SecretStore' as const, name: 'v', namespace: 'd' },
    namespace: 'd',
    readSecretKey: async () => 'x',
    endpoints: {},
    maxAttempts: 1,
    timeoutMs: 1000,
    ...strictIdentity,
  };
  const server = 'http://127.0.0.1:1';
  for (const [what, auth] of [
    ['no auth', {}],
    ['ldap', { ldap: {} }],
    ['approle without secretRef', { appRole: { roleId: 'r' } }],
    ['approle without role', { appRole: { secretRef: { name: 's' } } }],
    ['kubernetes without role', { kubernetes: {} }],
  ] as const) {
    await rejectsKind(t, provider.newClient({ server, auth }, ctx), 'Invalid', what);
  }
  const k8s = await provider.newClient({ server, auth: { kubernetes: { role: 'r' } } }, ctx);
  await rejectsKind(t, k8s.getSecret({ key: 'k' }, deadline()), 'Invalid', 'no service-account token source');
  await rejectsKind(
    t,
    provider.newClient(
      { server, caProvider: { type: 'ConfigMap', name: 'c' }, auth: { tokenSecretRef: { name: 'x' } } },
      ctx,
    ),
    'Invalid',
    'caProvider ConfigMap',
  );
});
