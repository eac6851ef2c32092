/**
 * Sprig's conversions, as Go runs them: `strval` (fmt's `%v` for anything not a string),
 * `strslice` (nil elements dropped), spf13/cast's `ToInt64` / `ToFloat64` (strings parsed with
 * base prefixes, `"1.0"` is 1, anything unparseable is 0), sprig's `empty`, and
 * reflect.DeepEqual for the values templates build.
 */
import { formatValue } from '../fmt.ts';
import { goParseFloat, goParseInt, okOrUndefined } from '../strconv.ts';
import { GoInt, GoMap, GoSlice, GoStruct, int, type Value } from '../values.ts';
import { FuncError } from './types.ts';

export function strval(v: Value): string {
  return typeof v === 'string' ? v : formatValue(v);
}

/** A Go slice or array of any element type. */
export function isList(v: Value): v is GoSlice {
  return v instanceof GoSlice;
}

export function strslice(v: Value): string[] {
  if (v instanceof GoSlice) return v.items.filter((x) => x !== null).map(strval);
  if (v === null) return [];
  return [strval(v)];
}

function trimZeroDecimal(s: string): string {
  let foundZero = false;
  for (let i = s.length; i > 0; i--) {
    const c = s[i - 1];
    if (c === '.') {
      if (foundZero) return s.slice(0, i - 1);
    } else if (c === '0') foundZero = true;
    else return s;
  }
  return s;
}

/** strconv.ParseInt(s, 0, 64); undefined on any error. */
export function parseIntBase0(s: string): bigint | undefined {
  return okOrUndefined(goParseInt(s, 0));
}

/** Go's float64 → int64 conversion on amd64 (out of range gives the minimum int64). */
export function floatToInt64(f: number): bigint {
  if (!Number.isFinite(f) || f >= 2 ** 63 || f < -(2 ** 63)) return -(2n ** 63n);
  return BigInt(Math.trunc(f));
}

/** spf13/cast ToInt64. */
export function toInt64(v: Value): bigint {
  if (v instanceof GoInt) return v.v;
  if (typeof v === 'number') return floatToInt64(v);
  if (typeof v === 'boolean') return v ? 1n : 0n;
  if (typeof v === 'string') return parseIntBase0(trimZeroDecimal(v)) ?? 0n;
  return 0n;
}

/** spf13/cast ToFloat64. */
export function toFloat64(v: Value): number {
  if (v instanceof GoInt) return Number(v.v);
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') return parseFloatGo(v) ?? 0;
  return 0;
}

/** strconv.ParseFloat(s, 64); undefined on any error. */
export function parseFloatGo(s: string): number | undefined {
  return okOrUndefined(goParseFloat(s));
}

export function toInt(v: Value): GoInt {
  return new GoInt(toInt64(v), 'int');
}

/** sprig's empty: the zero value of its type; structs are never empty. */
export function empty(v: Value): boolean {
  if (v === null) return true;
  if (typeof v === 'string') return v.length === 0;
  if (typeof v === 'boolean') return !v;
  if (typeof v === 'number') return v === 0;
  if (v instanceof GoInt) return v.v === 0n;
  if (v instanceof GoSlice) return v.items.length === 0;
  if (v instanceof GoMap) return v.m.size === 0;
  return false;
}

/** reflect.DeepEqual over template values (types must match, as Go's does). */
export function deepEqual(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (a === null || b === null) return false;
  if (typeof a !== 'object' || typeof b !== 'object') return a === b && typeof a === typeof b;
  if (a instanceof GoInt) return b instanceof GoInt && a.type === b.type && a.v === b.v;
  if (a instanceof GoSlice) {
    if (!(b instanceof GoSlice) || a.elem !== b.elem || a.items.length !== b.items.length) return false;
    if (a.isNil !== b.isNil) return false; // reflect.DeepEqual: a nil slice is not an empty one
    return a.items.every((x, i) => deepEqual(x, b.items[i] ?? null));
  }
  if (a instanceof GoMap) {
    if (!(b instanceof GoMap) || a.elem !== b.elem || a.m.size !== b.m.size) return false;
    for (const [k, v] of a.m) if (!b.m.has(k) || !deepEqual(v, b.m.get(k) ?? null)) return false;
    return true;
  }
  if (a instanceof GoStruct && b instanceof GoStruct) return a.type === b.type && a.print() === b.print();
  return false;
}

/** The elements of any slice as `[]interface {}`, or an error for other kinds (sprig's reflect checks). */
export function listItems(v: Value, what: string): Value[] {
  if (v instanceof GoSlice) {
    if (v.elem === 'uint8') return v.items;
    return v.items;
  }
  throw new FuncError(`Cannot ${what} on type ${kindOfForError(v)}`);
}

export function kindOfForError(v: Value): string {
  if (v === null) return 'invalid';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return 'float64';
  if (v instanceof GoInt) return v.type;
  if (v instanceof GoMap) return 'map';
  if (v instanceof GoSlice) return 'slice';
  return 'struct';
}

export { int };
