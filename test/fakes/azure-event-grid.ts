/**
 * A fake of Azure Event Grid's webhook delivery, the side that pushes to an endpoint:
 *
 * - `subscribe()` performs the handshake of the subscription's schema — the Event Grid schema's
 *   `SubscriptionValidationEvent` POST (`aeg-event-type: SubscriptionValidation`, answered with
 *   `{"validationResponse": code}`), or CloudEvents 1.0's OPTIONS abuse protection
 *   (`WebHook-Request-Origin: eventgrid.azure.net`, answered with `WebHook-Allowed-Origin`) — and
 *   fails as Event Grid does when the endpoint does not answer it;
 * - `publish()` queues events (built in the Event Grid schema, as Key Vault emits them);
 *   `flush()` delivers what is queued in batches of at most `maxEventsPerBatch`: the Event Grid
 *   schema as a JSON array, CloudEvents as one structured event
 *   (`application/cloudevents+json`) or a batch (`application/cloudevents-batch+json`), with the
 *   subscription's static delivery headers (`--delivery-attribute-mapping … static …`);
 * - a batch answered with anything but 200–204 is kept and tried again by the next `flush()`
 *   (Event Grid retries on a schedule; tests decide when), 400 and 413 dead-letter it at once,
 *   and `maxDeliveryAttempts` dead-letters it after that many tries.
 *
 * Every body it sends is first read back with the real `@azure/eventgrid` deserializer, so what
 * the webhook is tested against is what the SDK accepts as Event Grid's wire format.
 */
import { randomUUID } from 'node:crypto';
import { EventGridDeserializer } from '@azure/eventgrid';
import { request } from '../helpers/https.ts';

export type DeliverySchema = 'EventGridSchema' | 'CloudEventSchemaV1_0';
export const EVENT_GRID_ORIGIN = 'eventgrid.azure.net';

/** An event in the Event Grid schema. */
export interface EventGridEvent {
  id: string;
  topic: string;
  subject: string;
  eventType: string;
  eventTime: string;
  data: Record<string, unknown>;
  dataVersion: string;
  metadataVersion: string;
}

export interface SubscriptionOptions {
  name?: string;
  /** The endpoint URL (with `?access_token=…` for the query form). */
  endpoint: string;
  /** The CA the endpoint's certificate chains to, and the name it is served under. */
  ca: string;
  servername?: string;
  schema: DeliverySchema;
  /** Static delivery attribute headers, e.g. `{ authorization: 'Bearer …' }`. */
  headers?: Record<string, string>;
  maxEventsPerBatch?: number;
  maxDeliveryAttempts?: number;
}

export interface DeliveryAttempt {
  status: number;
  events: number;
  attempt: number;
  body: string;
}

interface Pending {
  events: EventGridEvent[];
  attempts: number;
}

const deserializer = new EventGridDeserializer();

/** The event Key Vault emits for a new version of `objectName` (`kind`: Secret, Key, Certificate). */
export function keyVaultEvent(opts: {
  kind?: 'Secret' | 'Key' | 'Certificate';
  type?: string;
  vaultName: string;
  /** The vault's URL (the object's `Id` is a URL in it). */
  vaultUrl: string;
  objectName: string;
  version?: string;
  subscriptionId?: string;
}): EventGridEvent {
  const kind = opts.kind ?? 'Secret';
  const version = opts.version ?? randomUUID().replaceAll('-', '');
  const path = kind === 'Secret' ? 'secrets' : kind === 'Key' ? 'keys' : 'certificates';
  const now = Math.floor(Date.now() / 1000);
  return {
    id: randomUUID(),
    topic: `/subscriptions/${opts.subscriptionId ?? '00000000-0000-0000-0000-000000000000'}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/${opts.vaultName}`,
    subject: opts.objectName,
    eventType: opts.type ?? `Microsoft.KeyVault.${kind}NewVersionCreated`,
    eventTime: new Date().toISOString(),
    // Member names as the service sends them (PascalCase; NBF/EXP Unix seconds).
    data: {
      Id: `${opts.vaultUrl.replace(/\/$/, '')}/${path}/${opts.objectName}/${version}`,
      VaultName: opts.vaultName,
      ObjectType: kind,
      ObjectName: opts.objectName,
      Version: version,
      NBF: now,
      EXP: null,
    },
    dataVersion: '1',
    metadataVersion: '1',
  };
}

/** The CloudEvents 1.0 form Event Grid delivers of an Event Grid schema event. */
export function toCloudEvent(e: EventGridEvent): Record<string, unknown> {
  return {
    id: e.id,
    source: e.topic,
    subject: e.subject,
    type: e.eventType,
    time: e.eventTime,
    data: e.data,
    specversion: '1.0',
  };
}

export class EventGridSubscription {
  readonly opts: SubscriptionOptions;
  readonly name: string;
  readonly attempts: DeliveryAttempt[] = [];
  readonly deadLettered: EventGridEvent[] = [];
  readonly #pending: Pending[] = [];
  #queued: EventGridEvent[] = [];

  constructor(opts: SubscriptionOptions) {
    this.opts = opts;
    this.name = opts.name ?? 'esw-secret-changes';
  }

  /** Events queued or being retried. */
  get pending(): number {
    return this.#queued.length + this.#pending.reduce((n, p) => n + p.events.length, 0);
  }

  publish(...events: EventGridEvent[]): void {
    this.#queued.push(...events);
  }

  /**
   * One delivery attempt for every batch waiting (queued events batched first): the statuses
   * answered, in order. Failed batches wait for the next flush.
   */
  async flush(): Promise<number[]> {
    const size = Math.max(1, this.opts.maxEventsPerBatch ?? 1);
    for (let i = 0; i < this.#queued.length; i += size)
      this.#pending.push({ events: this.#queued.slice(i, i + size), attempts: 0 });
    this.#queued = [];
    const statuses: number[] = [];
    for (const batch of [...this.#pending]) {
      batch.attempts++;
      const status = await this.#deliver(batch);
      statuses.push(status);
      const done = status >= 200 && status <= 204;
      const dead =
        status === 400 || status === 413 || batch.attempts >= (this.opts.maxDeliveryAttempts ?? 30);
      if (done || dead) this.#pending.splice(this.#pending.indexOf(batch), 1);
      if (!done && dead) this.deadLettered.push(...batch.events);
    }
    return statuses;
  }

  #tls(): { servername?: string } {
    return this.opts.servername ? { servername: this.opts.servername } : {};
  }

  async #deliver(batch: Pending): Promise<number> {
    const cloud = this.opts.schema === 'CloudEventSchemaV1_0';
    const single = cloud && batch.events.length === 1 && (this.opts.maxEventsPerBatch ?? 1) === 1;
    const payload = cloud
      ? single
        ? toCloudEvent(batch.events[0] as EventGridEvent)
        : batch.events.map(toCloudEvent)
      : batch.events;
    const body = JSON.stringify(payload);
    // What is sent is what the SDK reads as Event Grid's wire format.
    if (cloud) await deserializer.deserializeCloudEvents(body);
    else await deserializer.deserializeEventGridEvents(body);
    const headers: Record<string, string> = {
      'content-type': cloud
        ? single
          ? 'application/cloudevents+json; charset=utf-8'
          : 'application/cloudevents-batch+json; charset=utf-8'
        : 'application/json; charset=utf-8',
      'aeg-event-type': 'Notification',
      'aeg-subscription-name': this.name.toUpperCase(),
      'aeg-delivery-count': String(batch.attempts - 1),
      'aeg-metadata-version': '1',
      'aeg-data-version': '1',
      ...(cloud ? { 'webhook-request-origin': EVENT_GRID_ORIGIN } : {}),
      ...this.opts.headers,
    };
    let status: number;
    try {
      status = (await request(this.opts.endpoint, body, { ca: this.opts.ca, headers, ...this.#tls() }))
        .status;
    } catch {
      status = 0;
    }
    this.attempts.push({ status, events: batch.events.length, attempt: batch.attempts, body });
    return status;
  }
}

/**
 * Creates a subscription to `endpoint`, validated by the handshake of its schema as Event Grid
 * does; rejects (as `az eventgrid event-subscription create` fails) when the endpoint does not
 * complete it.
 */
export async function subscribeWebhook(opts: SubscriptionOptions): Promise<EventGridSubscription> {
  const sub = new EventGridSubscription(opts);
  const headers = { ...opts.headers };
  if (opts.schema === 'CloudEventSchemaV1_0') {
    const res = await request(opts.endpoint, undefined, {
      ca: opts.ca,
      ...(opts.servername ? { servername: opts.servername } : {}),
      method: 'OPTIONS',
      headers: { 'webhook-request-origin': EVENT_GRID_ORIGIN, 'webhook-request-rate': '120', ...headers },
    });
    const allowed = res.headers['webhook-allowed-origin'];
    if (allowed !== EVENT_GRID_ORIGIN && allowed !== '*')
      throw new Error(`webhook validation handshake failed (HTTP ${res.status})`);
    return sub;
  }
  const code = randomUUID();
  const validation = {
    id: randomUUID(),
    topic:
      '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv',
    subject: '',
    data: {
      validationCode: code,
      validationUrl: `https://rp-eastus.eventgrid.azure.net/validate?code=${code}`,
    },
    eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
    eventTime: new Date().toISOString(),
    metadataVersion: '1',
    dataVersion: '2',
  };
  const body = JSON.stringify([validation]);
  await deserializer.deserializeEventGridEvents(body);
  const res = await request(opts.endpoint, body, {
    ca: opts.ca,
    ...(opts.servername ? { servername: opts.servername } : {}),
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'aeg-event-type': 'SubscriptionValidation',
      'aeg-subscription-name': sub.name.toUpperCase(),
      'aeg-delivery-count': '0',
      ...headers,
    },
  });
  let answered: unknown;
  try {
    answered = res.json<{ validationResponse?: unknown }>().validationResponse;
  } catch {
    answered = undefined;
  }
  if (res.status !== 200 || answered !== code)
    throw new Error(`webhook validation handshake failed (HTTP ${res.status})`);
  return sub;
}
