/** Equality of parsed JSON for the admission memos (mutate-memo.ts, validate-memo.ts). */

/**
 * The key lists of the memos' kept copies (`keepJson`), listed once when kept: a comparison
 * then lists the keys of neither side (it cost two arrays per object on every request).
 */
const keptKeys = new WeakMap<object, readonly string[]>();

/** A private copy of the value of `json` (JSON text), kept to be `sameJson`'s first side. */
export function keepJson(json: string): unknown {
  const copy: unknown = JSON.parse(json);
  listKeys(copy);
  return copy;
}

/** Parsed JSON: as deep as the text it came from, which admission bounds (object-bounds.ts). */
function listKeys(value: unknown): void {
  if (typeof value !== 'object' || value === null) return;
  if (Array.isArray(value)) {
    for (const item of value) listKeys(item);
    return;
  }
  const keys = Object.keys(value);
  keptKeys.set(value, keys);
  for (const k of keys) listKeys((value as Record<string, unknown>)[k]);
}

/**
 * Equal JSON values, object keys in the same order (the patch follows the order): what equal
 * JSON text would say, without writing it. Recursion goes only where both sides are objects, so
 * never deeper than the kept copy, which JSON.stringify has walked. Arrays of parsed JSON have no
 * holes: compared by length and index.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bs = b as unknown[];
    if (a.length !== bs.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], bs[i])) return false;
    return true;
  }
  const ka = keptKeys.get(a) ?? Object.keys(a);
  let i = 0;
  // Own keys in Object.keys' order, without listing them.
  for (const k in b) {
    if (!Object.hasOwn(b, k)) continue;
    if (k !== ka[i] || !sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
      return false;
    i++;
  }
  return i === ka.length;
}
