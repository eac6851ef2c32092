import fc from 'fast-check';
import t from 'tap';
import { Glob, MAX_GLOB_LENGTH } from '../../src/patterns/glob.ts';
import { checkPropertyPath, parsePath } from '../../src/patterns/property-path.ts';

/**
 * tidwall/match's algorithm (v1.1.1, which gjson uses), transcribed over code points without its
 * step limit: recursive and exponential in the worst case, so only run on small inputs here.
 */
function tidwallMatch(str: string, pattern: string): boolean {
  if (pattern === '*') return true;
  return match(Array.from(str), Array.from(pattern));
}
function match(str: string[], pat: string[]): boolean {
  let s = str;
  let p = pat;
  while (p.length > 0) {
    let wild = false;
    const pc = p[0]!;
    switch (pc) {
      case '?':
        if (s.length === 0) return false;
        break;
      case '*': {
        while (p.length > 1 && p[1] === '*') p = p.slice(1);
        if (p.length === 1) return true;
        const trimmed = trimSuffix(s, p);
        if (!trimmed) return false;
        [s, p] = trimmed;
        if (p.length === 1) return true;
        if (match(s, p.slice(1))) return true;
        if (s.length === 0) return false;
        wild = true;
        break;
      }
      default: {
        if (s.length === 0) return false;
        let lit = pc;
        if (pc === '\\') {
          p = p.slice(1);
          if (p.length === 0) return false;
          lit = p[0]!;
        }
        if (s[0] !== lit) return false;
      }
    }
    s = s.slice(1);
    if (!wild) p = p.slice(1);
  }
  return s.length === 0;
}
function trimSuffix(str: string[], pat: string[]): [string[], string[]] | undefined {
  let s = str;
  let p = pat;
  while (s.length > 0 && p.length > 1) {
    const pc = p[p.length - 1]!;
    let ps = 1;
    let esc = false;
    for (let i = 0; ; i++) {
      if (p[p.length - ps - i - 1] !== '\\') {
        if (i & 1) {
          esc = true;
          ps++;
        }
        break;
      }
    }
    if (pc === '*' && !esc) break;
    if (!((pc === '?' && !esc) || pc === s[s.length - 1])) return undefined;
    s = s.slice(0, -1);
    p = p.slice(0, -ps);
  }
  return [s, p];
}

t.test('wildcards over whole keys, code point by code point', async (t) => {
  const cases: [string, string, boolean][] = [
    ['db-*', 'db-primary', true],
    ['db-*', 'xdb-primary', false],
    ['*', '', true],
    ['?', '', false],
    ['?', '😀', true],
    ['??', '😀', false],
    ['k?y', 'k😀y', true],
    ['a*b*c', 'aXXbYYc', true],
    ['a*b*c', 'aXXcYYb', false],
    ['a\\*', 'a*', true],
    ['a\\*', 'ab', false],
    ['a\\?', 'a?', true],
    ['a\\\\', 'a\\', true],
    ['a\\', 'a\\', false],
    ['*a\\', 'xa\\', true],
    ['', '', true],
    ['', 'a', false],
  ];
  for (const [pattern, key, want] of cases)
    t.equal(new Glob(pattern).match(key), want, `${pattern} ~ ${key}`);
});

t.test('the same answers as tidwall/match on generated patterns and keys', async (t) => {
  const alphabet = fc.constantFrom('a', 'b', '*', '?', '\\', 'é', '😀');
  const word = fc.array(alphabet, { maxLength: 7 }).map((c) => c.join(''));
  const key = fc
    .array(fc.constantFrom('a', 'b', '*', '?', '\\', 'é', '😀'), { maxLength: 8 })
    .map((c) => c.join(''));
  const samples = fc.sample(fc.tuple(word, fc.array(key, { minLength: 1, maxLength: 6 })), {
    seed: 77,
    numRuns: 3000,
  });
  const mismatches: string[] = [];
  let matched = 0;
  for (const [pattern, keys] of samples) {
    const glob = new Glob(pattern);
    for (const k of keys) {
      const want = tidwallMatch(k, pattern);
      if (want) matched++;
      if (glob.match(k) !== want)
        mismatches.push(`${JSON.stringify(pattern)} ~ ${JSON.stringify(k)}: want ${want}`);
    }
  }
  t.ok(matched > 500, `${matched} matches`);
  t.same(mismatches, [], mismatches.slice(0, 10).join('\n'));
});

t.test('no backtracking: many stars against long keys answer at once', async (t) => {
  const key = 'a'.repeat(5000);
  t.equal(new Glob(`${'*a'.repeat(200)}*b`).match(key), false);
  t.equal(new Glob(`${'*a'.repeat(200)}*`).match(key), true);
  t.equal(new Glob(`${'?*'.repeat(300)}`).match(key), true);
  t.equal(new Glob(`${'*'.repeat(34)}d`).match(`${'x'.repeat(60)}`), false);
});

t.test('property paths: gjson components and the wildcard bound', async (t) => {
  t.same(
    parsePath('a.b\\.c.0.#').map((p) => [p.text, p.index, p.count, p.glob !== undefined]),
    [
      ['a', undefined, false, false],
      ['b.c', undefined, false, false],
      ['0', 0, false, false],
      ['#', undefined, true, false],
    ],
  );
  t.same(
    parsePath('a\\*?.x\\*').map((p) => [p.text, p.glob !== undefined]),
    [
      ['a*?', true],
      ['x*', false],
    ],
    'escapes are removed; an unescaped wildcard makes the component a glob',
  );
  t.equal(checkPropertyPath(`${'*.'.repeat(40)}d`), undefined, 'many wildcard components');
  t.equal(checkPropertyPath(`a${'*'.repeat(MAX_GLOB_LENGTH - 1)}`), undefined);
  t.equal(
    checkPropertyPath(`a${'*'.repeat(MAX_GLOB_LENGTH)}`),
    `a property with a wildcard is ${MAX_GLOB_LENGTH + 1} characters long; at most ${MAX_GLOB_LENGTH} are accepted`,
  );
  t.match(
    checkPropertyPath(`${'a.'.repeat(600)}*`),
    /at most 1024/,
    'ESO first reads the whole property as one key: it counts as one wildcard pattern',
  );
  t.equal(checkPropertyPath(`${'a.'.repeat(600)}b`), undefined, 'no wildcard, no bound');
  t.throws(() => parsePath(`x*${'y'.repeat(MAX_GLOB_LENGTH)}`), { code: 'ESW_REF_SYNTAX' });
});
