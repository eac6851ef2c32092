/**
 * Azure SDK errors -> typed ProviderErrors. Messages are built from the secret name, the HTTP
 * status and the service's error code only: response bodies and SDK messages are never passed
 * through (a RestError message can quote the request or the response).
 */
import { knownCode } from '../../observability/sanitize.ts';
import { AnswerTooLarge } from '../answer-bound.ts';
import { ProviderError, type ProviderErrorKind } from '../types.ts';

interface AzureErrorShape {
  name?: string;
  code?: string;
  statusCode?: number;
  response?: { status?: number; headers?: { get(name: string): string | undefined } };
  message?: string;
}

export function azureKvError(err: unknown, subject: string, signal?: AbortSignal): ProviderError {
  if (err instanceof ProviderError) return err;
  if (err instanceof AnswerTooLarge) {
    return new ProviderError(
      'Invalid',
      `azurekv: ${subject}: ${err.message}, the bound on one Key Vault answer`,
    );
  }
  if (signal?.aborted) return new ProviderError('Unavailable', `azurekv: ${subject}: deadline exceeded`);
  const e = (typeof err === 'object' && err !== null ? err : {}) as AzureErrorShape;
  const name = e.name ?? 'Error';
  const status = e.statusCode ?? e.response?.status;

  if (name === 'AbortError') {
    return new ProviderError('Unavailable', `azurekv: ${subject}: request aborted or timed out`);
  }
  if (name === 'AuthenticationError' || name === 'AuthenticationRequiredError') {
    // Entra ID refused the credential (bad secret, unknown client, wrong tenant): not transient
    // unless the login service itself failed.
    const kind: ProviderErrorKind = status !== undefined && status >= 500 ? 'Unavailable' : 'Forbidden';
    return new ProviderError(
      kind,
      `azurekv: ${subject}: authentication failed${status ? ` (HTTP ${status})` : ''}`,
    );
  }
  if (name === 'CredentialUnavailableError' || name === 'AggregateAuthenticationError') {
    // No identity reachable (IMDS down, token file missing): may come back, so transient.
    return new ProviderError('Unavailable', `azurekv: ${subject}: no credential available (${name})`);
  }
  if (/challenge resource .* does not match/.test(e.message ?? '')) {
    return new ProviderError(
      'Invalid',
      `azurekv: ${subject}: the vault's authentication challenge names another domain than vaultUrl`,
    );
  }

  let kind: ProviderErrorKind;
  if (status === undefined || status === 0)
    kind = 'Unavailable'; // reset, refused, timeout, bad body
  else if (status === 404) kind = 'NotFound';
  else if (status === 401 || status === 403) kind = 'Forbidden';
  else if (status === 429) kind = 'Throttled';
  else if (status >= 500) kind = 'Unavailable';
  else if (status >= 400) kind = 'Invalid';
  else kind = 'Unavailable';

  const retryAfter = Number(e.response?.headers?.get('retry-after'));
  const code = safeCode(e.code) ?? (status ? undefined : 'network error');
  const detail = [code, status ? `HTTP ${status}` : undefined].filter(Boolean).join(', ');
  return new ProviderError(kind, `azurekv: ${subject}: ${detail || name}`, {
    ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}),
  });
}

/**
 * Key Vault's documented error codes and @azure/core-rest-pipeline's own: the code comes from the
 * response body, so anything else (whatever a hostile or broken endpoint sends) is dropped.
 */
const KNOWN_CODES: ReadonlySet<string> = new Set([
  'SecretNotFound',
  'KeyNotFound',
  'CertificateNotFound',
  'KeyVaultNotFound',
  'VaultNotFound',
  'NotFound',
  'Forbidden',
  'ForbiddenByPolicy',
  'ForbiddenByFirewall',
  'ForbiddenByConnection',
  'ForbiddenByRbac',
  'AccessDenied',
  'Unauthorized',
  'BadParameter',
  'BadRequest',
  'Conflict',
  'ObjectIsDeletedButRecoverable',
  'SecretDisabled',
  'Throttled',
  'TooManyRequests',
  'RequestTimeout',
  'ServiceUnavailable',
  'InternalServerError',
  'REQUEST_SEND_ERROR',
  'PARSE_ERROR',
]);

function safeCode(code: string | undefined): string | undefined {
  return knownCode(code, KNOWN_CODES);
}
