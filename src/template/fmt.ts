/**
 * Go's fmt, as far as templates reach it: `print`, `println`, `printf` and every place a value
 * is printed (`{{ .x }}` prints with `%v`). Maps print `map[a:1 b:2]` with sorted keys, slices
 * `[a b]`, nil `<nil>`, floats as Go's shortest `%g` (`1e+06`), and a verb that does not fit its
 * operand prints Go's own complaint (`%!d(string=x)`) rather than failing.
 *
 * Widths and precisions are checked against the budget before any padding is built: `%*d` with
 * a width of a billion is refused, not allocated.
 */
import type { Budget } from './budget.ts';
import { durationString, monthString, weekdayString } from './time/time.ts';
import { GoInt, GoMap, GoSlice, GoStruct, goBytes, sortedKeys, typeName, type Value } from './values.ts';

/** `%v` of one value (fmt.Sprint of a single operand). */
export function formatValue(v: Value): string {
  return fmtV(v, false);
}

function fmtV(v: Value, plus: boolean): string {
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return formatFloat(v, 'g', -1);
  if (v instanceof GoInt) return stringer(v) ?? v.v.toString();
  if (v instanceof GoSlice) return `[${v.items.map((x) => fmtV(x, plus)).join(' ')}]`;
  if (v instanceof GoMap)
    return `map[${sortedKeys(v)
      .map((k) => `${k}:${fmtV(v.m.get(k) ?? null, plus)}`)
      .join(' ')}]`;
  return v.print();
}

/** fmt.Sprint: spaces between operands when neither side is a string. */
export function sprint(args: Value[]): string {
  let out = '';
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? null;
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += formatValue(a);
  }
  return out;
}

/** fmt.Sprintln: always spaces, then a newline. */
export function sprintln(args: Value[]): string {
  return `${args.map(formatValue).join(' ')}\n`;
}

interface Spec {
  minus: boolean;
  plus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  width: number | undefined;
  prec: number | undefined;
}

/** fmt.Sprintf with the verbs templates use; the budget bounds widths and the result. */
export function sprintf(format: string, args: Value[], budget: Budget, where: string): string {
  let out = '';
  let argi = 0;
  let i = 0;
  const n = format.length;
  while (i < n) {
    const pct = format.indexOf('%', i);
    if (pct < 0) {
      out += format.slice(i);
      break;
    }
    out += format.slice(i, pct);
    i = pct + 1;
    if (i >= n) {
      out += '%!(NOVERB)';
      break;
    }
    const spec: Spec = {
      minus: false,
      plus: false,
      sharp: false,
      space: false,
      zero: false,
      width: undefined,
      prec: undefined,
    };
    flags: for (; i < n; i++) {
      switch (format[i]) {
        case '-':
          spec.minus = true;
          spec.zero = false;
          break;
        case '+':
          spec.plus = true;
          break;
        case '#':
          spec.sharp = true;
          break;
        case ' ':
          spec.space = true;
          break;
        case '0':
          spec.zero = !spec.minus;
          break;
        default:
          break flags;
      }
    }
    // Width: a number or '*'.
    if (format[i] === '*') {
      i++;
      const a = args[argi++];
      if (a instanceof GoInt) {
        spec.width = Number(a.v);
        if (spec.width < 0) {
          spec.minus = true;
          spec.zero = false;
          spec.width = -spec.width;
        }
      } else {
        out += '%!(BADWIDTH)';
      }
    } else {
      const m = /^\d+/.exec(format.slice(i, i + 12));
      if (m) {
        spec.width = Number(m[0]);
        i += m[0].length;
      }
    }
    if (format[i] === '.') {
      i++;
      if (format[i] === '*') {
        i++;
        const a = args[argi++];
        if (a instanceof GoInt && a.v >= 0n) spec.prec = Number(a.v);
        else out += '%!(BADPREC)';
      } else {
        const m = /^\d+/.exec(format.slice(i, i + 12));
        spec.prec = m ? Number(m[0]) : 0;
        if (m) i += m[0].length;
      }
    }
    if (i >= n) {
      out += '%!(NOVERB)';
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i) ?? 0);
    i += verb.length;
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (argi >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    if ((spec.width ?? 0) > budget.limits.valueBytes || (spec.prec ?? 0) > budget.limits.valueBytes) {
      budget.fail('value', where);
    }
    out += formatOne(verb, spec, args[argi++] ?? null);
    budget.checkValue(out.length, where);
  }
  if (argi < args.length) {
    out += `%!(EXTRA ${args
      .slice(argi)
      .map((a) => `${typeName(a)}=${formatValue(a)}`)
      .join(', ')})`;
  }
  return out;
}

function pad(s: string, spec: Spec, zeroOk = true): string {
  const w = spec.width;
  if (w === undefined) return s;
  const len = [...s].length;
  if (len >= w) return s;
  if (spec.minus) return s + ' '.repeat(w - len);
  if (spec.zero && zeroOk) {
    const sign = s[0] === '-' || s[0] === '+' || s[0] === ' ' ? (s[0] as string) : '';
    return sign + '0'.repeat(w - len) + s.slice(sign.length);
  }
  return ' '.repeat(w - len) + s;
}

function bad(verb: string, v: Value): string {
  if (v === null) return `%!${verb}(<nil>)`;
  return `%!${verb}(${typeName(v)}=${formatValue(v)})`;
}

/** The String() of Go's named integer types (time.Month, time.Weekday, time.Duration). */
function stringer(v: GoInt): string | undefined {
  switch (v.type) {
    case 'time.Month':
      return monthString(v.v);
    case 'time.Weekday':
      return weekdayString(v.v);
    case 'time.Duration':
      return durationString(v.v);
    default:
      return undefined;
  }
}

function formatOne(verb: string, spec: Spec, v: Value): string {
  if (verb === 'T') return pad(typeName(v), spec, false);
  // fmt's handleMethods: a Stringer prints through String() for %v %s %q %x %X.
  if (v instanceof GoInt && 'vsqxX'.includes(verb) && !(verb === 'v' && spec.sharp)) {
    const s = stringer(v);
    if (s !== undefined) return formatString(verb, spec, s);
  }
  if (verb === 'v' && spec.sharp) return pad(goSyntax(v), spec, false);
  if (v instanceof GoSlice) {
    if (verb === 's' || verb === 'q' || verb === 'v' || verb === 'd' || verb === 'x' || verb === 'X') {
      if ((verb === 'x' || verb === 'X') && v.elem === 'uint8') return pad(hexBytes(v, verb), spec);
      return `[${v.items.map((x) => formatOne(verb, spec, x)).join(' ')}]`;
    }
  }
  if (v instanceof GoMap && verb !== 'T') {
    return `map[${sortedKeys(v)
      .map((k) => `${formatOne(verb, spec, k)}:${formatOne(verb, spec, v.m.get(k) ?? null)}`)
      .join(' ')}]`;
  }
  if (v === null) return verb === 'v' ? pad('<nil>', spec, false) : bad(verb, v);
  if (typeof v === 'string') return formatString(verb, spec, v);
  if (typeof v === 'boolean')
    return verb === 'v' || verb === 't' ? pad(String(v), spec, false) : bad(verb, v);
  if (v instanceof GoInt) return formatInt(verb, spec, v);
  if (typeof v === 'number') return formatFloatVerb(verb, spec, v);
  if (v instanceof GoStruct) {
    if (verb === 'v' || verb === 's') return pad(v.print(), spec, false);
    return bad(verb, v);
  }
  return bad(verb, v);
}

function hexBytes(v: GoSlice, verb: string): string {
  const hex = Buffer.from(v.items.map((x) => (x instanceof GoInt ? Number(x.v) : 0))).toString('hex');
  return verb === 'X' ? hex.toUpperCase() : hex;
}

function formatString(verb: string, spec: Spec, s: string): string {
  switch (verb) {
    case 'v':
    case 's': {
      const t = spec.prec !== undefined ? [...s].slice(0, spec.prec).join('') : s;
      return pad(t, spec, false);
    }
    case 'q': {
      const t = spec.prec !== undefined ? [...s].slice(0, spec.prec).join('') : s;
      // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters Go and YAML quote
      if (spec.sharp && !/[`\u0000-\u0008\u000b-\u001f\u007f]/.test(t) && !t.includes('\n')) {
        return pad(`\`${t}\``, spec, false);
      }
      return pad(quoteGo(t, spec.plus), spec, false);
    }
    case 'x':
    case 'X': {
      let bytes = goBytes(s);
      if (spec.prec !== undefined) bytes = bytes.subarray(0, spec.prec);
      let hex = bytes.toString('hex');
      if (spec.space) hex = (hex.match(/../g) ?? []).map((b) => (spec.sharp ? `0x${b}` : b)).join(' ');
      else if (spec.sharp && hex) hex = `0x${hex}`;
      return pad(verb === 'X' ? hex.toUpperCase().replace(/0X/g, '0X') : hex, spec, false);
    }
    default:
      return bad(verb, s);
  }
}

function formatInt(verb: string, spec: Spec, v: GoInt): string {
  const n = v.v;
  const neg = n < 0n;
  const abs = neg ? -n : n;
  let digits: string;
  let prefix = '';
  switch (verb) {
    case 'v':
    case 'd':
      digits = abs.toString(10);
      break;
    case 'b':
      digits = abs.toString(2);
      if (spec.sharp) prefix = '0b';
      break;
    case 'o':
      digits = abs.toString(8);
      if (spec.sharp) prefix = '0';
      break;
    case 'O':
      digits = abs.toString(8);
      prefix = '0o';
      break;
    case 'x':
      digits = abs.toString(16);
      if (spec.sharp) prefix = '0x';
      break;
    case 'X':
      digits = abs.toString(16).toUpperCase();
      if (spec.sharp) prefix = '0X';
      break;
    case 'c':
      return pad(String.fromCodePoint(validRune(n)), spec, false);
    case 'q':
      return pad(quoteRune(validRune(n)), spec, false);
    case 'U': {
      const hex = abs.toString(16).toUpperCase().padStart(4, '0');
      const r = validRune(n);
      return pad(spec.sharp ? `U+${hex} '${String.fromCodePoint(r)}'` : `U+${hex}`, spec, false);
    }
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G':
      return bad(verb, v);
    default:
      return bad(verb, v);
  }
  if (spec.prec !== undefined) {
    if (spec.prec === 0 && abs === 0n) digits = '';
    digits = digits.padStart(spec.prec, '0');
  }
  const sign = neg ? '-' : spec.plus ? '+' : spec.space ? ' ' : '';
  if (spec.zero && spec.prec === undefined && spec.width !== undefined && !spec.minus) {
    const total = sign.length + prefix.length + digits.length;
    if (total < spec.width) digits = '0'.repeat(spec.width - total) + digits;
    return sign + prefix + digits;
  }
  return pad(sign + prefix + digits, spec, false);
}

function validRune(n: bigint): number {
  if (n < 0n || n > 0x10ffffn || (n >= 0xd800n && n <= 0xdfffn)) return 0xfffd;
  return Number(n);
}

function formatFloatVerb(verb: string, spec: Spec, v: number): string {
  let s: string;
  switch (verb) {
    case 'v':
    case 'g':
    case 'G':
      s = formatFloat(v, 'g', spec.prec ?? -1);
      if (verb === 'G') s = s.toUpperCase();
      break;
    case 'e':
    case 'E':
      s = formatFloat(v, 'e', spec.prec ?? 6);
      if (verb === 'E') s = s.toUpperCase();
      break;
    case 'f':
    case 'F':
      s = formatFloat(v, 'f', spec.prec ?? 6);
      break;
    default:
      return bad(verb, v);
  }
  if (spec.plus && !s.startsWith('-') && !s.startsWith('+')) s = `+${s}`;
  else if (spec.space && !s.startsWith('-') && !s.startsWith('+')) s = ` ${s}`;
  if (s.includes('Inf') || s.includes('NaN')) {
    if (s === 'NaN' && spec.plus) s = '+NaN';
    return pad(s, { ...spec, zero: false });
  }
  return pad(s, spec);
}

/** Exact decimal digits of a finite float64: digits and the decimal point position. */
function exactDecimal(v: number): { digits: string; dp: number } {
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, Math.abs(v));
  const bits = buf.getBigUint64(0);
  const expBits = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  let exp: number;
  if (expBits === 0) exp = -1074;
  else {
    mant |= 1n << 52n;
    exp = expBits - 1075;
  }
  if (mant === 0n) return { digits: '0', dp: 1 };
  let digits: string;
  let dp: number;
  if (exp >= 0) {
    digits = (mant << BigInt(exp)).toString();
    dp = digits.length;
  } else {
    // mant / 2^-exp = mant * 5^-exp / 10^-exp
    const scaled = mant * 5n ** BigInt(-exp);
    digits = scaled.toString();
    dp = digits.length + exp;
  }
  digits = digits.replace(/0+$/, '');
  return { digits: digits || '0', dp };
}

/** Round a digit string to `nd` digits, half to even (exact, as Go's strconv). */
function roundDigits(d: { digits: string; dp: number }, nd: number): { digits: string; dp: number } {
  if (nd < 0) return { digits: '0', dp: d.dp };
  if (d.digits.length <= nd) return d;
  const keep = d.digits.slice(0, nd);
  const next = d.digits.charCodeAt(nd) - 48;
  const restNonZero = /[1-9]/.test(d.digits.slice(nd + 1));
  let up = next > 5 || (next === 5 && restNonZero);
  if (next === 5 && !restNonZero) {
    const last = nd > 0 ? keep.charCodeAt(nd - 1) - 48 : 0;
    up = last % 2 === 1;
  }
  if (!up) return { digits: keep.replace(/0+$/, '') || '0', dp: keep === '' ? d.dp : d.dp };
  // increment
  const arr = keep.split('').map(Number);
  let i = arr.length - 1;
  while (i >= 0) {
    if (arr[i] === 9) {
      arr[i] = 0;
      i--;
    } else {
      arr[i] = (arr[i] ?? 0) + 1;
      break;
    }
  }
  if (i < 0) return { digits: '1', dp: d.dp + 1 };
  return { digits: arr.join('').replace(/0+$/, '') || '0', dp: d.dp };
}

/**
 * Shortest digits that round-trip (JavaScript's and Go's shortest agree); with bitSize 32, the
 * shortest that read back as the same float32 (the closest of them, as Go's).
 */
function shortestDecimal(v: number, bitSize: 32 | 64 = 64): { digits: string; dp: number } {
  let text = Math.abs(v).toExponential();
  if (bitSize === 32) {
    const f = Math.fround(Math.abs(v));
    for (let p = 1; p <= 9; p++) {
      text = f.toExponential(p - 1);
      if (Math.fround(Number(text)) === f) break;
    }
  }
  const [m, e] = text.split('e') as [string, string];
  const digits = m.replace('.', '');
  return { digits, dp: Number(e) + 1 };
}

/** strconv.FormatFloat(v, fmt, prec, bitSize); bitSize 32 only with prec -1 (shortest). */
export function formatFloat(v: number, fmt: 'e' | 'f' | 'g', prec: number, bitSize: 32 | 64 = 64): string {
  if (bitSize === 32) v = Math.fround(v);
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  const neg = v < 0 || Object.is(v, -0);
  const shortest = prec < 0;
  let d: { digits: string; dp: number };
  if (v === 0) d = { digits: '0', dp: 1 };
  else if (shortest) d = shortestDecimal(v, bitSize);
  else {
    const exact = exactDecimal(v);
    if (fmt === 'e') d = roundDigits(exact, prec + 1);
    else if (fmt === 'f') d = roundDigits(exact, exact.dp + prec);
    else d = roundDigits(exact, prec === 0 ? 1 : prec);
  }
  const zero = v === 0;
  let out: string;
  if (fmt === 'e') out = fmtE(d, shortest ? d.digits.length - 1 : prec, zero);
  else if (fmt === 'f') out = fmtF(d, shortest ? Math.max(d.digits.length - d.dp, 0) : prec, zero);
  else {
    let eprec = prec;
    const nd = zero ? 1 : d.digits.length;
    if (eprec > nd && nd >= d.dp) eprec = nd;
    if (shortest) eprec = 6;
    const exp = d.dp - 1;
    if (!zero && (exp < -4 || exp >= eprec)) {
      out = fmtE(d, (shortest ? nd : Math.min(prec === 0 ? 1 : prec, nd)) - 1, zero);
    } else {
      out = fmtF(d, Math.max((shortest ? nd : Math.min(prec === 0 ? 1 : prec, nd)) - d.dp, 0), zero);
    }
  }
  return neg ? `-${out}` : out;
}

function fmtE(d: { digits: string; dp: number }, prec: number, zero: boolean): string {
  const digits = zero ? '0' : d.digits;
  let out = digits[0] ?? '0';
  if (prec > 0) out += `.${digits.slice(1, 1 + prec).padEnd(prec, '0')}`;
  const exp = zero ? 0 : d.dp - 1;
  const sign = exp < 0 ? '-' : '+';
  const abs = Math.abs(exp);
  return `${out}e${sign}${abs < 10 ? `0${abs}` : abs}`;
}

function fmtF(d: { digits: string; dp: number }, prec: number, zero: boolean): string {
  const digits = zero ? '0' : d.digits;
  let int: string;
  if (d.dp > 0 && !zero) int = digits.slice(0, d.dp).padEnd(d.dp, '0');
  else int = '0';
  let out = int;
  if (prec > 0) {
    let frac = '';
    for (let i = 0; i < prec; i++) {
      const j = d.dp + i;
      frac += !zero && j >= 0 && j < digits.length ? digits[j] : '0';
    }
    out += `.${frac}`;
  }
  return out;
}

/** strconv.Quote (ASCII-only escapes with `%+q`). */
export function quoteGo(s: string, asciiOnly = false): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else if (c === 7) out += '\\a';
    else if (c === 8) out += '\\b';
    else if (c === 12) out += '\\f';
    else if (c === 10) out += '\\n';
    else if (c === 13) out += '\\r';
    else if (c === 9) out += '\\t';
    else if (c === 11) out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c === 0xfffd && ch !== '\ufffd') out += '\\ufffd';
    else if (!asciiOnly && isPrintRune(c)) out += ch;
    else if (c < 0x10000) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += `\\U${c.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}

function quoteRune(c: number): string {
  const ch = String.fromCodePoint(c);
  if (ch === "'") return "'\\''";
  if (ch === '"') return `'"'`;
  const q = quoteGo(ch);
  return `'${q.slice(1, -1)}'`;
}

/** Unicode "printable" as Go's unicode.IsPrint, approximated by general categories. */
export function isPrintRune(c: number): boolean {
  if (c === 0x20) return true;
  const ch = String.fromCodePoint(c);
  return /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch);
}

/** `%#v`: Go syntax, for the few values templates build. */
function goSyntax(v: Value): string {
  if (v === null) return '<nil>';
  if (typeof v === 'string') return quoteGo(v);
  if (typeof v === 'boolean' || typeof v === 'number' || v instanceof GoInt) return formatValue(v);
  if (v instanceof GoSlice) return `[]${v.elem}{${v.items.map(goSyntax).join(', ')}}`;
  if (v instanceof GoMap)
    return `map[string]${v.elem}{${sortedKeys(v)
      .map((k) => `${quoteGo(k)}:${goSyntax(v.m.get(k) ?? null)}`)
      .join(', ')}}`;
  return v.print();
}
