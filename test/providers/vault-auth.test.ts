/**
 * Vault auth methods beyond token/AppRole/Kubernetes, through node-vault against the fake Vault:
 * userPass, ldap, jwt, cert (mutual TLS), iam (a SigV4-signed GetCallerIdentity the fake
 * verifies), and the client options auth.namespace, headers and tls. Each: the login request
 * the fake sees, one login reused, and a refused login as Forbidden without the credential.
 */
import t from 'tap';
import { createCertificates } from '../../src/server/certs.ts';
import { AwsStsFake } from '../fakes/aws-sts.ts';
import type { VaultFake } from '../fakes/vault.ts';
import { CANARY, deadline, rejectsKind, setupVault, text } from './vault-context.ts';

const kv = (fake: VaultFake) => fake.putKv2('secret', 'app', { v: '1' });

for (const [method, mount] of [
  ['userPass', 'userpass'],
  ['ldap', 'ldap'],
] as const) {
  t.test(`${method}: POST auth/<path>/login/<username> {password}, default mount ${mount}`, async (t) => {
    const spec = (url: string) => ({
      server: url,
      path: 'secret',
      auth: { [method]: { username: ' alice ', secretRef: { name: 'pw', key: 'password' } } },
    });
    const { fake, client, reads } = await setupVault(t, spec, {
      secrets: { 'pw/password': `${CANARY} ` },
      prepare: (f) => f.addPasswordUser('alice', `${CANARY} `, mount),
    });
    kv(fake);
    for (let i = 0; i < 5; i++)
      t.equal(text(await client.getSecret({ key: 'app' }, deadline())), '{"v":"1"}');
    t.same(
      fake.loginBodies,
      [{ path: `auth/${mount}/login/alice`, body: { password: `${CANARY} ` } }],
      'one login: username trimmed, password as stored',
    );
    t.same(reads, ['pw/password'], 'the password read once, at login');

    const custom = await setupVault(
      t,
      (url) => ({
        ...spec(url),
        auth: {
          [method]: { path: '/corp-ldap/', username: 'bob', secretRef: { name: 'pw', key: 'password' } },
        },
      }),
      { secrets: { 'pw/password': 'right' }, prepare: (f) => f.addPasswordUser('bob', 'right', 'corp-ldap') },
    );
    kv(custom.fake);
    await custom.client.getSecret({ key: 'app' }, deadline());
    t.equal(custom.fake.requests[0], 'POST /v1/auth/corp-ldap/login/bob', 'custom mount path');

    const wrong = await setupVault(t, spec, {
      secrets: { 'pw/password': CANARY },
      prepare: (f) => f.addPasswordUser('alice', 'other', mount),
    });
    const e = await rejectsKind(
      t,
      wrong.client.getSecret({ key: 'app' }, deadline()),
      'Forbidden',
      'wrong password',
    );
    t.match(e.message, new RegExp(`login with ${mount} at auth/${mount}: rejected \\(HTTP 400\\)`));
    t.notMatch(e.message, /invalid username/, "Vault's words are not passed on");
    t.equal(wrong.fake.counts.reads, 0);
  });
}

t.test('jwt: secretRef JWT, role, default path jwt; a refused JWT is Forbidden', async (t) => {
  const jwt = `eyJ.${CANARY}.sig`;
  const spec = (url: string) => ({
    server: url,
    path: 'secret',
    auth: { jwt: { role: ' app ', secretRef: { name: 'oidc', key: 'jwt' } } },
  });
  const { fake, client } = await setupVault(t, spec, {
    secrets: { 'oidc/jwt': `${jwt}\n` },
    prepare: (f) => f.addJwtRole('app', jwt),
  });
  kv(fake);
  await client.getSecret({ key: 'app' }, deadline());
  await client.getSecret({ key: 'app' }, deadline());
  t.same(
    fake.loginBodies,
    [{ path: 'auth/jwt/login', body: { role: 'app', jwt } }],
    'one login, JWT trimmed',
  );

  const custom = await setupVault(
    t,
    (url) => ({
      ...spec(url),
      auth: { jwt: { path: 'oidc/k8s', role: 'app', secretRef: { name: 'oidc', key: 'jwt' } } },
    }),
    { secrets: { 'oidc/jwt': jwt }, prepare: (f) => f.addJwtRole('app', jwt, 'oidc/k8s') },
  );
  kv(custom.fake);
  await custom.client.getSecret({ key: 'app' }, deadline());
  t.equal(custom.fake.requests[0], 'POST /v1/auth/oidc/k8s/login');

  const refused = await setupVault(t, spec, {
    secrets: { 'oidc/jwt': jwt },
    prepare: (f) => f.addJwtRole('app', 'another'),
  });
  await rejectsKind(t, refused.client.getSecret({ key: 'app' }, deadline()), 'Forbidden', 'JWT refused');
});

t.test(
  'jwt: kubernetesServiceAccountToken asks the token source with ESO audiences and expiry',
  async (t) => {
    const token = `sa.${CANARY}.token`;
    const { fake, client, saTokenRequests } = await setupVault(
      t,
      (url) => ({
        server: url,
        path: 'secret',
        auth: {
          jwt: {
            role: 'app',
            kubernetesServiceAccountToken: { serviceAccountRef: { name: 'app-sa', audiences: ['extra'] } },
          },
        },
      }),
      { serviceAccountToken: token, prepare: (f) => f.addJwtRole('app', token) },
    );
    kv(fake);
    await client.getSecret({ key: 'app' }, deadline());
    t.same(saTokenRequests, [{ name: 'app-sa', audiences: ['extra', 'vault'], expirationSeconds: 600 }]);
    t.same(fake.loginBodies[0]?.body, { role: 'app', jwt: token });

    const explicit = await setupVault(
      t,
      (url) => ({
        server: url,
        path: 'secret',
        auth: {
          jwt: {
            role: 'app',
            kubernetesServiceAccountToken: {
              serviceAccountRef: { name: 'app-sa' },
              audiences: ['https://vault.example'],
              expirationSeconds: 3600,
            },
          },
        },
      }),
      { serviceAccountToken: token, prepare: (f) => f.addJwtRole('app', token) },
    );
    kv(explicit.fake);
    await explicit.client.getSecret({ key: 'app' }, deadline());
    t.same(explicit.saTokenRequests, [
      { name: 'app-sa', audiences: ['https://vault.example'], expirationSeconds: 3600 },
    ]);
  },
);

t.test(
  'auth.namespace: login (and renew, lookup) in its namespace, reads in the store namespace',
  async (t) => {
    const { fake, client, clock } = await setupVault(
      t,
      (url) => ({
        server: url,
        path: 'secret',
        namespace: 'admin/team-a',
        auth: {
          namespace: 'admin',
          userPass: { username: 'alice', secretRef: { name: 'pw', key: 'p' } },
        },
      }),
      { secrets: { 'pw/p': 'pw' }, prepare: (f) => f.addPasswordUser('alice', 'pw') },
    );
    kv(fake);
    await client.getSecret({ key: 'app' }, deadline());
    t.same(fake.namespaces, ['admin', 'admin/team-a'], 'login in admin, read in admin/team-a');
    clock.now += 3000 * 1000; // into the renewal margin of the 3600 s lease
    await client.getSecret({ key: 'app' }, deadline());
    t.same(
      fake.requests.slice(2),
      ['POST /v1/auth/token/renew-self', 'GET /v1/secret/data/app'],
      'renewed, not logged in again',
    );
    t.same(fake.namespaces.slice(2), ['admin', 'admin/team-a'], 'the renewal in the login namespace');
    fake.deny('secret/data/app');
    await rejectsKind(t, client.getSecret({ key: 'app' }, deadline()), 'Forbidden', 'policy denial');
    t.equal(fake.requests.at(-1), 'GET /v1/auth/token/lookup-self');
    t.equal(fake.namespaces.at(-1), 'admin', 'the lookup in the login namespace');
    t.equal(fake.counts.logins, 1, 'a denial costs no login');
  },
);

t.test('headers: on every request, logins included; reserved headers refused', async (t) => {
  const { fake, client } = await setupVault(
    t,
    (url) => ({
      server: url,
      path: 'secret',
      headers: { 'X-Tenant': 'team-a', 'CF-Access-Client-Id': 'abc' },
      auth: { userPass: { username: 'alice', secretRef: { name: 'pw', key: 'p' } } },
    }),
    { secrets: { 'pw/p': 'pw' }, prepare: (f) => f.addPasswordUser('alice', 'pw') },
  );
  kv(fake);
  await client.getSecret({ key: 'app' }, deadline());
  t.same(
    fake.headers.map((h) => [h['x-tenant'], h['cf-access-client-id']]),
    [
      ['team-a', 'abc'],
      ['team-a', 'abc'],
    ],
  );

  const { createVaultProvider } = await import('../../src/providers/vault/index.ts');
  const { strictIdentity } = await import('./identity-context.ts');
  const ctx = {
    store: { kind: 'SecretStore' as const, name: 'v', namespace: 'd' },
    namespace: 'd',
    readSecretKey: async () => 'x',
    endpoints: {},
    maxAttempts: 1,
    timeoutMs: 1000,
    ...strictIdentity,
  };
  const e = await rejectsKind(
    t,
    createVaultProvider().newClient(
      {
        server: fake.url,
        headers: { 'X-Vault-Token': CANARY },
        auth: { tokenSecretRef: { name: 't', key: 't' } },
      },
      ctx,
    ),
    'Invalid',
    'X-Vault-Token as a custom header',
  );
  t.match(e.message, /headers\["X-Vault-Token"\]/);
});

t.test(
  'cert: login over a connection presenting clientCert, {name: vaultRole}, default path cert',
  async (t) => {
    const server = await createCertificates({ hosts: ['127.0.0.1'] });
    const ca = { cert: server.caCert, key: server.caKey };
    const client1 = await createCertificates({ hosts: ['app'], clientAuth: true, ca });
    const other = await createCertificates({ hosts: ['other'], clientAuth: true, ca });
    const caBundle = Buffer.from(server.caCert).toString('base64');
    const spec = (url: string) => ({
      server: url,
      path: 'secret',
      caBundle,
      auth: {
        cert: {
          vaultRole: 'web',
          clientCert: { name: 'client-tls', key: 'tls.crt' },
          secretRef: { name: 'client-tls', key: 'tls.key' },
        },
      },
    });
    const secrets = { 'client-tls/tls.crt': client1.cert, 'client-tls/tls.key': client1.key };
    const { fake, client, reads } = await setupVault(t, spec, {
      fake: { tls: { cert: server.cert, key: server.key } },
      secrets,
      prepare: (f) => f.addCertRole('web', client1.cert),
    });
    kv(fake);
    await client.getSecret({ key: 'app' }, deadline());
    await client.getSecret({ key: 'app' }, deadline());
    t.same(fake.loginBodies, [{ path: 'auth/cert/login', body: { name: 'web' } }], 'one login');
    t.not(fake.clientCerts[0], '', 'the login presented the client certificate');
    t.same(reads.sort(), ['client-tls/tls.crt', 'client-tls/tls.key']);

    const wrong = await setupVault(t, spec, {
      fake: { tls: { cert: server.cert, key: server.key } },
      secrets,
      prepare: (f) => f.addCertRole('web', other.cert),
    });
    await rejectsKind(
      t,
      wrong.client.getSecret({ key: 'app' }, deadline()),
      'Forbidden',
      'certificate not trusted by the role',
    );

    const mismatched = await setupVault(t, spec, {
      fake: { tls: { cert: server.cert, key: server.key } },
      secrets: { 'client-tls/tls.crt': client1.cert, 'client-tls/tls.key': other.key },
      prepare: (f) => f.addCertRole('web', client1.cert),
    });
    const e = await rejectsKind(
      t,
      mismatched.client.getSecret({ key: 'app' }, deadline()),
      'Invalid',
      'key of another certificate',
    );
    t.match(
      e.message,
      /auth\.cert: clientCert and secretRef are not a PEM certificate and its matching private key/,
    );
    t.notMatch(e.message, /PRIVATE KEY/, 'no key material in the message');
    t.equal(mismatched.fake.counts.requests, 0, 'nothing sent');
  },
);

t.test(
  'tls: the client certificate on every connection (mutual TLS), keys tls.crt/tls.key by default',
  async (t) => {
    const server = await createCertificates({ hosts: ['127.0.0.1'] });
    const ca = { cert: server.caCert, key: server.caKey };
    const clientCert = await createCertificates({ hosts: ['app'], clientAuth: true, ca });
    const caBundle = Buffer.from(server.caCert).toString('base64');
    const spec = (url: string) => ({
      server: url,
      path: 'secret',
      caBundle,
      tls: { certSecretRef: { name: 'mtls' }, keySecretRef: { name: 'mtls' } },
      auth: { tokenSecretRef: { name: 'v', key: 't' } },
    });
    const { fake, client } = await setupVault(t, spec, {
      fake: { tls: { cert: server.cert, key: server.key, clientCa: server.caCert, requireClientCert: true } },
      secrets: { 'mtls/tls.crt': clientCert.cert, 'mtls/tls.key': clientCert.key, 'v/t': 'tok' },
      prepare: (f) => f.addToken('tok'),
    });
    kv(fake);
    t.equal(text(await client.getSecret({ key: 'app' }, deadline())), '{"v":"1"}');

    const without = await setupVault(t, (url) => ({ ...spec(url), tls: undefined }), {
      fake: { tls: { cert: server.cert, key: server.key, clientCa: server.caCert, requireClientCert: true } },
      secrets: { 'v/t': 'tok' },
      prepare: (f) => f.addToken('tok'),
    });
    kv(without.fake);
    await rejectsKind(
      t,
      without.client.getSecret({ key: 'app' }, deadline()),
      'Unavailable',
      'handshake refused without a client certificate',
    );
    t.equal(without.fake.counts.requests, 0);
  },
);

t.test('iam: a SigV4-signed GetCallerIdentity from secretRef keys, server ID header, region', async (t) => {
  const keys = { accessKeyId: 'AKIAVAULTTEST', secretAccessKey: CANARY, sessionToken: 'session-token-1' };
  const spec = (url: string) => ({
    server: url,
    path: 'secret',
    auth: {
      iam: {
        vaultRole: 'app-role',
        region: 'eu-west-1',
        vaultAwsIamServerID: 'vault.example.com',
        secretRef: {
          accessKeyIDSecretRef: { name: 'aws', key: 'id' },
          secretAccessKeySecretRef: { name: 'aws', key: 'secret' },
          sessionTokenSecretRef: { name: 'aws', key: 'session' },
        },
      },
    },
  });
  const secrets = {
    'aws/id': keys.accessKeyId,
    'aws/secret': keys.secretAccessKey,
    'aws/session': keys.sessionToken,
  };
  const { fake, client } = await setupVault(t, spec, {
    secrets,
    prepare: (f) => f.addAwsRole('app-role', { ...keys, serverId: 'vault.example.com', region: 'eu-west-1' }),
  });
  kv(fake);
  await client.getSecret({ key: 'app' }, deadline());
  await client.getSecret({ key: 'app' }, deadline());
  t.equal(fake.loginBodies.length, 1, 'one login, accepted: the fake verified the signature');
  const body = fake.loginBodies[0]?.body ?? {};
  t.equal(fake.requests[0], 'POST /v1/auth/aws/login', 'default mount aws');
  t.same(Object.keys(body).sort(), [
    'iam_http_request_method',
    'iam_request_body',
    'iam_request_headers',
    'iam_request_url',
    'role',
  ]);
  const headers = JSON.parse(Buffer.from(String(body.iam_request_headers), 'base64').toString()) as Record<
    string,
    string[]
  >;
  t.same(
    headers['X-Vault-Aws-Iam-Server-Id'],
    ['vault.example.com'],
    "Go's canonical header names, lists of values",
  );
  t.notMatch(JSON.stringify(body), CANARY, 'the secret key is not in the request, only its signature');

  const wrongKey = await setupVault(t, spec, {
    secrets,
    prepare: (f) =>
      f.addAwsRole('app-role', {
        ...keys,
        secretAccessKey: 'other',
        serverId: 'vault.example.com',
        region: 'eu-west-1',
      }),
  });
  await rejectsKind(
    t,
    wrongKey.client.getSecret({ key: 'app' }, deadline()),
    'Forbidden',
    'signature by other keys',
  );

  const noServerId = await setupVault(
    t,
    (url) => ({ ...spec(url), auth: { iam: { ...spec(url).auth.iam, vaultAwsIamServerID: undefined } } }),
    {
      secrets,
      prepare: (f) =>
        f.addAwsRole('app-role', { ...keys, serverId: 'vault.example.com', region: 'eu-west-1' }),
    },
  );
  await rejectsKind(
    t,
    noServerId.client.getSecret({ key: 'app' }, deadline()),
    'Forbidden',
    'server ID missing',
  );
});

t.test(
  'iam: role assumed through STS (externalID) before signing; us-east-1 and path aws by default',
  async (t) => {
    const sts = await AwsStsFake.start();
    t.teardown(() => sts.close());
    const { fake, client } = await setupVault(
      t,
      (url) => ({
        server: url,
        path: 'secret',
        auth: {
          iam: {
            vaultRole: 'r',
            role: 'arn:aws:iam::123456789012:role/vault-login',
            externalID: 'ext-1',
            secretRef: {
              accessKeyIDSecretRef: { name: 'aws', key: 'id' },
              secretAccessKeySecretRef: { name: 'aws', key: 'secret' },
            },
          },
        },
      }),
      {
        secrets: { 'aws/id': 'AKIABASE', 'aws/secret': 'base-secret' },
        endpoints: { awsSts: sts.endpoint },
        prepare: (f) =>
          f.addAwsRole('r', {
            accessKeyId: 'ASIASTS0000000000001',
            secretAccessKey: 'sts-secret-1',
            sessionToken: 'sts-session-1',
          }),
      },
    );
    kv(fake);
    t.equal(text(await client.getSecret({ key: 'app' }, deadline())), '{"v":"1"}');
    t.same(
      sts.assumed.map((a) => [a.roleArn, a.externalId, a.signedBy]),
      [['arn:aws:iam::123456789012:role/vault-login', 'ext-1', 'AKIABASE']],
    );
  },
);

t.test('iam without credentials: a namespaced store never uses the ambient AWS identity', async (t) => {
  const { fake, client } = await setupVault(t, (url) => ({
    server: url,
    path: 'secret',
    auth: { iam: { vaultRole: 'r' } },
  }));
  const e = await client.getSecret({ key: 'app' }, deadline()).then(
    () => undefined,
    (err: unknown) => err as Error,
  );
  t.match(e?.message, /own AWS identity/);
  t.equal(fake.counts.requests, 0, 'nothing sent to Vault');
});

t.test(
  'iam.jwt: the IRSA role of a ServiceAccount (annotation), a TokenRequest token, AssumeRoleWithWebIdentity',
  async (t) => {
    const sts = await AwsStsFake.start();
    t.teardown(() => sts.close());
    sts.audience = 'sts.amazonaws.com';
    const jwtFor = (s: { name?: string; audiences?: string[] }) =>
      [
        Buffer.from('{"alg":"none"}').toString('base64url'),
        Buffer.from(
          JSON.stringify({ sub: `system:serviceaccount:default:${s.name}`, aud: s.audiences }),
        ).toString('base64url'),
        'sig',
      ].join('.');
    const spec = (sa: string) => (url: string) => ({
      server: url,
      path: 'secret',
      auth: { iam: { vaultRole: 'r', jwt: { serviceAccountRef: { name: sa, audiences: ['extra'] } } } },
    });
    const opts = {
      serviceAccountToken: jwtFor,
      serviceAccounts: {
        irsa: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/vault-irsa' },
        plain: {},
      },
      endpoints: { awsSts: sts.endpoint },
      prepare: (f: VaultFake) =>
        f.addAwsRole('r', {
          accessKeyId: 'ASIASTS0000000000001',
          secretAccessKey: 'sts-secret-1',
          sessionToken: 'sts-session-1',
        }),
    };
    const { fake, client, saTokenRequests } = await setupVault(t, spec('irsa'), opts);
    kv(fake);
    t.equal(text(await client.getSecret({ key: 'app' }, deadline())), '{"v":"1"}');
    t.same(saTokenRequests, [{ name: 'irsa', audiences: ['sts.amazonaws.com', 'extra'] }], 'ESO audiences');
    t.same(
      sts.webIdentities.map((w) => [w.roleArn, w.sessionName, w.sub, w.signed]),
      [
        [
          'arn:aws:iam::123456789012:role/vault-irsa',
          'external-secrets-provider-vault',
          'system:serviceaccount:default:irsa',
          false,
        ],
      ],
    );

    const noRole = await setupVault(t, spec('plain'), opts);
    const e = await rejectsKind(
      t,
      noRole.client.getSecret({ key: 'app' }, deadline()),
      'Invalid',
      'no role annotation',
    );
    t.match(e.message, /has no eks\.amazonaws\.com\/role-arn annotation/);

    sts.audience = 'another-audience';
    const refused = await setupVault(t, spec('irsa'), opts);
    await rejectsKind(
      t,
      refused.client.getSecret({ key: 'app' }, deadline()),
      'Forbidden',
      'token refused by STS',
    );
  },
);
