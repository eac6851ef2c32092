/**
 * Only the refresher's owner consumes change feeds (docs/push-refresh.md, "Change feeds"): with
 * two replicas, the leader receives the queue's events and the follower opens nothing; when the
 * leader goes, the new leader takes the feed over and serves the next event.
 */
import t from 'tap';
import type { KubeObject } from '../../src/api/types.ts';
import { type Replica, startCluster, unb64, waitFor } from '../cluster-helpers.ts';
import { AwsSqsFake } from '../fakes/aws-sqs.ts';
import type { KubeApiServer } from '../fakes/kube-apiserver/index.ts';

const QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/esw-failover';
const KEY = 'failover/db';
const value = (gen: string) => `failover-${gen}`;

const event = () =>
  JSON.stringify({
    source: 'aws.secretsmanager',
    'detail-type': 'AWS API Call via CloudTrail',
    detail: { eventName: 'PutSecretValue', requestParameters: { secretId: KEY } },
  });

function password(api: KubeApiServer): string | undefined {
  const s = api.get('secrets', 'default', 'db-target') as { data?: Record<string, string> } | undefined;
  return s?.data?.password === undefined ? undefined : unb64(s.data.password);
}

async function received(r: Replica): Promise<number> {
  return (await r.metrics.changeFeedEvents.get()).values.reduce((n, v) => n + v.value, 0);
}

t.test('the leader consumes; a new leader takes the feed over', async (t) => {
  const { api, aws, startReplica } = await startCluster(t);
  const sqs = await AwsSqsFake.start();
  t.teardown(() => sqs.close());
  sqs.create(QUEUE);
  aws.put(KEY, JSON.stringify({ password: value('v1') }));
  const store = api.get('secretstores', 'default', 'aws-store') as KubeObject;
  api.put({ ...store, metadata: { ...store.metadata, annotations: { 'esw.io/change-feed': QUEUE } } });
  api.put({
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name: 'db', namespace: 'default' },
    spec: {
      refreshInterval: '1h',
      secretStoreRef: { name: 'aws-store', kind: 'SecretStore' },
      target: { name: 'db-target' },
      data: [{ secretKey: 'password', remoteRef: { key: KEY, property: 'password' } }],
    },
  } as KubeObject);
  const opts = { cacheTtlMs: 600_000, endpoints: { awsSqs: sqs.endpoint } };
  const first = await startReplica('esw-0', undefined, opts);
  const leader = await waitFor('esw-0 leads', () => (first.runtime.elector?.isLeader() ? first : undefined));
  const second = await startReplica('esw-1', undefined, opts);
  await waitFor('synced', () => password(api) === value('v1'));
  await waitFor(
    'the leader consumes',
    () => leader.runtime.feeds?.health()['SecretStore/default/aws-store'] === 'healthy',
  );
  t.notOk(second.runtime.elector?.isLeader());
  t.notOk(second.runtime.feeds?.running, 'the follower consumes nothing');
  t.same(second.runtime.feeds?.health(), {});

  aws.put(KEY, JSON.stringify({ password: value('v2') }));
  sqs.send(QUEUE, event());
  await waitFor('v2 through the leader', () => password(api) === value('v2'));
  t.ok((await received(leader)) >= 1);
  t.equal(await received(second), 0, 'the follower received no event');

  await leader.kill();
  await waitFor('esw-1 leads', () => second.runtime.elector?.isLeader() || undefined);
  await waitFor('the new leader consumes', () =>
    second.runtime.feeds?.health()['SecretStore/default/aws-store'] === 'healthy' ? true : undefined,
  );
  aws.put(KEY, JSON.stringify({ password: value('v3') }));
  sqs.send(QUEUE, event());
  await waitFor('v3 through the new leader', () => password(api) === value('v3'));
  t.ok((await received(second)) >= 1);
});
