/**
 * The Azure change feed end to end (docs/push-refresh.md, "Azure: Event Grid → the webhook"):
 * the cluster double, two replicas of the real cluster runtime with `--event-grid-endpoint`, the
 * Key Vault fake read by the real Azure SDK, and the Event Grid delivery fake, which validates
 * its subscriptions with the handshake of their schema and delivers as Event Grid does (batches,
 * retries on non-2xx), each body checked with the real `@azure/eventgrid` deserializer.
 *
 * A ClusterSecretStore names `esw.io/change-feed: event-grid` and its delivery secret. A Key
 * Vault event delivered to the leader (Event Grid schema, the secret in a static Authorization
 * header) or to the follower (CloudEvents batches, the secret as `access_token`) refreshes every
 * dependent of the key — ExternalSecret targets and a placeholder Secret in two namespaces — past
 * a ten-minute value cache, with one provider read. Duplicate and out-of-order deliveries write
 * nothing more; a wrong secret, another tenant's secret or an unknown store get the same 401 and
 * refresh nothing; a dropped event is caught by the interval; nothing secret reaches logs,
 * metrics or the store.
 */
import { isSystemEvent } from '@azure/eventgrid';
import t from 'tap';
import type { KubeObject } from '../../src/api/types.ts';
import {
  b64,
  createPlaceholder,
  password,
  passwordExternalSecret,
  startCluster,
  waitFor,
} from '../cluster-helpers.ts';
import { keyVaultEvent, subscribeWebhook, toCloudEvent } from '../fakes/azure-event-grid.ts';
import { AzureKeyVaultFake } from '../fakes/azure-keyvault.ts';
import type { KubeApiServer } from '../fakes/kube-apiserver/index.ts';
import { request } from '../helpers/https.ts';
import {
  azureProvider,
  eventGridReplica,
  feedLatencyCount,
  metricSum,
  SNI,
  secretWrites,
  storeCondition,
  subscribeWithSecret,
} from '../push-refresh-helpers.ts';

const CANARY = `CANARY-eg-${Math.random().toString(36).slice(2, 8)}`;
const DELIVERY_SECRET = `DELIVERY-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;
const TENANT_SECRET = `TENANT-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;
const VAULT = 'esw-kv';
const KEY = 'db';
const value = (gen: string, key = KEY) => `${CANARY}-${gen}-${key}`;

const STORE = { name: 'azure-cluster', kind: 'ClusterSecretStore' } as const;
const es = (name: string, namespace: string, key: string, refreshInterval = '1h') =>
  passwordExternalSecret(name, namespace, STORE, { key }, refreshInterval);
const condition = (api: KubeApiServer) => storeCondition(api, 'azure-cluster');

t.test('Azure change feed (Key Vault → Event Grid → the webhook)', async (t) => {
  const { api, caCert, startReplica } = await startCluster(t);
  const azure = await AzureKeyVaultFake.start();
  t.teardown(() => azure.close());
  azure.clients.set('client-guid', 'sp-secret');
  azure.put(KEY, value('v1'));
  azure.put('slow', value('v1', 'slow'));
  api.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-b' } });
  api.put({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'azure-creds', namespace: 'default' },
    data: { 'client-id': b64('client-guid'), 'client-secret': b64('sp-secret') },
  });
  api.put({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'eventgrid-delivery', namespace: 'default' },
    data: { token: b64(DELIVERY_SECRET) },
  });
  api.put({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'eventgrid-delivery', namespace: 'team-b' },
    data: { token: b64(TENANT_SECRET), 'client-id': b64('client-guid'), 'client-secret': b64('sp-secret') },
  });
  api.put({
    apiVersion: 'external-secrets.io/v1',
    kind: 'ClusterSecretStore',
    metadata: {
      name: 'azure-cluster',
      annotations: {
        'esw.io/change-feed': 'event-grid',
        'esw.io/change-feed-secret': 'default/eventgrid-delivery/token',
      },
    },
    spec: { provider: azureProvider(azure, 'azure-creds', 'default') },
  });
  // Another tenant's store on the same vault, with its own delivery secret.
  api.put({
    apiVersion: 'external-secrets.io/v1',
    kind: 'SecretStore',
    metadata: {
      name: 'azure',
      namespace: 'team-b',
      annotations: {
        'esw.io/change-feed': 'event-grid',
        'esw.io/change-feed-secret': 'eventgrid-delivery/token',
      },
    },
    spec: { provider: azureProvider(azure, 'eventgrid-delivery') },
  });
  api.put(es('db-a', 'default', KEY));
  api.put(es('db-b', 'team-b', KEY));
  // The same secret by its prefixed name: refreshed too (one more read: another cache key).
  api.put(es('db-prefixed', 'team-b', `secret/${KEY}`));
  // Refreshed every 2 s: what a dropped event leaves to the interval.
  api.put(es('slow', 'default', 'slow', '2s'));

  const opts = eventGridReplica(azure);
  const leader = await startReplica('esw-0', undefined, opts);
  await waitFor('esw-0 leads', () => leader.runtime.refresher?.running || undefined);
  const follower = await startReplica('esw-1', undefined, opts);
  await waitFor(
    'ready',
    () => (leader.server.readiness().ready && follower.server.readiness().ready) || undefined,
  );
  await waitFor('the follower knows the stores', () =>
    follower.runtime.registry.getStore('ClusterSecretStore', 'azure-cluster', undefined),
  );

  const ph = await createPlaceholder(api, 'team-b', 'ph-db', KEY, {
    store: 'azure-cluster',
    refreshInterval: '1h',
  });
  t.equal(ph.status, 201);
  const dependents: [string, string][] = [
    ['default', 'db-a-target'],
    ['team-b', 'db-b-target'],
    ['team-b', 'ph-db'],
  ];
  const all = (gen: string) =>
    [...dependents, ['team-b', 'db-prefixed-target'] as const].every(
      ([ns, n]) => password(api, ns, n) === value(gen),
    );
  await waitFor('every dependent synced', () => all('v1'));
  const waiting = await waitFor('the condition waits for deliveries', () => {
    const c = condition(api);
    return c?.status === 'Unknown' ? c : undefined;
  });
  t.equal(waiting.reason, 'AwaitingDeliveries');
  t.match(waiting.message, /cannot detect an outage/);

  const base = (port: number | undefined) =>
    `https://127.0.0.1:${port}/events/azure/clustersecretstores/azure-cluster`;
  const leaderUrl = base(leader.server.refresh?.port);
  const followerUrl = base(follower.server.refresh?.port);
  const writes = secretWrites(t, api);
  const reads = () => azure.reads.get(`secrets/${KEY}`) ?? 0;
  const event = (name = KEY, more: Partial<Parameters<typeof keyVaultEvent>[0]> = {}) =>
    keyVaultEvent({ vaultName: VAULT, vaultUrl: azure.url, objectName: name, ...more });
  const feedLatencies = () => feedLatencyCount(leader.metrics, follower.metrics);

  const gridSchema = await subscribeWithSecret(leaderUrl, caCert, DELIVERY_SECRET);
  const cloudEvents = await subscribeWebhook({
    endpoint: `${followerUrl}?access_token=${encodeURIComponent(DELIVERY_SECRET)}`,
    ca: caCert,
    servername: SNI,
    schema: 'CloudEventSchemaV1_0',
    maxEventsPerBatch: 10,
  });

  t.test('the handshakes need the store’s secret', async (t) => {
    for (const schema of ['EventGridSchema', 'CloudEventSchemaV1_0'] as const) {
      await t.rejects(
        subscribeWithSecret(leaderUrl, caCert, TENANT_SECRET, schema),
        /handshake failed \(HTTP 401\)/,
        `${schema}: another store's secret`,
      );
    }
    t.ok(isSystemEvent('Microsoft.KeyVault.SecretNewVersionCreated', toCloudEvent(event()) as never));
  });

  t.test('an event refreshes every dependent at once, with one provider read', async (t) => {
    azure.put(KEY, value('v2'));
    azure.resetCounts();
    writes.clear();
    const before = await feedLatencies();
    gridSchema.publish(event());
    t.same(await gridSchema.flush(), [200]);
    await waitFor('every dependent holds v2', () => all('v2'));
    await waitFor('each dependent synced', async () => (await feedLatencies()) - before >= 4 || undefined);
    t.equal(reads(), 2, 'one read for three dependents in two namespaces, one for the prefixed name');
    for (const [ns, n] of dependents) t.equal(writes.get(`${ns}/${n}`), 1, `${ns}/${n} written once`);
    t.ok(
      (await metricSum(leader.metrics, 'changeFeedEvents', {
        feed: 'azure-event-grid',
        result: 'refresh',
      })) >= 1,
    );
    await waitFor('the condition', () => condition(api)?.status === 'True' || undefined);
    t.equal(condition(api)?.reason, 'FeedDelivered');
  });

  t.test('through the follower, duplicated and out of order: the latest value, written once', async (t) => {
    azure.put(KEY, value('v3'));
    azure.resetCounts();
    writes.clear();
    const before = await feedLatencies();
    const old = event(KEY, { version: 'old' });
    old.eventTime = new Date(Date.now() - 60_000).toISOString();
    const ignored = event(KEY, { type: 'Microsoft.KeyVault.SecretNearExpiry' });
    const fresh = event();
    // One batch: the newer event, its duplicate, an older one, and an expiry warning.
    cloudEvents.publish(fresh, fresh, old, ignored);
    t.same(await cloudEvents.flush(), [200], 'one batch');
    t.equal(cloudEvents.attempts.at(-1)?.events, 4);
    await waitFor('every dependent holds v3', () => all('v3'));
    await waitFor('each dependent synced', async () => (await feedLatencies()) - before >= 4 || undefined);
    // Event Grid delivers at least once: the same events again, once the first are served.
    cloudEvents.publish(fresh, old);
    t.same(await cloudEvents.flush(), [200]);
    await waitFor(
      'the second delivery served',
      async () => (await feedLatencies()) - before >= 8 || undefined,
    );
    for (const [ns, n] of dependents) t.equal(writes.get(`${ns}/${n}`), 1, `${ns}/${n} written once`);
    t.equal(reads(), 4, 'per delivery, one read per spelling of the key');
    t.ok(
      (await metricSum(follower.metrics, 'changeFeedEvents', {
        feed: 'azure-event-grid',
        result: 'ignored',
      })) >= 1,
    );
  });

  t.test(
    'a wrong secret, another tenant’s or an unknown store: the same 401, nothing refreshed',
    async (t) => {
      azure.put(KEY, value('v4'));
      azure.resetCounts();
      writes.clear();
      const body = JSON.stringify([event()]);
      const post = (url: string, secret: string) =>
        request(url, body, { ca: caCert, servername: SNI, headers: { authorization: `Bearer ${secret}` } });
      const answers = [
        await post(leaderUrl, 'not-the-secret-at-all'),
        await post(leaderUrl, TENANT_SECRET),
        await post(
          base(leader.server.refresh?.port).replace('azure-cluster', 'no-such-store'),
          DELIVERY_SECRET,
        ),
        await post(
          `https://127.0.0.1:${leader.server.refresh?.port}/events/azure/secretstores/team-b/nothing`,
          TENANT_SECRET,
        ),
      ];
      for (const a of answers) {
        t.equal(a.status, 401);
        t.equal(a.text, answers[0]?.text, 'byte for byte');
        t.equal(a.headers['www-authenticate'], 'Bearer');
      }
      // Event Grid keeps retrying a refused batch.
      const wrong = await subscribeWithSecret(leaderUrl, caCert, DELIVERY_SECRET);
      wrong.opts.headers = { authorization: 'Bearer rotated-away-secret-value' };
      wrong.publish(event());
      t.same(await wrong.flush(), [401]);
      t.same(await wrong.flush(), [401], 'retried');
      t.equal(wrong.pending, 1);
      // The tenant's own store with its own secret: an event refreshes its dependents only (none).
      const tenant = await subscribeWithSecret(
        `https://127.0.0.1:${follower.server.refresh?.port}/events/azure/secretstores/team-b/azure`,
        caCert,
        TENANT_SECRET,
      );
      tenant.publish(event());
      t.same(await tenant.flush(), [200]);
      // Quiet: nothing read or written for the cluster store's dependents.
      await waitFor(
        'the tenant request seen',
        () =>
          follower.lines.some((l) => l.includes('store refresh requested') && l.includes('team-b/azure')) ||
          leader.lines.some((l) => l.includes('store refresh requested') && l.includes('team-b/azure')) ||
          undefined,
      );
      t.equal(reads(), 0, 'no provider read');
      t.equal(writes.size, 0, 'nothing written');
      t.ok(all('v3'));
      // The right secret again: served.
      wrong.opts.headers = { authorization: `Bearer ${DELIVERY_SECRET}` };
      t.same(await wrong.flush(), [200]);
      await waitFor('every dependent holds v4', () => all('v4'));
    },
  );

  t.test('a dropped event: the interval still refreshes', async (t) => {
    azure.put('slow', value('v2', 'slow'));
    await waitFor('the interval refreshed it', () =>
      password(api, 'default', 'slow-target') === value('v2', 'slow') ? true : undefined,
    );
    t.pass();
  });

  t.test('nothing secret in logs, metrics or the store', async (t) => {
    for (const r of [leader, follower]) {
      const text = await r.metrics.registry.metrics();
      for (const secret of [CANARY, DELIVERY_SECRET, TENANT_SECRET]) {
        t.notOk(text.includes(secret));
        t.notOk(
          r.lines.some((l) => l.includes(secret)),
          `${r.podName}: no secret in its log`,
        );
      }
    }
    const store = JSON.stringify(api.get('clustersecretstores', undefined, 'azure-cluster'));
    for (const secret of [CANARY, DELIVERY_SECRET, TENANT_SECRET]) t.notOk(store.includes(secret));
    t.ok(
      (await metricSum(leader.metrics, 'changeFeedDeliveries', { feed: 'azure-event-grid', code: '401' })) >=
        1,
    );
  });

  t.test('the annotation removed: no condition, deliveries refused', async (t) => {
    const store = api.get('clustersecretstores', undefined, 'azure-cluster') as KubeObject;
    api.put({ ...store, metadata: { ...store.metadata, annotations: {} } });
    await waitFor('no condition', () => condition(api) === undefined || undefined);
    await waitFor('refused', async () => {
      gridSchema.publish(event());
      const [status] = await gridSchema.flush();
      return status === 401 || undefined;
    });
    t.pass();
  });
});
