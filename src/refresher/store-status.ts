/**
 * SecretStore and ClusterSecretStore status, as ESO's store controller writes it: the leader
 * validates every store this controller class serves with one cheap provider call
 * (ProviderClient.validate, through the resolver) and writes `status.conditions` (Ready, with
 * ESO's reasons) and `status.capabilities`.
 *
 * - One validation per store version (uid + generation): the echo of our own status write, a
 *   label edit or a relist costs nothing. A new generation is validated at once; an unchanged
 *   store again every `spec.refreshInterval` seconds, or every 5 minutes (ESO's
 *   `--store-requeue-interval`), each store on a slot of its own within the interval
 *   (`nextCheck`), so a thousand stores are checked a few a second, not all together.
 * - At most `concurrency` validations at a time, so a thousand stores never open a thousand
 *   provider connections at once.
 * - The status is patched only when it differs from the stored one; lastTransitionTime moves only
 *   when the condition's status does (ESO's SetExternalSecretCondition).
 * - Messages are the project's own error texts (stores and fields, never values).
 * - Stores of another controller class are never touched.
 */
import { servesStore } from '../api/controller-class.ts';
import type { Condition, SecretStore } from '../api/types.ts';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';
import { isTransient } from '../resolve/provider-errors.ts';
import type { KubeEvent } from './ports.ts';
import { nextSlot, phaseOf } from './queue.ts';
import { NotLeaderError } from './refresher.ts';
import { refuseLateWrites } from './write-deadline.ts';

/** ESO's reasons and message (apis/externalsecrets/v1, pkg/controllers/secretstore/common.go). */
export const REASON_VALID = 'Valid';
export const REASON_INVALID_CONFIG = 'InvalidProviderConfig';
export const REASON_VALIDATION_FAILED = 'ValidationFailed';
export const MSG_VALIDATED = 'store validated';
/**
 * This webhook reads secrets and never pushes them (no PushSecret), whatever the provider could
 * do: ESO reports ReadWrite for these providers.
 */
export const CAPABILITIES = 'ReadOnly';
/** ESO's default `--store-requeue-interval`. */
export const DEFAULT_STORE_INTERVAL_MS = 5 * 60_000;

export interface StoreStatusBody {
  conditions?: Condition[];
  capabilities?: string;
}

export interface StoreStatusWriter {
  /** A merge patch of `status` alone. */
  patchStoreStatus(store: SecretStore, status: StoreStatusBody): Promise<void>;
  createEvent(event: KubeEvent): Promise<void>;
}

export type StoreCheck = (
  store: SecretStore,
) => Promise<{ stage: 'client' | 'probe'; error: Error } | undefined>;

export interface StoreStatusOptions {
  validate: StoreCheck;
  kube: StoreStatusWriter;
  logger: Logger;
  /** `--controller-class`: stores of another class are left alone. */
  controllerClass: string;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => { cancel(): void };
  /** Validations at once. Default 4. */
  concurrency?: number;
  defaultIntervalMs?: number;
  /**
   * The store's change feed condition (`ChangeFeedReady`, src/feeds/change-feeds.ts): a
   * condition to write, `null` to remove it, undefined to leave it as it is.
   */
  feedCondition?: (store: SecretStore) => Condition | null | undefined;
  /**
   * Asked right before every write (status, Event): false from the renew deadline of the Lease
   * that makes this replica the writer on (src/refresher/write-deadline.ts). A refused write is
   * left for the next holder, whose start() checks every store again. Default: always.
   */
  mayWrite?: () => boolean;
}

/** The condition type a store's change feed health is written under. */
export const FEED_CONDITION = 'ChangeFeedReady';

interface State {
  store: SecretStore;
  /** The version last validated (its result written or found in place). */
  checked?: string;
  due: number;
}

export class StoreStatus {
  readonly #opts: StoreStatusOptions;
  readonly #now: () => number;
  readonly #kube: StoreStatusWriter;
  readonly #stores = new Map<string, State>();
  #running = false;
  #timer: { cancel(): void; at: number } | undefined;
  #ticking: Promise<number> | undefined;

  constructor(opts: StoreStatusOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#kube = opts.mayWrite ? refuseLateWrites(opts.kube, opts.mayWrite) : opts.kube;
  }

  get running(): boolean {
    return this.#running;
  }

  upsert(store: SecretStore): void {
    const key = storeKey(store);
    const prev = this.#stores.get(key);
    if (!servesStore(store, this.#opts.controllerClass)) {
      // Another controller's store (now): never validated, never written.
      this.#stores.delete(key);
      return;
    }
    const state: State = prev ?? { store, due: this.#now() };
    state.store = store;
    // A new version is validated at once; the echo of our own write (same generation) is not.
    if (state.checked !== versionOf(store)) state.due = this.#now();
    this.#stores.set(key, state);
    this.#wake();
  }

  remove(store: SecretStore): void {
    this.#stores.delete(storeKey(store));
  }

  /** Checks and writes `store`'s status now (its change feed's health changed). */
  recheck(store: SecretStore): void {
    const state = this.#stores.get(storeKey(store));
    if (!state || state.due === Number.POSITIVE_INFINITY) return;
    state.due = this.#now();
    this.#wake();
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    // A new leader validates everything once: another replica's results may be stale.
    for (const s of this.#stores.values()) {
      s.checked = undefined;
      s.due = this.#now();
    }
    this.#wake();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#timer?.cancel();
    this.#timer = undefined;
    await this.#ticking;
  }

  /** Validates every store due now (bounded concurrency) and waits; returns how many ran. */
  tick(): Promise<number> {
    if (this.#ticking) return this.#ticking;
    const run = this.#drain().finally(() => {
      this.#ticking = undefined;
      this.#wake();
    });
    this.#ticking = run;
    return run;
  }

  /** For tests: when a store is next validated (undefined: not tracked). */
  dueOf(store: SecretStore): number | undefined {
    return this.#stores.get(storeKey(store))?.due;
  }

  async #drain(): Promise<number> {
    let ran = 0;
    for (;;) {
      if (!this.#running) return ran;
      const now = this.#now();
      const due = [...this.#stores.entries()]
        .filter(([, s]) => s.due <= now)
        .sort((a, b) => a[1].due - b[1].due)
        .map(([k]) => k);
      if (due.length === 0) return ran;
      let i = 0;
      const worker = async (): Promise<void> => {
        while (i < due.length && this.#running) {
          const key = due[i++] as string;
          const state = this.#stores.get(key);
          if (!state) continue;
          // Not due again until this check has finished and rescheduled it.
          state.due = Number.POSITIVE_INFINITY;
          ran++;
          await this.#check(key, state);
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.#opts.concurrency ?? 4, due.length) }, worker));
    }
  }

  async #check(key: string, state: State): Promise<void> {
    const store = state.store;
    const version = versionOf(store);
    let failure: { stage: 'client' | 'probe'; error: Error } | undefined;
    try {
      failure = await this.#opts.validate(store);
    } catch (err: unknown) {
      failure = { stage: 'client', error: err instanceof Error ? err : new Error(String(err)) };
    }
    const condition: Condition = failure
      ? {
          type: 'Ready',
          status: 'False',
          reason:
            failure.stage === 'probe' && isTransient(failure.error)
              ? REASON_VALIDATION_FAILED
              : REASON_INVALID_CONFIG,
          message:
            failure.stage === 'client'
              ? `unable to create client: ${errorMessage(failure.error)}`
              : `unable to validate store: ${errorMessage(failure.error)}`,
        }
      : { type: 'Ready', status: 'True', reason: REASON_VALID, message: MSG_VALIDATED };
    const current = this.#stores.get(key) === state ? state : undefined;
    try {
      await this.#write(store, condition, !failure);
      if (current) current.checked = version;
    } catch (err: unknown) {
      if (err instanceof NotLeaderError)
        this.#opts.logger.debug(
          { store: key },
          'store status not written: past the renew deadline; left for the next holder',
        );
      else
        this.#opts.logger.warn(
          { store: key, err: errorMessage(err) },
          'store status not written; retrying at the next check',
        );
    }
    if (!current || this.#stores.get(key) !== state) return;
    // A newer version arrived meanwhile: validate it at once.
    if (versionOf(state.store) !== version) state.due = this.#now();
    else
      state.due = nextCheck(
        key,
        this.#now(),
        intervalOf(store, this.#opts.defaultIntervalMs ?? DEFAULT_STORE_INTERVAL_MS),
      );
  }

  async #write(store: SecretStore, condition: Condition, valid: boolean): Promise<void> {
    const status = (store.status ?? {}) as StoreStatusBody;
    const conditions = Array.isArray(status.conditions) ? status.conditions : [];
    const prev = conditions.find((c) => c.type === 'Ready');
    const capabilities = valid ? CAPABILITIES : status.capabilities;
    const feed = this.#opts.feedCondition?.(store);
    const prevFeed = conditions.find((c) => c.type === FEED_CONDITION);
    const feedSame =
      feed === undefined ||
      (feed === null
        ? !prevFeed
        : prevFeed?.status === feed.status &&
          prevFeed.reason === feed.reason &&
          prevFeed.message === feed.message);
    if (
      prev &&
      prev.status === condition.status &&
      prev.reason === condition.reason &&
      prev.message === condition.message &&
      capabilities === status.capabilities &&
      feedSame
    ) {
      return; // as it is: no write
    }
    if (!this.#running) return;
    const stamp = (c: Condition, before: Condition | undefined): Condition => ({
      ...c,
      lastTransitionTime:
        before && before.status === c.status && before.lastTransitionTime
          ? before.lastTransitionTime
          : new Date(this.#now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    });
    const next = stamp(condition, prev);
    const others = conditions.filter(
      (c) => c.type !== 'Ready' && (feed === undefined || c.type !== FEED_CONDITION),
    );
    const body: StoreStatusBody = {
      conditions: [...others, next, ...(feed ? [stamp(feed, prevFeed)] : [])],
      ...(capabilities !== undefined ? { capabilities } : {}),
    };
    await this.#kube.patchStoreStatus(store, body);
    this.#opts.logger.info(
      { store: storeKey(store), ready: condition.status, reason: condition.reason },
      'store status written',
    );
    // An Event when the verdict changes (ESO records one every reconcile).
    if (prev?.status !== condition.status || prev?.reason !== condition.reason) {
      await this.#kube
        .createEvent({
          involved: store,
          type: valid ? 'Normal' : 'Warning',
          reason: condition.reason ?? '',
          message: condition.message ?? '',
        })
        .catch((err: unknown) => {
          this.#opts.logger.debug(
            { store: storeKey(store), err: errorMessage(err) },
            'store event not recorded',
          );
        });
    }
  }

  #wake(): void {
    if (!this.#running || this.#ticking) return;
    let next = Number.POSITIVE_INFINITY;
    for (const s of this.#stores.values()) if (s.due < next) next = s.due;
    if (!Number.isFinite(next)) return;
    const setTimer = this.#opts.setTimer;
    if (!setTimer) return; // tests drive tick()
    if (this.#timer && this.#timer.at <= next) return;
    this.#timer?.cancel();
    const at = next;
    const t = setTimer(
      () => {
        if (this.#timer?.at === at) this.#timer = undefined;
        void this.tick();
      },
      Math.max(0, at - this.#now()),
    );
    this.#timer = { cancel: () => t.cancel(), at };
  }
}

function storeKey(store: SecretStore): string {
  return store.kind === 'ClusterSecretStore'
    ? `ClusterSecretStore/${store.metadata?.name ?? ''}`
    : `SecretStore/${store.metadata?.namespace ?? 'default'}/${store.metadata?.name ?? ''}`;
}

/** uid + generation: a spec change, not a status, label or annotation change. */
function versionOf(store: SecretStore): string {
  const m = store.metadata;
  return `${m?.uid ?? ''}/${m?.generation ?? ''}`;
}

/**
 * The next routine check of the store `key`: on a slot of its own within the interval (a hash of
 * the key), at least half an interval and less than one and a half after this one. Without it
 * the first checks of a new leader, all due at once, left every store due again in the same few
 * seconds, interval after interval: 1,000 stores made a burst of 1,000 provider calls every 5
 * minutes (4 at a time) instead of 3 or 4 a second.
 */
export function nextCheck(key: string, now: number, interval: number): number {
  const due = nextSlot(now, interval, phaseOf(key, interval));
  return due - now < interval / 2 ? due + interval : due;
}

/** `spec.refreshInterval` (seconds) when set and positive, else the default. */
function intervalOf(store: SecretStore, fallback: number): number {
  // An int-or-string in the CRD's schema: a number of seconds either way.
  const s = Number(store.spec?.refreshInterval ?? 0);
  return Number.isFinite(s) && s > 0 ? s * 1000 : fallback;
}
