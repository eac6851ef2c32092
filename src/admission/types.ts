/**
 * admission.k8s.io/v1 AdmissionReview, as the API server sends and expects it.
 * Only the fields this project reads or writes are typed.
 */
import type { KubeObject } from '../api/types.ts';

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

export interface AdmissionStatus {
  code: number;
  message: string;
  reason?: string;
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

export function allow(warnings?: string[]): AdmissionResult {
  return warnings && warnings.length > 0 ? { allowed: true, warnings } : { allowed: true };
}

export function deny(code: number, message: string, warnings?: string[]): AdmissionResult {
  const result: AdmissionResult = { allowed: false, status: { code, message } };
  if (warnings && warnings.length > 0) result.warnings = warnings;
  return result;
}
