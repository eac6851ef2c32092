/**
 * A list + watch informer on the project's keep-alive HTTP path (src/kube/http.ts; client-node's
 * `makeInformer` restarts on a fixed timer, reports no health and opens a connection a call). It keeps a cache keyed `namespace/name`,
 * emits add / update / delete, resumes a dropped watch from the last resourceVersion it saw (so
 * nothing is missed), relists on 410 Gone (diffing the new list against the cache, so deletions
 * during the gap are emitted too), and restarts with capped exponential backoff on errors.
 * `healthy()` is true only while the informer is listed *and* its watch is connected.
 */
import { EventEmitter } from 'node:events';
import type { ConfigMap, ExternalSecret, KubeObject, Namespace, Secret, SecretStore } from '../api/types.ts';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { kubeStatusReason, kubeStatusText } from '../observability/sanitize.ts';
import { isGone, KubeApiError, statusCode } from './client.ts';
import { KubeHttp, PARTIAL_LIST, PARTIAL_WATCH, WATCH_SLICE } from './http.ts';
import { internStrings } from './intern.ts';
import type { KubeSource } from './kubeconfig.ts';

export type Sleep = (ms: number) => Promise<void>;
export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export interface InformerOptions {
  /** Collection path, e.g. `/api/v1/secrets` or `/apis/external-secrets.io/v1/externalsecrets`. */
  path: string;
  /** Set on every cached object (list items may come without them). */
  apiVersion: string;
  kind: string;
  labelSelector?: string;
  /** Name for logs, metrics and health reasons; default the path. */
  name?: string;
  logger?: Logger;
  /** Injectable for tests; default setTimeout. */
  sleep?: Sleep;
  /** Backoff after a failure: initialMs * 2^n, at most maxMs. Defaults 500 ms and 30 s. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Server-side watch timeout; the watch is then resumed. Default 300 s. */
  watchTimeoutSeconds?: number;
  /**
   * Applied to every object before it is cached and emitted: drop what this process never reads
   * (Secret data, managedFields) so 10,000s of objects stay cheap — and so the informers never
   * hold secret values at all.
   */
  transform?: (obj: KubeObject) => KubeObject;
  /**
   * What the cache keeps of an object once its event has been handled; default the object the
   * handlers got. For kinds whose handlers read the event's object and nothing reads the cache:
   * the cache then only tells add from update and finds deletions after a relist (identity and
   * resourceVersion are enough), and 100,000 objects cost ~100 bytes each instead of ~1 KiB.
   */
  keep?: (obj: KubeObject) => KubeObject;
  /**
   * List and watch metadata only (PartialObjectMetadata): what `transform` keeps must then be
   * in `metadata`. For kinds watched only to learn that an object changed.
   */
  metadataOnly?: boolean;
  /**
   * The resource may not be served (a CRD added by a later release: `helm upgrade` does not
   * install new CRDs). A 404 on the list then counts as synced, empty and healthy — the
   * informer keeps trying on its backoff and starts when the resource appears — instead of
   * holding `synced` and readiness forever.
   */
  optional?: boolean;
  /** Called whenever health changes. */
  onHealth?: (healthy: boolean) => void;
  /**
   * A watch that stayed connected at least this long and then ended quietly (server timeout,
   * the client's inactivity timeout on a quiet resource) is resumed at once; one that ended
   * sooner without delivering anything is retried after a backoff. Default 1000 ms.
   */
  minWatchMs?: number;
  now?: () => number;
}

export type InformerEvent = 'add' | 'update' | 'delete';

export function objectKey(obj: KubeObject): string {
  // join makes one flat string; a template literal of 13 characters or more is a chain of cons
  // strings, ~24 bytes more per cached object.
  return [obj.metadata?.namespace ?? '', obj.metadata?.name ?? ''].join('/');
}

interface WatchEventObject extends KubeObject {
  code?: number;
  message?: string;
}

export class Informer<T extends KubeObject = KubeObject> {
  readonly name: string;
  readonly cache = new Map<string, T>();
  readonly synced: Promise<void>;
  /** Failures since the last healthy watch (the backoff exponent). */
  failures = 0;
  lastError: string | undefined;
  readonly #opts: InformerOptions;
  readonly #http: KubeHttp;
  readonly #emitter = new EventEmitter();
  readonly #sleep: Sleep;
  #resolveSynced: () => void = () => {};
  #resourceVersion = '';
  #listed = false;
  #absent = false;
  #watching = false;
  #stopped = false;
  #running: Promise<void> | undefined;
  #abort: { abort(): void } | undefined;
  #wakeStop: () => void = () => {};
  readonly #stopSignal: Promise<void>;

  /** `source`: the shared HTTP path (a KubeConfig gets its own). */
  constructor(source: KubeSource | KubeHttp, opts: InformerOptions) {
    this.#http = source instanceof KubeHttp ? source : new KubeHttp(source);
    this.#opts = opts;
    this.name = opts.name ?? opts.path;
    this.#sleep = opts.sleep ?? realSleep;
    this.synced = new Promise((resolve) => {
      this.#resolveSynced = resolve;
    });
    this.#stopSignal = new Promise((resolve) => {
      this.#wakeStop = resolve;
    });
    this.#emitter.setMaxListeners(50);
  }

  on(event: 'add' | 'delete', cb: (obj: T) => void): this;
  on(event: 'update', cb: (obj: T, old: T) => void): this;
  on(event: InformerEvent, cb: (obj: T, old: T) => void): this {
    this.#emitter.on(event, cb);
    return this;
  }

  off(event: InformerEvent, cb: (obj: T, old: T) => void): this {
    this.#emitter.off(event, cb);
    return this;
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.cache.get(`${namespace ?? ''}/${name}`);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  /** Listed at least once: the cache holds every object as of a list, or later. */
  get listed(): boolean {
    return this.#listed;
  }

  /** Listed and watching (or an optional resource the API server does not serve). */
  healthy(): boolean {
    return (this.#listed && this.#watching) || this.#absent;
  }

  /** An optional resource the API server answered 404 for (see InformerOptions.optional). */
  get absent(): boolean {
    return this.#absent;
  }

  /** Why not healthy, or undefined when healthy. */
  reason(): string | undefined {
    if (this.healthy()) return undefined;
    const why = !this.#listed ? 'not listed' : 'not watching';
    return `informer ${this.name}: ${why}${this.lastError ? ` (${this.lastError})` : ''}`;
  }

  get resourceVersion(): string {
    return this.#resourceVersion;
  }

  start(): void {
    if (this.#running) return;
    this.#running = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wakeStop();
    this.#abort?.abort();
    await this.#running;
    this.#setHealth(false, false);
  }

  async #run(): Promise<void> {
    let needList = true;
    while (!this.#stopped) {
      try {
        if (needList) {
          await this.#list();
          needList = false;
        }
        const outcome = await this.#watchOnce();
        if (this.#stopped) break;
        if (outcome === 'gone') {
          needList = true;
          this.lastError = 'watch expired (410 Gone), relisting';
          this.#opts.logger?.info({ informer: this.name }, 'watch expired (410), relisting');
          continue;
        }
        if (outcome === 'events' || outcome === 'quiet') {
          // A watch that delivered events, or stayed up a while, and then ended (server
          // timeout, dropped connection): resume at once from the last resourceVersion.
          this.failures = 0;
          continue;
        }
        this.lastError = 'watch closed without events';
      } catch (err) {
        if (this.#stopped) break;
        this.#setHealth(this.#listed, false);
        if (isGone(err)) {
          needList = true;
          this.lastError = 'watch expired (410 Gone), relisting';
          continue;
        }
        if (this.#opts.optional && !this.#listed && statusCode(err) === 404) {
          if (!this.#absent) {
            this.#opts.logger?.warn(
              { informer: this.name },
              'resource not served (CRD not installed?): treated as empty until it appears',
            );
            this.#absent = true;
            this.#opts.onHealth?.(true);
          }
          this.lastError = 'resource not served (404)';
          this.#resolveSynced();
          const wait = this.#opts.backoff?.maxMs ?? 30_000;
          await Promise.race([this.#sleep(wait), this.#stopSignal]);
          continue;
        }
        this.lastError = errorMessage(err).split('\n')[0];
        this.#opts.logger?.warn(
          { informer: this.name, status: statusCode(err), failures: this.failures + 1 },
          `informer error: ${this.lastError}`,
        );
      }
      const initial = this.#opts.backoff?.initialMs ?? 500;
      const max = this.#opts.backoff?.maxMs ?? 30_000;
      const delay = Math.min(max, initial * 2 ** Math.min(this.failures, 30));
      this.failures++;
      await Promise.race([this.#sleep(delay), this.#stopSignal]);
    }
  }

  async #list(): Promise<void> {
    const items: T[] = [];
    let cont: string | undefined;
    let rv = '';
    for (let page = 0; page < 10_000; page++) {
      const res = (await this.#http.request('GET', this.#opts.path, {
        query: { labelSelector: this.#opts.labelSelector, limit: 500, continue: cont },
        ...(this.#opts.metadataOnly ? { accept: PARTIAL_LIST } : {}),
      })) as { items?: T[]; metadata?: { resourceVersion?: string; continue?: string } };
      for (const item of res.items ?? []) items.push(this.#typed(item));
      rv = res.metadata?.resourceVersion ?? '';
      cont = res.metadata?.continue || undefined;
      if (!cont) break;
    }
    const seen = new Set<string>();
    for (const [i, obj] of items.entries()) {
      // A (re)list of 10,000 objects reaches the handlers (the refresher among them) one slice per
      // turn of the event loop, as watch events do: admission shares the loop.
      if (i > 0 && i % WATCH_SLICE === 0) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (this.#stopped) return;
      }
      const key = objectKey(obj);
      seen.add(key);
      this.#apply('ADDED', obj);
    }
    for (const [key, old] of [...this.cache]) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.#emit('delete', old);
      }
    }
    this.#resourceVersion = rv;
    this.#listed = true;
    this.#absent = false;
    this.#resolveSynced();
  }

  /** One watch: resolves when the stream ends ('events' if it delivered any, 'gone' on 410). */
  #watchOnce(): Promise<'events' | 'quiet' | 'empty' | 'gone'> {
    const now = this.#opts.now ?? Date.now;
    return new Promise((resolve, reject) => {
      let delivered = false;
      let gone = false;
      let finished = false;
      let connectedAt: number | undefined;
      const finish = (err: unknown) => {
        if (finished) return;
        finished = true;
        let outcome: 'events' | 'quiet' | 'empty' | 'gone' | undefined;
        if (gone) outcome = 'gone';
        else if (err && !this.#stopped) outcome = undefined;
        else if (delivered) outcome = 'events';
        else if (connectedAt !== undefined && now() - connectedAt >= (this.#opts.minWatchMs ?? 1000)) {
          outcome = 'quiet';
        } else outcome = 'empty';
        // A routine end (the server's timeoutSeconds) is resumed at once: health stays up
        // unless the resumed watch fails. Anything else is reported at once.
        if (outcome !== 'events' && outcome !== 'quiet') this.#setHealth(this.#listed, false);
        if (outcome === undefined) reject(err);
        else resolve(outcome);
      };
      const onEvent = (type: string, obj: WatchEventObject) => {
        if (finished) return;
        if (type === 'ERROR') {
          if (obj?.code === 410) gone = true;
          else
            finish(
              // The Status message may echo values: only its code, reason and fields.
              new KubeApiError(
                obj?.code ?? 0,
                kubeStatusReason(obj),
                `watch ${this.name}: API server ended the watch: ${kubeStatusText(obj?.code ?? 0, obj)}`,
              ),
            );
          return;
        }
        delivered = true;
        this.failures = 0;
        const rv = obj?.metadata?.resourceVersion;
        if (rv) this.#resourceVersion = rv;
        if (type === 'BOOKMARK') return;
        this.#apply(type, this.#typed(obj as T));
      };
      const handle = this.#http.watch(
        this.#opts.path,
        {
          resourceVersion: this.#resourceVersion || undefined,
          allowWatchBookmarks: true,
          labelSelector: this.#opts.labelSelector,
          timeoutSeconds: this.#opts.watchTimeoutSeconds ?? 300,
        },
        (type, obj) => onEvent(type, obj as WatchEventObject),
        {
          what: `watch ${this.name}`,
          ...(this.#opts.metadataOnly ? { accept: PARTIAL_WATCH } : {}),
          onOpen: () => {
            if (this.#stopped || finished) return;
            connectedAt = now();
            this.lastError = undefined;
            this.#setHealth(this.#listed, true);
          },
        },
      );
      this.#abort = handle;
      if (this.#stopped) handle.abort();
      handle.done.then(() => finish(undefined), finish);
    });
  }

  #typed(obj: T): T {
    // A metadata-only read answers PartialObjectMetadata: typed as the kind watched.
    const meta = this.#opts.metadataOnly === true;
    const typed = {
      ...obj,
      apiVersion: (meta ? undefined : obj.apiVersion) ?? this.#opts.apiVersion,
      kind: (meta ? undefined : obj.kind) ?? this.#opts.kind,
    };
    // Cached for as long as the object exists: one copy of each repeated short string (intern.ts).
    return internStrings(this.#opts.transform ? (this.#opts.transform(typed) as T) : typed);
  }

  #apply(type: string, obj: T): void {
    const key = objectKey(obj);
    const old = this.cache.get(key);
    if (type === 'DELETED') {
      this.cache.delete(key);
      this.#emit('delete', old ?? obj);
      return;
    }
    this.cache.set(key, this.#opts.keep ? (this.#opts.keep(obj) as T) : obj);
    if (!old) this.#emit('add', obj);
    else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.#emit('update', obj, old);
  }

  #emit(event: InformerEvent, obj: T, old?: T): void {
    for (const cb of this.#emitter.listeners(event)) {
      try {
        (cb as (o: T, p?: T) => void)(obj, old);
      } catch (err) {
        this.#opts.logger?.error(
          { informer: this.name, event },
          `informer handler failed: ${errorMessage(err)}`,
        );
      }
    }
  }

  #setHealth(listed: boolean, watching: boolean): void {
    const before = this.healthy();
    this.#listed = listed;
    this.#watching = watching;
    if (before !== this.healthy()) this.#opts.onHealth?.(this.healthy());
  }
}

/** Label of placeholder Secrets (the mutating webhook's objectSelector). */
export const INJECT_LABEL = 'esw.io/inject';
/** Label ESO puts on the target Secrets it manages. */
export const MANAGED_LABEL = 'reconcile.external-secrets.io/managed';

export interface InformerSet {
  externalSecrets: Informer<ExternalSecret>;
  secretStores: Informer<SecretStore>;
  clusterSecretStores: Informer<SecretStore>;
  /** ClusterExternalSecrets (cluster-scoped), fanned out by the leader. */
  clusterExternalSecrets: Informer<KubeObject>;
  namespaces: Informer<Namespace>;
  /** Secrets labelled `esw.io/inject=true`. */
  placeholderSecrets: Informer<Secret>;
  /**
   * Secrets labelled `reconcile.external-secrets.io/managed=true`. Its handlers get each Secret
   * (projected, without data); its cache keeps identity and resourceVersion (`keep`), and with
   * `managedSecretKeep` what the refresher remembers of the version.
   */
  managedSecrets: Informer<Secret>;
  /** With `configMapProjection`: ConfigMaps with the managed label (generic targets). */
  managedConfigMaps?: Informer<ConfigMap>;
  /**
   * templateFrom sources (with `templateSources`): the informer over every ConfigMap or every
   * Secret, metadata only, kept as name, namespace and resourceVersion — to learn that one
   * changed. Started on the first call (the first ExternalSecret naming such a source), so a
   * cluster that uses none pays nothing; `onStart` is called once when it is.
   */
  watchTemplateSources(kind: 'ConfigMap' | 'Secret'): void;
  /**
   * Generic custom-resource targets: an informer over the objects of `path` (a namespaced
   * resource's cluster-wide list) with the managed label, kept through `transform`; started at
   * once, stopped with the others. Undefined once stopped.
   */
  watchManaged(
    path: string,
    apiVersion: string,
    kind: string,
    transform: (obj: KubeObject) => KubeObject,
  ): Informer<KubeObject> | undefined;
  /** Reasons the informers are not healthy; empty when all are listed and watching (/readyz). */
  healthy(): string[];
  /** Resolves once every informer has listed once. */
  synced: Promise<void>;
  stop(): Promise<void>;
}

export interface StartInformersOptions {
  /** Fed with SecretStores, ClusterSecretStores and Namespaces. */
  registry: { upsert(obj: KubeObject): void; remove(obj: KubeObject): void };
  metrics?: Pick<Metrics, 'informerHealthy'>;
  logger?: Logger;
  sleep?: Sleep;
  backoff?: { initialMs?: number; maxMs?: number };
  /** ExternalSecret version to watch; default v1. */
  esoVersion?: string;
  /**
   * What the Secret informers keep of a Secret; default `withoutData`. Cluster mode keeps the
   * hash of the data too (src/refresher/secret-data.ts), never the data.
   */
  secretProjection?: (obj: KubeObject) => KubeObject;
  /**
   * What the managed-Secret cache keeps; default `identityOnly`. The refresher's replicas keep
   * with it the fingerprint of the sync that wrote or compared that version
   * (src/refresher/known-targets.ts), so an unchanged target costs no GET.
   */
  managedSecretKeep?: (obj: KubeObject) => KubeObject;
  /**
   * Watch ConfigMaps and Secrets for templateFrom (the refresher's replicas only), from the
   * first `watchTemplateSources(kind)` on; `started` receives each informer as it starts.
   */
  templateSources?: (kind: 'ConfigMap' | 'Secret', informer: Informer<KubeObject>) => void;
  /**
   * Watch ConfigMaps with the managed label (generic targets allowed to be ConfigMaps), kept
   * through this projection (cluster mode: without values, with their hash).
   */
  configMapProjection?: (obj: KubeObject) => KubeObject;
}

/**
 * What the templateFrom informers keep of an object: its identity and version, nothing else
 * (10,000s of ConfigMaps and Secrets cost a few hundred bytes each, and no value is ever held).
 */
export function identityOnly(obj: KubeObject): KubeObject {
  const m = obj.metadata ?? {};
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    metadata: {
      name: m.name,
      namespace: m.namespace,
      resourceVersion: m.resourceVersion,
    },
  } as KubeObject;
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** Drops managedFields and kubectl's last-applied copy: nothing here reads them. */
export function slim(obj: KubeObject): KubeObject {
  const meta = obj.metadata;
  if (!meta || (!meta.managedFields && !meta.annotations?.[LAST_APPLIED])) return obj;
  const { managedFields: _m, ...rest } = meta;
  const annotations = meta.annotations ? { ...meta.annotations } : undefined;
  if (annotations) delete annotations[LAST_APPLIED];
  return { ...obj, metadata: { ...rest, ...(annotations ? { annotations } : {}) } };
}

/**
 * What the ExternalSecret informer keeps, and hands the refresher (which holds the same objects):
 * `slim`, and of the status what is read — the Ready condition's status, reason and transition
 * time (the next status patch), the other conditions whole (carried into that patch),
 * `refreshTime` and `syncedResourceVersion` (the refresh gate after a restart). Not `binding` nor
 * the Ready condition's message: the echo of our own last write, which nothing reads, and a merge
 * patch of status leaves what it omits as it is.
 */
export function externalSecretView(obj: KubeObject): KubeObject {
  const es = slim(obj) as ExternalSecret;
  const status = es.status;
  if (!status) return es;
  const { binding: _b, conditions, ...rest } = status;
  return {
    ...es,
    status: {
      ...rest,
      ...(conditions
        ? { conditions: conditions.map((c) => (c.type === 'Ready' ? withoutMessage(c) : c)) }
        : {}),
    },
  } as KubeObject;
}

function withoutMessage<C extends { message?: string }>(condition: C): Omit<C, 'message'> {
  const { message: _m, ...rest } = condition;
  return rest;
}

/**
 * Secrets are cached without their data: the refresher re-reads a Secret before it writes it, so
 * the informers only need metadata — and this process never holds every managed value in memory.
 */
export function withoutData(obj: KubeObject): KubeObject {
  const { data: _d, stringData: _s, ...rest } = slim(obj) as Secret;
  return rest;
}

/** Starts the informers of cluster mode; call `stop()` at shutdown. */
export function startInformers(source: KubeSource | KubeHttp, opts: StartInformersOptions): InformerSet {
  const http = source instanceof KubeHttp ? source : new KubeHttp(source);
  const v = opts.esoVersion ?? 'v1';
  const eso = `external-secrets.io/${v}`;
  const make = <T extends KubeObject>(
    name: string,
    path: string,
    apiVersion: string,
    kind: string,
    labelSelector?: string,
    transform: (obj: KubeObject) => KubeObject = slim,
    metadataOnly = false,
    optional = false,
    keep?: (obj: KubeObject) => KubeObject,
  ): Informer<T> => {
    opts.metrics?.informerHealthy.set({ resource: name }, 0);
    return new Informer<T>(http, {
      name,
      path,
      apiVersion,
      kind,
      ...(labelSelector ? { labelSelector } : {}),
      ...(opts.logger ? { logger: opts.logger } : {}),
      ...(opts.sleep ? { sleep: opts.sleep } : {}),
      ...(opts.backoff ? { backoff: opts.backoff } : {}),
      onHealth: (ok) => opts.metrics?.informerHealthy.set({ resource: name }, ok ? 1 : 0),
      transform,
      ...(metadataOnly ? { metadataOnly } : {}),
      ...(optional ? { optional } : {}),
      ...(keep ? { keep } : {}),
    });
  };
  const set = {
    externalSecrets: make<ExternalSecret>(
      'externalsecrets',
      `/apis/${eso}/externalsecrets`,
      eso,
      'ExternalSecret',
      undefined,
      externalSecretView,
    ),
    secretStores: make<SecretStore>('secretstores', `/apis/${eso}/secretstores`, eso, 'SecretStore'),
    clusterSecretStores: make<SecretStore>(
      'clustersecretstores',
      `/apis/${eso}/clustersecretstores`,
      eso,
      'ClusterSecretStore',
    ),
    // Optional: an install upgraded from a release without its CRD keeps working without it.
    clusterExternalSecrets: make<KubeObject>(
      'clusterexternalsecrets',
      `/apis/${eso}/clusterexternalsecrets`,
      eso,
      'ClusterExternalSecret',
      undefined,
      slim,
      false,
      true,
    ),
    namespaces: make<Namespace>('namespaces', '/api/v1/namespaces', 'v1', 'Namespace'),
    placeholderSecrets: make<Secret>(
      'secrets-placeholder',
      '/api/v1/secrets',
      'v1',
      'Secret',
      `${INJECT_LABEL}=true`,
      opts.secretProjection ?? withoutData,
    ),
    managedSecrets: make<Secret>(
      'secrets-managed',
      '/api/v1/secrets',
      'v1',
      'Secret',
      `${MANAGED_LABEL}=true`,
      opts.secretProjection ?? withoutData,
      false,
      false,
      // Handlers read these Secrets (the refresher's restore check); the cache is read for the
      // version of a target only (managedSecretKeep).
      opts.managedSecretKeep ?? identityOnly,
    ),
  };
  for (const inf of [set.secretStores, set.clusterSecretStores, set.namespaces] as Informer[]) {
    inf.on('add', (o) => opts.registry.upsert(o));
    inf.on('update', (o) => opts.registry.upsert(o));
    inf.on('delete', (o) => opts.registry.remove(o));
  }
  const managedConfigMaps = opts.configMapProjection
    ? make<ConfigMap>(
        'configmaps-managed',
        '/api/v1/configmaps',
        'v1',
        'ConfigMap',
        `${MANAGED_LABEL}=true`,
        opts.configMapProjection,
      )
    : undefined;
  const all = [...Object.values(set), ...(managedConfigMaps ? [managedConfigMaps] : [])] as Informer[];
  for (const inf of all) inf.start();
  // Started later, on demand: health counts them from then on; `synced` is the others'.
  const sources = new Map<'ConfigMap' | 'Secret', Informer>();
  let stopped = false;
  const watchTemplateSources = (kind: 'ConfigMap' | 'Secret') => {
    if (!opts.templateSources || stopped || sources.has(kind)) return;
    const [name, path] =
      kind === 'ConfigMap'
        ? ['configmaps-template', '/api/v1/configmaps']
        : ['secrets-template', '/api/v1/secrets'];
    const inf = make<KubeObject>(name, path, 'v1', kind, undefined, identityOnly, true);
    sources.set(kind, inf);
    opts.templateSources(kind, inf);
    inf.start();
  };
  const managed: Informer[] = [];
  const watchManaged = (
    path: string,
    apiVersion: string,
    kind: string,
    transform: (obj: KubeObject) => KubeObject,
  ) => {
    if (stopped) return undefined;
    const inf = make<KubeObject>(
      `${kind.toLowerCase()}-managed`,
      path,
      apiVersion,
      kind,
      `${MANAGED_LABEL}=true`,
      transform,
    );
    managed.push(inf);
    inf.start();
    return inf;
  };
  const every = () => [...all, ...sources.values(), ...managed];
  return {
    watchManaged,
    ...set,
    ...(managedConfigMaps ? { managedConfigMaps } : {}),
    watchTemplateSources,
    healthy: () =>
      every()
        .map((i) => i.reason())
        .filter((r): r is string => r !== undefined),
    synced: Promise.all(all.map((i) => i.synced)).then(() => undefined),
    stop: async () => {
      stopped = true;
      await Promise.all(every().map((i) => i.stop()));
    },
  };
}
