/**
 * Sprig's string, encoding and path functions (Masterminds/sprig v3 strings.go, goutils,
 * xstrings, Go's path package). Go strings are bytes: `trunc`, `substr` and `abbrev` cut bytes,
 * as Go does. Every function that can grow its input checks the size first.
 */
import { quoteGo } from '../fmt.ts';
import {
  byteLength,
  byteSlice,
  GoMap,
  GoSlice,
  goBytes,
  goString,
  int,
  isAscii,
  strings,
} from '../values.ts';
import { strslice, strval } from './convert.ts';
import { type CallContext, FuncError, type FuncMap, fn } from './types.ts';

const isGoSpace = (c: number) =>
  c === 0x20 ||
  (c >= 0x09 && c <= 0x0d) ||
  c === 0x85 ||
  c === 0xa0 ||
  c === 0x1680 ||
  (c >= 0x2000 && c <= 0x200a) ||
  c === 0x2028 ||
  c === 0x2029 ||
  c === 0x202f ||
  c === 0x205f ||
  c === 0x3000;

/** strings.TrimSpace (Unicode White_Space, as Go). */
export function trimSpace(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isGoSpace(s.charCodeAt(a))) a++;
  while (b > a && isGoSpace(s.charCodeAt(b - 1))) b--;
  return s.slice(a, b);
}

/** strings.Trim(s, cutset): cutset is a set of code points. */
export function trimCutset(s: string, cutset: string): string {
  if (s === '' || cutset === '') return s;
  const set = new Set([...cutset]);
  const cps = [...s];
  let a = 0;
  let b = cps.length;
  while (a < b && set.has(cps[a] as string)) a++;
  while (b > a && set.has(cps[b - 1] as string)) b--;
  return cps.slice(a, b).join('');
}

/** strings.Replace(src, old, new, -1), sized before it is built. */
export function replaceAll(src: string, old: string, nw: string, ctx: CallContext): string {
  let count: number;
  if (old === '') count = [...src].length + 1;
  else {
    count = 0;
    for (let i = src.indexOf(old); i >= 0; i = src.indexOf(old, i + old.length)) count++;
  }
  const size = src.length + count * (nw.length - old.length);
  ctx.budget.alloc(Math.max(size, 0), ctx.where);
  if (old === '') {
    // Go inserts `new` before every rune and at the end.
    return `${nw}${[...src].join(nw)}${src === '' ? '' : nw}`;
  }
  return src.split(old).join(nw);
}

function repeat(count: bigint, s: string, ctx: CallContext): string {
  if (count < 0n) throw new FuncError('strings: negative Repeat count');
  const size = Number(count) * s.length;
  ctx.budget.alloc(size, ctx.where);
  return s.repeat(Number(count));
}

function indent(spaces: bigint, v: string, ctx: CallContext): string {
  const n = Number(spaces);
  if (n < 0) throw new FuncError('strings: negative Repeat count');
  let lines = 1;
  for (let i = v.indexOf('\n'); i >= 0; i = v.indexOf('\n', i + 1)) lines++;
  ctx.budget.alloc(v.length + lines * n, ctx.where);
  const pad = ' '.repeat(n);
  return pad + v.split('\n').join(`\n${pad}`);
}

function trunc(c: bigint, s: string): string {
  const len = byteLength(s);
  const n = Number(c);
  if (n < 0 && len + n > 0) return byteSlice(s, len + n);
  if (n >= 0 && len > n) return byteSlice(s, 0, n);
  return s;
}

function substring(start: bigint, end: bigint, s: string): string {
  const len = byteLength(s);
  const a = Number(start);
  const b = Number(end);
  const oob = () => new FuncError('runtime error: slice bounds out of range');
  if (a < 0) {
    if (b < 0 || b > len) throw oob();
    return byteSlice(s, 0, b);
  }
  if (b < 0 || b > len) {
    if (a > len) throw oob();
    return byteSlice(s, a);
  }
  if (a > b) throw oob();
  return byteSlice(s, a, b);
}

function abbreviateFull(str: string, offsetIn: number, maxWidth: number): string {
  if (str === '') return '';
  if (maxWidth < 4) return '';
  const len = byteLength(str);
  if (len <= maxWidth) return str;
  let offset = Math.min(offsetIn, len);
  if (len - offset < maxWidth - 3) offset = len - (maxWidth - 3);
  const marker = '...';
  if (offset <= 4) return byteSlice(str, 0, maxWidth - 3) + marker;
  if (maxWidth < 7) return '';
  if (offset + maxWidth - 3 < len) return marker + abbreviateFull(byteSlice(str, offset), 0, maxWidth - 3);
  return marker + byteSlice(str, len - (maxWidth - 3));
}

/** goutils.Initials / DeleteWhiteSpace walk bytes as if they were runes; so do we. */
function bytesAsRunes(s: string): number[] {
  return [...goBytes(s)];
}

function initials(s: string): string {
  if (s === '') return s;
  let out = '';
  let gap = true;
  for (const b of bytesAsRunes(s)) {
    if (isGoSpace(b)) gap = true;
    else if (gap) {
      out += String.fromCodePoint(b);
      gap = false;
    }
  }
  return out;
}

function deleteWhiteSpace(s: string): string {
  if (s === '') return s;
  const bytes = bytesAsRunes(s);
  let out = '';
  let count = 0;
  for (const b of bytes) {
    if (!isGoSpace(b)) {
      out += String.fromCodePoint(b);
      count++;
    }
  }
  return count === bytes.length ? s : out;
}

const isUpper = (ch: string) => /^\p{Lu}$/u.test(ch);
const isLower = (ch: string) => /^\p{Ll}$/u.test(ch);
const isTitle = (ch: string) => /^\p{Lt}$/u.test(ch);
const isLetter = (ch: string) => /^\p{L}$/u.test(ch);
const isNumber = (ch: string) => /^\p{N}$/u.test(ch);
const isPunct = (ch: string) => /^\p{P}$/u.test(ch);
const isSpaceRune = (ch: string) => isGoSpace(ch.codePointAt(0) ?? 0);
const toUpperRune = (ch: string) => {
  const u = ch.toUpperCase();
  return [...u].length === 1 ? u : ch;
};
const toLowerRune = (ch: string) => {
  const l = ch.toLowerCase();
  return [...l].length === 1 ? l : ch;
};

function swapCase(s: string): string {
  let ws = true;
  let out = '';
  for (const ch of s) {
    if (isUpper(ch) || isTitle(ch)) {
      out += toLowerRune(ch);
      ws = false;
    } else if (isLower(ch)) {
      out += toUpperRune(ch);
      ws = false;
    } else {
      out += ch;
      ws = isSpaceRune(ch);
    }
  }
  void ws;
  return out;
}

function uncapitalize(s: string): string {
  let out = '';
  let next = true;
  for (const ch of s) {
    if (isSpaceRune(ch)) {
      next = true;
      out += ch;
    } else if (next) {
      out += toLowerRune(ch);
      next = false;
    } else out += ch;
  }
  return out;
}

/** strings.Title: the first letter of each word upper-cased (deprecated in Go, still sprig's). */
function title(s: string): string {
  let prev = ' ';
  let out = '';
  for (const ch of s) {
    const sep = isTitleSeparator(prev);
    out += sep ? toTitleRune(ch) : ch;
    prev = ch;
  }
  return out;
}

function toTitleRune(ch: string): string {
  const special: Record<string, string> = {
    ǆ: 'ǅ',
    ǅ: 'ǅ',
    Ǆ: 'ǅ',
    ǉ: 'ǈ',
    Ǉ: 'ǈ',
    ǌ: 'ǋ',
    Ǌ: 'ǋ',
    ǳ: 'ǲ',
    Ǳ: 'ǲ',
  };
  return special[ch] ?? toUpperRune(ch);
}

function isTitleSeparator(ch: string): boolean {
  const c = ch.codePointAt(0) ?? 0;
  if (c <= 0x7f) {
    if (/[0-9a-zA-Z_]/.test(ch)) return false;
    return true;
  }
  if (isLetter(ch) || isNumber(ch)) return false;
  return isSpaceRune(ch);
}

/** xstrings.ToCamelCase (v1.3: "foo_bar" → "FooBar"). */
function camelCase(s: string): string {
  if (s === '') return '';
  const isConnector = (ch: string) => ch === '-' || ch === '_' || isSpaceRune(ch);
  const cps = [...s];
  let out = '';
  let i = 0;
  let r0 = '';
  let found = false;
  while (i < cps.length) {
    r0 = cps[i++] as string;
    if (!isConnector(r0)) {
      r0 = toUpperRune(r0);
      found = true;
      break;
    }
    out += r0;
  }
  if (i >= cps.length) return found ? out + r0 : out;
  while (i < cps.length) {
    const r1 = r0;
    r0 = cps[i++] as string;
    if (isConnector(r0) && isConnector(r1)) {
      out += r1;
      continue;
    }
    if (isConnector(r1)) r0 = toUpperRune(r0);
    else {
      r0 = toLowerRune(r0);
      out += r1;
    }
  }
  return out + r0;
}

type WordType = 'invalid' | 'number' | 'upper' | 'alpha' | 'connector' | 'punct' | 'other';

/** xstrings' nextWord over code points. */
function nextWord(cps: string[], from: number): { wt: WordType; end: number } {
  const isConnector = (ch: string) => ch === '-' || ch === '_' || isSpaceRune(ch);
  if (from >= cps.length) return { wt: 'invalid', end: from };
  let i = from;
  const r = cps[i++] as string;
  if (isConnector(r)) {
    while (i < cps.length && isConnector(cps[i] as string)) i++;
    return { wt: 'connector', end: i };
  }
  if (isPunct(r)) {
    while (i < cps.length && isPunct(cps[i] as string)) i++;
    return { wt: 'punct', end: i };
  }
  if (isUpper(r)) {
    if (i >= cps.length) return { wt: 'upper', end: i };
    const c = cps[i] as string;
    if (isUpper(c)) {
      i++;
      while (i < cps.length && isUpper(cps[i] as string)) i++;
      if (i < cps.length && isLetter(cps[i] as string)) i--;
    } else if (isLetter(c)) {
      i++;
      while (i < cps.length && isLetter(cps[i] as string) && !isUpper(cps[i] as string)) i++;
    }
    return { wt: 'upper', end: i };
  }
  if (isLetter(r)) {
    while (i < cps.length && isLetter(cps[i] as string) && !isUpper(cps[i] as string)) i++;
    return { wt: 'alpha', end: i };
  }
  if (isNumber(r)) {
    while (i < cps.length && isNumber(cps[i] as string)) i++;
    return { wt: 'number', end: i };
  }
  while (i < cps.length) {
    const c = cps[i] as string;
    if (isConnector(c) || isLetter(c) || isNumber(c) || isPunct(c)) break;
    i++;
  }
  return { wt: 'other', end: i };
}

/** xstrings.ToSnakeCase / ToKebabCase (camelCaseToLowerCase). */
function lowerCase(s: string, connector: string): string {
  if (s === '') return '';
  const cps = [...s];
  const isConnector = (ch: string) => ch === '-' || ch === '_' || isSpaceRune(ch);
  let out = '';
  const toLower = (wt: WordType, word: string[]) => {
    if (wt !== 'upper' && wt !== 'connector') {
      out += word.join('');
      return;
    }
    for (const ch of word) out += isConnector(ch) ? connector : isUpper(ch) ? toLowerRune(ch) : ch;
  };
  const st = { pos: 0, wt: 'invalid' as WordType, word: [] as string[] };
  const advance = () => {
    const n = nextWord(cps, st.pos);
    st.word = cps.slice(st.pos, n.end);
    st.pos = n.end;
    st.wt = n.wt;
  };
  const cur = (): WordType => st.wt;
  advance();
  while (st.pos < cps.length) {
    if (cur() !== 'connector') toLower(st.wt, st.word);
    const prev: WordType = st.wt;
    const last = st.word;
    advance();
    switch (prev) {
      case 'number':
        while (cur() === 'alpha' || cur() === 'number') {
          toLower(st.wt, st.word);
          advance();
        }
        if (cur() !== 'invalid' && cur() !== 'punct' && cur() !== 'connector') out += connector;
        break;
      case 'connector':
        toLower(prev, last);
        break;
      case 'punct':
        break;
      default: {
        if (cur() !== 'number') {
          if (cur() !== 'connector' && cur() !== 'punct') out += connector;
          break;
        }
        if (st.pos >= cps.length) break;
        const lastNum = st.word;
        advance();
        if (cur() !== 'alpha') {
          toLower('number', lastNum);
          if (cur() !== 'connector' && cur() !== 'punct') out += connector;
          break;
        }
        out += connector;
        toLower('number', lastNum);
        while (cur() === 'alpha' || cur() === 'number') {
          toLower(st.wt, st.word);
          advance();
        }
        if (cur() !== 'invalid' && cur() !== 'connector' && cur() !== 'punct') out += connector;
      }
    }
  }
  toLower(st.wt, st.word);
  return out;
}

function wrapCustom(
  str: string,
  wrapLength: number,
  newLine: string,
  wrapLong: boolean,
  ctx: CallContext,
): string {
  if (str === '') return '';
  const nl = newLine === '' ? '\n' : newLine;
  const width = Math.max(wrapLength, 1);
  const b = goBytes(str);
  const len = b.length;
  // At most one separator per `width` bytes.
  ctx.budget.alloc(len + Math.ceil(len / width) * nl.length, ctx.where);
  let offset = 0;
  const parts: Buffer[] = [];
  const nlb = goBytes(nl);
  while (len - offset > width) {
    if (b[offset] === 0x20) {
      offset++;
      continue;
    }
    const end = width + offset + 1;
    const seg = b.subarray(offset, end);
    const sp = seg.lastIndexOf(0x20);
    const spaceAt = sp + offset;
    if (sp >= 0 && spaceAt >= offset) {
      parts.push(b.subarray(offset, spaceAt), nlb);
      offset = spaceAt + 1;
    } else if (wrapLong) {
      parts.push(b.subarray(offset, width + offset), nlb);
      offset += width;
    } else {
      const e = width + offset;
      const idx = b.subarray(e).indexOf(0x20);
      if (idx === -1) {
        parts.push(b.subarray(offset));
        offset = len;
      } else {
        parts.push(b.subarray(offset, idx + e), nlb);
        offset = idx + e + 1;
      }
    }
  }
  parts.push(b.subarray(offset));
  return goString(Buffer.concat(parts));
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** encoding/base64 StdEncoding.DecodeString, with Go's error offsets. */
export function base64DecodeGo(s: string): { ok: true; bytes: Buffer } | { ok: false; error: string } {
  const src = goBytes(s);
  const out: number[] = [];
  let si = 0;
  const corrupt = (at: number) => ({ ok: false as const, error: `illegal base64 data at input byte ${at}` });
  for (;;) {
    const dbuf = [0, 0, 0, 0];
    let dlen = 4;
    let trailingError: number | undefined;
    let done = false;
    for (let j = 0; j < 4; j++) {
      if (si === src.length) {
        if (j === 0)
          return trailingError === undefined ? { ok: true, bytes: Buffer.from(out) } : corrupt(trailingError);
        return corrupt(si - j);
      }
      const inb = src[si++] as number;
      const v = B64.indexOf(String.fromCharCode(inb));
      if (v >= 0 && inb < 0x80) {
        dbuf[j] = v;
        continue;
      }
      if (inb === 0x0a || inb === 0x0d) {
        j--;
        continue;
      }
      if (inb !== 0x3d) return corrupt(si - 1);
      if (j === 0 || j === 1) return corrupt(si - 1);
      if (j === 2) {
        while (si < src.length && (src[si] === 0x0a || src[si] === 0x0d)) si++;
        if (si === src.length) return corrupt(src.length);
        if (src[si] !== 0x3d) return corrupt(si - 1);
        si++;
      }
      while (si < src.length && (src[si] === 0x0a || src[si] === 0x0d)) si++;
      if (si < src.length) trailingError = si;
      dlen = j;
      done = true;
      break;
    }
    const val =
      ((dbuf[0] as number) << 18) |
      ((dbuf[1] as number) << 12) |
      ((dbuf[2] as number) << 6) |
      (dbuf[3] as number);
    const bytes = [(val >> 16) & 0xff, (val >> 8) & 0xff, val & 0xff];
    out.push(...bytes.slice(0, dlen - 1));
    if (trailingError !== undefined) return corrupt(trailingError);
    if (done) return { ok: true, bytes: Buffer.from(out) };
  }
}

/** encoding/base32 StdEncoding.DecodeString. */
export function base32DecodeGo(s: string): { ok: true; bytes: Buffer } | { ok: false; error: string } {
  const src = goBytes(s.replace(/[\r\n]/g, ''));
  const olen = src.length;
  const corrupt = (at: number) => ({ ok: false as const, error: `illegal base32 data at input byte ${at}` });
  const out: number[] = [];
  let p = 0;
  let end = false;
  while (p < src.length && !end) {
    const dbuf = [0, 0, 0, 0, 0, 0, 0, 0];
    let dlen = 8;
    for (let j = 0; j < 8; ) {
      if (p >= src.length) return corrupt(olen - (src.length - p) - j);
      const inb = src[p++] as number;
      const remaining = src.length - p;
      if (inb === 0x3d && j >= 2 && remaining < 8) {
        if (remaining + j < 8 - 1) return corrupt(olen);
        for (let k = 0; k < 8 - 1 - j; k++) {
          if (remaining > k && src[p + k] !== 0x3d) return corrupt(olen - remaining + k - 1);
        }
        dlen = j;
        end = true;
        if (dlen === 1 || dlen === 3 || dlen === 6) return corrupt(olen - remaining - 1);
        break;
      }
      const v = B32.indexOf(String.fromCharCode(inb));
      if (v < 0 || inb >= 0x80) return corrupt(olen - remaining - 1);
      dbuf[j] = v;
      j++;
    }
    const d = dbuf as number[];
    const bytes = [
      ((d[0]! << 3) | (d[1]! >> 2)) & 0xff,
      ((d[1]! << 6) | (d[2]! << 1) | (d[3]! >> 4)) & 0xff,
      ((d[3]! << 4) | (d[4]! >> 1)) & 0xff,
      ((d[4]! << 7) | (d[5]! << 2) | (d[6]! >> 3)) & 0xff,
      ((d[6]! << 5) | d[7]!) & 0xff,
    ];
    const n = { 8: 5, 7: 4, 5: 3, 4: 2, 2: 1 }[dlen] ?? 0;
    out.push(...bytes.slice(0, n));
    if (end && p < src.length) {
      // Go stops at the padding; data after a complete padded block is left unread.
      break;
    }
  }
  return { ok: true, bytes: Buffer.from(out) };
}

function base32Encode(b: Buffer): string {
  let out = '';
  for (let i = 0; i < b.length; i += 5) {
    const chunk = [...b.subarray(i, i + 5)];
    const n = chunk.length;
    while (chunk.length < 5) chunk.push(0);
    const [c0, c1, c2, c3, c4] = chunk as [number, number, number, number, number];
    const idx = [
      c0 >> 3,
      ((c0 & 7) << 2) | (c1 >> 6),
      (c1 >> 1) & 31,
      ((c1 & 1) << 4) | (c2 >> 4),
      ((c2 & 15) << 1) | (c3 >> 7),
      (c3 >> 2) & 31,
      ((c3 & 3) << 3) | (c4 >> 5),
      c4 & 31,
    ];
    const chars = { 1: 2, 2: 4, 3: 5, 4: 7, 5: 8 }[n] ?? 8;
    out += idx
      .slice(0, chars)
      .map((x) => B32[x])
      .join('');
    out += '='.repeat(8 - chars);
  }
  return out;
}

/** Go's path.Clean. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const parts = p.split('/');
  const out: string[] = [];
  for (const part of parts) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (rooted) return `/${joined}`;
  return joined === '' ? '.' : joined;
}

function basePath(p: string): string {
  if (p === '') return '.';
  let end = p.length;
  while (end > 0 && p[end - 1] === '/') end--; // a scan: `\/+$` is quadratic on long runs
  const t = p.slice(0, end);
  if (t === '') return '/';
  const i = t.lastIndexOf('/');
  return i >= 0 ? t.slice(i + 1) : t;
}

function dirPath(p: string): string {
  const i = p.lastIndexOf('/');
  return cleanPath(p.slice(0, i + 1));
}

function extPath(p: string): string {
  for (let i = p.length - 1; i >= 0 && p[i] !== '/'; i--) if (p[i] === '.') return p.slice(i);
  return '';
}

const s = (f: (a: string) => string) => fn(['string'], ([a]) => f(a as string));
const sized = (f: (a: string, ctx: CallContext) => string) =>
  fn(['string'], ([a], ctx) => {
    const out = f(a as string, ctx);
    ctx.budget.alloc(out.length, ctx.where);
    return out;
  });

export function sprigStrings(): FuncMap {
  const m: FuncMap = new Map();
  m.set(
    'hello',
    fn([], () => 'Hello!'),
  );
  m.set(
    'abbrev',
    fn(['int', 'string'], ([w, str]) => {
      const width = Number((w as { v: bigint }).v);
      return width < 4 ? (str as string) : abbreviateFull(str as string, 0, width);
    }),
  );
  m.set(
    'abbrevboth',
    fn(['int', 'int', 'string'], ([l, r, str]) => {
      const left = Number((l as { v: bigint }).v);
      const right = Number((r as { v: bigint }).v);
      if (right < 4 || (left > 0 && right < 7)) return str as string;
      return abbreviateFull(str as string, left, right);
    }),
  );
  m.set(
    'trunc',
    fn(['int', 'string'], ([c, str]) => trunc((c as { v: bigint }).v, str as string)),
  );
  m.set('trim', s(trimSpace));
  m.set(
    'upper',
    sized((a) => a.toUpperCase()),
  );
  m.set(
    'lower',
    sized((a) => a.toLowerCase()),
  );
  m.set('title', s(title));
  m.set('untitle', s(uncapitalize));
  m.set(
    'substr',
    fn(['int', 'int', 'string'], ([a, b, str]) =>
      substring((a as { v: bigint }).v, (b as { v: bigint }).v, str as string),
    ),
  );
  m.set(
    'repeat',
    fn(['int', 'string'], ([c, str], ctx) => repeat((c as { v: bigint }).v, str as string, ctx)),
  );
  const trimAll = fn(['string', 'string'], ([a, b]) => trimCutset(b as string, a as string));
  m.set('trimall', trimAll);
  m.set('trimAll', trimAll);
  m.set(
    'trimSuffix',
    fn(['string', 'string'], ([a, b]) =>
      (a as string) !== '' && (b as string).endsWith(a as string)
        ? (b as string).slice(0, -(a as string).length)
        : (b as string),
    ),
  );
  m.set(
    'trimPrefix',
    fn(['string', 'string'], ([a, b]) =>
      (b as string).startsWith(a as string) ? (b as string).slice((a as string).length) : (b as string),
    ),
  );
  m.set('nospace', s(deleteWhiteSpace));
  m.set('initials', s(initials));
  m.set('swapcase', s(swapCase));
  m.set(
    'snakecase',
    s((a) => lowerCase(a, '_')),
  );
  m.set(
    'kebabcase',
    s((a) => lowerCase(a, '-')),
  );
  m.set('camelcase', s(camelCase));
  m.set(
    'wrap',
    fn(['int', 'string'], ([l, str], ctx) =>
      wrapCustom(str as string, Number((l as { v: bigint }).v), '\n', false, ctx),
    ),
  );
  m.set(
    'wrapWith',
    fn(['int', 'string', 'string'], ([l, sep, str], ctx) =>
      wrapCustom(str as string, Number((l as { v: bigint }).v), sep as string, true, ctx),
    ),
  );
  m.set(
    'contains',
    fn(['string', 'string'], ([a, b]) => (b as string).includes(a as string)),
  );
  m.set(
    'hasPrefix',
    fn(['string', 'string'], ([a, b]) => (b as string).startsWith(a as string)),
  );
  m.set(
    'hasSuffix',
    fn(['string', 'string'], ([a, b]) => (b as string).endsWith(a as string)),
  );
  m.set(
    'quote',
    fn(
      [],
      (args, ctx) => {
        const out = args.filter((a) => a !== null).map((a) => quoteGo(strval(a)));
        const r = out.join(' ');
        ctx.budget.alloc(r.length, ctx.where);
        return r;
      },
      'any',
    ),
  );
  m.set(
    'squote',
    fn(
      [],
      (args, ctx) => {
        const r = args
          .filter((a) => a !== null)
          .map((a) => `'${strval(a)}'`)
          .join(' ');
        ctx.budget.alloc(r.length, ctx.where);
        return r;
      },
      'any',
    ),
  );
  m.set(
    'cat',
    fn(
      [],
      (args, ctx) => {
        const r = args
          .filter((a) => a !== null)
          .map(strval)
          .join(' ');
        ctx.budget.alloc(r.length, ctx.where);
        return r;
      },
      'any',
    ),
  );
  m.set(
    'indent',
    fn(['int', 'string'], ([n, v], ctx) => indent((n as { v: bigint }).v, v as string, ctx)),
  );
  m.set(
    'nindent',
    fn(['int', 'string'], ([n, v], ctx) => `\n${indent((n as { v: bigint }).v, v as string, ctx)}`),
  );
  m.set(
    'replace',
    fn(['string', 'string', 'string'], ([o, n, src], ctx) =>
      replaceAll(src as string, o as string, n as string, ctx),
    ),
  );
  m.set(
    'plural',
    fn(
      ['string', 'string', 'int'],
      ([one, many, c]) => ((c as { v: bigint }).v === 1n ? one : many) as string,
    ),
  );
  m.set(
    'toString',
    fn(['any'], ([v]) => strval(v ?? null)),
  );
  m.set(
    'split',
    fn(['string', 'string'], ([sep, orig], ctx) => {
      const parts = splitGo(orig as string, sep as string, -1, ctx);
      return new GoMap(new Map(parts.map((p, i) => [`_${i}`, p])), 'string');
    }),
  );
  m.set(
    'splitList',
    fn(['string', 'string'], ([sep, orig], ctx) => strings(splitGo(orig as string, sep as string, -1, ctx))),
  );
  m.set(
    'splitn',
    fn(['string', 'int', 'string'], ([sep, n, orig], ctx) => {
      const parts = splitGo(orig as string, sep as string, Number((n as { v: bigint }).v), ctx);
      return new GoMap(new Map(parts.map((p, i) => [`_${i}`, p])), 'string');
    }),
  );
  m.set(
    'toStrings',
    fn(['any'], ([v]) => strings(strslice(v ?? null))),
  );
  m.set(
    'join',
    fn(['string', 'any'], ([sep, v], ctx) => {
      const parts = strslice(v ?? null);
      let size = 0;
      for (const p of parts) size += p.length + (sep as string).length;
      ctx.budget.alloc(size, ctx.where);
      return parts.join(sep as string);
    }),
  );
  m.set(
    'sortAlpha',
    fn(['any'], ([v]) => {
      if (v instanceof GoSlice) return strings(strslice(v).sort(compareBytes));
      return strings([strval(v ?? null)]);
    }),
  );
  m.set(
    'b64enc',
    sized((a) => goBytes(a).toString('base64')),
  );
  m.set(
    'b64dec',
    s((a) => {
      const r = base64DecodeGo(a);
      return r.ok ? goString(r.bytes) : r.error;
    }),
  );
  m.set(
    'b32enc',
    sized((a) => base32Encode(goBytes(a))),
  );
  m.set(
    'b32dec',
    s((a) => {
      const r = base32DecodeGo(a);
      return r.ok ? goString(r.bytes) : r.error;
    }),
  );
  // Paths (path and, on Linux, path/filepath: the same rules).
  for (const [name, f] of [
    ['base', basePath],
    ['dir', dirPath],
    ['clean', cleanPath],
    ['ext', extPath],
    ['osBase', basePath],
    ['osDir', dirPath],
    ['osClean', cleanPath],
    ['osExt', extPath],
  ] as const) {
    m.set(name, s(f));
  }
  m.set(
    'isAbs',
    fn(['string'], ([a]) => (a as string).startsWith('/')),
  );
  m.set(
    'osIsAbs',
    fn(['string'], ([a]) => (a as string).startsWith('/')),
  );
  return m;
}

function compareBytes(a: string, b: string): number {
  if (isAscii(a) && isAscii(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(goBytes(a), goBytes(b));
}

/** strings.Split / SplitN (n < 0: all), sized first: an empty separator splits every rune. */
export function splitGo(s: string, sep: string, n: number, ctx: CallContext): string[] {
  if (n === 0) return [];
  if (sep === '') {
    const cps = [...s];
    ctx.budget.alloc(cps.length * 24 + s.length, ctx.where);
    if (n < 0 || n >= cps.length) return cps;
    return [...cps.slice(0, n - 1), cps.slice(n - 1).join('')];
  }
  let count = 1;
  for (let i = s.indexOf(sep); i >= 0 && (n < 0 || count < n); i = s.indexOf(sep, i + sep.length)) count++;
  ctx.budget.alloc(count * 24 + s.length, ctx.where);
  if (n < 0) return s.split(sep);
  const out: string[] = [];
  let rest = s;
  while (out.length < n - 1) {
    const i = rest.indexOf(sep);
    if (i < 0) break;
    out.push(rest.slice(0, i));
    rest = rest.slice(i + sep.length);
  }
  out.push(rest);
  return out;
}

export { int };
