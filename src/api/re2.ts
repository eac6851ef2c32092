/**
 * Go (RE2) regular expressions checked at admission. ESO compiles `find.name.regexp`,
 * `rewrite[].regexp.source` and `conditions[].namespaceRegexes` with Go's `regexp` package only
 * when it syncs, so a typo surfaces as a sync error long after `kubectl apply`. Here the
 * expression is first screened for Perl constructs RE2 does not have (lookaround,
 * backreferences), then translated where the two syntaxes differ and compiled with JavaScript's
 * RegExp. Returns undefined when the expression compiles, else a message for the user.
 */

const POSIX_CLASSES: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

const RE2_NOTE = 'ESO compiles it with Go RE2 syntax';

export function checkGoRegexp(source: string): string | undefined {
  let out = '';
  let flags = '';
  let inClass = false;
  let unicode = false;
  let i = 0;
  // A leading `(?flags)` applies to the whole expression; JavaScript takes it as RegExp flags.
  const leading = /^\(\?([imsU]+)\)/.exec(source);
  if (leading) {
    const f = leading[1] as string;
    if (f.includes('U')) return undefined; // ungreedy mode has no JavaScript equivalent: trust RE2
    flags = [...new Set(f)].join('');
    i = leading[0].length;
  }
  while (i < source.length) {
    const c = source[i] as string;
    if (c === '\\') {
      const n = source[i + 1];
      if (n === undefined) return 'trailing backslash at end of expression';
      if (/[1-9]/.test(n) && !/[0-7]/.test(source[i + 2] ?? '')) {
        return `backreference \\${n} is not supported (${RE2_NOTE}, which has no backreferences)`;
      }
      if (/[A-Za-z]/.test(n) && !'afnrtvxpPdDsSwWbBAzQEk'.includes(n)) {
        return `invalid escape sequence \\${n} (${RE2_NOTE})`;
      }
      if (n === 'k' && source[i + 2] !== '<') return `invalid escape sequence \\k (${RE2_NOTE})`;
      if (n === 'k' && source[i + 2] === '<') {
        return `named backreference \\k<…> is not supported (${RE2_NOTE}, which has no backreferences)`;
      }
      if (n === 'Q') {
        // \Q...\E quotes literally.
        const end = source.indexOf('\\E', i + 2);
        const lit = end < 0 ? source.slice(i + 2) : source.slice(i + 2, end);
        out += lit.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
        i = end < 0 ? source.length : end + 2;
        continue;
      }
      if (n === 'A' && !inClass) {
        out += '^';
        i += 2;
        continue;
      }
      if (n === 'z' && !inClass) {
        out += '$(?![\\s\\S])';
        i += 2;
        continue;
      }
      if ((n === 'p' || n === 'P') && source[i + 2] !== '{') {
        // \pL → \p{L}
        unicode = true;
        out += `\\${n}{${source[i + 2] ?? ''}}`;
        i += 3;
        continue;
      }
      if (n === 'p' || n === 'P') {
        // RE2 names scripts bare (\p{Greek}); JavaScript wants \p{Script=Greek}.
        const m = /^\{(\^?)([A-Za-z_]+)\}/.exec(source.slice(i + 2));
        if (m) {
          const name = m[2] as string;
          const prop = name.length <= 2 || name === 'Any' ? name : `Script=${name}`;
          unicode = true;
          out += m[1] ? `\\${n === 'p' ? 'P' : 'p'}{${prop}}` : `\\${n}{${prop}}`;
          i += 2 + m[0].length;
          continue;
        }
        unicode = true;
      }
      out += c + n;
      i += 2;
      continue;
    }
    if (inClass) {
      if (c === '[' && source[i + 1] === ':') {
        const m = /^\[:(\^?)([a-z]+):\]/.exec(source.slice(i));
        const cls = m ? POSIX_CLASSES[m[2] as string] : undefined;
        if (m && cls !== undefined) {
          if (m[1]) return undefined; // negated POSIX class inside a class: valid RE2, no JS form
          out += cls;
          i += m[0].length;
          continue;
        }
      }
      if (c === ']') inClass = false;
      out += c === '[' ? '\\[' : c;
      i++;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      i++;
      // A leading `]` (or `^]`) is a literal in RE2.
      if (source[i] === '^') {
        out += '^';
        i++;
      }
      if (source[i] === ']') {
        out += '\\]';
        i++;
      }
      continue;
    }
    if (c === '(' && source[i + 1] === '?') {
      const rest = source.slice(i + 2);
      if (rest.startsWith('=') || rest.startsWith('!')) {
        return `lookahead (?${rest[0]}…) is not supported (${RE2_NOTE}, which has no lookaround)`;
      }
      if (rest.startsWith('<=') || rest.startsWith('<!')) {
        return `lookbehind (?${rest.slice(0, 2)}…) is not supported (${RE2_NOTE}, which has no lookaround)`;
      }
      if (rest.startsWith('P=') || rest.startsWith('P>')) {
        return `named backreference (?${rest.slice(0, 2)}…) is not supported (${RE2_NOTE}, which has no backreferences)`;
      }
      if (rest.startsWith('P<')) {
        out += '(?<';
        i += 4;
        continue;
      }
      if (rest.startsWith('>')) return `atomic group (?>…) is not supported (${RE2_NOTE})`;
      const inline = /^([imsU]*)(?:-([imsU]*))?([:)])/.exec(rest);
      if (inline && inline[3] === ')') {
        // Mid-expression flag switch: valid RE2, no JavaScript form; accept without compiling.
        return undefined;
      }
      if (inline && inline[3] === ':' && /U/.test(`${inline[1]}${inline[2] ?? ''}`)) return undefined;
    }
    if (c === '{') {
      const m = /^\{(\d+)(?:,(\d*))?\}/.exec(source.slice(i));
      if (m && (Number(m[1]) > 1000 || (m[2] !== undefined && m[2] !== '' && Number(m[2]) > 1000))) {
        return `invalid repeat count ${m[0]} (RE2 allows at most 1000)`;
      }
    }
    if ((c === '*' || c === '+' || c === '?') && /[*+]/.test(source[i + 1] ?? '')) {
      return `invalid nested repetition operator ${c}${source[i + 1]}`;
    }
    out += c;
    i++;
  }
  try {
    new RegExp(out, unicode ? `${flags}u` : flags);
    return undefined;
  } catch (err: unknown) {
    const msg = err instanceof Error ? err.message : String(err);
    // "Invalid regular expression: /x/: Unterminated group" → "Unterminated group"
    const reason = msg.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '');
    return `not a valid regular expression: ${reason}`;
  }
}
