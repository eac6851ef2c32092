/**
 * The all-cached answer a warm /mutate checks its memo with (`cachedValues`): every reference
 * from the cache, or nothing. References of the same key share its cached raw value; one that
 * needs another cache entry (another version, or the key's metadata) is looked up on its own, so
 * a value not cached means no answer.
 */
import t from 'tap';
import { harness, store } from './fixtures.ts';

const ref = { kind: 'SecretStore' as const, name: 's' };

t.test('properties of one cached key; another version or metadata is not that entry', async (t) => {
  const h = harness(t);
  h.registry.upsert(store('SecretStore', 's', 'a', { counting: {} }));
  h.provider.set('app', JSON.stringify({ u: 'U', p: 'P' }));
  await h.resolver.getValue(ref, 'a', { key: 'app', property: 'u' });
  const text = (values: Buffer[] | undefined) => values?.map((v) => v.toString());
  t.same(
    text(
      h.resolver.cachedValues(ref, 'a', [
        { key: 'app', property: 'u' },
        { key: 'app', property: 'p' },
      ]),
    ),
    ['U', 'P'],
  );
  t.equal(
    h.resolver.cachedValues(ref, 'a', [
      { key: 'app', property: 'u' },
      { key: 'app', property: 'p', version: 'v2' },
    ]),
    undefined,
    'version v2 is not cached',
  );
  t.equal(
    h.resolver.cachedValues(ref, 'a', [
      { key: 'app', property: 'u' },
      { key: 'app', metadataPolicy: 'Fetch' },
    ]),
    undefined,
    'the metadata is not cached',
  );
  t.equal(h.provider.calls.getSecret, 1, 'nothing fetched by the cached answer');
});
