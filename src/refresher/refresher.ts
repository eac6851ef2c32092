/**
 * The refresher: keeps ExternalSecret targets and placeholder Secrets true to their remote
 * values. Inputs are informer events; work runs from one due-time queue in one bounded work loop,
 * only for the objects this replica owns (all of them with `start()`, the objects of its shards
 * with `setShards()`; see docs/refresher.md).
 *
 * Scheduling, designed for provider cost:
 * - new and changed objects (new generation, new force-sync value, a tampered or deleted
 *   target) are urgent and go ahead of routine refreshes; the urgent lane is kept by store, so a
 *   round takes a store's new objects together and fetches their keys in full batches;
 * - routine refreshes fall on the rounds of their store (src/refresher/rounds.ts): every object
 *   of a round comes due in the same millisecond, so the round's keys are fetched together (one
 *   AWS batch per 20 keys of a store) and each lookup asks for a value fetched at or after the
 *   round's time (`fetchedAfter`);
 * - after a restart or a shard handover, an object synced less than one interval ago
 *   (status.refreshTime) keeps its round instead of being synced again; overdue ones are spread
 *   over the first pass window;
 * - the echo of our own writes (the status patch coming back as a MODIFIED event, possibly
 *   before the sync that wrote it has finished) never schedules a sync: an update is a change
 *   only when its generation or force-sync value differs from the one synced or being synced;
 * - failures back off exponentially (2 s doubling, capped at 5 min, honouring Retry-After),
 *   keep the Secret's data and never hot-loop.
 */

import { storeRefsOf } from '../api/controller-class.ts';
import { parseDuration } from '../api/duration.ts';
import { compileSyncWindows, type SyncWindows } from '../api/sync-windows.ts';
import type { ConfigMap, ExternalSecret, KubeObject, Secret } from '../api/types.ts';
import { errorMessage, isEswError } from '../errors.ts';
import { type Logger, objectRef } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { ownWords } from '../observability/sanitize.ts';
import { isProviderError } from '../providers/types.ts';
import type { Resolver, StoreRef } from '../resolve/types.ts';
import {
  esoResourceVersion,
  needsRefresh,
  type SyncBasis,
  type SyncOutcome,
  syncExternalSecret,
  syncedOf,
} from './external-secret.ts';
import { configMapIntact, kindId, manifestOf, objectIntact } from './generic-target.ts';
import type { KubeWriter, TargetState } from './ports.ts';
import { DueQueue, nextSlot, Priority, shardOf } from './queue.ts';
import { RoundPlanner } from './rounds.ts';
import { intact } from './secret-data.ts';
import { type TemplateSourceKind, templateSourceRefs } from './template-from.ts';
import {
  esReadsFrom,
  forceSyncOf,
  MAX_REQUEST_KEYS,
  REFRESH_REQUEST_ANNOTATION,
  refreshRequestOf,
  type StoreId,
  sameStore,
  storeOfObject,
  type TriggerKind,
  type TriggerSource,
} from './triggers.ts';

export const FORCE_SYNC = 'force-sync';
const DEFAULT_INTERVAL_MS = 3_600_000;
const BACKOFF_BASE_MS = 2_000;

/**
 * Objects whose lookups a round starts before the refresher lets the event loop turn: admission
 * shares this loop, and a round's synchronous preparation (up to 800 objects) would otherwise run
 * in one stretch (bench/RESULTS.md, "Admission under refresh").
 */
export const REFRESH_SLICE = 64;

/**
 * Dependents a shard gain's replay schedules before the refresher lets the event loop turn: a
 * gain of every shard replays a thousand stores' asks, 100,000 objects (bench/RESULTS.md,
 * "refresher: shard-gain replay").
 */
export const REPLAY_SLICE = 256;

/**
 * Objects a gain (`start()`, `setShards()`) looks at before the refresher lets the event loop
 * turn: each one gained is scheduled from its status, ESO's resource version (a sha3) computed
 * and compared, and a leader's start() at 100,000 ExternalSecrets held the loop 0.55–0.6 s in one
 * stretch (bench/RESULTS.md, "refresher: shard gain scheduling").
 */
export const SCHEDULE_SLICE = 256;

/** Lets the event loop turn (I/O, admission requests waiting) before more synchronous work. */
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
const BACKOFF_CAP_MS = 300_000;

export interface PlaceholderSyncer {
  /** Re-resolves one placeholder Secret; returns its refresh interval (0 = never). */
  sync(secret: Secret, opts: { fetchedAfter: number; kube: KubeWriter }): Promise<SyncOutcome>;
  interval(secret: Secret): number;
  /** The store it reads (its round group) and the first remote key (its seed). */
  phaseSeed(secret: Secret): { group: string; seed: string };
  /** The store and remote keys it reads (prefetch, push refreshes); undefined: unknown. */
  reads?(secret: Secret): { store: StoreRef; refs: { key: string; version?: string }[] } | undefined;
}

export interface RefresherOptions {
  resolver: Resolver;
  kube: KubeWriter;
  logger: Logger;
  metrics?: Metrics;
  placeholders?: PlaceholderSyncer;
  now?: () => number;
  /** Timer used by the run loop; tests drive `tick()` instead. */
  setTimer?: (fn: () => void, ms: number) => { cancel(): void };
  /** Syncs running at once (each makes a few sequential API calls). Default 16. */
  concurrency?: number;
  /**
   * Objects taken per round (their keys prefetched together). Default 200: small enough that a
   * round's syncs finish well inside the value cache's TTL, so no sync fetches again.
   */
  roundSize?: number;
  /** Window over which overdue objects are spread after a start. Default 60 s. */
  firstPassWindowMs?: number;
  /** Shards of the keyspace (objects are sharded by namespace). Default 1. */
  shards?: number;
  /**
   * Whether the Lease of an owned shard still lets this replica write (ShardCoordinator.mayWrite):
   * false from its renew deadline on, before the coordinator's next round drops the shard. Its
   * objects are then treated as not owned: writes refused, syncs abandoned. Default: always.
   */
  mayWrite?: (shard: number) => boolean;
  /** Kinds generic targets may be (`--generic-target-kinds`); none by default. */
  genericTargetKinds?: readonly string[];
  /**
   * How long a store's refresh request or force-sync stays one that a shard gained later acts on
   * (`#replay`). Default 10 min: far longer than a takeover (the lease duration and a retry
   * period or two) plus the urgent lane's wait for a store of thousands of dependents.
   */
  requestReplayMs?: number;
  /**
   * The least time between two refreshes a store's own marks (a new `force-sync`, a new
   * `esw.io/refresh-request`) start: marks inside it are merged into one refresh at its end.
   * Default 10 s (`STORE_MARK_SPACING_MS`).
   */
  storeMarkSpacingMs?: number;
  /**
   * A target as this replica's managed informers hold it: a Secret by `namespace/name`
   * (KnownTargets.state), a generic target by `Kind|namespace/name` (GenericTargets.state) — read
   * once per object scheduled from its status, so a target edited or deleted while no replica
   * watched it is restored at the start or gain, not an interval later. Default: unknown.
   */
  targetState?: (target: string) => TargetState;
}

/**
 * Whoever may patch a store can write a new mark on it as often as it likes, and each one acted
 * on costs a fresh provider read of every key its dependents read, on the shared economy. Ten
 * seconds bounds that at 6 store-wide refreshes a minute — 360 times a 1-hour interval at worst,
 * where it was unbounded — while a rotation's burst of requests (a job rotating keys one by one,
 * a change feed's events) waits at most 10 s for its last keys, far below any interval.
 */
export const STORE_MARK_SPACING_MS = 10_000;

/**
 * What the refresher keeps per ExternalSecret, in one object (100,000 of them in a big cluster,
 * bench/RESULTS.md "Refresher state"): every field is set in the constructor, so V8 keeps them
 * in the object itself; its `namespace/name` key is built once and shared by the queue and the
 * target index; the last synced resource version is a field, not an object of its own.
 */
class EsState {
  readonly key: string;
  es: ExternalSecret;
  group: string;
  seed: string;
  target: string;
  /**
   * ESO's resource version (generation, labels, annotations) of the last full sync
   * (syncedResourceVersion), and when it ran (refreshTime); undefined: never synced.
   */
  syncedVersion: string | undefined = undefined;
  syncedAt = 0;
  /**
   * ESO's resource version of the last sync started (running, done or failed): an update is a
   * change only when it differs. A failed sync is retried on its backoff, not again at the echo
   * of its own status write.
   */
  attempted: string | undefined = undefined;
  failures = 0;
  lastSuccess: number | undefined = undefined;
  /** Synced once and never again (CreatedOnce, OnChange, interval 0) unless changed. */
  done = false;

  constructor(key: string, es: ExternalSecret, group: string, seed: string, target: string) {
    this.key = key;
    this.es = es;
    this.group = group;
    this.seed = seed;
    this.target = target;
  }

  /** The last full sync as the sync reads it (ESO's syncedResourceVersion and refreshTime). */
  get synced(): SyncBasis | null {
    return this.syncedVersion === undefined
      ? null
      : { resourceVersion: this.syncedVersion, refreshTime: this.syncedAt };
  }

  set synced(basis: SyncBasis) {
    this.syncedVersion = basis.resourceVersion;
    this.syncedAt = basis.refreshTime;
  }

  /**
   * The status our sync wrote came back (its echo, now in the informer's cache): its
   * syncedResourceVersion is the string we keep, so it is kept once, not once here and once in
   * the cached object.
   */
  shareVersion(es: ExternalSecret): void {
    const echoed = es.status?.syncedResourceVersion;
    if (echoed === undefined) return;
    if (echoed === this.syncedVersion) this.syncedVersion = echoed;
    if (echoed === this.attempted) this.attempted = echoed;
  }
}

interface PhState {
  secret: Secret;
  /** Its force-sync value: a change of it refreshes at once. */
  forceSync: string | undefined;
  group: string;
  seed: string;
  failures: number;
  lastSuccess?: number;
}

/** Thrown into in-flight syncs once their object is no longer owned: nothing more is written. */
export class NotLeaderError extends Error {
  constructor() {
    super('no longer the owner of this object; write abandoned');
  }
}
ownWords(NotLeaderError);

const ALL = 'all';

/** What a store's marks asked for inside its spacing, acted on at its end (one per store). */
interface DeferredMark {
  id: StoreId;
  /** undefined: every key of the store */
  keys: ReadonlySet<string> | undefined;
  /** The latest mark's source: the one the refresh is counted under. */
  source: TriggerSource;
}

interface StoreMarks {
  forceSync: string | undefined;
  request: string | undefined;
  ask: StoreAsk | undefined;
  /** When a mark of this store last started a refresh (undefined: never here). */
  actedAt: number | undefined;
  deferred: DeferredMark | undefined;
}

/**
 * Two key sets as one ask: the union, or the whole store (undefined) when either is, or when the
 * union is beyond one request's worth — so a merged ask stays as small as a request.
 */
function unionKeys(
  a: ReadonlySet<string> | undefined,
  b: Iterable<string> | undefined,
): Set<string> | undefined {
  if (!a || !b) return undefined;
  const merged = new Set([...a, ...b]);
  return merged.size > MAX_REQUEST_KEYS ? undefined : merged;
}

/** A store's latest push refresh, as a shard gained later acts on it. */
interface StoreAsk {
  id: StoreId;
  /** When it was made: seen changing on this replica's clock, or the request's own time. */
  at: number;
  /** Its keys; undefined: every key of the store. */
  keys: ReadonlySet<string> | undefined;
  source: TriggerSource;
  /** The shards this replica acted on it for, and has owned since. */
  acted: Set<number>;
}

function newAsk(
  id: StoreId,
  at: number,
  keys: readonly string[] | undefined,
  source: TriggerSource,
  acted: Set<number>,
): StoreAsk {
  return { id, at, keys: keys && new Set(keys), source, acted };
}

export class Refresher {
  readonly #opts: RefresherOptions;
  readonly #now: () => number;
  readonly #shards: number;
  readonly #replayWindow: number;
  readonly #queue = new DueQueue();
  readonly #planner = new RoundPlanner();
  readonly #es = new Map<string, EsState>();
  readonly #ph = new Map<string, PhState>();
  /** target Secret ns/name -> ExternalSecret key, to restore tampered targets. */
  readonly #targets = new Map<string, string>();
  /**
   * The ExternalSecrets whose target was last seen edited or deleted by hand, whoever owns them:
   * a replica that gains one restores it at once (`#scheduleFirst`) — the owner's restore may
   * have been abandoned by the handover, and the status alone says the target is up to date.
   * Empty while targets are as written: an entry goes with the target seen intact, a sync here,
   * or the ExternalSecret.
   */
  readonly #tampered = new Set<string>();
  /**
   * The ExternalSecrets with a generic target (ConfigMap, custom kind): what a kind's first list
   * looks at (`targetKindListed`), without a pass over every object. Empty without generic targets.
   */
  readonly #generic = new Set<string>();
  /**
   * templateFrom sources, `kind/ns/name` -> the ExternalSecrets reading them: a change to one
   * re-syncs its readers at once (ESO waits for their next refresh).
   */
  readonly #sources = new Map<string, Set<string>>();
  /**
   * store group -> the keys of the objects naming it (ExternalSecrets by any store reference,
   * placeholder Secrets by the store they read): a store's refresh, and a shard gain's replay of
   * a thousand stores' asks, visit the store's dependents, not every object.
   */
  readonly #dependents = new Map<string, Set<string>>();
  /**
   * store group -> the force-sync value and refresh request last seen on it, what its latest
   * change asked for (kept for a shard gained later: `#replay`), and its spacing: when a mark
   * last started a refresh, and what came since (`#storeMark`).
   */
  readonly #storeMarks = new Map<string, StoreMarks>();
  /** store group -> when its deferred mark is due; `#nextDeferred` the earliest of them. */
  readonly #deferred = new Map<string, number>();
  #nextDeferred: number | undefined;
  readonly #markSpacing: number;
  /**
   * object key -> its pending push refresh: the earliest request (`at`, for the latency
   * histogram) and the latest (`latest`: its values must be fetched after it).
   */
  readonly #triggers = new Map<string, { source: TriggerSource; at: number; latest: number }>();
  /** key -> its sync in flight */
  readonly #inFlight = new Map<string, Promise<void>>();
  /** The shards this replica refreshes: 'all', or a set (empty: none). */
  #owned: typeof ALL | ReadonlySet<number> = new Set();
  /**
   * Set by `stop()`, cleared by any change of ownership: refreshing is paused, nothing given away,
   * so work it abandons stays queued for the next `start()`.
   */
  #stopped = false;
  #startedAt = 0;
  /**
   * The gains' scheduling still running, slice by slice: the objects of the shards gained, then
   * the stores' asks replayed for them (`#drain` and `scheduled()` wait for it).
   */
  #scheduling: Promise<void> | undefined;
  #timer: { cancel(): void; at: number } | undefined;
  #ticking: Promise<number> | undefined;
  #kube: KubeWriter;

  constructor(opts: RefresherOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#shards = Math.max(1, opts.shards ?? 1);
    this.#replayWindow = opts.requestReplayMs ?? 600_000;
    this.#markSpacing = opts.storeMarkSpacingMs ?? STORE_MARK_SPACING_MS;
    this.#kube = guardWrites(opts.kube, (ns) => this.#owns(ns));
  }

  /** True while this replica owns anything to refresh. */
  get running(): boolean {
    return this.#owned === ALL || this.#owned.size > 0;
  }

  get queueDepth(): number {
    return this.#queue.size;
  }

  /** The shards owned now (all of them after `start()`). */
  get ownedShards(): number[] {
    if (this.#owned === ALL) return Array.from({ length: this.#shards }, (_, i) => i);
    return [...this.#owned].sort((a, b) => a - b);
  }

  // ---------------------------------------------------------------- informer inputs

  upsertExternalSecret(es: ExternalSecret): void {
    const prev = this.#es.get(objKey(es));
    // One key string per object for as long as it lives (the echo of every status write comes here).
    const key = prev?.key ?? objKey(es);
    const prevEs = prev?.es;
    const ns = es.metadata?.namespace ?? 'default';
    const { group, seed } = esSeed(es);
    // Targets are indexed by kind: a generic target `ConfigMap|ns/name`, a Secret `ns/name`.
    const manifest = manifestOf(es);
    const built = `${manifest ? `${kindId(manifest)}|` : ''}${ns}/${es.spec?.target?.name || es.metadata?.name}`;
    const target = prev?.target === built ? prev.target : built;
    const state = prev ?? new EsState(key, es, group, seed, target);
    if (!prev || prev.group !== group || prev.seed !== seed) {
      if (prev) this.#planner.remove(prev.group, prev.seed);
      state.group = this.#planner.add(group, seed);
      state.seed = seed;
    }
    if (prev && prev.target !== target) {
      if (this.#targets.get(prev.target) === key) this.#targets.delete(prev.target);
      this.#tampered.delete(key);
    }
    state.target = target;
    if (manifest) this.#generic.add(key);
    else this.#generic.delete(key);
    this.#indexSources(key, prev?.es, es);
    this.#indexDependents(key, prev && esStoreGroups(prev.es), esStoreGroups(es));
    state.es = es;
    state.shareVersion(es);
    this.#targets.set(target, key);
    this.#es.set(key, state);
    if (!this.#owns(ns)) return;
    if (!prev) {
      this.#scheduleFirst(key, state);
    } else if (
      !state.done &&
      state.attempted === undefined &&
      state.syncedVersion === undefined &&
      !this.#queue.has(key)
    ) {
      // Owned and never scheduled here: a gain still scheduling has not reached it. Its status
      // decides, as the gain's slice would — an object synced at this version keeps its round.
      this.#scheduleFirst(key, state);
      if (forceSyncChanged(prevEs, es)) this.#triggered('force-sync', 'ExternalSecret', [key]);
    } else {
      // Compared with the last sync started — not with the last one finished: the echo of our
      // own status write can arrive before the sync that wrote it has finished. A change of
      // spec, label or annotation (force-sync among them) is ESO's trigger; whether it syncs is
      // refreshPolicy's (the sync's gate: CreatedOnce never does once synced).
      const basis = state.attempted ?? state.syncedVersion;
      if (basis !== esoResourceVersion(es)) {
        state.done = false;
        this.#queue.schedule(key, this.#now(), Priority.Urgent, group);
        if (forceSyncChanged(prevEs, es)) this.#triggered('force-sync', 'ExternalSecret', [key]);
      }
    }
    this.#wake();
  }

  deleteExternalSecret(es: ExternalSecret): void {
    const key = objKey(es);
    const prev = this.#es.get(key);
    if (!prev) return;
    this.#planner.remove(prev.group, prev.seed);
    this.#es.delete(key);
    this.#queue.remove(key);
    this.#triggers.delete(key);
    this.#tampered.delete(key);
    this.#generic.delete(key);
    this.#forgetSeries(prev.es);
    if (this.#targets.get(prev.target) === key) this.#targets.delete(prev.target);
    this.#indexSources(key, prev.es, undefined);
    this.#indexDependents(key, esStoreGroups(prev.es), []);
  }

  /**
   * A ConfigMap or Secret was added, changed or deleted: the ExternalSecrets whose templateFrom
   * reads it go into the urgent lane (their refresh gate still applies: a `CreatedOnce` target is
   * not rendered again). The informers report names only; the sync reads the object itself.
   */
  templateSourceChanged(kind: TemplateSourceKind, obj: KubeObject): void {
    const ns = obj.metadata?.namespace ?? 'default';
    const name = obj.metadata?.name ?? '';
    const readers = this.#sources.get(`${kind}/${ns}/${name}`);
    if (!readers || !this.#owns(ns)) return;
    // A Secret that is itself an ExternalSecret's target changes whenever that one syncs: its
    // readers wait for their own refresh (as in ESO), so two ExternalSecrets reading each other's
    // targets, or one reading its own, with a template that renders differently each time
    // (randAlpha, now), cannot drive each other in a loop.
    if (kind === 'Secret' && this.#targets.has(`${ns}/${name}`)) return;
    for (const key of readers) {
      const state = this.#es.get(key);
      if (!state) continue;
      state.done = false;
      this.#queue.schedule(key, this.#now(), Priority.Urgent, state.group);
    }
    this.#wake();
  }

  #indexSources(key: string, before: ExternalSecret | undefined, after: ExternalSecret | undefined): void {
    const refs = (es: ExternalSecret | undefined) =>
      es
        ? templateSourceRefs(es).map((r) => `${r.kind}/${es.metadata?.namespace ?? 'default'}/${r.name}`)
        : [];
    const next = new Set(refs(after));
    for (const ref of refs(before)) {
      if (next.has(ref)) continue;
      const readers = this.#sources.get(ref);
      readers?.delete(key);
      if (readers?.size === 0) this.#sources.delete(ref);
    }
    for (const ref of next) {
      const readers = this.#sources.get(ref) ?? new Set<string>();
      readers.add(key);
      this.#sources.set(ref, readers);
    }
  }

  /** Moves `key` from the dependents of the stores it named to those of the stores it names. */
  #indexDependents(key: string, before: readonly string[] | undefined, after: readonly string[]): void {
    if (before && before.length === after.length && before.every((g, i) => g === after[i])) return;
    for (const group of before ?? []) {
      if (after.includes(group)) continue;
      const keys = this.#dependents.get(group);
      keys?.delete(key);
      if (keys?.size === 0) this.#dependents.delete(group);
    }
    for (const group of after) {
      const keys = this.#dependents.get(group);
      if (keys) keys.add(key);
      else this.#dependents.set(group, new Set([key]));
    }
  }

  /** A managed target changed or disappeared: restore it at once if it no longer matches. */
  targetSecretChanged(secret: Secret, deleted: boolean): void {
    this.#targetChanged(`${secret.metadata?.namespace ?? 'default'}/${secret.metadata?.name}`, deleted, () =>
      intact(secret),
    );
  }

  /** A managed ConfigMap (a generic target) changed or disappeared: as targetSecretChanged. */
  targetConfigMapChanged(cm: ConfigMap, deleted: boolean): void {
    this.#targetChanged(
      `ConfigMap|${cm.metadata?.namespace ?? 'default'}/${cm.metadata?.name}`,
      deleted,
      () => configMapIntact(cm),
    );
  }

  /**
   * A managed custom resource (a generic target of kind `kindId`, `group/version/Kind`) changed
   * or disappeared: as targetSecretChanged.
   */
  targetObjectChanged(kindId: string, obj: KubeObject, deleted: boolean): void {
    this.#targetChanged(
      `${kindId}|${obj.metadata?.namespace ?? 'default'}/${obj.metadata?.name}`,
      deleted,
      () => objectIntact(obj),
    );
  }

  /**
   * The managed informer of a generic target kind (`kindId`) has listed for the first time. A
   * custom kind's starts after discovery, possibly after a start or gain scheduled its objects
   * from their status while its answer was unknown (they kept their round): those it now shows
   * edited, or absent where that means deleted, are restored at once, as `#scheduleFirst` would
   * have; the intact ones keep their round. After the gains still scheduling (whose slices read
   * the listed cache themselves), a slice a turn, over the objects with a generic target only.
   * An object seen tampered (already urgent), in flight (its sync reads the target) or never
   * synced here (urgent, or backing off) is left as it is.
   */
  targetKindListed(kindId: string): void {
    const prefix = `${kindId}|`;
    this.#afterGains(async () => {
      let visited = 0;
      for (const key of this.#generic) {
        if (++visited % SCHEDULE_SLICE === 0) await yieldToLoop();
        const state = this.#es.get(key);
        if (!state?.target.startsWith(prefix)) continue;
        if (!this.#owns(state.es.metadata?.namespace ?? 'default')) continue;
        if (this.#tampered.has(key) || this.#inFlight.has(key) || state.lastSuccess === undefined) continue;
        if (!this.#targetStale(state)) continue;
        state.done = false;
        this.#queue.schedule(key, this.#now(), Priority.Urgent, state.group);
      }
      this.#wake();
    });
  }

  #targetChanged(target: string, deleted: boolean, isIntact: () => boolean): void {
    const key = this.#targets.get(target);
    const state = key ? this.#es.get(key) : undefined;
    if (!key || !state) return;
    const policy = state.es.spec?.target?.creationPolicy ?? 'Owner';
    // None writes no target; an Orphan target, once written, is not restored (ESO's isSecretValid).
    if (policy === 'None' || policy === 'Orphan') return;
    // Our own writes come back here too. A Secret whose data still matches its data-hash
    // annotation is as we wrote it (ESO's isSecretValid): the echo costs no provider call.
    if (!deleted && isIntact()) {
      this.#tampered.delete(key);
      return;
    }
    this.#tampered.add(key);
    if (!this.#owns(state.es.metadata?.namespace ?? 'default')) return;
    // An edit that lands while the first sync is still running (its target written, its status
    // not yet) must not be lost until the next refresh: the sync in flight is followed by another.
    if (deleted || state.lastSuccess !== undefined || this.#inFlight.has(key)) {
      state.done = false;
      this.#queue.schedule(key, this.#now(), Priority.Urgent, state.group);
      this.#wake();
    }
  }

  upsertPlaceholder(secret: Secret): void {
    const syncer = this.#opts.placeholders;
    if (!syncer) return;
    const key = `secret/${objKey(secret)}`;
    const prev = this.#ph.get(key);
    const phase = syncer.phaseSeed(secret);
    const { seed } = phase;
    const same = prev !== undefined && prev.group === phase.group && prev.seed === seed;
    if (prev && !same) this.#planner.remove(prev.group, prev.seed);
    // The group's one string (the planner's), not this Secret's copy of it.
    const group = prev && same ? prev.group : this.#planner.add(phase.group, seed);
    // Indexed under the store its annotations name, its round group: a Secret whose references
    // cannot be read is indexed too, and skipped where its store is refreshed (`reads`).
    this.#indexDependents(key, prev && [prev.group], [group]);
    this.#ph.set(key, {
      secret,
      forceSync: forceSyncOf(secret),
      group,
      seed,
      failures: prev?.failures ?? 0,
      ...(prev?.lastSuccess ? { lastSuccess: prev.lastSuccess } : {}),
    });
    if (!this.#owns(secret.metadata?.namespace ?? 'default')) return;
    if (!prev) {
      this.#schedulePlaceholder(key);
      this.#wake();
    } else if (forceSyncChanged(prev.secret, secret)) {
      // Asked for by hand: refreshed whatever its interval (even 0), from a fresh provider read.
      this.#queue.schedule(key, this.#now(), Priority.Urgent, group);
      this.#triggered('force-sync', 'Secret', [key]);
      this.#wake();
    }
  }

  deletePlaceholder(secret: Secret): void {
    const key = `secret/${objKey(secret)}`;
    const prev = this.#ph.get(key);
    if (prev) {
      this.#planner.remove(prev.group, prev.seed);
      this.#indexDependents(key, [prev.group], []);
    }
    this.#ph.delete(key);
    this.#queue.remove(key);
    this.#triggers.delete(key);
  }

  /**
   * A SecretStore or ClusterSecretStore was listed or changed. A new `force-sync` value, or a
   * new `esw.io/refresh-request` (written by POST /refresh), refreshes its dependents that this
   * replica owns; the first sight of a store (a list after a start) is not a change. Either is
   * also kept as the store's ask, which a shard gained within `requestReplayMs` acts on (`#replay`).
   */
  upsertStore(store: KubeObject): void {
    const id = storeOfObject(store);
    if (!id) return;
    const group = storeGroup(id.kind, id.namespace ?? '', id.name);
    const forceSync = forceSyncOf(store);
    const request = store.metadata?.annotations?.[REFRESH_REQUEST_ANNOTATION];
    const prev = this.#storeMarks.get(group);
    const marks: StoreMarks = {
      forceSync,
      request,
      ask: prev?.ask,
      actedAt: prev?.actedAt,
      deferred: prev?.deferred,
    };
    this.#storeMarks.set(group, marks);
    const now = this.#now();
    if (!prev) {
      // First sight (a start, a new store): not acted on here and now, but a request that says it
      // was made within the window is still replayed by the shards this replica gains — the
      // owner may have been past its deadline when it was recorded. Its time is the writer's
      // word: never later than now, so a time in the future buys no longer replay.
      const req = request === undefined ? undefined : refreshRequestOf(store);
      if (req && now - req.at < this.#replayWindow)
        marks.ask = newAsk(id, Math.min(req.at, now), req.keys, req.source ?? 'endpoint', new Set());
      return;
    }
    if (forceSync !== undefined && forceSync !== prev.forceSync)
      this.#storeMark(group, marks, id, undefined, 'force-sync');
    if (request !== undefined && request !== prev.request) {
      const req = refreshRequestOf(store);
      if (req) this.#storeMark(group, marks, id, req.keys, req.source ?? 'endpoint');
      else
        this.#opts.logger.warn({ store: storeLabel(id) }, 'unreadable refresh request on the store; ignored');
    }
  }

  /**
   * A new mark on a store: acted on now, unless a mark of this store started a refresh less than
   * the spacing ago; then it is merged into the store's one deferred mark, acted on at the
   * spacing's end (`#fireDeferred`) — never dropped: the last request is always honoured. Either
   * way it is the store's ask at once, so a shard gained meanwhile replays it. A replica that
   * refreshes nothing acts on nothing and defers nothing: its gains replay the ask.
   */
  #storeMark(
    group: string,
    marks: StoreMarks,
    id: StoreId,
    keys: readonly string[] | undefined,
    source: TriggerSource,
  ): void {
    const now = this.#now();
    marks.ask = this.#askAgain(marks.ask, id, keys, source);
    if (!this.running || marks.actedAt === undefined || now - marks.actedAt >= this.#markSpacing) {
      marks.actedAt = now;
      this.refreshStore(id, keys, source);
      return;
    }
    const before = marks.deferred;
    marks.deferred = {
      id,
      keys: before ? unionKeys(before.keys, keys) : keys && new Set(keys),
      source,
    };
    const due = marks.actedAt + this.#markSpacing;
    this.#deferred.set(group, due);
    if (this.#nextDeferred === undefined || due < this.#nextDeferred) this.#nextDeferred = due;
    this.#opts.metrics?.refreshMarksDeferred.inc({ source, kind: id.kind });
    this.#opts.logger.debug(
      { store: storeLabel(id), source, deferredUntil: new Date(due).toISOString() },
      'store refresh request deferred to the end of its spacing',
    );
    this.#wake();
  }

  /** Acts on every deferred store mark whose spacing has ended. */
  #fireDeferred(): void {
    const now = this.#now();
    if (this.#nextDeferred === undefined || this.#nextDeferred > now) return;
    let next: number | undefined;
    for (const [group, due] of this.#deferred) {
      if (due > now) {
        if (next === undefined || due < next) next = due;
        continue;
      }
      this.#deferred.delete(group);
      const marks = this.#storeMarks.get(group);
      const mark = marks?.deferred;
      if (!marks || !mark) continue;
      marks.deferred = undefined;
      marks.actedAt = now;
      this.#refresh(mark.id, mark.keys, mark.source, undefined);
    }
    this.#nextDeferred = next;
  }

  /**
   * The store's ask after a change this replica just acted on: acted on in the shards it may
   * write now. An earlier ask still within the window is merged in (its keys added, acted on only
   * where both were), so a second request for other keys does not hide the first from a takeover.
   */
  #askAgain(
    prev: StoreAsk | undefined,
    id: StoreId,
    keys: readonly string[] | undefined,
    source: TriggerSource,
  ): StoreAsk {
    const now = this.#now();
    const acted = new Set<number>();
    for (let s = 0; s < this.#shards; s++) if (this.running && this.#ownsShard(s)) acted.add(s);
    if (!prev || now - prev.at >= this.#replayWindow) return newAsk(id, now, keys, source, acted);
    for (const s of acted) if (!prev.acted.has(s)) acted.delete(s);
    return { id, at: now, keys: unionKeys(prev.keys, keys), source, acted };
  }

  deleteStore(store: KubeObject): void {
    const id = storeOfObject(store);
    if (!id) return;
    const group = storeGroup(id.kind, id.namespace ?? '', id.name);
    this.#storeMarks.delete(group);
    this.#deferred.delete(group);
  }

  /**
   * Shards just gained: each store's ask made within the window and not acted on here in those
   * shards is acted on now for their dependents. The previous owner may never have acted on it
   * (recorded past its renew deadline, when it schedules nothing) or acted and lost the shard
   * before the refresh ran (its queue is dropped with the shard); nothing tells this replica
   * which, so a takeover refreshes them again: at most once per store and gained shard.
   */
  #replay(gained: ReadonlySet<number>): void {
    const now = this.#now();
    const due: { ask: StoreAsk; shards: ReadonlySet<number> }[] = [];
    for (const marks of this.#storeMarks.values()) {
      const ask = marks.ask;
      if (!ask) continue;
      if (now - ask.at >= this.#replayWindow) {
        marks.ask = undefined;
        continue;
      }
      const shards = new Set([...gained].filter((s) => !ask.acted.has(s)));
      if (shards.size === 0) continue;
      // Marked now, its objects scheduled below in slices: a later change of the store is acted
      // on by itself, and a shard given up meanwhile is unmarked as always.
      for (const s of shards) ask.acted.add(s);
      due.push({ ask, shards });
    }
    if (due.length === 0) return;
    // In slices (a gain of every shard replays every store's ask), once the gain's objects are.
    this.#afterGains(async () => {
      let visited = 0;
      for (const { ask, shards } of due) {
        const group = storeGroup(ask.id.kind, ask.id.namespace ?? '', ask.id.name);
        const dependents = [...(this.#dependents.get(group) ?? [])];
        const scheduled: string[] = [];
        for (let i = 0; i < dependents.length; i += REPLAY_SLICE) {
          if (visited >= REPLAY_SLICE) {
            await yieldToLoop();
            visited = 0;
          }
          const part = dependents.slice(i, i + REPLAY_SLICE);
          visited += part.length;
          // Ownership as it is now: a shard given up meanwhile is its next owner's to replay.
          scheduled.push(...this.#scheduleDependents(ask.id, group, ask.keys, shards, part));
        }
        this.#refreshed(ask.id, ask.keys, ask.source, shards, scheduled);
      }
    });
  }

  /** Runs `work` after the gains' scheduling already running, as part of it. */
  #afterGains(work: () => Promise<void>): void {
    const previous = this.#scheduling;
    const run = (async () => {
      await previous;
      await work();
    })();
    this.#scheduling = run;
    void run.then(() => {
      if (this.#scheduling === run) this.#scheduling = undefined;
    });
  }

  /**
   * Resolves once every gain so far (`start()`, `setShards()`) has scheduled the objects of its
   * shards and replayed its stores' asks: both return before that, the work done a slice a turn.
   */
  async scheduled(): Promise<void> {
    while (this.#scheduling) await this.#scheduling;
  }

  /**
   * Refreshes now, from fresh provider reads, every object this replica owns that reads from
   * `store` (`keys` of it, when given): ExternalSecrets — whose refreshPolicy still decides, as
   * for any change — and placeholder Secrets with a refresh interval. They join the urgent lane
   * under the store, so a round takes them together and fetches each key once (AWS: 20 a call).
   * Returns how many were scheduled.
   */
  refreshStore(store: StoreId, keys: readonly string[] | undefined, source: TriggerSource): number {
    return this.#refresh(store, keys ? new Set(keys) : undefined, source, undefined);
  }

  /** refreshStore, for the objects of the shards `only` (a replay's) or of every shard owned. */
  #refresh(
    store: StoreId,
    wanted: ReadonlySet<string> | undefined,
    source: TriggerSource,
    only: ReadonlySet<number> | undefined,
  ): number {
    const group = storeGroup(store.kind, store.namespace ?? '', store.name);
    const scheduled = this.#scheduleDependents(store, group, wanted, only, this.#dependents.get(group) ?? []);
    this.#refreshed(store, wanted, source, only, scheduled);
    return scheduled.length;
  }

  /** Of `dependents` (keys of the store's `group`), schedules those `#refresh` acts on. */
  #scheduleDependents(
    store: StoreId,
    group: string,
    wanted: ReadonlySet<string> | undefined,
    only: ReadonlySet<number> | undefined,
    dependents: Iterable<string>,
  ): string[] {
    const mine = (ns: string) => this.#owns(ns) && (!only || only.has(shardOf(ns, this.#shards)));
    const scheduled: string[] = [];
    const syncer = this.#opts.placeholders;
    for (const key of dependents) {
      const es = this.#es.get(key);
      if (es) {
        const ns = es.es.metadata?.namespace ?? 'default';
        if (!mine(ns) || !esReadsFrom(es.es, store, wanted)) continue;
        es.done = false;
      } else {
        const ph = this.#ph.get(key);
        const ns = ph?.secret.metadata?.namespace ?? 'default';
        if (!ph || !syncer || !mine(ns) || syncer.interval(ph.secret) <= 0) continue;
        const reads = syncer.reads?.(ph.secret);
        if (!reads || !sameStore(store, reads.store, ns)) continue;
        if (wanted && !reads.refs.some((r) => wanted.has(r.key))) continue;
      }
      this.#queue.schedule(key, this.#now(), Priority.Urgent, group);
      scheduled.push(key);
    }
    return scheduled;
  }

  /** A store refresh's objects scheduled: counted, logged, and the loop woken. */
  #refreshed(
    store: StoreId,
    wanted: ReadonlySet<string> | undefined,
    source: TriggerSource,
    only: ReadonlySet<number> | undefined,
    scheduled: string[],
  ): void {
    if (this.running) this.#triggered(source, store.kind, scheduled);
    this.#opts.logger.info(
      {
        store: storeLabel(store),
        source,
        keys: wanted && [...wanted],
        objects: scheduled.length,
        shards: only && [...only].sort((a, b) => a - b),
      },
      only ? 'store refresh request replayed for the shards gained' : 'store refresh requested',
    );
    this.#wake();
  }

  /** Counts a push refresh and starts the latency clock of each object it scheduled. */
  #triggered(source: TriggerSource, kind: TriggerKind, keys: string[]): void {
    const at = this.#now();
    this.#opts.metrics?.refreshTriggers.inc({ source, kind });
    this.#opts.metrics?.refreshTriggeredObjects.inc({ source }, keys.length);
    for (const key of keys) {
      const pending = this.#triggers.get(key);
      if (pending) pending.latest = at;
      else this.#triggers.set(key, { source, at, latest: at });
    }
  }

  /** A push-refreshed object synced: the time from the request to its Secret written. */
  #triggerDone(key: string): void {
    const t = this.#triggers.get(key);
    if (!t) return;
    this.#triggers.delete(key);
    this.#opts.metrics?.refreshTriggerLatency.observe({ source: t.source }, (this.#now() - t.at) / 1000);
  }

  // ---------------------------------------------------------------- ownership

  /** Refreshes every object (one replica, or the single-shard lease). */
  start(): void {
    if (this.#owned === ALL) return;
    this.#own(ALL);
  }

  /**
   * Stops at once: queued work stays queued, in-flight syncs write nothing more, a gain still
   * scheduling ends at its next slice (what it had not reached is scheduled by the next start()).
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.#owned = new Set();
    this.#stopped = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    await Promise.allSettled([...this.#inFlight.values(), this.scheduled()]);
    this.#opts.logger.info('refresher stopped');
  }

  /**
   * The shards this replica owns from now on. Objects of new shards are scheduled (keeping the
   * rounds of their last sync) a slice a turn from now on (`scheduled()` resolves when done);
   * objects of shards given up are dropped from the queue at once, their in-flight syncs write
   * nothing more, and the promise resolves once those have settled — only then may the shard's
   * lease be released.
   */
  async setShards(shards: Iterable<number>): Promise<void> {
    const next = new Set([...shards].filter((s) => s >= 0 && s < this.#shards));
    const before = this.#owned === ALL ? new Set(this.ownedShards) : this.#owned;
    const lost = [...before].filter((s) => !next.has(s));
    this.#own(next);
    if (lost.length === 0) return;
    const lostSet = new Set(lost);
    const settling: Promise<void>[] = [];
    for (const [key, p] of this.#inFlight) if (lostSet.has(this.#shardOfKey(key))) settling.push(p);
    await Promise.allSettled(settling);
  }

  #own(next: typeof ALL | ReadonlySet<number>): void {
    const before = this.#owned;
    const had = (shard: number) => before === ALL || before.has(shard);
    const has = (shard: number) => next === ALL || next.has(shard);
    this.#owned = next;
    this.#stopped = false;
    if (before !== ALL && before.size === 0 && this.running) {
      this.#startedAt = this.#now();
      this.#opts.logger.info(
        { objects: this.#es.size + this.#ph.size, shards: this.ownedShards.length },
        'refresher started',
      );
    }
    const gained = new Set<number>();
    const lost = new Set<number>();
    for (let shard = 0; shard < this.#shards; shard++) {
      if (has(shard) && !had(shard)) gained.add(shard);
      else if (!has(shard) && had(shard)) lost.add(shard);
    }
    // A lost shard's objects leave the queue now (no hashing: a loss of every shard of 100,000
    // objects took 44–89 ms, bench/RESULTS.md); a gained one's join it a slice a turn, then the
    // asks are replayed.
    if (lost.size > 0) this.#drop(lost);
    if (gained.size > 0) {
      this.#scheduleGained(gained);
      this.#replay(gained);
    }
    if (!this.running) {
      this.#timer?.cancel();
      this.#timer = undefined;
      // Nothing left to act on them for: whoever owns the shards next replays the asks, this
      // replica too (the shards it gave up are no longer in any ask's `acted`).
      for (const group of this.#deferred.keys()) {
        const marks = this.#storeMarks.get(group);
        if (marks) marks.deferred = undefined;
      }
      this.#deferred.clear();
      this.#nextDeferred = undefined;
    }
    this.#wake();
  }

  /** The objects of the shards given up leave the queue. */
  #drop(lost: ReadonlySet<number>): void {
    for (const [key, state] of this.#es) {
      if (!lost.has(shardOf(state.es.metadata?.namespace ?? 'default', this.#shards))) continue;
      this.#queue.remove(key);
      // Its new owner reports it: a stale Ready series here would be counted twice.
      this.#forgetSeries(state.es);
    }
    for (const [key, state] of this.#ph)
      if (lost.has(shardOf(state.secret.metadata?.namespace ?? 'default', this.#shards)))
        this.#queue.remove(key);
    // A request acted on in a shard given up may still be in the queue just dropped: the shard's
    // next owner — this replica again, or another — acts on it once more.
    for (const marks of this.#storeMarks.values()) for (const shard of lost) marks.ask?.acted.delete(shard);
  }

  /**
   * Schedules the objects of the shards gained (keeping the rounds of their last sync), after any
   * gain still scheduling, SCHEDULE_SLICE objects looked at a turn of the event loop. An object is
   * scheduled only if its shard is still owned when its slice runs: a shard given up meanwhile
   * was dropped from the queue by its loss and gets nothing more; once every shard of the gain is
   * given up (or the refresher stopped), the rest is left to the next gain of them.
   */
  #scheduleGained(gained: ReadonlySet<number>): void {
    const ownedNow = (shard: number) => gained.has(shard) && (this.#owned === ALL || this.#owned.has(shard));
    const anyOwned = () => [...gained].some(ownedNow);
    this.#afterGains(async () => {
      if (!anyOwned()) return;
      let visited = 0;
      for (const [key, state] of this.#es) {
        if (++visited % SCHEDULE_SLICE === 0) {
          await yieldToLoop();
          if (!anyOwned()) return;
        }
        if (!ownedNow(shardOf(state.es.metadata?.namespace ?? 'default', this.#shards))) continue;
        if (!this.#queue.has(key) && !state.done) this.#scheduleFirst(key, state);
      }
      for (const [key, state] of this.#ph) {
        if (++visited % SCHEDULE_SLICE === 0) {
          await yieldToLoop();
          if (!anyOwned()) return;
        }
        if (!ownedNow(shardOf(state.secret.metadata?.namespace ?? 'default', this.#shards))) continue;
        if (!this.#queue.has(key)) this.#schedulePlaceholder(key);
      }
      this.#wake();
    });
  }

  #owns(namespace: string): boolean {
    if (this.#owned !== ALL && this.#owned.size === 0) return false;
    return this.#ownsShard(shardOf(namespace, this.#shards));
  }

  #ownsShard(shard: number): boolean {
    const owned = this.#owned;
    return (owned === ALL || owned.has(shard)) && (this.#opts.mayWrite?.(shard) ?? true);
  }

  #shardOfKey(key: string): number {
    const ns = key.startsWith('secret/') ? key.slice(7).split('/')[0] : key.split('/')[0];
    return shardOf(ns ?? 'default', this.#shards);
  }

  // ---------------------------------------------------------------- the loop

  /**
   * Runs everything due now and waits for it. One loop at a time: a call while a loop runs
   * joins it (the running loop picks up work scheduled meanwhile before it ends).
   */
  tick(): Promise<number> {
    if (this.#ticking) return this.#ticking;
    const run = this.#drain().finally(() => {
      this.#ticking = undefined;
    });
    this.#ticking = run;
    return run;
  }

  async #drain(): Promise<number> {
    let started = 0;
    const limit = this.#opts.concurrency ?? 16;
    let rounds = 0;
    while (this.running) {
      // Each round after the first starts on a fresh turn of the event loop.
      if (rounds++ > 0) await yieldToLoop();
      // A gain still scheduling (its objects, its replay): they join before the round is taken.
      if (this.#scheduling) await this.scheduled();
      this.#fireDeferred();
      const round = this.#takeRound();
      if (round.length === 0) break;
      // Fetch every remote key the round needs at once — the resolver coalesces them and batches
      // them (20 a call on AWS) — then sync with bounded concurrency from the warm cache.
      await this.#prefetch(round);
      let i = 0;
      const worker = async (): Promise<void> => {
        while (i < round.length) {
          const item = round[i++] as { key: string; due: number };
          if (!this.#ownsKey(item.key)) {
            // Stopped: back to the queue for the next start(). Not owned otherwise (its shard
            // given up, or past its write deadline until the coordinator drops it): the next
            // owner's, scheduled from its status.
            if (this.#stopped) this.#queue.schedule(item.key, item.due);
            continue;
          }
          started++;
          const p = this.#run(item.key, item.due);
          this.#inFlight.set(item.key, p);
          try {
            await p;
          } finally {
            if (this.#inFlight.get(item.key) === p) this.#inFlight.delete(item.key);
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(limit, round.length) }, worker));
    }
    this.#updateGauges();
    return started;
  }

  #ownsKey(key: string): boolean {
    if (this.#owned !== ALL && this.#owned.size === 0) return false;
    return this.#ownsShard(this.#shardOfKey(key));
  }

  /**
   * What is due now, up to a round. Urgent objects come by store, and a store's urgent objects
   * are not cut in two (up to 4 rounds' worth), so its keys are fetched in full batches; nor are
   * the objects of a routine slot (all due in the same millisecond) when rounds run behind: a
   * slot cut in two fetched its keys in two batches, and a part holding one key alone with one
   * GetSecretValue.
   */
  #takeRound(): { key: string; due: number }[] {
    const max = this.#opts.roundSize ?? 200;
    const round: { key: string; due: number }[] = [];
    let lastGroup: string | undefined;
    let lastSlot: number | undefined;
    for (;;) {
      if (round.length >= max) {
        const sameStore = lastGroup !== undefined && this.#queue.nextUrgentGroup() === lastGroup;
        const sameSlot =
          lastSlot !== undefined &&
          this.#queue.nextUrgentGroup() === undefined &&
          this.#queue.nextDue(this.#now()) === lastSlot;
        if ((!sameStore && !sameSlot) || round.length >= max * 4) break;
      }
      const item = this.#queue.popDue(this.#now());
      if (!item) break;
      if (item.priority === Priority.Routine && this.#heldByWindow(item.key)) continue;
      lastGroup = item.priority === Priority.Urgent ? item.group : undefined;
      lastSlot = item.priority === Priority.Routine ? item.due : undefined;
      // A push refresh asks for values fetched after the request, not after this round: the
      // rounds a big store-wide trigger takes share one read per key.
      const trigger = item.priority === Priority.Urgent ? this.#triggers.get(item.key) : undefined;
      round.push(trigger && trigger.latest < item.due ? { ...item, due: trigger.latest } : item);
    }
    return round;
  }

  /**
   * `spec.syncWindows` (src/api/sync-windows.ts): a periodic refresh — the object is up to date
   * with its spec, and its refresh or a retry of one came due — that the windows block now is
   * deferred to when they allow it. Changes, first syncs and restores come by the urgent lane
   * and are never held, as in ESO.
   */
  #heldByWindow(key: string): boolean {
    const state = this.#es.get(key);
    if (!state || !isPeriodic(state.es)) return false;
    const windows = syncWindowsOf(state.es);
    if (!windows || state.syncedVersion !== esoResourceVersion(state.es)) return false;
    const now = this.#now();
    if (windows.allowed(now)) return false;
    // No opening within a year (a schedule that never fires): look again in a day.
    const at = Math.max(windows.nextAllowed(now) ?? now + DAY_MS, now + 1000);
    this.#queue.schedule(key, at);
    this.#opts.logger.debug(
      { externalSecret: objectRef(key), kind: windows.kind, deferredUntil: new Date(at).toISOString() },
      'periodic refresh deferred by syncWindows',
    );
    return true;
  }

  /** Warms the resolver's cache for a round: one lookup per distinct remote key and store. */
  async #prefetch(round: { key: string; due: number }[]): Promise<void> {
    const lookups: Promise<unknown>[] = [];
    const seen = new Set<string>();
    const placeholders = this.#opts.placeholders;
    for (const [i, { key, due }] of round.entries()) {
      if (i > 0 && i % REFRESH_SLICE === 0) await yieldToLoop();
      const ph = key.startsWith('secret/') ? this.#ph.get(key) : undefined;
      const reads = ph && placeholders?.reads?.(ph.secret);
      if (reads) {
        const ns = ph.secret.metadata?.namespace ?? 'default';
        const kind = reads.store.kind ?? 'SecretStore';
        for (const ref of reads.refs) {
          const id = `${kind}/${kind === 'SecretStore' ? ns : ''}/${reads.store.name}/${ref.key}#${ref.version ?? ''}@${due}`;
          if (seen.has(id)) continue;
          seen.add(id);
          lookups.push(
            this.#opts.resolver.getValue(reads.store, ns, ref, { fetchedAfter: due }).catch(() => undefined),
          );
        }
        continue;
      }
      const state = this.#es.get(key);
      const es = state?.es;
      // An object whose sync will only check its target (CreatedOnce once synced…) fetches nothing.
      if (!es || !needsRefresh(es, state.synced)) continue;
      const ns = es.metadata?.namespace ?? 'default';
      const def = es.spec?.secretStoreRef;
      const refs = [
        ...(es.spec?.data ?? []).map((d) => ({ store: d.sourceRef?.storeRef ?? def, ref: d.remoteRef })),
        ...(es.spec?.dataFrom ?? []).map((d) => ({ store: d.sourceRef?.storeRef ?? def, ref: d.extract })),
      ];
      for (const { store, ref } of refs) {
        if (!store?.name || !ref?.key) continue;
        const storeRef = { name: store.name, kind: store.kind ?? 'SecretStore' } as const;
        const fetch = ref.metadataPolicy === 'Fetch';
        const id = `${storeRef.kind}/${storeRef.kind === 'SecretStore' ? ns : ''}/${storeRef.name}/${ref.key}#${ref.version ?? ''}${fetch ? '#metadata' : ''}@${due}`;
        if (seen.has(id)) continue;
        seen.add(id);
        // The raw value only (no property, no decoding): the cache holds raw bytes per key; a
        // `metadataPolicy: Fetch` reference warms the key's metadata (at its version, as Azure
        // reads tags per version), never its value.
        lookups.push(
          this.#opts.resolver
            .getValue(
              storeRef,
              ns,
              {
                key: ref.key,
                ...(ref.version ? { version: ref.version } : {}),
                ...(fetch ? { metadataPolicy: 'Fetch' as const } : {}),
              },
              { fetchedAfter: due },
            )
            .catch(() => undefined),
        );
      }
    }
    await Promise.all(lookups);
  }

  /** Arms the one timer for the next due time; a running loop re-arms it when it ends. */
  #wake(): void {
    if (!this.running || !this.#opts.setTimer || this.#ticking) return;
    const queued = this.#queue.nextDue(this.#now());
    const deferred = this.#nextDeferred;
    const due = queued === undefined || (deferred !== undefined && deferred < queued) ? deferred : queued;
    if (due === undefined) return;
    if (this.#timer && this.#timer.at <= due) return;
    this.#timer?.cancel();
    const timer = this.#opts.setTimer(
      () => {
        if (this.#timer === armed) this.#timer = undefined;
        void this.tick().finally(() => this.#wake());
      },
      Math.max(0, due - this.#now()),
    );
    const armed = { cancel: () => timer.cancel(), at: due };
    this.#timer = armed;
  }

  #scheduleFirst(key: string, state: EsState): void {
    const es = state.es;
    const interval = esInterval(es);
    const ready = es.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True');
    // Synced before (by this process before a restart, by the replica that owned its shard, or
    // by ESO before a migration): the gate of the next sync knows it.
    const basis = syncedOf(es);
    if (basis) state.synced = basis;
    // Its target edited or deleted by hand, seen here before it was ours (or before this gain
    // reached it), or found so in the cache (edited while no replica watched): restored at once,
    // whatever the status says.
    if (
      this.#tampered.has(key) ||
      !ready ||
      !basis ||
      basis.resourceVersion !== esoResourceVersion(es) ||
      this.#targetStale(state)
    ) {
      this.#queue.schedule(key, this.#now(), Priority.Urgent, state.group);
      return;
    }
    // Up to date: keep its round, or spread it over the first pass.
    const refreshed = basis.refreshTime;
    state.lastSuccess = refreshed;
    if (interval <= 0 || !isPeriodic(es)) {
      state.done = true;
      return;
    }
    this.#queue.schedule(key, this.#resumeSlot(refreshed, interval, state.group, state.seed));
  }

  /**
   * The object's target, as its managed informer's cache holds it, is not as the last sync left
   * it: edited, or deleted (ESO's startup reconcile finds the same through isSecretValid). None
   * and Orphan targets are never restored (as `#targetChanged`). Only an Owner target is known to
   * carry the managed label (the caches are filled by it), so only its absence means deleted: a
   * Merge or CreateOrMerge target may never have had it. Generic targets alike (ConfigMaps, custom
   * kinds: the same label and data-hash rules); a kind not listed yet answers unknown.
   */
  #targetStale(state: EsState): boolean {
    const lookup = this.#opts.targetState;
    if (!lookup) return false;
    const policy = state.es.spec?.target?.creationPolicy ?? 'Owner';
    if (policy === 'None' || policy === 'Orphan') return false;
    // The key the Refresher already holds (`ns/name`, `Kind|ns/name`), built once per object: no
    // string is built per lookup for a Secret (splitting and joining it again cost ~1.5 µs an
    // object, bench/RESULTS.md).
    const found = lookup(state.target);
    return found === 'edited' || (found === 'absent' && policy === 'Owner');
  }

  /**
   * The round after `refreshed` (at least half an interval later, so a changed round never makes
   * a refresh come early), or — when that has passed — a place in the first-pass window, the
   * same for every object of the round.
   */
  #resumeSlot(refreshed: number, interval: number, group: string, seed: string): number {
    const phase = this.#planner.phase(group, seed, interval);
    let due = nextSlot(refreshed, interval, phase);
    if (due - refreshed < interval / 2) due += interval;
    const now = this.#now();
    if (due > now) return due;
    const window = Math.min(this.#opts.firstPassWindowMs ?? 60_000, interval);
    return nextSlot(now, window, phase % window);
  }

  #schedulePlaceholder(key: string): void {
    const state = this.#ph.get(key);
    const syncer = this.#opts.placeholders;
    if (!state || !syncer) return;
    const interval = syncer.interval(state.secret);
    if (interval <= 0) return;
    this.#queue.schedule(
      key,
      nextSlot(this.#now(), interval, this.#planner.phase(state.group, state.seed, interval)),
    );
  }

  async #run(key: string, due: number): Promise<void> {
    if (key.startsWith('secret/')) return this.#runPlaceholder(key, due);
    const state = this.#es.get(key);
    if (!state) return;
    const es = state.es;
    const ns = es.metadata?.namespace ?? 'default';
    const metricsLabels = { name: es.metadata?.name ?? '', namespace: ns };
    const resourceVersion = esoResourceVersion(es);
    state.attempted = resourceVersion;
    // The sync checks the target and restores it: an edit seen from now on marks it again; one
    // the sync does not finish keeps its mark (below).
    const tampered = this.#tampered.delete(key);
    this.#opts.metrics?.syncCalls.inc(metricsLabels);
    const outcome = await syncExternalSecret(es, {
      resolver: this.#opts.resolver,
      kube: this.#kube,
      now: this.#now,
      lookup: { fetchedAfter: due },
      synced: state.synced,
      ...(this.#opts.genericTargetKinds ? { genericTargetKinds: this.#opts.genericTargetKinds } : {}),
    });
    const current = this.#es.get(key) === state;
    if (tampered && current && outcome.result === 'error') this.#tampered.add(key);
    if (!this.#owns(ns) && outcome.result === 'error' && outcome.error instanceof NotLeaderError) {
      // Abandoned, not done. Stopped, it runs first at the next start(); its shard given up, it
      // is the next owner's, who schedules it from its status and the store asks it replays.
      if (current && this.#stopped) this.#queue.schedule(key, due);
      return;
    }
    this.#opts.metrics?.managedSyncs.inc({ kind: 'ExternalSecret', result: outcome.result });
    if (outcome.result === 'error') {
      this.#opts.metrics?.syncErrors.inc(metricsLabels);
      this.#setCondition(metricsLabels, 'False');
      state.failures++;
      const delay = backoff(state.failures, outcome.error);
      this.#opts.logger.warn(
        {
          externalSecret: objectRef(key),
          failures: state.failures,
          retryInMs: delay,
          err: errorMessage(outcome.error),
        },
        'sync failed; data kept, retrying',
      );
      if (current && this.#owns(ns) && !this.#queue.has(key)) this.#queue.schedule(key, this.#now() + delay);
      return;
    }
    // Another controller's object: no condition of ours to report.
    if (!outcome.otherClass) this.#setCondition(metricsLabels, 'True');
    this.#triggerDone(key);
    state.failures = 0;
    state.lastSuccess = this.#now();
    // The string the echo may already have swapped in (shareVersion), when it is the same version.
    const version = state.attempted === resourceVersion ? state.attempted : resourceVersion;
    if (outcome.refreshed) state.synced = { resourceVersion: version, refreshTime: this.#now() };
    const interval = esInterval(es);
    if (interval <= 0 || !isPeriodic(es)) {
      state.done = true;
      return;
    }
    // A change that arrived during the sync is already queued (urgent): leave it there.
    if (current && this.#owns(ns) && !this.#queue.has(key)) {
      this.#queue.schedule(
        key,
        nextSlot(this.#now(), interval, this.#planner.phase(state.group, state.seed, interval)),
      );
    }
  }

  async #runPlaceholder(key: string, due: number): Promise<void> {
    const state = this.#ph.get(key);
    const syncer = this.#opts.placeholders;
    if (!state || !syncer) return;
    const ns = state.secret.metadata?.namespace ?? 'default';
    const outcome = await syncer.sync(state.secret, { fetchedAfter: due, kube: this.#kube });
    if (!this.#owns(ns) && outcome.result === 'error' && outcome.error instanceof NotLeaderError) {
      if (this.#ph.get(key) === state && this.#stopped) this.#queue.schedule(key, due);
      return;
    }
    this.#opts.metrics?.managedSyncs.inc({ kind: 'Secret', result: outcome.result });
    const interval = syncer.interval(state.secret);
    const current = this.#ph.get(key) === state && this.#owns(ns);
    if (outcome.result === 'error') {
      state.failures++;
      this.#opts.logger.warn(
        { secret: objectRef(key.slice(7)), failures: state.failures, err: errorMessage(outcome.error) },
        'placeholder refresh failed; data kept, retrying',
      );
      if (current) this.#queue.schedule(key, this.#now() + backoff(state.failures, outcome.error));
      return;
    }
    state.failures = 0;
    state.lastSuccess = this.#now();
    this.#triggerDone(key);
    if (interval > 0 && current) {
      this.#queue.schedule(
        key,
        nextSlot(this.#now(), interval, this.#planner.phase(state.group, state.seed, interval)),
      );
    }
  }

  /** Drops the per-ExternalSecret metric series of `es` (deleted, or its shard now owned elsewhere). */
  #forgetSeries(es: ExternalSecret): void {
    const m = this.#opts.metrics;
    if (!m) return;
    const ns = es.metadata?.namespace ?? 'default';
    const name = es.metadata?.name ?? '';
    m.syncCalls.removeObject(ns, name);
    m.syncErrors.removeObject(ns, name);
    m.statusCondition.removeObject(ns, name);
  }

  #setCondition(labels: { name: string; namespace: string }, status: 'True' | 'False'): void {
    const g = this.#opts.metrics?.statusCondition;
    if (!g) return;
    g.set({ ...labels, condition: 'Ready', status }, 1);
    g.set({ ...labels, condition: 'Ready', status: status === 'True' ? 'False' : 'True' }, 0);
  }

  #updateGauges(): void {
    const m = this.#opts.metrics;
    if (!m) return;
    m.refresherQueueDepth.set(this.#queue.size);
    const now = this.#now();
    let oldest = now;
    let overdue = 0;
    // Staleness beyond twice the interval: what the EswSecretsStale alert watches. Never synced
    // since this replica started counts from the start. Only objects this replica owns count.
    const late = (lastSuccess: number | undefined, interval: number) =>
      interval > 0 && now - (lastSuccess ?? this.#startedAt) > 2 * interval;
    for (const s of this.#es.values()) {
      if (!this.#owns(s.es.metadata?.namespace ?? 'default')) continue;
      if (s.lastSuccess !== undefined && s.lastSuccess < oldest) oldest = s.lastSuccess;
      if (!s.done && isPeriodic(s.es) && late(s.lastSuccess, cachedInterval(s.es, esInterval))) overdue++;
    }
    const placeholders = this.#opts.placeholders;
    for (const s of this.#ph.values()) {
      if (!this.#owns(s.secret.metadata?.namespace ?? 'default')) continue;
      if (s.lastSuccess !== undefined && s.lastSuccess < oldest) oldest = s.lastSuccess;
      if (
        placeholders &&
        late(
          s.lastSuccess,
          cachedInterval(s.secret, (x) => placeholders.interval(x)),
        )
      )
        overdue++;
    }
    m.stalestSecretAge.set(Math.max(0, (now - oldest) / 1000));
    m.overdueObjects.set(overdue);
  }

  /** For tests and /debug: when an object is next due (undefined = not scheduled). */
  dueOf(obj: ExternalSecret | Secret): number | undefined {
    const key = obj.kind === 'Secret' ? `secret/${objKey(obj)}` : objKey(obj);
    return this.#queue.dueOf(key);
  }

  get startedAt(): number {
    return this.#startedAt;
  }
}

/** The object's force-sync value changed to a new one (set or changed; removing it is no request). */
function forceSyncChanged(prev: KubeObject | undefined, next: KubeObject): boolean {
  const value = forceSyncOf(next);
  return prev !== undefined && value !== undefined && value !== forceSyncOf(prev);
}

function storeLabel(s: StoreId): string {
  return s.namespace === undefined ? `${s.kind} "${s.name}"` : `${s.kind} "${s.namespace}/${s.name}"`;
}

function objKey(o: { metadata?: { namespace?: string; name?: string } }): string {
  return `${o.metadata?.namespace ?? 'default'}/${o.metadata?.name ?? ''}`;
}

/** Intervals per object version (informers replace the object on change), parsed once. */
const intervals = new WeakMap<object, number>();
function cachedInterval<T extends object>(obj: T, interval: (o: T) => number): number {
  let ms = intervals.get(obj);
  if (ms === undefined) {
    ms = interval(obj);
    intervals.set(obj, ms);
  }
  return ms;
}

const DAY_MS = 86_400_000;

/** Compiled windows per object version (informers replace the object on change). */
const windowsCache = new WeakMap<object, SyncWindows | null>();
function syncWindowsOf(es: ExternalSecret): SyncWindows | undefined {
  let windows = windowsCache.get(es);
  if (windows === undefined) {
    windows = compileSyncWindows(es.spec?.syncWindows) ?? null;
    windowsCache.set(es, windows);
  }
  return windows ?? undefined;
}

function esInterval(es: ExternalSecret): number {
  const raw = es.spec?.refreshInterval;
  if (raw === undefined) return DEFAULT_INTERVAL_MS;
  return parseDuration(raw) ?? DEFAULT_INTERVAL_MS;
}

function isPeriodic(es: ExternalSecret): boolean {
  const policy = es.spec?.refreshPolicy ?? 'Periodic';
  return policy === 'Periodic';
}

/** The round group of a store reference: SecretStores are per namespace, ClusterSecretStores global. */
export function storeGroup(kind: string | undefined, namespace: string, name: string): string {
  return (kind ?? 'SecretStore') === 'ClusterSecretStore'
    ? `ClusterSecretStore/${name}`
    : `SecretStore/${namespace}/${name}`;
}

/** The round groups of every store an ExternalSecret names (`#dependents`). */
function esStoreGroups(es: ExternalSecret): string[] {
  const ns = es.metadata?.namespace ?? 'default';
  return storeRefsOf(es).map((r) => storeGroup(r.kind, ns, r.name));
}

/** The store an ExternalSecret reads first (its round group) and the first remote key (its seed). */
export function esSeed(es: ExternalSecret): { group: string; seed: string } {
  const ns = es.metadata?.namespace ?? 'default';
  const first = es.spec?.data?.[0];
  const firstFrom = es.spec?.dataFrom?.[0];
  const store =
    (first ? first.sourceRef?.storeRef : firstFrom?.sourceRef?.storeRef) ?? es.spec?.secretStoreRef ?? {};
  const key = first?.remoteRef?.key ?? firstFrom?.extract?.key ?? `es:${es.metadata?.name ?? ''}`;
  return { group: storeGroup(store.kind, ns, store.name ?? ''), seed: key };
}

export function backoff(failures: number, err: unknown): number {
  const exp = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, failures - 1));
  const cause = isEswError(err) ? err.cause : err;
  const retryAfter = isProviderError(cause) && cause.retryAfterSeconds ? cause.retryAfterSeconds * 1000 : 0;
  return Math.min(BACKOFF_CAP_MS, Math.max(exp, retryAfter));
}

/**
 * Every write first checks ownership of the object's namespace: a replica that lost the shard
 * (or stopped) writes nothing more.
 */
function guardWrites(kube: KubeWriter, owns: (namespace: string) => boolean): KubeWriter {
  const check = (namespace: string | undefined) => {
    if (!owns(namespace ?? 'default')) throw new NotLeaderError();
  };
  return {
    getSecret: (ns, name) => kube.getSecret(ns, name),
    getConfigMap: (ns, name) => kube.getConfigMap(ns, name),
    createSecret: async (ns, s) => {
      check(ns);
      return kube.createSecret(ns, s);
    },
    replaceSecret: async (ns, s) => {
      check(ns);
      return kube.replaceSecret(ns, s);
    },
    deleteSecret: async (ns, name) => {
      check(ns);
      return kube.deleteSecret(ns, name);
    },
    createConfigMap: async (ns, cm) => {
      check(ns);
      if (!kube.createConfigMap) throw new Error('this writer cannot write ConfigMaps');
      return kube.createConfigMap(ns, cm);
    },
    replaceConfigMap: async (ns, cm) => {
      check(ns);
      if (!kube.replaceConfigMap) throw new Error('this writer cannot write ConfigMaps');
      return kube.replaceConfigMap(ns, cm);
    },
    deleteConfigMap: async (ns, name) => {
      check(ns);
      if (!kube.deleteConfigMap) throw new Error('this writer cannot write ConfigMaps');
      return kube.deleteConfigMap(ns, name);
    },
    getObject: async (apiVersion, kind, ns, name) => {
      if (!kube.getObject) throw new Error('this writer cannot read custom resources');
      return kube.getObject(apiVersion, kind, ns, name);
    },
    createObject: async (ns, obj) => {
      check(ns);
      if (!kube.createObject) throw new Error('this writer cannot write custom resources');
      return kube.createObject(ns, obj);
    },
    replaceObject: async (ns, obj) => {
      check(ns);
      if (!kube.replaceObject) throw new Error('this writer cannot write custom resources');
      return kube.replaceObject(ns, obj);
    },
    deleteObject: async (apiVersion, kind, ns, name) => {
      check(ns);
      if (!kube.deleteObject) throw new Error('this writer cannot write custom resources');
      return kube.deleteObject(apiVersion, kind, ns, name);
    },
    updateExternalSecretStatus: async (es, status) => {
      check(es.metadata?.namespace);
      return kube.updateExternalSecretStatus(es, status);
    },
    createEvent: async (e) => {
      check(e.involved.metadata?.namespace);
      return kube.createEvent(e);
    },
    ...(kube.targets ? { targets: kube.targets } : {}),
  };
}
