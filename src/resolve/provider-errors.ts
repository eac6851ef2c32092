/**
 * Provider failures as catalog errors. The typed ProviderError stays the `cause`, so the
 * refresher can tell transient failures (retry with backoff, keep the data) from final ones.
 */
import { type ErrorCode, EswError, isEswError } from '../errors.ts';
import { errorName, systemCode } from '../observability/sanitize.ts';
import {
  isProviderError,
  ProviderError,
  type ProviderErrorKind,
  TRANSIENT_KINDS,
} from '../providers/types.ts';

const CODE_OF_KIND: Record<ProviderErrorKind, ErrorCode> = {
  NotFound: 'ESW_SECRET_NOT_FOUND',
  Forbidden: 'ESW_PROVIDER_FORBIDDEN',
  Throttled: 'ESW_PROVIDER_THROTTLED',
  Unavailable: 'ESW_PROVIDER_UNAVAILABLE',
  Invalid: 'ESW_PROVIDER_INVALID',
};

const WORDING: Record<ProviderErrorKind, string> = {
  NotFound: 'not found',
  Forbidden: 'access denied',
  Throttled: 'throttled',
  Unavailable: 'provider unavailable',
  Invalid: 'request rejected',
};

/** Aborts raised by fetch/SDKs when the deadline signal fires. */
export function isAbortError(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError');
}

/** Normalises anything a provider call threw to a ProviderError (unknown failures: Unavailable). */
export function asProviderError(err: unknown): ProviderError {
  if (isProviderError(err)) return err;
  if (isAbortError(err)) return new ProviderError('Unavailable', 'request aborted', { cause: err });
  // Only the error's class and Node's own code: an unknown error's message, and a code an SDK
  // copied from a response body, could quote the body.
  const name = errorName(err);
  const code = systemCode(err);
  const detail = code ? `${name} ${code}` : name;
  return new ProviderError('Unavailable', `unexpected provider failure (${detail})`, { cause: err });
}

/**
 * `subject` names what was asked for — `key "db/creds" of SecretStore "a/aws"` — never a value.
 * EswErrors pass through unchanged.
 */
export function mapProviderError(err: unknown, subject: string): EswError {
  if (isEswError(err)) return err;
  const pe = asProviderError(err);
  return new EswError(CODE_OF_KIND[pe.kind], `${subject}: ${WORDING[pe.kind]}: ${pe.message}`, { cause: pe });
}

/** True for failures worth retrying: Throttled / Unavailable providers and Kubernetes API errors. */
export function isTransient(err: unknown): boolean {
  if (isProviderError(err)) return TRANSIENT_KINDS.has(err.kind);
  if (isEswError(err)) {
    if (isProviderError(err.cause)) return TRANSIENT_KINDS.has(err.cause.kind);
    return (
      err.code === 'ESW_PROVIDER_UNAVAILABLE' ||
      err.code === 'ESW_PROVIDER_THROTTLED' ||
      err.code === 'ESW_KUBE'
    );
  }
  return false;
}
