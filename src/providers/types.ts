/**
 * The provider interface, after the External Secrets Operator's: a provider turns a store spec
 * into a client and fetches raw values. It knows nothing of Kubernetes, caching, properties or
 * decoding: the resolver (src/resolve) applies `property`, `decodingStrategy` and
 * `conversionStrategy` to the raw bytes, so one remote call serves every property of a key.
 */

import type { FieldError } from '../api/field-errors.ts';
import type { FindRef, SecretKeySelector, SecretStoreProvider, StoreKind } from '../api/types.ts';
import type { ChangeFeedReceiver } from '../feeds/types.ts';
import { ownWords } from '../observability/sanitize.ts';

export const ProviderErrorKind = {
  NotFound: 'NotFound',
  Forbidden: 'Forbidden',
  Throttled: 'Throttled',
  Unavailable: 'Unavailable',
  Invalid: 'Invalid',
} as const;
export type ProviderErrorKind = (typeof ProviderErrorKind)[keyof typeof ProviderErrorKind];

/** Transient kinds: retried with backoff by the refresher; never a reason to clear data. */
export const TRANSIENT_KINDS: ReadonlySet<ProviderErrorKind> = new Set(['Throttled', 'Unavailable']);

/**
 * A typed provider failure. `message` must never contain a secret value: build it from the key
 * name and the SDK's error code, not from response bodies.
 */
export class ProviderError extends Error {
  readonly kind: ProviderErrorKind;
  /** Seconds the provider asked us to wait (429 Retry-After), when it said so. */
  readonly retryAfterSeconds: number | undefined;
  constructor(
    kind: ProviderErrorKind,
    message: string,
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProviderError';
    this.kind = kind;
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}
ownWords(ProviderError);

export function isProviderError(err: unknown): err is ProviderError {
  return err instanceof ProviderError;
}

/** One remote secret at one version: the unit of fetching and caching. */
export interface RemoteKey {
  key: string;
  /** Provider-specific version (AWS VersionId or stage, Vault KV version, GCP version number…). */
  version?: string | undefined;
}

/** What `property` is read from, for a provider's own selection rules. */
export interface SelectRef {
  key: string;
  property?: string | undefined;
  /** The raw bytes are a metadata document (`getMetadata`), not a value. */
  metadata: boolean;
  /** For messages: `SecretStore "ns/name"`. */
  store: string;
}

/** Per-call options. Every call carries a deadline through `signal`. */
export interface CallOptions {
  signal: AbortSignal;
}

export interface ProviderClient {
  /** Raw bytes of `key` at `version`. Throws ProviderError. */
  getSecret(ref: RemoteKey, opts: CallOptions): Promise<Uint8Array>;
  /**
   * Optional batch fetch (AWS BatchGetSecretValue). Result per input index: bytes or the typed
   * per-key error. `maxBatch` says how many refs one call takes.
   */
  getSecrets?(refs: RemoteKey[], opts: CallOptions): Promise<(Uint8Array | ProviderError)[]>;
  readonly maxBatch?: number;
  /**
   * getSecrets also takes refs with a `version` (SSM reads `name:version` in a batch); without
   * it the resolver batches current versions only (AWS BatchGetSecretValue takes no version).
   */
  readonly batchesVersions?: boolean;
  /** `dataFrom.find`: secret name -> raw bytes of its current version. Absent if the provider cannot list. */
  findSecrets?(find: FindRef, opts: CallOptions): Promise<Map<string, Uint8Array>>;
  /**
   * `metadataPolicy: Fetch`: the key's metadata (AWS tags, …) as the raw bytes of the JSON object
   * ESO returns, or of a document the provider's `selectValue` / `selectMap` read (Azure, GCP);
   * the resolver caches it apart from the value and applies `property` and decoding to it as to
   * a value unless those say otherwise. Absent where the provider does not serve metadata.
   */
  getMetadata?(ref: RemoteKey, opts: CallOptions): Promise<Uint8Array>;
  /**
   * The store check behind SecretStore status (ESO's `Validate`): one cheap call proving that the
   * endpoint answers and the credentials authenticate. A refusal of the probe itself by an
   * authenticated caller (AWS AccessDenied, GCP PERMISSION_DENIED, Azure 403) is success: a store
   * allowed to read named keys only, and not to list, is valid. Throws ProviderError. Absent:
   * creating the client was the whole check.
   */
  validate?(opts: CallOptions): Promise<void>;
  /**
   * Opens the change feed a store names in `esw.io/change-feed` (src/feeds/), with this client's
   * credentials. Throws ProviderError (Invalid) for an address it does not take. Absent where the
   * provider has no feed.
   */
  changeFeed?(address: string): ChangeFeedReceiver;
  close(): Promise<void>;
}

/** What a provider may read from the cluster to build a client: credential Secrets and SA tokens. */
export interface ClientContext {
  store: { kind: StoreKind; name: string; namespace: string | undefined };
  /** Namespace the request comes from (used for ClusterSecretStore referent auth). */
  namespace: string;
  readSecretKey(selector: SecretKeySelector, field: string): Promise<string>;
  /** A key of a ConfigMap (a CA), under the same namespace rules as readSecretKey. */
  readConfigMapKey?(selector: SecretKeySelector, field: string): Promise<string>;
  /** A projected service-account token, for workload identity / Vault kubernetes auth. */
  serviceAccountToken?(selector: {
    name?: string;
    namespace?: string;
    audiences?: string[];
    expirationSeconds?: number;
  }): Promise<string>;
  /**
   * The annotations of a named ServiceAccount (same namespace rules as serviceAccountToken);
   * throws ESW_CREDENTIALS when it does not exist or outside cluster mode.
   */
  serviceAccountAnnotations?(
    selector: { name?: string; namespace?: string },
    field: string,
  ): Promise<Record<string, string>>;
  /**
   * Call before any fallback to this server's own identity (a default credential chain,
   * managed identity, its own ServiceAccount token): throws ESW_IDENTITY_FORBIDDEN unless the
   * store may use it (a ClusterSecretStore, or a SecretStore in a namespace the cluster admin
   * allowed). `field` is the store field that chose it, `identity` says whose it is.
   */
  requireAmbientIdentity(field: string, identity: string): void;
  /** Cluster-admin policy: a gcpsm credential Secret may hold an external-account JSON. */
  allowGcpExternalAccount: boolean;
  /** Test and on-prem hooks: endpoint overrides come from server config, never from objects. */
  endpoints: EndpointOverrides;
  /** Bounded SDK retries. */
  maxAttempts: number;
  timeoutMs: number;
}

/**
 * Endpoint overrides, set by the operator of this server (flags/env, test harness), never by a
 * user object — a store may only choose among real cloud endpoints or its own `server`.
 */
export interface EndpointOverrides {
  aws?: string;
  azureCa?: string;
  azureDisableChallengeResourceVerification?: boolean;
  azureAuthorityHost?: string;
  /**
   * Secret Manager endpoint. `insecure`: a plaintext channel that never sends a token. `ca`: a
   * TLS channel trusting this CA (PEM), carrying the store's access token when it has an auth
   * client (workload identity), none otherwise.
   */
  gcp?: { host: string; port: number; insecure: boolean; ca?: string };
  /** GCP STS token endpoint (`https://sts.googleapis.com/v1/token`) and IAM Credentials base URL. */
  gcpSts?: string;
  gcpIamCredentials?: string;
  awsSts?: string;
  /** Parameter Store (SSM) and Certificate Manager (ACM); each falls back to `aws`. */
  awsSsm?: string;
  awsAcm?: string;
  /** SQS, for change feeds (the queue URL's host otherwise). */
  awsSqs?: string;
  /** Pub/Sub, for change feeds (`pubsub.googleapis.com:443` otherwise); as `gcp`. */
  gcpPubsub?: { host: string; port: number; insecure: boolean; ca?: string };
}

export interface Provider<Spec = unknown> {
  /** The key under `spec.provider` (aws, azurekv, gcpsm, vault, fake). */
  readonly name: string;
  /** Static validation of the provider spec, no network. `path` is `spec.provider.<name>`. */
  validateStore(spec: Spec, path: string, kind: StoreKind): FieldError[];
  newClient(spec: Spec, ctx: ClientContext): Promise<ProviderClient>;
  /**
   * Where ESO's reading of `property` on this provider's raw bytes differs from the JSON path the
   * resolver applies (src/refs/property.ts) — metadata documents, Azure certificates: the
   * selected bytes, or undefined for the resolver's default. Pure (no SDK, no I/O), so a lazily
   * loaded provider offers it before its SDK is loaded. Throws EswError naming key and property.
   */
  selectValue?(spec: Spec, raw: Uint8Array, ref: SelectRef): Uint8Array | undefined;
  /** The same for `dataFrom.extract`: the key/value map, or undefined for the default. */
  selectMap?(spec: Spec, raw: Uint8Array, ref: SelectRef): Map<string, Uint8Array> | undefined;
}

export type ProviderSpecOf<K extends keyof SecretStoreProvider> = NonNullable<SecretStoreProvider[K]>;
