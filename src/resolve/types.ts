/**
 * The resolver contract shared by admission (placeholder Secrets) and the refresher
 * (ExternalSecret targets and placeholder refresh). Implemented in ./resolver.ts.
 */
import type {
  ConfigMap,
  FindRef,
  Namespace,
  RemoteRef,
  Secret,
  SecretStore,
  StoreKind,
} from '../api/types.ts';

export interface StoreRef {
  name: string;
  kind: StoreKind;
  /**
   * A SecretStore's namespace, when the reference names one explicitly. A SecretStore serves
   * only its own namespace: any other value is refused with ESW_STORE_FORBIDDEN.
   */
  namespace?: string;
}

/**
 * Where stores, namespaces and credential Secrets come from: the Kubernetes informers in
 * cluster mode, the `--stores` manifests in standalone mode. Reads are synchronous and local,
 * so admission never makes an API call to find a store.
 */
export interface StoreRegistry {
  getStore(kind: StoreKind, name: string, namespace: string | undefined): SecretStore | undefined;
  getNamespace(name: string): Namespace | undefined;
}

/** Reads a credential Secret (auth.secretRef). Cluster mode: API GET with a short cache. */
export interface SecretReader {
  /** `fresh`: bypass any cache (the credential re-check must see the current version). */
  readSecret(namespace: string, name: string, opts?: { fresh?: boolean }): Promise<Secret | undefined>;
  /** A Secret known to have changed: the next read asks for it again, whatever is cached. */
  forget?(namespace: string, name: string): void;
  /** A CA ConfigMap (Vault `caProvider` of type ConfigMap), read and cached like a Secret. */
  readConfigMap?(namespace: string, name: string, opts?: { fresh?: boolean }): Promise<ConfigMap | undefined>;
}

export interface LookupOptions {
  /** Abort (and fail with ESW_PROVIDER_UNAVAILABLE) when this signal fires. */
  signal?: AbortSignal;
  /**
   * Refresh path: accept a cached value only if it was fetched at or after this time (ms since
   * epoch). Concurrent refreshes of one key inside a cycle still cost one call.
   */
  fetchedAfter?: number;
  /**
   * getMap / find: keep the remote key names as they are, without `conversionStrategy`.
   * ESO skips the conversion when `dataFrom[].rewrite` is set (the rewrite renames instead).
   */
  skipKeyConversion?: boolean;
}

export interface Resolver {
  /** Throws EswError ESW_STORE_NOT_FOUND (404) / ESW_STORE_FORBIDDEN (403) / ESW_STORE_INVALID. */
  checkStore(store: StoreRef, namespace: string): SecretStore;
  /** The value of one remoteRef: property extracted, decodingStrategy applied. */
  getValue(store: StoreRef, namespace: string, ref: RemoteRef, opts?: LookupOptions): Promise<Buffer>;
  /** `dataFrom.extract`: every top-level property of the JSON secret (optionally of `property`). */
  getMap(
    store: StoreRef,
    namespace: string,
    ref: RemoteRef,
    opts?: LookupOptions,
  ): Promise<Map<string, Buffer>>;
  /**
   * The all-cached path of admission: what getValue would answer for every one of `refs`, taken
   * from the value cache alone — no provider call, no promise, no deadline. undefined when any
   * of them is not cached (or has expired) or cannot be answered without an error (store not
   * found or not allowed here, property missing…): getValue then gives the answer, or the error.
   * The buffers may be shared with other callers: read only. Optional: a resolver without a
   * cache need not offer it.
   */
  cachedValues?(store: StoreRef, namespace: string, refs: readonly RemoteRef[]): Buffer[] | undefined;
  /** getMap's answer from the value cache alone, or undefined (as `cachedValues`). */
  cachedMap?(store: StoreRef, namespace: string, ref: RemoteRef): Map<string, Buffer> | undefined;
  /** `dataFrom.find`: secret name (conversion applied) -> value. */
  find(store: StoreRef, namespace: string, find: FindRef, opts?: LookupOptions): Promise<Map<string, Buffer>>;
  /**
   * SecretStore status: builds the store's client and makes the provider's validation call.
   * undefined when valid, else which stage failed and why (messages name stores, never values).
   */
  validateStore?(store: SecretStore): Promise<{ stage: 'client' | 'probe'; error: Error } | undefined>;
  close(): Promise<void>;
}
