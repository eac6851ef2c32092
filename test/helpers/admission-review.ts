/**
 * AdmissionReviews for tests, as the API server sends them: the envelope (uid, the kind and its
 * resource, the operation) written once here, the object and every other request field chosen by
 * the test. Nothing is derived from the object: tests send ill-formed objects on purpose, and some
 * measure the bytes they send, so a field is in the request only when the test puts it there.
 */
import { randomUUID } from 'node:crypto';
import type { AdmissionRequest } from '../../src/admission/types.ts';

/** Kinds of the core API group; every other kind here is external-secrets.io's. */
const CORE_KINDS = new Set(['Secret', 'ConfigMap', 'Pod', 'Namespace']);

export type RequestFields = Omit<Partial<AdmissionRequest>, 'object' | 'oldObject' | 'kind' | 'resource'> & {
  /** Any value: tests send ill-formed old objects too. */
  oldObject?: unknown;
  /** The kind's API version (v1 unless told). */
  version?: string;
  /** The kind's group, when it is neither core nor external-secrets.io. */
  group?: string;
};

/**
 * request for `object` of `kind`: a fresh uid, CREATE, then `fields` (which may override either,
 * and add name, namespace, userInfo, oldObject, dryRun …). The resource is the kind's plural.
 */
export function admissionRequest(
  kind: string,
  object: unknown,
  fields: RequestFields = {},
): AdmissionRequest {
  const { version = 'v1', group = CORE_KINDS.has(kind) ? '' : 'external-secrets.io', ...rest } = fields;
  return {
    uid: randomUUID(),
    kind: { group, version, kind },
    resource: { group, version, resource: `${kind.toLowerCase()}s` },
    operation: 'CREATE',
    ...(rest as Partial<AdmissionRequest>),
    object: object as AdmissionRequest['object'],
  };
}

/** The AdmissionReview (admission.k8s.io/v1) around admissionRequest(kind, object, fields). */
export function admissionReview(kind: string, object: unknown, fields: RequestFields = {}) {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: admissionRequest(kind, object, fields),
  };
}
