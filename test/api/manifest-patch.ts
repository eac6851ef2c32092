/** Builds test manifests: a deep copy of a base object with dotted-path edits (`spec.data[1].remoteRef.key`). */
export const DELETE = Symbol('delete');

type Json = Record<string, unknown> | unknown[];

function parsePath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const part of path.split('.')) {
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) throw new Error(`bad path ${path}`);
    if (m[1]) out.push(m[1]);
    for (const idx of (m[2] ?? '').matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]));
  }
  return out;
}

export function patch<T>(base: T, edits: Record<string, unknown>): T {
  const copy = structuredClone(base) as unknown as Json;
  for (const [path, value] of Object.entries(edits)) {
    const keys = parsePath(path);
    let cur = copy as Record<string | number, unknown>;
    for (const [i, k] of keys.slice(0, -1).entries()) {
      if (cur[k] === undefined || cur[k] === null) cur[k] = typeof keys[i + 1] === 'number' ? [] : {};
      cur = cur[k] as Record<string | number, unknown>;
    }
    const last = keys[keys.length - 1] as string | number;
    if (value === DELETE) {
      if (Array.isArray(cur) && typeof last === 'number') cur.splice(last, 1);
      else delete cur[last];
    } else cur[last] = structuredClone(value);
  }
  return copy as unknown as T;
}
