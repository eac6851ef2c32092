/**
 * The value cache is shared by every tenant (docs/threat-model.md, T38): a namespace that reads
 * many keys, or a few big ones, through its own SecretStore must not evict another namespace's
 * cached values. Through the resolver with its default bounds (10,000 values, 64 MiB): the
 * victim's values are still answered from the cache, with no provider call, after the hostile
 * namespace read more than the whole cache holds; the hostile namespace keeps its newest values.
 * And the shares cost nothing without contention: one namespace (or one ClusterSecretStore, the
 * same share rule) alone uses the whole cache, and two reading alike settle at half each.
 */
import t from 'tap';
import { harness, store } from './fixtures.ts';

const VICTIM_KEYS = 50;
const own = { kind: 'SecretStore' as const, name: 's' };
const victimRefs = Array.from({ length: VICTIM_KEYS }, (_, i) => ({ key: `victim-${i}` }));

function setup(t: Parameters<typeof harness>[0]) {
  const h = harness(t);
  h.registry.upsert(store('SecretStore', 's', 'victim', { counting: {} }));
  h.registry.upsert(store('SecretStore', 's', 'hostile', { counting: {} }));
  for (const { key } of victimRefs) h.provider.set(key, `value of ${key}`);
  return h;
}

/** `keys` read from the hostile namespace, `width` lookups at a time. */
async function readAll(h: ReturnType<typeof setup>, keys: string[], width: number): Promise<void> {
  for (let i = 0; i < keys.length; i += width) {
    await Promise.all(keys.slice(i, i + width).map((key) => h.resolver.getValue(own, 'hostile', { key })));
  }
}

t.test('many keys from one namespace do not evict another namespace’s values', async (t) => {
  const h = setup(t);
  await Promise.all(victimRefs.map((ref) => h.resolver.getValue(own, 'victim', ref)));
  const victimCalls = h.provider.calls.getSecret;

  const hostile = Array.from({ length: 12_000 }, (_, i) => `hostile-${i}`);
  for (const key of hostile) h.provider.set(key, 'x');
  await readAll(h, hostile, 500);

  const cached = h.resolver.cachedValues(own, 'victim', victimRefs);
  t.equal(cached?.length, VICTIM_KEYS, 'every victim value is still cached');
  t.equal(cached?.[7]?.toString(), 'value of victim-7');
  const before = h.provider.calls.getSecret;
  await Promise.all(victimRefs.map((ref) => h.resolver.getValue(own, 'victim', ref)));
  t.equal(h.provider.calls.getSecret, before, 'the victim reads again without a provider call');
  t.equal(victimCalls, VICTIM_KEYS, 'one call per victim key, at the start');

  t.ok(
    h.resolver.cachedValues(own, 'hostile', [{ key: 'hostile-11999' }]),
    'the newest hostile value is kept',
  );
  t.notOk(h.resolver.cachedValues(own, 'hostile', [{ key: 'hostile-0' }]), 'its oldest made room');
});

t.test('big values from one namespace do not evict another namespace’s values', async (t) => {
  const h = setup(t);
  await Promise.all(victimRefs.map((ref) => h.resolver.getValue(own, 'victim', ref)));

  // 40 values of 2 MiB: 80 MiB, more than the whole cache's 64 MiB.
  const big = Array.from({ length: 40 }, (_, i) => `big-${i}`);
  const twoMiB = 'y'.repeat(2 * 1024 * 1024);
  for (const key of big) h.provider.set(key, twoMiB);
  await readAll(h, big, 4);

  t.equal(
    h.resolver.cachedValues(own, 'victim', victimRefs)?.length,
    VICTIM_KEYS,
    'every victim value is still cached',
  );
  t.ok(h.resolver.cachedValues(own, 'hostile', [{ key: 'big-39' }]), 'the newest big value is kept');
});

/** How many of `keys` the namespace's store answers from the cache alone. */
function cachedCount(h: ReturnType<typeof setup>, namespace: string, keys: string[]): number {
  return keys.filter((key) => h.resolver.cachedValues(own, namespace, [{ key }]) !== undefined).length;
}

t.test('one namespace alone uses the whole cache: no share is cut short without contention', async (t) => {
  const h = setup(t);
  const keys = Array.from({ length: 10_000 }, (_, i) => `only-${i}`);
  for (const key of keys) h.provider.set(key, 'x');
  await readAll(h, keys, 500);
  t.equal(cachedCount(h, 'hostile', keys), 10_000, 'every one of the 10,000 values is cached');
  const before = h.provider.calls.getSecret;
  await h.resolver.getValue(own, 'hostile', { key: 'only-0' });
  t.equal(h.provider.calls.getSecret, before, 'the oldest is read again without a provider call');
});

t.test('two namespaces reading alike settle at half the cache each, each keeping its newest', async (t) => {
  const h = setup(t);
  const first = Array.from({ length: 8_000 }, (_, i) => `first-${i}`);
  const second = Array.from({ length: 8_000 }, (_, i) => `second-${i}`);
  for (const key of [...first, ...second]) h.provider.set(key, 'x');
  await readAll(h, first, 500);
  for (let i = 0; i < second.length; i += 500) {
    await Promise.all(second.slice(i, i + 500).map((key) => h.resolver.getValue(own, 'victim', { key })));
  }
  const firstKept = cachedCount(h, 'hostile', first);
  const secondKept = cachedCount(h, 'victim', second);
  t.equal(firstKept + secondKept, 10_000, 'the cache is full');
  t.equal(firstKept, 5_000, 'the first keeps half');
  t.equal(secondKept, 5_000, 'the second gets half');
  t.ok(h.resolver.cachedValues(own, 'hostile', [{ key: 'first-7999' }]), 'the first keeps its newest');
  t.ok(h.resolver.cachedValues(own, 'victim', [{ key: 'second-7999' }]), 'the second keeps its newest');
  t.notOk(h.resolver.cachedValues(own, 'hostile', [{ key: 'first-0' }]), 'the first gave back its oldest');
});
