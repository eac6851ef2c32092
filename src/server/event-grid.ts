/**
 * Event Grid deliveries of Azure Key Vault events (docs/push-refresh.md, "Azure: Event Grid →
 * the webhook"), on the refresh port:
 *
 *   POST|OPTIONS /events/azure/secretstores/NAMESPACE/NAME
 *   POST|OPTIONS /events/azure/clustersecretstores/NAME
 *
 * Authentication is a secret per store: the store names a Secret key
 * (`esw.io/change-feed-secret`) and the event subscription sends it as a static delivery header
 * `Authorization: Bearer <secret>` (or, the CloudEvents webhook spec's other method, the URL's
 * `access_token`). A tenant's secret therefore reaches its own store only, and the events of a
 * delivery only refresh that store's dependents (of keys in its vault).
 *
 * In order, each step answering before the next runs:
 * 1. a credential must be present (401), and the client address must not have failed too many
 *    authentications (429): before the body is read;
 * 2. the store must exist, name the feed `event-grid` and a usable Secret key, and the
 *    credential must equal it (constant time). Every failure is the same 401, byte for byte: an
 *    unknown store, a store without the feed and a wrong secret cannot be told apart; a failure
 *    takes a token of the address's bucket;
 * 3. the store's rate (429 with Retry-After, which Event Grid honours by retrying later);
 * 4. OPTIONS (the CloudEvents abuse-protection handshake): consent with
 *    `WebHook-Allowed-Origin` and `WebHook-Allowed-Rate`;
 * 5. POST: the body (at most 1 MiB, 5,000 events); the Event Grid schema's validation event is
 *    answered `{"validationResponse": code}`; events name keys, which are handed to `accept`
 *    (the refresher, or the store's refresh-request annotation) — 503 when that fails, so Event
 *    Grid retries.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SecretStore, StoreKind } from '../api/types.ts';
import { errorMessage } from '../errors.ts';
import {
  type EventResult,
  FEED_SECRET_ANNOTATION,
  feedSecretRef,
  isEventGridStore,
  keyVaultChange,
  MIN_SECRET_LENGTH,
  parseDelivery,
} from '../feeds/event-grid.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { MAX_REQUEST_KEYS, type StoreId } from '../refresher/triggers.ts';
import type { SecretReader } from '../resolve/types.ts';
import { Buckets } from './rate-limit.ts';
import type { RefreshAnswer } from './refresh.ts';

/** Event Grid's largest batch (preferred batch size up to 1,024 KB), with room for the framing. */
export const EVENT_GRID_BODY_LIMIT = 1024 * 1024 + 64 * 1024;
const FEED = 'azure-event-grid';
/** Keys of one delivery beyond which the whole store is refreshed (still one read per key). */
const MAX_DELIVERY_KEYS = 4 * MAX_REQUEST_KEYS;
const WARN_EVERY_MS = 60_000;

export interface EventGridOptions {
  /** The store from the informers' cache. */
  store(id: StoreId): SecretStore | undefined;
  /** The webhook's Secret reader (cached briefly): the delivery secret, in the store's namespace. */
  secrets: SecretReader;
  /**
   * Refresh the dependents of `keys` of `store` (undefined: every key) now: the refresher's owner
   * directly, else recorded on the store. Rejects when the request could not be taken.
   */
  accept(store: StoreId, keys: string[] | undefined): Promise<void>;
  logger: Logger;
  metrics: Metrics;
  /** Failed authentications one address may make per second on average (burst 20). Default 2. */
  addressPerSecond?: number;
  /** Deliveries one store may take per second on average (burst 20). Default 5. */
  storePerSecond?: number;
  now?: () => number;
}

export interface StorePath {
  kind: StoreKind;
  namespace?: string | undefined;
  name: string;
}

export type Authenticated = { store: SecretStore; id: StoreId } | { answer: RefreshAnswer };

const UNAUTHORIZED: RefreshAnswer = {
  status: 401,
  body: {
    code: 'ESW_UNAUTHORIZED',
    message: "the store's Event Grid delivery secret is required (Authorization: Bearer, or access_token)",
  },
  headers: { 'www-authenticate': 'Bearer' },
};
const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export class EventGridEndpoint {
  readonly #opts: EventGridOptions;
  readonly #now: () => number;
  readonly #addresses: Buckets;
  readonly #stores: Buckets;
  readonly #storePerSecond: number;
  /** Compared with when there is nothing to compare with: the same work for every failure. */
  readonly #dummy = createHash('sha256').update(randomBytes(32)).digest();
  readonly #warned = new Map<string, number>();

  constructor(opts: EventGridOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#addresses = new Buckets(20, 1_000 / (opts.addressPerSecond ?? 2));
    this.#storePerSecond = opts.storePerSecond ?? 5;
    this.#stores = new Buckets(20, 1_000 / this.#storePerSecond);
  }

  /** Step 1, before the body is read: a credential, and an address not failing too often. */
  precheck(credential: string | undefined, address: string): RefreshAnswer | undefined {
    const wait = this.#addresses.peek(address, this.#now());
    if (wait > 0) return this.#count(tooMany(wait));
    if (credential === undefined) {
      this.#addresses.take(address, this.#now());
      return this.#count(UNAUTHORIZED);
    }
    return undefined;
  }

  /** Steps 2 and 3: the store's secret, then the store's rate. */
  async authenticate(path: StorePath, credential: string, address: string): Promise<Authenticated> {
    const id = storeId(path);
    const store = id && this.#opts.store(id);
    let expected: Buffer | undefined;
    if (id && store && isEventGridStore(store)) expected = await this.#secretOf(store, label(id));
    const given = createHash('sha256').update(credential).digest();
    const match = timingSafeEqual(given, expected ?? this.#dummy) && expected !== undefined;
    if (!match || !id || !store) {
      this.#addresses.take(address, this.#now());
      this.#opts.logger.debug({ address }, 'Event Grid delivery refused: not authenticated');
      return { answer: this.#count(UNAUTHORIZED) };
    }
    const wait = this.#stores.take(label(id), this.#now());
    if (wait > 0) return { answer: this.#count(tooMany(wait)) };
    return { store, id };
  }

  /** The CloudEvents abuse-protection handshake: consent for the origin asking, at our rate. */
  options(origin: string | undefined): RefreshAnswer {
    const headers: Record<string, string> = { allow: 'POST, OPTIONS' };
    if (origin && /^[-.a-zA-Z0-9*]{1,253}$/.test(origin)) {
      headers['webhook-allowed-origin'] = origin;
      headers['webhook-allowed-rate'] = String(Math.max(1, Math.floor(this.#storePerSecond * 60)));
    }
    return this.#count({ status: 200, body: { code: 'OK', message: 'deliveries allowed' }, headers });
  }

  /** Step 5: a delivery of an authenticated store. */
  async deliver(auth: { store: SecretStore; id: StoreId }, body: unknown): Promise<RefreshAnswer> {
    const { store, id } = auth;
    const delivery = parseDelivery(body);
    if (delivery.kind === 'invalid')
      return this.#count({ status: 400, body: { code: 'ESW_BAD_REQUEST', message: delivery.error } });
    if (delivery.kind === 'validation') {
      this.#opts.logger.info({ store: label(id) }, 'Event Grid subscription validated');
      return this.#count({
        status: 200,
        body: { validationResponse: delivery.code } as unknown as RefreshAnswer['body'],
      });
    }
    const keys = new Set<string>();
    const results: Record<EventResult, number> = { refresh: 0, ignored: 0, unreadable: 0 };
    for (const event of delivery.events) {
      const change = keyVaultChange(event, store);
      results[change.result]++;
      for (const k of change.keys) keys.add(k);
    }
    for (const [result, n] of Object.entries(results))
      if (n > 0) this.#opts.metrics.changeFeedEvents.inc({ feed: FEED, result }, n);
    if (results.unreadable > 0)
      this.#opts.logger.warn(
        { store: label(id), unreadable: results.unreadable },
        'Event Grid delivery: events that are not Key Vault events of either schema; ignored',
      );
    if (keys.size > 0) {
      // A batch naming very many keys refreshes the store: fewer requests, the same reads.
      const named = keys.size > MAX_DELIVERY_KEYS ? undefined : [...keys];
      try {
        await this.#opts.accept(id, named);
      } catch (err: unknown) {
        this.#opts.metrics.changeFeedErrors.inc({ feed: FEED });
        this.#opts.logger.warn(
          { store: label(id), err: errorMessage(err) },
          'Event Grid delivery: the refresh could not be requested; Event Grid will retry',
        );
        return this.#count(unavailable());
      }
    }
    this.#opts.logger.debug(
      { store: label(id), events: delivery.events.length, keys: keys.size },
      'Event Grid delivery',
    );
    return this.#count({
      status: 200,
      body: {
        code: 'ACCEPTED',
        message: `${delivery.events.length} events, ${keys.size} keys to refresh`,
      },
    });
  }

  /** The store's delivery secret (SHA-256), or undefined when it has none that can be used. */
  async #secretOf(store: SecretStore, storeLabel: string): Promise<Buffer | undefined> {
    const ref = feedSecretRef(store);
    if ('error' in ref) {
      this.#warn(storeLabel, ref.error);
      return undefined;
    }
    let value: string | undefined;
    try {
      const secret = await this.#opts.secrets.readSecret(ref.namespace, ref.name);
      const data = secret?.data?.[ref.key];
      value = typeof data === 'string' ? Buffer.from(data, 'base64').toString('utf8').trim() : undefined;
    } catch (err: unknown) {
      this.#opts.metrics.changeFeedErrors.inc({ feed: FEED });
      this.#warn(storeLabel, `reading the Secret failed: ${errorMessage(err)}`);
      return undefined;
    }
    if (value === undefined) {
      this.#warn(
        storeLabel,
        `${FEED_SECRET_ANNOTATION}: no key "${ref.key}" in Secret ${ref.namespace}/${ref.name}`,
      );
      return undefined;
    }
    if (value.length < MIN_SECRET_LENGTH) {
      this.#warn(
        storeLabel,
        `${FEED_SECRET_ANNOTATION}: the secret is shorter than ${MIN_SECRET_LENGTH} characters`,
      );
      return undefined;
    }
    return createHash('sha256').update(value).digest();
  }

  /** The operator's side of a refused delivery: why, once a minute per store (never the value). */
  #warn(store: string, problem: string): void {
    const now = this.#now();
    const last = this.#warned.get(store);
    if (last !== undefined && now - last < WARN_EVERY_MS) return;
    this.#warned.delete(store);
    this.#warned.set(store, now);
    if (this.#warned.size > 1_000) this.#warned.delete(this.#warned.keys().next().value as string);
    this.#opts.logger.warn(
      { store, problem },
      'Event Grid deliveries for this store cannot be authenticated',
    );
  }

  #count(answer: RefreshAnswer): RefreshAnswer {
    this.#opts.metrics.changeFeedDeliveries.inc({ feed: FEED, code: String(answer.status) });
    return answer;
  }
}

/** The credential of a delivery: `Authorization: Bearer …`, else the `access_token` query. */
export function deliveryCredential(
  authorization: string | undefined,
  accessToken: unknown,
): string | undefined {
  const m = /^Bearer +(\S{1,4096})\s*$/i.exec(authorization ?? '');
  if (m) return m[1];
  return typeof accessToken === 'string' && accessToken.length > 0 && accessToken.length <= 4096
    ? accessToken
    : undefined;
}

function storeId(path: StorePath): StoreId | undefined {
  if (!NAME.test(path.name)) return undefined;
  if (path.kind === 'ClusterSecretStore') return { kind: path.kind, namespace: undefined, name: path.name };
  if (!NAMESPACE.test(path.namespace ?? '')) return undefined;
  return { kind: path.kind, namespace: path.namespace, name: path.name };
}

function label(id: StoreId): string {
  return id.namespace === undefined
    ? `ClusterSecretStore/${id.name}`
    : `SecretStore/${id.namespace}/${id.name}`;
}

function tooMany(waitMs: number): RefreshAnswer {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return {
    status: 429,
    body: { code: 'ESW_TOO_MANY_REQUESTS', message: `too many deliveries; retry in ${seconds} s` },
    headers: { 'retry-after': String(seconds) },
  };
}

function unavailable(): RefreshAnswer {
  return {
    status: 503,
    body: { code: 'ESW_UNAVAILABLE', message: 'the refresh could not be requested; retry later' },
    headers: { 'retry-after': '30' },
  };
}
