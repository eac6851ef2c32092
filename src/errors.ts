/**
 * The one error catalog. Every error the project raises on purpose carries a stable `code`
 * (users search for it, tests assert on it) and, where it reaches an AdmissionResponse or HTTP,
 * a status. Messages name references, stores and fields — never a secret value.
 */
import { describeError, ownWords } from './observability/sanitize.ts';

export const ErrorCatalog = {
  ESW_BAD_REQUEST: { status: 400, summary: 'request body is not an AdmissionReview' },
  ESW_BUSY: { status: 429, summary: 'too many request bytes in flight; retry' },
  ESW_VALIDATION: { status: 422, summary: 'object is invalid' },
  ESW_REF_SYNTAX: { status: 422, summary: 'malformed reference' },
  ESW_STORE_NOT_FOUND: { status: 404, summary: 'store not found' },
  ESW_STORE_FORBIDDEN: { status: 403, summary: 'store may not be used from this namespace' },
  ESW_STORE_OTHER_CLASS: { status: 403, summary: 'store belongs to another controller class' },
  ESW_STORE_INVALID: { status: 422, summary: 'store is invalid or unsupported' },
  ESW_CREDENTIALS: { status: 422, summary: 'store credentials could not be read' },
  ESW_IDENTITY_FORBIDDEN: { status: 403, summary: "store may not use this server's own identity" },
  ESW_SECRET_NOT_FOUND: { status: 404, summary: 'remote secret not found' },
  ESW_PROPERTY_NOT_FOUND: { status: 404, summary: 'property not found in remote secret' },
  ESW_DECODE: { status: 422, summary: 'value could not be decoded' },
  ESW_PROVIDER_FORBIDDEN: { status: 403, summary: 'provider denied access' },
  ESW_PROVIDER_THROTTLED: { status: 503, summary: 'provider is throttling requests' },
  ESW_PROVIDER_UNAVAILABLE: { status: 503, summary: 'provider unreachable or too slow' },
  ESW_PROVIDER_INVALID: { status: 422, summary: 'provider rejected the request' },
  ESW_SECRET_TOO_LARGE: { status: 422, summary: 'resulting Secret exceeds the 1 MiB limit' },
  ESW_FORBIDDEN_TYPE: { status: 403, summary: 'Secret type may not be managed' },
  ESW_TEMPLATE: { status: 422, summary: 'template error' },
  ESW_KUBE: { status: 503, summary: 'Kubernetes API error' },
  ESW_INTERNAL: { status: 500, summary: 'internal error' },
} as const;

export type ErrorCode = keyof typeof ErrorCatalog;

export class EswError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EswError';
    this.code = code;
    this.status = ErrorCatalog[code].status;
  }
}

ownWords(EswError);

export function isEswError(err: unknown): err is EswError {
  return err instanceof EswError;
}

/**
 * Text of any thrown value for a log line, an Event, a status or a message: the project's own
 * errors keep their message, third-party text is reduced to a code and a position or field
 * (src/observability/sanitize.ts).
 */
export function errorMessage(err: unknown): string {
  return describeError(err);
}
