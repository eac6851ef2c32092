import { createPublicKey, generateKeyPairSync, type JsonWebKey, X509Certificate } from 'node:crypto';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import t, { type Test } from 'tap';
import type { AzureKvProvider, SecretKeySelector } from '../../src/api/types.ts';
import { azureKvProvider, createAzureKvClient } from '../../src/providers/azurekv/index.ts';
import { azureKvSelection } from '../../src/providers/azurekv/objects.ts';
import { type ClientContext, type ProviderClient, ProviderError } from '../../src/providers/types.ts';
import { createCertificates } from '../../src/server/certs.ts';
import { AZURE_FAKE_TENANT, AzureKeyVaultFake, type AzureKvFault } from '../fakes/azure-keyvault.ts';
import { ambientIdentity, strictIdentity } from './identity-context.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';
const CANARY = `CANARY-azure-${Math.random().toString(36).slice(2)}`;

const creds: Record<string, string> = {
  'azure-creds/client-id': 'client-guid',
  'azure-creds/client-secret': 'not-a-real-secret',
};

function spec(vaultUrl: string): AzureKvProvider {
  return {
    vaultUrl,
    tenantId: AZURE_FAKE_TENANT,
    authType: 'ServicePrincipal',
    authSecretRef: {
      clientId: { name: 'azure-creds', key: 'client-id' },
      clientSecret: { name: 'azure-creds', key: 'client-secret' },
    },
  };
}

function ctx(fake: AzureKeyVaultFake, over: Partial<ClientContext> = {}): ClientContext {
  return {
    store: { kind: 'SecretStore', name: 'azure-store', namespace: 'default' },
    namespace: 'default',
    readSecretKey: async (sel: SecretKeySelector) => {
      const v = creds[`${sel.name}/${sel.key}`];
      if (v === undefined) throw new Error(`missing ${sel.name}/${sel.key}`);
      return v;
    },
    endpoints: { azureCa: fake.ca, azureDisableChallengeResourceVerification: true },
    maxAttempts: 1,
    timeoutMs: 3_000,
    serviceAccountAnnotations: async () => ({}),
    ...strictIdentity,
    ...over,
  };
}

/** A TokenCredential that records what the challenge asked for. */
class TestCredential implements TokenCredential {
  readonly asked: { scopes: string[]; tenantId: string | undefined }[] = [];
  token = 'test-token';
  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken> {
    this.asked.push({ scopes: [scopes].flat(), tenantId: options?.tenantId });
    return { token: this.token, expiresOnTimestamp: Date.now() + 3_600_000 };
  }
}

const signal = () => AbortSignal.timeout(10_000);
const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

async function setup(
  t: Test,
  over: Partial<ClientContext> = {},
): Promise<{ fake: AzureKeyVaultFake; client: ProviderClient; credential: TestCredential }> {
  const fake = await AzureKeyVaultFake.start({ pageSize: 3 });
  const credential = new TestCredential();
  const client = await createAzureKvClient(spec(fake.url), ctx(fake, over), credential);
  t.teardown(async () => {
    await client.close();
    await fake.close();
  });
  return { fake, client, credential };
}

async function failure(p: Promise<unknown>): Promise<ProviderError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ProviderError)) throw new Error(`expected a ProviderError, got ${String(err)}`);
  return err;
}

t.test(
  'the 401 challenge: one token request for the vault resource and tenant, then bearer calls',
  async (t) => {
    const { fake, client, credential } = await setup(t);
    fake.put('db-password', CANARY);
    fake.put('other', 'x');
    t.equal(text(await client.getSecret({ key: 'db-password' }, { signal: signal() })), CANARY);
    t.equal(text(await client.getSecret({ key: 'other' }, { signal: signal() })), 'x');
    t.equal(fake.count('challenge'), 1, 'one unauthenticated request, answered with the challenge');
    t.equal(fake.count('GetSecret'), 2);
    t.same(credential.asked[0], {
      scopes: ['https://vault.azure.net/.default'],
      tenantId: AZURE_FAKE_TENANT,
    });
    t.same(
      fake.tokens,
      ['test-token', 'test-token'],
      'the bearer token is sent on every call after the challenge',
    );
  },
);

t.test('challenge resource verification is on unless the operator disables it', async (t) => {
  const fake = await AzureKeyVaultFake.start();
  t.teardown(() => fake.close());
  fake.put('a', 'v');
  const strict = await createAzureKvClient(
    spec(fake.url),
    ctx(fake, { endpoints: { azureCa: fake.ca } }),
    new TestCredential(),
  );
  const err = await failure(strict.getSecret({ key: 'a' }, { signal: signal() }));
  t.equal(err.kind, 'Invalid', 'a vault at 127.0.0.1 claiming vault.azure.net is refused');
  t.match(err.message, /challenge/);
  t.equal(fake.count('GetSecret'), 0, 'no token is ever sent to it');
  t.same(fake.tokens, []);
});

t.test('TLS: the vault certificate must chain to the configured CA', async (t) => {
  const fake = await AzureKeyVaultFake.start();
  t.teardown(() => fake.close());
  fake.put('a', 'v');
  const untrusted = await createAzureKvClient(
    spec(fake.url),
    ctx(fake, { endpoints: { azureDisableChallengeResourceVerification: true } }),
    new TestCredential(),
  );
  const err = await failure(untrusted.getSecret({ key: 'a' }, { signal: signal() }));
  t.equal(err.kind, 'Unavailable');
  t.equal(fake.count('challenge') + fake.count('GetSecret'), 0, 'no request reaches an untrusted server');
});

t.test('versions, latest, secret/ prefix; unknown object types', async (t) => {
  const { fake, client } = await setup(t);
  const v1 = fake.put('api', 'one');
  const v2 = fake.put('api', 'two');
  t.equal(text(await client.getSecret({ key: 'api' }, { signal: signal() })), 'two', 'latest');
  t.equal(text(await client.getSecret({ key: 'api', version: v1 }, { signal: signal() })), 'one');
  t.equal(text(await client.getSecret({ key: 'api', version: v2 }, { signal: signal() })), 'two');
  t.equal(text(await client.getSecret({ key: 'secret/api' }, { signal: signal() })), 'two', 'secret/ prefix');
  fake.put('unicode', 'héllo ✓');
  t.equal(text(await client.getSecret({ key: 'unicode' }, { signal: signal() })), 'héllo ✓', 'UTF-8 bytes');

  const missingVersion = await failure(
    client.getSecret({ key: 'api', version: 'f'.repeat(32) }, { signal: signal() }),
  );
  t.equal(missingVersion.kind, 'NotFound');
  t.match(missingVersion.message, /secret "api" version "f{32}"/);

  const calls = fake.count('GetSecret');
  for (const key of ['blob/x', 'secret/']) {
    const err = await failure(client.getSecret({ key }, { signal: signal() }));
    t.equal(err.kind, 'Invalid', key);
  }
  t.equal(fake.count('GetSecret'), calls, 'unknown object types cost no call');
});

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });

t.test('key/: the public JWK as ESO marshals it, per SDK; versions', async (t) => {
  const { fake, client } = await setup(t);
  const v1 = fake.putKey('signing', { kty: 'RSA', key_ops: ['sign', 'verify'], n: rsa.n, e: rsa.e });
  const v2 = fake.putKey('signing', { kty: 'EC', key_ops: ['sign'], crv: 'P-256', x: ec.x, y: ec.y });
  const kid = (v: string) => `${fake.url}/keys/signing/${v}`;

  // The legacy client (ESO's default) marshals the JWK struct: the service's member order.
  t.equal(
    text(await client.getSecret({ key: 'key/signing', version: v1 }, { signal: signal() })),
    `{"kid":"${kid(v1)}","kty":"RSA","key_ops":["sign","verify"],"n":"${rsa.n}","e":"${rsa.e}"}`,
  );
  const latest = text(await client.getSecret({ key: 'key/signing' }, { signal: signal() }));
  t.equal(
    latest,
    `{"kid":"${kid(v2)}","kty":"EC","key_ops":["sign"],"crv":"P-256","x":"${ec.x}","y":"${ec.y}"}`,
  );
  // What ESO's docs promise: a JWK a template (or Node) turns back into the public key.
  const parsed = JSON.parse(latest) as JsonWebKey;
  t.equal(
    createPublicKey({ key: parsed, format: 'jwk' }).export({ format: 'jwk' }).x,
    ec.x,
    'the JWK is the key',
  );
  t.equal(fake.count('GetKey'), 2);

  // useAzureSDK: true: ESO's Azure SDK for Go marshals a map, so members come sorted.
  const creds = new TestCredential();
  const sdk = await createAzureKvClient({ ...spec(fake.url), useAzureSDK: true }, ctx(fake), creds);
  t.teardown(() => sdk.close());
  t.equal(
    text(await sdk.getSecret({ key: 'key/signing', version: v1 }, { signal: signal() })),
    `{"e":"${rsa.e}","key_ops":["sign","verify"],"kid":"${kid(v1)}","kty":"RSA","n":"${rsa.n}"}`,
  );
  const missing = await failure(client.getSecret({ key: 'key/absent' }, { signal: signal() }));
  t.equal(missing.kind, 'NotFound');
  t.match(missing.message, /key "key\/absent": KeyNotFound, HTTP 404/);
});

t.test('cert/: the DER bytes of the certificate, at a version or the latest', async (t) => {
  const { fake, client } = await setup(t);
  const one = await createCertificates({ hosts: ['one.example'] });
  const two = await createCertificates({ hosts: ['two.example'] });
  const der = (pem: string) => new X509Certificate(pem).raw;
  const v1 = fake.putCertificate('tls', der(one.cert), { tags: { team: 'web' } });
  fake.putCertificate('tls', der(two.cert));
  const latest = await client.getSecret({ key: 'cert/tls' }, { signal: signal() });
  t.same(Buffer.from(latest), der(two.cert), 'the latest version, DER');
  t.match(new X509Certificate(Buffer.from(latest)).subjectAltName, /two\.example/);
  const first = await client.getSecret({ key: 'cert/tls', version: v1 }, { signal: signal() });
  t.same(Buffer.from(first), der(one.cert));
  t.equal(fake.count('GetCertificate'), 2);
  t.equal(fake.count('GetSecret'), 0, 'a certificate is read as a certificate, not as its secret');
  // ESO ignores the property of a certificate: the DER comes back whatever it says.
  t.same(
    azureKvSelection.selectValue?.({}, latest, {
      key: 'cert/tls',
      property: 'anything',
      metadata: false,
      store: 's',
    }),
    latest,
  );
  t.throws(() => azureKvSelection.selectMap?.({}, latest, { key: 'cert/tls', metadata: false, store: 's' }), {
    code: 'ESW_PROVIDER_INVALID',
    message: /dataFrom.extract cannot read Key Vault certificates/,
  });
  const missing = await failure(client.getSecret({ key: 'cert/absent' }, { signal: signal() }));
  t.equal(missing.kind, 'NotFound');
});

t.test("metadataPolicy Fetch: tags and times, as each of ESO's SDKs returns them", async (t) => {
  const { fake, client } = await setup(t);
  fake.put('api', CANARY, {
    tags: { env: 'prod', owner: 'a<b>&c', cfg: '{"region":"eu","tier":"gold"}' },
    created: 1_700_000_000,
    expires: 1_800_000_000,
    notBefore: 1_690_000_000,
  });
  const doc = await client.getMetadata!({ key: 'api' }, { signal: signal() });
  t.notOk(text(doc).includes(CANARY), 'the metadata document never holds the value');
  const select = (property: string | undefined, useAzureSDK?: boolean) =>
    text(
      azureKvSelection.selectValue!({ ...(useAzureSDK ? { useAzureSDK } : {}) }, doc, {
        key: 'api',
        property,
        metadata: true,
        store: 'SecretStore "default/azure-store"',
      }) as Uint8Array,
    );
  // Legacy client: tags and the attribute times, sorted, HTML characters escaped as Go does.
  t.equal(
    select(undefined),
    '{"attribute.created":"2023-11-14T22:13:20Z","attribute.expires":"2027-01-15T08:00:00Z",' +
      '"attribute.notBefore":"2023-07-22T04:26:40Z","attribute.updated":"2023-11-14T22:13:20Z",' +
      '"cfg":"{\\"region\\":\\"eu\\",\\"tier\\":\\"gold\\"}","env":"prod","owner":"a\\u003cb\\u003e\\u0026c"}',
  );
  t.equal(select('env'), 'prod');
  t.equal(select('owner'), 'a<b>&c');
  t.equal(select('attribute.expires'), '2027-01-15T08:00:00Z');
  t.equal(select('cfg.region'), 'eu', 'tag.path reads JSON inside a tag');
  t.throws(() => select('missing'), { code: 'ESW_PROPERTY_NOT_FOUND', message: /tag "missing" not found/ });
  t.throws(() => select('cfg.nope'), { code: 'ESW_PROPERTY_NOT_FOUND' });
  // useAzureSDK: true reads tags only.
  t.equal(
    select(undefined, true),
    '{"cfg":"{\\"region\\":\\"eu\\",\\"tier\\":\\"gold\\"}","env":"prod","owner":"a\\u003cb\\u003e\\u0026c"}',
  );
  t.throws(() => select('attribute.expires', true), { code: 'ESW_PROPERTY_NOT_FOUND' });

  // dataFrom.extract: <name>_<tag>, a JSON tag spread, the times (legacy).
  const map = (property: string | undefined, key = 'api') =>
    Object.fromEntries(
      [
        ...(azureKvSelection.selectMap!({}, doc, { key, property, metadata: true, store: 's' }) as Map<
          string,
          Uint8Array
        >),
      ].map(([k, v]) => [k, text(v)]),
    );
  t.same(map(undefined), {
    api_env: 'prod',
    api_owner: 'a<b>&c',
    api_cfg_region: 'eu',
    api_cfg_tier: 'gold',
    'api_attribute.created': '2023-11-14T22:13:20Z',
    'api_attribute.expires': '2027-01-15T08:00:00Z',
    'api_attribute.notBefore': '2023-07-22T04:26:40Z',
    'api_attribute.updated': '2023-11-14T22:13:20Z',
  });
  t.same(map('env'), { api_env: 'prod' }, 'one tag, named <key>_<property>');
  t.same(map('env', 'secret/api'), { 'secret/api_env': '' }, "ESO's key as written: no such tag, empty");
  t.throws(() => map('missing'), { code: 'ESW_PROPERTY_NOT_FOUND' }, 'the tag must exist, as in ESO');

  // Keys and certificates carry tags too.
  fake.putKey('k', { kty: 'RSA', n: rsa.n, e: rsa.e }, { tags: { purpose: 'jwt' } });
  const keyDoc = await client.getMetadata!({ key: 'key/k' }, { signal: signal() });
  t.equal(
    text(
      azureKvSelection.selectValue!({}, keyDoc, {
        key: 'key/k',
        property: 'purpose',
        metadata: true,
        store: 's',
      }) as Uint8Array,
    ),
    'jwt',
  );
  t.equal(fake.count('GetKey'), 1);
});

t.test('find: name regexp and tags over a paged list, disabled secrets skipped', async (t) => {
  const { fake, client } = await setup(t);
  fake.put('app-db', 'db', { tags: { team: 'a', env: 'prod' } });
  fake.put('app-cache', 'cache', { tags: { team: 'a', env: 'dev' } });
  fake.put('app-old', 'old', { tags: { team: 'a', env: 'prod' }, enabled: false });
  fake.put('billing-db', 'bill', { tags: { team: 'b', env: 'prod' } });
  fake.put('app-api', 'api');
  fake.put('zeta', 'z');
  fake.put('zz-app', 'zz', { tags: { team: 'a', env: 'prod' } });

  const byName = await client.findSecrets?.({ name: { regexp: '^app-' } }, { signal: signal() });
  t.same([...(byName?.keys() ?? [])].sort(), ['app-api', 'app-cache', 'app-db']);
  t.equal(text(byName?.get('app-db') as Uint8Array), 'db');
  t.equal(fake.count('ListSecrets'), 3, '7 secrets, 3 a page: every page is read');

  const byTags = await client.findSecrets?.({ tags: { team: 'a', env: 'prod' } }, { signal: signal() });
  t.same([...(byTags?.keys() ?? [])].sort(), ['app-db', 'zz-app'], 'all tags must match; disabled skipped');

  const both = await client.findSecrets?.(
    { name: { regexp: 'db$' }, tags: { env: 'prod' } },
    { signal: signal() },
  );
  t.same([...(both?.keys() ?? [])].sort(), ['app-db', 'billing-db']);

  const err = await failure(client.findSecrets?.({ path: 'app' }, { signal: signal() }) as Promise<unknown>);
  t.equal(err.kind, 'Invalid');
  t.match(err.message, /path is not supported/);

  fake.fault({ type: 'error', status: 403, code: 'Forbidden' }, { op: 'ListSecrets', count: 1 });
  t.equal(
    (await failure(client.findSecrets?.({ name: { regexp: '.' } }, { signal: signal() }) as Promise<unknown>))
      .kind,
    'Forbidden',
  );
});

t.test('errors become typed ProviderErrors, never carrying values or bodies', async (t) => {
  const { fake, client } = await setup(t);
  fake.put('ok', CANARY);
  const cases: [AzureKvFault, string][] = [
    [{ type: 'error', status: 404, code: 'SecretNotFound' }, 'NotFound'],
    [{ type: 'error', status: 403, code: 'Forbidden' }, 'Forbidden'],
    [{ type: 'error', status: 429, code: 'Throttled', retryAfter: 7 }, 'Throttled'],
    [{ type: 'error', status: 500, code: 'InternalServerError' }, 'Unavailable'],
    [{ type: 'error', status: 503, code: 'ServiceUnavailable' }, 'Unavailable'],
    [{ type: 'error', status: 400, code: 'BadParameter' }, 'Invalid'],
    [{ type: 'reset' }, 'Unavailable'],
    [{ type: 'malformed' }, 'Unavailable'],
  ];
  for (const [fault, kind] of cases) {
    fake.clearFaults();
    fake.fault(fault, { name: 'ok', count: 1 });
    const err = await failure(client.getSecret({ key: 'ok' }, { signal: signal() }));
    const label = JSON.stringify(fault);
    t.equal(err.kind, kind, `${label} -> ${kind}`);
    t.match(err.message, /secret "ok"/, `${label}: names the key`);
    t.notMatch(err.message, new RegExp(CANARY), `${label}: no value`);
    t.notMatch(err.message, /injected fault/, `${label}: the service message is not passed through`);
    if (fault.type === 'error' && fault.retryAfter) t.equal(err.retryAfterSeconds, 7, 'Retry-After kept');
  }
  const notFound = await failure(client.getSecret({ key: 'missing' }, { signal: signal() }));
  t.equal(notFound.kind, 'NotFound');
  t.match(notFound.message, /SecretNotFound/);
  t.notMatch(notFound.message, /was not found in this key vault/, 'the body is not quoted');

  fake.clearFaults();
  t.equal(
    text(await client.getSecret({ key: 'ok' }, { signal: signal() })),
    CANARY,
    'recovers once the fault clears',
  );
});

t.test('a token the vault refuses is Forbidden', async (t) => {
  const { fake, client, credential } = await setup(t);
  fake.put('a', CANARY);
  credential.token = 'stolen-token';
  const err = await failure(client.getSecret({ key: 'a' }, { signal: signal() }));
  t.equal(err.kind, 'Forbidden');
  t.notMatch(err.message, /stolen-token|CANARY/);
});

t.test('a slow vault fails at the deadline as Unavailable; retries are bounded', async (t) => {
  const { fake, client } = await setup(t);
  fake.put('slow', 'v');
  await client.getSecret({ key: 'slow' }, { signal: signal() }); // challenge done
  fake.fault({ type: 'delay', ms: 5_000 }, { name: 'slow', count: 1 });
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 100).unref();
  const err = await failure(client.getSecret({ key: 'slow' }, { signal: controller.signal }));
  t.equal(err.kind, 'Unavailable');
  t.match(err.message, /deadline/);

  const fake2 = await AzureKeyVaultFake.start();
  t.teardown(() => fake2.close());
  fake2.put('flaky', 'v');
  const retrying = await createAzureKvClient(
    spec(fake2.url),
    ctx(fake2, { maxAttempts: 3 }),
    new TestCredential(),
  );
  fake2.fault({ type: 'error', status: 500, code: 'InternalServerError' }, { name: 'flaky' });
  t.equal((await failure(retrying.getSecret({ key: 'flaky' }, { signal: signal() }))).kind, 'Unavailable');
  t.equal(fake2.count('GetSecret'), 3, 'three attempts, then it gives up');

  fake2.resetCounts();
  fake2.clearFaults();
  fake2.fault({ type: 'error', status: 503, code: 'ServiceUnavailable' }, { name: 'flaky', count: 1 });
  t.equal(
    text(await retrying.getSecret({ key: 'flaky' }, { signal: signal() })),
    'v',
    'a retry within the budget recovers',
  );
  t.equal(fake2.count('GetSecret'), 2);

  fake2.resetCounts();
  fake2.clearFaults();
  fake2.fault({ type: 'error', status: 429, code: 'Throttled', retryAfter: 30 }, { name: 'flaky' });
  // The deadline fires once the vault has answered 429 (not after a fixed delay, which a loaded
  // machine could reach before the request is even sent), plus some turns of the event loop in
  // which an SDK that ignored Retry-After would already have retried.
  const deadline = new AbortController();
  const pending = failure(retrying.getSecret({ key: 'flaky' }, { signal: deadline.signal }));
  for (let i = 0; i < 6_000 && fake2.count('GetSecret') === 0; i++)
    await new Promise((r) => setTimeout(r, 10));
  for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 5));
  deadline.abort();
  const throttled = await pending;
  t.equal(throttled.kind, 'Unavailable', 'a Retry-After longer than the deadline ends at the deadline');
  t.equal(fake2.count('GetSecret'), 1, 'the SDK waited instead of hammering the vault');
});

t.test('the provider builds its own credential and reads its Secrets', async (t) => {
  const fake = await AzureKeyVaultFake.start();
  t.teardown(() => fake.close());
  t.equal(azureKvProvider.name, 'azurekv');
  const sp = await azureKvProvider.newClient(spec(fake.url), ctx(fake));
  t.teardown(() => sp.close());
  t.ok(sp, 'ServicePrincipal client built from authSecretRef');

  await t.rejects(
    azureKvProvider.newClient(
      { ...spec(fake.url), authSecretRef: { clientId: { name: 'nope', key: 'x' } } },
      ctx(fake),
    ),
    /missing nope\/x/,
  );
  await t.rejects(
    azureKvProvider.newClient(
      { ...spec(fake.url), authSecretRef: { clientId: { name: 'azure-creds', key: 'client-id' } } },
      ctx(fake),
    ),
    {
      name: 'ProviderError',
      kind: 'Invalid',
      message: /clientSecret/,
    },
  );
  await t.rejects(
    azureKvProvider.newClient({ ...spec(fake.url), environmentType: 'AzureStackCloud' }, ctx(fake)),
    {
      kind: 'Invalid',
      message: /AzureStackCloud/,
    },
  );

  // Workload identity: the Kubernetes token is requested for the Entra exchange audience.
  const asked: unknown[] = [];
  const wi = await azureKvProvider.newClient(
    {
      vaultUrl: fake.url,
      authType: 'WorkloadIdentity',
      tenantId: AZURE_FAKE_TENANT,
      serviceAccountRef: { name: 'app' },
      authSecretRef: { clientId: { name: 'azure-creds', key: 'client-id' } },
    },
    ctx(fake, {
      serviceAccountToken: async (sel) => {
        asked.push(sel);
        return 'k8s-jwt';
      },
    }),
  );
  t.teardown(() => wi.close());
  t.ok(wi);
  await t.rejects(
    azureKvProvider.newClient(
      { vaultUrl: fake.url, authType: 'WorkloadIdentity', tenantId: 't', serviceAccountRef: { name: 'app' } },
      ctx(fake, { serviceAccountToken: async () => 'jwt' }),
    ),
    { kind: 'Invalid', message: /client ID/ },
  );
  // A managed identity is this server's own: refused for a SecretStore the admin did not allow,
  // before any credential is built; built for a ClusterSecretStore.
  await t.rejects(
    azureKvProvider.newClient(
      { vaultUrl: fake.url, authType: 'ManagedIdentity', identityId: 'cid' },
      ctx(fake),
    ),
    { code: 'ESW_IDENTITY_FORBIDDEN', message: /spec\.provider\.azurekv\.authType/ },
  );
  await t.rejects(
    azureKvProvider.newClient({ vaultUrl: fake.url, authType: 'WorkloadIdentity', tenantId: 't' }, ctx(fake)),
    { code: 'ESW_IDENTITY_FORBIDDEN', message: /spec\.provider\.azurekv\.serviceAccountRef/ },
  );
  const mi = await azureKvProvider.newClient(
    { vaultUrl: fake.url, authType: 'ManagedIdentity', identityId: 'cid' },
    ctx(fake, ambientIdentity),
  );
  t.teardown(() => mi.close());
  t.ok(mi);
  t.equal(fake.count('challenge') + fake.count('GetSecret'), 0, 'building clients costs no vault call');
});

t.test(
  'end to end: real ClientSecretCredential and workload identity against the fake Entra ID',
  async (t) => {
    const fake = await AzureKeyVaultFake.start();
    t.teardown(() => fake.close());
    fake.put('db', CANARY);
    fake.clients.set('client-guid', 'not-a-real-secret');
    const endpoints = {
      azureCa: fake.ca,
      azureDisableChallengeResourceVerification: true,
      azureAuthorityHost: fake.url,
    };
    const sp = await azureKvProvider.newClient(spec(fake.url), ctx(fake, { endpoints }));
    t.teardown(() => sp.close());
    t.equal(text(await sp.getSecret({ key: 'db' }, { signal: signal() })), CANARY);
    t.equal(text(await sp.getSecret({ key: 'db' }, { signal: signal() })), CANARY);
    t.equal(fake.count('Token'), 1, 'one token for many reads');
    t.match(fake.tokenRequests[0], {
      tenant: AZURE_FAKE_TENANT,
      clientId: 'client-guid',
      scope: /https:\/\/vault\.azure\.net\/\.default/,
      grantType: 'client_credentials',
    });

    // A wrong client secret: Entra ID refuses it, the read is Forbidden, the secret is not quoted.
    creds['azure-creds/wrong-secret'] = 'WRONG-SECRET-xyz';
    t.teardown(() => {
      delete creds['azure-creds/wrong-secret'];
    });
    const bad = await azureKvProvider.newClient(
      {
        ...spec(fake.url),
        authSecretRef: {
          clientId: { name: 'azure-creds', key: 'client-id' },
          clientSecret: { name: 'azure-creds', key: 'wrong-secret' },
        },
      },
      ctx(fake, { endpoints }),
    );
    t.teardown(() => bad.close());
    const err = await failure(bad.getSecret({ key: 'db' }, { signal: signal() }));
    t.equal(err.kind, 'Forbidden');
    t.match(err.message, /authentication failed/);
    t.notMatch(err.message, /WRONG-SECRET|AADSTS|CANARY/);

    // Workload identity: the Kubernetes token is the client assertion, asked for the exchange audience.
    fake.clients.set('wi-client', 'k8s-jwt');
    creds['azure-creds/wi-client-id'] = 'wi-client';
    t.teardown(() => {
      delete creds['azure-creds/wi-client-id'];
    });
    const asked: unknown[] = [];
    const wi = await azureKvProvider.newClient(
      {
        vaultUrl: fake.url,
        authType: 'WorkloadIdentity',
        tenantId: AZURE_FAKE_TENANT,
        serviceAccountRef: { name: 'app' },
        authSecretRef: { clientId: { name: 'azure-creds', key: 'wi-client-id' } },
      },
      ctx(fake, {
        endpoints,
        serviceAccountToken: async (sel) => {
          asked.push(sel);
          return 'k8s-jwt';
        },
      }),
    );
    t.teardown(() => wi.close());
    t.equal(text(await wi.getSecret({ key: 'db' }, { signal: signal() })), CANARY);
    t.ok(asked.length >= 1, 'the Kubernetes token was requested');
    for (const a of asked) t.same(a, { name: 'app', audiences: ['api://AzureADTokenExchange'] });
    t.match(fake.tokenRequests.at(-1), {
      clientId: 'wi-client',
      assertion: true,
      grantType: 'client_credentials',
    });
  },
);

t.test('AzureStackCloud: tokens come from the authority customCloudConfig names', async (t) => {
  const fake = await AzureKeyVaultFake.start();
  t.teardown(() => fake.close());
  fake.put('db', CANARY);
  fake.clients.set('client-guid', 'not-a-real-secret');
  const stack = await azureKvProvider.newClient(
    {
      ...spec(fake.url),
      environmentType: 'AzureStackCloud',
      useAzureSDK: true,
      customCloudConfig: {
        activeDirectoryEndpoint: fake.url,
        resourceManagerEndpoint: 'https://arm.example',
      },
    },
    ctx(fake), // no authority override: the store's own authority is used
  );
  t.teardown(() => stack.close());
  t.equal(text(await stack.getSecret({ key: 'db' }, { signal: signal() })), CANARY);
  t.equal(fake.count('Token'), 1, 'one token from the custom authority');
  t.match(fake.tokenRequests[0], { tenant: AZURE_FAKE_TENANT, clientId: 'client-guid' });

  await t.rejects(
    azureKvProvider.newClient(
      {
        ...spec(fake.url),
        environmentType: 'AzureStackCloud',
        customCloudConfig: { activeDirectoryEndpoint: fake.url },
      },
      ctx(fake),
    ),
    { kind: 'Invalid', message: /requires useAzureSDK: true/ },
  );
});

t.test(
  'validate (store status): the first page of one secret; a 403 still proves the credentials',
  async (t) => {
    const { fake, client } = await setup(t);
    fake.put('a', 'x');
    await client.validate?.({ signal: signal() });
    t.equal(fake.count('ListSecrets'), 1, 'one page');
    fake.fault({ type: 'error', status: 403, code: 'Forbidden' }, { op: 'ListSecrets', count: 1 });
    await client.validate?.({ signal: signal() });
    t.pass('not allowed to list, but authenticated: valid');
    fake.fault({ type: 'error', status: 401, code: 'Unauthorized' }, { op: 'ListSecrets', count: 5 });
    const err = await failure(client.validate?.({ signal: signal() }) ?? Promise.resolve());
    t.equal(err.kind, 'Forbidden');
    t.match(err.message, /store check/);
  },
);
