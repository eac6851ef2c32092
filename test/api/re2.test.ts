import t from 'tap';
import { checkGoRegexp } from '../../src/api/re2.ts';

t.test('RE2 expressions ESO accepts compile here too', async (t) => {
  for (const re of [
    '^team-[a-z]+$',
    '.*foobar.*',
    '(?i)^db-',
    '(?s).+',
    '(?m)^a$',
    '(?i:abc)d',
    'a(?i)b',
    '(?U)a+',
    '(?P<app>[a-z]+)-(?<env>prod|dev)',
    '\\Aprod\\z',
    '[[:alpha:]][[:digit:]]+',
    '[[:^alpha:]]',
    '\\pL+\\p{Greek}\\P{Lu}\\p{^Greek}',
    '\\Qa.b*c\\E',
    '\\101',
    '[^]]',
    '[a\\]b]',
    'x{2,5}',
    'a*?b+?',
    'a{,3}',
    '\\bfoo\\B\\d\\s\\w',
  ]) {
    t.equal(checkGoRegexp(re), undefined, re);
  }
});

t.test('what Go RE2 rejects is rejected, with the reason', async (t) => {
  const rejected: [string, string][] = [
    ['(?=a)b', 'lookahead (?=…) is not supported (ESO compiles it with Go RE2 syntax'],
    ['(?!kube-)', 'lookahead (?!…)'],
    ['(?<=a)b', 'lookbehind (?<=…)'],
    ['(?<!a)b', 'lookbehind (?<!…)'],
    ['(a)\\1', 'backreference \\1 is not supported'],
    ['(?<x>a)\\k<x>', 'named backreference \\k<…>'],
    ['(?P<x>a)(?P=x)', 'named backreference (?P=…)'],
    ['(?>a)', 'atomic group'],
    ['a**', 'invalid nested repetition operator'],
    ['a{1001}', 'invalid repeat count'],
    ['\\Z', 'invalid escape sequence \\Z'],
    ['\\C', 'invalid escape sequence \\C'],
    ['(a|b', 'not a valid regular expression: Unterminated group'],
    ['[z-a]', 'not a valid regular expression'],
    ['[', 'not a valid regular expression'],
    ['\\', 'trailing backslash'],
  ];
  for (const [re, reason] of rejected) {
    const msg = checkGoRegexp(re);
    t.ok(msg?.includes(reason), `${re} → ${msg}`);
  }
});
