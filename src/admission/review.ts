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

/** The JSON text of results that can no longer change (`keepResult`), written once each. */
const keptJson = new WeakMap<AdmissionResult, string>();

/**
 * Makes `result` unchangeable (deeply frozen) and writes its JSON once, so every later answer
 * with it costs a splice, not a serialisation (`reviewResponseJson`). For the memos, whose
 * results are shared by every request they answer: no caller can change what is kept.
 */
export function keepResult(result: AdmissionResult): AdmissionResult {
  if (keptJson.has(result)) return result;
  deepFreeze(result);
  keptJson.set(result, JSON.stringify(result));
  return result;
}

/**
 * The AdmissionReview answering `uid`, as JSON text: exactly `JSON.stringify(reviewResponse(…))`
 * (the uid first in `response`, then the result's fields in their order), with the result's
 * part written once when it was kept.
 */
export function reviewResponseJson(apiVersion: string, uid: string, result: AdmissionResult): string {
  const json = resultJson(result);
  const rest = json === '{}' ? '}' : `,${json.slice(1)}`;
  return `{"apiVersion":${JSON.stringify(apiVersion)},"kind":"AdmissionReview","response":{"uid":${JSON.stringify(uid)}${rest}}`;
}

/** The result's JSON text: written once for a kept result, every time for any other. */
export function resultJson(result: AdmissionResult): string {
  return keptJson.get(result) ?? JSON.stringify(result);
}

/** Our own results: a few levels (status, details, causes), never request content. */
function deepFreeze(value: unknown): void {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const child of Object.values(value)) deepFreeze(child);
}

function isGvk(v: unknown): boolean {
  return (
    isObject(v) && typeof v.group === 'string' && typeof v.version === 'string' && typeof v.kind === 'string'
  );
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
