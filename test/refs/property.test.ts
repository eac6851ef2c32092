import t from 'tap';
import { parsePath } from '../../src/patterns/property-path.ts';
import { extractMap, formatFloat, getProperty } from '../../src/refs/property.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const src = { key: 'my/secret', store: 'SecretStore "ns/st"' };
const get = (json: unknown, property: string) =>
  dec(getProperty(enc(typeof json === 'string' ? json : JSON.stringify(json)), property, src));

t.test('empty property returns the whole value, byte for byte', async (t) => {
  const raw = new Uint8Array([0, 255, 10, 13]);
  t.equal(getProperty(raw, '', src), raw);
  t.equal(getProperty(raw, undefined, src), raw);
});

t.test('nested keys and array indexes', async (t) => {
  const doc = { a: { b: [{ c: 'deep' }, { c: 'second' }] }, list: ['x', 'y'], 0: 'zero-key' };
  t.equal(get(doc, 'a.b.0.c'), 'deep');
  t.equal(get(doc, 'a.b.1.c'), 'second');
  t.equal(get(doc, 'list.1'), 'y');
  t.equal(get(doc, '0'), 'zero-key', 'a number on an object is a key');
});

t.test('escaping and the exact top-level key rule', async (t) => {
  const doc = { 'a.b': 'top', a: { b: 'nested', 'c.d': 'escaped' }, 'x\\y': 'backslash' };
  t.equal(get(doc, 'a.b'), 'top', 'an exact top-level key wins over the path');
  t.equal(get({ a: { b: 'nested' } }, 'a.b'), 'nested');
  t.equal(get(doc, 'a.c\\.d'), 'escaped');
  t.equal(get(doc, 'x\\\\y'), 'backslash');
  t.equal(get({ 'my.key': { v: 1 } }, 'my\\.key.v'), '1');
});

t.test('leaf types follow gjson Result.String()', async (t) => {
  const text =
    '{"s":"str","i":12345678901234567890,"neg":-7,"f":1.50,"e":1e3,"tiny":1e-7,"t":true,"f2":false,"n":null,' +
    '"o":{ "k" : [1, 2] },"arr":[ {"a":1} ,"x" ],"u":"caf\\u00e9 \\ud83d\\ude00"}';
  t.equal(get(text, 's'), 'str');
  t.equal(get(text, 'i'), '12345678901234567890', 'big integers keep every digit');
  t.equal(get(text, 'neg'), '-7');
  t.equal(get(text, 'f'), '1.5');
  t.equal(get(text, 'e'), '1000');
  t.equal(get(text, 'tiny'), '0.0000001');
  t.equal(get(text, 't'), 'true');
  t.equal(get(text, 'f2'), 'false');
  t.equal(get(text, 'n'), '', 'null is empty');
  t.equal(get(text, 'o'), '{ "k" : [1, 2] }', 'objects keep their original text');
  t.equal(get(text, 'arr'), '[ {"a":1} ,"x" ]');
  t.equal(get(text, 'u'), 'café 😀', 'escapes are decoded');
});

t.test('gjson extras: # count, #.path collection, wildcards', async (t) => {
  const doc = { users: [{ name: 'ann', age: 3 }, { name: 'bob' }], 'db-primary': 'p', 'db-replica': 'r' };
  t.equal(get(doc, 'users.#'), '2');
  t.equal(get(doc, 'users.#.name'), '["ann","bob"]');
  t.equal(get(doc, 'users.#.age'), '[3]');
  t.equal(get(doc, 'db-*'), 'p', 'first key matching the wildcard');
  t.equal(get(doc, 'db-?eplica'), 'r');
  t.equal(get({ 'a*': 'literal' }, 'a\\*'), 'literal');
});

t.test('missing property: ESW_PROPERTY_NOT_FOUND naming key and property', async (t) => {
  t.throws(() => get({ a: { b: 1 } }, 'a.c'), {
    code: 'ESW_PROPERTY_NOT_FOUND',
    status: 404,
    message: 'property "a.c" not found in remote secret "my/secret" of SecretStore "ns/st"',
  });
  t.throws(() => get({ a: [1] }, 'a.1'), { code: 'ESW_PROPERTY_NOT_FOUND' });
  t.throws(() => get({ a: 'str' }, 'a.b'), { code: 'ESW_PROPERTY_NOT_FOUND' }, 'no path into a string');
  t.throws(() => get('not json at all', 'a'), {
    code: 'ESW_PROPERTY_NOT_FOUND',
    message: 'property "a" not found: remote secret "my/secret" of SecretStore "ns/st" is not JSON',
  });
  t.throws(() => get('{"a":1', 'a'), { code: 'ESW_PROPERTY_NOT_FOUND' }, 'truncated JSON');
  t.throws(() => get('{"a":1} trailing', 'a'), { code: 'ESW_PROPERTY_NOT_FOUND' });
});

t.test('invalid JSON is rejected, not guessed at', async (t) => {
  for (const bad of ['{a:1}', "{'a':1}", '{"a":01}', '{"a":1,}', '[1,]', '{"a":"\u0001"}', '{"a":tru}', '']) {
    t.throws(() => get(bad, 'a'), { code: 'ESW_PROPERTY_NOT_FOUND' }, JSON.stringify(bad));
  }
});

t.test('duplicate keys: the first wins for a property (gjson), the last for extract (Go maps)', async (t) => {
  const text = '{"k":"first","k":"last"}';
  t.equal(get(text, 'k'), 'first');
  t.equal(dec(extractMap(enc(text), undefined, src).get('k')!), 'last');
});

t.test('extractMap: strings raw, other values as their JSON text, null empty', async (t) => {
  const text = '{"s":"v","n":1.50,"b":true,"o":{"x": 1},"a":[1,"2"],"z":null,"u":"\\u00e9"}';
  const m = extractMap(enc(text), undefined, src);
  t.same(Object.fromEntries([...m].map(([k, v]) => [k, dec(v)])), {
    s: 'v',
    n: '1.50',
    b: 'true',
    o: '{"x": 1}',
    a: '[1,"2"]',
    z: '',
    u: 'é',
  });
});

t.test('extractMap at a property', async (t) => {
  const m = extractMap(
    enc(JSON.stringify({ outer: { inner: { k: 'v' } }, 'a.b': { q: 'r' } })),
    'outer.inner',
    src,
  );
  t.same([...m.keys()], ['k']);
  const top = extractMap(enc(JSON.stringify({ 'a.b': { q: 'r' } })), 'a.b', src);
  t.same([...top.keys()], ['q']);
});

t.test('extractMap errors', async (t) => {
  t.throws(() => extractMap(enc('plain'), undefined, src), {
    code: 'ESW_DECODE',
    message:
      'remote secret "my/secret" of SecretStore "ns/st" is not JSON: dataFrom.extract needs a JSON object',
  });
  t.throws(() => extractMap(enc('[1,2]'), undefined, src), {
    code: 'ESW_DECODE',
    message: /is a JSON array, not an object/,
  });
  t.throws(() => extractMap(enc('{"a":"x"}'), 'b', src), { code: 'ESW_PROPERTY_NOT_FOUND' });
  t.throws(() => extractMap(enc('{"a":[1]}'), 'a.#', src), { code: 'ESW_DECODE' });
});

t.test('parsePath', async (t) => {
  t.same(
    parsePath('a.b\\.c.0.#').map((p) => [p.text, p.index, p.count]),
    [
      ['a', undefined, false],
      ['b.c', undefined, false],
      ['0', 0, false],
      ['#', undefined, true],
    ],
  );
  t.same(
    parsePath('\\#').map((p) => p.count),
    [false],
    'an escaped # is a key',
  );
});

t.test('formatFloat matches Go strconv.FormatFloat(f, f, -1, 64)', async (t) => {
  t.equal(formatFloat(1.5), '1.5');
  t.equal(formatFloat(1e21), '1000000000000000000000');
  t.equal(formatFloat(1.25e-7), '0.000000125');
  t.equal(formatFloat(-2.5e22), '-25000000000000000000000');
  t.equal(formatFloat(123.456), '123.456');
});

t.test('the parse memos answer right: many values and paths, a value read again, large values', async (t) => {
  // More distinct values and properties than the memos keep (128), read twice in order: every
  // read after an eviction parses again and still gives that value's own property.
  const values = Array.from({ length: 300 }, (_, i) => enc(JSON.stringify({ [`k${i}`]: `v${i}`, n: i })));
  for (let round = 0; round < 2; round++) {
    for (const [i, v] of values.entries()) {
      t.equal(dec(getProperty(v, `k${i}`, src)), `v${i}`);
      t.equal(dec(getProperty(v, 'n', src)), String(i));
    }
  }
  t.same([...extractMap(values[7] as Uint8Array, undefined, src).keys()], ['k7', 'n']);
  // A value over the memo's size limit is parsed on every read, with the same answers.
  const big = enc(JSON.stringify({ pad: 'x'.repeat(20_000), user: 'u1' }));
  t.equal(dec(getProperty(big, 'user', src)), 'u1');
  t.equal(dec(getProperty(big, 'user', src)), 'u1');
  // Not JSON: remembered as such, and refused every time.
  const text = enc('not json');
  for (let i = 0; i < 2; i++) {
    t.throws(() => getProperty(text, 'a', src), { code: 'ESW_PROPERTY_NOT_FOUND' });
  }
  // Two equal values in two buffers are two entries; each answers for itself.
  const a = enc('{"x":"1"}');
  const b = enc('{"x":"1"}');
  t.equal(dec(getProperty(a, 'x', src)), '1');
  t.equal(dec(getProperty(b, 'x', src)), '1');
});
