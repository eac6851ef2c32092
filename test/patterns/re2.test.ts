import t from 'tap';
import {
  checkGoRegexp,
  compileGoRegexp,
  MAX_PATTERN_BYTES,
  MAX_PROGRAM_SIZE,
  quotePattern,
} from '../../src/patterns/re2.ts';
import { scanPattern } from '../../src/patterns/syntax.ts';

t.test('Go syntax the old hand translation got wrong compiles and runs as Go', async (t) => {
  for (const re of [
    '(?P<app>[a-z]+)-(?<env>prod|dev)',
    '\\Aprod\\z',
    '[[:alpha:]][[:digit:]]+',
    '[[:^alpha:]]',
    '(?U)a+',
    '\\Qa.b*c\\E',
    '(?i)^db-',
    'a(?i)b',
    '(?i:abc)d',
    '\\pL+\\p{Greek}\\P{Lu}\\p{^Greek}',
    '\\101',
    '[^]]',
    'a{,3}',
  ]) {
    t.equal(checkGoRegexp(re), undefined, re);
  }
  t.equal(compileGoRegexp('\\Aprod\\z').test('prod\n'), false, '\\z is the very end');
  t.equal(compileGoRegexp('(?U)a+').replaceAll('aaa', '<$0>'), '<a><a><a>', '(?U) makes + lazy');
  t.equal(compileGoRegexp('\\Qa.b\\E').test('axb'), false, '\\Q…\\E is literal');
  t.equal(
    compileGoRegexp('(?i)^db-').replaceAll('DB-main', 'x-'),
    'x-main',
    'a leading (?i) applies to rewrite',
  );
  t.equal(compileGoRegexp('[[:alpha:]]+').replaceAll('ab1é', '_'), '_1é', 'POSIX classes are ASCII');
});

t.test('what Go refuses is refused, in Go words, with a hint for Perl habits', async (t) => {
  const cases: [string, string][] = [
    [
      '(?=a)b',
      'error parsing regexp: invalid or unsupported Perl syntax: `(?=` (Go RE2 syntax has no lookahead)',
    ],
    ['(?<!a)b', 'error parsing regexp: invalid named capture: `(?<!a)b` (Go RE2 syntax has no lookbehind)'],
    ['(a)\\1', 'error parsing regexp: invalid escape sequence: `\\1` (Go RE2 syntax has no backreferences)'],
    ['\\k<x>', 'error parsing regexp: invalid escape sequence: `\\k` (Go RE2 syntax has no backreferences)'],
    ['a**', 'error parsing regexp: invalid nested repetition operator: `**`'],
    ['a{1001}', 'error parsing regexp: invalid repeat count: `{1001}`'],
    ['\\C', 'error parsing regexp: invalid escape sequence: `\\C`'],
    ['(a|b', 'error parsing regexp: missing closing ): `(a|b`'],
    ['\\', 'error parsing regexp: trailing backslash at end of expression: ``'],
  ];
  for (const [re, message] of cases) {
    t.equal(checkGoRegexp(re), message, re);
    t.throws(
      () => compileGoRegexp(re),
      { name: 'PatternError', reason: message.replace(/ \(Go RE2.*$/, '') },
      re,
    );
  }
  const deep = `${'('.repeat(1001)}${')'.repeat(1001)}`;
  t.equal(
    checkGoRegexp(deep),
    `error parsing regexp: expression nests too deeply: \`${'('.repeat(61)}...\``,
    'Go quotes the whole expression; the message cuts it',
  );
});

t.test('one name on two groups is Go syntax: both count, the leftmost that took part expands', async (t) => {
  const re = compileGoRegexp('(?P<v>a)|(?P<v>b)');
  t.same(re.names, ['', 'v', 'v']);
  t.equal(re.replaceAll('xaby', '[$v]'), 'x[a][b]y');
  const taken = compileGoRegexp('(?P<esw_dup_0>a)(?P<v>b)(?P<v>c)');
  t.same(taken.names, ['', 'esw_dup_0', 'v', 'v'], 'an internal alias never clashes with a real name');
  t.equal(checkGoRegexp('(?P<v>a)(?P<v>b)('), 'error parsing regexp: missing closing ): `(?P<v>a)(?P<v>b)(`');
});

t.test('Go template expansion in replaceAll', async (t) => {
  const re = compileGoRegexp('(?P<first>\\w+)\\s(?P<last>\\w+)');
  t.equal(re.replaceAll('Jane Doe', '${last}, ${first}'), 'Doe, Jane');
  t.equal(
    re.replaceAll('Jane Doe', '$last_$first'),
    'Jane',
    '$last_ names a group "last_", which does not exist; $first follows',
  );
  t.equal(re.replaceAll('Jane Doe', '$1x|${1}x|$$1|$'), '|Janex|$1|$');
  t.equal(compileGoRegexp('a*').replaceAll('baaac', '-'), '-b-c-', 'no empty match right after a match');
  t.equal(compileGoRegexp('').replaceAll('😀é', '-'), '-😀-é-', 'empty matches step a whole code point');
});

t.test('linear time: inputs that take a backtracking engine hours', async (t) => {
  t.equal(compileGoRegexp('(a+)+$').test(`${'a'.repeat(50_000)}!`), false);
  t.equal(compileGoRegexp('(a|a)+!$').replaceAll(`${'a'.repeat(50_000)}!`, 'x'), 'x');
  t.equal(compileGoRegexp('(a|a)+$').replaceAll(`${'a'.repeat(50_000)}!`, 'x'), `${'a'.repeat(50_000)}!`);
  t.equal(compileGoRegexp('(.*a){20}').test('a'.repeat(20_000)), true);
});

t.test('bounds: pattern length and program size, refused before compiling', async (t) => {
  const long = 'a'.repeat(MAX_PATTERN_BYTES + 1);
  t.equal(
    checkGoRegexp(long),
    `pattern is ${MAX_PATTERN_BYTES + 1} bytes long; at most ${MAX_PATTERN_BYTES} are accepted`,
  );
  t.equal(checkGoRegexp('a'.repeat(MAX_PATTERN_BYTES)), undefined, 'the limit itself is accepted');
  t.match(checkGoRegexp('é'.repeat(MAX_PATTERN_BYTES / 2 + 1)), /bytes long/, 'counted in UTF-8 bytes');
  t.match(checkGoRegexp('x'.repeat(1024 * 1024)), /^pattern is 1048576 bytes long/, 'a 1 MiB pattern');
  const big = 'x{1000}'.repeat(6);
  t.ok(scanPattern(big).size > MAX_PROGRAM_SIZE);
  t.equal(
    checkGoRegexp(big),
    `pattern is too large: its program would exceed ${MAX_PROGRAM_SIZE} instructions`,
  );
  t.equal(checkGoRegexp('x{1000}'.repeat(4)), undefined, 'four thousand instructions are fine');
  t.equal(
    checkGoRegexp(`(?:${'x{1000}'.repeat(300)}`),
    `pattern is too large: its program would exceed ${MAX_PROGRAM_SIZE} instructions`,
    '300,000 instructions are never compiled',
  );
});

t.test('the size estimate bounds the compiled program from above', async (t) => {
  for (const source of [
    'abc',
    '(a|b)*c{2,5}',
    '[a-z0-9]{1,63}',
    '(?:(?:a{30}){30})',
    '\\Qabc\\E+',
    '(?P<n>x{10})(?P<m>y{3,})',
    '^(?:[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?\\.)+$',
    '((a{10}){10}){10}',
  ]) {
    const compiled = compileGoRegexp(source) as unknown as { programSize: number };
    t.ok(
      scanPattern(source).size >= compiled.programSize,
      `${source}: ${scanPattern(source).size} >= ${compiled.programSize}`,
    );
  }
  t.same(
    scanPattern('(?P<a>x)[(?P<no>)](?<b>y)\\Q(?P<no>\\E(?:z)(?P<c>').named.map((g) => g.name),
    ['a', 'b', 'c'],
    'named groups outside classes and \\Q…\\E',
  );
});

t.test('compiled patterns are cached, refusals too', async (t) => {
  t.equal(compileGoRegexp('^team-[a-z]+$'), compileGoRegexp('^team-[a-z]+$'));
  const first = checkGoRegexp('(unclosed');
  t.equal(checkGoRegexp('(unclosed'), first);
});

t.test('quotePattern keeps messages short', async (t) => {
  t.equal(quotePattern('abc'), '"abc"');
  t.equal(quotePattern('x'.repeat(100)), `"${'x'.repeat(61)}..."`);
});
