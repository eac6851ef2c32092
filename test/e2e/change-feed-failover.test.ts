/**
 * Only the refresher's owner consumes change feeds (docs/push-refresh.md, "Change feeds"): with
 * two replicas, the leader receives the queue's events and the follower opens nothing; when the
 * leader goes, the new leader takes the feed over and serves the next event.
 */
import t from 'tap';
import type { KubeObject } from '../../src/api/types.ts';
import { AWS_STORE, password, passwordExternalSecret, startCluster, waitFor } from '../cluster-helpers.ts';
import { metricSum, startLeaderAndFollower, startSqs } from '../push-refresh-helpers.ts';

const QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/esw-failover';
const KEY = 'failover/db';
const value = (gen: string) => `failover-${gen}`;

const event = () =>
  JSON.stringify({
    source: 'aws.secretsmanager',
    'detail-type': 'AWS API Call via CloudTrail',
    detail: { eventName: 'PutSecretValue', requestParameters: { secretId: KEY } },
  });

t.test('the leader consumes; a new leader takes the feed over', async (t) => {
  const { api, aws, startReplica } = await startCluster(t);
  const sqs = await startSqs(t, QUEUE);
  aws.put(KEY, JSON.stringify({ password: value('v1') }));
  const store = api.get('secretstores', 'default', 'aws-store') as KubeObject;
  api.put({ ...store, metadata: { ...store.metadata, annotations: { 'esw.io/change-feed': QUEUE } } });
  api.put(passwordExternalSecret('db', 'default', AWS_STORE, { key: KEY, property: 'password' }));
  const { leader, follower: second } = await startLeaderAndFollower(startReplica, {
    cacheTtlMs: 600_000,
    endpoints: { awsSqs: sqs.endpoint },
  });
  const synced = (gen: string) => password(api, 'default', 'db-target') === value(gen);
  await waitFor('synced', () => synced('v1'));
  await waitFor(
    'the leader consumes',
    () => leader.runtime.feeds?.health()['SecretStore/default/aws-store'] === 'healthy',
  );
  t.notOk(second.runtime.elector?.isLeader());
  t.notOk(second.runtime.feeds?.running, 'the follower consumes nothing');
  t.same(second.runtime.feeds?.health(), {});

  aws.put(KEY, JSON.stringify({ password: value('v2') }));
  sqs.send(QUEUE, event());
  await waitFor('v2 through the leader', () => synced('v2'));
  t.ok((await metricSum(leader.metrics, 'changeFeedEvents')) >= 1);
  t.equal(await metricSum(second.metrics, 'changeFeedEvents'), 0, 'the follower received no event');

  await leader.kill();
  await waitFor('esw-1 leads', () => second.runtime.elector?.isLeader() || undefined);
  await waitFor('the new leader consumes', () =>
    second.runtime.feeds?.health()['SecretStore/default/aws-store'] === 'healthy' ? true : undefined,
  );
  aws.put(KEY, JSON.stringify({ password: value('v3') }));
  sqs.send(QUEUE, event());
  await waitFor('v3 through the new leader', () => synced('v3'));
  t.ok((await metricSum(second.metrics, 'changeFeedEvents')) >= 1);
});
