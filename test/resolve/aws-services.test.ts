/**
 * The resolver in front of the real AWS clients for Parameter Store (@aws-sdk/client-ssm) and
 * Certificate Manager (@aws-sdk/client-acm), and `metadataPolicy: Fetch` on all of them: the same
 * value cache, coalescing and batching as Secrets Manager, proven by call counts (never time).
 */
import { randomUUID } from 'node:crypto';
import t, { type Test } from 'tap';
import type { AwsProvider } from '../../src/api/types.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { createProviders } from '../../src/providers/registry.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { StoreResolver } from '../../src/resolve/resolver.ts';
import { createCertificates } from '../../src/server/certs.ts';
import { AwsAcmFake } from '../fakes/aws-acm.ts';
import { AwsSecretsManagerFake } from '../fakes/aws-secrets-manager.ts';
import { AwsSsmFake } from '../fakes/aws-ssm.ts';
import { secret, store } from './fixtures.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const CANARY = `CANARY-${randomUUID()}`;

function awsStore(name: string, service: AwsProvider['service'], extra: Partial<AwsProvider> = {}) {
  return store('ClusterSecretStore', name, undefined, {
    aws: {
      service,
      region: 'eu-west-1',
      auth: {
        secretRef: {
          accessKeyIDSecretRef: { name: 'aws-creds', key: 'id', namespace: 'ops' },
          secretAccessKeySecretRef: { name: 'aws-creds', key: 'key', namespace: 'ops' },
        },
      },
      ...extra,
    },
  });
}

async function setup(t: Test, opts: { now?: () => number } = {}) {
  const [ssm, acm, sm] = await Promise.all([
    AwsSsmFake.start(),
    AwsAcmFake.start(),
    AwsSecretsManagerFake.start(),
  ]);
  t.teardown(() => Promise.all([ssm.close(), acm.close(), sm.close()]));
  const registry = new MemoryRegistry();
  registry.upsert(secret('ops', 'aws-creds', { id: 'AKIDEXAMPLE', key: 'secret-key-example' }));
  registry.upsert(awsStore('ssm', 'ParameterStore'));
  registry.upsert(awsStore('acm', 'CertificateManager'));
  registry.upsert(awsStore('sm', 'SecretsManager'));
  const logs: string[] = [];
  const metrics = createMetrics();
  const resolver = new StoreResolver({
    registry,
    secrets: registry,
    providers: createProviders(),
    logger: createLogger({ level: 'debug', destination: { write: (s: string) => logs.push(s) } }),
    metrics,
    endpoints: { aws: sm.endpoint, awsSsm: ssm.endpoint, awsAcm: acm.endpoint },
    maxAttempts: 1,
    ...(opts.now ? { now: opts.now } : {}),
  });
  t.teardown(() => resolver.close());
  const leaks = async () => {
    const text = logs.join('\n') + (await metrics.registry.metrics());
    return text.includes(CANARY) || text.includes('PRIVATE KEY');
  };
  return { ssm, acm, sm, resolver, logs, leaks };
}

const SSM = { kind: 'ClusterSecretStore' as const, name: 'ssm' };
const ACM = { kind: 'ClusterSecretStore' as const, name: 'acm' };
const SM = { kind: 'ClusterSecretStore' as const, name: 'sm' };

t.test(
  'Parameter Store: 35 lookups of 25 distinct keys (versions too) arriving together = 3 GetParameters',
  async (t) => {
    const { ssm, resolver, leaks } = await setup(t);
    for (let i = 0; i < 22; i++)
      ssm.put(`/app/k${i}`, JSON.stringify({ v: `${CANARY}-${i}` }), { type: 'SecureString' });
    ssm.put('/app/k0', JSON.stringify({ v: 'newer' }), { type: 'SecureString', labels: ['live'] });
    const lookups = [
      ...Array.from({ length: 22 }, (_, i) => ({ key: `/app/k${i}`, property: 'v' })),
      { key: '/app/k0', version: '1', property: 'v' },
      { key: '/app/k0', version: 'live', property: 'v' },
      { key: '/app/k0', version: '2', property: 'v' },
      // The same keys again, from other ExternalSecrets: coalesced.
      ...Array.from({ length: 10 }, (_, i) => ({ key: `/app/k${i}`, property: 'v' })),
    ];
    const values = await Promise.all(lookups.map((ref, i) => resolver.getValue(SSM, `team-${i % 4}`, ref)));
    t.equal(ssm.count('GetParameters'), 3, '25 distinct names, 10 a call');
    t.equal(ssm.count('GetParameter'), 0);
    t.same(
      ssm.asked.map((a) => a.names.length).sort((a, b) => b - a),
      [10, 10, 5],
    );
    t.equal(String(values[0]), 'newer');
    t.equal(String(values[21]), `${CANARY}-21`);
    t.same(
      values.slice(22, 25).map(String),
      [`${CANARY}-0`, 'newer', 'newer'],
      'versions and labels in the batch',
    );
    // Cached now: every property of these keys costs nothing more.
    await resolver.getMap(SSM, 'team-9', { key: '/app/k3' });
    t.equal(ssm.total(), 3);
    t.notOk(await leaks(), 'values never reach logs or metrics');
  },
);

t.test('Parameter Store: a refresh cycle costs one call per unique key, batched', async (t) => {
  let now = 1_000_000;
  const { ssm, resolver } = await setup(t, { now: () => now });
  for (let i = 0; i < 12; i++) ssm.put(`/p/k${i}`, `v${i}`);
  const cycle = (stamp: number) =>
    Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        resolver.getValue(SSM, `ns-${i}`, { key: `/p/k${i % 12}` }, { fetchedAfter: stamp }),
      ),
    );
  await cycle(now);
  t.equal(ssm.count('GetParameters'), 2, '12 keys: 10 + 2');
  now += 5_000;
  await cycle(now);
  t.equal(ssm.count('GetParameters'), 4, 'the next cycle fetches each key once more, batched again');
  await cycle(now);
  t.equal(ssm.count('GetParameters'), 4, 'within a cycle the values are served from the cache');
});

t.test(
  'Certificate Manager: concurrent lookups coalesce; the bundle is cached; renewals re-export',
  async (t) => {
    let now = 1_000_000;
    const { acm, resolver, leaks } = await setup(t, { now: () => now });
    const issued = await createCertificates({ hosts: ['db.example.com'] });
    const arn = acm.put({ cert: issued.cert, chain: issued.caCert, key: issued.key });
    const values = await Promise.all(
      Array.from({ length: 8 }, (_, i) => resolver.getValue(ACM, `team-${i}`, { key: arn })),
    );
    t.equal(acm.count('DescribeCertificate'), 1, 'eight lookups, one call');
    t.equal(acm.count('ExportCertificate'), 1);
    t.ok(values.every((v) => v.equals(values[0] as Buffer)));
    t.match(String(values[0]), /-----BEGIN PRIVATE KEY-----/);
    now += 60_000;
    await resolver.getValue(ACM, 'team-0', { key: arn }, { fetchedAfter: now });
    t.equal(acm.count('DescribeCertificate'), 2, 'a refresh checks the serial');
    t.equal(acm.count('ExportCertificate'), 1, 'and does not export an unchanged certificate');
    t.notOk(await leaks(), 'no private key in logs or metrics');
  },
);

t.test(
  'metadataPolicy Fetch: property selects one tag, none returns the map; cached apart from values',
  async (t) => {
    const { ssm, sm, resolver, leaks } = await setup(t);
    sm.put('app/db', CANARY, { tags: { team: 'payments', env: 'prod' } });
    ssm.put('/app/db', CANARY, { type: 'SecureString', tags: { team: 'ledger' } });

    t.equal(
      String(await resolver.getValue(SM, 'a', { key: 'app/db', metadataPolicy: 'Fetch', property: 'team' })),
      'payments',
    );
    t.equal(
      String(await resolver.getValue(SM, 'b', { key: 'app/db', metadataPolicy: 'Fetch' })),
      '{"env":"prod","team":"payments"}',
    );
    const map = await resolver.getMap(SM, 'c', { key: 'app/db', metadataPolicy: 'Fetch' });
    t.same(Object.fromEntries([...map].map(([k, v]) => [k, String(v)])), { env: 'prod', team: 'payments' });
    t.equal(sm.count('DescribeSecret'), 1, 'three lookups of the tags, one DescribeSecret');
    t.equal(sm.count('GetSecretValue') + sm.count('BatchGetSecretValue'), 0, 'the value is never read');

    t.equal(
      String(await resolver.getValue(SM, 'a', { key: 'app/db' })),
      CANARY,
      'the value has its own cache entry',
    );
    t.equal(sm.count('BatchGetSecretValue') + sm.count('GetSecretValue'), 1);

    t.equal(
      String(
        await resolver.getValue(SSM, 'a', { key: '/app/db', metadataPolicy: 'Fetch', property: 'team' }),
      ),
      'ledger',
    );
    t.equal(ssm.count('ListTagsForResource'), 1);
    t.equal(ssm.count('GetParameter') + ssm.count('GetParameters'), 0);
    await t.rejects(
      resolver.getValue(SSM, 'a', { key: '/app/db', metadataPolicy: 'Fetch', property: 'owner' }),
      {
        code: 'ESW_PROPERTY_NOT_FOUND',
      },
    );
    await t.rejects(
      resolver.getValue(ACM, 'a', {
        key: 'arn:aws:acm:eu-west-1:123456789012:certificate/x',
        metadataPolicy: 'Fetch',
      }),
      {
        code: 'ESW_PROVIDER_INVALID',
        message: /metadataPolicy Fetch is not supported by this store's provider/,
      },
    );
    t.notOk(await leaks());
  },
);
