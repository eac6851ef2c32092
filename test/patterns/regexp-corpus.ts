/**
 * Cases for the differential test of the pattern engine against Go's regexp: a hand-written
 * corpus (the syntax the old hand translation got wrong, flags, classes, anchors, Unicode,
 * replacement expansion, and what Go refuses) and a fast-check generator of patterns, inputs and
 * templates over a small alphabet (so that matches are frequent).
 */
import fc from 'fast-check';

export interface RegexpCase {
  pattern: string;
  /**
   * The same pattern for the oracle when it differs: the oracle is Debian's Go 1.19, and Go 1.22
   * added `(?<name>…)` (ESO builds with a current Go), so the oracle gets `(?P<name>…)`.
   */
  oracle?: string;
  inputs: string[];
  templates?: string[];
}

const T = ['<$0>', '[${1}]', '$1x|${1}x', '$$1 $ $} ${ ${x', '$name:${name}', '$01:${01}', '${2}${10}'];

export const HAND_CORPUS: RegexpCase[] = [
  // What the hand translation got wrong (issue 11).
  {
    pattern: '(?P<n>[a-z]+)-(?P<env>prod|dev)',
    inputs: ['app-prod', 'x-dev y-prod', 'APP-prod'],
    templates: ['${env}/${n}', '$env_$n', '$n$env'],
  },
  {
    pattern: '(?<n>[a-z]+)-(?<env>prod|dev)',
    oracle: '(?P<n>[a-z]+)-(?P<env>prod|dev)',
    inputs: ['app-prod', 'x-dev'],
    templates: ['${env}/${n}'],
  },
  { pattern: '\\Aprod\\z', inputs: ['prod', 'prod\n', 'xprod', 'prod-x'] },
  { pattern: '(?m)\\Aa$', inputs: ['a\nb', 'b\na'] },
  { pattern: '(?m)^a\\z', inputs: ['a\nb', 'b\na'] },
  { pattern: '[[:alpha:]][[:digit:]]+', inputs: ['a1', '1a', 'é1', 'Z99z'] },
  { pattern: '[[:^alpha:]]+', inputs: ['ab12cd', 'é-'] },
  { pattern: '[[:word:][:space:]]+', inputs: ['a b_c-d'] },
  { pattern: '(?U)a+', inputs: ['aaa'], templates: ['<$0>'] },
  { pattern: '(?U)a+?', inputs: ['aaa'], templates: ['<$0>'] },
  { pattern: '(?U)(a+)(a*)', inputs: ['aaaa'], templates: ['[$1|$2]'] },
  { pattern: '\\Qa.b*c\\E+', inputs: ['a.b*c', 'a.b*cc', 'axbbc'], templates: ['<$0>'] },
  { pattern: '\\Qa.b', inputs: ['a.b', 'aab'] },
  { pattern: 'x\\Q\\E*', inputs: ['xx'], templates: ['<$0>'] },
  { pattern: '(?i)^db-', inputs: ['DB-main', 'db-x', 'xdb-'], templates: ['<$0>', 'new-'] },
  { pattern: '(?i)secret', inputs: ['MY-SECRET-KEY', 'SeCrEt'], templates: ['value'] },
  // Flags.
  { pattern: '(?s).+', inputs: ['a\nb'], templates: ['<$0>'] },
  { pattern: '.+', inputs: ['a\nb'], templates: ['<$0>'] },
  { pattern: '(?m)^a$', inputs: ['a\nb\na', 'b'], templates: ['<$0>'] },
  { pattern: '(?i:abc)d', inputs: ['ABCd', 'ABCD'] },
  { pattern: 'a(?i)b', inputs: ['aB', 'AB'] },
  { pattern: '(?i)a(?-i)b', inputs: ['Ab', 'AB'] },
  { pattern: '(?sm-i:a.)', inputs: ['a\n', 'A\n'] },
  { pattern: '(?i)k', inputs: ['\u212a', 'K', 'k'] },
  { pattern: '(?i)σ', inputs: ['Σ', 'ς', 'σ'], templates: ['<$0>'] },
  { pattern: '(?i)ǅ', inputs: ['Ǆ', 'ǆ'] },
  // Classes and escapes.
  { pattern: '\\pL+\\p{Greek}\\P{Lu}\\p{^Greek}', inputs: ['abγxy', 'aγaa'] },
  { pattern: '\\pN+', inputs: ['١٢3'], templates: ['<$0>'] },
  { pattern: '[^]]+', inputs: ['ab]c'], templates: ['<$0>'] },
  { pattern: '[]a]+', inputs: ['a]b'], templates: ['<$0>'] },
  { pattern: '[a\\]b]', inputs: [']'] },
  { pattern: '[\\d\\-z]+', inputs: ['1-z'], templates: ['<$0>'] },
  { pattern: '[a-]', inputs: ['-'] },
  { pattern: '\\101\\x41\\x{41}', inputs: ['AAA'] },
  { pattern: '\\x{1F600}', inputs: ['😀', '😃'], templates: ['<$0>'] },
  { pattern: '.', inputs: ['😀'], templates: ['<$0>'] },
  { pattern: '\\bfoo\\B\\d\\s\\w', inputs: ['foo1 a', 'a foo1 a'] },
  { pattern: '\\bé', inputs: ['é', ' é'] },
  { pattern: '[\\p{Han}\\p{Hiragana}]+', inputs: ['漢字ひらがな'], templates: ['<$0>'] },
  { pattern: '\\v\\f\\t\\r\\n\\a', inputs: ['\v\f\t\r\n\u0007'] },
  { pattern: '\\.\\+\\*\\?\\(\\)\\[\\]\\{\\}\\|\\^\\$', inputs: ['.+*?()[]{}|^$'] },
  { pattern: '\\-\\_\\%\\@', inputs: ['-_%@'] },
  // Repetition and alternation.
  { pattern: 'x{2,5}', inputs: ['xxxxxxx'], templates: ['<$0>'] },
  { pattern: 'x{2,}?', inputs: ['xxxx'], templates: ['<$0>'] },
  { pattern: 'a{,3}', inputs: ['a{,3}'] },
  { pattern: 'a{1000}', inputs: ['a'] },
  { pattern: 'a*?b+?', inputs: ['aabbb'], templates: ['<$0>'] },
  { pattern: '(a|ab)(c|bcd)(d*)', inputs: ['abcd'], templates: ['[$1|$2|$3]'] },
  { pattern: '(a*)*', inputs: ['b', 'aa'], templates: ['<$0|$1>'] },
  { pattern: '(a*)+', inputs: ['b'], templates: ['<$0|$1>'] },
  { pattern: '(a|b)*?c', inputs: ['abac'], templates: ['<$1>'] },
  { pattern: '(?:(a)|b)+', inputs: ['ab'], templates: ['[$1]'] },
  { pattern: '(a)|b', inputs: ['b'], templates: T },
  // Empty matches and ReplaceAll's rules.
  { pattern: '', inputs: ['', 'abc', '😀é'], templates: ['-'] },
  { pattern: 'a*', inputs: ['baaac', '', 'aaa'], templates: ['-'] },
  { pattern: 'a*?', inputs: ['baaac'], templates: ['-'] },
  { pattern: '\\b', inputs: ['ab cd'], templates: ['|'] },
  { pattern: '$', inputs: ['ab', ''], templates: ['!'] },
  { pattern: '(?m)^', inputs: ['a\nb\n'], templates: ['> '] },
  { pattern: 'x*', inputs: ['😀x😀'], templates: ['-'] },
  // Replacement expansion.
  {
    pattern: '(?P<first>\\w+)\\s(?P<last>\\w+)',
    inputs: ['Jane Doe'],
    templates: [...T, '${last}, ${first}', '$last,$first', '${ first}', '$first$', '${first}}'],
  },
  {
    pattern: '(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)',
    inputs: ['abcdefghijk'],
    templates: ['$10|${10}|$11|$1$0|${1}0|$12'],
  },
  { pattern: '(?P<01>x)', inputs: ['x'], templates: ['$01|${01}|$1'] },
  { pattern: '(?P<x1>a)(?P<x>b)', inputs: ['ab'], templates: ['$x1|$x|${x}1'] },
  { pattern: '(?P<é>a)', inputs: ['a'], templates: ['$é|${é}'] },
  { pattern: '(?P<Up>a)(b)', inputs: ['ab'], templates: ['$Up|$2é|${2}é|$2٣|${2}٣|$2_|$2-|$Upé'] },
  { pattern: '(?P<v>a)|(?P<v>b)', inputs: ['ab', 'ba'], templates: ['[$v]', '[$1|$2]'] },
  { pattern: '(?P<v>a)(?P<v>b)', inputs: ['ab'], templates: ['[$v]'] },
  { pattern: '(?P<esw_dup_0>a)(?P<v>b)(?P<v>c)', inputs: ['abc'], templates: ['[$esw_dup_0|$v|$3]'] },
  { pattern: '^prefix-(.*)$', inputs: ['prefix-db-password', 'other'], templates: ['$1', 'new-${1}'] },
  { pattern: '[^a-zA-Z0-9_.-]', inputs: ['a/b c:d'], templates: ['_'] },
  // What Go refuses, with Go's message.
  { pattern: '(?=a)b', inputs: [] },
  { pattern: '(?!kube-)', inputs: [] },
  { pattern: '(?<=a)b', inputs: [] },
  { pattern: '(?<!a)b', inputs: [] },
  { pattern: '(a)\\1', inputs: [] },
  { pattern: '(?P<x>a)(?P=x)', inputs: [] },
  { pattern: '(?P>x)', inputs: [] },
  { pattern: '(?>a)', inputs: [] },
  { pattern: '(?#comment)', inputs: [] },
  { pattern: 'a**', inputs: [] },
  { pattern: 'a*+', inputs: [] },
  { pattern: 'a{1001}', inputs: [] },
  { pattern: '(a{500}){3}', inputs: [] },
  { pattern: '\\Z', inputs: [] },
  { pattern: '\\C', inputs: [] },
  { pattern: '\\8', inputs: [] },
  { pattern: '\\e', inputs: [] },
  { pattern: '\\k<x>', inputs: [] },
  { pattern: '(a|b', inputs: [] },
  { pattern: 'a)', inputs: [] },
  { pattern: '[z-a]', inputs: [] },
  { pattern: '[', inputs: [] },
  { pattern: '[[:foo:]]', inputs: [] },
  { pattern: '\\', inputs: [] },
  { pattern: '*a', inputs: [] },
  { pattern: 'a|*', inputs: [] },
  { pattern: '(?P<n!>a)', inputs: [] },
  { pattern: '(?P<>a)', inputs: [] },
  { pattern: '(?z)a', inputs: [] },
  { pattern: '\\x{110000}', inputs: [] },
  { pattern: '\\p{Klingon}', inputs: [] },
  { pattern: '(?P<v>a)(?P<v>b)(', inputs: [] },
  { pattern: `${'('.repeat(1001)}${')'.repeat(1001)}`, inputs: [] },
  // Pathological for a backtracking engine: linear here.
  { pattern: '(a+)+$', inputs: [`${'a'.repeat(40)}!`], templates: ['x'] },
  { pattern: '(a|a)+$', inputs: [`${'a'.repeat(40)}!`], templates: ['x'] },
  { pattern: '(.*a){12}', inputs: ['a'.repeat(30)], templates: ['<$1>'] },
];

// ---------------------------------------------------------------- generated cases

const ALPHABET = [
  'a',
  'b',
  'c',
  'A',
  'B',
  '-',
  '_',
  '.',
  ' ',
  '\n',
  '1',
  '2',
  'é',
  'É',
  'σ',
  'Σ',
  'ς',
  'k',
  'K',
  '\u212a',
  '😀',
];
const META = new Set(['.', '+', '*', '?', '(', ')', '[', ']', '{', '}', '|', '^', '$', '\\']);

/** A pattern rendered twice: for our engine and for the Go 1.19 oracle (which lacks `(?<n>`). */
interface Rendered {
  ours: string;
  go: string;
}

const same = (s: string): Rendered => ({ ours: s, go: s });
const join = (parts: Rendered[], sep = ''): Rendered => ({
  ours: parts.map((p) => p.ours).join(sep),
  go: parts.map((p) => p.go).join(sep),
});
const wrap = (pre: string, r: Rendered, post: string): Rendered => ({
  ours: pre + r.ours + post,
  go: pre + r.go + post,
});

const literal = fc.constantFrom(...ALPHABET).map((c) => same(META.has(c) ? `\\${c}` : c));
const atom = fc.oneof(
  { weight: 6, arbitrary: literal },
  {
    weight: 3,
    arbitrary: fc
      .constantFrom(
        '.',
        '^',
        '$',
        '\\A',
        '\\z',
        '\\b',
        '\\B',
        '\\d',
        '\\D',
        '\\w',
        '\\W',
        '\\s',
        '\\S',
        '\\pL',
        '\\PL',
        '\\p{Greek}',
        '\\p{Lu}',
        '\\pN',
        '[[:alpha:]]',
        '[[:^space:]]',
        '[abc]',
        '[^a-c]',
        '[a-z\\d]',
        '[-_.]',
        '[^\\n]',
        '[éσ]',
        '[[:upper:]k]',
        '\\x{212A}',
        '\\Qa.b\\E',
        '\\Q*\\E',
        '(?:)',
        '\\x41',
        '\\141',
      )
      .map(same),
  },
  // Syntax Go refuses, so both engines must refuse alike.
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(
        '(?=a)',
        '\\1',
        '**',
        '[z-a]',
        '(',
        ')',
        '{1001}',
        '\\C',
        '\\Z',
        '(?P=x)',
        '[[:nope:]]',
        '(?<!a)',
        '\\',
      )
      .map(same),
  },
);

const { node } = fc.letrec<{ node: Rendered; seq: Rendered; group: Rendered; repeat: Rendered }>((tie) => ({
  node: fc.oneof({ maxDepth: 3, depthIdentifier: 're' }, atom, tie('seq'), tie('group'), tie('repeat')),
  seq: fc.array(tie('node'), { minLength: 1, maxLength: 4 }).map((parts) => join(parts)),
  group: fc
    .tuple(
      fc.constantFrom('capture', 'named', 'named-modern', 'noncapture', 'flags', 'alternation'),
      fc.array(tie('node'), { minLength: 1, maxLength: 3 }),
      fc.constantFrom('g', 'n1', 'x', 'v'),
      fc.constantFrom('i', 's', 'm', 'U', 'i-s', '-i', 'im'),
    )
    .map(([kind, subs, name, flags]): Rendered => {
      const body = join(subs, kind === 'alternation' ? '|' : '');
      switch (kind) {
        case 'capture':
          return wrap('(', body, ')');
        case 'named':
          return wrap(`(?P<${name}>`, body, ')');
        case 'named-modern':
          return { ours: `(?<${name}>${body.ours})`, go: `(?P<${name}>${body.go})` };
        case 'noncapture':
          return wrap('(?:', body, ')');
        case 'flags':
          return wrap(`(?${flags}:`, body, ')');
        default:
          return wrap('(', body, ')');
      }
    }),
  repeat: fc
    .tuple(
      tie('node'),
      fc.constantFrom('*', '+', '?', '{2}', '{0,2}', '{1,}', '{3,4}', '*?', '+?', '??', '{1,2}?'),
    )
    .map(([inner, op]) => wrap('(?:', inner, `)${op}`)),
}));

const prefix = fc.constantFrom('', '', '', '(?i)', '(?s)', '(?m)', '(?U)', '(?is)', '^', '(?i)^');

export const generatedPattern = fc.tuple(prefix, node).map(([p, n]) => wrap(p, n, ''));

export const generatedInput = fc
  .array(fc.constantFrom(...ALPHABET), { maxLength: 12 })
  .map((chars) => chars.join(''));

export const generatedTemplate = fc
  .array(
    fc.constantFrom(
      '$0',
      '$1',
      '${1}',
      '$2',
      '${2}x',
      '$1x',
      '$g',
      '${g}',
      '$n1',
      '${v}',
      '$x',
      '$$',
      '$',
      '-',
      'k',
      '${',
      '$01',
      'é',
      'Z',
      '٣',
      '}',
    ),
    { maxLength: 4 },
  )
  .map((parts) => `<${parts.join('')}>`);

export function generatedCases(seed: number, count: number): RegexpCase[] {
  const samples = fc.sample(
    fc.tuple(generatedPattern, fc.array(generatedInput, { minLength: 1, maxLength: 4 }), generatedTemplate),
    { seed, numRuns: count },
  );
  return samples.map(([p, inputs, template]) => ({
    pattern: p.ours,
    ...(p.go !== p.ours ? { oracle: p.go } : {}),
    inputs,
    templates: [template],
  }));
}
