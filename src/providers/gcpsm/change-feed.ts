/**
 * The GCP change feed (docs/push-refresh.md, "GCP"): Secret Manager's event notifications,
 * published to a Pub/Sub topic named on the secrets (`gcloud secrets update --topics`), read
 * from a subscription by streaming pull with the store's own credentials. A notification's
 * attributes say what happened (`eventType`) to which secret (`secretId`,
 * `projects/<p>[/locations/<l>]/secrets/<name>`); its data (the resource JSON) is never read.
 *
 * - Only events that change what a key reads count; the others are acknowledged as `ignored`.
 * - The SDK (@google-cloud/pubsub) is imported when the first feed opens.
 * - Flow control: at most MAX_OUTSTANDING messages and MAX_OUTSTANDING_BYTES held unacknowledged
 *   (the server stops sending past them), one stream.
 * - A stream refused (NOT_FOUND, PERMISSION_DENIED…) ends the SDK's subscription: an error here.
 *   A stream the SDK would retry by itself (UNAVAILABLE…) is an error here when it ends within
 *   MIN_STREAM_LIFE_MS of the previous one: Pub/Sub closes healthy streams now and then (the SDK
 *   reopens them at once), a failing service refuses every new one at once.
 */
import type { Message, PubSub, Subscription } from '@google-cloud/pubsub';
import type { AuthClient } from 'google-auth-library';
import type { ClientOptions } from 'google-gax';
import type { GcpSmProvider } from '../../api/types.ts';
import { PUBSUB_SUBSCRIPTION } from '../../feeds/addresses.ts';
import type { ChangeFeedReceiver, FeedEvent } from '../../feeds/types.ts';
import { ProviderError } from '../types.ts';
import { gcpError } from './errors.ts';
import { endpointOverrideOptions, type GcpEndpointOverride } from './options.ts';

/** Secret Manager event types that change what a key reads (or make a missing key appear). */
export const CHANGE_EVENTS: ReadonlySet<string> = new Set([
  'SECRET_CREATE',
  'SECRET_UPDATE',
  'SECRET_DELETE',
  'SECRET_VERSION_ADD',
  'SECRET_VERSION_ENABLE',
  'SECRET_VERSION_DISABLE',
  'SECRET_VERSION_DESTROY',
  'SECRET_VERSION_DESTROY_SCHEDULED',
]);

/** Unacknowledged messages held at most (the stream's flow control). */
export const MAX_OUTSTANDING = 100;
/** Unacknowledged bytes held at most (Pub/Sub messages are up to 10 MB; notifications a few KiB). */
export const MAX_OUTSTANDING_BYTES = 4 * 1024 * 1024;
/** A receive waits this long for a message before returning none (the loop's heartbeat). */
const RECEIVE_WAIT_MS = 20_000;
/** The first receive after opening: a refusal of the subscription comes at once. */
const FIRST_WAIT_MS = 1_000;
/** A stream that ends (retryably) sooner than this after the previous one: the feed is failing. */
export const MIN_STREAM_LIFE_MS = 10_000;
/** Acknowledgements are sent in batches this often (the SDK's batching). */
const ACK_BATCH_MS = 20;
/** Closing waits this long after the last ack, so that the SDK sends it rather than a nack. */
const ACK_FLUSH_MS = 250;
const MAX_EVENT_TYPE_LENGTH = 64;
const MAX_SECRET_ID_LENGTH = 512;
const SECRET_ID = /^projects\/([^/]{1,100})(?:\/locations\/([^/]{1,63}))?\/secrets\/([A-Za-z0-9_-]{1,255})$/;
/** Retryable ends the SDK reports that are not failures: a stream's own deadline, our close. */
const ROUTINE_CODES: ReadonlySet<number> = new Set([0, 1, 4]);

/**
 * The subscription a store names, checked (the form only: `projects/<p>/subscriptions/<s>`,
 * served by Pub/Sub's own endpoint). Returns its project.
 */
export function subscriptionProject(address: string): string {
  const m = PUBSUB_SUBSCRIPTION.exec(address);
  if (!m?.[1]) {
    throw new ProviderError(
      'Invalid',
      'metadata.annotations[esw.io/change-feed]: not a Pub/Sub subscription (projects/<project>/subscriptions/<subscription>)',
    );
  }
  return m[1];
}

/**
 * The keys a Secret Manager notification is about, from its attributes, or `unreadable` (not a
 * notification). A secret of another project or location than the store's is not its key
 * (ignored). Resource names often carry the project *number*: a number is taken as the store's
 * project — the subscription is the store's own, and a wrong guess costs one read.
 */
export function gcpEventKeys(
  attributes: Readonly<Record<string, string>> | undefined,
  store: Pick<GcpSmProvider, 'projectID' | 'location'>,
): { keys: string[]; unreadable: boolean } {
  const type = attributes?.eventType;
  if (typeof type !== 'string' || type === '' || type.length > MAX_EVENT_TYPE_LENGTH)
    return { keys: [], unreadable: true };
  if (!CHANGE_EVENTS.has(type)) return { keys: [], unreadable: false };
  const id = attributes?.secretId;
  if (typeof id !== 'string' || id.length > MAX_SECRET_ID_LENGTH) return { keys: [], unreadable: true };
  const m = SECRET_ID.exec(id);
  if (!m) return { keys: [], unreadable: true };
  const [, project, location, name] = m as unknown as [string, string, string | undefined, string];
  if (project !== store.projectID && !/^\d{1,20}$/.test(project)) return { keys: [], unreadable: false };
  if ((location ?? '') !== (store.location ?? '')) return { keys: [], unreadable: false };
  return { keys: [name], unreadable: false };
}

export interface PubsubFeedOptions {
  /** `projects/<p>/subscriptions/<s>` (checked by subscriptionProject). */
  subscription: string;
  /** The store's auth client; none: Application Default Credentials (allowed stores only). */
  authClient: AuthClient | undefined;
  /** Server config / tests: the Pub/Sub endpoint. */
  override: GcpEndpointOverride | undefined;
  /** The store's spec with its project (detected when not set), to match events. */
  store(signal: AbortSignal): Promise<GcpSmProvider>;
  /** Gets the federated token first, so a refused exchange is reported in our words. */
  authorize?: (() => Promise<void>) | undefined;
  /** Tests: a shorter wait of a receive that finds nothing. */
  receiveWaitMs?: number;
}

type PubSubModule = typeof import('@google-cloud/pubsub');
let loading: Promise<PubSubModule> | undefined;
/** The SDK, imported once, on the first feed (a failed import is tried again). */
function loadPubSub(): Promise<PubSubModule> {
  loading ??= import('@google-cloud/pubsub').catch((err: unknown) => {
    loading = undefined;
    throw err;
  });
  return loading;
}

/**
 * The streaming-pull receiver. Messages arrive on the SDK's stream into a buffer bounded by the
 * flow control; a receive hands out what is buffered (or waits for it); an ack acknowledges
 * (the SDK batches Acknowledge calls). Closing nacks what was not acknowledged: Pub/Sub
 * redelivers it to the next consumer, which costs at most one more refresh.
 */
export function pubsubReceiver(opts: PubsubFeedOptions): ChangeFeedReceiver {
  const project = subscriptionProject(opts.subscription);
  const subject = `Pub/Sub subscription ${opts.subscription}`;
  const buffer: Message[] = [];
  const held = new Map<string, Message>();
  let client: PubSub | undefined;
  let subscription: Subscription | undefined;
  let failure: ProviderError | undefined;
  let wake: (() => void) | undefined;
  let streamSince = 0;
  let waited = false;
  let lastAck = 0;
  let closed = false;
  let next = 0;

  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const fail = (err: unknown) => {
    failure ??= gcpError(err, subject);
    notify();
  };

  async function open(): Promise<void> {
    const { PubSub, Duration } = await loadPubSub();
    if (closed) return;
    const endpoint = opts.override ?? { host: 'pubsub.googleapis.com', port: 443, insecure: false };
    const base: ClientOptions = opts.override ? endpointOverrideOptions(opts.authClient, opts.override) : {};
    client = new PubSub({
      ...base,
      ...(opts.authClient ? { authClient: opts.authClient } : {}),
      projectId: project,
      // host:port, always: without one the SDK would read PUBSUB_EMULATOR_HOST and friends.
      apiEndpoint: `${endpoint.host}:${endpoint.port}`,
      emulatorMode: false,
    });
    const sub = client.subscription(opts.subscription, {
      flowControl: {
        maxMessages: MAX_OUTSTANDING,
        maxBytes: MAX_OUTSTANDING_BYTES,
        allowExcessMessages: false,
      },
      streamingOptions: { maxStreams: 1, timeout: 60_000 },
      closeOptions: { behavior: 'NACK', timeout: Duration.from({ seconds: 5 }) },
      batching: { maxMessages: MAX_OUTSTANDING, maxMilliseconds: ACK_BATCH_MS },
      maxExtensionTime: Duration.from({ minutes: 10 }),
    });
    subscription = sub;
    streamSince = Date.now();
    sub.on('message', (m: Message) => {
      if (closed) return;
      buffer.push(m);
      notify();
    });
    // A refusal the SDK does not retry: the subscription is closed.
    sub.on('error', (err: unknown) => fail(err));
    // The SDK's own retries, and failed acknowledgements (debug messages with a gRPC status).
    sub.on('debug', (msg: { error?: unknown }) => {
      const err = msg.error as { code?: unknown; ackIds?: unknown } | undefined;
      if (!err || typeof err.code !== 'number' || ROUTINE_CODES.has(err.code)) return;
      if (Array.isArray(err.ackIds)) return fail(err);
      const now = Date.now();
      if (now - streamSince < MIN_STREAM_LIFE_MS) return fail(err);
      streamSince = now;
    });
  }

  return {
    kind: 'gcp-pubsub',
    async receive(signal) {
      let store: GcpSmProvider;
      try {
        store = await opts.store(signal);
        if (!subscription) {
          await opts.authorize?.();
          await open();
        }
      } catch (err: unknown) {
        throw err instanceof ProviderError ? err : gcpError(err, subject);
      }
      if (failure) throw failure;
      if (buffer.length === 0 && !signal.aborted) {
        const ms = opts.receiveWaitMs ?? (waited ? RECEIVE_WAIT_MS : FIRST_WAIT_MS);
        waited = true;
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            signal.removeEventListener('abort', done);
            wake = undefined;
            resolve();
          };
          const timer = setTimeout(done, ms);
          signal.addEventListener('abort', done);
          wake = done;
        });
      }
      if (failure) throw failure;
      const events: FeedEvent[] = [];
      for (const m of buffer.splice(0, MAX_OUTSTANDING)) {
        const handle = String(next++);
        held.set(handle, m);
        events.push({ ...gcpEventKeys(m.attributes, store), handle });
      }
      return events;
    },
    async ack(handles) {
      if (handles.length > 0) lastAck = Date.now();
      for (const h of handles) {
        held.get(h)?.ack();
        held.delete(h);
      }
    },
    close() {
      closed = true;
      notify();
      buffer.length = 0;
      held.clear();
      const sub = subscription;
      const c = client;
      subscription = undefined;
      client = undefined;
      sub?.removeAllListeners('message');
      // Closing nacks what is still held (acks not yet sent among them, hence the wait); errors
      // of a closing stream are of no interest (the 'error' listener stays).
      const shut = () =>
        void (sub?.close() ?? Promise.resolve())
          .catch(() => undefined)
          .then(() => c?.close())
          .catch(() => undefined);
      const wait = lastAck + ACK_FLUSH_MS - Date.now();
      if (wait > 0) setTimeout(shut, wait).unref();
      else shut();
    },
  };
}
