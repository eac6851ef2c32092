/**
 * dataFrom[].rewrite[].merge as ESO 2.x's RewriteMerge (Extract and JSON strategies, priority,
 * priorityPolicy, conflictPolicy, Go's JSON and float formats), the order of dataFrom entries and
 * data (later dataFrom entries win, data wins over dataFrom), and ESO's key rules after a rewrite.
 */
import t, { type Test } from 'tap';
import { EswError } from '../../src/errors.ts';
import { resolveExternalSecretData } from '../../src/refresher/external-secret.ts';
import { rewriteMerge } from '../../src/refresher/rewrite.ts';
import { harness, introExternalSecret } from './harness.ts';

const map = (o: Record<string, string>) => new Map(Object.entries(o).map(([k, v]) => [k, Buffer.from(v)]));
const text = (m: Map<string, Buffer>) => Object.fromEntries([...m].map(([k, v]) => [k, v.toString('utf8')]));
const F = 'spec.dataFrom[0].rewrite[0].merge';

function fails(t: Test, fn: () => unknown, pattern: RegExp, what: string): void {
  try {
    fn();
    t.fail(`${what}: no error`);
  } catch (err: unknown) {
    t.ok(err instanceof EswError, what);
    t.match((err as Error).message, pattern, what);
  }
}

t.test('strategy Extract: the merged properties replace the map, each as ESO writes it', async (t) => {
  const out = rewriteMerge(
    map({
      a: '{"s":"text","n":1.5,"big":1e21,"small":1e-7,"neg":-0,"t":true}',
      b: '{"nil":null,"o":{"z":1,"<a>":"&"},"l":[1,"x",{"k":[]}]}',
    }),
    {},
    F,
  );
  t.same(text(out), {
    s: 'text',
    n: '1.5',
    big: '1000000000000000000000',
    small: '0.0000001',
    neg: '-0',
    t: 'true',
    nil: '',
    // json.Marshal: keys sorted, HTML characters escaped.
    o: '{"\\u003ca\\u003e":"\\u0026","z":1}',
    l: '[1,"x",{"k":[]}]',
  });
});

t.test('strategy JSON: the input stays and the merged object is written under into', async (t) => {
  const input = map({ b: '{"y":"<b>","x":1e21}', a: '{"z":[0.0000001]}' });
  const out = rewriteMerge(input, { strategy: 'JSON', into: 'merged' }, F);
  t.same(text(out), {
    b: '{"y":"<b>","x":1e21}',
    a: '{"z":[0.0000001]}',
    // Go's encoder without HTML escaping, keys sorted, floats in Go's JSON form.
    merged: '{"x":1e+21,"y":"<b>","z":[1e-7]}',
  });
  fails(
    t,
    () => rewriteMerge(input, { strategy: 'JSON' }, F),
    /into: strategy JSON needs/,
    'into is required',
  );
});

t.test('conflicts, priority and priorityPolicy', async (t) => {
  const input = map({ b: '{"x":"from-b","y":"b"}', a: '{"x":"from-a"}' });
  fails(
    t,
    () => rewriteMerge(input, {}, F),
    /properties set by more than one key: x/,
    'conflictPolicy Error (default)',
  );
  // Ignore: keys in byte order, the later wins.
  t.equal(rewriteMerge(input, { conflictPolicy: 'Ignore' }, F).get('x')?.toString(), 'from-b');
  // A priority key comes last: it wins.
  t.equal(
    rewriteMerge(input, { conflictPolicy: 'Ignore', priority: ['a'] }, F)
      .get('x')
      ?.toString(),
    'from-a',
  );
  fails(
    t,
    () => rewriteMerge(input, { conflictPolicy: 'Ignore', priority: ['c'] }, F),
    /priority key "c"/,
    'Strict',
  );
  t.equal(
    rewriteMerge(
      input,
      { conflictPolicy: 'Ignore', priority: ['c', 'a'], priorityPolicy: 'IgnoreNotFound' },
      F,
    )
      .get('x')
      ?.toString(),
    'from-a',
    'IgnoreNotFound skips a missing priority key',
  );
  t.same(text(rewriteMerge(map({ a: 'null', b: '{"k":"v"}' }), {}, F)), { k: 'v' }, 'null holds nothing');
});

t.test('a value that is not a JSON object is named by its key, never quoted', async (t) => {
  const CANARY = 'CANARY-merge-77';
  for (const bad of [`{"x": ${CANARY}}`, `["${CANARY}"]`, `"${CANARY}"`, '']) {
    try {
      rewriteMerge(map({ secret: bad }), {}, F);
      t.fail('no error');
    } catch (err: unknown) {
      t.match((err as Error).message, /value of key "secret" is not (JSON|a JSON object)/);
      t.notOk((err as Error).message.includes(CANARY));
    }
  }
});

t.test('dataFrom order and data precedence through the sync, as ESO', async (t) => {
  const h = harness();
  h.remote.values.set('one', '{"a":"1","shared":"from-one"}');
  h.remote.values.set('two', '{"b":"2","shared":"from-two"}');
  h.remote.values.set('db', '{"password":"from-data"}');
  const es = introExternalSecret({
    target: { name: 't', creationPolicy: 'Owner', deletionPolicy: 'Delete' },
    dataFrom: [{ extract: { key: 'one' } }, { extract: { key: 'two' } }],
    data: [
      { secretKey: 'shared', remoteRef: { key: 'db', property: 'password' } },
      { secretKey: 'dup', remoteRef: { key: 'one', property: 'a' } },
      // ESO allows duplicate secretKeys without deletionPolicy Retain: the later wins.
      { secretKey: 'dup', remoteRef: { key: 'two', property: 'b' } },
    ],
  });
  const data = await resolveExternalSecretData(es, h.resolver);
  t.same(text(data), { a: '1', shared: 'from-data', b: '2', dup: '2' });
  const onlyFrom = await resolveExternalSecretData({ ...es, spec: { ...es.spec, data: [] } }, h.resolver);
  t.equal(onlyFrom.get('shared')?.toString(), 'from-two', 'the later dataFrom entry wins');
});

t.test(
  'after a rewrite, keys are checked as ESO does (an empty key is dropped, others must be valid)',
  async (t) => {
    const h = harness();
    h.remote.values.set('cfg', '{"a/b":"1","drop":"2","ok":"3"}');
    const es = (source: string, target: string) =>
      introExternalSecret({
        data: [],
        dataFrom: [{ extract: { key: 'cfg' }, rewrite: [{ regexp: { source, target } }] }],
      });
    // Without a rewrite the conversion strategy applies (a/b -> a_b); with one it does not.
    t.same(
      text(
        await resolveExternalSecretData(
          introExternalSecret({ data: [], dataFrom: [{ extract: { key: 'cfg' } }] }),
          h.resolver,
        ),
      ),
      { a_b: '1', drop: '2', ok: '3' },
    );
    const err = await resolveExternalSecretData(es('^ok$', 'fine'), h.resolver).catch((e: unknown) => e);
    t.match((err as Error).message, /key "a\/b" has a character other than/);
    t.same(text(await resolveExternalSecretData(es('^(drop|a/b)$', ''), h.resolver)), { ok: '3' });
  },
);

t.test('merge reads values before decoding: decodingStrategy applies to its result', async (t) => {
  const h = harness();
  h.remote.values.set('parts', JSON.stringify({ one: '{"x":"eA=="}', two: '{"y":"eQ=="}' }));
  const es = introExternalSecret({
    data: [],
    dataFrom: [{ extract: { key: 'parts', decodingStrategy: 'Base64' }, rewrite: [{ merge: {} }] }],
  });
  t.same(text(await resolveExternalSecretData(es, h.resolver)), { x: 'x', y: 'y' });
});
