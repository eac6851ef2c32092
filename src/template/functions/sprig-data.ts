/**
 * Sprig's lists, dicts, defaults, JSON, integer and float math and reflection functions
 * (list.go, dict.go, defaults.go, numeric.go, reflect.go). Lists are `[]interface {}`; `until`
 * and `untilStep` give `[]int`; `keys` gives `[]string` in Go's (unspecified) map order, which
 * here is insertion order. Every list, dict and string is sized before it is built.
 */

import { formatFloat, sprint } from '../fmt.ts';
import { goParseInt, okOrUndefined } from '../strconv.ts';
import {
  dict,
  GoInt,
  GoMap,
  GoSlice,
  GoStruct,
  int,
  kindName,
  list,
  sizeOf,
  strings,
  typeName,
  type Value,
} from '../values.ts';
import {
  deepEqual,
  empty,
  floatToInt64,
  kindOfForError,
  listItems,
  parseIntBase0,
  strval,
  toFloat64,
  toInt,
  toInt64,
} from './convert.ts';
import Decimal from './decimal.ts';
import { decodeJson, encodeJson, JsonTooLargeError } from './json.ts';
import { type CallContext, FuncError, type FuncMap, fn } from './types.ts';

const I = (v: Value) => (v as GoInt).v;

function newList(items: Value[], ctx: CallContext): GoSlice {
  ctx.budget.checkValue(items.length * 16, ctx.where);
  return list(items);
}

function intsUntil(start: bigint, stop: bigint, step: bigint, ctx: CallContext): GoSlice {
  let count = 0n;
  if (stop < start) {
    if (step < 0n) count = (start - stop + (-step - 1n)) / -step;
  } else if (step > 0n) count = (stop - start + step - 1n) / step;
  // Each element costs 16 bytes in our accounting (Go: 8); bound the count before building.
  if (count * 16n > BigInt(ctx.budget.limits.valueBytes)) ctx.budget.fail('value', ctx.where);
  ctx.budget.alloc(Number(count) * 16, ctx.where);
  const out: Value[] = [];
  for (let i = 0n, v = start; i < count; i++, v += step) out.push(new GoInt(v, 'int'));
  return new GoSlice(out, 'int');
}

function seq(params: bigint[], ctx: CallContext): string {
  let ints: GoSlice;
  switch (params.length) {
    case 0:
      return '';
    case 1: {
      const end = params[0] as bigint;
      const inc = end < 1n ? -1n : 1n;
      ints = intsUntil(1n, end + inc, inc, ctx);
      break;
    }
    case 2: {
      const [start, end] = params as [bigint, bigint];
      const step = end < start ? -1n : 1n;
      ints = intsUntil(start, end + step, step, ctx);
      break;
    }
    case 3: {
      const [start, step, end] = params as [bigint, bigint, bigint];
      let inc = 1n;
      if (end < start) {
        inc = -1n;
        if (step > 0n) return '';
      }
      ints = intsUntil(start, end + inc, step, ctx);
      break;
    }
    default:
      return '';
  }
  return ints.items.map((x) => (x as GoInt).v.toString()).join(' ');
}

function round(a: Value, p: bigint, rOpt: number[]): number {
  const roundOn = rOpt.length > 0 ? (rOpt[0] as number) : 0.5;
  const val = toFloat64(a);
  const pow = 10 ** Number(p);
  const digit = pow * val;
  const frac = digit - Math.trunc(digit);
  const r = frac >= roundOn ? Math.ceil(digit) : Math.floor(digit);
  return r / pow;
}

function decimalOp(a: Value, rest: Value[], op: 'add' | 'sub' | 'mul' | 'div'): number {
  let acc = Decimal.fromFloat(toFloat64(a));
  for (const x of rest) {
    const d = Decimal.fromFloat(toFloat64(x));
    acc = op === 'add' ? acc.add(d) : op === 'sub' ? acc.sub(d) : op === 'mul' ? acc.mul(d) : acc.div(d);
  }
  return acc.toFloat();
}

/** mergo.Merge: fills keys missing (or empty) in dst from src, deeply for nested maps. */
function mergeInto(dst: GoMap, src: GoMap | null, overwrite: boolean, depth = 0): void {
  if (src === null || depth > 100) return;
  for (const [k, sv] of src.m) {
    const dv = dst.m.get(k) ?? null;
    if (dst.m.has(k) && dv instanceof GoMap && sv instanceof GoMap) {
      mergeInto(dv, sv, overwrite, depth + 1);
      dst.put(k, dv);
    } else if (overwrite || !dst.m.has(k) || empty(dv)) {
      dst.put(k, sv);
    }
  }
}

function deepCopy(v: Value, depth = 0): Value {
  if (depth > 1000) throw new FuncError('deepCopy: too deep');
  if (v instanceof GoSlice)
    return new GoSlice(
      v.items.map((x) => deepCopy(x, depth + 1)),
      v.elem,
    );
  if (v instanceof GoMap)
    return new GoMap(new Map([...v.m].map(([k, x]) => [k, deepCopy(x, depth + 1)])), v.elem);
  return v;
}

function toJson(v: Value, ctx: CallContext, indent: string, escapeHtml: boolean, must: boolean): string {
  try {
    return encodeJson(v, { indent, escapeHtml, limit: ctx.budget.limits.valueBytes });
  } catch (e) {
    if (e instanceof JsonTooLargeError) ctx.budget.fail('value', ctx.where);
    if (must) throw e;
    return '';
  }
}

function typeIsLike(target: string, v: Value): boolean {
  const t = typeName(v);
  return t === target || `*${t}` === target;
}

function mustList(v: Value, what: string): Value[] {
  if (v === null) throw new FuncError('runtime error: invalid memory address or nil pointer dereference');
  return listItems(v, what);
}

export function sprigData(): FuncMap {
  const m: FuncMap = new Map();
  // ----- integer math (int64 results, cast.ToInt64 inputs)
  m.set(
    'add1',
    fn(['any'], ([a]) => int(toInt64(a ?? null) + 1n, 'int64')),
  );
  m.set(
    'add',
    fn(
      [],
      (args) =>
        int(
          args.reduce<bigint>((s, x) => s + toInt64(x), 0n),
          'int64',
        ),
      'any',
    ),
  );
  m.set(
    'sub',
    fn(['any', 'any'], ([a, b]) => int(toInt64(a ?? null) - toInt64(b ?? null), 'int64')),
  );
  m.set(
    'div',
    fn(['any', 'any'], ([a, b]) => {
      const d = toInt64(b ?? null);
      if (d === 0n) throw new FuncError('runtime error: integer divide by zero');
      return int(toInt64(a ?? null) / d, 'int64');
    }),
  );
  m.set(
    'mod',
    fn(['any', 'any'], ([a, b]) => {
      const d = toInt64(b ?? null);
      if (d === 0n) throw new FuncError('runtime error: integer divide by zero');
      return int(toInt64(a ?? null) % d, 'int64');
    }),
  );
  m.set(
    'mul',
    fn(
      ['any'],
      ([a, ...rest]) =>
        int(
          rest.reduce<bigint>((s, x) => BigInt.asIntN(64, s * toInt64(x)), toInt64(a ?? null)),
          'int64',
        ),
      'any',
    ),
  );
  const maxMin = (isMax: boolean) =>
    fn(
      ['any'],
      ([a, ...rest]) => {
        let acc = toInt64(a ?? null);
        for (const x of rest) {
          const b = toInt64(x);
          if (isMax ? b > acc : b < acc) acc = b;
        }
        return int(acc, 'int64');
      },
      'any',
    );
  m.set('max', maxMin(true));
  m.set('biggest', maxMin(true));
  m.set('min', maxMin(false));
  m.set(
    'maxf',
    fn(
      ['any'],
      ([a, ...rest]) => rest.reduce<number>((acc, x) => goMax(acc, toFloat64(x)), toFloat64(a ?? null)),
      'any',
    ),
  );
  m.set(
    'minf',
    fn(
      ['any'],
      ([a, ...rest]) => rest.reduce<number>((acc, x) => goMin(acc, toFloat64(x)), toFloat64(a ?? null)),
      'any',
    ),
  );
  m.set(
    'floor',
    fn(['any'], ([a]) => Math.floor(toFloat64(a ?? null))),
  );
  m.set(
    'ceil',
    fn(['any'], ([a]) => Math.ceil(toFloat64(a ?? null))),
  );
  m.set(
    'round',
    fn(['any', 'int'], ([a, p, ...r]) => round(a ?? null, I(p ?? null), r as number[]), 'float64'),
  );
  m.set(
    'add1f',
    fn(['any'], ([a]) => decimalOp(a ?? null, [int(1)], 'add')),
  );
  m.set(
    'addf',
    fn([], (args) => decimalOp(0, args, 'add'), 'any'),
  );
  m.set(
    'subf',
    fn(['any'], ([a, ...rest]) => decimalOp(a ?? null, rest, 'sub'), 'any'),
  );
  m.set(
    'mulf',
    fn(['any'], ([a, ...rest]) => decimalOp(a ?? null, rest, 'mul'), 'any'),
  );
  m.set(
    'divf',
    fn(['any'], ([a, ...rest]) => decimalOp(a ?? null, rest, 'div'), 'any'),
  );
  m.set(
    'atoi',
    fn(['string'], ([a]) => {
      const s = a as string;
      // strconv.Atoi with its error ignored: a syntax error gives 0, a range error the clamped value.
      const v = goParseInt(s, 10);
      if (v === 'range') return int(s.startsWith('-') ? -(2n ** 63n) : 2n ** 63n - 1n);
      return int(v === 'syntax' ? 0n : v);
    }),
  );
  m.set(
    'int',
    fn(['any'], ([a]) => toInt(a ?? null)),
  );
  m.set(
    'int64',
    fn(['any'], ([a]) => int(toInt64(a ?? null), 'int64')),
  );
  m.set(
    'float64',
    fn(['any'], ([a]) => toFloat64(a ?? null)),
  );
  m.set(
    'toDecimal',
    fn(['any'], ([a]) => {
      // strconv.ParseInt(fmt.Sprint(v), 8, 64); errors give 0.
      return int(okOrUndefined(goParseInt(sprint([a ?? null]), 8)) ?? 0n, 'int64');
    }),
  );
  m.set(
    'seq',
    fn([], (args, ctx) => seq(args.map(I), ctx), 'int'),
  );
  m.set(
    'until',
    fn(['int'], ([c], ctx) => {
      const count = I(c ?? null);
      return intsUntil(0n, count, count < 0n ? -1n : 1n, ctx);
    }),
  );
  m.set(
    'untilStep',
    fn(['int', 'int', 'int'], ([a, b, s], ctx) => intsUntil(I(a ?? null), I(b ?? null), I(s ?? null), ctx)),
  );
  m.set(
    'randInt',
    fn(['int', 'int'], ([lo, hi], ctx) => {
      const min = I(lo ?? null);
      const span = I(hi ?? null) - min;
      if (span <= 0n) throw new FuncError('invalid argument to Intn');
      const r = ctx.env.randomBytes(8).readBigUInt64BE() % span;
      return int(min + r);
    }),
  );

  // ----- defaults and flow
  m.set(
    'default',
    fn(
      ['any'],
      ([d, ...given]) => (given.length === 0 || empty(given[0] ?? null) ? (d ?? null) : (given[0] ?? null)),
      'any',
    ),
  );
  m.set(
    'empty',
    fn(['any'], ([v]) => empty(v ?? null)),
  );
  m.set(
    'coalesce',
    fn([], (args) => args.find((a) => !empty(a)) ?? null, 'any'),
  );
  m.set(
    'all',
    fn([], (args) => args.every((a) => !empty(a)), 'any'),
  );
  m.set(
    'any',
    fn([], (args) => args.some((a) => !empty(a)), 'any'),
  );
  m.set(
    'ternary',
    fn(['any', 'any', 'bool'], ([t, f, c]) => (c ? (t ?? null) : (f ?? null))),
  );
  m.set(
    'fail',
    fn(['string'], ([msg], ctx) => {
      // The message may be built from secret values: only a literal message is repeated.
      throw new FuncError(ctx.literal[0] ? (msg as string) : 'the template called fail');
    }),
  );

  // ----- JSON
  m.set(
    'fromJson',
    fn(['string'], ([s]) => {
      try {
        return decodeJson(s as string);
      } catch {
        return null;
      }
    }),
  );
  m.set(
    'mustFromJson',
    fn(['string'], ([s]) => decodeJson(s as string)),
  );
  m.set(
    'toJson',
    fn(['any'], ([v], ctx) => toJson(v ?? null, ctx, '', true, false)),
  );
  m.set(
    'mustToJson',
    fn(['any'], ([v], ctx) => toJson(v ?? null, ctx, '', true, true)),
  );
  m.set(
    'toPrettyJson',
    fn(['any'], ([v], ctx) => toJson(v ?? null, ctx, '  ', true, false)),
  );
  m.set(
    'mustToPrettyJson',
    fn(['any'], ([v], ctx) => toJson(v ?? null, ctx, '  ', true, true)),
  );
  m.set(
    'toRawJson',
    fn(['any'], ([v], ctx) => toJson(v ?? null, ctx, '', false, true)),
  );
  m.set(
    'mustToRawJson',
    fn(['any'], ([v], ctx) => toJson(v ?? null, ctx, '', false, true)),
  );

  // ----- reflection
  m.set(
    'typeOf',
    fn(['any'], ([v]) => typeName(v ?? null)),
  );
  m.set(
    'typeIs',
    fn(['string', 'any'], ([t, v]) => t === typeName(v ?? null)),
  );
  m.set(
    'typeIsLike',
    fn(['string', 'any'], ([t, v]) => typeIsLike(t as string, v ?? null)),
  );
  m.set(
    'kindOf',
    fn(['any'], ([v]) => kindName(v ?? null)),
  );
  m.set(
    'kindIs',
    fn(['string', 'any'], ([t, v]) => t === kindName(v ?? null)),
  );
  m.set(
    'deepEqual',
    fn(['any', 'any'], ([a, b]) => deepEqual(a ?? null, b ?? null)),
  );

  // ----- lists
  const listFn = fn([], (args, ctx) => newList([...args], ctx), 'any');
  m.set('list', listFn);
  m.set('tuple', listFn);
  const push = (must: boolean) =>
    fn(['any', 'any'], ([l, v], ctx) => {
      const items = mustList(l ?? null, must ? 'push' : 'push');
      return newList([...items, v ?? null], ctx);
    });
  m.set('push', push(false));
  m.set('append', push(false));
  m.set('mustPush', push(true));
  m.set('mustAppend', push(true));
  const prepend = fn(['any', 'any'], ([l, v], ctx) =>
    newList([v ?? null, ...mustList(l ?? null, 'prepend')], ctx),
  );
  m.set('prepend', prepend);
  m.set('mustPrepend', prepend);
  const first = fn(['any'], ([l]) => mustList(l ?? null, 'find first')[0] ?? null);
  m.set('first', first);
  m.set('mustFirst', first);
  const last = fn(['any'], ([l]) => {
    const items = mustList(l ?? null, 'find last');
    return items[items.length - 1] ?? null;
  });
  m.set('last', last);
  m.set('mustLast', last);
  const rest = fn(['any'], ([l]) => {
    const items = mustList(l ?? null, 'find rest');
    return items.length === 0 ? new GoSlice([], 'interface {}', true) : list(items.slice(1));
  });
  m.set('rest', rest);
  m.set('mustRest', rest);
  const initial = fn(['any'], ([l]) => {
    const items = mustList(l ?? null, 'find initial');
    return items.length === 0 ? new GoSlice([], 'interface {}', true) : list(items.slice(0, -1));
  });
  m.set('initial', initial);
  m.set('mustInitial', initial);
  const reverse = fn(['any'], ([l]) => list([...mustList(l ?? null, 'find reverse')].reverse()));
  m.set('reverse', reverse);
  m.set('mustReverse', reverse);
  const compact = fn(['any'], ([l]) => list(mustList(l ?? null, 'compact').filter((x) => !empty(x))));
  m.set('compact', compact);
  m.set('mustCompact', compact);
  const uniq = fn(['any'], ([l], ctx) => {
    const out: Value[] = [];
    const items = mustList(l ?? null, 'find uniq');
    ctx.budget.step(ctx.where, Math.floor((items.length * items.length) / 1000));
    for (const x of items) if (!out.some((y) => deepEqual(x, y))) out.push(x);
    return list(out);
  });
  m.set('uniq', uniq);
  m.set('mustUniq', uniq);
  const without = fn(
    ['any'],
    ([l, ...omit], ctx) => {
      const items = mustList(l ?? null, 'find without');
      ctx.budget.step(ctx.where, Math.floor((items.length * omit.length) / 1000));
      return list(items.filter((x) => !omit.some((y) => deepEqual(x, y))));
    },
    'any',
  );
  m.set('without', without);
  m.set('mustWithout', without);
  const has = fn(['any', 'any'], ([needle, hay]) => {
    if (hay === null || hay === undefined) return false;
    return mustList(hay, 'find has').some((x) => deepEqual(needle ?? null, x));
  });
  m.set('has', has);
  m.set('mustHas', has);
  const slice = fn(
    ['any'],
    ([l, ...idx]) => {
      if (!(l instanceof GoSlice)) {
        if (l === null || l === undefined)
          throw new FuncError('runtime error: invalid memory address or nil pointer dereference');
        throw new FuncError(`list should be type of slice or array but ${kindOfForError(l)}`);
      }
      const len = l.items.length;
      if (len === 0) return null;
      const start = idx.length > 0 ? Number(toInt64(idx[0] ?? null)) : 0;
      const end = idx.length < 2 ? len : Number(toInt64(idx[1] ?? null));
      if (start < 0 || end < start || end > len) throw new FuncError('reflect: slice index out of range');
      return new GoSlice(l.items.slice(start, end), l.elem);
    },
    'any',
  );
  m.set('slice', slice);
  m.set('mustSlice', slice);
  m.set(
    'concat',
    fn(
      [],
      (lists, ctx) => {
        const out: Value[] = [];
        let size = 0;
        for (const l of lists) {
          if (!(l instanceof GoSlice)) {
            throw new FuncError(`Cannot concat type ${kindOfForError(l)} as list`);
          }
          size += l.size;
          ctx.budget.checkValue(size, ctx.where);
          out.push(...l.items);
        }
        return out.length === 0 ? new GoSlice([], 'interface {}') : list(out);
      },
      'any',
    ),
  );
  const chunk = fn(['int', 'any'], ([sz, l], ctx) => {
    const size = Number(I(sz ?? null));
    const items = mustList(l ?? null, 'chunk');
    if (size <= 0) throw new FuncError('runtime error: invalid chunk size');
    if (items.length === 0) return new GoSlice([], '[]interface {}');
    const n = Math.floor((items.length - 1) / size) + 1;
    ctx.budget.checkValue(n * 40, ctx.where);
    const out: Value[] = [];
    for (let i = 0; i < n; i++) {
      const part = items.slice(i * size, (i + 1) * size);
      out.push(new GoSlice(part, 'interface {}'));
    }
    if (items.length === 0) return new GoSlice([new GoSlice([], 'interface {}')], '[]interface {}');
    return new GoSlice(out, '[]interface {}');
  });
  m.set('chunk', chunk);
  m.set('mustChunk', chunk);

  // ----- dicts
  m.set(
    'dict',
    fn(
      [],
      (args, ctx) => {
        const d = dict();
        for (let i = 0; i < args.length; i += 2) {
          d.put(strval(args[i] ?? null), i + 1 < args.length ? (args[i + 1] ?? null) : '');
        }
        ctx.budget.checkValue(d.size, ctx.where);
        return d;
      },
      'any',
    ),
  );
  m.set(
    'get',
    fn(['map', 'string'], ([d, k]) => {
      const mm = d as GoMap | null;
      return mm?.m.has(k as string) ? (mm.m.get(k as string) ?? null) : '';
    }),
  );
  m.set(
    'set',
    fn(['map', 'string', 'any'], ([d, k, v], ctx) => {
      if (d === null) throw new FuncError('assignment to entry in nil map');
      const mm = d as GoMap;
      mm.put(k as string, v ?? null);
      ctx.budget.checkValue(mm.size, ctx.where);
      return mm;
    }),
  );
  m.set(
    'unset',
    fn(['map', 'string'], ([d, k]) => {
      if (d !== null) (d as GoMap).remove(k as string);
      return d ?? null;
    }),
  );
  m.set(
    'hasKey',
    fn(['map', 'string'], ([d, k]) => (d as GoMap | null)?.m.has(k as string) ?? false),
  );
  m.set(
    'pluck',
    fn(
      ['string'],
      ([k, ...ds]) =>
        list(
          ds
            .filter((d) => (d as GoMap | null)?.m.has(k as string))
            .map((d) => (d as GoMap).m.get(k as string) ?? null),
        ),
      'map',
    ),
  );
  m.set(
    'keys',
    fn([], (ds) => strings(ds.flatMap((d) => [...((d as GoMap | null)?.m.keys() ?? [])])), 'map'),
  );
  m.set(
    'values',
    fn(['map'], ([d]) => list([...((d as GoMap | null)?.m.values() ?? [])])),
  );
  m.set(
    'pick',
    fn(
      ['map'],
      ([d, ...ks]) => {
        const out = dict();
        for (const k of ks)
          if ((d as GoMap | null)?.m.has(k as string))
            out.put(k as string, (d as GoMap).m.get(k as string) ?? null);
        return out;
      },
      'string',
    ),
  );
  m.set(
    'omit',
    fn(
      ['map'],
      ([d, ...ks]) => {
        const drop = new Set(ks as string[]);
        return dict([...((d as GoMap | null)?.m ?? [])].filter(([k]) => !drop.has(k)));
      },
      'string',
    ),
  );
  const merge = (overwrite: boolean) =>
    fn(
      ['map'],
      ([first, ...srcs], ctx) => {
        let dst = first ?? null;
        if (dst === null) dst = dict();
        for (const src of srcs) {
          mergeInto(dst as GoMap, src as GoMap | null, overwrite);
          ctx.budget.checkValue((dst as GoMap).size, ctx.where);
        }
        return dst ?? null;
      },
      'map',
    );
  m.set('merge', merge(false));
  m.set('mustMerge', merge(false));
  m.set('mergeOverwrite', merge(true));
  m.set('mustMergeOverwrite', merge(true));
  const dc = fn(['any'], ([v]) => deepCopy(v ?? null));
  m.set('deepCopy', dc);
  m.set('mustDeepCopy', dc);
  m.set(
    'dig',
    fn(
      [],
      (ps) => {
        if (ps.length < 3) throw new FuncError('dig needs at least three arguments');
        let d = ps[ps.length - 1] ?? null;
        const def = ps[ps.length - 2] ?? null;
        const ks = ps.slice(0, -2);
        for (const [i, k] of ks.entries()) {
          if (typeof k !== 'string') throw new FuncError('interface conversion: interface {} is not string');
          if (!(d instanceof GoMap) || d.elem !== 'interface {}') {
            throw new FuncError(
              `interface conversion: interface {} is ${typeName(d)}, not map[string]interface {}`,
            );
          }
          if (!d.m.has(k)) return def;
          const step = d.m.get(k) ?? null;
          if (i === ks.length - 1) return step;
          d = step;
        }
        return def;
      },
      'any',
    ),
  );
  return m;
}

function goMax(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.NaN;
  if (a === 0 && b === 0) return Object.is(a, -0) ? b : a;
  return Math.max(a, b);
}

function goMin(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.NaN;
  if (a === 0 && b === 0) return Object.is(a, -0) ? a : b;
  return Math.min(a, b);
}

export { floatToInt64, formatFloat, GoStruct, parseIntBase0, sizeOf };
