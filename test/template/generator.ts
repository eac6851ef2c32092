/**
 * fast-check generator of templates and data for the differential test: typed expressions
 * (strings, integers, floats, lists, dicts, booleans) nested through pipelines, parentheses,
 * variables, if/with/range/else, trim markers and comments — well-typed most of the time so most
 * cases render, with deliberate type mistakes and missing keys mixed in so failures are compared
 * too. Only deterministic functions: random, clock and key-generating ones are excluded.
 */
import fc from 'fast-check';

const KEYS = ['a', 'b', 'c', 'user', 'n', 'csv', 'json'];
const value = fc.oneof(
  fc.constantFrom(
    '',
    'x',
    'hello world',
    'db_user',
    '42',
    '-7',
    '3.5',
    'true',
    'a,b,c',
    ' pad ',
    'Ünï',
    'a\nb',
  ),
  fc.string({ maxLength: 8 }),
  fc.integer({ min: -1000, max: 1000 }).map(String),
  fc.constantFrom('{"k":"v","n":1}', '[1,2,3]', '{"a":{"b":"c"}}'),
);
const data = fc.dictionary(fc.constantFrom(...KEYS), value, { minKeys: 3, maxKeys: 7 });

const strLit = fc
  .constantFrom('', 'a', 'x,y', 'Hello World', 'foo_bar', 'A-b c', '%d', '0', 'abc', '  s  ', 'é')
  .map((s) => JSON.stringify(s));
const intLit = fc.integer({ min: -5, max: 12 }).map(String);
const floatLit = fc.constantFrom('1.5', '0.25', '-2.75', '1e3', '100.0', '0.1');

const layout = fc
  .constantFrom(
    '2006-01-02',
    '2006-01-02T15:04:05Z07:00',
    'Mon Jan _2 15:04:05 MST 2006',
    '3:04PM',
    '02 Jan 06 15:04 -0700',
    '__2 002 .000 ,999',
    'January Monday pm',
  )
  .map((s) => JSON.stringify(s));
const zone = fc
  .constantFrom('UTC', 'Local', '', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Nope/Zone')
  .map((s) => JSON.stringify(s));
const unix = fc.integer({ min: -4_000_000_000, max: 5_000_000_000 }).map((n) => `(int64 ${n})`);
const durationLit = fc
  .constantFrom('1h', '-90m', '1.5s', '2h45m10.5s', '0', 'x', '100ms', '-3us', '720h')
  .map((s) => JSON.stringify(s));

const pattern = fc
  .constantFrom(
    'a',
    'a*',
    '[a-z]+',
    '\\d+',
    '(\\w)(\\w)?',
    '^',
    '$',
    '',
    'x|',
    '(?i)H',
    '\\s',
    '[,;]',
    '(',
    '.',
  )
  .map((s) => JSON.stringify(s));
const replacement = fc
  .constantFrom('-', '$1', '${1}x', '$$', '', '[$0]', '$2$1')
  .map((s) => JSON.stringify(s));

const semverVersion = fc.constantFrom(
  '1',
  '1.2',
  '1.2.3',
  '0.2.3',
  '0.0.3',
  '1.2.3-beta.1',
  'v2.0.0',
  '2.0.0-rc.1',
  '1.10.0',
  '10.0.0',
);
const constraint = fc
  .array(
    fc.tuple(
      fc.constantFrom('', '=', '!=', '>', '<', '>=', '<=', '~', '^', '~>', '=>', '=<'),
      fc.oneof(semverVersion, fc.constantFrom('1.x', '*', '1.2.X', 'x')),
      fc.constantFrom(' ', ',', ', ', ' || ', ' - '),
    ),
    { minLength: 1, maxLength: 3 },
  )
  .map((parts) => JSON.stringify(parts.map(([op, v, sep], i) => (i > 0 ? sep : '') + op + v).join('')));

type Gen = fc.Arbitrary<string>;

const { expr } = fc.letrec<{
  expr: string;
  str: string;
  int: string;
  list: string;
  dict: string;
  bool: string;
}>((tie) => {
  const S = tie('str');
  const I = tie('int');
  const L = tie('list');
  const D = tie('dict');
  const B = tie('bool');
  const E = tie('expr');
  const _p = (g: Gen) => g.map((x) => `(${x})`);
  return {
    expr: fc.oneof({ depthSize: 'small' }, S, I, L, D, B, floatLit, fc.constant('.'), fc.constant('nil')),
    str: fc.oneof(
      { depthSize: 'small', maxDepth: 4 },
      strLit,
      fc.constantFrom(...KEYS).map((k) => `.${k}`),
      fc.constantFrom(...KEYS).map((k) => `index . "${k}"`),
      S.map((s) => `upper (${s})`),
      S.map((s) => `(${s}) | lower`),
      S.map((s) => `trim (${s})`),
      S.map((s) => `quote (${s})`),
      S.map((s) => `(${s}) | b64enc`),
      S.map((s) => `title (${s})`),
      fc.tuple(S, S).map(([a, b]) => `printf "%s-%v" (${a}) (${b})`),
      fc.tuple(S, I).map(([a, b]) => `printf "%q:%d" (${a}) (${b})`),
      fc.tuple(strLit, strLit, S).map(([a, b, c]) => `replace ${a} ${b} (${c})`),
      fc.tuple(intLit, S).map(([n, s]) => `trunc ${n} (${s})`),
      fc.tuple(intLit, S).map(([n, s]) => `repeat ${n} (${s})`),
      fc.tuple(strLit, L).map(([sep, l]) => `join ${sep} (${l})`),
      E.map((x) => `toString (${x})`),
      E.map((x) => `toJson (${x})`),
      E.map((x) => `typeOf (${x})`),
      E.map((x) => `kindOf (${x})`),
      fc.tuple(S, S).map(([a, b]) => `default (${a}) (${b})`),
      fc.tuple(E, E, B).map(([a, b, c]) => `ternary (${a}) (${b}) (${c})`),
      S.map((s) => `snakecase (${s})`),
      S.map((s) => `nospace (${s})`),
      fc.tuple(intLit, S).map(([n, s]) => `indent ${n} (${s})`),
      fc.tuple(strLit, S).map(([a, s]) => `trimPrefix ${a} (${s})`),
      S.map((s) => `sha256sum (${s})`),
      fc.tuple(E, E).map(([a, b]) => `print (${a}) (${b})`),
      S.map((s) => `html (${s})`),
      L.map((l) => `toYaml (${l})`),
      D.map((d) => `toYaml (${d})`),
      fc.tuple(intLit, intLit, S).map(([a, b, s]) => `substr ${a} ${b} (${s})`),
      I.map((i) => `seq (${i})`),
      // dates: the clock is the fixed NOW both sides are given
      fc.tuple(layout, unix).map(([l, t]) => `date ${l} ${t}`),
      fc.tuple(S, unix).map(([l, t]) => `date (${l}) ${t}`),
      fc.tuple(layout, unix, zone).map(([l, t, z]) => `dateInZone ${l} ${t} ${z}`),
      fc.tuple(layout, durationLit).map(([l, d]) => `now | dateModify ${d} | date ${l}`),
      fc.tuple(layout, S).map(([l, v]) => `toDate ${l} (${v}) | date ${l}`),
      fc
        .tuple(durationLit, unix)
        .map(([d, t]) => `${t} | date "2006" | toDate "2006" | dateModify ${d} | unixEpoch`),
      E.map((x) => `duration (${x})`),
      fc.oneof(durationLit, E).map((x) => `durationRound (${x})`),
      unix.map((t) => `ago ${t}`),
      unix.map((t) => `htmlDate ${t}`),
      fc.tuple(S, S).map(([u, p]) => `htpasswd (${u}) (${p}) "sha"`),
      fc.tuple(pattern, S, replacement).map(([r, s, x]) => `regexReplaceAll ${r} (${s}) ${x}`),
      fc.tuple(pattern, S, replacement).map(([r, s, x]) => `regexReplaceAllLiteral ${r} (${s}) ${x}`),
      fc.tuple(pattern, S).map(([r, s]) => `regexFind ${r} (${s})`),
      S.map((s) => `regexQuoteMeta (${s})`),
    ),
    int: fc.oneof(
      { depthSize: 'small', maxDepth: 4 },
      intLit,
      S.map((s) => `len (${s})`),
      L.map((l) => `len (${l})`),
      fc.tuple(E, E).map(([a, b]) => `add (${a}) (${b})`),
      fc.tuple(E, E).map(([a, b]) => `mul (${a}) (${b})`),
      fc.tuple(E, E).map(([a, b]) => `sub (${a}) (${b})`),
      fc.tuple(E, E).map(([a, b]) => `max (${a}) (${b})`),
      S.map((s) => `atoi (${s})`),
      E.map((x) => `int (${x})`),
      E.map((x) => `int64 (${x})`),
      fc.tuple(I, I).map(([a, b]) => `div (${a}) (${b})`),
      E.map((x) => `floor (${x})`),
      fc.tuple(E, E).map(([a, b]) => `addf (${a}) (${b})`),
    ),
    list: fc.oneof(
      { depthSize: 'small', maxDepth: 3 },
      fc.array(E, { maxLength: 4 }).map((xs) => `list ${xs.map((x) => `(${x})`).join(' ')}`),
      fc.tuple(strLit, S).map(([sep, s]) => `splitList ${sep} (${s})`),
      fc.integer({ min: -3, max: 6 }).map((n) => `until ${n}`),
      L.map((l) => `reverse (${l})`),
      L.map((l) => `sortAlpha (${l})`),
      L.map((l) => `uniq (${l})`),
      L.map((l) => `rest (${l})`),
      L.map((l) => `compact (${l})`),
      fc.tuple(L, E).map(([l, x]) => `append (${l}) (${x})`),
      fc.tuple(L, L).map(([a, b]) => `concat (${a}) (${b})`),
      D.map((d) => `keys (${d}) | sortAlpha`),
      fc.tuple(L, intLit).map(([l, i]) => `slice (${l}) ${i}`),
      S.map((s) => `fromJson (${s})`),
      fc.tuple(pattern, S, intLit).map(([r, s, n]) => `regexFindAll ${r} (${s}) ${n}`),
      fc.tuple(pattern, S, intLit).map(([r, s, n]) => `regexSplit ${r} (${s}) ${n}`),
    ),
    dict: fc.oneof(
      { depthSize: 'small', maxDepth: 3 },
      fc
        .array(fc.tuple(fc.constantFrom('a', 'b', 'k'), E), { maxLength: 3 })
        .map((kv) => `dict ${kv.map(([k, v]) => `"${k}" (${v})`).join(' ')}`),
      fc.tuple(D, D).map(([a, b]) => `merge (${a}) (${b})`),
      fc.tuple(D, fc.constantFrom('a', 'b')).map(([d, k]) => `pick (${d}) "${k}"`),
      S.map((s) => `fromJson (${s})`),
      // fromYaml of YAML (its parser's error texts on broken input are not Go's; see docs).
      D.map((d) => `fromYaml (toYaml (${d}))`),
    ),
    bool: fc.oneof(
      { depthSize: 'small', maxDepth: 3 },
      fc.constantFrom('true', 'false'),
      fc.tuple(E, E).map(([a, b]) => `eq (${a}) (${b})`),
      fc.tuple(E, E).map(([a, b]) => `lt (${a}) (${b})`),
      fc.tuple(E, E).map(([a, b]) => `and (${a}) (${b})`),
      fc.tuple(E, E).map(([a, b]) => `or (${a}) (${b})`),
      E.map((x) => `not (${x})`),
      E.map((x) => `empty (${x})`),
      fc.tuple(pattern, S).map(([r, s]) => `regexMatch ${r} (${s})`),
      fc.tuple(constraint, semverVersion).map(([c, v]) => `semverCompare ${c} "${v}"`),
      fc.tuple(S, S).map(([a, b]) => `contains (${a}) (${b})`),
      fc.tuple(E, L).map(([a, b]) => `has (${a}) (${b})`),
      fc.tuple(D, fc.constantFrom('a', 'b')).map(([d, k]) => `hasKey (${d}) "${k}"`),
    ),
  };
});

const open = fc.constantFrom('{{', '{{- ');
const close = fc.constantFrom('}}', ' -}}');
const text = fc.constantFrom('', ' ', 'x', '\n', ' - ', 'a b\n  ');

const stmt: fc.Arbitrary<string> = fc.oneof(
  text,
  fc.tuple(open, expr, close).map(([o, e, c]) => `${o} ${e} ${c}`),
  fc.tuple(open, expr, close, text).map(([o, e, c, t]) => `${o} $v := ${e} ${c}${t}{{ $v }}`),
  fc.tuple(expr, text, text).map(([e, a, b]) => `{{ if ${e} }}${a}Y{{ else }}${b}N{{ end }}`),
  fc.tuple(expr, text).map(([e, a]) => `{{ with ${e} }}${a}[{{ . }}]{{ else }}none{{ end }}`),
  fc
    .tuple(expr, text)
    .map(([e, a]) => `{{ range $i, $x := ${e} }}${a}{{ $i }}={{ $x }};{{ else }}empty{{ end }}`),
  fc.tuple(expr, expr).map(([a, b]) => `{{ ${a} | printf "%v/%v" (${b}) }}`),
  fc.constant('{{/* note */}}'),
);

export function generatedCase(): fc.Arbitrary<{ template: string; data: Record<string, string> }> {
  return fc.record({
    template: fc.array(stmt, { minLength: 1, maxLength: 4 }).map((xs) => xs.join('')),
    data,
  });
}

/**
 * Values for toYaml: strings that stress go-yaml's scalar styles and 80-column folding (spaces,
 * breaks, indicators, quotes, tabs, control and non-BMP characters, YAML 1.1 keywords and
 * numbers, long words), in nested dicts and lists.
 */
const yamlPiece = fc.constantFrom(
  ' ',
  '  ',
  '\n',
  '\r',
  ':',
  ': ',
  '#',
  ' #',
  '-',
  '- ',
  '?',
  "'",
  '"',
  '\\',
  '\t',
  ',',
  '[',
  '{',
  '&',
  '*',
  '!',
  '|',
  '>',
  '%',
  '@',
  '`',
  '\u0001',
  '\u0085',
  '\u00a0',
  '\u2028',
  '\ufeff',
  'é',
  '✓',
  '😀',
  'yes',
  'no',
  'on',
  'null',
  '~',
  '1',
  '0x1F',
  '1e3',
  '1:30',
  '.5',
  '2024-01-02',
  '<<',
  '---',
  '...',
  'word',
  'longerword',
  'x'.repeat(30),
  'the quick brown fox',
);
const yamlString = fc.array(yamlPiece, { maxLength: 24 }).map((ps) => ps.join(''));
const yamlLit = yamlString.map((s) => JSON.stringify(s));
const { yamlValue } = fc.letrec<{ yamlValue: string }>((tie) => ({
  yamlValue: fc.oneof(
    { depthSize: 'small', maxDepth: 3 },
    yamlLit,
    fc.constantFrom('1', '1.5', '1e21', 'true', 'nil', '(list)', '(dict)', '(int64 -7)'),
    fc.array(tie('yamlValue'), { maxLength: 4 }).map((xs) => `(list ${xs.join(' ')})`),
    fc
      .array(fc.tuple(fc.oneof(yamlLit, fc.constantFrom('"a"', '"a10"', '"a2"', '"B"')), tie('yamlValue')), {
        maxLength: 4,
      })
      .map((kv) => `(dict ${kv.map(([k, v]) => `${k} ${v}`).join(' ')})`),
  ),
}));

export function yamlCase(): fc.Arbitrary<{ template: string; data: Record<string, string> }> {
  return yamlValue.map((v) => ({ template: `{{ toYaml ${v} }}`, data: {} }));
}

/** semverCompare of generated constraints (operators, wildcards, ranges, ORs) and versions. */
export function semverCase(): fc.Arbitrary<{ template: string; data: Record<string, string> }> {
  return fc
    .tuple(constraint, semverVersion)
    .map(([c, v]) => ({ template: `{{ semverCompare ${c} "${v}" }}`, data: {} }));
}
