/**
 * The GCP change feed end to end (docs/push-refresh.md, "GCP: Secret Manager notifications →
 * Pub/Sub"): the cluster double, the real cluster runtime, the Secret Manager fake and the
 * Pub/Sub fake driven by the real `@google-cloud/pubsub` streaming pull. A ClusterSecretStore
 * names its subscription in `esw.io/change-feed`; a notification refreshes every dependent of the
 * secret (ExternalSecret targets and a placeholder Secret, in two namespaces) at once, past a
 * ten-minute value cache, with one provider read. Duplicated and out-of-order notifications write
 * nothing twice, a dropped one is caught by the interval, a failing stream (UNAVAILABLE,
 * PERMISSION_DENIED) falls back to the interval until it recovers, and a namespaced store never
 * opens its feed with this server's own identity.
 */
import t from 'tap';
import type { KubeObject } from '../../src/api/types.ts';
import {
  createPlaceholder,
  password,
  passwordExternalSecret,
  startCluster,
  waitFor,
} from '../cluster-helpers.ts';
import { GrpcCode } from '../fakes/gcp-pubsub.ts';
import {
  feedLatencyCount,
  metricSum,
  secretWrites,
  startGcpFeed,
  storeCondition,
} from '../push-refresh-helpers.ts';

const CANARY = `CANARY-gfeed-${Math.random().toString(36).slice(2, 8)}`;
const PROJECT = 'my-project';
const SUB = 'projects/feeds-project/subscriptions/esw-changes';
const KEY = 'feed-db';
const value = (gen: string, key = KEY) => `${CANARY}-${gen}-${key}`;
const secret = (gen: string, key = KEY) => JSON.stringify({ password: value(gen, key) });

/** What Secret Manager publishes for an event on secret `name` (attributes; data: the resource). */
function note(eventType: string, name: string, project = '123456789012') {
  const secretId = `projects/${project}/secrets/${name}`;
  return {
    attributes: {
      eventType,
      secretId,
      dataFormat: 'JSON_API_V1',
      timestamp: new Date().toISOString(),
      ...(eventType.startsWith('SECRET_VERSION') ? { versionId: `${secretId}/versions/2` } : {}),
    },
    data: JSON.stringify({ name: secretId, labels: { team: 'a' } }),
  };
}

const STORE = { name: 'gcp-cluster', kind: 'ClusterSecretStore' } as const;
const es = (name: string, namespace: string, key: string, refreshInterval = '1h') =>
  passwordExternalSecret(name, namespace, STORE, { key, property: 'password' }, refreshInterval);

t.test('GCP change feed (Secret Manager notifications → Pub/Sub streaming pull)', async (t) => {
  const { api, startReplica } = await startCluster(t);
  const { gcp, pubsub, replica: replicaOptions } = await startGcpFeed(t, SUB);
  gcp.addSecret({ project: PROJECT, id: KEY, versions: [secret('v1')] });
  gcp.addSecret({ project: PROJECT, id: 'feed-slow', versions: [secret('v1', 'feed-slow')] });
  api.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-b' } });
  api.put({
    apiVersion: 'external-secrets.io/v1',
    kind: 'ClusterSecretStore',
    metadata: { name: 'gcp-cluster', annotations: { 'esw.io/change-feed': SUB } },
    // A ClusterSecretStore may use this server's identity (Application Default Credentials).
    spec: { provider: { gcpsm: { projectID: PROJECT } } },
  });
  api.put(es('db-a', 'default', KEY));
  api.put(es('db-b', 'team-b', KEY));
  // Refreshed every 2 s: what a dropped notification leaves to the interval.
  api.put(es('slow', 'default', 'feed-slow', '2s'));

  const replica = await startReplica('esw-0', undefined, replicaOptions);
  await waitFor('ready', () => replica.server.readiness().ready || undefined);
  const ph = await createPlaceholder(api, 'team-b', 'ph-db', `${KEY}#password`, {
    store: 'gcp-cluster',
    refreshInterval: '1h',
  });
  t.equal(ph.status, 201);
  const dependents: [string, string][] = [
    ['default', 'db-a-target'],
    ['team-b', 'db-b-target'],
    ['team-b', 'ph-db'],
  ];
  const all = (gen: string) => dependents.every(([ns, n]) => password(api, ns, n) === value(gen));
  await waitFor('every dependent synced', () => all('v1'));
  const feeds = replica.runtime.feeds;
  const health = () => feeds?.health()['ClusterSecretStore/gcp-cluster'];
  await waitFor('the feed is consumed', () => health() === 'healthy');
  await waitFor('the store condition', () => storeCondition(api, 'gcp-cluster')?.status === 'True');
  t.equal(pubsub.lastFlowControl?.maxOutstandingMessages, 100, 'flow control: 100 messages');

  const writes = secretWrites(t, api);
  const reads = () => gcp.accessCalls.get(KEY) ?? 0;

  t.test('a notification refreshes every dependent at once, with one provider read', async (t) => {
    gcp.addVersion(PROJECT, KEY, secret('v2'));
    const before = reads();
    writes.clear();
    pubsub.publish(SUB, note('SECRET_VERSION_ADD', KEY));
    await waitFor('every dependent holds v2', () => all('v2'));
    t.equal(reads() - before, 1, 'one read of the secret for three dependents in two namespaces');
    await waitFor('the message is acknowledged', () => pubsub.depth(SUB) === 0);
    for (const [ns, n] of dependents) t.equal(writes.get(`${ns}/${n}`), 1, `${ns}/${n} written once`);
    t.ok(
      (await metricSum(replica.metrics, 'changeFeedEvents', { feed: 'gcp-pubsub', result: 'refresh' })) >= 1,
    );
    await waitFor('the latency of each dependent is observed', async () =>
      (await feedLatencyCount(replica.metrics)) >= 3 ? true : undefined,
    );
  });

  t.test('ignored events, duplicates and out-of-order events: the latest value, written once', async (t) => {
    const ignoredBefore = await metricSum(replica.metrics, 'changeFeedEvents', {
      feed: 'gcp-pubsub',
      result: 'ignored',
    });
    const latencyBefore = await feedLatencyCount(replica.metrics);
    gcp.addVersion(PROJECT, KEY, secret('v3'));
    const before = reads();
    writes.clear();
    const ackedBefore = pubsub.acked.get(SUB) ?? 0;
    // The newer change first, then its duplicate (Pub/Sub delivers at least once), then an older
    // event of the same secret, and a rotation reminder (announces, changes nothing).
    const [id] = pubsub.publish(SUB, note('SECRET_VERSION_ADD', KEY));
    pubsub.duplicate(SUB, id as string);
    pubsub.publish(SUB, note('SECRET_UPDATE', KEY), note('SECRET_ROTATE', KEY));
    await waitFor('every dependent holds v3', () => all('v3'));
    await waitFor('the four messages are acknowledged', () =>
      (pubsub.acked.get(SUB) ?? 0) - ackedBefore >= 4 ? true : undefined,
    );
    t.ok(
      (await metricSum(replica.metrics, 'changeFeedEvents', { feed: 'gcp-pubsub', result: 'ignored' })) >
        ignoredBefore,
      'the rotation reminder is counted as ignored',
    );
    // Each refresh it caused has either written v3 or found it in place.
    await waitFor('the refreshes are done', async () =>
      (await feedLatencyCount(replica.metrics)) >= latencyBefore + 3 ? true : undefined,
    );
    for (const [ns, n] of dependents) t.equal(writes.get(`${ns}/${n}`), 1, `${ns}/${n} written once`);
    const r = reads() - before;
    t.ok(r >= 1 && r <= 3, `at most one read per change event (${r})`);
    t.ok(all('v3'));
  });

  t.test('a dropped notification: the interval still refreshes', async (t) => {
    gcp.addVersion(PROJECT, 'feed-slow', secret('v2', 'feed-slow'));
    await waitFor('the interval refreshed it', () =>
      password(api, 'default', 'slow-target') === value('v2', 'feed-slow') ? true : undefined,
    );
    t.pass();
  });

  for (const [code, words] of [
    [GrpcCode.UNAVAILABLE, 'service unavailable (UNAVAILABLE)'],
    [GrpcCode.PERMISSION_DENIED, 'access denied (PERMISSION_DENIED)'],
  ] as const) {
    t.test(`a failing stream (${GrpcCode[code]}) falls back to the interval, then recovers`, async (t) => {
      const errorsBefore = await metricSum(replica.metrics, 'changeFeedErrors', { feed: 'gcp-pubsub' });
      const linesBefore = replica.lines.length;
      if (code === GrpcCode.UNAVAILABLE) pubsub.fail(code, `backend said ${CANARY}`);
      else pubsub.refuse(SUB, code);
      await waitFor('the feed is failing', () => health() === 'failing');
      t.ok((await metricSum(replica.metrics, 'changeFeedErrors', { feed: 'gcp-pubsub' })) > errorsBefore);
      t.equal(await metricSum(replica.metrics, 'changeFeeds', { feed: 'gcp-pubsub', state: 'failing' }), 1);
      t.ok(replica.lines.slice(linesBefore).some((l) => l.includes('change feed failing')));
      const failing = await waitFor('the store condition', () => {
        const c = storeCondition(api, 'gcp-cluster');
        return c?.status === 'False' ? c : undefined;
      });
      t.equal(failing.reason, 'FeedFailing');
      t.equal(
        failing.message,
        `change feed failing, refreshing on the interval: gcpsm: Pub/Sub subscription ${SUB}: ${words}`,
      );
      t.equal(storeCondition(api, 'gcp-cluster', 'Ready')?.status, 'True', 'the store itself stays Ready');
      // A change during the outage: queued, served once the stream is back.
      gcp.addVersion(PROJECT, KEY, secret(`v4-${code}`));
      pubsub.publish(SUB, note('SECRET_VERSION_ADD', KEY));
      if (code === GrpcCode.UNAVAILABLE) pubsub.recover();
      else pubsub.refuse(SUB, undefined);
      await waitFor('recovered', () => health() === 'healthy');
      await waitFor('the notification queued during the outage is served', () => all(`v4-${code}`));
      t.ok(replica.lines.slice(linesBefore).some((l) => l.includes('change feed recovered')));
      t.equal(await metricSum(replica.metrics, 'changeFeeds', { feed: 'gcp-pubsub', state: 'failing' }), 0);
      await waitFor(
        'the store condition recovers',
        () => storeCondition(api, 'gcp-cluster')?.status === 'True',
      );
    });
  }

  t.test("a namespaced store's feed never uses this server's identity", async (t) => {
    const other = 'projects/feeds-project/subscriptions/team-b-changes';
    pubsub.createSubscription(other);
    // Put as-is (admission would refuse it): the consumer must refuse it as well.
    api.put({
      apiVersion: 'external-secrets.io/v1',
      kind: 'SecretStore',
      metadata: { name: 'gcp-ambient', namespace: 'team-b', annotations: { 'esw.io/change-feed': other } },
      spec: { provider: { gcpsm: { projectID: PROJECT } } },
    });
    await waitFor(
      'the feed is failing',
      () => feeds?.health()['SecretStore/team-b/gcp-ambient'] === 'failing',
    );
    const c = await waitFor('its condition', () => {
      const got = storeCondition(api, 'gcp-ambient', 'ChangeFeedReady', 'team-b');
      return got?.status === 'False' ? got : undefined;
    });
    t.match(c.message, /its own Google identity .*which only a ClusterSecretStore may use/);
    t.equal(pubsub.streamsFor.get(other), undefined, 'no stream opened for it');
    api.remove('secretstores', 'team-b', 'gcp-ambient');
    await waitFor(
      'its feed is closed',
      () => feeds?.health()['SecretStore/team-b/gcp-ambient'] === undefined,
    );
  });

  t.test('hostile messages: counted unreadable or ignored, acknowledged, nothing refreshed', async (t) => {
    const unreadableBefore = await metricSum(replica.metrics, 'changeFeedEvents', {
      feed: 'gcp-pubsub',
      result: 'unreadable',
    });
    const ackedBefore = pubsub.acked.get(SUB) ?? 0;
    const before = reads();
    pubsub.publish(
      SUB,
      // An event type Secret Manager does not send (or not yet): ignored.
      { attributes: { eventType: CANARY, secretId: CANARY }, data: CANARY },
      // Not a secret's name: unreadable.
      {
        attributes: { eventType: 'SECRET_VERSION_ADD', secretId: `projects/${PROJECT}/secrets/${CANARY}/x` },
      },
      { attributes: { eventType: 'SECRET_VERSION_ADD', secretId: `projects/${'p'.repeat(5000)}/secrets/a` } },
      // A large body is never read: only the attributes are.
      { attributes: { eventType: 'TOPIC_CONFIGURED' }, data: CANARY.repeat(100_000) },
    );
    await waitFor('the four are acknowledged', () =>
      (pubsub.acked.get(SUB) ?? 0) - ackedBefore >= 4 ? true : undefined,
    );
    t.equal(
      (await metricSum(replica.metrics, 'changeFeedEvents', { feed: 'gcp-pubsub', result: 'unreadable' })) -
        unreadableBefore,
      2,
      'two secret ids that are not secret names',
    );
    t.equal(reads(), before, 'nothing read');
    t.equal(health(), 'healthy');
  });

  t.test('no value in logs, metrics or the store', async (t) => {
    const text = await replica.metrics.registry.metrics();
    t.notOk(text.includes(CANARY));
    t.notOk(replica.lines.some((l) => l.includes(CANARY)));
    t.notOk(JSON.stringify(api.get('clustersecretstores', undefined, 'gcp-cluster')).includes(CANARY));
  });

  t.test('the annotation removed: the feed stops', async (t) => {
    const store = api.get('clustersecretstores', undefined, 'gcp-cluster') as KubeObject;
    api.put({ ...store, metadata: { ...store.metadata, annotations: {} } });
    await waitFor('no feed', () => Object.keys(feeds?.health() ?? {}).length === 0);
    await waitFor('no stream', () => pubsub.openStreams === 0);
    await waitFor('no condition', () => storeCondition(api, 'gcp-cluster') === undefined);
    t.equal(storeCondition(api, 'gcp-cluster', 'Ready')?.status, 'True');
  });
});
