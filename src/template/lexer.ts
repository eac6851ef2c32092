/**
 * The lexer of Go's text/template (text/template/parse/lex.go), with the same items, trim
 * markers (`{{- ` and ` -}}` need the space), comments (`{{/* … *\/}}`, which must end at the
 * delimiter), numbers (`0x1F`, `1_000`, `1e3`, `'a'`) and quoting rules. Positions are byte
 * offsets into the source; the parser turns them into line and column for messages.
 */
import { TemplateError } from './errors.ts';

export type ItemType =
  | 'text'
  | 'leftDelim'
  | 'rightDelim'
  | 'space'
  | 'identifier'
  | 'field'
  | 'variable'
  | 'dot'
  | 'string'
  | 'rawString'
  | 'charConstant'
  | 'number'
  | 'complex'
  | 'bool'
  | 'nil'
  | 'pipe'
  | 'leftParen'
  | 'rightParen'
  | 'declare'
  | 'assign'
  | 'char'
  | 'eof'
  // keywords
  | 'block'
  | 'break'
  | 'continue'
  | 'define'
  | 'else'
  | 'end'
  | 'if'
  | 'range'
  | 'template'
  | 'with';

export interface Item {
  type: ItemType;
  val: string;
  pos: number;
}

const KEYWORDS: Record<string, ItemType> = {
  '.': 'dot',
  block: 'block',
  break: 'break',
  continue: 'continue',
  define: 'define',
  else: 'else',
  end: 'end',
  if: 'if',
  range: 'range',
  nil: 'nil',
  template: 'template',
  with: 'with',
};

const isSpace = (c: string | undefined) => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isAlphaNumeric = (c: string | undefined) => c !== undefined && c !== '' && /^[\p{L}\p{Nd}_]$/u.test(c);

function rightTrimLength(s: string): number {
  let i = s.length;
  while (i > 0 && isSpace(s[i - 1])) i--;
  return s.length - i;
}

function leftTrimLength(s: string, from: number): number {
  let i = from;
  while (i < s.length && isSpace(s[i])) i++;
  return i - from;
}

/** Tokenise a whole template (Go lexes lazily; the items are the same). */
export function lex(input: string, posToString: (pos: number) => string): Item[] {
  const items: Item[] = [];
  let pos = 0;
  let start = 0;
  let parenDepth = 0;
  const L = '{{';
  const R = '}}';
  const fail = (msg: string): never => {
    throw new TemplateError(`${posToString(start)}: ${msg}`);
  };
  const emit = (type: ItemType) => {
    items.push({ type, val: input.slice(start, pos), pos: start });
    start = pos;
  };
  const hasLeftTrimMarker = (at: number) => input[at] === '-' && isSpace(input[at + 1]);
  const hasRightTrimMarker = (at: number) => isSpace(input[at]) && input[at + 1] === '-';
  const atRightDelim = (): [boolean, boolean] => {
    if (hasRightTrimMarker(pos) && input.startsWith(R, pos + 2)) return [true, true];
    if (input.startsWith(R, pos)) return [true, false];
    return [false, false];
  };
  const atTerminator = (): boolean => {
    const c = input[pos];
    if (c === undefined || isSpace(c)) return true;
    if (c === '.' || c === ',' || c === '|' || c === ':' || c === ')' || c === '(') return true;
    return input.startsWith(R, pos);
  };
  const charAt = (i: number): string => {
    const cp = input.codePointAt(i);
    return cp === undefined ? '' : String.fromCodePoint(cp);
  };

  text: for (;;) {
    // lexText
    const x = input.indexOf(L, pos);
    if (x < 0) {
      pos = input.length;
      if (pos > start) emit('text');
      items.push({ type: 'eof', val: '', pos });
      return items;
    }
    pos = x;
    let trimLength = 0;
    if (hasLeftTrimMarker(pos + L.length)) trimLength = rightTrimLength(input.slice(start, pos));
    pos -= trimLength;
    if (pos > start) emit('text');
    pos += trimLength;
    start = pos;
    // lexLeftDelim
    pos += L.length;
    const trimSpace = hasLeftTrimMarker(pos);
    const afterMarker = trimSpace ? 2 : 0;
    if (input.startsWith('/*', pos + afterMarker)) {
      pos += afterMarker;
      start = pos;
      const end = input.indexOf('*/', pos + 2);
      if (end < 0) fail('unclosed comment');
      pos = end + 2;
      const [delim, trim] = atRightDelim();
      if (!delim) fail('comment ends before closing delimiter');
      if (trim) pos += 2;
      pos += R.length;
      if (trim) pos += leftTrimLength(input, pos);
      start = pos;
      continue;
    }
    emit('leftDelim');
    pos += afterMarker;
    start = pos;
    parenDepth = 0;
    // lexInsideAction
    for (;;) {
      const [delim, trim] = atRightDelim();
      if (delim) {
        if (parenDepth !== 0) fail('unclosed left paren');
        if (trim) {
          pos += 2;
          start = pos;
        }
        pos += R.length;
        emit('rightDelim');
        if (trim) {
          pos += leftTrimLength(input, pos);
          start = pos;
        }
        continue text;
      }
      const r = charAt(pos);
      if (r === '') fail('unclosed action');
      if (isSpace(r)) {
        let n = 0;
        while (isSpace(input[pos])) {
          pos++;
          n++;
        }
        if (hasRightTrimMarker(pos - 1) && input.startsWith(R, pos - 1 + 2)) {
          pos--;
          if (n === 1) continue; // the trim marker's own space: at the delimiter now
        }
        emit('space');
        continue;
      }
      pos += r.length;
      switch (r) {
        case '=':
          emit('assign');
          continue;
        case ':':
          if (input[pos] !== '=') fail('expected :=');
          pos++;
          emit('declare');
          continue;
        case '|':
          emit('pipe');
          continue;
        case '"': {
          for (;;) {
            const c = input[pos++];
            if (c === '\\') {
              const d = input[pos++];
              if (d !== undefined && d !== '\n') continue;
              fail('unterminated quoted string');
            }
            if (c === undefined || c === '\n') fail('unterminated quoted string');
            if (c === '"') break;
          }
          emit('string');
          continue;
        }
        case '`': {
          const end = input.indexOf('`', pos);
          if (end < 0) fail('unterminated raw quoted string');
          pos = end + 1;
          emit('rawString');
          continue;
        }
        case '$':
        case '.': {
          if (r === '.' && input[pos] !== undefined && input[pos]! >= '0' && input[pos]! <= '9') {
            pos--;
            lexNumber();
            continue;
          }
          if (atTerminator()) {
            emit(r === '$' ? 'variable' : 'dot');
            continue;
          }
          let c = charAt(pos);
          while (isAlphaNumeric(c)) {
            pos += c.length;
            c = charAt(pos);
          }
          if (!atTerminator()) fail(`bad character ${goRune(c)}`);
          emit(r === '$' ? 'variable' : 'field');
          continue;
        }
        case "'": {
          for (;;) {
            const c = input[pos++];
            if (c === '\\') {
              const d = input[pos++];
              if (d !== undefined && d !== '\n') continue;
              fail('unterminated character constant');
            }
            if (c === undefined || c === '\n') fail('unterminated character constant');
            if (c === "'") break;
          }
          emit('charConstant');
          continue;
        }
        case '(':
          emit('leftParen');
          parenDepth++;
          continue;
        case ')':
          emit('rightParen');
          parenDepth--;
          if (parenDepth < 0) fail(`unexpected right paren ${goRune(r)}`);
          continue;
      }
      if (r === '+' || r === '-' || (r >= '0' && r <= '9')) {
        pos -= r.length;
        lexNumber();
        continue;
      }
      if (isAlphaNumeric(r)) {
        let c = charAt(pos);
        while (isAlphaNumeric(c)) {
          pos += c.length;
          c = charAt(pos);
        }
        const word = input.slice(start, pos);
        if (!atTerminator()) fail(`bad character ${goRune(c)}`);
        const kw = KEYWORDS[word];
        if (kw !== undefined && Object.hasOwn(KEYWORDS, word)) emit(kw);
        else if (word === 'true' || word === 'false') emit('bool');
        else emit('identifier');
        continue;
      }
      const cp = r.codePointAt(0) ?? 0;
      if (cp <= 0x7f && cp >= 0x20 && cp !== 0x7f) {
        emit('char');
        continue;
      }
      fail(`unrecognized character in action: ${goRune(r)}`);
    }
  }

  function lexNumber(): void {
    if (!scanNumber()) fail(`bad number syntax: ${JSON.stringify(input.slice(start, pos))}`);
    if (input[pos] === '+' || input[pos] === '-') {
      if (!scanNumber() || input[pos - 1] !== 'i')
        fail(`bad number syntax: ${JSON.stringify(input.slice(start, pos))}`);
      emit('complex');
    } else emit('number');
  }

  function accept(valid: string): boolean {
    const c = input[pos];
    if (c !== undefined && valid.includes(c)) {
      pos++;
      return true;
    }
    return false;
  }
  function acceptRun(valid: string): void {
    while (accept(valid));
  }
  function scanNumber(): boolean {
    accept('+-');
    let digits = '0123456789_';
    if (accept('0')) {
      if (accept('xX')) digits = '0123456789abcdefABCDEF_';
      else if (accept('oO')) digits = '01234567_';
      else if (accept('bB')) digits = '01_';
    }
    acceptRun(digits);
    if (accept('.')) acceptRun(digits);
    if (digits.length === 11 && accept('eE')) {
      accept('+-');
      acceptRun('0123456789_');
    }
    if (digits.length === 23 && accept('pP')) {
      accept('+-');
      acceptRun('0123456789_');
    }
    accept('i');
    if (isAlphaNumeric(charAt(pos))) {
      pos += charAt(pos).length;
      return false;
    }
    return true;
  }
}

/** Go's %#U of a rune: `U+0021 '!'`. */
function goRune(r: string): string {
  const cp = r.codePointAt(0) ?? 0;
  const hex = cp.toString(16).toUpperCase().padStart(4, '0');
  return `U+${hex} '${r}'`;
}
