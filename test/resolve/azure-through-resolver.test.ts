/**
 * The resolver in front of the real azurekv provider: SecretClient, KeyClient and
 * CertificateClient with a real ClientSecretCredential against the Key Vault and Entra ID fake,
 * through the provider registry — keys, certificates and metadataPolicy Fetch as ESO returns them,
 * with the same cache and coalescing as secrets.
 */
import { generateKeyPairSync, randomUUID, X509Certificate } from 'node:crypto';
import t, { type Test } from 'tap';
import { createLogger } from '../../src/observability/logger.ts';
import { createProviders } from '../../src/providers/registry.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { StoreResolver } from '../../src/resolve/resolver.ts';
import { createCertificates } from '../../src/server/certs.ts';
import { AZURE_FAKE_TENANT, AzureKeyVaultFake } from '../fakes/azure-keyvault.ts';
import { secret, store } from './fixtures.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const CANARY = `CANARY-${randomUUID()}`;
const CLIENT_SECRET = `client-secret-${randomUUID()}`;
const ref = { kind: 'ClusterSecretStore' as const, name: 'azure' };

async function setup(t: Test, extra: Record<string, unknown> = {}) {
  const fake = await AzureKeyVaultFake.start();
  t.teardown(() => fake.close());
  fake.clients.set('client-guid', CLIENT_SECRET);
  const registry = new MemoryRegistry();
  registry.upsert(secret('creds', 'azure', { id: 'client-guid', secret: CLIENT_SECRET }));
  registry.upsert(
    store('ClusterSecretStore', 'azure', undefined, {
      azurekv: {
        vaultUrl: fake.url,
        tenantId: AZURE_FAKE_TENANT,
        authSecretRef: {
          clientId: { name: 'azure', namespace: 'creds', key: 'id' },
          clientSecret: { name: 'azure', namespace: 'creds', key: 'secret' },
        },
        ...extra,
      },
    }),
  );
  const logs: string[] = [];
  const resolver = new StoreResolver({
    registry,
    secrets: registry,
    providers: createProviders(),
    logger: createLogger({ level: 'debug', destination: { write: (s: string) => logs.push(s) } }),
    endpoints: {
      azureCa: fake.ca,
      azureDisableChallengeResourceVerification: true,
      azureAuthorityHost: fake.url,
    },
    maxAttempts: 1,
  });
  t.teardown(() => resolver.close());
  return { fake, resolver, logs };
}

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });

t.test(
  'keys and certificates: one call per object however many lookups, properties of the JWK',
  async (t) => {
    const { fake, resolver, logs } = await setup(t);
    fake.putKey('signing', { kty: 'RSA', key_ops: ['verify'], n: rsa.n, e: rsa.e });
    const pem = (await createCertificates({ hosts: ['api.example'] })).cert;
    const der = new X509Certificate(pem).raw;
    fake.putCertificate('tls', der);
    fake.put('db', JSON.stringify({ password: CANARY }));
    fake.put('warm', 'x');
    // One token first; the three SDK clients then share it from the credential's cache.
    await resolver.getValue(ref, 'a', { key: 'warm' });

    const lookups = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        i % 3 === 0
          ? resolver.getValue(ref, `ns-${i}`, { key: 'key/signing', property: i % 2 ? 'kty' : 'n' })
          : i % 3 === 1
            ? resolver.getValue(ref, `ns-${i}`, { key: 'cert/tls' })
            : resolver.getValue(ref, `ns-${i}`, { key: 'db', property: 'password' }),
      ),
    );
    t.equal(fake.count('GetKey'), 1);
    t.equal(fake.count('GetCertificate'), 1);
    t.equal(fake.count('GetSecret'), 2, 'warm-up and db');
    t.equal(fake.count('Token'), 1, 'one Entra ID token for the three clients');
    t.equal(lookups[0]?.toString(), rsa.n);
    t.equal(lookups[3]?.toString(), 'RSA');
    t.same(lookups[1], der, 'the certificate as DER bytes');
    t.equal(lookups[2]?.toString(), CANARY);
    // decodingStrategy applies after the provider, as for any value.
    const b64 = await resolver.getValue(ref, 'a', { key: 'cert/tls', decodingStrategy: 'None' });
    t.same(b64, der);

    await t.rejects(resolver.getMap(ref, 'a', { key: 'key/signing' }), {
      code: 'ESW_PROVIDER_INVALID',
      message: /dataFrom.extract cannot read Key Vault keys/,
    });
    await t.rejects(resolver.getValue(ref, 'a', { key: 'cert/absent' }), {
      code: 'ESW_SECRET_NOT_FOUND',
      message: /key "cert\/absent" of ClusterSecretStore "azure": not found/,
    });
    const all = logs.join('\n');
    t.notOk(all.includes(CANARY), 'no value in logs');
    t.notOk(all.includes(CLIENT_SECRET), 'no credential in logs');
  },
);

t.test('metadataPolicy Fetch through the resolver: tags, one tag, extract of tags', async (t) => {
  const { fake, resolver, logs } = await setup(t);
  fake.put('api', CANARY, { tags: { env: 'prod', cfg: '{"region":"eu"}' }, created: 1_700_000_000 });
  const fetch = { key: 'api', metadataPolicy: 'Fetch' as const };
  const [all, env, region] = await Promise.all([
    resolver.getValue(ref, 'a', fetch),
    resolver.getValue(ref, 'b', { ...fetch, property: 'env' }),
    resolver.getValue(ref, 'c', { ...fetch, property: 'cfg.region' }),
  ]);
  t.equal(
    all.toString(),
    '{"attribute.created":"2023-11-14T22:13:20Z","attribute.updated":"2023-11-14T22:13:20Z","cfg":"{\\"region\\":\\"eu\\"}","env":"prod"}',
  );
  t.equal(env.toString(), 'prod');
  t.equal(region.toString(), 'eu');
  const map = await resolver.getMap(ref, 'a', fetch);
  t.same(Object.fromEntries([...map].map(([k, v]) => [k, v.toString()])), {
    api_env: 'prod',
    api_cfg_region: 'eu',
    'api_attribute.created': '2023-11-14T22:13:20Z',
    'api_attribute.updated': '2023-11-14T22:13:20Z',
  });
  t.equal(fake.count('GetSecret'), 1, 'one read serves every Fetch lookup of the key');
  // The value itself is a separate lookup and cache entry.
  t.equal((await resolver.getValue(ref, 'a', { key: 'api' })).toString(), CANARY);
  t.equal(fake.count('GetSecret'), 2);
  t.notOk(logs.join('\n').includes(CANARY));
});

t.test('useAzureSDK: true answers as ESO with the Azure SDK for Go: tags only', async (t) => {
  const { fake, resolver } = await setup(t, { useAzureSDK: true });
  fake.put('api', 'v', { tags: { env: 'prod' } });
  t.equal(
    (await resolver.getValue(ref, 'a', { key: 'api', metadataPolicy: 'Fetch' })).toString(),
    '{"env":"prod"}',
  );
});
