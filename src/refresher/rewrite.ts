/**
 * `dataFrom[].rewrite`, as ESO's RewriteMap: the operations apply in order, each to the map the
 * previous one produced.
 *
 * - `regexp`: every key through Go's `ReplaceAllString(key, target)` (src/patterns/re2.ts).
 * - `transform`: every key through a template with `.value` = the key.
 * - `merge` (ESO 2.x): every value is a JSON object; they are merged into one. Input keys are
 *   taken in byte order, then the `priority` keys in their listed order, so a priority key's
 *   properties win. A property set by two inputs is a conflict: `conflictPolicy: Error` (the
 *   default) fails, `Ignore` keeps the later one. A `priority` key that is not an input fails
 *   (`priorityPolicy: Strict`, the default) or is skipped (`IgnoreNotFound`). `strategy: Extract`
 *   (the default) replaces the map by the merged properties (strings as they are, other values
 *   as Go's encoding/json writes them, numbers as Go's `FormatFloat(f, 'f', -1, 64)`);
 *   `strategy: JSON` keeps the input and adds the merged object, as JSON, under `into`.
 *
 * Values are never quoted in errors: a value that is not a JSON object is named by its key.
 * The output is bounded: a merged value larger than a Secret can hold is refused.
 */
import type { Rewrite } from '../api/types.ts';
import { EswError } from '../errors.ts';
import { compileGoRegexp, type GoRegexp, PatternError } from '../patterns/re2.ts';
import { formatFloat } from '../template/fmt.ts';
import { decodeJson, encodeJson, JsonTooLargeError } from '../template/functions/json.ts';
import { renderTemplate } from '../template/index.ts';
import { compareGoStrings, GoMap, GoSlice, goString, type Value } from '../template/values.ts';

/** Largest merged value: a Secret holds at most 1 MiB. */
const MAX_MERGED_BYTES = 1024 * 1024;

export interface RewriteMerge {
  into?: string;
  priority?: string[];
  priorityPolicy?: 'Strict' | 'IgnoreNotFound';
  conflictPolicy?: 'Error' | 'Ignore';
  strategy?: 'Extract' | 'JSON';
}

/** Applies `rewrites` in order; `field` is the dataFrom entry (`spec.dataFrom[0]`). */
export function applyRewrites(
  map: Map<string, Buffer>,
  rewrites: readonly Rewrite[],
  field: string,
): Map<string, Buffer> {
  let current = map;
  for (const [j, rw] of rewrites.entries()) current = applyRewrite(current, rw, `${field}.rewrite[${j}]`);
  return current;
}

function applyRewrite(map: Map<string, Buffer>, rw: Rewrite, field: string): Map<string, Buffer> {
  if (rw.merge) return rewriteMerge(map, rw.merge as RewriteMerge, `${field}.merge`);
  if (rw.regexp?.source !== undefined) {
    const re = rewriteRegexp(rw.regexp.source, field);
    // Go's ReplaceAllString with Go's `$1`/`${name}` expansion, as ESO's rewrite.
    return renameKeys(map, (key) => re.replaceAll(key, rw.regexp?.target ?? ''));
  }
  if (rw.transform?.template !== undefined) {
    const template = rw.transform.template;
    return renameKeys(map, (key) => renderTemplate(template, { value: key }, `${field}.transform.template`));
  }
  return map;
}

function renameKeys(map: Map<string, Buffer>, rename: (key: string) => string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [key, value] of map) out.set(rename(key), value);
  return out;
}

/** Go's regexp, as ESO's rewrite compiles it (src/patterns/re2.ts). */
function rewriteRegexp(source: string, field: string): GoRegexp {
  try {
    return compileGoRegexp(source);
  } catch (err: unknown) {
    if (!(err instanceof PatternError)) throw err;
    throw new EswError('ESW_VALIDATION', `${field}.regexp.source: ${err.message}`);
  }
}

// ------------------------------------------------------------------ merge

export function rewriteMerge(map: Map<string, Buffer>, op: RewriteMerge, field: string): Map<string, Buffer> {
  const priority = op.priority ?? [];
  // Non-priority keys in byte order, then the priority keys as listed (a key listed twice is
  // merged twice, as in ESO).
  const keys = [...map.keys()].filter((k) => !priority.includes(k)).sort(compareGoStrings);
  keys.push(...priority);
  const merged = new Map<string, Value>();
  const conflicts: string[] = [];
  for (const key of keys) {
    const value = map.get(key);
    if (value === undefined) {
      if (op.priorityPolicy === 'IgnoreNotFound') continue;
      throw new EswError('ESW_VALIDATION', `${field}: priority key "${key}" is not among the keys to merge`);
    }
    for (const [k, v] of jsonObject(value, key, field)) {
      if (merged.has(k)) conflicts.push(k);
      merged.set(k, v);
    }
  }
  if (op.conflictPolicy !== 'Ignore' && conflicts.length > 0) {
    throw new EswError(
      'ESW_VALIDATION',
      `${field}: properties set by more than one key: ${[...new Set(conflicts)].sort(compareGoStrings).join(', ')} (conflictPolicy Ignore keeps the last)`,
    );
  }
  const strategy = op.strategy ?? 'Extract';
  if (strategy === 'JSON') {
    if (!op.into)
      throw new EswError('ESW_VALIDATION', `${field}.into: strategy JSON needs the key to write to`);
    const out = new Map(map);
    out.set(op.into, Buffer.from(encode(new GoMap(merged, 'interface {}'), false, field), 'utf8'));
    return out;
  }
  const out = new Map<string, Buffer>();
  for (const [k, v] of merged) out.set(k, byteValue(v, field));
  return out;
}

/** One input value as Go's json.Unmarshal into map[string]any reads it (null: no properties). */
function jsonObject(value: Buffer, key: string, field: string): Map<string, Value> {
  let parsed: Value;
  try {
    parsed = decodeJson(goString(value));
  } catch {
    throw new EswError('ESW_VALIDATION', `${field}: the value of key "${key}" is not JSON`);
  }
  if (parsed === null) return new Map();
  if (!(parsed instanceof GoMap))
    throw new EswError('ESW_VALIDATION', `${field}: the value of key "${key}" is not a JSON object`);
  return wellFormed(parsed).m;
}

/** Go decodes a lone surrogate escape (`"\ud800"`) as U+FFFD; JSON.parse keeps it. */
function wellFormed<T extends Value>(v: T): T {
  if (typeof v === 'string') return (v.isWellFormed() ? v : v.toWellFormed()) as T;
  if (v instanceof GoMap) {
    const m = new Map<string, Value>();
    for (const [k, x] of v.m) m.set(k.isWellFormed() ? k : k.toWellFormed(), wellFormed(x));
    return new GoMap(m, v.elem) as T;
  }
  if (v instanceof GoSlice) return new GoSlice(v.items.map(wellFormed), v.elem) as T;
  return v;
}

/** ESO's GetByteValue: the bytes a merged property becomes under strategy Extract. */
function byteValue(v: Value, field: string): Buffer {
  if (v === null) return Buffer.alloc(0);
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (typeof v === 'boolean') return Buffer.from(v ? 'true' : 'false');
  if (typeof v === 'number') return Buffer.from(formatFloat(v, 'f', -1));
  // Objects and arrays: json.Marshal (HTML characters escaped).
  return Buffer.from(encode(v, true, field), 'utf8');
}

function encode(v: Value, escapeHtml: boolean, field: string): string {
  try {
    return encodeJson(v, { indent: '', escapeHtml, limit: MAX_MERGED_BYTES });
  } catch (err: unknown) {
    if (!(err instanceof JsonTooLargeError)) throw err;
    throw new EswError(
      'ESW_SECRET_TOO_LARGE',
      `${field}: the merged value exceeds ${MAX_MERGED_BYTES} bytes`,
    );
  }
}
