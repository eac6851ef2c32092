/**
 * A change feed with the refresh shared by two replicas (`--shards 8`): the holder of shard 0
 * consumes the queue and records each event's keys on the store (`esw.io/refresh-request`,
 * source `feed`), so every shard's owner refreshes its own dependents — all of them written with
 * the new value, one provider read per replica for the key. Without `patch` on stores (Helm
 * `changeFeeds.enabled` off) the consumer says so at the feed's start and in the store's
 * `ChangeFeedReady` condition, and refreshes its own shards' dependents only.
 */
import t, { type Test } from 'tap';
import { type Cluster, password, type Replica, startCluster, waitFor } from '../cluster-helpers.ts';
import {
  awsClusterStore,
  checkShardOwnersRefreshed,
  everyTarget,
  owned,
  ownNamespaces,
  putShardedDependents,
  SHARD_NAMESPACES,
  startShardedPair,
  startSqs,
  storeCondition,
} from '../push-refresh-helpers.ts';

const CANARY = `CANARY-fcs-${Math.random().toString(36).slice(2, 8)}`;
const QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/esw-shards';

t.test('a change event reaches every shard owner', async (t) => {
  const { api, aws, startReplica } = await startCluster(t);
  await setUp(t, api, aws, startReplica);
});

async function setUp(
  t: Test,
  api: Cluster['api'],
  aws: Cluster['aws'],
  startReplica: Cluster['startReplica'],
  opts: { patchForbidden?: boolean } = {},
): Promise<void> {
  const sqs = await startSqs(t, QUEUE);
  aws.put('shared/key', JSON.stringify({ password: `${CANARY}-v1` }));
  api.put(awsClusterStore('aws-cluster', { 'esw.io/change-feed': QUEUE }));
  putShardedDependents(
    api,
    { name: 'aws-cluster', kind: 'ClusterSecretStore' },
    { key: 'shared/key', property: 'password' },
  );
  // Helm changeFeeds.enabled=false: no patch on stores for the webhook.
  if (opts.patchForbidden) api.forbid({ verb: 'patch', resource: 'clustersecretstores' });
  const replicas = await startShardedPair(
    api,
    startReplica,
    { cacheTtlMs: 600_000, endpoints: { awsSqs: sqs.endpoint } },
    `${CANARY}-v1`,
  );

  const consumer = await waitFor('the holder of shard 0 consumes the feed', () =>
    replicas.find((r) => r.runtime.feeds?.health()['ClusterSecretStore/aws-cluster'] === 'healthy'),
  );
  t.ok(owned(consumer).includes(0));
  const other = replicas.find((r) => r !== consumer) as Replica;
  t.notOk(other.runtime.feeds?.running, 'the other replica consumes nothing');
  if (opts.patchForbidden) {
    // Said at the start of the feed and in the store's condition, before any event.
    const c = await waitFor('the store says so', () => {
      const got = storeCondition(api, 'aws-cluster');
      return got?.status === 'False' ? got : undefined;
    });
    t.equal(c.reason, 'FeedOwnShardsOnly');
    t.match(
      c.message,
      /^change feed consumed, but with 8 shards its events refresh only the dependents of the shards held by this replica, the others on their interval: .*changeFeeds\.enabled=true/,
    );
    t.ok(
      consumer.lines.some((l) => l.includes('change feed: with 8 shards')),
      'and in the log',
    );
  }
  aws.put('shared/key', JSON.stringify({ password: `${CANARY}-v2` }));
  aws.resetCounts();
  sqs.send(
    QUEUE,
    JSON.stringify({
      source: 'aws.secretsmanager',
      detail: { eventName: 'PutSecretValue', requestParameters: { secretId: 'shared/key' } },
    }),
  );
  if (opts.patchForbidden) {
    const mine = ownNamespaces(consumer);
    const others = SHARD_NAMESPACES.filter((ns) => !mine.includes(ns));
    await waitFor("the consumer's shards refreshed", () =>
      mine.every((ns) => password(api, ns, 'app-target') === `${CANARY}-v2`),
    );
    t.ok(
      others.every((ns) => password(api, ns, 'app-target') === `${CANARY}-v1`),
      "the other replica's shards wait for their interval",
    );
    return;
  }
  await waitFor('every target refreshed', () => everyTarget(api, `${CANARY}-v2`));

  const calls = aws.count('GetSecretValue') + aws.count('BatchGetSecretValue');
  await checkShardOwnersRefreshed(t, replicas, calls, CANARY, { source: 'feed' });
}

t.test(
  "without patch on stores: said at the feed's start and in ChangeFeedReady; its own shards refresh",
  async (t) => {
    const { api, aws, startReplica } = await startCluster(t);
    await setUp(t, api, aws, startReplica, { patchForbidden: true });
  },
);
