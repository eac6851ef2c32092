/**
 * Property paths (remoteRef.property, placeholder `#PROPERTY`) against ESO's own lookup through
 * tidwall/gjson (test/oracles/gjson): same value found, or both find nothing. JSON documents
 * (with duplicate keys and keys holding `.`, `*`, `?`, `\`, `#`) and paths (wildcards, escapes,
 * indexes, `#`) are generated with a fixed seed; a hand-written list covers the wildcard rules.
 */
import fc from 'fast-check';
import t from 'tap';
import { EswError } from '../../src/errors.ts';
import { getProperty } from '../../src/refs/property.ts';
import { loadOracle } from '../oracles/oracle.ts';

interface GoPath {
  eso: { exists: boolean; string: string };
}

const oracle = loadOracle('gjson');
const enc = new TextEncoder();
const dec = new TextDecoder();
const src = { key: 'k' };

function ours(json: string, path: string): string | undefined {
  try {
    return dec.decode(getProperty(enc.encode(json), path, src));
  } catch (err: unknown) {
    if (err instanceof EswError && err.code === 'ESW_PROPERTY_NOT_FOUND') return undefined;
    throw err;
  }
}

function differences(cases: { json: string; paths: string[] }[]): {
  mismatches: string[];
  found: number;
  total: number;
} {
  const results = oracle.run!(cases) as GoPath[][];
  const mismatches: string[] = [];
  let found = 0;
  let total = 0;
  cases.forEach((c, i) => {
    c.paths.forEach((path, j) => {
      const go = results[i]![j]!.eso;
      const mine = ours(c.json, path);
      total++;
      if (go.exists) found++;
      const want = go.exists ? go.string : undefined;
      if (mine !== want) {
        mismatches.push(
          `${JSON.stringify(path)} in ${c.json}: gjson ${JSON.stringify(want)}, ours ${JSON.stringify(mine)}`,
        );
      }
    });
  });
  return { mismatches, found, total };
}

const HAND: { json: string; paths: string[] }[] = [
  {
    json: '{"db-primary":"p","db-replica":"r","ab":1,"a*b":2,"a.b":{"c":3},"a":{"b":{"c":4}},"x\\\\y":5,"#":6}',
    paths: [
      'db-*',
      'db-?eplica',
      '*',
      '?',
      'a*b',
      'a\\*b',
      'a\\*?',
      'a\\*',
      'a.b.c',
      'a\\.b.c',
      'a*.c',
      'a?b.c',
      '*.b.c',
      'x\\\\y',
      'x\\\\*',
      'x*',
      '*\\\\y',
      '#',
      '\\#',
      '**',
      '*?*',
      'db-*-',
      'd*a',
      ''.padEnd(40, '*'),
    ],
  },
  {
    // gjson goes on to the next matching key when the rest of the path is not found under one.
    json: '{"a1":{"x":1},"a2":{"y":2},"a3":"s","dup":{"p":1},"dup":{"q":2}}',
    paths: ['a*.y', 'a?.x', 'a*.z', 'dup.q', 'dup.p', 'd?p.q'],
  },
  {
    // A lone trailing backslash: a literal after a `*`, nothing otherwise.
    json: '{"ab\\\\":1,"a\\\\":2,"\\\\":3}',
    paths: ['a*\\\\\\\\', 'a\\\\\\\\', '*\\\\\\\\', 'a?\\\\\\\\', '\\\\\\\\'],
  },
  {
    json: '{"list":[{"n":"a"},{"m":"b"},{"n":"c"}],"k😀y":"emoji","é":"e","users":[1,2]}',
    paths: [
      'list.#',
      'list.#.n',
      'list.1.m',
      'list.*.n',
      'k?y',
      'k*y',
      '?',
      'users.0',
      'users.01',
      'users.#',
      'list.#.*',
    ],
  },
  {
    // Pathological for a backtracking matcher; gjson's own step limit is not reached here.
    json: `{"${'a'.repeat(60)}":"long","${'a'.repeat(30)}b":"b-end"}`,
    paths: [`${'*a'.repeat(25)}*`, `${'*'.repeat(34)}b`, `${'*a'.repeat(20)}*c`],
  },
];

// ---------------------------------------------------------------- generated documents and paths

const KEY_CHARS = ['a', 'b', 'c', '1', '0', '.', '*', '?', '\\', '#', '-', 'é', '😀'];
const key = fc.array(fc.constantFrom(...KEY_CHARS), { minLength: 0, maxLength: 4 }).map((c) => c.join(''));

type Json = string; // JSON text, written by hand so objects may repeat a key

const leaf = fc.oneof(
  fc.string({ maxLength: 3 }).map((s) => JSON.stringify(s)),
  fc.integer({ min: -50, max: 50 }).map(String),
  fc.constantFrom('1.50', '1e3', '-0.25', 'true', 'false', 'null', '12345678901234567890'),
);

const { value } = fc.letrec<{ value: Json; object: Json; array: Json }>((tie) => ({
  value: fc.oneof({ maxDepth: 3, depthIdentifier: 'json' }, leaf, tie('object'), tie('array')),
  object: fc
    .array(fc.tuple(key, tie('value')), { maxLength: 4 })
    .map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
  array: fc.array(tie('value'), { maxLength: 3 }).map((items) => `[${items.join(',')}]`),
}));

/** Path components: keys as written (escaped or not, maybe with wildcards), indexes, `#`. */
const component = fc.oneof(
  key.map((k) => k.replace(/[\\.]/g, '\\$&')),
  key,
  fc.constantFrom(
    '*',
    '?',
    'a*',
    '*b',
    '?b',
    'a\\*',
    '\\*',
    '\\?',
    '0',
    '1',
    '2',
    '#',
    '\\#',
    '*\\\\',
    'é*',
    '?😀',
  ),
);
const path = fc
  .array(component, { minLength: 1, maxLength: 3 })
  .map((parts) => parts.join('.'))
  // An empty property is the whole value, before any path; a leading `..` is gjson's JSON Lines
  // syntax, which property paths do not support.
  .filter((p) => p !== '' && !p.startsWith('..'));

/** Paths that walk the document's own keys, escaped, or turned into wildcards, indexes or `#`. */
function walkPaths(json: string, seed: number, count: number): string[] {
  let x = seed;
  const rnd = (n: number) => {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
    return Math.floor((x / 2_147_483_648) * n);
  };
  const paths: string[] = [];
  for (let k = 0; k < count; k++) {
    let node: unknown = JSON.parse(json);
    const parts: string[] = [];
    while (node !== null && typeof node === 'object' && parts.length < 4 && rnd(5) > 0) {
      if (Array.isArray(node)) {
        if (node.length === 0 || rnd(4) === 0) {
          parts.push('#');
          break;
        }
        const i = rnd(node.length);
        parts.push(String(i));
        node = node[i];
        continue;
      }
      const keys = Object.keys(node);
      if (keys.length === 0) break;
      const key = keys[rnd(keys.length)]!;
      const escaped = key.replace(/[\\.*?]/g, '\\$&');
      const chars = Array.from(key);
      const forms = [
        escaped,
        escaped,
        key,
        chars.map((c, i) => (i === 0 && c !== '\\' ? '?' : c)).join(''),
        `${chars
          .slice(0, 1)
          .join('')
          .replace(/[\\.*?]/g, '\\$&')}*`,
        `*${chars
          .slice(-1)
          .join('')
          .replace(/[\\.*?]/g, '\\$&')}`,
      ];
      parts.push(forms[rnd(forms.length)]!);
      node = (node as Record<string, unknown>)[key];
    }
    const p = parts.join('.');
    if (p !== '' && !p.startsWith('..')) paths.push(p);
  }
  return paths;
}

t.test('hand-written paths: same values as ESO through gjson', { skip: oracle.skip ?? false }, async (t) => {
  const { mismatches, found } = differences(HAND);
  t.ok(found > 30, `${found} paths found a value`);
  t.same(mismatches, [], mismatches.slice(0, 20).join('\n'));
});

t.test(
  'generated documents and paths: same values as ESO through gjson',
  { skip: oracle.skip ?? false },
  async (t) => {
    const docs = fc.sample(
      fc.tuple(
        fc.oneof(
          value.filter((v) => v.startsWith('{')),
          fc.constant('{}'),
        ),
        fc.array(path, { minLength: 1, maxLength: 6 }),
      ),
      { seed: 4_242, numRuns: 1200 },
    );
    const cases = docs.map(([json, paths], i) => ({ json, paths: [...paths, ...walkPaths(json, i + 1, 4)] }));
    const { mismatches, found, total } = differences(cases);
    t.ok(total > 5000, `${total} paths compared`);
    t.ok(found > 1000, `${found} of them found a value`);
    t.same(mismatches, [], mismatches.slice(0, 20).join('\n'));
  },
);
