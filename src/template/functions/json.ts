/**
 * encoding/json as sprig's toJson / toPrettyJson / toRawJson / fromJson use it: map keys
 * sorted, `<`, `>`, `&`, U+2028 and U+2029 escaped (except in toRawJson), floats in Go's
 * format, a nil slice as `null`, NaN and infinities unsupported. Output is sized as it is
 * built, so a list holding the same large value many times cannot be serialised past the budget.
 */
import { formatFloat } from '../fmt.ts';
import { GoInt, GoMap, GoSlice, GoStruct, list, sortedKeys, type Value } from '../values.ts';
import { FuncError } from './types.ts';

class JsonTooLarge extends Error {}

export function encodeJsonString(s: string, escapeHtml: boolean): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (c < 0x20) {
      if (c === 0x0a) out += '\\n';
      else if (c === 0x0d) out += '\\r';
      else if (c === 0x09) out += '\\t';
      else if (c === 0x08) out += '\\b';
      else if (c === 0x0c) out += '\\f';
      else out += `\\u00${c.toString(16).padStart(2, '0')}`;
    } else if (escapeHtml && (ch === '<' || ch === '>' || ch === '&')) {
      out += `\\u00${c.toString(16).padStart(2, '0')}`;
    } else if (c === 0x2028 || c === 0x2029) out += `\\u${c.toString(16)}`;
    else out += ch;
  }
  return `${out}"`;
}

/** Go's float64 JSON encoding: 'f' between 1e-6 and 1e21, else 'e' with a short exponent. */
function encodeFloat(f: number): string {
  if (!Number.isFinite(f)) throw new FuncError(`json: unsupported value: ${formatFloat(f, 'g', -1)}`);
  const abs = Math.abs(f);
  if (abs !== 0 && (abs < 1e-6 || abs >= 1e21)) {
    return formatFloat(f, 'e', -1).replace(/e([+-])0(\d)$/, 'e$1$2');
  }
  return formatFloat(f, 'f', -1);
}

export interface JsonOptions {
  indent: string;
  escapeHtml: boolean;
  limit: number;
}

export function encodeJson(v: Value, opts: JsonOptions): string {
  const parts: string[] = [];
  let size = 0;
  const push = (s: string) => {
    size += s.length;
    if (size > opts.limit) throw new JsonTooLarge();
    parts.push(s);
  };
  const nl = (depth: number) => (opts.indent ? `\n${opts.indent.repeat(depth)}` : '');
  const walk = (x: Value, depth: number): void => {
    if (depth > 1000) throw new FuncError('json: nesting too deep');
    if (x === null) push('null');
    else if (typeof x === 'string') push(encodeJsonString(x, opts.escapeHtml));
    else if (typeof x === 'boolean') push(x ? 'true' : 'false');
    else if (typeof x === 'number') push(encodeFloat(x));
    else if (x instanceof GoInt) push(x.v.toString());
    else if (x instanceof GoSlice) {
      if (x.elem === 'uint8') {
        push(`"${Buffer.from(x.items.map((b) => Number((b as GoInt).v))).toString('base64')}"`);
        return;
      }
      if (x.items.length === 0) {
        push(x.isNil ? 'null' : '[]');
        return;
      }
      push('[');
      x.items.forEach((item, i) => {
        if (i > 0) push(',');
        push(nl(depth + 1));
        walk(item, depth + 1);
      });
      push(nl(depth));
      push(']');
    } else if (x instanceof GoMap) {
      const keys = sortedKeys(x);
      if (keys.length === 0) {
        push('{}');
        return;
      }
      push('{');
      keys.forEach((k, i) => {
        if (i > 0) push(',');
        push(nl(depth + 1));
        push(encodeJsonString(k, opts.escapeHtml));
        push(opts.indent ? ': ' : ':');
        walk(x.m.get(k) ?? null, depth + 1);
      });
      push(nl(depth));
      push('}');
    } else if (x instanceof GoStruct) {
      const json = (x.host as { json?: () => Value } | undefined)?.json;
      if (json) {
        walk(json(), depth);
        return;
      }
      walk(new GoMap(new Map(x.fields), 'interface {}'), depth);
    }
  };
  try {
    walk(v, 0);
  } catch (e) {
    if (e instanceof JsonTooLarge) throw new JsonTooLargeError();
    throw e;
  }
  return parts.join('');
}

/** Thrown when the encoding would pass the budget; callers turn it into the budget error. */
export class JsonTooLargeError extends Error {}

/** json.Unmarshal into interface{}: objects are maps, arrays lists, numbers float64. */
export function decodeJson(text: string): Value {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new FuncError('invalid JSON');
  }
  const conv = (x: unknown, depth: number): Value => {
    if (depth > 10000) throw new FuncError('json: exceeded max depth');
    if (x === null) return null;
    if (typeof x === 'string' || typeof x === 'boolean') return x;
    if (typeof x === 'number') {
      if (!Number.isFinite(x)) throw new FuncError('json: number out of range for float64');
      return x;
    }
    if (Array.isArray(x)) return list(x.map((y) => conv(y, depth + 1)));
    const m = new Map<string, Value>();
    for (const [k, v] of Object.entries(x as Record<string, unknown>)) m.set(k, conv(v, depth + 1));
    return new GoMap(m, 'interface {}');
  };
  // JSON.parse turns 1e400 into Infinity where Go refuses it; check the text for it.
  return conv(parsed, 0);
}
