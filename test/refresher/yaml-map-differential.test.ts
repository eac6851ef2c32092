/**
 * The map of a rendered `templateFrom` text (`literal`, `templateAs: KeysAndValues`) against Go
 * (test/oracles/yamlmap: sigs.k8s.io/yaml.Unmarshal into a map[string]string, what ESO runs):
 * both give the same map, or both fail. Hand-written cases for every resolution rule (YAML 1.1
 * booleans, integers in every base, floats as float32 `%g`, nulls, tags, anchors, merge keys,
 * duplicate keys, non-string keys, collections), plus 1,000 generated documents (fixed seed).
 * Our messages are our own (code and position, never the text); Go's are not compared.
 */
import fc from 'fast-check';
import t from 'tap';
import { isEswError } from '../../src/errors.ts';
import { yamlStringMap } from '../../src/refresher/yaml-map.ts';
import { loadOracle } from '../oracles/oracle.ts';

const oracle = loadOracle('yamlmap');

const HAND: string[] = [
  'a: b\n',
  '',
  '# only a comment\n',
  '~',
  'null',
  'just text',
  '"quoted"',
  '- a',
  '[a, b]',
  'port: 5432',
  'x: yes',
  'x: No',
  'x: y',
  'x: N',
  'x: On',
  'x: off',
  'x: TRUE',
  'x: tRUE',
  'x: null',
  'x: ~',
  'x:',
  'x: ""',
  "x: ''",
  't: 1:20',
  'd: 2001-12-14',
  'd: 2001-12-14 21:59:43.10 -5',
  'd: 2001-12-14t21:59:43.10-05:00',
  'k: 0x1F',
  'k: 0X1f',
  'k: 0o17',
  'k: 017',
  'k: 019',
  'k: 0b11',
  'k: -0b11',
  'k: 0b',
  'k: 1_000',
  'k: 1__0',
  'k: _1',
  'k: 1e3',
  'k: 1E+3',
  'k: 1e6',
  'k: 1e-5',
  'k: 1.5',
  'k: 3.14159265358979',
  'k: 1.',
  'k: .5',
  'k: -.5',
  'k: +.5',
  'k: .',
  'k: 0.1',
  'k: 16777217.0',
  'k: 1e39',
  'k: .inf',
  'k: -.Inf',
  'k: +.INF',
  'k: .nan',
  'k: .NaN',
  'k: 12345678901234567890',
  'k: 18446744073709551615',
  'k: 18446744073709551616',
  'k: -9223372036854775808',
  'k: -9223372036854775809',
  'k: -0',
  'k: +1',
  'k: +0x10',
  'k: 1e',
  'k: 1.2.3',
  'k: 00',
  'k: 08',
  'k: "5432"',
  "k: '5432'",
  'k: !!str 1',
  'k: !!str yes',
  'k: !!binary aGk=',
  'k: !!int "5"',
  'k: [1]',
  'k: {a: b}',
  'k:\n  - a',
  'k:\n  a: b',
  'a: &x v\nb: *x',
  'a: &x [1]\nb: *x',
  'base: &b {x: "1"}\nother:\n  <<: *b',
  'base: &b {x: "1", y: "2"}\n<<: *b\nx: "3"',
  'x: "0"\n<<: {x: "1"}',
  '<<: [{a: "1"}, {a: "2", b: "3"}]',
  '<<: a',
  '"<<": a',
  'a: 1\na: 2',
  '1: a',
  '1.5: a',
  '1e3: a',
  '.inf: a',
  'true: b',
  'yes: b',
  '0x10: a',
  '12345678901234567890: a',
  'null: a',
  '~: b',
  '"": a',
  '? [a]\n: b',
  '? {a: b}\n: c',
  'k: |\n  line1\n  line2\n',
  'k: >\n  folded\n  text\n',
  'k: plain\n  continued',
  'k: "esc\\tape \\u00e9"',
  "k: 'it''s'",
  'k: a: b',
  'k: @x',
  'k: `x',
  'k: %x',
  '%YAML 1.1\n---\nk: v',
  '---\nk: v\n...\n',
  'k: v\n---\nj: w',
  'k: v #comment',
  'k: v#not-comment',
  '{a: 1, b: yes}',
  '{a, b}',
  'a:\n  b',
  'k: 0.0',
  'k: -0.0',
  'k: 1e400',
  'k: 100000',
  'k: 1000000.0',
  'k: 123456.7',
  'k: 0.0001',
  'k: 0.00001',
];

// Scalars that YAML 1.1 (go-yaml v2) and YAML 1.2 read differently, and plain words.
const TOKENS = [
  'yes',
  'no',
  'on',
  'off',
  'y',
  'n',
  'Y',
  'N',
  'true',
  'False',
  'null',
  '~',
  'Null',
  'NULL',
  '0',
  '-0',
  '+0',
  '00',
  '017',
  '018',
  '0o17',
  '0x1F',
  '0b101',
  '-0b101',
  '1_000',
  '_',
  '1_',
  '12',
  '-12',
  '+12',
  '1.5',
  '-1.5',
  '.5',
  '1.',
  '1e3',
  '1E-3',
  '1e+3',
  '.inf',
  '-.inf',
  '.nan',
  '1:20',
  '1:20.5',
  '2001-12-14',
  '12e',
  'abc',
  'a b',
  'x-y',
  'é',
  '9223372036854775807',
  '9223372036854775808',
  '18446744073709551615',
  '3.4028235e38',
  '3.5e38',
  '1e-46',
  '0.1',
  '0.3',
  '16777216',
  '16777217.5',
  '<<',
];

const scalar = fc.oneof(
  fc.constantFrom(...TOKENS),
  fc.constantFrom(...TOKENS).map((s) => `"${s}"`),
  fc.constantFrom(...TOKENS).map((s) => `'${s}'`),
  fc.double({ noNaN: true }).map((d) => String(d)),
  fc.integer().map((i) => String(i)),
  fc.stringMatching(/^[a-z][a-z0-9_.-]{0,8}$/),
);
const value = fc.oneof(
  { weight: 8, arbitrary: scalar },
  { weight: 1, arbitrary: fc.constant('[a, 1]') },
  { weight: 1, arbitrary: fc.constant('{a: b}') },
  { weight: 1, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: scalar.map((s) => `!!str ${s}`) },
);
const doc = fc.array(fc.tuple(scalar, value), { minLength: 0, maxLength: 6 });
const text = (pairs: [string, string][]) => pairs.map(([k, v]) => `${k}: ${v}`).join('\n');

type Ours = { ok: true; map: Record<string, string>; collides: boolean } | { ok: false };

function ours(text: string): Ours {
  try {
    const map: Record<string, string> = {};
    const entries = yamlStringMap(text, 'f');
    for (const [k, v] of entries) map[k] = v.toString('utf8');
    // Distinct YAML keys that print alike (1e300 and 1e301 are both `.inf`, a float32 `%g`)
    // collide in Go's map[string]interface{}, where which one wins is Go's random map order.
    return { ok: true, map, collides: entries.length !== Object.keys(map).length };
  } catch (err: unknown) {
    if (!isEswError(err)) throw err;
    return { ok: false };
  }
}

t.test(
  'the rendered map as sigs.k8s.io/yaml reads it into a map[string]string',
  { skip: oracle.skip },
  async (t) => {
    const pairs = fc.sample(doc, { numRuns: 1000, seed: 20261202 });
    const generated = pairs.map(text);
    // The same keys with plain values: do distinct keys print alike?
    const keysOnly = [...HAND.map(() => ''), ...pairs.map((p) => text(p.map(([k]) => [k, 'x'])))];
    const cases = [...HAND, ...generated];
    const go = oracle.run?.(cases) as { ok: boolean; map?: Record<string, string>; err?: string }[];
    let differences = 0;
    let random = 0;
    cases.forEach((text, i) => {
      const want = go[i] as { ok: boolean; map?: Record<string, string> };
      const got = ours(text);
      const keys = ours(keysOnly[i] as string);
      if (i >= HAND.length && keys.ok && keys.collides) {
        random++;
        return;
      }
      const same =
        want.ok === got.ok &&
        (!got.ok || JSON.stringify(sortKeys(got.map)) === JSON.stringify(sortKeys(want.map ?? {})));
      if (!same) {
        differences++;
        if (differences <= 30)
          t.fail(`${JSON.stringify(text)}: go ${JSON.stringify(want)}, ours ${JSON.stringify(got)}`);
      }
    });
    t.equal(differences, 0, `${cases.length} documents, ${differences} differences`);
    t.ok(
      random < generated.length / 10,
      `${random} generated documents left out: keys colliding in Go's map`,
    );
  },
);

t.test('errors give a position, never the text', async (t) => {
  for (const text of [
    'k: [SECRET-1]',
    'k: @SECRET-2',
    'SECRET-3',
    '? [SECRET-4]\n: b',
    'a: b\nk: {x: SECRET-5}',
  ]) {
    try {
      yamlStringMap(text, 'spec.x');
      t.fail(`${text}: accepted`);
    } catch (err: unknown) {
      t.ok(isEswError(err));
      t.notMatch((err as Error).message, /SECRET/);
      t.match((err as Error).message, /^spec\.x: the rendered template .* at line \d+, column \d+/);
    }
  }
});

function sortKeys(m: Record<string, string>): [string, string][] {
  return Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
