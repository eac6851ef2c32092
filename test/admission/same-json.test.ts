/**
 * The memos compare a request with their kept copy (`keepJson`, whose objects' keys are listed
 * once) without writing either as JSON: the answer must be what equal JSON text says, key order
 * included, for any pair — generated here, with the near misses a memo meets (a key moved, added,
 * dropped, a leaf changed).
 */
import fc from 'fast-check';
import t from 'tap';
import { keepJson, sameJson } from '../../src/admission/same-json.ts';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** A near miss of `v` (or `v` itself), chosen by `pick`. */
function variant(v: Json, pick: number): Json {
  if (Array.isArray(v)) {
    if (v.length === 0) return pick % 2 ? [null] : {};
    const i = pick % v.length;
    return pick % 3 === 0 ? v.slice(1) : v.map((x, j) => (j === i ? variant(x, pick >> 2) : x));
  }
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v);
    if (keys.length === 0) return pick % 2 ? { a: null } : [];
    const k = keys[pick % keys.length] as string;
    switch (pick % 4) {
      case 0: // the key moved to the end
        return keys.length > 1
          ? {
              ...Object.fromEntries(keys.filter((x) => x !== k).map((x) => [x, v[x] as Json])),
              [k]: v[k] as Json,
            }
          : v;
      case 1: // dropped
        return Object.fromEntries(keys.filter((x) => x !== k).map((x) => [x, v[x] as Json]));
      case 2: // one more
        return { ...v, [`${k}x`]: 1 };
      default:
        return { ...v, [k]: variant(v[k] as Json, pick >> 2) };
    }
  }
  return pick % 5 === 0 ? v : typeof v === 'number' ? v + 1 : typeof v === 'string' ? `${v}x` : !v;
}

t.test('a kept copy equals a value exactly when their JSON text does', async (t) => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 4 }), fc.nat(), fc.boolean(), (raw, pick, same) => {
      const value = JSON.parse(JSON.stringify(raw)) as Json;
      const other = same ? (JSON.parse(JSON.stringify(value)) as Json) : variant(value, pick);
      const kept = keepJson(JSON.stringify(value));
      return sameJson(kept, other) === (JSON.stringify(value) === JSON.stringify(other));
    }),
    { numRuns: 3000, seed: 12 },
  );
  t.pass('3,000 generated pairs');
});
