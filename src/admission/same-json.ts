/** Equality of parsed JSON for the admission memos (mutate-memo.ts, validate-memo.ts). */

/**
 * Equal JSON values, object keys in the same order (the patch follows the order): what equal
 * JSON text would say, without writing it. Recursion goes only where both sides are objects, so
 * never deeper than the kept copy, which JSON.stringify has walked.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i] as string;
    if (k !== kb[i]) return false;
    if (!sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}
