/**
 * The provider bill of a refresh cycle, on the real AWS SDK and its JSON 1.1 wire fake:
 * 1,000 ExternalSecrets over 100 remote keys. Taken together (the first pass) they cost at most
 * 5 BatchGetSecretValue calls (20 keys a call) and no single GetSecretValue; routine cycles,
 * spread over the interval by key-phased slots, cost at most one call per key (fewer when keys
 * share a slot and batch), and only targets whose value changed are written.
 */
import t, { type Test } from 'tap';
import type { ExternalSecret } from '../../src/api/types.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createProviders } from '../../src/providers/registry.ts';
import { Refresher } from '../../src/refresher/refresher.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { StoreResolver } from '../../src/resolve/resolver.ts';
import { AwsSecretsManagerFake } from '../fakes/aws-secrets-manager.ts';
import { addAwsClusterStore } from '../resolve/fixtures.ts';
import { MemoryKube } from './memory-kube.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const HOUR = 3_600_000;

function es(i: number): ExternalSecret {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name: `es-${i}`, namespace: `team-${i % 4}`, uid: `uid-${i}`, generation: 1 },
    spec: {
      refreshInterval: '1h',
      secretStoreRef: { name: 'aws', kind: 'ClusterSecretStore' },
      target: { name: `target-${i}` },
      data: [{ secretKey: 'password', remoteRef: { key: `app/key-${i % 100}`, property: 'password' } }],
    },
  };
}

/**
 * A refresher over one AWS ClusterSecretStore on the wire fake, the in-memory Kubernetes port and
 * a clock the test moves (`clock.now`); everything is closed when the test ends.
 */
async function awsCycle(
  t: Test,
  start: string,
  options: { concurrency?: number; roundSize?: number },
): Promise<{ aws: AwsSecretsManagerFake; kube: MemoryKube; refresher: Refresher; clock: { now: number } }> {
  const aws = await AwsSecretsManagerFake.start();
  t.teardown(() => aws.close());
  const clock = { now: Date.parse(start) };
  const registry = new MemoryRegistry();
  addAwsClusterStore(registry);
  const logger = createLogger({ level: 'warn', destination: { write: () => undefined } });
  const resolver = new StoreResolver({
    registry,
    secrets: registry,
    providers: createProviders(),
    logger,
    endpoints: { aws: aws.endpoint },
    maxAttempts: 1,
    now: () => clock.now,
  });
  t.teardown(() => resolver.close());
  const kube = new MemoryKube();
  const refresher = new Refresher({ resolver, kube, logger, now: () => clock.now, ...options });
  t.teardown(() => refresher.stop());
  return { aws, kube, refresher, clock };
}

t.test(
  '1,000 ExternalSecrets over 100 AWS keys: 5 batches taken together, at most a call per key a cycle',
  async (t) => {
    const { aws, kube, refresher, clock } = await awsCycle(t, '2026-11-28T10:00:00Z', { concurrency: 16 });

    for (let k = 0; k < 100; k++) aws.put(`app/key-${k}`, JSON.stringify({ password: `v1-${k}` }));
    for (let i = 0; i < 1000; i++) refresher.upsertExternalSecret(es(i));
    refresher.start();
    await refresher.tick();
    t.equal(kube.secrets.size, 1000, 'every target created');
    t.equal(
      Buffer.from(kube.secrets.get('team-3/target-555')?.data?.password ?? '', 'base64').toString(),
      'v1-55',
    );
    const first = { batch: aws.count('BatchGetSecretValue'), single: aws.count('GetSecretValue') };
    t.ok(first.batch <= 5, `first pass: ${first.batch} BatchGetSecretValue`);
    t.equal(first.single, 0, 'no single GetSecretValue');

    // Routine cycles: the key-phased slots spread the 100 keys over the hour; walk it in steps.
    const writes = kube.secretWrites();
    for (let k = 0; k < 100; k += 2) aws.put(`app/key-${k}`, JSON.stringify({ password: `v2-${k}` }));
    const before = { batch: aws.count('BatchGetSecretValue'), single: aws.count('GetSecretValue') };
    let synced = 0;
    for (let step = 0; step < 60; step++) {
      clock.now += HOUR / 60;
      synced += await refresher.tick();
    }
    t.equal(synced, 1000, 'one hour: every ExternalSecret refreshed once');
    const batches = aws.count('BatchGetSecretValue') - before.batch;
    const singles = aws.count('GetSecretValue') - before.single;
    t.ok(batches + singles <= 100, `one cycle: ${batches} batches + ${singles} single calls for 100 keys`);
    t.ok(batches <= 5, 'the cycle is cut into rounds of at most 20 keys: at most 5 BatchGetSecretValue');
    t.equal(singles, 0, 'no key is fetched alone');
    t.equal(kube.secretWrites() - writes, 500, 'only the 500 targets of changed keys are written');
    t.equal(
      Buffer.from(kube.secrets.get('team-2/target-2')?.data?.password ?? '', 'base64').toString(),
      'v2-2',
    );
  },
);

t.test('a cycle taken behind schedule keeps each slot whole: no key fetched alone', async (t) => {
  // 100 ExternalSecrets over 100 keys: 5 slots of 20 keys an interval. Rounds of 21 with the
  // whole interval due at once (the refresher ran behind): cut at 21, each round read 20 keys in a
  // batch and the 21st alone (a GetSecretValue); the slot it came from was read in two.
  const { aws, kube, refresher, clock } = await awsCycle(t, '2026-12-02T10:00:00Z', { roundSize: 21 });
  for (let k = 0; k < 100; k++) aws.put(`app/key-${k}`, JSON.stringify({ password: `v1-${k}` }));
  for (let i = 0; i < 100; i++)
    refresher.upsertExternalSecret({
      ...es(i),
      spec: {
        ...es(i).spec,
        data: [{ secretKey: 'password', remoteRef: { key: `app/key-${i}`, property: 'password' } }],
      },
    });
  refresher.start();
  await refresher.tick();
  t.equal(kube.secrets.size, 100, 'first pass: every target written');
  const before = { batch: aws.count('BatchGetSecretValue'), single: aws.count('GetSecretValue') };
  clock.now += 2 * HOUR;
  t.equal(await refresher.tick(), 100, 'the whole interval at once: every ExternalSecret refreshed');
  t.equal(aws.count('GetSecretValue') - before.single, 0, 'no key fetched alone');
  t.equal(aws.count('BatchGetSecretValue') - before.batch, 5, 'one batch per slot of 20 keys');
});
