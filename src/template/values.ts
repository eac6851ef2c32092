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

export type IntType = 'int' | 'int64' | 'int32' | 'uint32' | 'uint8';

export class GoInt {
  readonly v: bigint;
  readonly type: IntType;
  constructor(v: bigint, type: IntType = 'int') {
    this.type = type;
    this.v = type === 'uint32' ? BigInt.asUintN(32, v) : type === 'uint8' ? BigInt.asUintN(8, v) : BigInt.asIntN(type === 'int32' ? 32 : 64, v);
  }
}

/** Go type names of slice and map elements as `%T` prints them. */
export type ElemType = 'interface {}' | 'string' | 'int' | 'int64' | 'float64' | '[]interface {}' | 'uint8';

export class GoSlice {
  readonly elem: ElemType;
  readonly items: Value[];
  size: number;
  constructor(items: Value[], elem: ElemType = 'interface {}') {
    this.items = items;
    this.elem = elem;
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
  call: (args: Value[]) => Value;
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
  if (v instanceof GoInt) return v.type;
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
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return Buffer.byteLength(s, 'utf8');
  return s.length;
}

export function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** `s[from:to]` on bytes, as Go slices strings. */
export function byteSlice(s: string, from: number, to?: number): string {
  if (isAscii(s)) return s.slice(from, to);
  return Buffer.from(s, 'utf8').subarray(from, to).toString('utf8');
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
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
