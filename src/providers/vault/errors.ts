/**
 * node-vault / axios failures -> ProviderError. node-vault's ApiResponseError carries the
 * response body and its message is Vault's first error string: neither is passed through (nor
 * kept as `cause`). Messages name the subject, the HTTP status or the socket error code only.
 */
import { isEswError } from '../../errors.ts';
import { AnswerTooLarge } from '../answer-bound.ts';
import { ProviderError, type ProviderErrorKind } from '../types.ts';

const PHRASE: Record<ProviderErrorKind, string> = {
  NotFound: 'not found',
  Forbidden: 'permission denied',
  Throttled: 'rate limited',
  Unavailable: 'server unavailable',
  Invalid: 'request rejected',
};

export function kindOfStatus(status: number): ProviderErrorKind {
  if (status === 404) return 'NotFound';
  if (status === 401 || status === 403) return 'Forbidden';
  if (status === 429) return 'Throttled';
  if (status >= 500 || status === 412) return 'Unavailable';
  return 'Invalid';
}

/** HTTP status of a node-vault ApiResponseError, if `err` is one. */
export function statusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const response = (err as { response?: unknown }).response;
  if (typeof response !== 'object' || response === null) return undefined;
  const code = (response as { statusCode?: unknown; status?: unknown }).statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** `subject` names what was asked for: `secret "app/db"`, `login with approle`… */
export function vaultError(err: unknown, subject: string): Error {
  // Our own typed errors pass through: ProviderError, and EswError from reading credentials.
  if (err instanceof ProviderError || isEswError(err)) return err;
  if (err instanceof AnswerTooLarge) {
    return new ProviderError('Invalid', `vault: ${subject}: ${err.message}, the bound on one Vault answer`);
  }
  const status = statusOf(err);
  if (status !== undefined) {
    const kind = kindOfStatus(status);
    return new ProviderError(kind, `vault: ${subject}: ${PHRASE[kind]} (HTTP ${status})`);
  }
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (typeof code === 'string' && /^[A-Z0-9_]+$/.test(code)) {
    const tls = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|TLS|SSL/.test(code);
    const detail = tls
      ? `server certificate not trusted (${code}); check caBundle`
      : `connection failed (${code})`;
    return new ProviderError('Unavailable', `vault: ${subject}: ${detail}`);
  }
  return new ProviderError('Unavailable', `vault: ${subject}: client failure`);
}

export function vaultDeadline(subject: string): ProviderError {
  return new ProviderError('Unavailable', `vault: ${subject}: deadline exceeded`);
}
