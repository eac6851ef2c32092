/**
 * SDK exceptions of Secrets Manager, Parameter Store (SSM), Certificate Manager (ACM) and STS ->
 * typed ProviderErrors. Messages are built from the key and the exception's name only: AWS
 * messages can echo request content, so they are never passed through.
 */
import { knownCode, systemCode } from '../../observability/sanitize.ts';
import { ProviderError, type ProviderErrorKind } from '../types.ts';

const BY_NAME: Record<string, ProviderErrorKind> = {
  ResourceNotFoundException: 'NotFound',
  // SSM: a parameter, or the version or label asked for, does not exist; ListTagsForResource
  // answers InvalidResourceId for a parameter that does not exist.
  ParameterNotFound: 'NotFound',
  ParameterVersionNotFound: 'NotFound',
  InvalidResourceId: 'NotFound',
  // SQS (change feeds): the queue named by the store does not exist.
  QueueDoesNotExist: 'NotFound',
  AccessDeniedException: 'Forbidden',
  AccessDenied: 'Forbidden',
  UnrecognizedClientException: 'Forbidden',
  InvalidClientTokenId: 'Forbidden',
  ExpiredTokenException: 'Forbidden',
  IncompleteSignature: 'Forbidden',
  InvalidSignatureException: 'Forbidden',
  SignatureDoesNotMatch: 'Forbidden',
  ThrottlingException: 'Throttled',
  Throttling: 'Throttled',
  TooManyRequestsException: 'Throttled',
  RequestLimitExceeded: 'Throttled',
  LimitExceededException: 'Throttled',
  InternalServiceError: 'Unavailable',
  InternalServerError: 'Unavailable',
  // ACM: the certificate is still being issued or renewed.
  RequestInProgressException: 'Unavailable',
  InternalFailure: 'Unavailable',
  ServiceUnavailable: 'Unavailable',
  InvalidParameterException: 'Invalid',
  InvalidRequestException: 'Invalid',
  InvalidNextTokenException: 'Invalid',
  DecryptionFailure: 'Invalid',
  ValidationException: 'Invalid',
  InvalidKeyId: 'Invalid',
  InvalidResourceType: 'Invalid',
  InvalidFilterKey: 'Invalid',
  InvalidFilterOption: 'Invalid',
  InvalidFilterValue: 'Invalid',
  InvalidArnException: 'Invalid',
  // STS AssumeRoleWithWebIdentity: the ServiceAccount token was refused.
  InvalidIdentityToken: 'Forbidden',
  IDPRejectedClaim: 'Forbidden',
  ExpiredToken: 'Forbidden',
  RegionDisabledException: 'Forbidden',
  IDPCommunicationError: 'Unavailable',
};

/** Error names the SDK and the service document; any other name came from a response body. */
const KNOWN_NAMES: ReadonlySet<string> = new Set([
  ...Object.keys(BY_NAME),
  'InvalidParameterValue',
  'MissingParameter',
  'OptInRequired',
  'RequestExpired',
  'PreconditionNotMetException',
  'ResourceExistsException',
  'EncryptionFailure',
  'MalformedPolicyDocumentException',
  'CredentialsProviderError',
]);

interface SdkErrorShape {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { headers?: Record<string, string | undefined> };
}

export function awsError(err: unknown, subject: string, signal?: AbortSignal): ProviderError {
  if (err instanceof ProviderError) return err;
  if (signal?.aborted) return new ProviderError('Unavailable', `aws: ${subject}: deadline exceeded`);
  const e = (typeof err === 'object' && err !== null ? err : {}) as SdkErrorShape;
  const name = e.name ?? 'Error';
  const status = e.$metadata?.httpStatusCode;
  let kind: ProviderErrorKind | undefined = markedForDeletion(name, e.message) ? 'NotFound' : BY_NAME[name];
  if (!kind && status !== undefined) {
    if (status === 404) kind = 'NotFound';
    else if (status === 401 || status === 403) kind = 'Forbidden';
    else if (status === 429) kind = 'Throttled';
    else if (status >= 500) kind = 'Unavailable';
    else if (status >= 400) kind = 'Invalid';
  }
  // No HTTP status: the request never got an answer (reset, refused, timeout, bad body).
  kind ??= 'Unavailable';
  const retryAfter = Number(e.$response?.headers?.['retry-after']);
  // The SDK names an unmodelled error after the body's `__type`: only names we know are
  // reported, and only Node's own codes for errors without an answer.
  const code =
    name === 'Error' || name === 'TimeoutError'
      ? (systemCode(err) ?? (status ? 'error' : 'network error'))
      : (knownCode(name, KNOWN_NAMES) ?? 'unrecognised error');
  return new ProviderError(kind, `aws: ${subject}: ${code}${status ? ` (HTTP ${status})` : ''}`, {
    ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}),
  });
}

/** Per-key errors of a batch (BatchGetSecretValue `Errors[].ErrorCode`); `subject` names the key. */
export function awsBatchKeyError(
  errorCode: string | undefined,
  subject: string,
  message?: string,
): ProviderError {
  const kind = markedForDeletion(errorCode, message)
    ? 'NotFound'
    : (BY_NAME[errorCode ?? ''] ?? 'Unavailable');
  return new ProviderError(
    kind,
    `aws: ${subject}: ${knownCode(errorCode, KNOWN_NAMES) ?? 'unrecognised error'}`,
  );
}

/**
 * A secret scheduled for deletion answers InvalidRequestException ("... because it was marked for
 * deletion"); ESO treats it as absent, and so do we. Only the code and this fixed phrase are read.
 */
function markedForDeletion(code: string | undefined, message: string | undefined): boolean {
  return (
    (code === 'InvalidRequestException' || code === 'InvalidParameterException') &&
    /marked for deletion/i.test(message ?? '')
  );
}

/**
 * The store check's probe (ProviderClient.validate): `call` lists at most one item. An answer, or
 * AccessDenied for the listing itself — the signature and the credentials were accepted, only the
 * permission to list is missing — proves the store can authenticate.
 */
export async function awsProbe(
  call: () => Promise<unknown>,
  subject: string,
  signal: AbortSignal,
): Promise<void> {
  try {
    await call();
  } catch (err: unknown) {
    const name = (err as SdkErrorShape | undefined)?.name;
    if (!signal.aborted && (name === 'AccessDeniedException' || name === 'AccessDenied')) return;
    throw awsError(err, subject, signal);
  }
}
