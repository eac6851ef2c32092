/**
 * gRPC status -> ProviderError. The message names the secret and the status only: the server's
 * details are never passed through (nor kept as `cause`), so no value can leak into a log.
 */
import { Status } from 'google-gax';
import { ProviderError, type ProviderErrorKind } from '../types.ts';

const KIND_BY_STATUS: ReadonlyMap<number, ProviderErrorKind> = new Map([
  [Status.NOT_FOUND, 'NotFound'],
  [Status.PERMISSION_DENIED, 'Forbidden'],
  [Status.UNAUTHENTICATED, 'Forbidden'],
  [Status.RESOURCE_EXHAUSTED, 'Throttled'],
  [Status.UNAVAILABLE, 'Unavailable'],
  [Status.DEADLINE_EXCEEDED, 'Unavailable'],
  [Status.INTERNAL, 'Unavailable'],
  [Status.CANCELLED, 'Unavailable'],
  [Status.ABORTED, 'Unavailable'],
  [Status.UNKNOWN, 'Unavailable'],
  [Status.INVALID_ARGUMENT, 'Invalid'],
  [Status.FAILED_PRECONDITION, 'Invalid'],
  [Status.OUT_OF_RANGE, 'Invalid'],
  [Status.UNIMPLEMENTED, 'Invalid'],
]);

const PHRASE: Record<ProviderErrorKind, string> = {
  NotFound: 'not found',
  Forbidden: 'access denied',
  Throttled: 'request throttled',
  Unavailable: 'service unavailable',
  Invalid: 'request rejected',
};

/** `subject` names what was asked for: `secret "db"` or `secrets of projects/p`. */
export function gcpError(err: unknown, subject: string): ProviderError {
  if (err instanceof ProviderError) return err;
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (typeof code !== 'number') {
    // Not a gRPC status: credentials that could not be loaded, a closed client…
    return new ProviderError('Unavailable', `gcpsm: ${subject}: client failure`);
  }
  const kind = KIND_BY_STATUS.get(code) ?? 'Unavailable';
  const name = Status[code] ?? String(code);
  return new ProviderError(kind, `gcpsm: ${subject}: ${PHRASE[kind]} (${name})`);
}

/** The caller's deadline fired: Unavailable, whatever the call was doing. */
export function gcpDeadline(subject: string): ProviderError {
  return new ProviderError('Unavailable', `gcpsm: ${subject}: deadline exceeded`);
}
