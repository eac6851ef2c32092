/**
 * The GCP change feed across a leader change (docs/push-refresh.md, "Change feeds"): with two
 * replicas, only the leader opens a stream on the store's subscription; when the leader goes, a
 * notification published while nobody leads waits in the subscription and the new leader, once
 * it takes the feed over, serves it.
 */
import t from 'tap';
import { password, passwordExternalSecret, type Replica, startCluster, waitFor } from '../cluster-helpers.ts';
import { metricSum, startGcpFeed, startLeaderAndFollower } from '../push-refresh-helpers.ts';

const SUB = 'projects/feeds-project/subscriptions/esw-failover';
const KEY = 'failover-db';
const value = (gen: string) => `gfailover-${gen}`;
const note = () => ({
  attributes: { eventType: 'SECRET_VERSION_ADD', secretId: `projects/my-project/secrets/${KEY}` },
});

t.test('the leader streams; a new leader takes the subscription over', async (t) => {
  const { api, startReplica } = await startCluster(t);
  const { gcp, pubsub, replica } = await startGcpFeed(t, SUB);
  gcp.addSecret({ project: 'my-project', id: KEY, versions: [JSON.stringify({ password: value('v1') })] });
  api.put({
    apiVersion: 'external-secrets.io/v1',
    kind: 'ClusterSecretStore',
    metadata: { name: 'gcp', annotations: { 'esw.io/change-feed': SUB } },
    spec: { provider: { gcpsm: { projectID: 'my-project' } } },
  });
  api.put(
    passwordExternalSecret(
      'db',
      'default',
      { name: 'gcp', kind: 'ClusterSecretStore' },
      { key: KEY, property: 'password' },
    ),
  );
  const { leader, follower: second } = await startLeaderAndFollower(startReplica, replica);
  const synced = (gen: string) => password(api, 'default', 'db-target') === value(gen);
  await waitFor('synced', () => synced('v1'));
  const health = (r: Replica) => r.runtime.feeds?.health()['ClusterSecretStore/gcp'];
  await waitFor('the leader consumes', () => health(leader) === 'healthy');
  t.notOk(second.runtime.elector?.isLeader());
  t.notOk(second.runtime.feeds?.running, 'the follower consumes nothing');
  t.equal(pubsub.openStreams, 1, 'one stream, the leader’s');

  gcp.addVersion('my-project', KEY, JSON.stringify({ password: value('v2') }));
  pubsub.publish(SUB, note());
  await waitFor('v2 through the leader', () => synced('v2'));
  t.ok((await metricSum(leader.metrics, 'changeFeedEvents')) >= 1);
  t.equal(await metricSum(second.metrics, 'changeFeedEvents'), 0, 'the follower received no notification');

  await leader.kill();
  await waitFor("the leader's stream is closed", () => pubsub.openStreams === 0);
  // Published while nobody leads: it waits in the subscription.
  gcp.addVersion('my-project', KEY, JSON.stringify({ password: value('v3') }));
  pubsub.publish(SUB, note());
  await waitFor('esw-1 leads', () => second.runtime.elector?.isLeader() || undefined);
  await waitFor('v3 through the new leader', () => synced('v3'));
  t.ok((await metricSum(second.metrics, 'changeFeedEvents')) >= 1);
  t.equal(health(second), 'healthy');
  await waitFor('acknowledged', () => pubsub.depth(SUB) === 0);
});
