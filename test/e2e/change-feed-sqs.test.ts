/**
 * The AWS change feed end to end (docs/push-refresh.md, "Change feeds"): the cluster double, the
 * real cluster runtime, the Secrets Manager fake and the SQS fake driven by the real
 * `@aws-sdk/client-sqs`. A ClusterSecretStore names its queue in `esw.io/change-feed`; a
 * Secrets Manager event on the queue refreshes every dependent of the key (ExternalSecret
 * targets and a placeholder Secret, in two namespaces) at once, past a ten-minute value cache,
 * with one provider read. Duplicated and out-of-order events write nothing twice, a dropped event
 * is caught by the interval, and a failing queue falls back to it until it recovers.
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
import {
  awsClusterStore,
  feedLatencyCount,
  metricSum,
  secretWrites,
  startSqs,
  storeCondition,
} from '../push-refresh-helpers.ts';

const CANARY = `CANARY-feed-${Math.random().toString(36).slice(2, 8)}`;
const QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/esw-changes';
const KEY = 'feed/db';
const ARN = `arn:aws:secretsmanager:us-east-1:123456789012:secret:${KEY}-AbCdEf`;
const value = (gen: string, key = KEY) => `${CANARY}-${gen}-${key}`;

/** The event EventBridge puts on the queue for a Secrets Manager API call (CloudTrail). */
function event(eventName: string, secretId: string, at = new Date().toISOString()): string {
  return JSON.stringify({
    version: '0',
    id: crypto.randomUUID(),
    'detail-type': 'AWS API Call via CloudTrail',
    source: 'aws.secretsmanager',
    account: '123456789012',
    time: at,
    region: 'us-east-1',
    resources: [],
    detail: {
      eventSource: 'secretsmanager.amazonaws.com',
      eventName,
      eventTime: at,
      requestParameters: { secretId },
      responseElements: eventName === 'UpdateSecret' ? { arn: ARN, name: KEY } : null,
    },
  });
}

const STORE = { name: 'aws-cluster', kind: 'ClusterSecretStore' } as const;
const es = (name: string, namespace: string, key: string, refreshInterval = '1h') =>
  passwordExternalSecret(name, namespace, STORE, { key, property: 'password' }, refreshInterval);

t.test('AWS change feed (EventBridge → SQS)', async (t) => {
  const { api, aws, startReplica } = await startCluster(t);
  const sqs = await startSqs(t, QUEUE);
  aws.put(KEY, JSON.stringify({ password: value('v1') }));
  aws.put('feed/slow', JSON.stringify({ password: value('v1', 'feed/slow') }));
  api.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-b' } });
  api.put(awsClusterStore('aws-cluster', { 'esw.io/change-feed': QUEUE }));
  api.put(es('db-a', 'default', KEY));
  api.put(es('db-b', 'team-b', KEY));
  // Refreshed every 2 s: what a dropped event leaves to the interval.
  api.put(es('slow', 'default', 'feed/slow', '2s'));

  const replica = await startReplica('esw-0', undefined, {
    cacheTtlMs: 600_000,
    endpoints: { awsSqs: sqs.endpoint },
  });
  await waitFor('ready', () => replica.server.readiness().ready || undefined);
  const ph = await createPlaceholder(api, 'team-b', 'ph-db', `${KEY}#password`, {
    store: 'aws-cluster',
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
  await waitFor(
    'the feed is consumed',
    () => feeds?.health()['ClusterSecretStore/aws-cluster'] === 'healthy',
  );

  // Writes of each dependent Secret, from now on.
  const writes = secretWrites(t, api);
  // Reads of the key only: `slow` (a 2 s interval) may be read in the same moment on a loaded machine.
  const reads = () =>
    aws.asked.filter((a) => /^(Batch)?GetSecretValue$/.test(a.op) && a.ids.includes(KEY)).length;

  t.test('an event refreshes every dependent at once, with one provider read', async (t) => {
    aws.put(KEY, JSON.stringify({ password: value('v2') }));
    aws.resetCounts();
    writes.clear();
    sqs.send(QUEUE, event('PutSecretValue', ARN));
    await waitFor('every dependent holds v2', () => all('v2'));
    t.equal(reads(), 1, 'one read of the key for three dependents in two namespaces');
    await waitFor('the message is deleted', () => sqs.depth(QUEUE) === 0);
    for (const [ns, n] of dependents) t.equal(writes.get(`${ns}/${n}`), 1, `${ns}/${n} written once`);
    t.ok((await metricSum(replica.metrics, 'changeFeedEvents', { feed: 'aws-sqs', result: 'refresh' })) >= 1);
    await waitFor(
      'the latency of each dependent is observed',
      async () => (await feedLatencyCount(replica.metrics)) >= 3,
    );
  });

  t.test('duplicated and out-of-order events: the latest value, written once', async (t) => {
    aws.put(KEY, JSON.stringify({ password: value('v3') }));
    aws.resetCounts();
    writes.clear();
    const deletedBefore = sqs.deleted.get('/123456789012/esw-changes') ?? 0;
    const older = new Date(Date.now() - 60_000).toISOString();
    // The newer change's event first, then its duplicate, then an older one by name.
    sqs.send(QUEUE, event('UpdateSecret', KEY));
    sqs.send(QUEUE, event('UpdateSecret', KEY));
    sqs.send(QUEUE, event('PutSecretValue', KEY, older));
    await waitFor('every dependent holds v3', () => all('v3'));
    await waitFor('the three messages are deleted', () =>
      (sqs.deleted.get('/123456789012/esw-changes') ?? 0) - deletedBefore === 3 ? true : undefined,
    );
    // Every event is handled; any refresh it caused has either written v3 or found it in place.
    await waitFor(
      'the refresh of the last event is done',
      async () => (await feedLatencyCount(replica.metrics)) >= 6,
    );
    for (const [ns, n] of dependents) t.equal(writes.get(`${ns}/${n}`), 1, `${ns}/${n} written once`);
    t.ok(reads() >= 1 && reads() <= 3, `at most one read per event (${reads()})`);
    t.ok(all('v3'));
  });

  t.test('a dropped event: the interval still refreshes', async (t) => {
    aws.put('feed/slow', JSON.stringify({ password: value('v2', 'feed/slow') }));
    await waitFor('the interval refreshed it', () =>
      password(api, 'default', 'slow-target') === value('v2', 'feed/slow') ? true : undefined,
    );
    t.pass();
  });

  t.test('a failing queue falls back to the interval, then recovers', async (t) => {
    const errorsBefore = await metricSum(replica.metrics, 'changeFeedErrors', { feed: 'aws-sqs' });
    sqs.fault(
      { type: 'error', status: 400, errorType: 'com.amazonaws.sqs#QueueDoesNotExist', message: 'gone' },
      { op: 'ReceiveMessage' },
    );
    // Ends the long poll in flight: the next one meets the fault.
    sqs.send(QUEUE, JSON.stringify({ source: 'aws.s3', detail: { eventName: 'PutObject' } }));
    await waitFor(
      'the feed is failing',
      () => feeds?.health()['ClusterSecretStore/aws-cluster'] === 'failing',
    );
    t.ok((await metricSum(replica.metrics, 'changeFeedErrors', { feed: 'aws-sqs' })) > errorsBefore);
    t.ok((await metricSum(replica.metrics, 'changeFeeds', { feed: 'aws-sqs', state: 'failing' })) === 1);
    t.ok(replica.lines.some((l) => l.includes('change feed failing')));
    const failing = await waitFor('the store condition', () => {
      const c = storeCondition(api, 'aws-cluster');
      return c?.status === 'False' ? c : undefined;
    });
    t.equal(failing.reason, 'FeedFailing');
    t.match(
      failing.message,
      /^change feed failing, refreshing on the interval: aws: SQS ReceiveMessage on queue esw-changes: QueueDoesNotExist \(HTTP 400\)$/,
    );
    t.equal(storeCondition(api, 'aws-cluster', 'Ready')?.status, 'True', 'the store itself stays Ready');
    aws.put(KEY, JSON.stringify({ password: value('v4') }));
    sqs.send(QUEUE, event('PutSecretValue', ARN));
    sqs.clearFaults();
    await waitFor('recovered', () => feeds?.health()['ClusterSecretStore/aws-cluster'] === 'healthy');
    await waitFor('the event queued during the outage is served', () => all('v4'));
    t.ok(replica.lines.some((l) => l.includes('change feed recovered')));
    t.equal(await metricSum(replica.metrics, 'changeFeeds', { feed: 'aws-sqs', state: 'failing' }), 0);
    await waitFor(
      'the store condition recovers',
      () => storeCondition(api, 'aws-cluster')?.status === 'True',
    );
  });

  t.test('no value in logs or metrics', async (t) => {
    const text = await replica.metrics.registry.metrics();
    t.notOk(text.includes(CANARY));
    t.notOk(replica.lines.some((l) => l.includes(CANARY)));
    t.notOk(JSON.stringify(api.get('clustersecretstores', undefined, 'aws-cluster')).includes(CANARY));
  });

  t.test('the annotation removed: the feed stops', async (t) => {
    const store = api.get('clustersecretstores', undefined, 'aws-cluster') as KubeObject;
    api.put({ ...store, metadata: { ...store.metadata, annotations: {} } });
    await waitFor('no feed', () => Object.keys(feeds?.health() ?? {}).length === 0);
    await waitFor('no condition', () => storeCondition(api, 'aws-cluster') === undefined);
    t.equal(storeCondition(api, 'aws-cluster', 'Ready')?.status, 'True');
  });
});
