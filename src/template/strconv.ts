/**
 * Go's strconv.ParseInt / ParseUint (base 0 or 10, 64 bits) and ParseFloat (64 bits): the
 * number literals of a template, spf13/cast's conversions and YAML's scalar resolution all go
 * through them. Both the syntax (base prefixes, `_` only where Go's underscoreOK allows it,
 * `inf`/`nan`, hexadecimal floats with a `p` exponent) and the results (range errors) are Go's.
 *
 * Every function is one linear scan: template source and secret values are tenant input, and a
 * backtracking regular expression over a long digit string (`\d+\.?\d*`) is quadratic — 40,000
 * digits took 37 s. Digits stop accumulating once the value is out of range.
 */

export type NumError = 'syntax' | 'range';

const MAX_UINT64 = (1n << 64n) - 1n;
const lower = (c: number) => c | 0x20;
const isDigit = (c: number) => c >= 48 && c <= 57;

/** Go's underscoreOK: `_` only between digits, or right after a base prefix. */
function underscoreOK(input: string): boolean {
  let s = input;
  let saw = '^';
  let i = 0;
  if (s.length >= 1 && (s[0] === '-' || s[0] === '+')) s = s.slice(1);
  let hex = false;
  if (s.length >= 2 && s[0] === '0') {
    const c = lower(s.charCodeAt(1));
    if (c === 0x62 || c === 0x6f || c === 0x78) {
      i = 2;
      saw = '0';
      hex = c === 0x78;
    }
  }
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isDigit(c) || (hex && lower(c) >= 0x61 && lower(c) <= 0x66)) {
      saw = '0';
      continue;
    }
    if (c === 0x5f) {
      if (saw !== '0') return false;
      saw = '_';
      continue;
    }
    if (saw === '_') return false;
    saw = '!';
  }
  return saw !== '_';
}

/** strconv.ParseUint(s, base, 64) for base 0 (prefixes), 8 or 10. */
export function goParseUint(s0: string, base0: 0 | 2 | 8 | 10 = 0): bigint | NumError {
  if (s0 === '') return 'syntax';
  let s = s0;
  let base: number = base0 === 0 ? 10 : base0;
  if (base0 === 0 && s[0] === '0') {
    const c = s.length >= 3 ? lower(s.charCodeAt(1)) : 0;
    if (c === 0x62) base = 2;
    else if (c === 0x6f) base = 8;
    else if (c === 0x78) base = 16;
    if (base !== 10) s = s.slice(2);
    else {
      base = 8;
      s = s.slice(1);
    }
  }
  const b = BigInt(base);
  let n = 0n;
  let underscores = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let d: number;
    if (c === 0x5f && base0 === 0) {
      underscores = true;
      continue;
    }
    if (isDigit(c)) d = c - 48;
    else if (lower(c) >= 0x61 && lower(c) <= 0x7a) d = lower(c) - 0x61 + 10;
    else return 'syntax';
    if (d >= base) return 'syntax';
    n = n * b + BigInt(d);
    // Go returns the range error at once, without looking at the rest.
    if (n > MAX_UINT64) return 'range';
  }
  if (underscores && !underscoreOK(s0)) return 'syntax';
  return n;
}

/** strconv.ParseInt(s, base, 64) for base 0 (prefixes), 8 or 10. */
export function goParseInt(s0: string, base0: 0 | 2 | 8 | 10 = 0): bigint | NumError {
  if (s0 === '') return 'syntax';
  let s = s0;
  let neg = false;
  if (s[0] === '+') s = s.slice(1);
  else if (s[0] === '-') {
    neg = true;
    s = s.slice(1);
  }
  const un = goParseUint(s, base0);
  if (typeof un === 'string') return un;
  const cutoff = 1n << 63n;
  if (!neg && un >= cutoff) return 'range';
  if (neg && un > cutoff) return 'range';
  return neg ? -un : un;
}

/** Go's `special`: [+-]inf, [+-]infinity, nan (any case); the length consumed. */
function special(s: string): { f: number; n: number } | undefined {
  if (s.length === 0) return undefined;
  let sign = 1;
  let nsign = 0;
  let t = s;
  const c0 = s[0];
  if (c0 === '+' || c0 === '-' || c0 === 'i' || c0 === 'I') {
    if (c0 === '+' || c0 === '-') {
      if (c0 === '-') sign = -1;
      nsign = 1;
      t = s.slice(1);
    }
    let n = 0;
    const inf = 'infinity';
    while (n < t.length && n < inf.length && (t[n] as string).toLowerCase() === inf[n]) n++;
    if (n > 3 && n < 8) n = 3;
    if (n === 3 || n === 8) return { f: sign * Number.POSITIVE_INFINITY, n: nsign + n };
  } else if ((c0 === 'n' || c0 === 'N') && s.slice(0, 3).toLowerCase() === 'nan') {
    return { f: Number.NaN, n: 3 };
  }
  return undefined;
}

/** Round `mant * 2^exp` to the nearest float64, once (a sticky bit keeps long mantissas exact). */
function scaleBinary(mant0: bigint, exp0: number): number {
  let mant = mant0;
  let exp = exp0;
  const bits = mant.toString(2).length;
  if (bits > 64) {
    const shift = BigInt(bits - 64);
    const sticky = mant & ((1n << shift) - 1n) ? 1n : 0n;
    mant = (mant >> shift) | sticky;
    exp += bits - 64;
  }
  let f = Number(mant);
  // Apply the exponent in steps that stay within float64's range.
  while (exp > 0) {
    const k = Math.min(exp, 1000);
    f *= 2 ** k;
    exp -= k;
  }
  while (exp < 0) {
    const k = Math.max(exp, -1000);
    f *= 2 ** k;
    exp -= k;
  }
  return f;
}

/** strconv.ParseFloat(s, 64). */
export function goParseFloat(s: string): number | NumError {
  const sp = special(s);
  if (sp) return sp.n === s.length ? sp.f : 'syntax';
  // readFloat: the syntax, and the pieces a hexadecimal float needs.
  let i = 0;
  let neg = false;
  if (s[i] === '+') i++;
  else if (s[i] === '-') {
    neg = true;
    i++;
  }
  let hex = false;
  if (i + 2 < s.length && s[i] === '0' && lower(s.charCodeAt(i + 1)) === 0x78) {
    hex = true;
    i += 2;
  }
  const start = i;
  let underscores = false;
  let sawdot = false;
  let sawdigits = false;
  let fracDigits = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5f) {
      underscores = true;
      continue;
    }
    if (c === 0x2e) {
      if (sawdot) break;
      sawdot = true;
      continue;
    }
    if (isDigit(c) || (hex && lower(c) >= 0x61 && lower(c) <= 0x66)) {
      sawdigits = true;
      if (sawdot) fracDigits++;
      continue;
    }
    break;
  }
  if (!sawdigits) return 'syntax';
  const mantEnd = i;
  let exp = 0;
  const expChar = hex ? 0x70 : 0x65;
  if (i < s.length && lower(s.charCodeAt(i)) === expChar) {
    i++;
    if (i >= s.length) return 'syntax';
    let esign = 1;
    if (s[i] === '+') i++;
    else if (s[i] === '-') {
      i++;
      esign = -1;
    }
    if (i >= s.length || !isDigit(s.charCodeAt(i))) return 'syntax';
    let e = 0;
    for (; i < s.length && (isDigit(s.charCodeAt(i)) || s[i] === '_'); i++) {
      if (s[i] === '_') {
        underscores = true;
        continue;
      }
      if (e < 10000) e = e * 10 + (s.charCodeAt(i) - 48);
    }
    exp = e * esign;
  } else if (hex) return 'syntax';
  if (underscores && !underscoreOK(s.slice(0, i))) return 'syntax';
  if (i !== s.length) return 'syntax';
  let f: number;
  if (hex) {
    const digits = s.slice(start, mantEnd).replaceAll('_', '').replace('.', '');
    f = scaleBinary(BigInt(`0x${digits}`), exp - 4 * fracDigits);
  } else {
    // JavaScript's decimal conversion rounds correctly, as Go's does.
    f = Number(s.slice(0, i).replaceAll('_', ''));
  }
  if (neg && hex) f = -f;
  if (!Number.isFinite(f)) return 'range';
  return f;
}

/** cast's helpers: the value, or undefined on any error. */
export const okOrUndefined = <T>(v: T | NumError): T | undefined =>
  v === 'syntax' || v === 'range' ? undefined : (v as T);
