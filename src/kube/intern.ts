/**
 * One copy of each repeated short string in the informer caches. JSON.parse gives every string
 * value its own copy: 100,000 cached ExternalSecrets hold 100,000 copies of
 * `external-secrets.io/v1`, of `ExternalSecret`, of their namespace, of `Ready`, `True`,
 * `SecretSynced`, `secret synced`, of the second each was synced in, of the `syncedResourceVersion`
 * their labels give, of the property names they read... — about half a kilobyte per object. Interning replaces each of those values by the one
 * copy seen first; the values themselves are unchanged.
 *
 * Bounded: strings up to INTERN_MAX_LENGTH characters, never the fields that are unique per object
 * (name, uid, resourceVersion: interning them would only fill the table), and at most
 * INTERN_MAX_ENTRIES distinct strings — when the table is full it is emptied and starts again
 * (strings already shared stay shared), so values a tenant writes can grow neither the table nor
 * the work beyond that.
 */

/** ESO's `status.syncedResourceVersion` (58: generation, `-`, a sha3-224), the same for every
 * ExternalSecret of one generation, labels and annotations, fits. */
export const INTERN_MAX_LENGTH = 64;
export const INTERN_MAX_ENTRIES = 20_000;
/** Nesting followed at most (objects are already bounded by the API server's size limit). */
const MAX_DEPTH = 12;
/** Keys whose values are unique per object: left alone. */
const UNIQUE = new Set(['name', 'uid', 'resourceVersion', 'generateName', 'continue']);

const table = new Map<string, string>();

/** The one copy of `s` (itself when not kept: too long, or first seen). */
export function intern(s: string): string {
  if (s.length > INTERN_MAX_LENGTH) return s;
  const hit = table.get(s);
  if (hit !== undefined) return hit;
  if (table.size >= INTERN_MAX_ENTRIES) table.clear();
  table.set(s, s);
  return s;
}

/** Distinct strings kept now (for tests and the memory figures). */
export function internedCount(): number {
  return table.size;
}

/**
 * Replaces, in place, the short string values of `obj` (and of its nested objects and arrays)
 * with their interned copies; returns `obj`. (Property names need nothing: V8 keeps one copy.)
 */
export function internStrings<T>(obj: T): T {
  walk(obj, 0);
  return obj;
}

function walk(value: unknown, depth: number): void {
  if (depth > MAX_DEPTH || value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      if (typeof v === 'string') value[i] = intern(v);
      else walk(v, depth + 1);
    }
    return;
  }
  const o = value as Record<string, unknown>;
  for (const k in o) {
    if (!Object.hasOwn(o, k)) continue;
    const v = o[k];
    if (typeof v === 'string') {
      if (!UNIQUE.has(k)) o[k] = intern(v);
    } else walk(v, depth + 1);
  }
}
