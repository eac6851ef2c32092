import t from 'tap';
import { harness, store } from './fixtures.ts';

const ref = { kind: 'SecretStore' as const, name: 's' };
const fakeRef = { kind: 'SecretStore' as const, name: 'f' };

t.test('properties: nested, arrays, escaped dots, exact top-level keys', async (t) => {
  const h = harness(t);
  h.registry.upsert(store('SecretStore', 's', 'a', { counting: {} }));
  h.provider.set(
    'app',
    JSON.stringify({
      db: { host: 'db.local', port: 5432, replicas: [{ host: 'r0' }, { host: 'r1' }] },
      'tls.crt': 'CERT',
      a: { 'b.c': 'dotted' },
      enabled: true,
    }),
  );
  const get = (property: string) =>
    h.resolver.getValue(ref, 'a', { key: 'app', property }).then((b) => b.toString());
  t.equal(await get('db.host'), 'db.local');
  t.equal(await get('db.port'), '5432', 'a number leaf gives its JSON text');
  t.equal(await get('db.replicas.1.host'), 'r1');
  t.equal(await get('tls.crt'), 'CERT', 'an exact top-level key with a dot wins');
  t.equal(await get('a.b\\.c'), 'dotted', 'an escaped dot stays in the key');
  t.equal(await get('enabled'), 'true');
  t.equal(await get('db.replicas.#'), '2');
  t.equal(await get('db.replicas.0'), '{"host":"r0"}', 'an object leaf gives its JSON text');
  await t.rejects(get('db.replicas.5.host'), {
    code: 'ESW_PROPERTY_NOT_FOUND',
    status: 404,
    message: 'property "db.replicas.5.host" not found in remote secret "app" of SecretStore "a/s"',
  });
  t.equal(h.provider.calls.getSecret, 1);
});

t.test('binary values pass through byte for byte', async (t) => {
  const h = harness(t);
  h.registry.upsert(store('SecretStore', 's', 'a', { counting: {} }));
  const bytes = new Uint8Array(256).map((_, i) => i);
  h.provider.set('bin', bytes);
  const got = await h.resolver.getValue(ref, 'a', { key: 'bin' });
  t.same([...got], [...bytes]);
  got[0] = 42;
  const again = await h.resolver.getValue(ref, 'a', { key: 'bin' });
  t.equal(again[0], 0, 'callers get copies: the cache cannot be altered');
});

t.test('every decoding strategy, through the resolver', async (t) => {
  const h = harness(t);
  h.registry.upsert(store('SecretStore', 's', 'a', { counting: {} }));
  const raw = Buffer.from([0xfb, 0xff, 0x00, 0x41]);
  // The same bytes in both alphabets: '+/8AQQ==' (standard) and '-_8AQQ==' (URL).
  h.provider.set('enc', JSON.stringify({ std: raw.toString('base64'), url: '-_8AQQ==', plain: 'hello!' }));
  const get = (property: string, decodingStrategy?: 'None' | 'Base64' | 'Base64URL' | 'Auto') =>
    h.resolver.getValue(ref, 'a', {
      key: 'enc',
      property,
      ...(decodingStrategy ? { decodingStrategy } : {}),
    });
  t.same([...(await get('std', 'Base64'))], [...raw]);
  t.same([...(await get('url', 'Base64URL'))], [...raw]);
  t.equal((await get('std', 'None')).toString(), raw.toString('base64'));
  t.equal((await get('std')).toString(), raw.toString('base64'), 'no strategy = None');
  t.same([...(await get('std', 'Auto'))], [...raw]);
  t.same([...(await get('url', 'Auto'))], [...raw], 'Auto falls back to base64url');
  t.equal((await get('plain', 'Auto')).toString(), 'hello!', 'Auto keeps what is not base64');
  await t.rejects(get('plain', 'Base64'), {
    code: 'ESW_DECODE',
    message:
      'key "enc" property "plain" of SecretStore "a/s": value is not valid base64 (decodingStrategy Base64)',
  });
  await t.rejects(get('std', 'Base64URL'), { code: 'ESW_DECODE' });
});

t.test('dataFrom.extract: JSON object to keys, conversion and decoding', async (t) => {
  const h = harness(t);
  h.registry.upsert(store('SecretStore', 's', 'a', { counting: {} }));
  h.provider.set(
    'cfg',
    JSON.stringify({
      user: 'u',
      port: 5432,
      'k/8s$': 'x',
      nested: { deep: { a: 1 } },
      empty: null,
      flag: false,
    }),
  );
  const m = await h.resolver.getMap(ref, 'a', { key: 'cfg' });
  t.same(Object.fromEntries([...m].map(([k, v]) => [k, v.toString()])), {
    user: 'u',
    port: '5432',
    k_8s_: 'x',
    nested: '{"deep":{"a":1}}',
    empty: '',
    flag: 'false',
  });
  const unicode = await h.resolver.getMap(ref, 'a', { key: 'cfg', conversionStrategy: 'Unicode' });
  t.ok(unicode.has('k_U002f_8s_U0024_'));
  const kept = await h.resolver.getMap(ref, 'a', { key: 'cfg' }, { skipKeyConversion: true });
  t.ok(kept.has('k/8s$'), 'no conversion when the caller rewrites keys itself');
  const nested = await h.resolver.getMap(ref, 'a', { key: 'cfg', property: 'nested.deep' });
  t.same([...nested.keys()], ['a']);
  await t.rejects(h.resolver.getMap(ref, 'a', { key: 'cfg', property: 'user' }), {
    code: 'ESW_DECODE',
    message: /property "user" of remote secret "cfg" of SecretStore "a\/s" is a JSON string, not an object/,
  });
  h.provider.set('b64', JSON.stringify({ one: Buffer.from('1').toString('base64'), two: 'not base64!' }));
  await t.rejects(h.resolver.getMap(ref, 'a', { key: 'b64', decodingStrategy: 'Base64' }), {
    code: 'ESW_DECODE',
    message: /key "b64" of SecretStore "a\/s" key "two": value is not valid base64/,
  });
  t.equal(h.provider.calls.getSecret, 2, 'one call per remote key');
});

t.test('dataFrom.find through the fake provider, with conversion and decoding', async (t) => {
  const h = harness(t);
  h.registry.upsert(
    store('SecretStore', 'f', 'a', {
      fake: {
        data: [
          { key: 'app/db', value: Buffer.from('db-pass').toString('base64') },
          { key: 'app/api', value: Buffer.from('old').toString('base64'), version: 'v1' },
          { key: 'app/api', value: Buffer.from('new').toString('base64'), version: 'v2' },
          { key: 'other', value: 'x' },
        ],
      },
    }),
  );
  const found = await h.resolver.find(fakeRef, 'a', {
    name: { regexp: '^app/' },
    decodingStrategy: 'Base64',
  });
  t.same(Object.fromEntries([...found].map(([k, v]) => [k, v.toString()])), {
    app_db: 'db-pass',
    app_api: 'new',
  });
  const unicode = await h.resolver.find(fakeRef, 'a', {
    name: { regexp: '^app/db$' },
    conversionStrategy: 'Unicode',
  });
  t.same([...unicode.keys()], ['app_U002f_db']);
  await t.rejects(h.resolver.find(fakeRef, 'a', { tags: { env: 'prod' } }), {
    code: 'ESW_PROVIDER_INVALID',
    message:
      /dataFrom\.find of SecretStore "a\/f": request rejected: fake: dataFrom.find supports name.regexp only/,
  });
});

t.test('find results are cached and coalesced like values', async (t) => {
  const h = harness(t);
  h.registry.upsert(store('SecretStore', 's', 'a', { counting: {} }));
  h.provider.set('x1', 'a');
  h.provider.set('x2', 'b');
  await Promise.all(Array.from({ length: 5 }, () => h.resolver.find(ref, 'a', { name: { regexp: '^x' } })));
  await h.resolver.find(ref, 'a', { name: { regexp: '^x' }, decodingStrategy: 'None' });
  t.equal(h.provider.calls.findSecrets, 1);
  h.clock.now += 31_000;
  await h.resolver.find(ref, 'a', { name: { regexp: '^x' } });
  t.equal(h.provider.calls.findSecrets, 2);
});

t.test('a provider that cannot list: clear error', async (t) => {
  const h = harness(t);
  const noList = {
    name: 'nolist',
    validateStore: () => [],
    async newClient() {
      return { getSecret: async () => new Uint8Array(), close: async () => {} };
    },
  };
  const { StoreResolver } = await import('../../src/resolve/resolver.ts');
  const r = new StoreResolver({
    registry: h.registry,
    secrets: h.registry,
    providers: new Map([['nolist', noList]]),
    logger: h.logger,
  });
  t.teardown(() => r.close());
  h.registry.upsert(store('SecretStore', 'n', 'a', { nolist: {} }));
  await t.rejects(r.find({ kind: 'SecretStore', name: 'n' }, 'a', { name: { regexp: '.' } }), {
    code: 'ESW_PROVIDER_INVALID',
    message: 'SecretStore "a/n": provider "nolist" cannot list secrets (dataFrom.find)',
  });
});

t.test('versions through the fake provider', async (t) => {
  const h = harness(t);
  h.registry.upsert(
    store('SecretStore', 'f', 'a', {
      fake: {
        data: [
          { key: 'k', value: 'v1', version: '1' },
          { key: 'k', value: 'v2', version: '2' },
        ],
      },
    }),
  );
  t.equal((await h.resolver.getValue(fakeRef, 'a', { key: 'k', version: '1' })).toString(), 'v1');
  t.equal(
    (await h.resolver.getValue(fakeRef, 'a', { key: 'k' })).toString(),
    'v2',
    'no version: the last entry',
  );
  await t.rejects(h.resolver.getValue(fakeRef, 'a', { key: 'k', version: '3' }), {
    code: 'ESW_SECRET_NOT_FOUND',
    message:
      'key "k" version "3" of SecretStore "a/f": not found: fake: secret "k" at version "3" does not exist',
  });
});

t.test('remoteRef without key, and metadataPolicy Fetch', async (t) => {
  const h = harness(t);
  h.registry.upsert(store('SecretStore', 'f', 'a', { fake: { data: [{ key: 'k', value: 'v' }] } }));
  await t.rejects(h.resolver.getValue(fakeRef, 'a', {}), { code: 'ESW_REF_SYNTAX' });
  // A provider without metadata refuses Fetch (admission refuses it first, ref-support.ts).
  await t.rejects(h.resolver.getValue(fakeRef, 'a', { key: 'k', metadataPolicy: 'Fetch' }), {
    code: 'ESW_PROVIDER_INVALID',
    message: /metadataPolicy Fetch is not supported/,
  });
});

t.test('metadataPolicy Fetch: the metadata document is cached apart from the value', async (t) => {
  const h = harness(t);
  h.provider.metadata = new Map([['k', new TextEncoder().encode('{"team":"t-k"}')]]);
  h.registry.upsert(store('SecretStore', 'c', 'a', { counting: {} }));
  h.provider.set('k', '{"team":"value-side"}');
  const ref = { name: 'c', kind: 'SecretStore' } as const;
  const [value, tag, again] = await Promise.all([
    h.resolver.getValue(ref, 'a', { key: 'k', property: 'team' }),
    h.resolver.getValue(ref, 'a', { key: 'k', property: 'team', metadataPolicy: 'Fetch' }),
    h.resolver.getValue(ref, 'a', { key: 'k', metadataPolicy: 'Fetch' }),
  ]);
  t.equal(value.toString(), 'value-side');
  t.equal(tag.toString(), 't-k');
  t.equal(again.toString(), '{"team":"t-k"}');
  t.equal(h.provider.calls.getMetadata, 1, 'one metadata call for two Fetch lookups');
  t.equal(h.provider.calls.getSecret, 1, 'one value call, not shared with metadata');
  const map = await h.resolver.getMap(ref, 'a', { key: 'k', metadataPolicy: 'Fetch' });
  t.same(
    [...map].map(([k, v]) => [k, v.toString()]),
    [['team', 't-k']],
  );
  t.equal(h.provider.calls.getMetadata, 1, 'extract reads the cached document');
  await t.rejects(h.resolver.getValue(ref, 'a', { key: 'absent', metadataPolicy: 'Fetch' }), {
    code: 'ESW_SECRET_NOT_FOUND',
    message: /^metadata of key "absent" of SecretStore "a\/c": not found/,
  });
});
