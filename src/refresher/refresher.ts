/**
 * The refresher: keeps ExternalSecret targets and placeholder Secrets true to their remote
 * values. Inputs are informer events; work runs from one due-time queue with bounded
 * concurrency, only while this replica leads.
 *
 * Scheduling, designed for provider cost:
 * - new and changed objects (new generation, new force-sync value, a tampered or deleted
 *   target) are urgent and go ahead of routine refreshes;
 * - routine refreshes fall on slots `phase + k * interval`, where the phase is a hash of the
 *   object's first store and remote key: objects sharing a key come due together and their
 *   lookups coalesce into one provider call (`fetchedAfter` = the slot time), while different
 *   keys spread across the interval instead of all firing at once;
 * - after a restart, an object synced less than one interval ago (status.refreshTime) keeps its
 *   slot instead of being synced again; overdue ones are spread over the first pass window;
 * - failures back off exponentially (2 s doubling, capped at 5 min, honouring Retry-After),
 *   keep the Secret's data and never hot-loop.
 */

import { parseDuration } from '../api/duration.ts';
import type { ExternalSecret, Secret } from '../api/types.ts';
import { errorMessage, isEswError } from '../errors.ts';
import { type Logger, objectRef } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { ownWords } from '../observability/sanitize.ts';
import { isProviderError } from '../providers/types.ts';
import type { Resolver } from '../resolve/types.ts';
import { ES_HASH_ANNOTATION, type SyncOutcome, syncExternalSecret } from './external-secret.ts';
import type { KubeWriter } from './ports.ts';
import { DueQueue, nextSlot, Priority, phaseOf } from './queue.ts';
import { dataHash, decodeData } from './secret-data.ts';

export const FORCE_SYNC = 'force-sync';
const DEFAULT_INTERVAL_MS = 3_600_000;
const BACKOFF_BASE_MS = 2_000;
const BACKOFF_CAP_MS = 300_000;

export interface PlaceholderSyncer {
  /** Re-resolves one placeholder Secret; returns its refresh interval (0 = never). */
  sync(secret: Secret, opts: { fetchedAfter: number; kube: KubeWriter }): Promise<SyncOutcome>;
  interval(secret: Secret): number;
  /** The first store/key it reads, for the schedule phase. */
  phaseSeed(secret: Secret): string;
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
  concurrency?: number;
  /** Objects taken per round (prefetched together). Default 1,000. */
  roundSize?: number;
  /** Window over which overdue objects are spread after a start. Default 60 s. */
  firstPassWindowMs?: number;
}

interface EsState {
  es: ExternalSecret;
  syncedGeneration?: number;
  forceSync?: string | undefined;
  failures: number;
  lastSuccess?: number;
  /** Synced once and never again (CreatedOnce, OnChange, interval 0) unless changed. */
  done: boolean;
}

interface PhState {
  secret: Secret;
  failures: number;
  lastSuccess?: number;
}

/** Thrown into in-flight syncs once leadership is lost: nothing more is written. */
export class NotLeaderError extends Error {
  constructor() {
    super('no longer the leader; write abandoned');
  }
}
ownWords(NotLeaderError);

export class Refresher {
  readonly #opts: RefresherOptions;
  readonly #now: () => number;
  readonly #queue = new DueQueue();
  readonly #es = new Map<string, EsState>();
  readonly #ph = new Map<string, PhState>();
  /** target Secret ns/name -> ExternalSecret key, to restore tampered targets. */
  readonly #targets = new Map<string, string>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #seeds = new Map<string, number>();
  #ranked: string[] | undefined;
  #running = false;
  #startedAt = 0;
  #timer: { cancel(): void } | undefined;
  #kube: KubeWriter;

  constructor(opts: RefresherOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#kube = guardWrites(opts.kube, () => this.#running);
  }

  get running(): boolean {
    return this.#running;
  }

  get queueDepth(): number {
    return this.#queue.size;
  }

  // ---------------------------------------------------------------- informer inputs

  upsertExternalSecret(es: ExternalSecret): void {
    const key = objKey(es);
    const prev = this.#es.get(key);
    const force = es.metadata?.annotations?.[FORCE_SYNC];
    const state: EsState = prev ?? { es, failures: 0, done: false };
    if (prev) this.#seedCount(phaseSeed(prev.es), -1);
    this.#seedCount(phaseSeed(es), +1);
    state.es = es;
    const target = `${es.metadata?.namespace ?? 'default'}/${es.spec?.target?.name || es.metadata?.name}`;
    this.#targets.set(target, key);
    this.#es.set(key, state);
    const generation = es.metadata?.generation ?? 0;
    if (!prev) {
      this.#scheduleFirst(key, state);
    } else if (state.syncedGeneration !== generation || state.forceSync !== force) {
      state.done = false;
      this.#queue.schedule(key, this.#now(), Priority.Urgent);
    }
    this.#wake();
  }

  deleteExternalSecret(es: ExternalSecret): void {
    const key = objKey(es);
    const prev = this.#es.get(key);
    if (prev) this.#seedCount(phaseSeed(prev.es), -1);
    this.#es.delete(key);
    this.#queue.remove(key);
    for (const [t, k] of this.#targets) if (k === key) this.#targets.delete(t);
  }

  /** A managed target changed or disappeared: restore it at once if it no longer matches. */
  targetSecretChanged(secret: Secret, deleted: boolean): void {
    const key = this.#targets.get(`${secret.metadata?.namespace ?? 'default'}/${secret.metadata?.name}`);
    const state = key ? this.#es.get(key) : undefined;
    if (!key || !state) return;
    const policy = state.es.spec?.target?.creationPolicy ?? 'Owner';
    if (policy === 'None') return;
    // Our own writes come back here too. A Secret whose data still matches its data-hash
    // annotation is as we wrote it (ESO's isSecretValid): the echo costs no provider call.
    if (!deleted && intact(secret)) return;
    if (deleted || state.lastSuccess !== undefined) {
      state.done = false;
      this.#queue.schedule(key, this.#now(), Priority.Urgent);
      this.#wake();
    }
  }

  upsertPlaceholder(secret: Secret): void {
    if (!this.#opts.placeholders) return;
    const key = `secret/${objKey(secret)}`;
    const prev = this.#ph.get(key);
    this.#ph.set(key, {
      secret,
      failures: prev?.failures ?? 0,
      ...(prev?.lastSuccess ? { lastSuccess: prev.lastSuccess } : {}),
    });
    if (!prev) {
      const interval = this.#opts.placeholders.interval(secret);
      if (interval > 0) {
        const phase = roundPhase(this.#opts.placeholders.phaseSeed(secret), interval, this.#rounds());
        this.#queue.schedule(key, nextSlot(this.#now(), interval, phase));
      }
      this.#wake();
    }
  }

  deletePlaceholder(secret: Secret): void {
    const key = `secret/${objKey(secret)}`;
    this.#ph.delete(key);
    this.#queue.remove(key);
  }

  /** How many ExternalSecrets start from each remote key (the schedule phase seed). */
  #seedCount(seed: string, delta: number): void {
    const n = (this.#seeds.get(seed) ?? 0) + delta;
    if (n > 0) this.#seeds.set(seed, n);
    else this.#seeds.delete(seed);
    if (n <= 0 || n === delta) this.#ranked = undefined;
  }

  /**
   * An ExternalSecret's phase: its key's rank among all keys, cut into equal rounds, so every
   * round holds at most 20 distinct keys (hash phases would give uneven rounds of 15–25, and a
   * round of 21 costs two batches). Keys this refresher does not know fall back to the hash grid.
   */
  #phase(seed: string, period: number): number {
    const rounds = this.#rounds();
    const grid = Math.max(1_000, Math.floor(period / rounds));
    if (!this.#seeds.has(seed)) return roundPhase(seed, period, rounds);
    this.#ranked ??= [...this.#seeds.keys()]
      .map((k) => ({ k, h: phaseOf(k, 2 ** 31) }))
      .sort((a, b) => a.h - b.h || (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
      .map((x) => x.k);
    const ranked = this.#ranked;
    const h = phaseOf(seed, 2 ** 31);
    let lo = 0;
    let hi = ranked.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const m = ranked[mid] as string;
      const mh = phaseOf(m, 2 ** 31);
      if (mh < h || (mh === h && m < seed)) lo = mid + 1;
      else hi = mid;
    }
    const round = Math.floor((lo * rounds) / ranked.length);
    return Math.min(round * grid, Math.max(0, period - 1));
  }

  /**
   * Rounds per interval: enough that each round holds about 20 distinct keys (one AWS batch),
   * never more than 60, so 100 keys refresh in 5 batches and 1,000 keys in 50.
   */
  #rounds(): number {
    return Math.min(MAX_ROUNDS, Math.max(1, Math.ceil(this.#seeds.size / KEYS_PER_ROUND)));
  }

  // ---------------------------------------------------------------- leadership

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#startedAt = this.#now();
    this.#opts.logger.info({ objects: this.#es.size + this.#ph.size }, 'refresher started');
    this.#wake();
  }

  /** Stops at once: queued work stays queued, in-flight syncs write nothing more. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#timer?.cancel();
    this.#timer = undefined;
    await Promise.allSettled([...this.#inFlight]);
    this.#opts.logger.info('refresher stopped');
  }

  // ---------------------------------------------------------------- the loop

  /** Runs everything due now (bounded concurrency) and waits for it. The loop and tests use it. */
  async tick(): Promise<number> {
    let started = 0;
    const limit = this.#opts.concurrency ?? 8;
    for (;;) {
      if (!this.#running) break;
      // Take what is due now (up to a round), fetch every remote key it needs at once — the
      // resolver coalesces them and batches them (20 a call on AWS) — then sync with bounded
      // concurrency from the warm cache.
      const round: { key: string; due: number }[] = [];
      const max = this.#opts.roundSize ?? 1000;
      while (round.length < max) {
        const item = this.#queue.popDue(this.#now());
        if (!item) break;
        round.push(item);
      }
      if (round.length === 0) break;
      await this.#prefetch(round);
      let i = 0;
      const worker = async (): Promise<void> => {
        while (i < round.length && this.#running) {
          const item = round[i++] as { key: string; due: number };
          started++;
          const p = this.#run(item.key, item.due);
          this.#inFlight.add(p);
          try {
            await p;
          } finally {
            this.#inFlight.delete(p);
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(limit, round.length) }, worker));
      // Items not started because leadership was lost go back to the queue.
      for (const item of round.slice(i)) this.#queue.schedule(item.key, item.due);
    }
    this.#updateGauges();
    return started;
  }

  /** Warms the resolver's cache for a round: one lookup per distinct remote key and store. */
  async #prefetch(round: { key: string; due: number }[]): Promise<void> {
    const lookups: Promise<unknown>[] = [];
    const seen = new Set<string>();
    for (const { key, due } of round) {
      const es = this.#es.get(key)?.es;
      if (!es) continue;
      const ns = es.metadata?.namespace ?? 'default';
      const def = es.spec?.secretStoreRef;
      const refs = [
        ...(es.spec?.data ?? []).map((d) => ({ store: d.sourceRef?.storeRef ?? def, ref: d.remoteRef })),
        ...(es.spec?.dataFrom ?? []).map((d) => ({ store: d.sourceRef?.storeRef ?? def, ref: d.extract })),
      ];
      for (const { store, ref } of refs) {
        if (!store?.name || !ref?.key) continue;
        const storeRef = { name: store.name, kind: store.kind ?? 'SecretStore' } as const;
        const id = `${storeRef.kind}/${storeRef.kind === 'SecretStore' ? ns : ''}/${storeRef.name}/${ref.key}#${ref.version ?? ''}`;
        if (seen.has(id)) continue;
        seen.add(id);
        // The raw value only (no property, no decoding): the cache holds raw bytes per key.
        lookups.push(
          this.#opts.resolver
            .getValue(
              storeRef,
              ns,
              { key: ref.key, ...(ref.version ? { version: ref.version } : {}) },
              { fetchedAfter: due },
            )
            .catch(() => undefined),
        );
      }
    }
    await Promise.all(lookups);
  }

  #wake(): void {
    if (!this.#running || !this.#opts.setTimer) return;
    this.#timer?.cancel();
    const due = this.#queue.nextDue(this.#now());
    if (due === undefined) return;
    this.#timer = this.#opts.setTimer(
      () => {
        this.#timer = undefined;
        void this.tick().finally(() => this.#wake());
      },
      Math.max(0, due - this.#now()),
    );
  }

  #scheduleFirst(key: string, state: EsState): void {
    const es = state.es;
    const interval = esInterval(es);
    const synced = es.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True');
    const refreshed = es.status?.refreshTime ? Date.parse(es.status.refreshTime) : Number.NaN;
    const upToDate =
      synced && es.status?.syncedResourceVersion?.startsWith(`${es.metadata?.generation ?? 0}-`);
    if (!upToDate || Number.isNaN(refreshed)) {
      this.#queue.schedule(key, this.#now(), Priority.Urgent);
      return;
    }
    // Synced before this process started: keep its slot, or spread it over the first pass.
    state.syncedGeneration = es.metadata?.generation ?? 0;
    state.forceSync = es.metadata?.annotations?.[FORCE_SYNC];
    state.lastSuccess = refreshed;
    if (interval <= 0 || !isPeriodic(es)) {
      state.done = true;
      return;
    }
    const window = Math.min(this.#opts.firstPassWindowMs ?? 60_000, interval);
    const due = refreshed + interval;
    const spread = this.#now() + roundPhase(phaseSeed(es), window, this.#rounds());
    this.#queue.schedule(key, Math.max(due, Math.min(spread, due + window)));
  }

  async #run(key: string, due: number): Promise<void> {
    if (key.startsWith('secret/')) return this.#runPlaceholder(key, due);
    const state = this.#es.get(key);
    if (!state) return;
    const es = state.es;
    const metricsLabels = { name: es.metadata?.name ?? '', namespace: es.metadata?.namespace ?? '' };
    this.#opts.metrics?.syncCalls.inc(metricsLabels);
    const outcome = await syncExternalSecret(es, {
      resolver: this.#opts.resolver,
      kube: this.#kube,
      now: this.#now,
      lookup: { fetchedAfter: due },
    });
    if (!this.#running && outcome.result === 'error' && outcome.error instanceof NotLeaderError) {
      // Abandoned, not done: it runs first when this replica leads again.
      if (this.#es.get(key) === state) this.#queue.schedule(key, due);
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
      if (this.#es.get(key) === state) this.#queue.schedule(key, this.#now() + delay);
      return;
    }
    this.#setCondition(metricsLabels, 'True');
    state.failures = 0;
    state.lastSuccess = this.#now();
    state.syncedGeneration = es.metadata?.generation ?? 0;
    state.forceSync = es.metadata?.annotations?.[FORCE_SYNC];
    const interval = esInterval(es);
    if (interval <= 0 || !isPeriodic(es)) {
      state.done = true;
      return;
    }
    if (this.#es.get(key) === state) {
      this.#queue.schedule(key, nextSlot(this.#now(), interval, this.#phase(phaseSeed(es), interval)));
    }
  }

  async #runPlaceholder(key: string, due: number): Promise<void> {
    const state = this.#ph.get(key);
    const syncer = this.#opts.placeholders;
    if (!state || !syncer) return;
    const outcome = await syncer.sync(state.secret, { fetchedAfter: due, kube: this.#kube });
    this.#opts.metrics?.managedSyncs.inc({ kind: 'Secret', result: outcome.result });
    const interval = syncer.interval(state.secret);
    if (outcome.result === 'error') {
      state.failures++;
      this.#opts.logger.warn(
        { secret: objectRef(key.slice(7)), failures: state.failures, err: errorMessage(outcome.error) },
        'placeholder refresh failed; data kept, retrying',
      );
      if (this.#ph.get(key) === state)
        this.#queue.schedule(key, this.#now() + backoff(state.failures, outcome.error));
      return;
    }
    state.failures = 0;
    state.lastSuccess = this.#now();
    if (interval > 0 && this.#ph.get(key) === state) {
      this.#queue.schedule(
        key,
        nextSlot(this.#now(), interval, roundPhase(syncer.phaseSeed(state.secret), interval, this.#rounds())),
      );
    }
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
    // since this replica started counts from the start.
    const late = (lastSuccess: number | undefined, interval: number) =>
      interval > 0 && now - (lastSuccess ?? this.#startedAt) > 2 * interval;
    for (const s of this.#es.values()) {
      if (s.lastSuccess !== undefined && s.lastSuccess < oldest) oldest = s.lastSuccess;
      if (!s.done && isPeriodic(s.es) && late(s.lastSuccess, cachedInterval(s.es, esInterval))) overdue++;
    }
    const placeholders = this.#opts.placeholders;
    for (const s of this.#ph.values()) {
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

/** The Secret's data matches the hash written with it: nobody edited it since. */
function intact(secret: Secret): boolean {
  const written = secret.metadata?.annotations?.[ES_HASH_ANNOTATION];
  return written !== undefined && written === dataHash(decodeData(secret.data));
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

function esInterval(es: ExternalSecret): number {
  const raw = es.spec?.refreshInterval;
  if (raw === undefined) return DEFAULT_INTERVAL_MS;
  return parseDuration(raw) ?? DEFAULT_INTERVAL_MS;
}

function isPeriodic(es: ExternalSecret): boolean {
  const policy = es.spec?.refreshPolicy ?? 'Periodic';
  return policy === 'Periodic';
}

const MAX_ROUNDS = 60;
const KEYS_PER_ROUND = 20;

/**
 * The phase of a seed within a period, on a grid of `rounds` rounds a period (never finer than
 * 1 s): keys due in one round are fetched together, so AWS gets full batches of 20 instead of a
 * call per key, while the load still spreads over the whole interval.
 */
export function roundPhase(seed: string, period: number, rounds = MAX_ROUNDS): number {
  const grid = Math.max(1_000, Math.floor(period / Math.max(1, rounds)));
  return Math.floor(phaseOf(seed, period) / grid) * grid;
}

/** The first store and remote key an ExternalSecret reads: objects sharing it share a phase. */
export function phaseSeed(es: ExternalSecret): string {
  const store = es.spec?.secretStoreRef?.name ?? '';
  const first =
    es.spec?.data?.[0]?.remoteRef?.key ?? es.spec?.dataFrom?.[0]?.extract?.key ?? es.metadata?.name ?? '';
  return `${store}/${first}`;
}

export function backoff(failures: number, err: unknown): number {
  const exp = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, failures - 1));
  const cause = isEswError(err) ? err.cause : err;
  const retryAfter = isProviderError(cause) && cause.retryAfterSeconds ? cause.retryAfterSeconds * 1000 : 0;
  return Math.min(BACKOFF_CAP_MS, Math.max(exp, retryAfter));
}

/** Every write first checks leadership: a replica that lost the lease writes nothing more. */
function guardWrites(kube: KubeWriter, active: () => boolean): KubeWriter {
  const check = () => {
    if (!active()) throw new NotLeaderError();
  };
  return {
    getSecret: (ns, name) => kube.getSecret(ns, name),
    createSecret: async (ns, s) => {
      check();
      return kube.createSecret(ns, s);
    },
    replaceSecret: async (ns, s) => {
      check();
      return kube.replaceSecret(ns, s);
    },
    deleteSecret: async (ns, name) => {
      check();
      return kube.deleteSecret(ns, name);
    },
    updateExternalSecretStatus: async (es, status) => {
      check();
      return kube.updateExternalSecretStatus(es, status);
    },
    createEvent: async (e) => {
      check();
      return kube.createEvent(e);
    },
  };
}
