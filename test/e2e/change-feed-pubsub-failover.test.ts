/**
 * The GCP change feed across a leader change (docs/push-refresh.md, "Change feeds"): with two
 * replicas, only the leader opens a stream on the store's subscription; when the leader goes, a
 * notification published while nobody leads waits in the subscription and the new leader, once
 * it takes the feed over, serves it.
 */
import t from 'tap';
import { type Replica, startCluster, unb64, waitFor } from '../cluster-helpers.ts';
import { GcpPubSubFake } from '../fakes/gcp-pubsub.ts';
import { GcpSecretManagerFake } from '../fakes/gcp-secret-manager.ts';
import type { KubeApiServer } from '../fakes/kube-apiserver/index.ts';

const SUB = 'projects/feeds-project/subscriptions/esw-failover';
const KEY = 'failover-db';
const value = (gen: string) => `gfailover-${gen}`;
const note = () => ({
  attributes: { eventType: 'SECRET_VERSION_ADD', secretId: `projects/my-project/secrets/${KEY}` },
});

function password(api: KubeApiServer): string | undefined {
  const s = api.get('secrets', 'default', 'db-target') as { data?: Record<string, string> } | undefined;
  return s?.data?.password === undefined ? undefined : unb64(s.data.password);
}

async function received(r: Replica): Promise<number> {
  return (await r.metrics.changeFeedEvents.get()).values.reduce((n, v) => n + v.value, 0);
}

t.test('the leader streams; a new leader takes the subscription over', async (t) => {
  const { api, startReplica } = await startCluster(t);
  const gcp = new GcpSecretManagerFake();
  const sm = await gcp.start();
  t.teardown(() => gcp.close());
  const pubsub = new GcpPubSubFake();
  await pubsub.start();
  t.teardown(() => pubsub.close());
  pubsub.createSubscription(SUB);
  gcp.addSecret({ project: 'my-project', id: KEY, versions: [JSON.stringify({ password: value('v1') })] });
  api.put({
    apiVersion: 'external-secrets.io/v1',
    kind: 'ClusterSecretStore',
    metadata: { name: 'gcp', annotations: { 'esw.io/change-feed': SUB } },
    spec: { provider: { gcpsm: { projectID: 'my-project' } } },
  });
  api.put({
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name: 'db', namespace: 'default' },
    spec: {
      refreshInterval: '1h',
      secretStoreRef: { name: 'gcp', kind: 'ClusterSecretStore' },
      target: { name: 'db-target' },
      data: [{ secretKey: 'password', remoteRef: { key: KEY, property: 'password' } }],
    },
  });
  const opts = {
    cacheTtlMs: 600_000,
    endpoints: { gcp: { host: sm.host, port: sm.port, insecure: true }, gcpPubsub: pubsub.endpoint },
  };
  const first = await startReplica('esw-0', undefined, opts);
  const leader = await waitFor('esw-0 leads', () => (first.runtime.elector?.isLeader() ? first : undefined));
  const second = await startReplica('esw-1', undefined, opts);
  await waitFor('synced', () => password(api) === value('v1'));
  const health = (r: Replica) => r.runtime.feeds?.health()['ClusterSecretStore/gcp'];
  await waitFor('the leader consumes', () => health(leader) === 'healthy');
  t.notOk(second.runtime.elector?.isLeader());
  t.notOk(second.runtime.feeds?.running, 'the follower consumes nothing');
  t.equal(pubsub.openStreams, 1, 'one stream, the leader’s');

  gcp.addVersion('my-project', KEY, JSON.stringify({ password: value('v2') }));
  pubsub.publish(SUB, note());
  await waitFor('v2 through the leader', () => password(api) === value('v2'));
  t.ok((await received(leader)) >= 1);
  t.equal(await received(second), 0, 'the follower received no notification');

  await leader.kill();
  await waitFor("the leader's stream is closed", () => pubsub.openStreams === 0);
  // Published while nobody leads: it waits in the subscription.
  gcp.addVersion('my-project', KEY, JSON.stringify({ password: value('v3') }));
  pubsub.publish(SUB, note());
  await waitFor('esw-1 leads', () => second.runtime.elector?.isLeader() || undefined);
  await waitFor('v3 through the new leader', () => password(api) === value('v3'));
  t.ok((await received(second)) >= 1);
  t.equal(health(second), 'healthy');
  await waitFor('acknowledged', () => pubsub.depth(SUB) === 0);
});
