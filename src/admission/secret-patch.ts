/**
 * The JSONPatch of a filled placeholder Secret, written from what the fill changes rather than by
 * diffing the request against a filled copy: fast-json-patch's `compare` listed the keys of every
 * level, walked every annotation and cloned every value it wrote (~1 KB and ~1.7 µs of a ~20 µs
 * render, bench/RESULTS.md "before noon").
 *
 * The fill (mutate.ts `fillSecret`) changes three things and nothing else: `data` (values filled
 * or added from references and `esw.io/data-from`; no key is ever removed), the annotations
 * `esw.io/refs` and `esw.io/data-hash` (set), and `stringData` (removed, merged into `data`). The
 * operations are the ones `compare` wrote for those changes, in its order — the request's keys
 * last to first, then the keys it lacked — so the answer keeps its bytes;
 * test/admission/secret-patch.test.ts holds `compare` as the oracle.
 */
import { isObject } from '../api/schema.ts';
import { PlaceholderAnnotation } from '../refs/placeholder.ts';
import type { SecretParts } from './mutate.ts';

export interface PatchOperation {
  op: 'add' | 'replace' | 'remove';
  path: string;
  value?: unknown;
}

const DATA_HASH_PATH = `/metadata/annotations/${pointerToken(PlaceholderAnnotation.dataHash)}`;
const REFS_PATH = `/metadata/annotations/${pointerToken(PlaceholderAnnotation.refs)}`;

/**
 * `secret` is the request's (MutationInput.secret: its metadata holds only the annotations and is
 * an object, since only a Secret carrying the esw.io/inject label is filled); `data` and
 * `annotations` are the filled Secret's, `annotations` the request's with the two set.
 */
export function secretPatch(
  secret: SecretParts,
  data: Record<string, string>,
  annotations: Record<string, string>,
): PatchOperation[] {
  const ops: PatchOperation[] = [];
  const keys = Object.keys(secret);
  for (let i = keys.length - 1; i >= 0; i--) {
    switch (keys[i]) {
      case 'stringData':
        ops.push({ op: 'remove', path: '/stringData' });
        break;
      case 'data':
        dataOps(secret.data, data, ops);
        break;
      case 'metadata':
        annotationOps(isObject(secret.metadata) ? secret.metadata : {}, annotations, ops);
        break;
    }
  }
  if (!Object.hasOwn(secret, 'data')) ops.push({ op: 'add', path: '/data', value: data });
  return ops;
}

/**
 * compare's walk of `data`: the request's keys last to first (a value that differs replaced, a
 * key the filled map lacks removed), then the keys the request lacked, added in the map's order.
 */
function dataOps(before: unknown, data: Record<string, string>, ops: PatchOperation[]): void {
  if (!isObject(before)) {
    // `data: null`: the fill writes a map where the request had none.
    ops.push({ op: 'replace', path: '/data', value: data });
    return;
  }
  const keys = Object.keys(before);
  for (let i = keys.length - 1; i >= 0; i--) {
    const k = keys[i] as string;
    if (!Object.hasOwn(data, k)) {
      // Only "__proto__", which an assignment to a plain object takes as its prototype: the
      // request's parser refuses it, an object handed in directly need not.
      ops.push({ op: 'remove', path: `/data/${pointerToken(k)}` });
    } else if (before[k] !== data[k]) {
      ops.push({ op: 'replace', path: `/data/${pointerToken(k)}`, value: data[k] });
    }
  }
  for (const k in data) {
    if (!Object.hasOwn(before, k)) ops.push({ op: 'add', path: `/data/${pointerToken(k)}`, value: data[k] });
  }
}

/** Only the two annotations the fill sets; every other one is the request's, untouched. */
function annotationOps(
  metadata: Record<string, unknown>,
  annotations: Record<string, string>,
  ops: PatchOperation[],
): void {
  const before = metadata.annotations;
  if (before === undefined) {
    ops.push({ op: 'add', path: '/metadata/annotations', value: annotations });
    return;
  }
  if (!isObject(before)) {
    ops.push({ op: 'replace', path: '/metadata/annotations', value: annotations });
    return;
  }
  const refs = PlaceholderAnnotation.refs;
  const hash = PlaceholderAnnotation.dataHash;
  const hasRefs = Object.hasOwn(before, refs);
  const hasHash = Object.hasOwn(before, hash);
  const replaceRefs = hasRefs && before[refs] !== annotations[refs];
  const replaceHash = hasHash && before[hash] !== annotations[hash];
  // Of two replaced, the later among the request's keys first (compare walks them last to first).
  if (replaceRefs && replaceHash && refsAfterHash(before)) {
    ops.push(replaceOp(REFS_PATH, annotations[refs]), replaceOp(DATA_HASH_PATH, annotations[hash]));
  } else {
    if (replaceHash) ops.push(replaceOp(DATA_HASH_PATH, annotations[hash]));
    if (replaceRefs) ops.push(replaceOp(REFS_PATH, annotations[refs]));
  }
  // Added in the filled map's order: the request's keys, then refs, then the hash.
  if (!hasRefs) ops.push({ op: 'add', path: REFS_PATH, value: annotations[refs] });
  if (!hasHash) ops.push({ op: 'add', path: DATA_HASH_PATH, value: annotations[hash] });
}

function replaceOp(path: string, value: string | undefined): PatchOperation {
  return { op: 'replace', path, value };
}

/** Whether esw.io/refs comes after esw.io/data-hash among the request's annotation keys. */
function refsAfterHash(annotations: Record<string, unknown>): boolean {
  for (const k in annotations) {
    if (k === PlaceholderAnnotation.refs) return false;
    if (k === PlaceholderAnnotation.dataHash) return true;
  }
  return false;
}

/** A JSON-pointer reference token (RFC 6901): "~" as "~0", "/" as "~1". */
export function pointerToken(key: string): string {
  if (!key.includes('~') && !key.includes('/')) return key;
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}
