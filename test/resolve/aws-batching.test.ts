/**
 * The resolver in front of the real AWS provider (@aws-sdk/client-secrets-manager) and the
 * JSON 1.1 wire fake: lookups arriving together are batched 20 keys per BatchGetSecretValue,
 * and concurrent lookups of one key cost one call.
 */
import { randomUUID } from 'node:crypto';
import t, { type Test } from 'tap';
import { createLogger } from '../../src/observability/logger.ts';
import { createProviders } from '../../src/providers/registry.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { StoreResolver } from '../../src/resolve/resolver.ts';
import { AwsSecretsManagerFake } from '../fakes/aws-secrets-manager.ts';
import { addAwsClusterStore } from './fixtures.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const CANARY = `CANARY-${randomUUID()}`;
const ref = { kind: 'ClusterSecretStore' as const, name: 'aws' };

async function setup(t: Test) {
  const fake = await AwsSecretsManagerFake.start();
  t.teardown(() => fake.close());
  const registry = new MemoryRegistry();
  addAwsClusterStore(registry);
  const logs: string[] = [];
  const resolver = new StoreResolver({
    registry,
    secrets: registry,
    providers: createProviders(),
    logger: createLogger({ level: 'debug', destination: { write: (s: string) => logs.push(s) } }),
    endpoints: { aws: fake.endpoint },
    maxAttempts: 1,
  });
  t.teardown(() => resolver.close());
  return { fake, resolver, logs };
}

t.test('50 distinct AWS keys looked up together: 3 BatchGetSecretValue calls', async (t) => {
  const { fake, resolver, logs } = await setup(t);
  for (let i = 0; i < 50; i++) fake.put(`app/key-${i}`, JSON.stringify({ value: `${CANARY}-${i}` }));
  const values = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      resolver.getValue(ref, `team-${i % 3}`, { key: `app/key-${i}`, property: 'value' }),
    ),
  );
  t.equal(fake.count('BatchGetSecretValue'), 3);
  t.equal(fake.count('GetSecretValue'), 0);
  t.same(
    fake.asked
      .filter((a) => a.op === 'BatchGetSecretValue')
      .map((a) => a.ids.length)
      .sort((a, b) => b - a),
    [20, 20, 10],
  );
  t.same(
    values.map(String),
    Array.from({ length: 50 }, (_, i) => `${CANARY}-${i}`),
    'every waiter receives its own key',
  );
  // Served from the cache now: no more calls.
  await Promise.all(
    Array.from({ length: 50 }, (_, i) => resolver.getValue(ref, 'team-0', { key: `app/key-${i}` })),
  );
  t.equal(fake.count('BatchGetSecretValue'), 3);
  t.notOk(logs.join('\n').includes(CANARY), 'canary absent from logs');
});

t.test('100 concurrent lookups of one AWS key: 1 call', async (t) => {
  const { fake, resolver } = await setup(t);
  fake.put('db/creds', JSON.stringify({ username: 'app', password: CANARY }));
  const values = await Promise.all(
    Array.from({ length: 100 }, (_, i) =>
      resolver.getValue(ref, 'team-a', { key: 'db/creds', property: i % 2 ? 'username' : 'password' }),
    ),
  );
  t.equal(fake.count('GetSecretValue') + fake.count('BatchGetSecretValue'), 1);
  t.equal(values[0]!.toString(), CANARY);
  t.equal(values[1]!.toString(), 'app');
});

t.test('a missing key inside a batch fails only its own lookup', async (t) => {
  const { fake, resolver } = await setup(t);
  fake.put('present-1', 'one');
  fake.put('present-2', 'two');
  const results = await Promise.allSettled(
    ['present-1', 'absent', 'present-2'].map((key) => resolver.getValue(ref, 'team-a', { key })),
  );
  t.equal(fake.count('BatchGetSecretValue'), 1);
  t.match(results[0], { status: 'fulfilled' });
  t.equal((results[0] as PromiseFulfilledResult<Buffer>).value.toString(), 'one');
  t.match(results[1], {
    status: 'rejected',
    reason: { code: 'ESW_SECRET_NOT_FOUND', message: /key "absent" of ClusterSecretStore "aws"/ },
  });
  t.equal((results[2] as PromiseFulfilledResult<Buffer>).value.toString(), 'two');
});
