/**
 * The resolver in front of a real provider: the gcpsm provider's SecretManagerServiceClient
 * (gRPC) against the in-process fake, through the provider registry.
 */
import { randomUUID } from 'node:crypto';
import t, { type Test } from 'tap';
import { createLogger } from '../../src/observability/logger.ts';
import { createProviders } from '../../src/providers/registry.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { StoreResolver } from '../../src/resolve/resolver.ts';
import { GcpSecretManagerFake, GrpcCode } from '../fakes/gcp-secret-manager.ts';
import { store } from './fixtures.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const CANARY = `CANARY-${randomUUID()}`;
const ref = { kind: 'ClusterSecretStore' as const, name: 'gcp' };

async function setup(t: Test) {
  const fake = new GcpSecretManagerFake();
  const { host, port } = await fake.start();
  t.teardown(() => fake.close());
  const registry = new MemoryRegistry();
  registry.upsert(store('ClusterSecretStore', 'gcp', undefined, { gcpsm: { projectID: 'proj' } }));
  const logs: string[] = [];
  const clock = { now: 5_000_000 };
  const resolver = new StoreResolver({
    registry,
    secrets: registry,
    providers: createProviders(),
    logger: createLogger({ level: 'debug', destination: { write: (s: string) => logs.push(s) } }),
    endpoints: { gcp: { host, port, insecure: true } },
    now: () => clock.now,
    maxAttempts: 1,
  });
  t.teardown(() => resolver.close());
  return { fake, resolver, logs, clock };
}

t.test('the registry lists all five providers, each under its own spec.provider key', async (t) => {
  const providers = createProviders();
  t.same([...providers.keys()].sort(), ['aws', 'azurekv', 'fake', 'gcpsm', 'vault']);
  for (const [name, p] of providers) t.equal(p.name, name);
});

t.test('100 concurrent lookups of one key: 1 AccessSecretVersion', async (t) => {
  const { fake, resolver, logs } = await setup(t);
  fake.addSecret({
    project: 'proj',
    id: 'db',
    versions: [JSON.stringify({ user: 'app', password: CANARY })],
  });
  const values = await Promise.all(
    Array.from({ length: 100 }, (_, i) =>
      resolver.getValue(ref, `ns-${i % 7}`, { key: 'db', property: i % 2 ? 'user' : 'password' }),
    ),
  );
  t.equal(fake.calls.AccessSecretVersion, 1);
  t.equal(values[0]!.toString(), CANARY);
  t.equal(values[1]!.toString(), 'app');
  t.notOk(logs.join('\n').includes(CANARY), 'canary absent from logs');
});

t.test('cached until the TTL, then fetched again', async (t) => {
  const { fake, resolver, clock } = await setup(t);
  fake.addSecret({ project: 'proj', id: 'k', versions: ['v1'] });
  t.equal((await resolver.getValue(ref, 'a', { key: 'k' })).toString(), 'v1');
  fake.addSecret({ project: 'proj', id: 'k', versions: ['v1', 'v2'] });
  clock.now += 29_000;
  t.equal((await resolver.getValue(ref, 'a', { key: 'k' })).toString(), 'v1');
  t.equal(fake.calls.AccessSecretVersion, 1);
  clock.now += 2_000;
  t.equal((await resolver.getValue(ref, 'a', { key: 'k' })).toString(), 'v2');
  t.equal(fake.calls.AccessSecretVersion, 2);
  t.equal(
    (await resolver.getValue(ref, 'a', { key: 'k', version: '1' })).toString(),
    'v1',
    'a pinned version',
  );
});

t.test('provider errors arrive as catalog errors naming key and store, never the details', async (t) => {
  const { fake, resolver } = await setup(t);
  const missing = await resolver.getValue(ref, 'a', { key: 'absent' }).catch((e: unknown) => e);
  t.match(missing, {
    code: 'ESW_SECRET_NOT_FOUND',
    status: 404,
    message: /key "absent" of ClusterSecretStore "gcp"/,
  });
  fake.addSecret({ project: 'proj', id: 'locked', versions: ['x'] });
  fake.setFault('locked', { code: GrpcCode.PERMISSION_DENIED, details: CANARY });
  const denied = (await resolver.getValue(ref, 'a', { key: 'locked' }).catch((e: unknown) => e)) as Error;
  t.match(denied, { code: 'ESW_PROVIDER_FORBIDDEN', status: 403 });
  t.notOk(denied.message.includes(CANARY));
});

t.test('metadataPolicy Fetch: labels and annotations as ESO returns them, never the payload', async (t) => {
  const { fake, resolver, logs } = await setup(t);
  fake.addSecret({
    project: 'proj',
    id: 'api',
    versions: [CANARY],
    labels: { team: 'payments', env: 'prod' },
    annotations: { 'example.com/owner': 'a&b', config: '{"tier":"gold"}' },
  });
  fake.addSecret({ project: 'proj', id: 'bare', versions: ['x'] });
  const fetch = { key: 'api', metadataPolicy: 'Fetch' as const };
  const [all, team, owner, labels] = await Promise.all([
    resolver.getValue(ref, 'a', fetch),
    resolver.getValue(ref, 'a', { ...fetch, property: 'labels.team' }),
    resolver.getValue(ref, 'b', { ...fetch, property: 'annotations.example.com/owner' }),
    resolver.getValue(ref, 'c', { ...fetch, property: 'labels' }),
  ]);
  t.equal(
    all.toString(),
    '{"annotations":{"config":"{\\"tier\\":\\"gold\\"}","example.com/owner":"a\\u0026b"},"labels":{"env":"prod","team":"payments"}}',
    "Go's JSON: keys sorted, & escaped",
  );
  t.equal(team.toString(), 'payments');
  t.equal(owner.toString(), 'a&b', 'an annotation key with dots is one key');
  t.equal(labels.toString(), '{"env":"prod","team":"payments"}');
  t.equal(fake.calls.GetSecret, 1, 'one GetSecret for every Fetch lookup');
  t.equal(fake.calls.AccessSecretVersion, 0, 'the payload is never read');
  t.notOk(all.toString().includes(CANARY));

  t.equal(
    (await resolver.getValue(ref, 'a', { key: 'bare', metadataPolicy: 'Fetch' })).toString(),
    '{"annotations":null,"labels":null}',
    'a secret without labels: null, as a nil map in Go',
  );
  const map = await resolver.getMap(ref, 'a', { ...fetch, property: 'annotations' });
  t.same(Object.fromEntries([...map].map(([k, v]) => [k, v.toString()])), {
    config: '{"tier":"gold"}',
    'example.com_owner': 'a&b', // conversionStrategy Default makes the key a valid Secret key
  });
  const both = await resolver.getMap(ref, 'a', fetch);
  t.same(Object.fromEntries([...both].map(([k, v]) => [k, v.toString()])), {
    annotations: '{"config":"{\\"tier\\":\\"gold\\"}","example.com/owner":"a\\u0026b"}',
    labels: '{"env":"prod","team":"payments"}',
  });
  t.same(
    [...(await resolver.getMap(ref, 'a', { key: 'bare', property: 'labels', metadataPolicy: 'Fetch' }))],
    [],
  );

  await t.rejects(resolver.getValue(ref, 'a', { ...fetch, property: 'labels.absent' }), {
    code: 'ESW_PROPERTY_NOT_FOUND',
    message: /label "absent" not found on secret "api"/,
  });
  await t.rejects(resolver.getValue(ref, 'a', { ...fetch, property: 'payload' }), {
    code: 'ESW_PROPERTY_NOT_FOUND',
    message: /starts with "annotations" or "labels"/,
  });
  await t.rejects(resolver.getValue(ref, 'a', { key: 'absent', metadataPolicy: 'Fetch' }), {
    code: 'ESW_SECRET_NOT_FOUND',
  });
  t.notOk(logs.join('\n').includes(CANARY));
});
