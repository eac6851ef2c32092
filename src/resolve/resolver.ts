/**
 * The one resolver behind admission and refresh. A remote key costs one provider call however
 * many Secrets use it:
 * - one client per store version (kind/namespace/name + uid + generation + a hash of the spec),
 *   closed when the store changes or a credential Secret it read changes (re-read when the client
 *   is used `credentialsRecheckMs` after the last read, at once when the provider refuses it or
 *   the store is touched — docs/resolver.md, "Rotation");
 * - a value cache (lru-cache, TTL) of raw bytes per client, key and version; `property`,
 *   decoding and conversion are applied after it, so one call serves every property of a key;
 * - concurrent identical lookups share one in-flight call;
 * - lookups for batching clients (AWS BatchGetSecretValue) that arrive in the same event-loop
 *   turn (or `batchWindowMs`) are sent together, `maxBatch` keys per call;
 * - every call has a deadline (`callTimeoutMs`) that fits inside the webhook's timeout.
 * Logs and errors name stores and keys only, never values.
 */
import { createHash, hash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { otherClassText, servesStore } from '../api/controller-class.ts';
import {
  ambientAllowed,
  ambientIdentityUses,
  ambientMessage,
  DEFAULT_IDENTITY_POLICY,
  type IdentityPolicy,
} from '../api/identity.ts';
import type { ConfigMap, FindRef, RemoteRef, Secret, SecretStore, StoreKind } from '../api/types.ts';
import { EswError, errorMessage, isEswError } from '../errors.ts';
import type { ChangeFeedReceiver } from '../feeds/types.ts';
import { type Logger, objectRef } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import {
  type EndpointOverrides,
  type Provider,
  type ProviderClient,
  ProviderError,
  type RemoteKey,
  type SelectRef,
} from '../providers/types.ts';
import { convertKeys, decodeMap, decodeValue } from '../refs/decoding.ts';
import { extractMap, getProperty } from '../refs/property.ts';
import { ConditionError, namespaceAllowed } from './conditions.ts';
import {
  buildClientContext,
  type ServiceAccountReader,
  type ServiceAccountTokenSource,
} from './credentials.ts';
import { asProviderError, mapProviderError } from './provider-errors.ts';
import type { LookupOptions, Resolver, SecretReader, StoreRef, StoreRegistry } from './types.ts';

export type { ServiceAccountReader, ServiceAccountTokenSource } from './credentials.ts';
export { isTransient, mapProviderError } from './provider-errors.ts';

export interface StoreResolverDeps {
  registry: StoreRegistry;
  secrets: SecretReader;
  providers: Map<string, Provider>;
  logger: Logger;
  metrics?: Metrics;
  /** Clock for cache freshness (ms since epoch). */
  now?: () => number;
  /** How long a fetched value is served from the cache. 0 disables the cache. Default 30 s. */
  cacheTtlMs?: number;
  /** Most values kept. Default 10,000. */
  cacheMaxEntries?: number;
  /** Most bytes kept in the value cache. Default 64 MiB. */
  cacheMaxBytes?: number;
  /** Deadline of every provider call and client creation. Default 8 s. */
  callTimeoutMs?: number;
  /** Bounded SDK retries, passed to providers. Default 3. */
  maxAttempts?: number;
  endpoints?: EndpointOverrides;
  serviceAccountToken?: ServiceAccountTokenSource;
  /** ServiceAccount annotations (cluster mode). */
  serviceAccounts?: ServiceAccountReader;
  /** How long to gather lookups for a batch. Default 0: the current event-loop turn. */
  batchWindowMs?: number;
  /** Which SecretStores may use this server's own identity. Default: ClusterSecretStores only. */
  identity?: IdentityPolicy;
  /** This server's own ServiceAccount token file. Default: the in-cluster mount. */
  ownTokenPath?: string;
  /**
   * How long a client's credential Secrets are trusted: a lookup through a client whose
   * Secrets were read longer ago re-reads them (without waiting) and retires the client if one
   * changed. 0 (the default, `--stores` mode): never. Cluster mode: `--credentials-recheck`.
   */
  credentialsRecheckMs?: number;
  /**
   * The least time between two reads of one client's credential Secrets asked on demand (an
   * authentication error, a touched store): a tenant's store or a revoked key cannot turn
   * into a stream of GETs. Default 30 s.
   */
  credentialsRereadMinMs?: number;
  /**
   * How long a lookup waits for a re-read of its store's credential Secrets (a touched store, a
   * refusal) before it goes on without it: with the client it has after a touch, failing with a
   * retryable ESW_KUBE after a refusal. The lookup's deadline (its signal) cuts the wait shorter.
   * The re-read goes on and later lookups use it. Default 2 s: a GET answers in milliseconds, and
   * an admission (8 s deadline) keeps the rest for its provider call.
   */
  credentialsWaitMs?: number;
  /**
   * `--controller-class`: a store this class does not serve (src/api/controller-class.ts) is
   * refused with ESW_STORE_OTHER_CLASS before any credential is read. Undefined: every store.
   */
  controllerClass?: string;
}

/** A store found, checked and tied to its provider. */
interface ResolvedStore {
  kind: StoreKind;
  name: string;
  namespace: string | undefined;
  label: string;
  /** kind/namespace/name */
  storeKey: string;
  /** storeKey + version: the client and cache identity. */
  identity: string;
  provider: Provider;
  spec: unknown;
}

interface ClientEntry {
  identity: string;
  /** Identity + a serial: values cached through one client are never served for its successor. */
  cacheId: string;
  label: string;
  providerName: string;
  ready: Promise<ProviderClient>;
  /** Lookups using this client right now; a retired client closes when it drops to 0. */
  active: number;
  retired: boolean;
  closed: boolean;
  /** `namespace/name` of each credential Secret read to build it -> its version as read. */
  secretsRead: Map<string, string>;
  /** When a re-read asked on demand (a refusal, a touched store) last started, by `now`. */
  askedAt: number;
  /** When a lookup re-reads them: a period after a read, `credentialsRereadMinMs` after a failed one. */
  recheckAt: number;
  /** A re-read of its credential Secrets in flight; true when one had changed. */
  rereading: Promise<boolean> | undefined;
  /** The re-read asked by a touched store: lookups wait for it (a POST /refresh uses its answer). */
  held: Promise<boolean> | undefined;
  batch: Map<string, BatchItem>;
  batchScheduled: boolean;
}

interface BatchItem {
  ref: RemoteKey;
  waiters: { resolve: (v: Uint8Array) => void; reject: (e: unknown) => void; signal: AbortSignal }[];
}

type Cached = (
  | { fetchedAt: number; bytes: Uint8Array }
  | { fetchedAt: number; map: Map<string, Uint8Array> }
) & {
  /** The cache share it is counted in (`shareOf`), once stored. */
  share?: string;
};

/** What one share of the value cache holds: its keys in the order they were stored. */
interface Share {
  keys: Set<string>;
  bytes: number;
}

interface InFlight<T> {
  promise: Promise<T>;
  startedAt: number;
  /** Fires when every waiter that can cancel has cancelled. */
  cancel: AbortController;
  /** Waiters still listening; at 0 (all cancelled) the call is cancelled too. */
  waiters: number;
}

const DEFAULT_MAX_BATCH = 20;
/** Properties of one cached value remembered for the all-cached path (a bound, not a tuning). */
const MAX_SELECTIONS_PER_VALUE = 64;
/**
 * The value cache is one LRU for every tenant: left to itself, one namespace reading many keys
 * (or a few big ones from an endpoint of its own) evicted every other namespace's values, whose
 * next admissions and syncs then each cost a provider call. So the values are counted in shares —
 * a namespace's SecretStores, or one ClusterSecretStore — and when the cache is full the room is
 * made by the largest share (by entries, or by bytes when bytes are short), its oldest value
 * first: a share is never evicted from while another holds more, so a namespace keeps what it
 * reads as long as it reads no more than the others, and one that reads most gives back its own.
 * A share alone uses the whole cache (one ClusterSecretStore for the cluster: every value cached,
 * as without shares). A value larger than 1/CACHE_SHARES of the bytes is served, never kept.
 */
const CACHE_SHARES = 4;
/** The labels of a cache hit, one object for every count (the tally keeps no reference to it). */
const HIT = Object.freeze({ result: 'hit' });

export class StoreResolver implements Resolver {
  readonly #registry: StoreRegistry;
  readonly #secrets: SecretReader;
  readonly #providers: Map<string, Provider>;
  readonly #log: Logger;
  readonly #metrics: Metrics | undefined;
  readonly #now: () => number;
  readonly #ttl: number;
  readonly #timeoutMs: number;
  readonly #maxAttempts: number;
  readonly #endpoints: EndpointOverrides;
  readonly #saToken: ServiceAccountTokenSource | undefined;
  readonly #saReader: ServiceAccountReader | undefined;
  readonly #batchWindowMs: number;
  readonly #recheckMs: number;
  readonly #rereadMinMs: number;
  readonly #waitMs: number;
  readonly #identity: IdentityPolicy;
  readonly #ownTokenPath: string | undefined;
  /** Per store object: the refusal of a borrowed identity, '' when it names its credentials. */
  readonly #identityRefusals = new WeakMap<SecretStore, string>();
  readonly #class: string | undefined;
  readonly #cache: LRUCache<string, Cached>;
  readonly #shares = new Map<string, Share>();
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #inflight = new Map<string, InFlight<Cached>>();
  readonly #clients = new Map<string, ClientEntry>();
  readonly #identities = new WeakMap<SecretStore, string>();
  readonly #selections = new WeakMap<Uint8Array, Map<string, Buffer>>();
  #closed = false;
  #serial = 0;

  constructor(deps: StoreResolverDeps) {
    this.#registry = deps.registry;
    this.#secrets = deps.secrets;
    this.#providers = deps.providers;
    this.#log = deps.logger;
    this.#metrics = deps.metrics;
    this.#now = deps.now ?? Date.now;
    this.#ttl = deps.cacheTtlMs ?? 30_000;
    this.#timeoutMs = deps.callTimeoutMs ?? 8_000;
    this.#maxAttempts = deps.maxAttempts ?? 3;
    this.#endpoints = deps.endpoints ?? {};
    this.#saToken = deps.serviceAccountToken;
    this.#saReader = deps.serviceAccounts;
    this.#batchWindowMs = deps.batchWindowMs ?? 0;
    this.#recheckMs = deps.credentialsRecheckMs ?? 0;
    this.#rereadMinMs = deps.credentialsRereadMinMs ?? 30_000;
    this.#waitMs = deps.credentialsWaitMs ?? 2_000;
    this.#identity = deps.identity ?? DEFAULT_IDENTITY_POLICY;
    this.#ownTokenPath = deps.ownTokenPath;
    this.#class = deps.controllerClass;
    const maxEntries = deps.cacheMaxEntries ?? 10_000;
    const maxBytes = deps.cacheMaxBytes ?? 64 * 1024 * 1024;
    this.#maxEntries = maxEntries;
    this.#maxBytes = maxBytes;
    this.#cache = new LRUCache<string, Cached>({
      max: maxEntries,
      maxSize: maxBytes,
      sizeCalculation: (v) => cachedSize(v),
      dispose: (v, key) => this.#release(v, key),
      ttl: Math.max(this.#ttl, 1),
      ttlResolution: 0,
      perf: { now: () => this.#now() },
    });
  }

  // ------------------------------------------------------------------ Resolver

  checkStore(store: StoreRef, namespace: string): SecretStore {
    return this.#resolveStore(store, namespace).store;
  }

  async getValue(
    store: StoreRef,
    namespace: string,
    ref: RemoteRef,
    opts: LookupOptions = {},
  ): Promise<Buffer> {
    const { resolved } = this.#resolveStore(store, namespace);
    const key = requireKey(ref, resolved);
    const raw = await this.#lookup(resolved, opts.signal, () => this.#getRawFor(resolved, key, ref, opts));
    return selectValue(raw, key, ref, resolved);
  }

  async getMap(
    store: StoreRef,
    namespace: string,
    ref: RemoteRef,
    opts: LookupOptions = {},
  ): Promise<Map<string, Buffer>> {
    const { resolved } = this.#resolveStore(store, namespace);
    const key = requireKey(ref, resolved);
    const raw = await this.#lookup(resolved, opts.signal, () => this.#getRawFor(resolved, key, ref, opts));
    return selectMap(raw, key, ref, resolved, opts);
  }

  cachedValues(store: StoreRef, namespace: string, refs: readonly RemoteRef[]): Buffer[] | undefined {
    try {
      const { resolved } = this.#resolveStore(store, namespace);
      // Each value selected as its raw value is found (a selection only reads the raw bytes); a
      // reference to the same cache entry as the one before (another property of the same key)
      // reuses its raw value instead of writing the cache key again.
      const values: Buffer[] = [];
      let before: RemoteRef | undefined;
      let raw: Uint8Array | undefined;
      for (const ref of refs) {
        const key = requireKey(ref, resolved);
        if (!before || !sameEntry(before, ref)) raw = this.#peekRaw(resolved, key, ref);
        if (!raw) return undefined;
        before = ref;
        values.push(this.#selectCached(raw, key, ref, resolved));
      }
      this.#metrics?.cacheLookups.inc(HIT, values.length);
      return values;
    } catch {
      return undefined; // getValue gives the same answer, or the error naming the reference
    }
  }

  cachedMap(store: StoreRef, namespace: string, ref: RemoteRef): Map<string, Buffer> | undefined {
    try {
      const { resolved } = this.#resolveStore(store, namespace);
      const key = requireKey(ref, resolved);
      const raw = this.#peekRaw(resolved, key, ref);
      if (!raw) return undefined;
      const map = selectMap(raw, key, ref, resolved, {});
      this.#metrics?.cacheLookups.inc({ result: 'hit' });
      return map;
    } catch {
      return undefined;
    }
  }

  async find(
    store: StoreRef,
    namespace: string,
    find: FindRef,
    opts: LookupOptions = {},
  ): Promise<Map<string, Buffer>> {
    const { resolved } = this.#resolveStore(store, namespace);
    const what = `dataFrom.find of ${resolved.label}`;
    // The strategies apply after the cache: they are not part of the query.
    const query = stableJson({ name: find.name, path: find.path, tags: find.tags });
    const cached = await this.#lookup(resolved, opts.signal, () =>
      this.#findRaw(resolved, find, query, opts),
    );
    let map = 'map' in cached ? cached.map : new Map<string, Uint8Array>();
    if (!opts.skipKeyConversion) map = convertKeys(find.conversionStrategy, map, what);
    return toBuffers(decodeMap(find.decodingStrategy, map, what));
  }

  #findRaw(resolved: ResolvedStore, find: FindRef, query: string, opts: LookupOptions): Promise<Cached> {
    const what = `dataFrom.find of ${resolved.label}`;
    const entry = this.#client(resolved);
    const cacheKey = `${entry.cacheId}\u0000find\u0000${query}`;
    return this.#cached(cacheKey, shareOf(resolved), opts, (signal) =>
      this.#withClient(entry, async (client) => {
        if (!client.findSecrets) {
          throw new EswError(
            'ESW_PROVIDER_INVALID',
            `${resolved.label}: provider "${resolved.provider.name}" cannot list secrets (dataFrom.find)`,
          );
        }
        const findSecrets = client.findSecrets.bind(client);
        this.#log.debug({ store: resolved.label }, 'provider find');
        try {
          return await this.#invoke(
            entry.providerName,
            'findSecrets',
            (s) => findSecrets(find, { signal: s }),
            signal,
          );
        } catch (err: unknown) {
          throw mapProviderError(err, what);
        }
      }).then((map): Cached => ({ fetchedAt: 0, map })),
    );
  }

  /**
   * The check behind SecretStore status (ESO's ValidateStore): the store's client is built — or
   * the live one reused — and the provider's cheap validation call made (ProviderClient.validate),
   * with the usual deadline. Resolves to undefined when the store is valid, else to the stage
   * that failed and its error (an EswError naming the store, never a value): `client` when no
   * client could be built (spec, credentials, identity rules), `probe` when the call failed.
   * A ClusterSecretStore is checked for no namespace in particular (its conditions are not
   * applied); its client is the one every namespace shares.
   */
  async validateStore(
    store: SecretStore,
  ): Promise<{ stage: 'client' | 'probe'; error: EswError } | undefined> {
    const kind = store.kind === 'ClusterSecretStore' ? 'ClusterSecretStore' : 'SecretStore';
    const name = store.metadata?.name ?? '';
    let resolved: ResolvedStore;
    let entry: ClientEntry;
    let client: ProviderClient;
    try {
      resolved = this.#resolveStore({ kind, name }, store.metadata?.namespace ?? 'default', false).resolved;
      entry = this.#client(resolved);
      // The store check comes every few minutes: a store nothing reads often is re-read on time.
      this.#recheckIfDue(entry);
      client = await entry.ready;
    } catch (err: unknown) {
      return { stage: 'client', error: isEswError(err) ? err : mapProviderError(err, 'store') };
    }
    const validate = client.validate?.bind(client);
    if (!validate) return undefined;
    try {
      await this.#withClient(entry, () =>
        this.#invoke(entry.providerName, 'validate', (signal) => validate({ signal })),
      );
      return undefined;
    } catch (err: unknown) {
      const error = mapProviderError(err, resolved.label);
      // A refusal may be a revoked key: its Secrets are re-read at once, as after a refused
      // lookup (bounded alike), so a store nothing reads still picks up a rotation. Not waited
      // for: the next check and every lookup meanwhile use what it finds.
      if (isAuthError(error) && !entry.rereading && this.#mayAsk(entry)) {
        void this.#reread(entry, 'refused by the provider');
      }
      return { stage: 'probe', error };
    }
  }

  /**
   * Opens the change feed `address` of `store` (its `esw.io/change-feed`) through the store's
   * provider client — the store's credentials, identity rules and role chain. Throws an EswError
   * naming the store when the client cannot be built, the provider has no feed, or the address
   * is refused.
   */
  async changeFeed(store: SecretStore, address: string): Promise<ChangeFeedReceiver> {
    const kind = store.kind === 'ClusterSecretStore' ? 'ClusterSecretStore' : 'SecretStore';
    const name = store.metadata?.name ?? '';
    const { resolved } = this.#resolveStore({ kind, name }, store.metadata?.namespace ?? 'default', false);
    const client = await this.#client(resolved).ready;
    if (!client.changeFeed) {
      throw new EswError(
        'ESW_STORE_INVALID',
        `${resolved.label}: provider "${resolved.provider.name}" has no change feed (esw.io/change-feed)`,
      );
    }
    try {
      return client.changeFeed(address);
    } catch (err: unknown) {
      throw mapProviderError(err, resolved.label);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const entries = [...this.#clients.values()];
    this.#clients.clear();
    this.#cache.clear();
    await Promise.all(entries.map((e) => this.#closeEntry(e)));
  }

  /**
   * A Secret one of cluster mode's informers holds anyway was added, changed or deleted
   * (undefined: src/cluster.ts): clients built from another version of it — a credential
   * Secret another store syncs — are retired and the reader forgets it, so the next lookup
   * builds a client from the Secret as it is now, not a period later. The same version
   * (a relist, the echo of the read) keeps them.
   */
  credentialsChanged(namespace: string, name: string, secret: Secret | undefined): void {
    const id = `${namespace}/${name}`;
    const version = secretVersion(secret);
    const retired = this.#retireClients((entry) => {
      const seen = entry.secretsRead.get(id);
      return seen !== undefined && seen !== version ? id : undefined;
    });
    if (retired > 0) this.#secrets.forget?.(namespace, name);
  }

  /**
   * A store's metadata changed while its spec did not (an annotation: `POST /refresh`'s request,
   * `force-sync`, a `kubectl annotate` after a rotation): its live client's credential Secrets
   * are read again, at most once per `credentialsRereadMinMs`, and its lookups wait for the
   * answer, so the refresh that follows uses rotated credentials.
   */
  storeTouched(store: SecretStore): void {
    const kind = store.kind === 'ClusterSecretStore' ? 'ClusterSecretStore' : 'SecretStore';
    const ns = kind === 'SecretStore' ? (store.metadata?.namespace ?? 'default') : '';
    const entry = this.#clients.get(`${kind}/${ns}/${store.metadata?.name ?? ''}`);
    if (!entry || !this.#mayAsk(entry)) return;
    const held = this.#reread(entry, 'store touched');
    entry.held = held;
    void held.then(() => {
      if (entry.held === held) entry.held = undefined;
    });
  }

  /**
   * One lookup through the store's client: waits for a re-read a touched store asked for;
   * re-reads the client's credential Secrets (without waiting) once `credentialsRecheckMs`
   * has passed since they were read; and after an authentication error, re-reads them at once
   * (bounded) and, if one changed, runs the lookup again once with the new client. Neither wait
   * outlasts `credentialsWaitMs` or the lookup's `signal` (#waitForReread).
   */
  async #lookup<T>(rs: ResolvedStore, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    let entry = this.#client(rs);
    if (entry.held) {
      // Not back in time: the client as it is still works unless the provider says otherwise.
      await this.#waitForReread(entry.held, rs.label, 'store touched', signal);
      entry = this.#client(rs);
    }
    this.#recheckIfDue(entry);
    try {
      return await fn();
    } catch (err: unknown) {
      if (!isAuthError(err)) throw err;
      const changed = await this.#rereadAfterAuthError(entry, signal);
      // The refused client is not worth another call; the caller may retry once the API answers.
      if (changed === undefined) throw rereadTooSlow(rs.label, 'refused by the provider');
      if (!changed) throw err;
      return fn();
    }
  }

  /**
   * Waits for a re-read of credential Secrets at most `credentialsWaitMs`: resolves to its answer,
   * or to undefined when it is not back by then (it goes on; later lookups use it). Rejects with
   * a retryable ESW_KUBE naming the store when `signal` (the lookup's deadline) fires first: an
   * API server that does not answer holds no lookup for the kube client's 30 s.
   */
  #waitForReread(
    run: Promise<boolean>,
    label: string,
    trigger: string,
    signal: AbortSignal | undefined,
  ): Promise<boolean | undefined> {
    if (signal?.aborted) return Promise.reject(rereadTooSlow(label, trigger));
    return new Promise<boolean | undefined>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        done();
        reject(rereadTooSlow(label, trigger));
      };
      const timer = setTimeout(() => {
        done();
        resolve(undefined);
      }, this.#waitMs);
      timer.unref();
      signal?.addEventListener('abort', onAbort, { once: true });
      void run.then((changed) => {
        done();
        resolve(changed);
      });
    });
  }

  /**
   * Starts the periodic re-read of a client's credential Secrets when it is due. The lookup at
   * hand goes on with the client as it is (an API server slow to answer must not hold lookups);
   * if the provider refuses it, the refusal joins the re-read.
   */
  #recheckIfDue(entry: ClientEntry): void {
    if (this.#recheckMs > 0 && entry.secretsRead.size > 0 && this.#now() >= entry.recheckAt) {
      void this.#reread(entry, 'period');
    }
  }

  /**
   * Did the credentials of `entry` change, as far as a bounded re-read can tell? undefined: the
   * re-read is not back within the wait (#waitForReread).
   */
  async #rereadAfterAuthError(
    entry: ClientEntry,
    signal: AbortSignal | undefined,
  ): Promise<boolean | undefined> {
    if (entry.retired) return true; // already replaced: another lookup's re-read, an event
    const run =
      entry.rereading ?? (this.#mayAsk(entry) ? this.#reread(entry, 'refused by the provider') : undefined);
    if (!run) return false;
    return this.#waitForReread(run, entry.label, 'refused by the provider', signal);
  }

  /** May a re-read be asked for now? Once per `credentialsRereadMinMs` (the period's own do not count). */
  #mayAsk(entry: ClientEntry): boolean {
    if (entry.retired || entry.secretsRead.size === 0) return false;
    const now = this.#now();
    if (now - entry.askedAt < this.#rereadMinMs) return false;
    entry.askedAt = now;
    return true;
  }

  /**
   * Reads the credential Secrets of `entry` again, bypassing the reader's cache, and retires
   * every client built from one that changed (or was deleted). A Secret that cannot be read now
   * keeps its clients: a flaky API server must not tear down working ones; the next trigger
   * reads it again. Resolves to true when one of `entry`'s had changed; never rejects.
   */
  #reread(entry: ClientEntry, trigger: string): Promise<boolean> {
    if (entry.rereading) return entry.rereading;
    const at = this.#now();
    entry.recheckAt = at + this.#recheckMs;
    this.#log.debug({ store: entry.label, trigger }, 're-reading credential Secrets');
    const run = this.#readVersions(entry.secretsRead.keys()).then((current) => {
      // Not read (an API failure): tried again soon, not a period later.
      if (current.size < entry.secretsRead.size) entry.recheckAt = at + this.#rereadMinMs;
      const stale = (e: ClientEntry) => {
        for (const [id, seen] of e.secretsRead) {
          const now = current.get(id);
          if (now !== undefined && now !== seen) return id;
        }
        return undefined;
      };
      const changed = stale(entry) !== undefined;
      if (changed) this.#retireClients(stale);
      return changed;
    });
    entry.rereading = run;
    void run.then(() => {
      if (entry.rereading === run) entry.rereading = undefined;
    });
    return run;
  }

  /** The current version of each credential object (Secret, CA ConfigMap, ServiceAccount) that could be read. */
  async #readVersions(ids: Iterable<string>): Promise<Map<string, string>> {
    const current = new Map<string, string>();
    await Promise.all(
      [...ids].map(async (id) => {
        const isConfigMap = id.startsWith(CONFIGMAP_PREFIX);
        const isAccount = id.startsWith(SERVICE_ACCOUNT_PREFIX);
        const ref = isConfigMap
          ? id.slice(CONFIGMAP_PREFIX.length)
          : isAccount
            ? id.slice(SERVICE_ACCOUNT_PREFIX.length)
            : id;
        const slash = ref.indexOf('/');
        const [ns, name] = [ref.slice(0, slash), ref.slice(slash + 1)];
        try {
          if (isAccount) {
            const readAccount = this.#saReader;
            if (readAccount) current.set(id, annotationsVersion((await readAccount(ns, name))?.annotations));
            return;
          }
          const readConfigMap = this.#secrets.readConfigMap?.bind(this.#secrets);
          if (isConfigMap && !readConfigMap) return;
          current.set(
            id,
            secretVersion(
              isConfigMap && readConfigMap
                ? await readConfigMap(ns, name, { fresh: true })
                : await this.#secrets.readSecret(ns, name, { fresh: true }),
            ),
          );
        } catch (err: unknown) {
          this.#log.debug(
            { secret: objectRef(id), err: errorMessage(err) },
            'credential Secret not re-read; clients kept',
          );
        }
      }),
    );
    return current;
  }

  /**
   * Retires every client for which `changedSecret` names a credential Secret that changed; the
   * next lookup of its store builds a new one. Returns how many were retired.
   */
  #retireClients(changedSecret: (entry: ClientEntry) => string | undefined): number {
    let retired = 0;
    for (const [storeKey, entry] of this.#clients) {
      const secret = changedSecret(entry);
      if (secret === undefined) continue;
      this.#log.info(
        { store: entry.label, secret: objectRef(secret) },
        'credential Secret changed: rebuilding the client',
      );
      this.#clients.delete(storeKey);
      this.#retire(entry);
      retired++;
    }
    return retired;
  }

  // ------------------------------------------------------------------ stores

  #resolveStore(
    ref: StoreRef,
    namespace: string,
    checkConditions = true,
  ): { store: SecretStore; resolved: ResolvedStore } {
    if (this.#closed) throw new EswError('ESW_INTERNAL', 'resolver is closed');
    const kind = ref.kind ?? 'SecretStore';
    const name = ref.name;
    if (!name)
      throw new EswError('ESW_STORE_INVALID', `store reference without a name (namespace "${namespace}")`);
    let store: SecretStore | undefined;
    let label: string;
    let storeNs: string | undefined;
    if (kind === 'SecretStore') {
      label = `SecretStore "${ref.namespace ?? namespace}/${name}"`;
      if (ref.namespace !== undefined && ref.namespace !== namespace) {
        throw new EswError(
          'ESW_STORE_FORBIDDEN',
          `${label} may only be used from namespace "${ref.namespace}", not from "${namespace}"`,
        );
      }
      store = this.#registry.getStore(kind, name, namespace);
      if (!store)
        throw new EswError(
          'ESW_STORE_NOT_FOUND',
          `SecretStore "${name}" not found in namespace "${namespace}"`,
        );
      this.#checkClass(store, label);
      storeNs = store.metadata?.namespace ?? namespace;
      if (storeNs !== namespace) {
        throw new EswError(
          'ESW_STORE_FORBIDDEN',
          `SecretStore "${storeNs}/${name}" may only be used from namespace "${storeNs}", not from "${namespace}"`,
        );
      }
    } else if (kind === 'ClusterSecretStore') {
      label = `ClusterSecretStore "${name}"`;
      store = this.#registry.getStore(kind, name, undefined);
      if (!store) {
        throw new EswError(
          'ESW_STORE_NOT_FOUND',
          `${label} not found (requested from namespace "${namespace}")`,
        );
      }
      // Another controller's store is left to it whatever its conditions say.
      this.#checkClass(store, label);
      if (checkConditions) this.#checkConditions(store, label, namespace);
    } else {
      throw new EswError('ESW_STORE_INVALID', `unknown store kind "${String(kind)}" for store "${name}"`);
    }

    // The one provider set, found without listing them (this runs on every cached admission too);
    // the list is written only for the refusal.
    const providerSpecs = (store.spec?.provider ?? {}) as Record<string, unknown>;
    let providerName = '';
    let spec: unknown;
    let set = 0;
    for (const k in providerSpecs) {
      const v = providerSpecs[k];
      if (!Object.hasOwn(providerSpecs, k) || v === undefined || v === null) continue;
      if (set++ > 0) continue;
      providerName = k;
      spec = v;
    }
    if (set !== 1) {
      const providers = Object.entries(providerSpecs).filter(([, v]) => v !== undefined && v !== null);
      const detail =
        providers.length === 0
          ? 'has no provider'
          : `has ${providers.length} providers (${providers.map(([k]) => k).join(', ')}); exactly one is allowed`;
      throw new EswError('ESW_STORE_INVALID', `${label} ${detail}`);
    }
    const provider = this.#providers.get(providerName);
    if (!provider) {
      throw new EswError(
        'ESW_STORE_INVALID',
        `${label} uses provider "${providerName}", which this server does not support (supported: ${[...this.#providers.keys()].join(', ')})`,
      );
    }
    this.#checkIdentity(store, kind, storeNs, label, providerName, spec);
    const storeKey = `${kind}/${storeNs ?? ''}/${name}`;
    return {
      store,
      resolved: {
        kind,
        name,
        namespace: storeNs,
        label,
        storeKey,
        identity: `${storeKey}@${this.#version(store)}`,
        provider,
        spec,
      },
    };
  }

  #checkClass(store: SecretStore, label: string): void {
    if (this.#class === undefined || servesStore(store, this.#class)) return;
    throw new EswError(
      'ESW_STORE_OTHER_CLASS',
      `${label} is not served here: ${otherClassText(store, this.#class)}`,
    );
  }

  #checkConditions(store: SecretStore, label: string, namespace: string): void {
    let allowed: boolean;
    try {
      allowed = namespaceAllowed(
        store.spec?.conditions,
        namespace,
        this.#registry.getNamespace(namespace)?.metadata?.labels,
      );
    } catch (err: unknown) {
      if (!(err instanceof ConditionError)) throw err;
      throw new EswError('ESW_STORE_INVALID', `${label}: ${err.message}; access denied`);
    }
    if (!allowed) {
      throw new EswError(
        'ESW_STORE_FORBIDDEN',
        `${label} may not be used from namespace "${namespace}": denied by spec.conditions`,
      );
    }
  }

  /**
   * The admission rule again, for stores that predate this webhook (or were written while it
   * was down): a SecretStore that would borrow this server's identity is refused before any
   * client is built. Memoised per store object.
   */
  #checkIdentity(
    store: SecretStore,
    kind: StoreKind,
    namespace: string | undefined,
    label: string,
    providerName: string,
    spec: unknown,
  ): void {
    let refusal = this.#identityRefusals.get(store);
    if (refusal === undefined) {
      refusal = '';
      if (!ambientAllowed(this.#identity, kind, namespace)) {
        const use = ambientIdentityUses(providerName, spec, `spec.provider.${providerName}`)[0];
        if (use) refusal = `${label}: ${use.field}: ${ambientMessage(use)}`;
      }
      this.#identityRefusals.set(store, refusal);
    }
    if (refusal) throw new EswError('ESW_IDENTITY_FORBIDDEN', refusal);
  }

  /** uid + generation (or resourceVersion) + a hash of the spec, memoised per store object. */
  #version(store: SecretStore): string {
    let v = this.#identities.get(store);
    if (!v) {
      const m = store.metadata;
      const hash = createHash('sha256')
        .update(stableJson(store.spec ?? {}))
        .digest('base64url')
        .slice(0, 22);
      v = `${m?.uid ?? ''}/${m?.generation ?? m?.resourceVersion ?? ''}/${hash}`;
      this.#identities.set(store, v);
    }
    return v;
  }

  // ------------------------------------------------------------------ clients

  #client(rs: ResolvedStore): ClientEntry {
    const current = this.#clients.get(rs.storeKey);
    if (current && current.identity === rs.identity) return current;
    if (current) {
      this.#log.debug({ store: rs.label }, 'store changed: retiring its client');
      this.#clients.delete(rs.storeKey);
      this.#retire(current);
    }
    const secretsRead = new Map<string, string>();
    const entry: ClientEntry = {
      identity: rs.identity,
      cacheId: `${rs.identity}#${++this.#serial}`,
      label: rs.label,
      providerName: rs.provider.name,
      ready: this.#newClient(rs, secretsRead),
      active: 0,
      retired: false,
      closed: false,
      secretsRead,
      askedAt: Number.NEGATIVE_INFINITY,
      recheckAt: this.#now() + this.#recheckMs,
      rereading: undefined,
      held: undefined,
      batch: new Map(),
      batchScheduled: false,
    };
    entry.ready.catch(() => {
      // Not cached: the next lookup tries again (credentials may have been fixed meanwhile).
      if (this.#clients.get(rs.storeKey) === entry) this.#clients.delete(rs.storeKey);
    });
    this.#clients.set(rs.storeKey, entry);
    return entry;
  }

  async #newClient(rs: ResolvedStore, secretsRead: Map<string, string>): Promise<ProviderClient> {
    this.#log.debug({ store: rs.label, provider: rs.provider.name }, 'creating provider client');
    const ctx = buildClientContext(
      { kind: rs.kind, name: rs.name, namespace: rs.namespace, label: rs.label },
      {
        secrets: this.#secrets,
        serviceAccountToken: this.#saToken,
        serviceAccounts: this.#saReader,
        endpoints: this.#endpoints,
        ambientAllowed: ambientAllowed(this.#identity, rs.kind, rs.namespace),
        allowGcpExternalAccount: this.#identity.gcpExternalAccount,
        ...(this.#ownTokenPath ? { ownTokenPath: this.#ownTokenPath } : {}),
        maxAttempts: this.#maxAttempts,
        timeoutMs: this.#timeoutMs,
        onSecretRead: (ns, name, secret) => secretsRead.set(`${ns}/${name}`, secretVersion(secret)),
        // Kept apart from Secrets by a prefix a namespace name cannot have.
        onConfigMapRead: (ns, name, cm) =>
          secretsRead.set(`${CONFIGMAP_PREFIX}${ns}/${name}`, secretVersion(cm)),
        onServiceAccountRead: (ns, name, annotations) =>
          secretsRead.set(`${SERVICE_ACCOUNT_PREFIX}${ns}/${name}`, annotationsVersion(annotations)),
      },
    );
    try {
      return await this.#invoke(rs.provider.name, 'newClient', () => rs.provider.newClient(rs.spec, ctx));
    } catch (err: unknown) {
      if (isEswError(err)) throw err;
      const pe = asProviderError(err);
      if (pe.kind === 'Invalid' || pe.kind === 'NotFound') {
        throw new EswError(
          'ESW_STORE_INVALID',
          `${rs.label}: provider client could not be created: ${pe.message}`,
          {
            cause: pe,
          },
        );
      }
      throw mapProviderError(pe, `${rs.label}: provider client could not be created`);
    }
  }

  #retire(entry: ClientEntry): void {
    entry.retired = true;
    if (entry.active === 0) void this.#closeEntry(entry);
  }

  async #closeEntry(entry: ClientEntry): Promise<void> {
    if (entry.closed) return;
    entry.closed = true;
    let client: ProviderClient;
    try {
      client = await entry.ready;
    } catch {
      return; // never created
    }
    try {
      await client.close();
      this.#log.debug({ store: entry.label }, 'provider client closed');
    } catch (err: unknown) {
      this.#log.warn({ store: entry.label, err: errorMessage(err) }, 'closing provider client failed');
    }
  }

  /** Runs `fn` with the store's client, keeping the client open until `fn` settles. */
  async #withClient<T>(entry: ClientEntry, fn: (client: ProviderClient) => Promise<T>): Promise<T> {
    entry.active++;
    try {
      const client = await entry.ready;
      return await fn(client);
    } finally {
      entry.active--;
      if (entry.retired && entry.active === 0) void this.#closeEntry(entry);
    }
  }

  // ------------------------------------------------------------------ values

  /** The raw bytes a reference reads: its value, or its metadata with `metadataPolicy: Fetch`. */
  #getRawFor(rs: ResolvedStore, key: string, ref: RemoteRef, opts: LookupOptions): Promise<Uint8Array> {
    return ref.metadataPolicy === 'Fetch'
      ? this.#getMetadata(rs, remoteKey(key, ref.version), opts)
      : this.#getRaw(rs, remoteKey(key, ref.version), opts);
  }

  /**
   * `metadataPolicy: Fetch`: the key's metadata (AWS tags, …) as raw JSON bytes, cached and
   * coalesced like a value under its own cache key; `property` and decoding apply after it.
   */
  async #getMetadata(rs: ResolvedStore, ref: RemoteKey, opts: LookupOptions): Promise<Uint8Array> {
    const entry = this.#client(rs);
    const key = ref.key;
    const cached = await this.#cached(metadataCacheKey(entry, ref), shareOf(rs), opts, (signal) =>
      this.#withClient(entry, async (client) => {
        if (!client.getMetadata) {
          throw new EswError(
            'ESW_PROVIDER_INVALID',
            `key "${key}" of ${rs.label}: metadataPolicy Fetch is not supported by this store's provider`,
          );
        }
        const getMetadata = client.getMetadata.bind(client);
        this.#log.debug({ store: rs.label, key }, 'provider getMetadata');
        try {
          return await this.#invoke(
            entry.providerName,
            'getMetadata',
            (s) => getMetadata(ref, { signal: s }),
            signal,
          );
        } catch (err: unknown) {
          throw mapProviderError(err, `metadata of ${describeKey(ref, rs)}`);
        }
      }).then((bytes): Cached => ({ fetchedAt: 0, bytes })),
    );
    return 'bytes' in cached ? cached.bytes : new Uint8Array();
  }

  async #getRaw(rs: ResolvedStore, ref: RemoteKey, opts: LookupOptions): Promise<Uint8Array> {
    const entry = this.#client(rs);
    const cacheKey = valueCacheKey(entry, ref);
    const cached = await this.#cached(cacheKey, shareOf(rs), opts, (signal) =>
      this.#withClient(entry, (client) => this.#fetchOne(rs, entry, client, ref, signal)).then(
        (bytes): Cached => ({ fetchedAt: 0, bytes }),
      ),
    );
    return 'bytes' in cached ? cached.bytes : new Uint8Array();
  }

  /**
   * selectValue, remembered per raw value (by identity: the cache hands out the same bytes until
   * it fetches again) so that the all-cached path does not select and decode the same property
   * on every admission. The buffers are shared: callers only read them.
   */
  #selectCached(raw: Uint8Array, key: string, ref: RemoteRef, rs: ResolvedStore): Buffer {
    const id = `${ref.property ?? ''}\u0000${ref.decodingStrategy ?? ''}\u0000${ref.metadataPolicy ?? ''}`;
    let selections = this.#selections.get(raw);
    const known = selections?.get(id);
    if (known) return known;
    const value = selectValue(raw, key, ref, rs);
    if (!selections) {
      selections = new Map();
      this.#selections.set(raw, selections);
    }
    if (selections.size < MAX_SELECTIONS_PER_VALUE) selections.set(id, value);
    return value;
  }

  /**
   * The cached raw value of `ref`, without creating a client, waiting or counting a lookup;
   * undefined when it is not cached, has expired, or the store's current client has not
   * fetched it (a changed store or credential Secret means a new client, so nothing stale).
   */
  #peekRaw(rs: ResolvedStore, key: string, ref: RemoteRef): Uint8Array | undefined {
    if (this.#ttl <= 0) return undefined;
    const entry = this.#clients.get(rs.storeKey);
    if (!entry || entry.identity !== rs.identity) return undefined;
    const hit = this.#cache.get(
      ref.metadataPolicy === 'Fetch'
        ? metadataCacheKey(entry, remoteKey(key, ref.version))
        : valueCacheKey(entry, remoteKey(key, ref.version)),
    );
    return hit && 'bytes' in hit ? hit.bytes : undefined;
  }

  /**
   * Cache, then in-flight, then `fetch`. `fetch` receives a signal that fires only when every
   * waiter able to cancel has cancelled, so one caller giving up never fails the others.
   */
  async #cached(
    cacheKey: string,
    share: string,
    opts: LookupOptions,
    fetch: (signal: AbortSignal) => Promise<Cached>,
  ): Promise<Cached> {
    // A refresh cycle stamped ahead of our clock must not defeat coalescing.
    const after = opts.fetchedAfter === undefined ? undefined : Math.min(opts.fetchedAfter, this.#now());
    const hit = this.#ttl > 0 ? this.#cache.get(cacheKey) : undefined;
    if (hit && (after === undefined || hit.fetchedAt >= after)) {
      this.#metrics?.cacheLookups.inc({ result: 'hit' });
      return hit;
    }
    const running = this.#inflight.get(cacheKey);
    if (running && (after === undefined || running.startedAt >= after)) {
      this.#metrics?.cacheLookups.inc({ result: 'coalesced' });
      return this.#wait(running, opts.signal);
    }
    this.#metrics?.cacheLookups.inc({ result: 'miss' });
    const startedAt = this.#now();
    const cancel = new AbortController();
    const promise: Promise<Cached> = fetch(cancel.signal)
      .then((value) => {
        const stored = { ...value, fetchedAt: startedAt };
        if (this.#ttl > 0 && !this.#closed) this.#store(cacheKey, share, stored);
        return stored;
      })
      .finally(() => {
        if (this.#inflight.get(cacheKey)?.promise === promise) this.#inflight.delete(cacheKey);
      });
    promise.catch(() => {}); // waiters that cancelled no longer listen
    const flight: InFlight<Cached> = { promise, startedAt, cancel, waiters: 0 };
    this.#inflight.set(cacheKey, flight);
    return this.#wait(flight, opts.signal);
  }

  /** Into the cache, counted in its share; when the cache is full, the largest share makes room. */
  #store(cacheKey: string, share: string, value: Cached): void {
    const size = cachedSize(value);
    this.#cache.delete(cacheKey); // a value fetched again is counted anew
    if (size * CACHE_SHARES > this.#maxBytes) return; // served, never kept
    // Every eviction is the cache's own choice no more (it would take the least recently used,
    // whoever's): at most one value a share holds, per value stored.
    for (let bound = this.#cache.size; bound >= 0; bound--) {
      const entriesFull = this.#cache.size >= this.#maxEntries;
      if (!entriesFull && this.#cache.calculatedSize + size <= this.#maxBytes) break;
      const oldest = this.#largestShare(share, entriesFull)?.keys.values().next().value;
      if (oldest === undefined) break;
      this.#cache.delete(oldest); // #release takes it out of its share
    }
    value.share = share;
    this.#cache.set(cacheKey, value);
    if (this.#cache.peek(cacheKey, { allowStale: true }) !== value) return;
    let counted = this.#shares.get(share);
    if (!counted) {
      counted = { keys: new Set(), bytes: 0 };
      this.#shares.set(share, counted);
    }
    counted.keys.add(cacheKey);
    counted.bytes += size;
  }

  /**
   * The share holding the most entries (or bytes): `own` — the share storing — on a tie, so two
   * shares reading alike settle at half the cache each instead of taking turns.
   */
  #largestShare(own: string, byEntries: boolean): Share | undefined {
    let largest = this.#shares.get(own);
    let most = largest ? (byEntries ? largest.keys.size : largest.bytes) : -1;
    for (const held of this.#shares.values()) {
      const amount = byEntries ? held.keys.size : held.bytes;
      if (amount > most) {
        largest = held;
        most = amount;
      }
    }
    return largest;
  }

  /** The cache let a value go (evicted, expired, replaced, deleted): out of its share. */
  #release(value: Cached, key: string): void {
    const share = value.share === undefined ? undefined : this.#shares.get(value.share);
    if (!share?.keys.delete(key)) return;
    share.bytes -= cachedSize(value);
    if (share.keys.size === 0) this.#shares.delete(value.share as string);
  }

  #wait<T>(flight: InFlight<T>, signal: AbortSignal | undefined): Promise<T> {
    flight.waiters++;
    if (!signal) return flight.promise;
    if (signal.aborted) {
      flight.waiters--;
      if (flight.waiters === 0) flight.cancel.abort();
      return Promise.reject(cancelled());
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        flight.waiters--;
        if (flight.waiters === 0) flight.cancel.abort();
        reject(cancelled());
      };
      signal.addEventListener('abort', onAbort, { once: true });
      flight.promise.then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }

  async #fetchOne(
    rs: ResolvedStore,
    entry: ClientEntry,
    client: ProviderClient,
    ref: RemoteKey,
    signal: AbortSignal,
  ): Promise<Uint8Array> {
    // AWS BatchGetSecretValue reads current versions only; SSM's GetParameters takes selectors.
    if (client.getSecrets && (ref.version === undefined || client.batchesVersions)) {
      return this.#enqueue(rs, entry, client, ref, signal);
    }
    this.#log.debug({ store: rs.label, key: ref.key, version: ref.version }, 'provider getSecret');
    try {
      return await this.#invoke(
        entry.providerName,
        'getSecret',
        (s) => client.getSecret(ref, { signal: s }),
        signal,
      );
    } catch (err: unknown) {
      throw mapProviderError(err, describeKey(ref, rs));
    }
  }

  #enqueue(
    rs: ResolvedStore,
    entry: ClientEntry,
    client: ProviderClient,
    ref: RemoteKey,
    signal: AbortSignal,
  ): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      const k = `${ref.key}\u0000${ref.version ?? ''}`;
      let item = entry.batch.get(k);
      if (!item) {
        item = { ref, waiters: [] };
        entry.batch.set(k, item);
      }
      item.waiters.push({ resolve, reject, signal });
      if (entry.batchScheduled) return;
      entry.batchScheduled = true;
      const flush = () => this.#flush(rs, entry, client);
      if (this.#batchWindowMs > 0) setTimeout(flush, this.#batchWindowMs);
      // Two turns, not one: lookups of one round that wait on the same client (being created,
      // or validated by the store status check at a start) resume a turn apart, and one turn
      // cut a store's 100 keys 92 + 8 — a sixth batch where five do (test/reliability/scale-first-sync).
      else setImmediate(() => setImmediate(flush));
    });
  }

  #flush(rs: ResolvedStore, entry: ClientEntry, client: ProviderClient): void {
    entry.batchScheduled = false;
    const items: BatchItem[] = [];
    for (const item of entry.batch.values()) {
      const live = item.waiters.filter((w) => !w.signal.aborted);
      for (const w of item.waiters) if (w.signal.aborted) w.reject(cancelled());
      if (live.length > 0) items.push({ ref: item.ref, waiters: live });
    }
    entry.batch.clear();
    const max = Math.max(1, client.maxBatch ?? DEFAULT_MAX_BATCH);
    for (let i = 0; i < items.length; i += max) {
      const chunk = items.slice(i, i + max);
      if (chunk.length === 1) {
        const only = chunk[0]!;
        this.#log.debug({ store: rs.label, key: only.ref.key }, 'provider getSecret');
        this.#invoke(entry.providerName, 'getSecret', (s) => client.getSecret(only.ref, { signal: s })).then(
          (bytes) => settle(only, bytes),
          (err: unknown) => settle(only, mapProviderError(err, describeKey(only.ref, rs))),
        );
        continue;
      }
      this.#log.debug({ store: rs.label, keys: chunk.map((c) => c.ref.key) }, 'provider getSecrets');
      const getSecrets = client.getSecrets!.bind(client);
      this.#invoke(entry.providerName, 'getSecrets', (s) =>
        getSecrets(
          chunk.map((c) => c.ref),
          { signal: s },
        ),
      ).then(
        (results) => {
          chunk.forEach((item, j) => {
            const r = results[j];
            if (r instanceof Uint8Array) settle(item, r);
            else settle(item, mapProviderError(r ?? missingResult(), describeKey(item.ref, rs)));
          });
        },
        (err: unknown) => {
          for (const item of chunk) settle(item, mapProviderError(err, describeKey(item.ref, rs)));
        },
      );
    }
  }

  /**
   * One provider call with a deadline, metrics and a debug line. Rejects with a ProviderError
   * (or the EswError a provider raised); mapping to a catalog error is the caller's.
   */
  async #invoke<T>(
    providerName: string,
    call: string,
    fn: (signal: AbortSignal) => Promise<T>,
    cancel?: AbortSignal,
  ): Promise<T> {
    const timeoutMs = this.#timeoutMs;
    const deadline = new AbortController();
    const signal = cancel ? AbortSignal.any([deadline.signal, cancel]) : deadline.signal;
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    let status = 'success';
    try {
      const stops: Promise<never>[] = [
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const err = new ProviderError('Unavailable', `no answer within the deadline of ${timeoutMs} ms`);
            deadline.abort(err);
            reject(err);
          }, timeoutMs);
        }),
      ];
      if (cancel) {
        stops.push(
          new Promise<never>((_, reject) => {
            const onAbort = () => reject(cancelled());
            if (cancel.aborted) onAbort();
            else cancel.addEventListener('abort', onAbort, { once: true });
          }),
        );
      }
      const work = fn(signal);
      work.catch(() => {}); // a failure after the deadline has nobody left to tell
      return await Promise.race([work, ...stops]);
    } catch (err: unknown) {
      if (isEswError(err)) {
        status = err.code;
        throw err;
      }
      const reason: unknown = deadline.signal.reason;
      const pe = deadline.signal.aborted && reason instanceof ProviderError ? reason : asProviderError(err);
      status = pe.kind;
      throw pe;
    } finally {
      clearTimeout(timer);
      const labels = { provider: providerName, call, status };
      this.#metrics?.providerCalls.inc(labels);
      this.#metrics?.providerDuration.observe(labels, (performance.now() - started) / 1000);
    }
  }
}

/** The provider refused the client's identity or its rights (ProviderError kind Forbidden). */
function isAuthError(err: unknown): boolean {
  return isEswError(err) && err.code === 'ESW_PROVIDER_FORBIDDEN';
}

/** A lookup that could not wait longer for its store's credential Secrets: retryable, names no value. */
function rereadTooSlow(label: string, trigger: string): EswError {
  return new EswError(
    'ESW_KUBE',
    `${label}: its credential Secrets are being read again (${trigger}) and the Kubernetes API has not answered in time; retry`,
  );
}

function settle(item: BatchItem, result: Uint8Array | EswError): void {
  for (const w of item.waiters) {
    if (result instanceof Uint8Array) w.resolve(result);
    else w.reject(result);
  }
}

function missingResult(): ProviderError {
  return new ProviderError('Unavailable', 'the batch answer has no entry for this key');
}

function cancelled(): EswError {
  return new EswError('ESW_PROVIDER_UNAVAILABLE', 'lookup cancelled by the caller', {
    cause: new ProviderError('Unavailable', 'cancelled by the caller'),
  });
}

function valueCacheKey(entry: ClientEntry, ref: RemoteKey): string {
  return `${entry.cacheId}\u0000value\u0000${ref.key}\u0000${ref.version ?? ''}`;
}

/**
 * Metadata is cached per version too: Azure tags belong to a version (ESO reads them with
 * ref.version); providers whose metadata belongs to the key (AWS, GCP, Vault) ignore the version.
 */
function metadataCacheKey(entry: ClientEntry, ref: RemoteKey): string {
  return `${entry.cacheId}\u0000metadata\u0000${ref.key}\u0000${ref.version ?? ''}`;
}

function selectRef(key: string, ref: RemoteRef, rs: ResolvedStore): SelectRef {
  return { key, property: ref.property, metadata: ref.metadataPolicy === 'Fetch', store: rs.label };
}

/** getValue's answer from the raw bytes: `property` selected, `decodingStrategy` applied. */
function selectValue(raw: Uint8Array, key: string, ref: RemoteRef, rs: ResolvedStore): Buffer {
  const selected =
    rs.provider.selectValue?.(rs.spec, raw, selectRef(key, ref, rs)) ??
    getProperty(raw, ref.property, { key, store: rs.label });
  return Buffer.from(decodeValue(ref.decodingStrategy, selected, describeRef(key, ref.property, rs)));
}

/** getMap's answer from the raw bytes. */
function selectMap(
  raw: Uint8Array,
  key: string,
  ref: RemoteRef,
  rs: ResolvedStore,
  opts: LookupOptions,
): Map<string, Buffer> {
  let map =
    rs.provider.selectMap?.(rs.spec, raw, selectRef(key, ref, rs)) ??
    extractMap(raw, ref.property, { key, store: rs.label });
  const what = describeRef(key, ref.property, rs);
  if (!opts.skipKeyConversion) map = convertKeys(ref.conversionStrategy, map, what);
  return toBuffers(decodeMap(ref.decodingStrategy, map, what));
}

function requireKey(ref: RemoteRef, rs: ResolvedStore): string {
  if (!ref.key) throw new EswError('ESW_REF_SYNTAX', `remoteRef.key is required (${rs.label})`);
  return ref.key;
}

/** Two references read from the same cache entry (#peekRaw's key: key, version, metadata or not). */
function sameEntry(a: RemoteRef, b: RemoteRef): boolean {
  return (
    a.key === b.key &&
    a.version === b.version &&
    (a.metadataPolicy === 'Fetch') === (b.metadataPolicy === 'Fetch')
  );
}

function remoteKey(key: string, version: string | undefined): RemoteKey {
  return version ? { key, version } : { key };
}

function describeKey(ref: RemoteKey, rs: ResolvedStore): string {
  return `key "${ref.key}"${ref.version ? ` version "${ref.version}"` : ''} of ${rs.label}`;
}

function describeRef(key: string, property: string | undefined, rs: ResolvedStore): string {
  return `key "${key}"${property ? ` property "${property}"` : ''} of ${rs.label}`;
}

function toBuffers(map: Map<string, Uint8Array>): Map<string, Buffer> {
  return new Map([...map].map(([k, v]) => [k, Buffer.from(v)]));
}

/** The value cache share of a store: its namespace's, or the ClusterSecretStore's own. */
function shareOf(rs: ResolvedStore): string {
  return rs.namespace ?? rs.storeKey;
}

function cachedSize(v: Cached): number {
  if ('bytes' in v) return v.bytes.byteLength + 64;
  let n = 64;
  for (const [k, b] of v.map) n += k.length * 2 + b.byteLength + 32;
  return n;
}

/** JSON with object keys sorted, so equal specs hash equally. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
      );
    }
    return v;
  });
}

/** Prefix of a CA ConfigMap in a client's `secretsRead` (a namespace name has no ':'). */
const CONFIGMAP_PREFIX = 'ConfigMap:';
/** Prefix of a ServiceAccount whose annotations a client was built from. */
const SERVICE_ACCOUNT_PREFIX = 'ServiceAccount:';

/** What identifies a ServiceAccount's annotations as read: a digest, compared, never logged. */
function annotationsVersion(annotations: Record<string, string> | undefined): string {
  if (!annotations) return 'absent';
  const sorted = Object.keys(annotations)
    .sort()
    .map((k) => [k, annotations[k]]);
  return `sha256:${hash('sha256', JSON.stringify(sorted), 'hex')}`;
}

/**
 * What identifies the version of a credential Secret (or CA ConfigMap) as read: its
 * resourceVersion from the API, else (manifests given to `--stores`) a digest of its data —
 * compared, never logged.
 */
function secretVersion(secret: Secret | ConfigMap | undefined): string {
  if (!secret) return 'absent';
  const rv = secret.metadata?.resourceVersion;
  if (rv) return `rv:${rv}`;
  const stringData = 'stringData' in secret ? secret.stringData : undefined;
  return `sha256:${hash('sha256', JSON.stringify([secret.data ?? {}, stringData ?? {}]), 'hex')}`;
}
