/**
 * Go values as templates see them. Go's text/template is typed: `len` counts bytes, `repeat`
 * wants an `int` and refuses an `int64`, a missing key of a `map[string]string` is "" while one
 * of a `map[string]interface {}` is nil, and `printf "%T"` names the type. So values carry
 * their Go type where JavaScript would lose it:
 *
 * - `string`, `boolean` and `null` (a nil interface) are themselves;
 * - a JavaScript `number` is a Go `float64`; integers are {@link GoInt} (bigint, wrapped to 64 bits);
 * - slices and maps are {@link GoSlice} / {@link GoMap} with their element type;
 * - `time.Time`, sprig's `certificate` and `*semver.Version` are {@link GoStruct}s with methods.
 *
 * Compound values cache their size so the budget can bound them without walking them again.
 */
import { isUtf8 } from 'node:buffer';
import type { CallContext } from './functions/types.ts';

export type IntType =
  | 'int'
  | 'int64'
  | 'int32'
  | 'uint32'
  | 'uint8'
  | 'uint64'
  // Go's named integer types with a String method, which fmt prints through it.
  | 'time.Month'
  | 'time.Weekday'
  | 'time.Duration';

/** The kind (reflect.Kind) of each integer type. */
export const INT_KIND: Record<IntType, string> = {
  int: 'int',
  int64: 'int64',
  int32: 'int32',
  uint32: 'uint32',
  uint8: 'uint8',
  uint64: 'uint64',
  'time.Month': 'int',
  'time.Weekday': 'int',
  'time.Duration': 'int64',
};

export class GoInt {
  readonly v: bigint;
  readonly type: IntType;
  constructor(v: bigint, type: IntType = 'int') {
    this.type = type;
    this.v =
      type === 'uint64'
        ? BigInt.asUintN(64, v)
        : type === 'uint32'
          ? BigInt.asUintN(32, v)
          : type === 'uint8'
            ? BigInt.asUintN(8, v)
            : BigInt.asIntN(type === 'int32' ? 32 : 64, v);
  }
}

/** Go type names of slice and map elements as `%T` prints them. */
export type ElemType = 'interface {}' | 'string' | 'int' | 'int64' | 'float64' | '[]interface {}' | 'uint8';

export class GoSlice {
  readonly elem: ElemType;
  readonly items: Value[];
  size: number;
  /** A nil slice (sprig's `rest` of an empty list): prints `[]`, but JSON writes `null`. */
  readonly isNil: boolean;
  constructor(items: Value[], elem: ElemType = 'interface {}', isNil = false) {
    this.items = items;
    this.elem = elem;
    this.isNil = isNil && items.length === 0;
    let size = 24;
    for (const v of items) size += sizeOf(v);
    this.size = size;
  }
}

export class GoMap {
  readonly elem: ElemType;
  readonly m: Map<string, Value>;
  size: number;
  constructor(m: Map<string, Value>, elem: ElemType = 'interface {}') {
    this.m = m;
    this.elem = elem;
    let size = 48;
    for (const [k, v] of m) size += k.length + 16 + sizeOf(v);
    this.size = size;
  }
  /** Sets a key, keeping the cached size (sprig's `set`, `unset` and `merge` mutate in place). */
  put(k: string, v: Value): void {
    const old = this.m.get(k);
    if (this.m.has(k)) this.size -= k.length + 16 + sizeOf(old ?? null);
    this.m.set(k, v);
    this.size += k.length + 16 + sizeOf(v);
  }
  remove(k: string): void {
    if (!this.m.has(k)) return;
    this.size -= k.length + 16 + sizeOf(this.m.get(k) ?? null);
    this.m.delete(k);
  }
}

/** A Go struct (or pointer to one) with exported fields and methods a template may call. */
export class GoStruct {
  readonly type: string;
  readonly fields: Map<string, Value>;
  readonly methods: Map<string, GoMethod>;
  /** How fmt prints it (`%v`), e.g. a time's `2006-01-02 15:04:05 +0000 UTC`. */
  readonly print: () => string;
  /** Opaque host data (a Date, a semver tuple). */
  readonly host: unknown;
  constructor(opts: {
    type: string;
    fields?: Map<string, Value>;
    methods?: Map<string, GoMethod>;
    print: () => string;
    host?: unknown;
  }) {
    this.type = opts.type;
    this.fields = opts.fields ?? new Map();
    this.methods = opts.methods ?? new Map();
    this.print = opts.print;
    this.host = opts.host;
  }
}

export interface GoMethod {
  params: ParamType[];
  /** `ctx` carries the render's budget, for methods that build large values (Time.Format). */
  call: (args: Value[], ctx: CallContext) => Value;
}

export type Value = string | boolean | number | null | GoInt | GoSlice | GoMap | GoStruct;

/**
 * Parameter types of functions, as Go checks arguments against them:
 * `any` is `interface {}`, `value` is `reflect.Value` (the builtins), `map` is
 * `map[string]interface {}`, `list` is `[]interface {}`, `time` is `time.Time`.
 */
export type ParamType =
  | 'any'
  | 'value'
  | 'string'
  | 'int'
  | 'int64'
  | 'uint32'
  | 'float64'
  | 'bool'
  | 'map'
  | 'list'
  | 'time'
  | 'duration'
  | 'certificate';

export function int(n: number | bigint, type: IntType = 'int'): GoInt {
  return new GoInt(typeof n === 'bigint' ? n : BigInt(Math.trunc(n)), type);
}

export function isInt(v: Value): v is GoInt {
  return v instanceof GoInt;
}

export function strings(items: string[]): GoSlice {
  return new GoSlice(items, 'string');
}

export function list(items: Value[]): GoSlice {
  return new GoSlice(items, 'interface {}');
}

export function dict(entries: Iterable<[string, Value]> = []): GoMap {
  return new GoMap(new Map(entries), 'interface {}');
}

/** Approximate bytes a value holds: what the budget counts. */
export function sizeOf(v: Value): number {
  if (typeof v === 'string') return v.length + 16;
  if (v instanceof GoSlice || v instanceof GoMap) return v.size;
  if (v instanceof GoStruct) {
    let n = 64;
    for (const f of v.fields.values()) n += sizeOf(f);
    return n;
  }
  return 16;
}

/** Go's `%T` / reflect type name. */
export function typeName(v: Value): string {
  if (v === null) return '<nil>';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return 'float64';
  if (v instanceof GoInt) return v.type;
  if (v instanceof GoSlice) return `[]${v.elem}`;
  if (v instanceof GoMap) return `map[string]${v.elem}`;
  return v.type;
}

/** Go's reflect.Kind name, as sprig's `kindOf` prints it. */
export function kindName(v: Value): string {
  if (v === null) return 'invalid';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return 'float64';
  if (v instanceof GoInt) return INT_KIND[v.type];
  if (v instanceof GoSlice) return 'slice';
  if (v instanceof GoMap) return 'map';
  return v.type.startsWith('*') ? 'ptr' : 'struct';
}

/** Go's truth: the zero value of its type is false; structs are always true. */
export function isTrue(v: Value): boolean {
  if (v === null) return false;
  if (typeof v === 'string') return v.length > 0;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (v instanceof GoInt) return v.v !== 0n;
  if (v instanceof GoSlice) return v.items.length > 0;
  if (v instanceof GoMap) return v.m.size > 0;
  return true;
}

/** Byte length of a Go string (Go strings are UTF-8 bytes; `len "é"` is 2). */
export function byteLength(s: string): number {
  // Fast path: ASCII strings have as many bytes as code units.
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return goBytes(s).length;
  return s.length;
}

export function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** `s[from:to]` on bytes, as Go slices strings. */
export function byteSlice(s: string, from: number, to?: number): string {
  if (isAscii(s)) return s.slice(from, to);
  return goString(goBytes(s).subarray(from, to));
}

/** The zero value of an element type, as Go's `index` returns for a missing map key. */
export function zeroOf(elem: ElemType): Value {
  switch (elem) {
    case 'string':
      return '';
    case 'int':
    case 'int64':
      return int(0, elem);
    case 'float64':
      return 0;
    case 'uint8':
      return int(0, 'uint8');
    default:
      return null;
  }
}

/** Keys in Go's map order for printing and ranging (fmtsort: strings ascending by bytes). */
export function sortedKeys(m: GoMap): string[] {
  return [...m.m.keys()].sort(compareGoStrings);
}

/** Go compares strings by UTF-8 bytes; for BMP text that is code point order. */
export function compareGoStrings(a: string, b: string): number {
  if (isAscii(a) && isAscii(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(goBytes(a), goBytes(b));
}

/**
 * Go strings are bytes; secret values may not be UTF-8 (a PKCS#12 file, ciphertext). They are
 * carried as JavaScript strings losslessly: valid UTF-8 decodes as usual and each byte that is
 * not part of valid UTF-8 becomes the lone surrogate U+DC80+byte (Python's "surrogateescape"),
 * which valid UTF-8 can never produce. {@link goBytes} turns such a string back into the bytes.
 */
export function goString(buf: Buffer): string {
  if (isUtf8(buf)) return buf.toString('utf8');
  let out = '';
  let i = 0;
  while (i < buf.length) {
    const b0 = buf[i] as number;
    if (b0 < 0x80) {
      out += String.fromCharCode(b0);
      i++;
      continue;
    }
    const n = b0 >= 0xf0 && b0 <= 0xf4 ? 4 : b0 >= 0xe0 ? 3 : b0 >= 0xc2 && b0 <= 0xdf ? 2 : 0;
    if (n > 0 && i + n <= buf.length) {
      const seq = buf.subarray(i, i + n);
      if (isUtf8(seq)) {
        out += seq.toString('utf8');
        i += n;
        continue;
      }
    }
    out += String.fromCharCode(0xdc00 + b0);
    i++;
  }
  return out;
}

export function goBytes(s: string): Buffer {
  if (!/[\udc80-\udcff]/.test(s)) return Buffer.from(s, 'utf8');
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const prev = i > 0 ? s.charCodeAt(i - 1) : 0;
    if (c >= 0xdc80 && c <= 0xdcff && !(prev >= 0xd800 && prev <= 0xdbff)) {
      parts.push(Buffer.from(s.slice(start, i), 'utf8'), Buffer.from([c - 0xdc00]));
      start = i + 1;
    }
  }
  parts.push(Buffer.from(s.slice(start), 'utf8'));
  return Buffer.concat(parts);
}
