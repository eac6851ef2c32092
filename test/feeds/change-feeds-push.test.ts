/**
 * Push feeds in the change feed machinery (src/feeds/change-feeds.ts): a store annotated
 * `esw.io/change-feed: event-grid` opens no consumer; its `ChangeFeedReady` condition is False
 * while deliveries cannot be taken (the endpoint off, another provider, no usable secret
 * annotation), Unknown until a delivery was seen — here, or recorded on the store by another
 * replica — then True; annotation changes re-check the store's status; nothing while this replica
 * does not own the refresher.
 */
import t from 'tap';
import type { SecretStore } from '../../src/api/types.ts';
import { ChangeFeeds } from '../../src/feeds/change-feeds.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { formatRefreshRequest } from '../../src/refresher/triggers.ts';

const store = (annotations: Record<string, string>, provider: Record<string, unknown> = { azurekv: {} }) =>
  ({
    apiVersion: 'external-secrets.io/v1',
    kind: 'SecretStore',
    metadata: { name: 'kv', namespace: 'team-a', uid: 'u1', generation: 1, annotations },
    spec: { provider },
  }) as SecretStore;
const FEED = { 'esw.io/change-feed': 'event-grid', 'esw.io/change-feed-secret': 'eg/token' };
const ID = { kind: 'SecretStore' as const, namespace: 'team-a', name: 'kv' };

function setup(eventGrid = true) {
  const opened: string[] = [];
  const rechecked: string[] = [];
  const feeds = new ChangeFeeds({
    open: async (_s, address) => {
      opened.push(address);
      throw new Error('a push feed is never opened');
    },
    refresh: () => undefined,
    logger: silentLogger(),
    onHealth: (s) => rechecked.push(JSON.stringify(s.metadata?.annotations ?? {})),
    eventGrid,
  });
  return { feeds, opened, rechecked };
}

t.test('a push feed opens no consumer; its condition follows deliveries', async (t) => {
  const { feeds, opened, rechecked } = setup();
  const s = store(FEED);
  feeds.upsert(s);
  t.equal(feeds.condition(s), undefined, 'not owning the refresher: left as it is');
  feeds.start();
  t.same(opened, []);
  t.same(feeds.health(), {}, 'no consumer');
  t.match(feeds.condition(s), {
    status: 'Unknown',
    reason: 'AwaitingDeliveries',
    message: /cannot detect an outage/,
  });
  feeds.delivered(ID);
  t.match(feeds.condition(s), { status: 'True', reason: 'FeedDelivered' });
  t.equal(rechecked.length, 1, 'the status is re-checked once');
  feeds.delivered(ID);
  t.equal(rechecked.length, 1, 'not again for the next delivery');
  // The annotation removed: no condition, and the status re-checked.
  const plain = store({});
  feeds.upsert(plain);
  t.equal(feeds.condition(plain), null);
  t.equal(rechecked.length, 2);
  // Back: waiting again (the earlier delivery was for the earlier feed).
  feeds.upsert(s);
  t.match(feeds.condition(s), { status: 'Unknown' });
  await feeds.stop();
});

t.test('a delivery recorded on the store by another replica counts', async (t) => {
  const { feeds } = setup();
  feeds.start();
  const s = store(FEED);
  feeds.upsert(s);
  const recorded = store({
    ...FEED,
    'esw.io/refresh-request': formatRefreshRequest({
      id: 'r1',
      at: Date.now(),
      keys: ['db'],
      source: 'feed',
    }),
  });
  feeds.upsert(recorded);
  t.match(feeds.condition(recorded), { status: 'True', reason: 'FeedDelivered' });
  // A POST /refresh request is not a delivery.
  const { feeds: other } = setup();
  other.start();
  const byHand = store({
    ...FEED,
    'esw.io/refresh-request': formatRefreshRequest({ id: 'r2', at: Date.now(), keys: ['db'] }),
  });
  other.upsert(byHand);
  t.match(other.condition(byHand), { status: 'Unknown' });
  await Promise.all([feeds.stop(), other.stop()]);
});

t.test('False while deliveries cannot be taken', async (t) => {
  const off = setup(false);
  off.feeds.start();
  const s = store(FEED);
  off.feeds.upsert(s);
  t.match(off.feeds.condition(s), {
    status: 'False',
    reason: 'FeedFailing',
    message: /--event-grid-endpoint/,
  });
  const { feeds } = setup();
  feeds.start();
  const aws = store(FEED, { aws: {} });
  feeds.upsert(aws);
  t.match(feeds.condition(aws), { status: 'False', message: /provider "aws" has no Event Grid feed/ });
  const noSecret = store({ 'esw.io/change-feed': 'event-grid' });
  feeds.upsert(noSecret);
  t.match(feeds.condition(noSecret), { status: 'False', message: /esw\.io\/change-feed-secret is required/ });
  await Promise.all([off.feeds.stop(), feeds.stop()]);
});
