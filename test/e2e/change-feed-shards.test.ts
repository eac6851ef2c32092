/**
 * A change feed with the refresh shared by two replicas (`--shards 8`): the holder of shard 0
 * consumes the queue and records each event's keys on the store (`esw.io/refresh-request`,
 * source `feed`), so every shard's owner refreshes its own dependents — all of them written with
 * the new value, one provider read per replica for the key. Without `patch` on stores (Helm
 * `changeFeeds.enabled` off) the consumer says so at the feed's start and in the store's
 * `ChangeFeedReady` condition, and refreshes its own shards' dependents only.
 */
import t, { type Test } from 'tap';
import { shardOf } from '../../src/refresher/queue.ts';
import { type Cluster, type Replica, startCluster, unb64, waitFor } from '../cluster-helpers.ts';
import { AwsSqsFake } from '../fakes/aws-sqs.ts';

const SHARDS = 8;
const NAMESPACES = Array.from({ length: 8 }, (_, i) => `team-${i}`);
const CANARY = `CANARY-fcs-${Math.random().toString(36).slice(2, 8)}`;
const QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/esw-shards';
const LEASE = ['--lease-duration', '30s', '--renew-deadline', '20s', '--retry-period', '250ms'];

const owned = (r: Replica) => r.runtime.shards?.owned ?? [];

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
  const sqs = await AwsSqsFake.start();
  t.teardown(() => sqs.close());
  sqs.create(QUEUE);
  aws.put('shared/key', JSON.stringify({ password: `${CANARY}-v1` }));
  api.put({
    apiVersion: 'external-secrets.io/v1',
    kind: 'ClusterSecretStore',
    metadata: { name: 'aws-cluster', annotations: { 'esw.io/change-feed': QUEUE } },
    spec: {
      provider: {
        aws: {
          service: 'SecretsManager',
          region: 'us-east-1',
          auth: {
            secretRef: {
              accessKeyIDSecretRef: { name: 'aws-credentials', key: 'access-key', namespace: 'default' },
              secretAccessKeySecretRef: {
                name: 'aws-credentials',
                key: 'secret-access-key',
                namespace: 'default',
              },
            },
          },
        },
      },
    },
  });
  for (const ns of NAMESPACES) {
    api.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    api.put({
      apiVersion: 'external-secrets.io/v1',
      kind: 'ExternalSecret',
      metadata: { name: 'app', namespace: ns },
      spec: {
        refreshInterval: '1h',
        secretStoreRef: { name: 'aws-cluster', kind: 'ClusterSecretStore' },
        target: { name: 'app-target' },
        data: [{ secretKey: 'password', remoteRef: { key: 'shared/key', property: 'password' } }],
      },
    });
  }
  // Helm changeFeeds.enabled=false: no patch on stores for the webhook.
  if (opts.patchForbidden) api.forbid({ verb: 'patch', resource: 'clustersecretstores' });
  const args = [...LEASE, '--shards', String(SHARDS)];
  const replicas = [
    await startReplica('esw-0', args, { cacheTtlMs: 600_000, endpoints: { awsSqs: sqs.endpoint } }),
    await startReplica('esw-1', args, { cacheTtlMs: 600_000, endpoints: { awsSqs: sqs.endpoint } }),
  ];
  // The settled share (ceil(8 / 2) each): no shard is changing hands when the trigger comes.
  await waitFor('the shards shared by both replicas', () =>
    replicas.every((r) => owned(r).length === SHARDS / 2),
  );
  const password = (ns: string) => {
    const s = api.get('secrets', ns, 'app-target') as { data?: Record<string, string> } | undefined;
    return s?.data?.password === undefined ? undefined : unb64(s.data.password);
  };
  await waitFor('every target synced', () => NAMESPACES.every((ns) => password(ns) === `${CANARY}-v1`));

  const consumer = await waitFor('the holder of shard 0 consumes the feed', () =>
    replicas.find((r) => r.runtime.feeds?.health()['ClusterSecretStore/aws-cluster'] === 'healthy'),
  );
  t.ok(owned(consumer).includes(0));
  const other = replicas.find((r) => r !== consumer) as Replica;
  t.notOk(other.runtime.feeds?.running, 'the other replica consumes nothing');
  if (opts.patchForbidden) {
    // Said at the start of the feed and in the store's condition, before any event.
    const c = await waitFor('the store says so', () => {
      const store = api.get('clustersecretstores', undefined, 'aws-cluster') as {
        status?: { conditions?: { type: string; status: string; reason: string; message: string }[] };
      };
      const got = store?.status?.conditions?.find((x) => x.type === 'ChangeFeedReady');
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
    const mine = NAMESPACES.filter((ns) => owned(consumer).includes(shardOf(ns, SHARDS)));
    const others = NAMESPACES.filter((ns) => !mine.includes(ns));
    await waitFor("the consumer's shards refreshed", () =>
      mine.every((ns) => password(ns) === `${CANARY}-v2`),
    );
    t.ok(
      others.every((ns) => password(ns) === `${CANARY}-v1`),
      "the other replica's shards wait for their interval",
    );
    return;
  }
  await waitFor('every target refreshed', () => NAMESPACES.every((ns) => password(ns) === `${CANARY}-v2`));

  const owners = new Set(
    NAMESPACES.map((ns) => replicas.find((r) => owned(r).includes(shardOf(ns, SHARDS)))?.podName),
  );
  const calls = aws.count('GetSecretValue') + aws.count('BatchGetSecretValue');
  t.ok(
    calls >= 1 && calls <= owners.size,
    `one read per replica owning dependents (${calls} for ${owners.size})`,
  );
  for (const r of replicas) {
    const scheduled = (await r.metrics.refreshTriggeredObjects.get()).values
      .filter((v) => v.labels.source === 'feed')
      .reduce((n, v) => n + v.value, 0);
    const mine = NAMESPACES.filter((ns) => owned(r).includes(shardOf(ns, SHARDS))).length;
    t.equal(scheduled, mine, `${r.podName} refreshed the dependents of its own shards only`);
    t.notOk(r.lines.join('\n').includes(CANARY), `${r.podName}: no canary in logs`);
  }
}

t.test(
  "without patch on stores: said at the feed's start and in ChangeFeedReady; its own shards refresh",
  async (t) => {
    const { api, aws, startReplica } = await startCluster(t);
    await setUp(t, api, aws, startReplica, { patchForbidden: true });
  },
);
