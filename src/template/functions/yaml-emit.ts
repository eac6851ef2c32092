/**
 * ESO's `toYaml` is sigs.k8s.io/yaml's Marshal: encoding/json, then go-yaml v2 reads that JSON
 * back (numbers become ints, uint64s or floats by YAML 1.1's rules) and writes it with its
 * emitter. This module is that path, written after go-yaml v2's resolve.go, encode.go and
 * emitterc.go: which strings may stay plain (not a bool, number, null, timestamp or base-60
 * float), the scalar style the emitter settles on (plain, single- or double-quoted, literal
 * block), line folding at 80 columns at single spaces, `\x`/`\u`/`\U` escapes, complex keys
 * (`? `) past 128 bytes, and map keys in go-yaml's "natural" order (`a2` before `a10`).
 *
 * Output is counted as it is written: a deep list whose indentation would grow quadratically
 * stops at the budget instead of being built.
 */
import { formatFloat } from '../fmt.ts';
import { goParseFloat, goParseInt, goParseUint } from '../strconv.ts';
import { parseTime } from '../time/format.ts';
import { UTC } from '../time/zoneinfo.ts';
import { GoInt, GoMap, GoSlice, GoStruct, type Value } from '../values.ts';
import { encodeJson } from './json.ts';

// ------------------------------------------------------------------ JSON, then YAML's reading of it

type Node =
  | { k: 'scalar'; text: string; str: boolean }
  | { k: 'list'; items: Node[] }
  | { k: 'map'; entries: [string, Node][] };

class NotJson extends Error {}

/**
 * A string as it comes back from JSON through go-yaml: bytes that are not UTF-8 become U+FFFD
 * (encoding/json), and a raw NEL (U+0085, which JSON leaves as it is) is a line break inside
 * YAML's double-quoted scalar, folded with the blanks around it: one break reads as a space,
 * n breaks as n-1 newlines.
 */
function jsonString(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const prev = i > 0 ? s.charCodeAt(i - 1) : 0;
    if (c === 0x85) {
      let end = out.length;
      // (JSON writes a tab as the escape \t, which YAML keeps: only raw spaces fold.)
      while (end > 0 && out[end - 1] === ' ') end--;
      out = out.slice(0, end);
      let breaks = 0;
      while (i < s.length && (s[i] === '\u0085' || s[i] === ' ')) {
        if (s[i] === '\u0085') breaks++;
        i++;
      }
      i--;
      out += breaks === 1 ? ' ' : '\n'.repeat(breaks - 1);
      continue;
    }
    out += c >= 0xdc80 && c <= 0xdcff && !(prev >= 0xd800 && prev <= 0xdbff) ? '\ufffd' : s[i];
  }
  return out;
}

/**
 * Whether go-yaml reads a JSON key back: its scanner gives up on a simple key that spans lines
 * (a raw NEL) or runs past 1024 characters of JSON text (escapes counted as written), and
 * sigs.k8s.io/yaml then fails the whole document (ESO prints "").
 */
function keyReadsBack(key: string): boolean {
  let n = 2;
  for (const ch of key) {
    const c = ch.codePointAt(0) ?? 0;
    if (c === 0x85) return false;
    if (ch === '"' || ch === '\\' || c === 0x0a || c === 0x0d || c === 0x09 || c === 0x08 || c === 0x0c)
      n += 2;
    else if (c < 0x20 || ch === '<' || ch === '>' || ch === '&' || c === 0x2028 || c === 0x2029) n += 6;
    else if (c >= 0xdc80 && c <= 0xdcff) n += 6;
    else n += 1;
    if (n > 1024) return false;
  }
  return true;
}

/**
 * Whether go-yaml reads a JSON string back: a raw NEL starts a new line of the quoted scalar,
 * and a line starting with a document marker (`---` or `...` then a blank or break) is an error.
 */
function valueReadsBack(s: string): boolean {
  for (let i = s.indexOf('\u0085'); i >= 0; i = s.indexOf('\u0085', i + 1)) {
    const marker = s.slice(i + 1, i + 4);
    const after = s[i + 4];
    if ((marker === '---' || marker === '...') && (after === ' ' || after === '\u0085')) return false;
  }
  return true;
}

function toNode(v: Value, depth: number): Node {
  if (depth > 1000) throw new NotJson();
  if (v === null) return { k: 'scalar', text: 'null', str: false };
  if (typeof v === 'string') {
    if (!valueReadsBack(v)) throw new NotJson();
    return { k: 'scalar', text: jsonString(v), str: true };
  }
  if (typeof v === 'boolean') return { k: 'scalar', text: v ? 'true' : 'false', str: false };
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new NotJson();
    // Go's JSON text for the float, then YAML's reading of that text.
    const text = encodeJson(v, { indent: '', escapeHtml: false, limit: 64 });
    return { k: 'scalar', text: numberText(text), str: false };
  }
  if (v instanceof GoInt) return { k: 'scalar', text: v.v.toString(), str: false };
  if (v instanceof GoSlice) {
    if (v.isNil) return { k: 'scalar', text: 'null', str: false };
    return { k: 'list', items: v.items.map((x) => toNode(x, depth + 1)) };
  }
  if (v instanceof GoMap) {
    for (const key of v.m.keys()) if (!keyReadsBack(key)) throw new NotJson();
    const entries = [...v.m].map(([key, x]) => [jsonString(key), toNode(x, depth + 1)] as [string, Node]);
    return { k: 'map', entries: entries.sort((a, b) => keyOrder(a[0], b[0])) };
  }
  if (v instanceof GoStruct) {
    const json = (v.host as { json?: () => Value } | undefined)?.json;
    if (json) return toNode(json(), depth + 1);
    return toNode(new GoMap(new Map(v.fields), 'interface {}'), depth);
  }
  throw new NotJson();
}

/** A JSON number as go-yaml reads it back (int, uint64 or float), printed as go-yaml prints it. */
function numberText(text: string): string {
  const r = resolve(text);
  if (r.tag === 'int') return r.text;
  const f = goParseFloat(text);
  return typeof f === 'number' ? formatFloat(f, 'g', -1) : text;
}

// ------------------------------------------------------------------ resolve (YAML 1.1, go-yaml v2)

const RESOLVE_MAP = new Map<string, string>();
for (const [tag, words] of [
  ['bool', ['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON']],
  ['bool', ['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF']],
  ['null', ['', '~', 'null', 'Null', 'NULL']],
  [
    'float',
    ['.nan', '.NaN', '.NAN', '.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF', '-.inf', '-.Inf', '-.INF'],
  ],
  ['merge', ['<<']],
] as [string, string[]][]) {
  for (const w of words) RESOLVE_MAP.set(w, tag);
}

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';

/** `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`, by a scan. */
function yamlStyleFloat(s: string): boolean {
  let i = 0;
  if (s[i] === '-' || s[i] === '+') i++;
  if (s[i] === '.') {
    i++;
    if (!isDigit(s[i])) return false;
    while (isDigit(s[i])) i++;
  } else {
    if (!isDigit(s[i])) return false;
    while (isDigit(s[i])) i++;
    if (s[i] === '.') {
      i++;
      while (isDigit(s[i])) i++;
    }
  }
  if (s[i] === 'e' || s[i] === 'E') {
    i++;
    if (s[i] === '-' || s[i] === '+') i++;
    if (!isDigit(s[i])) return false;
    while (isDigit(s[i])) i++;
  }
  return i === s.length;
}

/** `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`, by a scan. */
function isBase60Float(s: string): boolean {
  if (s === '') return false;
  const c = s[0] as string;
  if (!(c === '+' || c === '-' || isDigit(c)) || !s.includes(':')) return false;
  let i = c === '+' || c === '-' ? 1 : 0;
  if (!isDigit(s[i])) return false;
  while (isDigit(s[i]) || s[i] === '_') i++;
  let groups = 0;
  while (s[i] === ':') {
    i++;
    if (!isDigit(s[i])) return false;
    // [0-5]?[0-9]: one or two digits, the first of two at most 5.
    if (isDigit(s[i + 1]) && (s[i] as string) <= '5') i += 2;
    else i += 1;
    groups++;
  }
  if (groups === 0) return false;
  if (s[i] === '.') {
    i++;
    while (isDigit(s[i]) || s[i] === '_') i++;
  }
  return i === s.length;
}

const TIMESTAMP_LAYOUTS = [
  '2006-1-2T15:4:5.999999999Z07:00',
  '2006-1-2t15:4:5.999999999Z07:00',
  '2006-1-2 15:4:5.999999999',
  '2006-1-2',
];

function isTimestamp(s: string): boolean {
  let i = 0;
  while (i < s.length && isDigit(s[i])) i++;
  if (i !== 4 || i === s.length || s[i] !== '-') return false;
  return TIMESTAMP_LAYOUTS.some((l) => parseTime(l, s, UTC) !== undefined);
}

/** go-yaml v2's resolve("", s): the tag a plain scalar reads as, and the text of an int. */
export function resolve(s: string): { tag: string; text: string } {
  const c = s[0];
  const hint =
    s === ''
      ? 'N'
      : c === '+' || c === '-'
        ? 'S'
        : isDigit(c)
          ? 'D'
          : c !== undefined && 'yYnNtTfFoO~'.includes(c)
            ? 'M'
            : c === '.'
              ? '.'
              : '';
  if (hint === '') return { tag: 'str', text: s };
  const known = RESOLVE_MAP.get(s);
  if (known) return { tag: known, text: s };
  if (hint === '.') {
    return typeof goParseFloat(s) === 'number' ? { tag: 'float', text: s } : { tag: 'str', text: s };
  }
  if (hint === 'D' || hint === 'S') {
    if (isTimestamp(s)) return { tag: 'timestamp', text: s };
    const plain = s.replaceAll('_', '');
    const i = goParseInt(plain, 0);
    if (typeof i === 'bigint') return { tag: 'int', text: i.toString() };
    const u = goParseUint(plain, 0);
    if (typeof u === 'bigint') return { tag: 'int', text: u.toString() };
    if (yamlStyleFloat(plain) && typeof goParseFloat(plain) === 'number') return { tag: 'float', text: s };
    if (plain.startsWith('0b')) {
      const b = goParseInt(plain.slice(2), 2);
      if (typeof b === 'bigint') return { tag: 'int', text: b.toString() };
      const ub = goParseUint(plain.slice(2), 2);
      if (typeof ub === 'bigint') return { tag: 'int', text: ub.toString() };
    } else if (plain.startsWith('-0b')) {
      const b = goParseInt(`-${plain.slice(3)}`, 2);
      if (typeof b === 'bigint') return { tag: 'int', text: b.toString() };
    }
  }
  return { tag: 'str', text: s };
}

// ------------------------------------------------------------------ key order (go-yaml's keyList)

const isLetter = (ch: string) => /^\p{L}$/u.test(ch);
const isUnicodeDigit = (ch: string) => /^\p{Nd}$/u.test(ch);

/** go-yaml v2's keyList.Less for string keys: runes, digits compared as numbers. */
function keyLess(a: string, b: string): boolean {
  const ar = [...a];
  const br = [...b];
  for (let i = 0; i < ar.length && i < br.length; i++) {
    if (ar[i] === br[i]) continue;
    const al = isLetter(ar[i] as string);
    const bl = isLetter(br[i] as string);
    if (al && bl) return (ar[i] as string).codePointAt(0)! < (br[i] as string).codePointAt(0)!;
    if (al || bl) return bl;
    let an = 0n;
    let bn = 0n;
    if (ar[i] === '0' || br[i] === '0') {
      for (let j = i - 1; j >= 0 && isUnicodeDigit(ar[j] as string); j--) {
        if (ar[j] !== '0') {
          an = 1n;
          bn = 1n;
          break;
        }
      }
    }
    let ai = i;
    for (; ai < ar.length && isUnicodeDigit(ar[ai] as string); ai++) {
      an = BigInt.asIntN(64, an * 10n + BigInt((ar[ai] as string).codePointAt(0)! - 48));
    }
    let bi = i;
    for (; bi < br.length && isUnicodeDigit(br[bi] as string); bi++) {
      bn = BigInt.asIntN(64, bn * 10n + BigInt((br[bi] as string).codePointAt(0)! - 48));
    }
    if (an !== bn) return an < bn;
    if (ai !== bi) return ai < bi;
    return (ar[i] as string).codePointAt(0)! < (br[i] as string).codePointAt(0)!;
  }
  return ar.length < br.length;
}

function keyOrder(a: string, b: string): number {
  return keyLess(a, b) ? -1 : keyLess(b, a) ? 1 : 0;
}

// ------------------------------------------------------------------ the emitter

type Style = 'plain' | 'single' | 'double' | 'literal';

const WIDTH = 80;
const BEST_INDENT = 2;

const isBreak = (c: string | undefined) =>
  c === '\r' || c === '\n' || c === '\u0085' || c === '\u2028' || c === '\u2029';
const isBlank = (c: string | undefined) => c === ' ' || c === '\t';
const isBlankz = (c: string | undefined) => c === undefined || isBlank(c) || isBreak(c) || c === '\0';

/** go-yaml's is_printable, on code points (four-byte UTF-8 characters are not "printable"). */
function isPrintable(c: string): boolean {
  const cp = c.codePointAt(0) ?? 0;
  return (
    cp === 0x0a ||
    (cp >= 0x20 && cp <= 0x7e) ||
    (cp >= 0xa0 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd && cp !== 0xfeff)
  );
}

interface Analysis {
  multiline: boolean;
  flowPlain: boolean;
  blockPlain: boolean;
  singleQuoted: boolean;
  block: boolean;
}

function analyze(value: string): Analysis {
  if (value === '')
    return { multiline: false, flowPlain: false, blockPlain: true, singleQuoted: true, block: false };
  const cs = [...value];
  let blockIndicators = false;
  let flowIndicators = false;
  let lineBreaks = false;
  let special = false;
  let leadingSpace = false;
  let leadingBreak = false;
  let trailingSpace = false;
  let trailingBreak = false;
  let breakSpace = false;
  let spaceBreak = false;
  let precededByWhitespace = true;
  let previousSpace = false;
  let previousBreak = false;
  if (value.startsWith('---') || value.startsWith('...')) {
    blockIndicators = true;
    flowIndicators = true;
  }
  for (let i = 0; i < cs.length; i++) {
    const c = cs[i] as string;
    const followedByWhitespace = i + 1 >= cs.length || isBlank(cs[i + 1]);
    if (i === 0) {
      if ('#,[]{}&*!|>\'"%@`'.includes(c)) {
        flowIndicators = true;
        blockIndicators = true;
      } else if (c === '?' || c === ':') {
        flowIndicators = true;
        if (followedByWhitespace) blockIndicators = true;
      } else if (c === '-' && followedByWhitespace) {
        flowIndicators = true;
        blockIndicators = true;
      }
    } else if (',?[]{}'.includes(c)) {
      flowIndicators = true;
    } else if (c === ':') {
      flowIndicators = true;
      if (followedByWhitespace) blockIndicators = true;
    } else if (c === '#' && precededByWhitespace) {
      flowIndicators = true;
      blockIndicators = true;
    }
    if (!isPrintable(c)) special = true;
    if (c === ' ') {
      if (i === 0) leadingSpace = true;
      if (i === cs.length - 1) trailingSpace = true;
      if (previousBreak) breakSpace = true;
      previousSpace = true;
      previousBreak = false;
    } else if (isBreak(c)) {
      lineBreaks = true;
      if (i === 0) leadingBreak = true;
      if (i === cs.length - 1) trailingBreak = true;
      if (previousSpace) spaceBreak = true;
      previousSpace = false;
      previousBreak = true;
    } else {
      previousSpace = false;
      previousBreak = false;
    }
    precededByWhitespace = isBlankz(c);
  }
  const a: Analysis = {
    multiline: lineBreaks,
    flowPlain: true,
    blockPlain: true,
    singleQuoted: true,
    block: true,
  };
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) {
    a.flowPlain = false;
    a.blockPlain = false;
  }
  if (trailingSpace) a.block = false;
  if (breakSpace) {
    a.flowPlain = false;
    a.blockPlain = false;
    a.singleQuoted = false;
  }
  if (spaceBreak || special) {
    a.flowPlain = false;
    a.blockPlain = false;
    a.singleQuoted = false;
    a.block = false;
  }
  if (lineBreaks) {
    a.flowPlain = false;
    a.blockPlain = false;
  }
  if (flowIndicators) a.flowPlain = false;
  if (blockIndicators) a.blockPlain = false;
  return a;
}

export class YamlTooLarge extends Error {}

class Emitter {
  out: string[] = [];
  size = 0;
  readonly limit: number;
  column = 0;
  whitespace = true;
  indention = true;
  indent = -1;
  indents: number[] = [];
  flowLevel = 0;
  mappingContext = false;
  simpleKeyContext = false;

  constructor(limit: number) {
    this.limit = limit;
  }

  private raw(s: string): void {
    this.size += s.length;
    if (this.size > this.limit) throw new YamlTooLarge();
    this.out.push(s);
  }

  /** put/write: one character on the current line. */
  put(c: string): void {
    this.raw(c);
    this.column++;
  }

  putBreak(): void {
    this.raw('\n');
    this.column = 0;
  }

  /** write_break: a line break of the value (`\n` as the emitter's break, others as they are). */
  writeBreak(c: string): void {
    if (c === '\n') this.putBreak();
    else {
      this.raw(c);
      this.column = 0;
    }
  }

  increaseIndent(flow: boolean, indentless: boolean): void {
    this.indents.push(this.indent);
    if (this.indent < 0) this.indent = flow ? BEST_INDENT : 0;
    else if (!indentless) this.indent += BEST_INDENT;
  }

  popIndent(): void {
    this.indent = this.indents.pop() ?? -1;
  }

  writeIndent(): void {
    const indent = Math.max(0, this.indent);
    if (!this.indention || this.column > indent || (this.column === indent && !this.whitespace))
      this.putBreak();
    while (this.column < indent) this.put(' ');
    this.whitespace = true;
    this.indention = true;
  }

  writeIndicator(
    indicator: string,
    needWhitespace: boolean,
    isWhitespace: boolean,
    isIndention: boolean,
  ): void {
    if (needWhitespace && !this.whitespace) this.put(' ');
    for (const c of indicator) this.put(c);
    this.whitespace = isWhitespace;
    this.indention = this.indention && isIndention;
  }

  writePlain(value: string, allowBreaks: boolean): void {
    if (!this.whitespace) this.put(' ');
    const cs = [...value];
    let spaces = false;
    let breaks = false;
    for (let i = 0; i < cs.length; i++) {
      const c = cs[i] as string;
      if (c === ' ') {
        if (allowBreaks && !spaces && this.column > WIDTH && cs[i + 1] !== ' ') this.writeIndent();
        else this.put(c);
        spaces = true;
      } else if (isBreak(c)) {
        if (!breaks && c === '\n') this.putBreak();
        this.writeBreak(c);
        this.indention = true;
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        this.put(c);
        this.indention = false;
        spaces = false;
        breaks = false;
      }
    }
    this.whitespace = false;
    this.indention = false;
  }

  writeSingle(value: string, allowBreaks: boolean): void {
    this.writeIndicator("'", true, false, false);
    const cs = [...value];
    let spaces = false;
    let breaks = false;
    for (let i = 0; i < cs.length; i++) {
      const c = cs[i] as string;
      if (c === ' ') {
        if (allowBreaks && !spaces && this.column > WIDTH && i > 0 && i < cs.length - 1 && cs[i + 1] !== ' ')
          this.writeIndent();
        else this.put(c);
        spaces = true;
      } else if (isBreak(c)) {
        if (!breaks && c === '\n') this.putBreak();
        this.writeBreak(c);
        this.indention = true;
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        if (c === "'") this.put("'");
        this.put(c);
        this.indention = false;
        spaces = false;
        breaks = false;
      }
    }
    this.writeIndicator("'", false, false, false);
    this.whitespace = false;
    this.indention = false;
  }

  writeDouble(value: string, allowBreaks: boolean): void {
    this.writeIndicator('"', true, false, false);
    const cs = [...value];
    // go-yaml's is_bom looks at the value's first bytes whatever the position.
    const bom = value.startsWith('\ufeff');
    let spaces = false;
    for (let i = 0; i < cs.length; i++) {
      const c = cs[i] as string;
      if (!isPrintable(c) || bom || isBreak(c) || c === '"' || c === '\\') {
        const v = c.codePointAt(0) ?? 0;
        this.put('\\');
        const named: Record<number, string> = {
          0: '0',
          7: 'a',
          8: 'b',
          9: 't',
          10: 'n',
          11: 'v',
          12: 'f',
          13: 'r',
          27: 'e',
          34: '"',
          92: '\\',
          133: 'N',
          160: '_',
          8232: 'L',
          8233: 'P',
        };
        const n = named[v];
        if (n !== undefined) this.put(n);
        else {
          const [letter, width] = v <= 0xff ? ['x', 2] : v <= 0xffff ? ['u', 4] : ['U', 8];
          this.put(letter as string);
          for (const d of v
            .toString(16)
            .toUpperCase()
            .padStart(width as number, '0'))
            this.put(d);
        }
        spaces = false;
      } else if (c === ' ') {
        if (allowBreaks && !spaces && this.column > WIDTH && i > 0 && i < cs.length - 1) {
          this.writeIndent();
          if (cs[i + 1] === ' ') this.put('\\');
        } else this.put(c);
        spaces = true;
      } else {
        this.put(c);
        spaces = false;
      }
    }
    this.writeIndicator('"', false, false, false);
    this.whitespace = false;
    this.indention = false;
  }

  writeLiteral(value: string): void {
    this.writeIndicator('|', true, false, false);
    const cs = [...value];
    if (cs[0] === ' ' || isBreak(cs[0])) this.writeIndicator(String(BEST_INDENT), false, false, false);
    let chomp = '';
    const last = cs[cs.length - 1];
    if (cs.length === 0 || !isBreak(last)) chomp = '-';
    else if (cs.length === 1 || isBreak(cs[cs.length - 2])) chomp = '+';
    if (chomp) this.writeIndicator(chomp, false, false, false);
    this.putBreak();
    this.indention = true;
    this.whitespace = true;
    let breaks = true;
    for (const c of cs) {
      if (isBreak(c)) {
        this.writeBreak(c);
        this.indention = true;
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        this.put(c);
        this.indention = false;
        breaks = false;
      }
    }
  }

  scalar(text: string, requested: Style): void {
    const a = analyze(text);
    let style = requested;
    if (this.simpleKeyContext && a.multiline) style = 'double';
    if (style === 'plain') {
      if ((this.flowLevel > 0 && !a.flowPlain) || (this.flowLevel === 0 && !a.blockPlain)) style = 'single';
      if (text === '' && (this.flowLevel > 0 || this.simpleKeyContext)) style = 'single';
    }
    if (style === 'single' && !a.singleQuoted) style = 'double';
    if (style === 'literal' && (!a.block || this.flowLevel > 0 || this.simpleKeyContext)) style = 'double';
    this.increaseIndent(true, false);
    const allowBreaks = !this.simpleKeyContext;
    if (style === 'plain') this.writePlain(text, allowBreaks);
    else if (style === 'single') this.writeSingle(text, allowBreaks);
    else if (style === 'double') this.writeDouble(text, allowBreaks);
    else this.writeLiteral(text);
    this.popIndent();
  }

  node(n: Node, mapping: boolean, simpleKey: boolean): void {
    this.mappingContext = mapping;
    this.simpleKeyContext = simpleKey;
    if (n.k === 'scalar') {
      let style: Style = 'plain';
      if (n.str) {
        const canPlain = resolve(n.text).tag === 'str' && !isBase60Float(n.text);
        style = n.text.includes('\n') ? 'literal' : canPlain ? 'plain' : 'double';
      }
      this.scalar(n.text, style);
      return;
    }
    if (n.k === 'list' ? n.items.length === 0 : n.entries.length === 0) {
      // An empty collection is written in flow style: [] or {}.
      this.writeIndicator(n.k === 'list' ? '[' : '{', true, true, false);
      this.increaseIndent(true, false);
      this.popIndent();
      this.writeIndicator(n.k === 'list' ? ']' : '}', false, false, false);
      return;
    }
    if (n.k === 'list') {
      this.increaseIndent(false, this.mappingContext && !this.indention);
      for (const item of n.items) {
        this.writeIndent();
        this.writeIndicator('-', true, false, true);
        this.node(item, false, false);
      }
      this.popIndent();
      return;
    }
    this.increaseIndent(false, false);
    for (const [key, value] of n.entries) {
      this.writeIndent();
      const simple = !analyze(key).multiline && Buffer.byteLength(key) <= 128;
      if (simple) {
        this.node({ k: 'scalar', text: key, str: true }, true, true);
        this.writeIndicator(':', false, false, false);
      } else {
        this.writeIndicator('?', true, false, true);
        this.node({ k: 'scalar', text: key, str: true }, true, false);
        this.writeIndent();
        this.writeIndicator(':', true, false, true);
      }
      this.node(value, true, false);
    }
    this.popIndent();
  }
}

/**
 * sigs.k8s.io/yaml's Marshal, trailing newline removed as ESO does; undefined where Go's JSON
 * encoding fails (ESO then prints ""). Throws YamlTooLarge past `limit` bytes.
 */
export function marshalYaml(v: Value, limit: number): string | undefined {
  let root: Node;
  try {
    root = toNode(v, 0);
  } catch {
    return undefined;
  }
  const e = new Emitter(limit);
  e.node(root, false, false);
  e.writeIndent();
  const out = e.out.join('');
  return out.endsWith('\n') ? out.slice(0, -1) : out;
}
