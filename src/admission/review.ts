/**
 * The edge between HTTP bodies and AdmissionRequests: strict enough that handlers can trust the
 * shape they get, lenient about anything the API server may add later.
 */
import type { AdmissionRequest, AdmissionResult, AdmissionReview, Operation } from './types.ts';

export const ADMISSION_API_VERSIONS = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const;
const OPERATIONS: readonly Operation[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

export type ParsedReview =
  | { ok: true; apiVersion: string; request: AdmissionRequest }
  | { ok: false; error: string };

export function parseAdmissionReview(body: unknown): ParsedReview {
  if (!isObject(body)) return { ok: false, error: 'body must be a JSON object (an AdmissionReview)' };
  const { apiVersion, kind, request } = body;
  if (kind !== 'AdmissionReview') return { ok: false, error: 'kind must be "AdmissionReview"' };
  if (typeof apiVersion !== 'string' || !(ADMISSION_API_VERSIONS as readonly string[]).includes(apiVersion)) {
    return { ok: false, error: `apiVersion must be one of ${ADMISSION_API_VERSIONS.join(', ')}` };
  }
  if (!isObject(request)) return { ok: false, error: 'request is required' };
  if (typeof request.uid !== 'string' || request.uid === '') {
    return { ok: false, error: 'request.uid must be a non-empty string' };
  }
  if (!isGvk(request.kind))
    return { ok: false, error: 'request.kind must have string group, version and kind' };
  if (typeof request.operation !== 'string' || !OPERATIONS.includes(request.operation as Operation)) {
    return { ok: false, error: `request.operation must be one of ${OPERATIONS.join(', ')}` };
  }
  for (const field of ['object', 'oldObject'] as const) {
    const value = request[field];
    if (value !== undefined && value !== null && !isObject(value)) {
      return { ok: false, error: `request.${field} must be an object` };
    }
  }
  for (const field of ['namespace', 'name'] as const) {
    if (request[field] !== undefined && typeof request[field] !== 'string') {
      return { ok: false, error: `request.${field} must be a string` };
    }
  }
  if (request.dryRun !== undefined && typeof request.dryRun !== 'boolean') {
    return { ok: false, error: 'request.dryRun must be a boolean' };
  }
  return { ok: true, apiVersion, request: request as unknown as AdmissionRequest };
}

export function reviewResponse(apiVersion: string, uid: string, result: AdmissionResult): AdmissionReview {
  return { apiVersion, kind: 'AdmissionReview', response: { uid, ...result } };
}

function isGvk(v: unknown): boolean {
  return (
    isObject(v) && typeof v.group === 'string' && typeof v.version === 'string' && typeof v.kind === 'string'
  );
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
