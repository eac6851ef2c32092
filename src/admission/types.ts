/**
 * admission.k8s.io/v1 AdmissionReview, as the API server sends and expects it.
 * Only the fields this project reads or writes are typed.
 */
import { type FieldError, invalidMessage, type StatusDetails, statusCauses } from '../api/field-errors.ts';
import type { KubeObject } from '../api/types.ts';
import { keepResult } from './review.ts';

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource: GroupVersionResource;
  subResource?: string;
  requestKind?: GroupVersionKind;
  name?: string;
  namespace?: string;
  operation: Operation;
  userInfo?: { username?: string; uid?: string; groups?: string[] };
  object?: KubeObject | null;
  oldObject?: KubeObject | null;
  dryRun?: boolean;
  options?: unknown;
}

/** metav1.Status as a webhook returns it; the API server passes it on to the client whole. */
export interface AdmissionStatus {
  code: number;
  message: string;
  /** metav1.StatusReason: `Invalid` with `details.causes` makes kubectl print one line per cause. */
  reason?: string;
  details?: StatusDetails;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: AdmissionStatus;
  warnings?: string[];
  patchType?: 'JSONPatch';
  /** base64 of the RFC 6902 JSON patch */
  patch?: string;
  auditAnnotations?: Record<string, string>;
}

export interface AdmissionReview {
  apiVersion: string;
  kind: 'AdmissionReview';
  request?: AdmissionRequest;
  response?: AdmissionResponse;
}

/** The answer to one request: what the handlers return; the route wraps it in a review. */
export type AdmissionResult = Omit<AdmissionResponse, 'uid'>;

/**
 * Every review allowed without a warning gets this one result: kept (deeply frozen, its JSON
 * written once, review.ts `keepResult`), so its answer is spliced instead of serialised and no
 * caller can change it for the next review.
 */
const ALLOWED: AdmissionResult = keepResult({ allowed: true });

export function allow(warnings?: string[]): AdmissionResult {
  return warnings && warnings.length > 0 ? { allowed: true, warnings } : ALLOWED;
}

export function deny(code: number, message: string, warnings?: string[]): AdmissionResult {
  const result: AdmissionResult = { allowed: false, status: { code, message } };
  if (warnings && warnings.length > 0) result.warnings = warnings;
  return result;
}

/**
 * An invalid object, answered as the API server answers one: 422 `Invalid`, a message with every
 * error (one per line when there are several) and `details.causes[]`, one `{field, message,
 * reason}` per error, which kubectl prints as a list.
 */
export function denyInvalid(
  target: { kind: string; group: string; name: string },
  errors: readonly FieldError[],
  warnings?: string[],
): AdmissionResult {
  const qualified = target.group ? `${target.kind}.${target.group}` : target.kind;
  const result: AdmissionResult = {
    allowed: false,
    status: {
      code: 422,
      reason: 'Invalid',
      message: invalidMessage(qualified, target.name, errors),
      details: {
        ...(target.name ? { name: target.name } : {}),
        group: target.group,
        kind: target.kind,
        causes: statusCauses(errors),
      },
    },
  };
  if (warnings && warnings.length > 0) result.warnings = warnings;
  return result;
}
