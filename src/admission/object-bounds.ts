/**
 * What an admitted object may hold before any handler reads it: metadata the size Kubernetes
 * allows and a count this webhook bounds, string values where Kubernetes has strings, and JSON
 * nesting no ESO kind or Secret comes near. Checked once per review, early, in time proportional
 * to the limits (the loops stop at the first bound crossed), so a 3 MiB body of 330,000
 * annotations or a value nested 100,000 levels deep costs microseconds and gets a clear 422
 * instead of seconds of work or a stack overflow.
 */

/** Kubernetes' limit on all annotations of an object, keys and values (TotalAnnotationSizeLimitB). */
export const MAX_ANNOTATION_BYTES = 256 * 1024;
/**
 * Kubernetes bounds annotations by size only; this webhook also bounds their count, so the work
 * per request stays small whatever the sizes. Tools add a handful (kubectl, Helm, Argo CD, Flux);
 * 1024 leaves room for a GitOps Secret with a thousand `ref.esw.io/<key>` annotations.
 */
export const MAX_ANNOTATIONS = 1024;
/** Kubernetes has no count limit on labels; a Secret or an ESO object carries a few. */
export const MAX_LABELS = 256;
/** Kubernetes' limit on a label value (qualified names: 63 characters). */
export const MAX_LABEL_VALUE = 63;
/**
 * Deepest nesting of the object's JSON. The deepest ESO field (managedFields of a store with
 * Vault Kubernetes auth) is about 12 levels; `spec.target.template` keeps unknown fields, so only
 * a bound stops arbitrary depth there.
 */
export const MAX_NESTING = 64;

/** Why the object is refused, or undefined when it is within bounds. */
export function objectBoundsProblem(object: unknown): string | undefined {
  if (typeof object !== 'object' || object === null) return undefined;
  const metadata = (object as { metadata?: unknown }).metadata;
  if (typeof metadata === 'object' && metadata !== null && !Array.isArray(metadata)) {
    const m = metadata as { annotations?: unknown; labels?: unknown };
    const problem = annotationsProblem(m.annotations) ?? labelsProblem(m.labels);
    if (problem) return problem;
  }
  return nestedDeeperThan(object, MAX_NESTING)
    ? `the object is nested deeper than ${MAX_NESTING} levels`
    : undefined;
}

function annotationsProblem(annotations: unknown): string | undefined {
  if (annotations === undefined || annotations === null) return undefined;
  if (typeof annotations !== 'object' || Array.isArray(annotations)) {
    return 'metadata.annotations must be a map of strings';
  }
  let count = 0;
  // UTF-16 units: a UTF-8 byte count is at least this and at most three times it.
  let units = 0;
  for (const key in annotations) {
    if (++count > MAX_ANNOTATIONS) {
      return `metadata.annotations: more than ${MAX_ANNOTATIONS} annotations (this webhook's limit)`;
    }
    const value = (annotations as Record<string, unknown>)[key];
    if (typeof value !== 'string') return `metadata.annotations[${quote(key)}] must be a string`;
    units += key.length + value.length;
    if (units > MAX_ANNOTATION_BYTES) return annotationsTooLarge();
  }
  // Kubernetes counts bytes: measured only when the cheap bound cannot decide.
  if (units * 3 > MAX_ANNOTATION_BYTES) {
    let bytes = 0;
    for (const key in annotations) {
      bytes += Buffer.byteLength(key) + Buffer.byteLength((annotations as Record<string, string>)[key] ?? '');
    }
    if (bytes > MAX_ANNOTATION_BYTES) return annotationsTooLarge();
  }
  return undefined;
}

function annotationsTooLarge(): string {
  return `metadata.annotations: Too long: must have at most ${MAX_ANNOTATION_BYTES} bytes (Kubernetes' limit on all annotations together)`;
}

function labelsProblem(labels: unknown): string | undefined {
  if (labels === undefined || labels === null) return undefined;
  if (typeof labels !== 'object' || Array.isArray(labels)) return 'metadata.labels must be a map of strings';
  let count = 0;
  for (const key in labels) {
    if (++count > MAX_LABELS) return `metadata.labels: more than ${MAX_LABELS} labels (this webhook's limit)`;
    const value = (labels as Record<string, unknown>)[key];
    if (typeof value !== 'string') return `metadata.labels[${quote(key)}] must be a string`;
    if (value.length > MAX_LABEL_VALUE) {
      return `metadata.labels[${quote(key)}]: must be no more than ${MAX_LABEL_VALUE} characters`;
    }
  }
  return undefined;
}

/**
 * Recursive, but never deeper than `max` frames: it stops where a deep value would start to
 * matter, so no input can overflow the stack here.
 */
function nestedDeeperThan(node: object, max: number): boolean {
  if (Array.isArray(node)) {
    for (const child of node) {
      if (typeof child === 'object' && child !== null && (max === 0 || nestedDeeperThan(child, max - 1))) {
        return true;
      }
    }
    return false;
  }
  for (const key in node) {
    const child = (node as Record<string, unknown>)[key];
    if (typeof child === 'object' && child !== null && (max === 0 || nestedDeeperThan(child, max - 1))) {
      return true;
    }
  }
  return false;
}

function quote(key: string): string {
  return JSON.stringify(key.length > 63 ? `${key.slice(0, 63)}…` : key);
}
