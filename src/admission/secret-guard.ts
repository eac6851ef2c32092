/**
 * The safety net on POST /validate: an opted-in Secret (label `esw.io/inject: "true"`) that still
 * holds a `${ref:` reference in `data` (base64-decoded) or `stringData` is refused, so a Secret
 * with a literal placeholder is never stored even if the mutating call was skipped (webhook
 * configuration missing, reinvocation order, a `failurePolicy: Ignore` someone set by hand).
 * Only key names are reported, never the text of a value.
 */
import { isObject } from '../api/schema.ts';
import { decodeBase64Strict } from '../refs/decoding.ts';
import { bytesHaveRefs, PlaceholderLabel, templateHasRefs } from '../refs/placeholder.ts';
import { type AdmissionRequest, type AdmissionResult, allow, deny } from './types.ts';

export function guardSecret(request: AdmissionRequest): AdmissionResult {
  if (request.operation === 'DELETE' || request.operation === 'CONNECT') return allow();
  const object: unknown = request.object;
  if (!isObject(object)) return allow();
  const labels = isObject(object.metadata) ? object.metadata.labels : undefined;
  if (!isObject(labels) || labels[PlaceholderLabel.inject] !== 'true') return allow();

  const keys = new Set<string>();
  if (isObject(object.data)) {
    for (const [k, v] of Object.entries(object.data)) {
      if (typeof v !== 'string') continue;
      const bytes = decodeBase64Strict(Buffer.from(v, 'latin1'), 'std');
      if (bytes && bytesHaveRefs(bytes)) keys.add(k);
    }
  }
  if (isObject(object.stringData)) {
    for (const [k, v] of Object.entries(object.stringData)) {
      if (typeof v === 'string' && templateHasRefs(v)) keys.add(k);
    }
  }
  if (keys.size === 0) return allow();
  const list = [...keys]
    .sort()
    .slice(0, 20)
    .map((k) => `"${k}"`)
    .join(', ');
  return deny(
    422,
    `Secret still holds unresolved \${ref:…} references in key(s) ${list} (ESW_REF_SYNTAX): the mutating webhook did not fill it; check that the esw mutating webhook is registered and reachable. A literal placeholder is never stored.`,
  );
}
