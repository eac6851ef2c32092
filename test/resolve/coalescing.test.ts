import t from 'tap';
import { counterValue, gate, harness, store } from './fixtures.ts';

const ref = { name: 'counting-store', kind: 'SecretStore' as const };

t.test('100 concurrent lookups of one key cost one provider call', async (t) => {
  const h = harness(t);
  h.registry.upsert(store('SecretStore', 'counting-store', 'app', { counting: {} }));
  h.provider.set('db/creds', JSON.stringify({ username: 'admin', password: 'pw' }));
  const g = gate();
  h.provider.gate = g.promise;
  const lookups = Array.from({ length: 100 }, (_, i) =>
    h.resolver.getValue(ref, 'app', { key: 'db/creds', property: i % 2 ? 'username' : 'password' }),
  );
  await new Promise((r) => setImmediate(r));
  g.open();
  const values = await Promise.all(lookups);
  t.equal(h.provider.calls.getSecret, 1, 'one provider call');
  t.equal(h.provider.calls.newClient, 1, 'one client');
  t.equal(values[0]!.toString(), 'pw');
  t.equal(values[1]!.toString(), 'admin');
  t.equal(await counterValue(h.metrics, 'cacheLookups', { result: 'miss' }), 1);
  t.equal(await counterValue(h.metrics, 'cacheLookups', { result: 'coalesced' }), 99);
  t.equal(
    await counterValue(h.metrics, 'providerCalls', {
      provider: 'counting',
      call: 'getSecret',
      status: 'success',
    }),
    1,
  );
});

t.test('50 distinct keys on a batching client: 3 getSecrets calls of at most 20 keys', async (t) => {
  const h = harness(t, { batching: true, maxBatch: 20 });
  h.registry.upsert(store('SecretStore', 'counting-store', 'app', { counting: {} }));
  for (let i = 0; i < 50; i++) h.provider.set(`key-${i}`, `value-${i}`);
  const values = await Promise.all(
    Array.from({ length: 50 }, (_, i) => h.resolver.getValue(ref, 'app', { key: `key-${i}` })),
  );
  t.equal(h.provider.calls.getSecrets, 3);
  t.same(
    h.provider.calls.batchSizes.sort((a, b) => b - a),
    [20, 20, 10],
  );
  t.equal(h.provider.calls.getSecret, 0);
  t.same(
    values.map((v) => v.toString()),
    Array.from({ length: 50 }, (_, i) => `value-${i}`),
    'each waiter receives its own key',
  );
});

t.test('batched lookups with per-key errors: each error reaches the right waiter', async (t) => {
  const h = harness(t, { batching: true });
  h.registry.upsert(store('SecretStore', 'counting-store', 'app', { counting: {} }));
  h.provider.set('present', 'yes');
  const [ok, missing] = await Promise.allSettled([
    h.resolver.getValue(ref, 'app', { key: 'present' }),
    h.resolver.getValue(ref, 'app', { key: 'absent' }),
  ]);
  t.equal(h.provider.calls.getSecrets, 1);
  t.equal(ok.status === 'fulfilled' && ok.value.toString(), 'yes');
  t.equal(missing.status, 'rejected');
  const err = (missing as PromiseRejectedResult).reason;
  t.equal(err.code, 'ESW_SECRET_NOT_FOUND');
  t.match(err.message, /key "absent" of SecretStore "app\/counting-store"/);
});

t.test('a batch that fails as a whole fails each of its waiters with its own key', async (t) => {
  const h = harness(t, { batching: true });
  h.registry.upsert(store('SecretStore', 'counting-store', 'app', { counting: {} }));
  const { ProviderError } = await import('../../src/providers/types.ts');
  h.provider.batchFailure = new ProviderError('Throttled', 'ThrottlingException', { retryAfterSeconds: 2 });
  const results = await Promise.allSettled(
    ['a', 'b', 'c'].map((key) => h.resolver.getValue(ref, 'app', { key })),
  );
  t.equal(h.provider.calls.getSecrets, 1);
  for (const [i, r] of results.entries()) {
    t.equal(r.status, 'rejected');
    const err = (r as PromiseRejectedResult).reason;
    t.equal(err.code, 'ESW_PROVIDER_THROTTLED');
    t.equal(err.status, 503);
    t.match(err.message, `key "${['a', 'b', 'c'][i]}"`);
    t.equal(err.cause.retryAfterSeconds, 2, 'the ProviderError stays the cause');
  }
});

t.test('versioned lookups bypass the batch; a lone key uses getSecret', async (t) => {
  const h = harness(t, { batching: true });
  h.registry.upsert(store('SecretStore', 'counting-store', 'app', { counting: {} }));
  h.provider.set('k@v1', 'old');
  h.provider.set('solo', 'one');
  const [a, b] = await Promise.all([
    h.resolver.getValue(ref, 'app', { key: 'k', version: 'v1' }),
    h.resolver.getValue(ref, 'app', { key: 'solo' }),
  ]);
  t.equal(a.toString(), 'old');
  t.equal(b.toString(), 'one');
  t.equal(h.provider.calls.getSecrets, 0);
  t.equal(h.provider.calls.getSecret, 2);
});

t.test('batchWindowMs gathers lookups arriving across event-loop turns', async (t) => {
  const h = harness(t, { batching: true, batchWindowMs: 20 });
  h.registry.upsert(store('SecretStore', 'counting-store', 'app', { counting: {} }));
  for (const k of ['a', 'b', 'c']) h.provider.set(k, k.toUpperCase());
  const first = h.resolver.getValue(ref, 'app', { key: 'a' });
  await new Promise((r) => setImmediate(r));
  const rest = [h.resolver.getValue(ref, 'app', { key: 'b' }), h.resolver.getValue(ref, 'app', { key: 'c' })];
  const values = await Promise.all([first, ...rest]);
  t.same(values.map(String), ['A', 'B', 'C']);
  t.equal(h.provider.calls.getSecrets, 1);
  t.same(h.provider.calls.batchSizes, [3]);
});

t.test('a cached value is served until its TTL, then fetched again', async (t) => {
  const h = harness(t, { cacheTtlMs: 30_000 });
  h.registry.upsert(store('SecretStore', 'counting-store', 'app', { counting: {} }));
  h.provider.set('k', 'v1');
  t.equal((await h.resolver.getValue(ref, 'app', { key: 'k' })).toString(), 'v1');
  h.provider.set('k', 'v2');
  h.clock.now += 29_999;
  t.equal((await h.resolver.getValue(ref, 'app', { key: 'k' })).toString(), 'v1', 'still cached');
  t.equal(h.provider.calls.getSecret, 1);
  t.equal(await counterValue(h.metrics, 'cacheLookups', { result: 'hit' }), 1);
  h.clock.now += 2;
  t.equal(
    (await h.resolver.getValue(ref, 'app', { key: 'k' })).toString(),
    'v2',
    'fetched again after the TTL',
  );
  t.equal(h.provider.calls.getSecret, 2);
});

t.test('one call serves every property of a key, and every decoding', async (t) => {
  const h = harness(t);
  h.registry.upsert(store('SecretStore', 'counting-store', 'app', { counting: {} }));
  h.provider.set('k', JSON.stringify({ a: 'x', b: { c: Buffer.from('bin').toString('base64') } }));
  t.equal((await h.resolver.getValue(ref, 'app', { key: 'k', property: 'a' })).toString(), 'x');
  t.equal(
    (
      await h.resolver.getValue(ref, 'app', { key: 'k', property: 'b.c', decodingStrategy: 'Base64' })
    ).toString(),
    'bin',
  );
  t.same([...(await h.resolver.getMap(ref, 'app', { key: 'k' })).keys()], ['a', 'b']);
  t.equal(h.provider.calls.getSecret, 1);
});

t.test('fetchedAfter rejects older cache entries but still coalesces inside a cycle', async (t) => {
  const h = harness(t);
  h.registry.upsert(store('SecretStore', 'counting-store', 'app', { counting: {} }));
  h.provider.set('k', 'v1');
  await h.resolver.getValue(ref, 'app', { key: 'k' });
  h.provider.set('k', 'v2');
  h.clock.now += 1_000;
  const cycleStart = h.clock.now;
  const refreshed = await Promise.all(
    Array.from({ length: 10 }, () =>
      h.resolver.getValue(ref, 'app', { key: 'k' }, { fetchedAfter: cycleStart }),
    ),
  );
  t.same(new Set(refreshed.map(String)), new Set(['v2']));
  t.equal(h.provider.calls.getSecret, 2, 'one refetch for ten refreshes');
  await h.resolver.getValue(ref, 'app', { key: 'k' }, { fetchedAfter: cycleStart });
  t.equal(h.provider.calls.getSecret, 2, 'a value fetched in this cycle is reused');
});

t.test('cacheTtlMs 0 disables the cache but keeps coalescing', async (t) => {
  const h = harness(t, { cacheTtlMs: 0 });
  h.registry.upsert(store('SecretStore', 'counting-store', 'app', { counting: {} }));
  h.provider.set('k', 'v');
  await Promise.all([
    h.resolver.getValue(ref, 'app', { key: 'k' }),
    h.resolver.getValue(ref, 'app', { key: 'k' }),
  ]);
  t.equal(h.provider.calls.getSecret, 1);
  await h.resolver.getValue(ref, 'app', { key: 'k' });
  t.equal(h.provider.calls.getSecret, 2);
});

t.test('one caller cancelling does not fail the others sharing the call', async (t) => {
  const h = harness(t);
  h.registry.upsert(store('SecretStore', 'counting-store', 'app', { counting: {} }));
  h.provider.set('k', 'v');
  const g = gate();
  h.provider.gate = g.promise;
  const ac = new AbortController();
  const cancelled = h.resolver.getValue(ref, 'app', { key: 'k' }, { signal: ac.signal });
  const patient = h.resolver.getValue(ref, 'app', { key: 'k' });
  await new Promise((r) => setImmediate(r));
  ac.abort();
  await t.rejects(cancelled, { code: 'ESW_PROVIDER_UNAVAILABLE' });
  g.open();
  t.equal((await patient).toString(), 'v');
  t.equal(h.provider.calls.getSecret, 1);
});

t.test('when every caller cancels, the provider call is cancelled too', async (t) => {
  const h = harness(t);
  h.registry.upsert(store('SecretStore', 'counting-store', 'app', { counting: {} }));
  h.provider.hang = true;
  const ac = new AbortController();
  const lookup = h.resolver.getValue(ref, 'app', { key: 'k' }, { signal: ac.signal });
  await new Promise((r) => setImmediate(r));
  ac.abort();
  await t.rejects(lookup, { code: 'ESW_PROVIDER_UNAVAILABLE', status: 503 });
  t.equal(h.provider.calls.signals.length, 1);
  t.ok(h.provider.calls.signals[0]!.aborted, 'the provider saw its signal fire');
});

t.test('fetchedAfter ahead of the clock still costs one call for concurrent refreshes', async (t) => {
  const h = harness(t);
  h.registry.upsert(store('SecretStore', 'counting-store', 'app', { counting: {} }));
  h.provider.set('k', 'v');
  const future = h.clock.now + 60_000;
  await Promise.all(
    Array.from({ length: 20 }, () => h.resolver.getValue(ref, 'app', { key: 'k' }, { fetchedAfter: future })),
  );
  t.equal(h.provider.calls.getSecret, 1);
});
