/**
 * Go's predefined template functions (text/template/funcs.go): and, or, not, len, index, slice,
 * print, printf, println, html, js, urlquery, eq, ne, lt, le, gt, ge, call — with Go's
 * comparison rules (`eq 1 "1"` is an error, `eq .x nil` is false, `eq x a b` is true when x
 * equals any of a, b), byte semantics for strings and Go's error texts.
 */
import { formatValue, isPrintRune, sprint, sprintf, sprintln } from '../fmt.ts';
import {
  byteLength,
  byteSlice,
  compareGoStrings,
  GoInt,
  GoMap,
  GoSlice,
  GoStruct,
  goBytes,
  int,
  isTrue,
  typeName,
  type Value,
  zeroOf,
} from '../values.ts';
import { type CallContext, FuncError, type FuncMap, fn } from './types.ts';

type Kind = 'invalid' | 'bool' | 'int' | 'float' | 'string' | 'uint';

function basicKind(v: Value): Kind {
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return 'float';
  if (v instanceof GoInt)
    return v.type === 'uint32' || v.type === 'uint8' || v.type === 'uint64' ? 'uint' : 'int';
  return 'invalid';
}

function eq(a: Value, rest: Value[]): boolean {
  if (rest.length === 0) throw new FuncError('missing argument for comparison');
  const k1 = basicKind(a);
  for (const b of rest) {
    const k2 = basicKind(b);
    let truth = false;
    if (k1 !== k2) {
      if ((k1 === 'int' || k1 === 'uint') && (k2 === 'int' || k2 === 'uint')) {
        truth = (a as GoInt).v === (b as GoInt).v;
      } else if (a !== null && b !== null) {
        throw new FuncError('incompatible types for comparison');
      }
    } else {
      switch (k1) {
        case 'bool':
        case 'float':
        case 'string':
          truth = a === b;
          break;
        case 'int':
        case 'uint':
          truth = (a as GoInt).v === (b as GoInt).v;
          break;
        default: {
          if (a === null || b === null) {
            truth = a === b;
            break;
          }
          if (!sameKind(a, b)) throw new FuncError(`non-comparable types ${typeName(a)}, ${typeName(b)}`);
          if (a instanceof GoSlice || a instanceof GoMap)
            throw new FuncError(`non-comparable type ${typeName(b)}`);
          if (b instanceof GoSlice || b instanceof GoMap)
            throw new FuncError(`non-comparable type ${typeName(b)}`);
          truth = a === b;
        }
      }
    }
    if (truth) return true;
  }
  return false;
}

function sameKind(a: Value, b: Value): boolean {
  if (a instanceof GoSlice) return b instanceof GoSlice;
  if (a instanceof GoMap) return b instanceof GoMap;
  if (a instanceof GoStruct) return b instanceof GoStruct;
  return false;
}

function lt(a: Value, b: Value): boolean {
  const k1 = basicKind(a);
  if (k1 === 'invalid') throw new FuncError('invalid type for comparison');
  const k2 = basicKind(b);
  if (k2 === 'invalid') throw new FuncError('invalid type for comparison');
  if (k1 !== k2) {
    if ((k1 === 'int' || k1 === 'uint') && (k2 === 'int' || k2 === 'uint'))
      return (a as GoInt).v < (b as GoInt).v;
    throw new FuncError('incompatible types for comparison');
  }
  switch (k1) {
    case 'bool':
      throw new FuncError('invalid type for comparison');
    case 'float':
      return (a as number) < (b as number);
    case 'string':
      return compareGoStrings(a as string, b as string) < 0;
    default:
      return (a as GoInt).v < (b as GoInt).v;
  }
}

function indexArg(index: Value, cap: number): number {
  if (index === null) throw new FuncError('cannot index slice/array with nil');
  if (!(index instanceof GoInt)) throw new FuncError(`cannot index slice/array with type ${typeName(index)}`);
  const x = index.v;
  if (x < 0n || x > BigInt(cap)) throw new FuncError(`index out of range: ${x}`);
  return Number(x);
}

export function indexValue(item: Value, indexes: Value[]): Value {
  let cur = item;
  if (cur === null) throw new FuncError('index of untyped nil');
  for (const index of indexes) {
    if (cur === null) throw new FuncError('index of nil pointer');
    if (typeof cur === 'string') {
      const bytes = goBytes(cur);
      const x = indexArg(index, bytes.length);
      if (x >= bytes.length) throw new FuncError(`index out of range: ${x}`);
      cur = int(bytes[x] ?? 0, 'uint8');
    } else if (cur instanceof GoSlice) {
      const x = indexArg(index, cur.items.length);
      if (x >= cur.items.length) throw new FuncError(`index out of range: ${x}`);
      cur = cur.items[x] ?? null;
    } else if (cur instanceof GoMap) {
      if (typeof index !== 'string') {
        if (index === null) cur = zeroOf(cur.elem);
        else throw new FuncError(`value has type ${typeName(index)}; should be string`);
        continue;
      }
      cur = cur.m.has(index) ? (cur.m.get(index) ?? null) : zeroOf(cur.elem);
    } else {
      throw new FuncError(`can't index item of type ${typeName(cur)}`);
    }
  }
  return cur;
}

function sliceValue(item: Value, indexes: Value[], ctx: CallContext): Value {
  if (item === null) throw new FuncError('slice of untyped nil');
  if (indexes.length > 3) throw new FuncError(`too many slice indexes: ${indexes.length}`);
  let len: number;
  if (typeof item === 'string') {
    if (indexes.length === 3) throw new FuncError('cannot 3-index slice a string');
    len = byteLength(item);
  } else if (item instanceof GoSlice) len = item.items.length;
  else throw new FuncError(`can't slice item of type ${typeName(item)}`);
  const idx = [0, len, len];
  indexes.forEach((x, i) => {
    idx[i] = indexArg(x, len);
  });
  const [a, b, c] = idx as [number, number, number];
  if (a > b) throw new FuncError(`invalid slice index: ${a} > ${b}`);
  if (indexes.length === 3 && b > c) throw new FuncError(`invalid slice index: ${b} > ${c}`);
  ctx.budget.step(ctx.where, Math.floor((b - a) / 1024));
  if (typeof item === 'string') return byteSlice(item, a, b);
  return new GoSlice(item.items.slice(a, b), item.elem);
}

function length(v: Value): Value {
  if (typeof v === 'string') return int(byteLength(v));
  if (v instanceof GoSlice) return int(v.items.length);
  if (v instanceof GoMap) return int(v.m.size);
  if (v === null) throw new FuncError('len of nil pointer');
  throw new FuncError(`len of type ${typeName(v)}`);
}

/** Go's evalArgs for html/js/urlquery: a lone string as is, else fmt.Sprint. */
function evalArgs(args: Value[]): string {
  if (args.length === 1 && typeof args[0] === 'string') return args[0];
  return sprint(args);
}

export function htmlEscape(s: string): string {
  return s.replace(/[\0"'&<>]/g, (c) =>
    c === '\0'
      ? '\uFFFD'
      : c === '"'
        ? '&#34;'
        : c === "'"
          ? '&#39;'
          : c === '&'
            ? '&amp;'
            : c === '<'
              ? '&lt;'
              : '&gt;',
  );
}

export function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    switch (ch) {
      case '\\':
        out += '\\\\';
        continue;
      case "'":
        out += "\\'";
        continue;
      case '"':
        out += '\\"';
        continue;
      case '<':
        out += '\\u003C';
        continue;
      case '>':
        out += '\\u003E';
        continue;
      case '&':
        out += '\\u0026';
        continue;
      case '=':
        out += '\\u003D';
        continue;
    }
    if (c < 0x20) out += `\\u00${c.toString(16).toUpperCase().padStart(2, '0')}`;
    else if (c < 0x80) out += ch;
    else if (isPrintRune(c)) out += ch;
    else out += `\\u${c.toString(16).toUpperCase().padStart(4, '0')}`;
  }
  return out;
}

/** url.QueryEscape. */
export function queryEscape(s: string): string {
  let out = '';
  for (const b of goBytes(s)) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function checked(ctx: CallContext, s: string): string {
  ctx.budget.checkValue(s.length, ctx.where);
  return s;
}

export function builtins(): FuncMap {
  const m: FuncMap = new Map();
  m.set(
    'and',
    fn(['value'], () => null, 'value'),
  );
  m.set(
    'or',
    fn(['value'], () => null, 'value'),
  );
  m.set(
    'not',
    fn(['value'], ([a]) => !isTrue(a ?? null)),
  );
  m.set(
    'len',
    fn(['value'], ([a]) => length(a ?? null)),
  );
  m.set(
    'index',
    fn(['value'], ([item, ...idx]) => indexValue(item ?? null, idx), 'value'),
  );
  m.set(
    'slice',
    fn(['value'], ([item, ...idx], ctx) => sliceValue(item ?? null, idx, ctx), 'value'),
  );
  m.set(
    'print',
    fn([], (args, ctx) => checked(ctx, sprint(args)), 'any'),
  );
  m.set(
    'println',
    fn([], (args, ctx) => checked(ctx, sprintln(args)), 'any'),
  );
  m.set(
    'printf',
    fn(['string'], ([f, ...args], ctx) => sprintf(f as string, args, ctx.budget, ctx.where), 'any'),
  );
  m.set(
    'html',
    fn([], (args, ctx) => checked(ctx, htmlEscape(evalArgs(args))), 'any'),
  );
  m.set(
    'js',
    fn([], (args, ctx) => checked(ctx, jsEscape(evalArgs(args))), 'any'),
  );
  m.set(
    'urlquery',
    fn([], (args, ctx) => checked(ctx, queryEscape(evalArgs(args))), 'any'),
  );
  m.set(
    'eq',
    fn(['value'], ([a, ...rest]) => eq(a ?? null, rest), 'value'),
  );
  m.set(
    'ne',
    fn(['value', 'value'], ([a, b]) => !eq(a ?? null, [b ?? null])),
  );
  m.set(
    'lt',
    fn(['value', 'value'], ([a, b]) => lt(a ?? null, b ?? null)),
  );
  m.set(
    'le',
    fn(['value', 'value'], ([a, b]) => lt(a ?? null, b ?? null) || eq(a ?? null, [b ?? null])),
  );
  m.set(
    'gt',
    fn(['value', 'value'], ([a, b]) => {
      const l = lt(a ?? null, b ?? null) || eq(a ?? null, [b ?? null]);
      return !l;
    }),
  );
  m.set(
    'ge',
    fn(['value', 'value'], ([a, b]) => !lt(a ?? null, b ?? null)),
  );
  m.set(
    'call',
    fn(
      ['value'],
      ([f]) => {
        if (f === null) throw new FuncError('call of nil');
        throw new FuncError(`non-function of type ${typeName(f ?? null)}`);
      },
      'value',
    ),
  );
  return m;
}

export { formatValue };
