/**
 * Credential JSON from a tenant's Secret is data, never a program. google-auth-library's
 * `fromJSON` follows whatever the JSON says: an `external_account` with `credential_source.file`
 * reads a local file and sends it to `token_url`, `.url` fetches any URL, `.executable` runs a
 * program, `aws` sources read this server's AWS credentials or metadata URLs, and the library
 * itself warns that `fromJSON` must not be given untrusted input.
 *
 * So the JSON is parsed and checked here, and the auth client is built from explicit fields:
 * - `service_account` keys (what ESO accepts, via Go's JWTConfigFromJSON): `client_email` and
 *   `private_key` become a JWT client whose token endpoint is the library's fixed Google one;
 *   `token_uri` and `universe_domain` must be Google's (they would move requests elsewhere).
 * - `external_account` only when a cluster admin allows it (`--allow-gcp-external-account`), and
 *   never with a subject-token source the JSON names (file, URL, executable, AWS, certificate):
 *   the subject token must come from a supplier this server controls (a ServiceAccount token
 *   through TokenRequest), which a bare credential Secret cannot name. Its endpoints must be
 *   Google's STS and IAM Credentials.
 * - every other type (authorized_user, impersonated_service_account, …) is refused.
 * Messages name fields, never values (the JSON holds a private key).
 */
import type { AuthClient, SubjectTokenSupplier } from 'google-auth-library';
import { ProviderError } from '../types.ts';

const SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const UNIVERSE = 'googleapis.com';
/** Token endpoints Google writes into service-account keys; anything else is refused. */
const GOOGLE_TOKEN_URIS = new Set([
  'https://oauth2.googleapis.com/token',
  'https://accounts.google.com/o/oauth2/token',
  'https://www.googleapis.com/oauth2/v4/token',
]);
const STS_TOKEN_URL = 'https://sts.googleapis.com/v1/token';
const IMPERSONATION_URL =
  /^https:\/\/iamcredentials\.googleapis\.com\/v1\/projects\/-\/serviceAccounts\/[^/?#\s]+:generateAccessToken$/;
/** Keys of `credential_source` that make the library read, fetch or run something. */
const SOURCE_KINDS = ['file', 'url', 'executable', 'environment_id', 'certificate'] as const;

export interface ServiceAccountKey {
  type: 'service_account';
  clientEmail: string;
  privateKey: string;
  privateKeyId?: string;
  projectId?: string;
}

export interface ExternalAccount {
  type: 'external_account';
  audience: string;
  subjectTokenType: string;
  serviceAccountImpersonationUrl?: string;
  tokenLifetimeSeconds?: number;
  quotaProjectId?: string;
}

export type GcpCredential = ServiceAccountKey | ExternalAccount;

export interface CredentialPolicy {
  /** `--allow-gcp-external-account`. */
  allowExternalAccount: boolean;
  /** The field the JSON came from, for messages. */
  field: string;
}

/** Parses and checks a credential JSON. Throws ProviderError Invalid naming the problem. */
export function parseGcpCredential(json: string, policy: CredentialPolicy): GcpCredential {
  const invalid = (problem: string) => new ProviderError('Invalid', `gcpsm: ${policy.field}: ${problem}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    // Never echo the text: it is a private key.
    throw invalid('the credential is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalid('the credential is not a JSON object');
  }
  const o = parsed as Record<string, unknown>;
  const str = (key: string): string | undefined => {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw invalid(`"${key}" must be a string`);
    return v;
  };
  const universe = str('universe_domain');
  if (universe !== undefined && universe !== UNIVERSE) {
    throw invalid(`"universe_domain" must be "${UNIVERSE}"`);
  }
  const type = str('type');
  if (type === 'service_account') {
    const clientEmail = str('client_email');
    const privateKey = str('private_key');
    if (!clientEmail) throw invalid('a service_account key needs "client_email"');
    if (!privateKey?.includes('PRIVATE KEY')) {
      throw invalid('a service_account key needs "private_key" (a PEM private key)');
    }
    const tokenUri = str('token_uri');
    if (tokenUri !== undefined && !GOOGLE_TOKEN_URIS.has(tokenUri)) {
      throw invalid('"token_uri" must be Google\'s token endpoint (https://oauth2.googleapis.com/token)');
    }
    const key: ServiceAccountKey = { type, clientEmail, privateKey };
    const keyId = str('private_key_id');
    if (keyId) key.privateKeyId = keyId;
    const projectId = str('project_id');
    if (projectId) key.projectId = projectId;
    return key;
  }
  if (type === 'external_account') {
    if (!policy.allowExternalAccount) {
      throw invalid(
        'an external_account credential needs a cluster admin to allow it (--allow-gcp-external-account); use a service_account key',
      );
    }
    return parseExternalAccount(o, str, invalid);
  }
  throw invalid(
    `credential type ${type === undefined ? '(none)' : `"${type.slice(0, 40)}"`} is not accepted: use a service_account key${policy.allowExternalAccount ? ' or an external_account' : ''}`,
  );
}

function parseExternalAccount(
  o: Record<string, unknown>,
  str: (key: string) => string | undefined,
  invalid: (problem: string) => ProviderError,
): ExternalAccount {
  const source = o.credential_source;
  if (source !== undefined && source !== null) {
    const kinds =
      typeof source === 'object' && !Array.isArray(source)
        ? SOURCE_KINDS.filter((k) => (source as Record<string, unknown>)[k] !== undefined)
        : [];
    throw invalid(
      `"credential_source${kinds.length ? `.${kinds[0]}` : ''}" is not allowed: a credential Secret may not make this server read a file, fetch a URL, run a program or use its own cloud identity`,
    );
  }
  const tokenUrl = str('token_url');
  if (tokenUrl !== STS_TOKEN_URL) throw invalid(`"token_url" must be ${STS_TOKEN_URL}`);
  const tokenInfoUrl = str('token_info_url');
  if (tokenInfoUrl !== undefined && !tokenInfoUrl.startsWith('https://sts.googleapis.com/')) {
    throw invalid('"token_info_url" must be on https://sts.googleapis.com/');
  }
  const audience = str('audience');
  if (!audience) throw invalid('an external_account needs "audience"');
  const out: ExternalAccount = {
    type: 'external_account',
    audience,
    subjectTokenType: str('subject_token_type') ?? 'urn:ietf:params:oauth:token-type:jwt',
  };
  const impersonation = str('service_account_impersonation_url');
  if (impersonation !== undefined) {
    if (!IMPERSONATION_URL.test(impersonation)) {
      throw invalid(
        '"service_account_impersonation_url" must be https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/EMAIL:generateAccessToken',
      );
    }
    out.serviceAccountImpersonationUrl = impersonation;
  }
  const lifetime = (o.service_account_impersonation as { token_lifetime_seconds?: unknown } | undefined)
    ?.token_lifetime_seconds;
  if (typeof lifetime === 'number' && Number.isInteger(lifetime) && lifetime > 0) {
    out.tokenLifetimeSeconds = lifetime;
  }
  const quota = str('quota_project_id');
  if (quota) out.quotaProjectId = quota;
  return out;
}

/**
 * The auth client for a parsed credential, built from explicit fields (never `fromJSON`).
 * An external account needs `subjectTokenSupplier`: a source of subject tokens this server
 * controls (a ServiceAccount token through TokenRequest); without one it is refused.
 */
export async function gcpAuthClient(
  credential: GcpCredential,
  opts: { field: string; subjectTokenSupplier?: SubjectTokenSupplier },
): Promise<AuthClient> {
  // Loaded on first use, like the SDKs (src/providers/registry.ts).
  const gal = await import('google-auth-library');
  if (credential.type === 'service_account') {
    const jwt = new gal.JWT({
      email: credential.clientEmail,
      key: credential.privateKey,
      ...(credential.privateKeyId ? { keyId: credential.privateKeyId } : {}),
      scopes: [SCOPE],
    });
    // A self-signed JWT per request (as the library does for Google's gRPC clients): no call to
    // any token endpoint at all.
    jwt.useJWTAccessWithScope = true;
    if (credential.projectId) jwt.projectId = credential.projectId;
    return jwt;
  }
  if (!opts.subjectTokenSupplier) {
    throw new ProviderError(
      'Invalid',
      `gcpsm: ${opts.field}: an external_account needs a subject token from a Kubernetes ServiceAccount (auth.workloadIdentityFederation.serviceAccountRef); a credential Secret cannot provide one`,
    );
  }
  return new gal.IdentityPoolClient({
    type: 'external_account',
    audience: credential.audience,
    subject_token_type: credential.subjectTokenType,
    token_url: STS_TOKEN_URL,
    ...(credential.serviceAccountImpersonationUrl
      ? { service_account_impersonation_url: credential.serviceAccountImpersonationUrl }
      : {}),
    ...(credential.tokenLifetimeSeconds
      ? { service_account_impersonation: { token_lifetime_seconds: credential.tokenLifetimeSeconds } }
      : {}),
    ...(credential.quotaProjectId ? { quota_project_id: credential.quotaProjectId } : {}),
    subject_token_supplier: opts.subjectTokenSupplier,
    scopes: [SCOPE],
  });
}
