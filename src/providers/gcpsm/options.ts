/**
 * Pure mapping from a `gcpsm` store spec to SecretManagerServiceClient options and per-call
 * settings. No I/O: tested directly, and the client is built from its result.
 */
import type { AuthClient } from 'google-auth-library';
import type { CallOptions, ClientOptions } from 'google-gax';
import { grpc, Status } from 'google-gax';
import type { GcpSmProvider } from '../../api/types.ts';
import { type EndpointOverrides, ProviderError } from '../types.ts';

export type GcpEndpointOverride = NonNullable<EndpointOverrides['gcp']>;

export interface CallLimits {
  /** Attempts per call, the first included (>= 1). */
  maxAttempts: number;
  /** Timeout of one attempt, ms. */
  timeoutMs: number;
}

/** The global endpoint's universe; regional endpoints are `secretmanager.<location>.rep.<universe>`. */
const UNIVERSE = 'googleapis.com';

/**
 * Client options for one store.
 * - `authClient`: built from the checked credential JSON of `auth.secretRef` (credentials.ts);
 *   absent = Application Default Credentials (GKE workload identity, the metadata server), which
 *   only stores allowed this server's own identity reach.
 * - `location`: regional secrets are served by the regional endpoint.
 * - `override` (server config / tests only): endpoint host and port; `insecure` gives a
 *   plaintext channel whose credentials are the channel's own, so no token is ever fetched,
 *   and pins the universe so the SDK does not ask the auth library (or a metadata server);
 *   `ca` a TLS channel trusting that CA, with the auth client's token when there is one.
 */
export function gcpClientOptions(
  spec: GcpSmProvider,
  authClient: AuthClient | undefined,
  override: GcpEndpointOverride | undefined,
): ClientOptions {
  const options: ClientOptions = {};
  if (authClient !== undefined) options.authClient = authClient;
  if (spec.projectID) options.projectId = spec.projectID;
  if (spec.location) options.apiEndpoint = `secretmanager.${spec.location}.rep.${UNIVERSE}`;
  if (override) Object.assign(options, endpointOverrideOptions(authClient, override));
  return options;
}

/**
 * The channel of an endpoint override (server config, tests): host and port; `insecure` a
 * plaintext channel that never sends a token, with the universe pinned so that no auth library
 * or metadata server is asked; `ca` a TLS channel trusting that CA, carrying the auth client's
 * token when there is one. Shared by Secret Manager and Pub/Sub (change-feed.ts).
 */
export function endpointOverrideOptions(
  authClient: AuthClient | undefined,
  override: GcpEndpointOverride,
): ClientOptions {
  const options: ClientOptions = { apiEndpoint: override.host, port: override.port };
  if (override.insecure) {
    options.sslCreds = grpc.credentials.createInsecure();
    options.universeDomain = UNIVERSE;
  } else if (override.ca) {
    // google-gax adds no call credentials to channel credentials it is given: compose them
    // from the auth client here, as gax does for its own TLS channel.
    const tls = grpc.credentials.createSsl(Buffer.from(override.ca));
    options.sslCreds = authClient
      ? grpc.credentials.combineChannelCredentials(
          tls,
          grpc.credentials.createFromGoogleCredential({
            getRequestHeaders: async (url?: string) => {
              const headers = await authClient.getRequestHeaders(url);
              const out: Record<string, string> = {};
              headers.forEach((value, key) => {
                out[key] = value;
              });
              return out;
            },
          }),
        )
      : tls;
    options.universeDomain = UNIVERSE;
  }
  return options;
}

/**
 * Per-call settings: one attempt at most `timeoutMs`, at most `maxAttempts` attempts, retried
 * only on UNAVAILABLE (a connection that dropped or a server restarting). RESOURCE_EXHAUSTED is
 * not retried here: it surfaces at once as Throttled and the caller backs off, so retries do
 * not amplify throttling, and the admission deadline is not spent waiting. `signal` cancels
 * the call (gax cancels the gRPC call on abort).
 */
export function gcpCallOptions(limits: CallLimits, signal: AbortSignal): CallOptions {
  const timeout = Math.max(1, Math.floor(limits.timeoutMs));
  return {
    timeout,
    retry: {
      retryCodes: [Status.UNAVAILABLE],
      backoffSettings: {
        maxRetries: Math.max(1, Math.floor(limits.maxAttempts)),
        initialRetryDelayMillis: 50,
        retryDelayMultiplier: 2,
        maxRetryDelayMillis: 1000,
        initialRpcTimeoutMillis: timeout,
        rpcTimeoutMultiplier: 1,
        maxRpcTimeoutMillis: timeout,
      },
    },
    signal,
  };
}

/** `projects/<p>` or `projects/<p>/locations/<l>`: the parent of a store's secrets. */
export function parentName(spec: GcpSmProvider): string {
  const project = spec.projectID ?? '';
  return spec.location ? `projects/${project}/locations/${spec.location}` : `projects/${project}`;
}

/** Secret ids are letters, digits, `-` and `_`; versions are numbers, `latest` or an alias. */
const SECRET_ID = /^[A-Za-z0-9_-]{1,255}$/;
const VERSION = /^[A-Za-z0-9_-]{1,63}$/;

/** `…/secrets/<key>`: the secret itself (its labels and annotations). */
export function secretName(spec: GcpSmProvider, key: string): string {
  if (!SECRET_ID.test(key)) {
    throw new ProviderError('Invalid', `gcpsm: "${key}" is not a valid secret id`);
  }
  return `${parentName(spec)}/secrets/${key}`;
}

/** `…/secrets/<key>/versions/<version>`; `latest` when no version is given. */
export function secretVersionName(spec: GcpSmProvider, key: string, version: string | undefined): string {
  if (!SECRET_ID.test(key)) {
    throw new ProviderError('Invalid', `gcpsm: "${key}" is not a valid secret id`);
  }
  const v = version === undefined || version === '' ? 'latest' : version;
  if (!VERSION.test(v)) {
    throw new ProviderError(
      'Invalid',
      `gcpsm: version "${v}" of secret "${key}" is not a version number or alias`,
    );
  }
  return `${parentName(spec)}/secrets/${key}/versions/${v}`;
}

/** ListSecrets filter: labels (exact) and the path as a name substring (prefix is checked after). */
export function listFilter(find: { path?: string; tags?: Record<string, string> }): string {
  const terms: string[] = [];
  for (const [k, v] of Object.entries(find.tags ?? {})) terms.push(`labels.${k}=${v}`);
  if (find.path) terms.push(`name:${find.path}`);
  return terms.join(' ');
}
