/**
 * ESO's per-store GCP identities, built with google-auth-library's supplier-based external
 * account clients: the subject token always comes from a supplier this server controls, never
 * from a file, URL or program a JSON names, and the token endpoints are Google's (or, in tests,
 * the operator's endpoint overrides; never a store's).
 *
 * - `auth.workloadIdentity` (GKE Workload Identity of a named ServiceAccount, as ESO): a
 *   TokenRequest token of that ServiceAccount with the cluster's identity namespace
 *   `<clusterProjectID>.svc.id.goog` as audience (plus `serviceAccountRef.audiences`), 15 minutes,
 *   exchanged at Google STS for the audience
 *   `identitynamespace:<pool>:https://container.googleapis.com/v1/projects/<p>/locations/<l>/clusters/<c>`
 *   (the exchange ESO sends to securetoken's identitybindingtoken; STS serves the same one), then
 *   `generateAccessToken` of the GCP service account in the ServiceAccount's
 *   `iam.gke.io/gcp-service-account` annotation when it has one; without it the federated token
 *   is used directly (IAM bindings on `serviceAccount:<p>.svc.id.goog[<ns>/<sa>]`).
 *   clusterProjectID / clusterLocation / clusterName default, as in ESO, to what the GKE metadata
 *   server says (the project, `cluster-location` and `cluster-name` attributes).
 * - `auth.workloadIdentityFederation` (ESO 2.9): exactly one of `serviceAccountRef` (a
 *   TokenRequest token, audiences `serviceAccountRef.audiences`) or `awsSecurityCredentials` (AWS
 *   keys from a Secret sign a GetCallerIdentity request, which STS verifies with AWS), exchanged
 *   for `audience`; impersonation of `gcpServiceAccountEmail`, else of the ServiceAccount's
 *   `iam.gke.io/gcp-service-account` annotation. `credConfig` (a credential JSON in a ConfigMap,
 *   whose only use in ESO is a file, URL, executable or AWS-metadata source) is refused at
 *   admission (validate.ts).
 *
 * google-auth-library caches the access token until five minutes before it expires and
 * coalesces concurrent refreshes, so many reads cost one TokenRequest and one exchange (and
 * one impersonation) per token lifetime. Failures surface through `authorize` in our own words.
 */
import type { AuthClient, SubjectTokenSupplier } from 'google-auth-library';
import type { GcpSmProvider } from '../../api/types.ts';
import { isEswError } from '../../errors.ts';
import { type ClientContext, ProviderError } from '../types.ts';

const SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const STS_TOKEN_URL = 'https://sts.googleapis.com/v1/token';
const IAM_CREDENTIALS = 'https://iamcredentials.googleapis.com';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
export const GCP_SA_ANNOTATION = 'iam.gke.io/gcp-service-account';
/** ESO's TokenRequest lifetime for GCP (k8sSATokenGenerator): 15 minutes. */
const TOKEN_SECONDS = 900;
/** What ESO's CRD accepts for gcpServiceAccountEmail, and what an annotation must look like. */
// Letters, digits and `._+-` only: it goes into the impersonation URL's path as is, as in ESO.
export const GSA_EMAIL = /^[A-Za-z0-9._+-]+@[A-Za-z0-9.-]+\.iam\.gserviceaccount\.com$/;
const AWS_KEYS = ['aws_access_key_id', 'aws_secret_access_key', 'aws_session_token'] as const;

type Wi = NonNullable<NonNullable<GcpSmProvider['auth']>['workloadIdentity']>;
export type Wif = NonNullable<NonNullable<GcpSmProvider['auth']>['workloadIdentityFederation']>;

const WI = 'spec.provider.gcpsm.auth.workloadIdentity';
const WIF = 'spec.provider.gcpsm.auth.workloadIdentityFederation';

/** Where the exchange and impersonation go: Google, or the operator's test endpoints. */
function endpoints(ctx: ClientContext): { tokenUrl: string; impersonation: (email: string) => string } {
  const iam = ctx.endpoints.gcpIamCredentials ?? IAM_CREDENTIALS;
  return {
    tokenUrl: ctx.endpoints.gcpSts ?? STS_TOKEN_URL,
    impersonation: (email) => `${iam}/v1/projects/-/serviceAccounts/${email}:generateAccessToken`,
  };
}

/** The GCP service account to impersonate: an explicit email first, else the annotation. */
async function impersonationTarget(
  ctx: ClientContext,
  field: string,
  explicit: string | undefined,
  sa: { name: string; namespace?: string } | undefined,
): Promise<string | undefined> {
  if (explicit) {
    if (!GSA_EMAIL.test(explicit)) {
      throw new ProviderError(
        'Invalid',
        `gcpsm: ${field}.gcpServiceAccountEmail is not a service account email`,
      );
    }
    return explicit;
  }
  if (!sa) return undefined;
  if (!ctx.serviceAccountAnnotations) {
    throw new ProviderError(
      'Invalid',
      `gcpsm: ${field}.serviceAccountRef: ServiceAccounts cannot be read here (cluster mode only)`,
    );
  }
  const email = (await ctx.serviceAccountAnnotations(sa, `${field}.serviceAccountRef`))[GCP_SA_ANNOTATION];
  if (email === undefined || email === '') return undefined;
  if (!GSA_EMAIL.test(email)) {
    throw new ProviderError(
      'Invalid',
      `gcpsm: ${field}.serviceAccountRef: the ServiceAccount's ${GCP_SA_ANNOTATION} annotation is not a service account email`,
    );
  }
  return email;
}

/** A subject-token supplier: a fresh TokenRequest token of the named ServiceAccount. */
function tokenRequestSupplier(
  ctx: ClientContext,
  field: string,
  selector: { name: string; namespace?: string; audiences?: string[] },
): SubjectTokenSupplier {
  const issue = ctx.serviceAccountToken;
  if (!issue) {
    throw new ProviderError(
      'Invalid',
      `gcpsm: ${field}.serviceAccountRef: ServiceAccount tokens are unavailable here (cluster mode only)`,
    );
  }
  return {
    getSubjectToken: () =>
      issue({
        name: selector.name,
        ...(selector.namespace ? { namespace: selector.namespace } : {}),
        ...(selector.audiences?.length ? { audiences: selector.audiences } : {}),
        expirationSeconds: TOKEN_SECONDS,
      }),
  };
}

/** clusterProjectID / clusterLocation / clusterName, else the GKE metadata server's answer. */
async function clusterIdentity(wi: Wi): Promise<{ project: string; location: string; name: string }> {
  let project = wi.clusterProjectID ?? '';
  let location = wi.clusterLocation ?? '';
  let name = wi.clusterName ?? '';
  if (!project || !location || !name) {
    const { gcpMetadata } = await import('google-auth-library');
    const ask = async (what: string, fn: () => Promise<string>): Promise<string> => {
      try {
        return String(await fn());
      } catch {
        throw new ProviderError(
          'Invalid',
          `gcpsm: ${WI}.${what} is not set and the GKE metadata server did not answer it: set ${WI}.${what}`,
        );
      }
    };
    if (!project) project = await ask('clusterProjectID', () => gcpMetadata.project('project-id'));
    if (!location) {
      location = await ask('clusterLocation', () => gcpMetadata.instance('attributes/cluster-location'));
    }
    if (!name) name = await ask('clusterName', () => gcpMetadata.instance('attributes/cluster-name'));
  }
  return { project, location, name };
}

/** The identity namespace (pool) and provider of a GKE cluster, as ESO builds them. */
export function gkeIdentity(cluster: { project: string; location: string; name: string }): {
  pool: string;
  provider: string;
} {
  return {
    pool: `${cluster.project}.svc.id.goog`,
    provider: `https://container.googleapis.com/v1/projects/${cluster.project}/locations/${cluster.location}/clusters/${cluster.name}`,
  };
}

export async function workloadIdentityClient(
  wi: Wi,
  ctx: ClientContext,
): Promise<{ client: AuthClient; clusterProject: string }> {
  const ref = wi.serviceAccountRef;
  if (!ref?.name) throw new ProviderError('Invalid', `gcpsm: ${WI}.serviceAccountRef.name is required`);
  const sa = { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) };
  // Before asking the metadata server anything: without tokens there is nothing to exchange.
  tokenRequestSupplier(ctx, WI, sa);
  const cluster = await clusterIdentity(wi);
  const { pool, provider } = gkeIdentity(cluster);
  const supplier = tokenRequestSupplier(ctx, WI, { ...sa, audiences: [pool, ...(ref.audiences ?? [])] });
  const target = await impersonationTarget(ctx, WI, undefined, sa);
  const gal = await import('google-auth-library');
  const ep = endpoints(ctx);
  const client = prepared(
    new gal.IdentityPoolClient({
      type: 'external_account',
      audience: `identitynamespace:${pool}:${provider}`,
      subject_token_type: JWT_TYPE,
      token_url: ep.tokenUrl,
      ...(target ? { service_account_impersonation_url: ep.impersonation(target) } : {}),
      subject_token_supplier: supplier,
      scopes: [SCOPE],
    }),
  );
  return { client, clusterProject: cluster.project };
}

export async function federationClient(wif: Wif, ctx: ClientContext): Promise<AuthClient> {
  const sources = (['credConfig', 'serviceAccountRef', 'awsSecurityCredentials'] as const).filter(
    (k) => wif[k] !== undefined && wif[k] !== null,
  );
  if (sources.includes('credConfig')) {
    // validate.ts refuses it at admission; a store admitted before that is refused here.
    throw new ProviderError(
      'Invalid',
      `gcpsm: ${WIF}.credConfig is not supported: use serviceAccountRef or awsSecurityCredentials`,
    );
  }
  if (sources.length !== 1) {
    throw new ProviderError(
      'Invalid',
      `gcpsm: ${WIF}: exactly one of serviceAccountRef or awsSecurityCredentials must be set`,
    );
  }
  if (!wif.audience) {
    throw new ProviderError('Invalid', `gcpsm: ${WIF}.audience is required`);
  }
  const gal = await import('google-auth-library');
  const ep = endpoints(ctx);
  const ref = wif.serviceAccountRef;
  const sa = ref?.name
    ? { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) }
    : undefined;
  const target = await impersonationTarget(ctx, WIF, wif.gcpServiceAccountEmail, sa);
  const common = {
    type: 'external_account',
    audience: wif.audience,
    token_url: ep.tokenUrl,
    ...(target ? { service_account_impersonation_url: ep.impersonation(target) } : {}),
    scopes: [SCOPE],
  };
  if (ref) {
    if (!sa) throw new ProviderError('Invalid', `gcpsm: ${WIF}.serviceAccountRef.name is required`);
    return prepared(
      new gal.IdentityPoolClient({
        ...common,
        subject_token_type: JWT_TYPE,
        subject_token_supplier: tokenRequestSupplier(ctx, WIF, {
          ...sa,
          ...(ref.audiences ? { audiences: ref.audiences } : {}),
        }),
      }),
    );
  }
  const aws = wif.awsSecurityCredentials ?? {};
  const secretRef = aws.awsCredentialsSecretRef;
  const region = aws.region;
  if (!secretRef?.name || !region) {
    throw new ProviderError(
      'Invalid',
      `gcpsm: ${WIF}.awsSecurityCredentials needs awsCredentialsSecretRef.name and region`,
    );
  }
  const field = `${WIF}.awsSecurityCredentials.awsCredentialsSecretRef`;
  // Read once, when the client is built (a change of the Secret rebuilds the client).
  const read = async (key: (typeof AWS_KEYS)[number]): Promise<string | undefined> => {
    try {
      return await ctx.readSecretKey({ ...secretRef, key }, field);
    } catch (err: unknown) {
      if (isEswError(err) && err.code === 'ESW_CREDENTIALS' && /key "[^"]+" not found/.test(err.message)) {
        return undefined;
      }
      throw err;
    }
  };
  const [accessKeyId, secretAccessKey, token] = await Promise.all(AWS_KEYS.map(read));
  if (!accessKeyId || !secretAccessKey) {
    throw new ProviderError(
      'Invalid',
      `gcpsm: ${field}: the Secret needs the keys aws_access_key_id and aws_secret_access_key`,
    );
  }
  return prepared(
    new gal.AwsClient({
      ...common,
      subject_token_type: 'urn:ietf:params:aws:token-type:aws4_request',
      aws_security_credentials_supplier: {
        getAwsRegion: async () => region,
        getAwsSecurityCredentials: async () => ({
          accessKeyId,
          secretAccessKey,
          ...(token ? { token } : {}),
        }),
      },
    }),
  );
}

/**
 * The channel uses the token `authorize` obtained for as long as it has not expired: the
 * library itself would refresh a token inside its five-minute refresh window again on the
 * channel's own request, exchanging twice for one read.
 */
function prepared<T extends AuthClient>(client: T): T {
  const own = client.getRequestHeaders.bind(client);
  client.getRequestHeaders = async (url?: string | URL) => {
    const { access_token: token, expiry_date: expiry } = client.credentials;
    if (token && typeof expiry === 'number' && expiry > Date.now()) {
      return new Headers({ authorization: `Bearer ${token}` });
    }
    return own(url);
  };
  return client;
}

/**
 * Makes sure the client holds an access token that is not due for refresh, getting one if not,
 * and turns a failure into our own words: the library's errors carry Google's response text,
 * which is not passed on. Called before each Secret Manager call, outside gRPC, so a refused
 * exchange is reported as such, once per call (the channel's retries never repeat it), and not
 * as an unavailable service.
 */
export async function authorize(client: AuthClient, field: string): Promise<void> {
  const { access_token: token, expiry_date: expiry } = client.credentials;
  if (token && typeof expiry === 'number' && expiry - client.eagerRefreshThresholdMillis > Date.now()) return;
  try {
    await client.getAccessToken();
  } catch (err: unknown) {
    if (isEswError(err) || err instanceof ProviderError) throw err;
    throw authError(err, field);
  }
}

/** No `cause`: the library's error holds the request, subject token included. */
function authError(err: unknown, field: string): ProviderError {
  const e = err as {
    status?: unknown;
    response?: { status?: unknown; config?: { url?: unknown } };
    code?: unknown;
  };
  const status = Number(e.response?.status ?? e.status);
  const url = String(e.response?.config?.url ?? '');
  const step = url.includes(':generateAccessToken')
    ? 'service account impersonation (IAM Credentials generateAccessToken)'
    : 'token exchange (Google STS)';
  if (status === 400 || status === 401 || status === 403 || status === 404) {
    return new ProviderError('Forbidden', `gcpsm: ${field}: ${step} refused (HTTP ${status})`);
  }
  if (status === 429) {
    return new ProviderError('Throttled', `gcpsm: ${field}: ${step} throttled (HTTP 429)`);
  }
  return new ProviderError(
    'Unavailable',
    `gcpsm: ${field}: ${Number.isFinite(status) && status > 0 ? `${step} failed (HTTP ${status})` : 'could not get an access token'}`,
  );
}
