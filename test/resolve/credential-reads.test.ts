/**
 * How often a store's credential Secret is read from the API server (issue #12): once to build
 * the client, then once a `credentialsRecheckMs` period while the client is used — and at once,
 * bounded, when the provider refuses the credentials or the store is touched. Real AWS SDK on its
 * wire fake (which records the access key each call was signed with), the refresher on a clock
 * the test moves, and the cluster's Secret reader over an API double that counts the GETs.
 */
import t, { type Test } from 'tap';
import type { ExternalSecret, Secret, SecretStore } from '../../src/api/types.ts';
import { ApiSecretReader } from '../../src/kube/secret-reader.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createProviders } from '../../src/providers/registry.ts';
import { Refresher } from '../../src/refresher/refresher.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { isTransient, StoreResolver } from '../../src/resolve/resolver.ts';
import { AwsSecretsManagerFake } from '../fakes/aws-secrets-manager.ts';
import { MemoryKube } from '../refresher/memory-kube.ts';
import { addAwsClusterStore, secret } from './fixtures.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const MINUTE = 60_000;
const PERIOD = 10 * MINUTE;
const OLD_KEY = 'secret-key-example';
const NEW_KEY = `CANARY-rotated-${Math.random().toString(36).slice(2)}`;

function es(i: number): ExternalSecret {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name: `es-${i}`, namespace: 'team-a', uid: `uid-${i}`, generation: 1 },
    spec: {
      refreshInterval: '1m',
      secretStoreRef: { name: 'aws', kind: 'ClusterSecretStore' },
      target: { name: `target-${i}` },
      data: [{ secretKey: 'password', remoteRef: { key: `app/key-${i}`, property: 'password' } }],
    },
  };
}

/**
 * The AWS ClusterSecretStore `aws` (credentials in `ops/aws-creds`), 20 ExternalSecrets on it,
 * the resolver with the cluster's default period, and the refresher; every GET of the credential
 * Secret counted, failing while `api.down`, unanswered from `stall()` until its release. Logs and
 * errors are kept for the canary scan.
 */
async function credentialCycle(t: Test, opts: { credentialsWaitMs?: number } = {}) {
  const aws = await AwsSecretsManagerFake.start();
  t.teardown(() => aws.close());
  const clock = { now: Date.parse('2026-12-03T01:00:00Z') };
  const registry = new MemoryRegistry();
  addAwsClusterStore(registry);
  const api = { gets: 0, down: false, stalled: undefined as Promise<void> | undefined };
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (l: string) => lines.push(l) } });
  const resolver = new StoreResolver({
    registry,
    // As in cluster mode: the API reader, its short cache, and GETs the double counts.
    secrets: new ApiSecretReader(
      {
        getSecret: async (ns, name) => {
          api.gets++;
          await api.stalled;
          if (api.down) throw new Error('API server unavailable');
          return (await registry.readSecret(ns, name)) ?? null;
        },
      },
      { now: () => clock.now },
    ),
    providers: createProviders(),
    logger,
    endpoints: { aws: aws.endpoint },
    maxAttempts: 1,
    now: () => clock.now,
    credentialsRecheckMs: PERIOD,
    ...opts,
  });
  t.teardown(() => resolver.close());
  const kube = new MemoryKube();
  const refresher = new Refresher({ resolver, kube, logger, now: () => clock.now });
  t.teardown(() => refresher.stop());
  for (let i = 0; i < 20; i++) aws.put(`app/key-${i}`, JSON.stringify({ password: `v1-${i}` }));
  for (let i = 0; i < 20; i++) refresher.upsertExternalSecret(es(i));
  const rotate = () =>
    registry.upsert(secret('ops', 'aws-creds', { id: 'AKIDROTATED', key: NEW_KEY }) as Secret);
  const store = registry.getStore('ClusterSecretStore', 'aws', undefined) as SecretStore;
  const password = (i: number) =>
    Buffer.from(kube.secrets.get(`team-a/target-${i}`)?.data?.password ?? '', 'base64').toString();
  const leaked = (...errors: unknown[]) => {
    const text = [
      ...lines,
      ...kube.events.map((e) => JSON.stringify(e)),
      ...errors.map((e) => `${String(e)} ${JSON.stringify(e)}`),
    ].join('\n');
    return text.includes(NEW_KEY) || text.includes(OLD_KEY);
  };
  /** The API server stops answering Secret GETs until the returned function is called. */
  const stall = () => {
    let release = () => {};
    api.stalled = new Promise<void>((r) => (release = r));
    return () => {
      api.stalled = undefined;
      release();
    };
  };
  return { aws, api, clock, registry, resolver, refresher, kube, rotate, store, password, leaked, stall };
}

t.test('an hour of idle cycles reads the credential Secret once a period, not once a minute', async (t) => {
  const { aws, api, clock, refresher } = await credentialCycle(t);
  refresher.start();
  await refresher.tick();
  t.equal(api.gets, 1, 'read once to build the client');
  const calls = aws.count('BatchGetSecretValue');
  for (let step = 0; step < 60; step++) {
    clock.now += MINUTE;
    await refresher.tick();
  }
  t.equal(aws.count('BatchGetSecretValue') - calls, 60, 'a cycle a minute, the store used in each');
  // The client read its Secret at 01:00; lookups at 01:10, 01:20 … 02:00 re-read it.
  t.equal(api.gets - 1, 6, 'six re-reads in the hour (the 60 s timer before: 60)');
});

t.test('a rotated credential Secret is used from the first lookup after the period', async (t) => {
  const { aws, clock, refresher, rotate, leaked } = await credentialCycle(t);
  refresher.start();
  await refresher.tick();
  clock.now += 3 * MINUTE;
  await refresher.tick();
  rotate();
  // The old key still works: the client keeps it until the period is over.
  for (let step = 0; step < 6; step++) {
    clock.now += MINUTE;
    await refresher.tick();
  }
  t.notOk(aws.accessKeys.includes('AKIDROTATED'), 'minutes 4 to 9: the old key, as read');
  clock.now += MINUTE;
  await refresher.tick(); // 01:10: this lookup re-reads the Secret (and still signs with the old key)
  const switched = aws.accessKeys.length;
  clock.now += MINUTE;
  await refresher.tick();
  t.ok(aws.accessKeys.length > switched);
  t.same(
    aws.accessKeys.slice(switched).filter((k) => k !== 'AKIDROTATED'),
    [],
    'from the next cycle on, every call is signed with the rotated key',
  );
  t.notOk(leaked(), 'neither key in a log or event');
});

t.test(
  'a revoked key: the Secret is re-read at once and the lookup retried with the rotated key',
  async (t) => {
    const { aws, api, clock, refresher, rotate, password, leaked } = await credentialCycle(t);
    refresher.start();
    await refresher.tick();
    clock.now += 3 * MINUTE;
    await refresher.tick();
    const gets = api.gets;
    rotate();
    aws.revoked.add('AKIDEXAMPLE');
    for (let i = 0; i < 20; i++) aws.put(`app/key-${i}`, JSON.stringify({ password: `v2-${i}` }));
    clock.now += MINUTE;
    await refresher.tick();
    t.equal(api.gets - gets, 1, 'one GET: the re-read after the refusal, which the new client is built from');
    t.equal(password(7), 'v2-7', 'the same cycle synced with the rotated key');
    t.ok(aws.accessKeys.includes('AKIDEXAMPLE'), 'the refused call was signed with the old key');
    t.equal(aws.accessKeys.at(-1), 'AKIDROTATED');
    t.notOk(leaked(), 'neither key in a log or event');
  },
);

t.test('refusals re-read the Secret at most once per 30 s; a failed read is retried', async (t) => {
  const { aws, api, clock, resolver, rotate } = await credentialCycle(t);
  const ref = { kind: 'ClusterSecretStore' as const, name: 'aws' };
  const lookup = (i: number) => resolver.getValue(ref, 'team-a', { key: `app/key-${i}` });
  await lookup(0);
  t.equal(api.gets, 1);
  aws.revoked.add('AKIDEXAMPLE'); // revoked, and the Secret not rotated yet
  clock.now += MINUTE;
  for (let i = 1; i < 6; i++) await t.rejects(lookup(i), { code: 'ESW_PROVIDER_FORBIDDEN' });
  t.equal(api.gets, 2, 'five refusals in a row: one re-read');
  clock.now += 29_999;
  await t.rejects(lookup(6), { code: 'ESW_PROVIDER_FORBIDDEN' });
  t.equal(api.gets, 2, 'none within 30 s of the last');

  api.down = true;
  clock.now += 1;
  await t.rejects(lookup(7), { code: 'ESW_PROVIDER_FORBIDDEN' });
  t.equal(api.gets, 3, '30 s on: re-read (and the read fails)');

  api.down = false;
  rotate();
  clock.now += 30_000;
  t.equal(String(await lookup(8)), JSON.stringify({ password: 'v1-8' }), 'rotated: the lookup succeeds');
  t.equal(api.gets, 4, 'the failed read was not kept: read again (the new client is built from it)');
});

t.test(
  'a touched store re-reads its credentials before its next lookups, at most once per 30 s',
  async (t) => {
    const { aws, api, clock, resolver, rotate, store } = await credentialCycle(t);
    const ref = { kind: 'ClusterSecretStore' as const, name: 'aws' };
    const lookup = (i: number) => resolver.getValue(ref, 'team-a', { key: `app/key-${i}` });
    await lookup(0);
    t.equal(api.gets, 1);
    clock.now += 1_000;
    rotate(); // a rotation job: the Secret, then POST /refresh (the store annotated) a second later
    resolver.storeTouched(store);
    await lookup(1);
    t.equal(api.gets, 2, 'one GET: the re-read, which the new client is built from');
    t.equal(aws.accessKeys.at(-1), 'AKIDROTATED', 'the lookup after the touch used the rotated key');
    await lookup(2);
    resolver.storeTouched(store);
    await lookup(3);
    clock.now += 29_999;
    resolver.storeTouched(store);
    await lookup(4);
    t.equal(api.gets, 3, "the new client's first touch re-reads; the next within 30 s does not");
    clock.now += 1;
    resolver.storeTouched(store);
    await lookup(5);
    t.equal(api.gets, 4, '30 s on: re-read');
    t.equal(
      aws.accessKeys.filter((k) => k !== 'AKIDROTATED').length,
      1,
      'only the first lookup used the old key',
    );
  },
);

const ref = { kind: 'ClusterSecretStore' as const, name: 'aws' };
/** Lets a re-read whose GET was just answered finish (the double answers in a microtask). */
const settle = () => new Promise((r) => setImmediate(r));

t.test(
  'a touched store whose re-read hangs: a lookup with a deadline goes on with the client it has',
  async (t) => {
    // The wait's bound fires long before the test's deadline: the GET is not answered until the
    // lookup is back, whatever the machine's speed.
    const { aws, api, resolver, rotate, store, leaked, stall } = await credentialCycle(t, {
      credentialsWaitMs: 1,
    });
    await resolver.getValue(ref, 'team-a', { key: 'app/key-0' });
    rotate();
    const release = stall();
    resolver.storeTouched(store);
    const deadline = new AbortController();
    const value = await resolver.getValue(ref, 'team-a', { key: 'app/key-1' }, { signal: deadline.signal });
    t.equal(String(value), JSON.stringify({ password: 'v1-1' }), "the existing client's value");
    t.notOk(deadline.signal.aborted, 'before its deadline');
    t.equal(api.gets, 2, 'the re-read was sent and is still unanswered');
    t.equal(aws.accessKeys.at(-1), 'AKIDEXAMPLE', 'signed with the key the client has');

    release();
    await settle();
    await resolver.getValue(ref, 'team-a', { key: 'app/key-2' });
    t.equal(aws.accessKeys.at(-1), 'AKIDROTATED', 'the answer, once back, is used by the next lookup');
    t.equal(api.gets, 2, 'the new client is built from that answer');
    t.notOk(leaked(), 'neither key in a log');
  },
);

t.test(
  "a touched store whose re-read hangs: the lookup's deadline ends its wait with a retryable error",
  async (t) => {
    const { aws, resolver, rotate, store, leaked, stall } = await credentialCycle(t, {
      credentialsWaitMs: 10 * MINUTE,
    });
    await resolver.getValue(ref, 'team-a', { key: 'app/key-0' });
    rotate();
    const release = stall();
    resolver.storeTouched(store);
    const deadline = new AbortController();
    const outcome = resolver
      .getValue(ref, 'team-a', { key: 'app/key-1' }, { signal: deadline.signal })
      .then(String, (err: unknown) => err);
    await settle();
    deadline.abort(); // the admission's deadline
    release(); // after it: a lookup still waiting would get the rotated key's value
    const err = await outcome;
    t.match(err, {
      code: 'ESW_KUBE',
      message: /^ClusterSecretStore "aws": its credential Secrets are being read again \(store touched\)/,
    });
    t.ok(isTransient(err), 'retryable');
    await settle();
    await resolver.getValue(ref, 'team-a', { key: 'app/key-2' });
    t.equal(aws.accessKeys.at(-1), 'AKIDROTATED', 'the re-read went on; the next lookup uses it');
    t.notOk(leaked(err), 'neither key in a log or the error');
  },
);

t.test(
  'a refused lookup whose re-read hangs fails with a retryable error; the rotation is used once it answers',
  async (t) => {
    const { aws, api, clock, resolver, rotate, leaked, stall } = await credentialCycle(t, {
      credentialsWaitMs: 1,
    });
    await resolver.getValue(ref, 'team-a', { key: 'app/key-0' });
    rotate();
    aws.revoked.add('AKIDEXAMPLE');
    clock.now += MINUTE;
    const release = stall();
    const deadline = new AbortController();
    const err = await resolver
      .getValue(ref, 'team-a', { key: 'app/key-1' }, { signal: deadline.signal })
      .then(String, (e: unknown) => e);
    t.match(err, {
      code: 'ESW_KUBE',
      message: /^ClusterSecretStore "aws": .*\(refused by the provider\).*; retry$/,
    });
    t.ok(isTransient(err), 'retryable, where the refusal was not');
    t.notOk(deadline.signal.aborted, 'before its deadline');
    t.equal(api.gets, 2, 'the re-read was sent and is still unanswered');

    release();
    await settle();
    t.equal(
      String(await resolver.getValue(ref, 'team-a', { key: 'app/key-1' })),
      JSON.stringify({ password: 'v1-1' }),
    );
    t.equal(aws.accessKeys.at(-1), 'AKIDROTATED');
    t.notOk(leaked(err), 'neither key in a log or the error');
  },
);

t.test('a refused store status check re-reads the Secret at once, at most once per 30 s', async (t) => {
  const { aws, api, clock, resolver, rotate, store, leaked } = await credentialCycle(t);
  await resolver.getValue(ref, 'team-a', { key: 'app/key-0' });
  t.equal(api.gets, 1);
  aws.revoked.add('AKIDEXAMPLE'); // revoked, the Secret not rotated yet
  clock.now += MINUTE;
  const first = await resolver.validateStore(store);
  t.match(first, { stage: 'probe', error: { code: 'ESW_PROVIDER_FORBIDDEN' } });
  await settle();
  t.equal(api.gets, 2, 'the refused probe re-read the Secret, with no lookup');
  clock.now += 29_999;
  t.match(await resolver.validateStore(store), { stage: 'probe' });
  await settle();
  t.equal(api.gets, 2, 'none within 30 s of the last');

  rotate();
  clock.now += 1;
  t.match(
    await resolver.validateStore(store),
    { stage: 'probe' },
    'this check is not held up by its re-read',
  );
  await settle();
  t.equal(api.gets, 3, '30 s on: re-read, and the rotation found');
  t.equal(await resolver.validateStore(store), undefined, 'the next check: valid, with the rotated key');
  t.equal(aws.accessKeys.at(-1), 'AKIDROTATED');
  t.notOk(leaked(first?.error), 'neither key in a log or the status error');
});

t.test(
  'a credential Secret an informer sees change switches the client at once, past the reader cache',
  async (t) => {
    const { aws, api, registry, resolver, rotate, leaked } = await credentialCycle(t);
    await resolver.getValue(ref, 'team-a', { key: 'app/key-0' });
    t.equal(api.gets, 1);
    const asRead = (await registry.readSecret('ops', 'aws-creds')) as Secret;
    resolver.credentialsChanged('ops', 'aws-creds', asRead); // a relist: the version read
    await resolver.getValue(ref, 'team-a', { key: 'app/key-1' });
    t.equal(aws.accessKeys.at(-1), 'AKIDEXAMPLE', 'the same version keeps the client');
    t.equal(api.gets, 1);

    rotate();
    // The reader's 10 s cache still holds the old Secret: the clock has not moved.
    resolver.credentialsChanged(
      'ops',
      'aws-creds',
      (await registry.readSecret('ops', 'aws-creds')) as Secret,
    );
    await resolver.getValue(ref, 'team-a', { key: 'app/key-2' });
    t.equal(aws.accessKeys.at(-1), 'AKIDROTATED', 'the next lookup: a new client with the rotated key');
    t.equal(api.gets, 2, 'built from a new GET, not the cached read');
    t.notOk(leaked(), 'neither key in a log');
  },
);
