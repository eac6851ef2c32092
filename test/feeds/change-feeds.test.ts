/**
 * The change feed consumer (src/feeds/change-feeds.ts) on an in-memory receiver: feeds run only
 * while this replica owns the refresher, restart when the store's generation or address changes,
 * stop with the annotation; the keys of one receive are refreshed once; a failing feed backs off,
 * reports its health (metric, condition, callback) and recovers. The SQS receiver itself is
 * exercised end to end in test/e2e/change-feed-sqs.test.ts.
 */
import t from 'tap';
import type { SecretStore } from '../../src/api/types.ts';
import { ChangeFeeds } from '../../src/feeds/change-feeds.ts';
import type { ChangeFeedReceiver, FeedEvent } from '../../src/feeds/types.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import type { StoreId } from '../../src/refresher/triggers.ts';
import { waitFor } from '../cluster-helpers.ts';

const QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/q';

const store = (generation = 1, address: string | undefined = QUEUE): SecretStore =>
  ({
    apiVersion: 'external-secrets.io/v1',
    kind: 'SecretStore',
    metadata: {
      name: 'aws',
      namespace: 'team-a',
      uid: 'u1',
      generation,
      ...(address ? { annotations: { 'esw.io/change-feed': address } } : {}),
    },
    spec: { provider: { aws: { service: 'SecretsManager' } } },
  }) as SecretStore;

/** A receiver whose receives wait for `push` (or a failure), as a long poll does. */
class Receiver implements ChangeFeedReceiver {
  readonly kind = 'aws-sqs' as const;
  closed = false;
  acked: string[] = [];
  #pending: ((v: FeedEvent[] | Error) => void) | undefined;
  #queued: (FeedEvent[] | Error)[] = [];
  receive(signal: AbortSignal): Promise<FeedEvent[]> {
    return new Promise((resolve, reject) => {
      const settle = (v: FeedEvent[] | Error) => (v instanceof Error ? reject(v) : resolve(v));
      const next = this.#queued.shift();
      if (next) return settle(next);
      this.#pending = settle;
      signal.addEventListener('abort', () => resolve([]));
    });
  }
  push(v: FeedEvent[] | Error): void {
    const p = this.#pending;
    this.#pending = undefined;
    if (p) p(v);
    else this.#queued.push(v);
  }
  get waiting(): boolean {
    return this.#pending !== undefined;
  }
  async ack(handles: string[]): Promise<void> {
    this.acked.push(...handles);
  }
  close(): void {
    this.closed = true;
  }
}

function harness(openError?: () => Error | undefined, mayWrite?: () => boolean) {
  const opened: Receiver[] = [];
  let sleeps = 0;
  const refreshed: { store: StoreId; keys: string[] }[] = [];
  const health: string[] = [];
  const metrics = createMetrics();
  const feeds = new ChangeFeeds({
    open: async (_s, address) => {
      const err = openError?.();
      if (err) throw err;
      if (address !== QUEUE && !address.startsWith(`${QUEUE}-`)) throw new Error('bad address');
      const r = new Receiver();
      opened.push(r);
      return r;
    },
    refresh: (s, keys) => refreshed.push({ store: s, keys }),
    logger: silentLogger(),
    metrics,
    sleep: (_ms, signal) => {
      sleeps++;
      return new Promise((r) => (signal.aborted ? r() : setTimeout(r, 1)));
    },
    onHealth: (s) => health.push(`${s.metadata?.name}:${feeds.health()['SecretStore/team-a/aws']}`),
    ...(mayWrite ? { mayWrite } : {}),
  });
  return { feeds, opened, refreshed, health, metrics, sleeps: () => sleeps };
}

const ev = (handle: string, keys: string[], unreadable = false): FeedEvent => ({ handle, keys, unreadable });

t.test('only while owning: nothing is opened before start, everything is closed at stop', async (t) => {
  const { feeds, opened } = harness();
  feeds.upsert(store());
  await new Promise((r) => setTimeout(r, 10));
  t.equal(opened.length, 0, 'a replica that does not own the refresher consumes nothing');
  t.equal(feeds.condition(store()), undefined, 'and leaves the condition to the owner');
  feeds.start();
  await waitFor('opened', () => opened.length === 1);
  await feeds.stop();
  t.ok(opened[0]?.closed);
  t.same(feeds.health(), {});
});

t.test(
  'past the renew deadline: events neither refreshed nor acknowledged, nothing received; consumed again once writable',
  async (t) => {
    let writable = true;
    const { feeds, opened, refreshed, health, sleeps } = harness(undefined, () => writable);
    feeds.upsert(store());
    feeds.start();
    await waitFor('waiting', () => opened[0]?.waiting);
    const r = opened[0] as Receiver;
    // The long poll ends after the renew deadline of the consumer's Lease.
    writable = false;
    r.push([ev('a', ['db'])]);
    await waitFor('closed', () => r.closed);
    t.same(refreshed, [], 'not refreshed: the refresher would schedule nothing');
    t.same(r.acked, [], 'not acknowledged: the provider delivers it again, to the next holder');
    const waited = sleeps();
    await waitFor('two more waits', () => sleeps() >= waited + 2);
    t.equal(opened.length, 1, 'nothing opened, so nothing received, while past the deadline');
    t.same(health, [], 'not a failure: health unchanged');

    writable = true;
    await waitFor('reopened', () => opened[1]?.waiting);
    const again = opened[1] as Receiver;
    again.push([ev('a', ['db'])]);
    await waitFor('acked', () => again.acked.length === 1);
    t.same(refreshed, [{ store: { kind: 'SecretStore', namespace: 'team-a', name: 'aws' }, keys: ['db'] }]);
    await feeds.stop();
  },
);

t.test('the keys of one receive are refreshed once; every event is acknowledged', async (t) => {
  const { feeds, opened, refreshed, metrics } = harness();
  feeds.upsert(store());
  feeds.start();
  await waitFor('waiting', () => opened[0]?.waiting);
  const r = opened[0] as Receiver;
  r.push([ev('a', ['db', 'arn:db']), ev('b', ['db']), ev('c', []), ev('d', [], true)]);
  await waitFor('acked', () => r.acked.length === 4);
  t.same(refreshed, [
    { store: { kind: 'SecretStore', namespace: 'team-a', name: 'aws' }, keys: ['db', 'arn:db'] },
  ]);
  const events = (await metrics.changeFeedEvents.get()).values.map((v) => `${v.labels.result}=${v.value}`);
  t.same(events.sort(), ['ignored=1', 'refresh=2', 'unreadable=1']);
  t.same(feeds.condition(store()), {
    type: 'ChangeFeedReady',
    status: 'True',
    reason: 'FeedConsumed',
    message: 'change feed consumed',
  });
  await feeds.stop();
});

t.test('a new generation or address reopens; no annotation closes', async (t) => {
  const { feeds, opened, health } = harness();
  feeds.upsert(store(1));
  feeds.start();
  await waitFor('opened', () => opened[0]?.waiting);
  feeds.upsert(store(1)); // a status write, a relist: the same feed
  await new Promise((r) => setTimeout(r, 10));
  t.equal(opened.length, 1);
  feeds.upsert(store(2));
  await waitFor('reopened', () => opened[1]?.waiting);
  t.ok(opened[0]?.closed);
  feeds.upsert(store(2, `${QUEUE}-2`));
  await waitFor('another queue', () => opened[2]?.waiting);
  feeds.upsert(store(2, ''));
  await waitFor('closed', () => opened[2]?.closed);
  t.same(feeds.health(), {});
  t.equal(feeds.condition(store(2, '')), null, 'no annotation: no condition');
  t.equal(health[health.length - 1], 'aws:undefined', 'store status is told to drop the condition');
  await feeds.stop();
});

t.test('a failing feed backs off, reports, and recovers', async (t) => {
  let fail = true;
  const { feeds, opened, health, metrics } = harness(() =>
    fail ? new Error('not our words: must not be shown') : undefined,
  );
  feeds.upsert(store());
  feeds.start();
  await waitFor('failing', () => feeds.health()['SecretStore/team-a/aws'] === 'failing');
  const c = feeds.condition(store());
  t.equal(c?.status, 'False');
  t.equal(c?.reason, 'FeedFailing');
  t.notMatch(c?.message ?? '', /not our words/, 'a foreign error is never shown as such');
  await waitFor('retried', async () => ((await metrics.changeFeedErrors.get()).values[0]?.value ?? 0) >= 3);
  const gauge = async (state: string) =>
    (await metrics.changeFeeds.get()).values
      .filter((v) => v.labels.state === state)
      .reduce((n, v) => n + v.value, 0);
  t.equal(await gauge('failing'), 1);
  fail = false;
  await waitFor('recovered', () => opened[0]?.waiting);
  // Healthy once a receive has come back.
  opened[0]?.push([]);
  await waitFor('healthy', () => feeds.health()['SecretStore/team-a/aws'] === 'healthy');
  t.equal(await gauge('failing'), 0);
  t.equal(await gauge('healthy'), 1);
  t.ok(health.includes('aws:failing') && health.includes('aws:healthy'));
  // A receive failing later: the receiver is closed and a new one opened.
  opened[0]?.push(new Error('receive failed'));
  await waitFor('a new receiver', () => opened[1]?.waiting);
  t.ok(opened[0]?.closed);
  await feeds.stop();
  t.equal(
    (await gauge('failing')) + (await gauge('healthy')) + (await gauge('starting')),
    0,
    'the gauge is back to 0',
  );
});

t.test('a store removed closes its feed; stores of no kind are ignored', async (t) => {
  const { feeds, opened } = harness();
  feeds.start();
  feeds.upsert({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } } as never);
  feeds.upsert(store());
  await waitFor('opened', () => opened[0]?.waiting);
  feeds.remove(store());
  await waitFor('closed', () => opened[0]?.closed);
  t.same(feeds.health(), {});
  await feeds.stop();
});
