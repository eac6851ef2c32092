/**
 * Provider change feeds (docs/push-refresh.md, "Change feeds"): for every store annotated with
 * `esw.io/change-feed`, while this replica owns the refresher, one consumer that receives the
 * provider's change events and asks the refresher to refresh the dependents of the keys named —
 * the same path as `POST /refresh` with keys (fresh reads, one call per key, coalesced in the
 * urgent lane).
 *
 * - Events only name keys; values are always read again, so a duplicated or reordered event
 *   costs at most a read that finds the Secret up to date (a Secret is written only when its
 *   content changes), and a lost one waits for the periodic refresh.
 * - The keys of a batch (SQS: up to 10 messages) are refreshed together, once.
 * - A failing feed (queue missing, access denied, endpoint down) is retried with a backoff up to
 *   a minute; meanwhile the periodic refresh serves. Health is a metric and a log line per change.
 * - One consumer per store: SQS gives each message to one receiver, so two stores naming the
 *   same queue would split its events (docs: one queue per store).
 */
import type { Condition, KubeObject, SecretStore } from '../api/types.ts';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { FEED_CONDITION } from '../refresher/store-status.ts';
import { refreshRequestOf, type StoreId, storeOfObject } from '../refresher/triggers.ts';
import { MAX_FEED_ADDRESS_LENGTH } from './addresses.ts';
import { EVENT_GRID_FEED, FEED_SECRET_ANNOTATION, feedSecretRef, isEventGridStore } from './event-grid.ts';
import { CHANGE_FEED_ANNOTATION, type ChangeFeedReceiver, type FeedKind } from './types.ts';

export { CHANGE_FEED_ANNOTATION };

const MIN_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 60_000;

export interface ChangeFeedsOptions {
  open(store: SecretStore, address: string): Promise<ChangeFeedReceiver>;
  /** Refresh the dependents of `keys` of `store` now (Refresher.refreshStore with source `feed`). */
  refresh(store: StoreId, keys: string[]): unknown;
  logger: Logger;
  metrics?: Metrics | undefined;
  /** Waits `ms` or until `signal` aborts (tests shorten the backoff). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  minBackoffMs?: number;
  /**
   * Whether this replica's events reach every dependent of the store (with shards: can it record
   * them on the store for the other shards' owners?). Asked once each time a feed opens; a reason
   * when they cannot (the condition and a log line say so), undefined when they can or it is
   * unknown.
   */
  probe?: (store: SecretStore) => Promise<string | undefined>;
  /** A feed became healthy or failing (store status writes its `ChangeFeedReady` condition). */
  onHealth?: (store: SecretStore) => void;
  /** This webhook serves Event Grid deliveries (`--event-grid-endpoint`): push feeds can work. */
  eventGrid?: boolean;
  /**
   * Asked before each receive and again before its events are handed on and acknowledged: false
   * from the renew deadline of the Lease that makes this replica the consumer (the leader's, or
   * shard 0's). Refused events are not acknowledged: the provider delivers them again, to the
   * next holder. Default: always.
   */
  mayWrite?: () => boolean;
}

type Health = 'starting' | 'healthy' | 'failing';

interface Feed {
  id: StoreId;
  label: string;
  /** The store version the consumer was opened for (uid, generation, address). */
  version: string;
  store: SecretStore;
  address: string;
  abort: AbortController;
  kind: FeedKind | undefined;
  health: Health;
  /** The last failure, in our words (never a value: a feed carries none). */
  error: string;
  /** Why its events do not reach every dependent (shards without `patch` on stores), or ''. */
  limitation: string;
  probed: boolean;
  done: Promise<void>;
}

export class ChangeFeeds {
  readonly #opts: ChangeFeedsOptions;
  readonly #stores = new Map<string, SecretStore>();
  readonly #feeds = new Map<string, Feed>();
  /** Push feeds (Event Grid) with a delivery seen, by store label. */
  readonly #delivered = new Set<string>();
  #running = false;

  constructor(opts: ChangeFeedsOptions) {
    this.#opts = opts;
  }

  get running(): boolean {
    return this.#running;
  }

  /** Health of each feed by store label (tests, debugging). */
  health(): Record<string, Health> {
    return Object.fromEntries([...this.#feeds.values()].map((f) => [f.label, f.health]));
  }

  /**
   * The store's `ChangeFeedReady` condition: True while its feed is consumed, False while it
   * fails (dependents refresh on their interval); null when the store names no feed; undefined
   * (leave it) while this replica does not consume feeds or the feed is starting.
   */
  condition(store: KubeObject): Condition | null | undefined {
    const id = storeOfObject(store);
    if (!id) return undefined;
    const address = store.metadata?.annotations?.[CHANGE_FEED_ANNOTATION]?.trim();
    if (!address) return null;
    if (address === EVENT_GRID_FEED)
      return this.#running ? this.#pushCondition(store as SecretStore, label(id)) : undefined;
    const feed = this.#feeds.get(label(id));
    if (!this.#running || !feed || feed.health === 'starting') return undefined;
    if (feed.health === 'healthy' && feed.limitation)
      return {
        type: FEED_CONDITION,
        status: 'False',
        reason: 'FeedOwnShardsOnly',
        message: `change feed consumed, but ${feed.limitation}`,
      };
    return feed.health === 'healthy'
      ? { type: FEED_CONDITION, status: 'True', reason: 'FeedConsumed', message: 'change feed consumed' }
      : {
          type: FEED_CONDITION,
          status: 'False',
          reason: 'FeedFailing',
          message: `change feed failing, refreshing on the interval: ${feed.error}`,
        };
  }

  upsert(obj: KubeObject): void {
    const id = storeOfObject(obj);
    if (!id) return;
    const key = label(id);
    const before = this.#stores.get(key);
    this.#stores.set(key, obj as SecretStore);
    const push = isEventGridStore(obj);
    // A delivery taken by another replica is recorded on the store (source feed).
    if (push && refreshRequestOf(obj)?.source === 'feed') this.delivered(id);
    if (!push) this.#delivered.delete(key);
    if (this.#running) this.#reconcile(key);
    // A push feed's condition follows the annotations (no consumer reports for it).
    const annotations = (o: KubeObject | undefined) =>
      JSON.stringify([
        o?.metadata?.annotations?.[CHANGE_FEED_ANNOTATION],
        o?.metadata?.annotations?.[FEED_SECRET_ANNOTATION],
      ]);
    if (before && annotations(before) !== annotations(obj) && (push || isEventGridStore(before)))
      this.#opts.onHealth?.(obj as SecretStore);
  }

  /** A push delivery for `id` was taken (here, or recorded on the store by another replica). */
  delivered(id: StoreId): void {
    const key = label(id);
    if (this.#delivered.has(key)) return;
    this.#delivered.add(key);
    const store = this.#stores.get(key);
    if (store) this.#opts.onHealth?.(store);
  }

  remove(obj: KubeObject): void {
    const id = storeOfObject(obj);
    if (!id) return;
    const key = label(id);
    this.#stores.delete(key);
    this.#delivered.delete(key);
    this.#close(key);
  }

  /** This replica owns the refresher: consume every feed. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    for (const key of this.#stores.keys()) this.#reconcile(key);
  }

  /** Stops consuming (ownership lost, shutdown); resolves once every consumer has returned. */
  async stop(): Promise<void> {
    this.#running = false;
    const done = [...this.#feeds.keys()].map((k) => this.#close(k));
    await Promise.allSettled(done);
  }

  /**
   * The events of `id`'s feed do not reach every dependent (`reason`, our words): said once in
   * the log and in its `ChangeFeedReady` condition (False, FeedOwnShardsOnly) while it lasts —
   * until the feed reopens (a new generation or address, a new owner), which asks again.
   */
  limit(id: StoreId, reason: string): void {
    const feed = this.#feeds.get(label(id));
    if (!feed || feed.limitation === reason) return;
    feed.limitation = reason;
    this.#opts.logger.warn({ store: feed.label }, `change feed: ${reason}`);
    this.#opts.onHealth?.(feed.store);
  }

  #reconcile(key: string): void {
    const store = this.#stores.get(key);
    const address = store?.metadata?.annotations?.[CHANGE_FEED_ANNOTATION]?.trim();
    const current = this.#feeds.get(key);
    // A push feed has no consumer: Event Grid delivers to the refresh port of any replica.
    if (!store || !address || address === EVENT_GRID_FEED) {
      void this.#close(key);
      // Its condition goes with the annotation.
      if (store && current) this.#opts.onHealth?.(store);
      return;
    }
    // A new generation may change credentials; a new address is a new feed.
    const version = `${store.metadata?.uid ?? ''}/${store.metadata?.generation ?? ''}/${address}`;
    if (current?.version === version) {
      current.store = store;
      return;
    }
    void this.#close(key);
    const id = storeOfObject(store) as StoreId;
    const feed: Feed = {
      id,
      label: key,
      version,
      store,
      address,
      abort: new AbortController(),
      kind: undefined,
      health: 'starting',
      error: '',
      limitation: '',
      probed: false,
      done: Promise.resolve(),
    };
    this.#feeds.set(key, feed);
    this.#gauge(feed, 'starting', 1);
    feed.done = this.#consume(feed);
  }

  /** Past the renew deadline of the consumer's Lease (mayWrite). */
  #late(): boolean {
    return this.#opts.mayWrite?.() === false;
  }

  #close(key: string): Promise<void> {
    const feed = this.#feeds.get(key);
    if (!feed) return Promise.resolve();
    this.#gauge(feed, feed.health, -1);
    this.#feeds.delete(key);
    feed.abort.abort();
    return feed.done;
  }

  async #consume(feed: Feed): Promise<void> {
    const { signal } = feed.abort;
    const log = this.#opts.logger;
    let failures = 0;
    let receiver: ChangeFeedReceiver | undefined;
    while (!signal.aborted) {
      try {
        if (this.#late()) {
          // The stop this deadline brings is on its way: nothing is received meanwhile, and a
          // closed receiver gives back what it holds (Pub/Sub nacks it; SQS, whose messages come
          // back after the visibility timeout, holds nothing between receives).
          receiver?.close();
          receiver = undefined;
          await (this.#opts.sleep ?? sleep)(this.#opts.minBackoffMs ?? MIN_BACKOFF_MS, signal);
          continue;
        }
        if (feed.address.length > MAX_FEED_ADDRESS_LENGTH) throw new Error('the address is too long');
        receiver ??= await this.#opts.open(feed.store, feed.address);
        if (!feed.kind) {
          // The gauge counted this feed under no kind until its kind was known.
          this.#gauge(feed, feed.health, -1);
          feed.kind = receiver.kind;
          this.#gauge(feed, feed.health, 1);
        }
        if (!feed.probed && this.#opts.probe) {
          feed.probed = true;
          const limitation = await this.#opts.probe(feed.store).catch(() => undefined);
          if (limitation && !signal.aborted) this.limit(feed.id, limitation);
        }
        const events = await receiver.receive(signal);
        if (signal.aborted) break;
        if (events.length > 0 && this.#late()) {
          // The long poll ended past the renew deadline: neither refreshed (the refresher would
          // schedule nothing) nor acknowledged, so the next holder receives them again.
          log.info(
            { store: feed.label, events: events.length },
            'change feed: past the renew deadline; events left unacknowledged for the next holder',
          );
          continue;
        }
        const keys = new Set<string>();
        for (const e of events) {
          const result = e.unreadable ? 'unreadable' : e.keys.length ? 'refresh' : 'ignored';
          this.#opts.metrics?.changeFeedEvents.inc({ feed: receiver.kind, result });
          for (const k of e.keys) keys.add(k);
        }
        if (events.some((e) => e.unreadable))
          log.warn({ store: feed.label }, 'change feed: a message is not a provider event; deleted');
        if (keys.size > 0) await this.#opts.refresh(feed.id, [...keys]);
        // Deleted once scheduled: a redelivery would only repeat a refresh.
        if (events.length > 0)
          await receiver.ack(
            events.map((e) => e.handle),
            signal,
          );
        if (feed.health !== 'healthy') {
          if (feed.health === 'failing') log.info({ store: feed.label }, 'change feed recovered');
          this.#setHealth(feed, 'healthy');
        }
        failures = 0;
      } catch (err: unknown) {
        if (signal.aborted) break;
        failures++;
        feed.error = errorMessage(err);
        this.#opts.metrics?.changeFeedErrors.inc({ feed: feed.kind ?? 'unknown' });
        if (feed.health !== 'failing') {
          // The error names the store and the call, never a value (the feed carries none).
          log.warn(
            { store: feed.label, err: errorMessage(err) },
            'change feed failing; refreshing on the interval until it recovers',
          );
          this.#setHealth(feed, 'failing');
        } else log.debug({ store: feed.label, err: errorMessage(err) }, 'change feed still failing');
        // A new client next time: credentials or the store may have been fixed meanwhile.
        receiver?.close();
        receiver = undefined;
        const min = this.#opts.minBackoffMs ?? MIN_BACKOFF_MS;
        await (this.#opts.sleep ?? sleep)(
          Math.min(MAX_BACKOFF_MS, min * 2 ** Math.min(failures - 1, 16)),
          signal,
        );
      }
    }
    receiver?.close();
  }

  /**
   * A push feed's condition: False while deliveries cannot be taken (the endpoint is off, the
   * provider is not Azure Key Vault, no usable secret annotation); Unknown until a delivery was
   * seen, then True. A push feed cannot tell an outage from a quiet vault: the interval stays on.
   */
  #pushCondition(store: SecretStore, key: string): Condition {
    const failing = (why: string): Condition => ({
      type: FEED_CONDITION,
      status: 'False',
      reason: 'FeedFailing',
      message: `change feed failing, refreshing on the interval: ${why}`,
    });
    if (!this.#opts.eventGrid)
      return failing('Event Grid deliveries are not served by this webhook (--event-grid-endpoint)');
    const provider = Object.keys(store.spec?.provider ?? {})[0] ?? 'none';
    if (provider !== 'azurekv')
      return failing(`provider "${provider}" has no Event Grid feed (azurekv only)`);
    const ref = feedSecretRef(store);
    if ('error' in ref) return failing(ref.error);
    const outage = 'a push feed cannot detect an outage: dependents also refresh on their interval';
    return this.#delivered.has(key)
      ? {
          type: FEED_CONDITION,
          status: 'True',
          reason: 'FeedDelivered',
          message: `Event Grid deliveries received; ${outage}`,
        }
      : {
          type: FEED_CONDITION,
          status: 'Unknown',
          reason: 'AwaitingDeliveries',
          message: `no Event Grid delivery seen yet; ${outage}`,
        };
  }

  #setHealth(feed: Feed, health: Health): void {
    this.#gauge(feed, feed.health, -1);
    feed.health = health;
    this.#gauge(feed, health, 1);
    if (this.#feeds.get(feed.label) === feed) this.#opts.onHealth?.(feed.store);
  }

  /** `esw_change_feeds{feed,state}`: feeds consumed by this replica, by kind and health. */
  #gauge(feed: Feed, state: Health, by: number): void {
    // A feed closed meanwhile (its consumer still returning) counts no more.
    if (this.#feeds.get(feed.label) !== feed) return;
    this.#opts.metrics?.changeFeeds.inc({ feed: feed.kind ?? 'unknown', state }, by);
  }
}

function label(id: StoreId): string {
  return id.namespace === undefined
    ? `ClusterSecretStore/${id.name}`
    : `SecretStore/${id.namespace}/${id.name}`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}
