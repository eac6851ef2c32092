/**
 * force-sync on every kind, on the cluster double with the real cluster runtime and the AWS fake
 * (docs/push-refresh.md): a new `force-sync` value on an ExternalSecret, a placeholder Secret, a
 * SecretStore or a ClusterSecretStore refreshes what depends on it at once, from a fresh provider
 * read (the value cache holds the old value for ten minutes here), at one provider call per key
 * (a store's 25 keys: one batch of 20 and one of 5). Only a change of the value triggers.
 */
import t from 'tap';
import type { KubeObject } from '../../src/api/types.ts';
import {
  AWS_STORE,
  b64,
  createPlaceholder,
  password,
  passwordExternalSecret,
  type StoreRef,
  startCluster,
  waitFor,
} from '../cluster-helpers.ts';
import type { KubeApiServer } from '../fakes/kube-apiserver/index.ts';
import { request } from '../helpers/https.ts';
import { awsClusterStore, metricSum } from '../push-refresh-helpers.ts';

const CANARY = `CANARY-fs-${Math.random().toString(36).slice(2, 8)}`;
const KEYS = Array.from({ length: 25 }, (_, i) => `push/k${String(i).padStart(2, '0')}`);
const value = (gen: string, key: string) => `${CANARY}-${gen}-${key}`;

const es = (name: string, namespace: string, key: string, store: StoreRef) =>
  passwordExternalSecret(name, namespace, store, { key, property: 'password' });

/**
 * Sets `force-sync` as `kubectl annotate --overwrite` does: a merge patch of the annotation, as
 * an admin, through the double's admission chain (the webhook sees the update of a placeholder
 * Secret, an ExternalSecret or a store).
 */
async function annotate(
  api: KubeApiServer,
  resource: string,
  namespace: string | undefined,
  name: string,
  v: string,
) {
  const group = resource === 'secrets' ? '/api/v1' : '/apis/external-secrets.io/v1';
  const path = `${group}${namespace ? `/namespaces/${namespace}` : ''}/${resource}/${name}`;
  const res = await request(
    `${api.url}${path}`,
    { metadata: { annotations: { 'force-sync': v } } },
    {
      ca: api.caPem,
      method: 'PATCH',
      headers: { authorization: 'Bearer admin-token', 'content-type': 'application/merge-patch+json' },
    },
  );
  if (res.status !== 200) throw new Error(`annotate ${path}: ${res.status} ${res.text}`);
}

t.test('force-sync on every kind', async (t) => {
  const { api, aws, startReplica } = await startCluster(t);
  for (const k of KEYS) aws.put(k, JSON.stringify({ password: value('v1', k) }));
  api.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-b' } });
  api.put(awsClusterStore('aws-cluster'));
  // 24 ExternalSecrets on the SecretStore (one key each), a placeholder Secret on the 25th key;
  // three keys read through the ClusterSecretStore from two namespaces.
  const local = AWS_STORE;
  const cluster = { name: 'aws-cluster', kind: 'ClusterSecretStore' as const };
  for (const [i, k] of KEYS.slice(0, 24).entries()) api.put(es(`es-${i}`, 'default', k, local));
  api.put(es('css-a', 'default', 'push/k00', cluster));
  api.put(es('css-b', 'team-b', 'push/k01', cluster));

  const replica = await startReplica('esw-0', undefined, { cacheTtlMs: 600_000 });
  await waitFor('ready', () => replica.server.readiness().ready || undefined);
  const placeholder = (namespace: string, name: string, key: string, store: StoreRef) =>
    createPlaceholder(api, namespace, name, `${key}#password`, { store: store.name, storeKind: store.kind });
  t.equal((await placeholder('default', 'ph-local', KEYS[24] as string, local)).status, 201);
  t.equal((await placeholder('team-b', 'ph-cluster', 'push/k02', cluster)).status, 201);
  await waitFor('every target synced', () =>
    KEYS.slice(0, 24).every((k, i) => password(api, 'default', `es-${i}-target`) === value('v1', k)),
  );
  await waitFor('cluster-store targets synced', () =>
    password(api, 'team-b', 'css-b-target') === value('v1', 'push/k01') ? true : undefined,
  );

  const rotate = (gen: string, keys: string[]) => {
    for (const k of keys) aws.put(k, JSON.stringify({ password: value(gen, k) }));
    aws.resetCounts();
  };
  const calls = () => ({ get: aws.count('GetSecretValue'), batch: aws.count('BatchGetSecretValue') });

  t.test('on an ExternalSecret: its keys are read again at once, past the value cache', async (t) => {
    rotate('v2', ['push/k03', 'push/k04']);
    await annotate(api, 'externalsecrets', 'default', 'es-3', '1700000001');
    await waitFor(
      'es-3 refreshed',
      () => password(api, 'default', 'es-3-target') === value('v2', 'push/k03'),
    );
    t.same(calls(), { get: 1, batch: 0 }, 'one call for its one key');
    t.equal(password(api, 'default', 'es-4-target'), value('v1', 'push/k04'), 'others wait for their round');
    t.equal(
      await metricSum(replica.metrics, 'refreshTriggers', { source: 'force-sync', kind: 'ExternalSecret' }),
      1,
    );
  });

  t.test('on a placeholder Secret', async (t) => {
    rotate('v2', [KEYS[24] as string]);
    await annotate(api, 'secrets', 'default', 'ph-local', 'now');
    await waitFor(
      'ph-local refreshed',
      () => password(api, 'default', 'ph-local') === value('v2', KEYS[24] as string),
    );
    t.same(calls(), { get: 1, batch: 0 }, 'one call for its one key');
    t.equal(await metricSum(replica.metrics, 'refreshTriggers', { source: 'force-sync', kind: 'Secret' }), 1);
  });

  t.test('on a SecretStore: every dependent, one call per key, in batches of 20', async (t) => {
    rotate('v3', KEYS);
    await annotate(api, 'secretstores', 'default', 'aws-store', '1700000002');
    await waitFor(
      'every dependent refreshed',
      () =>
        KEYS.slice(0, 24).every((k, i) => password(api, 'default', `es-${i}-target`) === value('v3', k)) &&
        password(api, 'default', 'ph-local') === value('v3', KEYS[24] as string),
    );
    t.same(calls(), { get: 0, batch: 2 }, '25 keys: a batch of 20 and one of 5');
    t.equal(
      password(api, 'default', 'css-a-target'),
      value('v1', 'push/k00'),
      'the other store’s dependents wait',
    );
    t.equal(
      await metricSum(replica.metrics, 'refreshTriggers', { source: 'force-sync', kind: 'SecretStore' }),
      1,
    );

    // Not a change of the value: another label, the same force-sync — nothing is refreshed.
    aws.resetCounts();
    const store = api.get('secretstores', 'default', 'aws-store') as KubeObject;
    api.put({ ...store, metadata: { ...store.metadata, labels: { team: 'a' } } });
    api.dropWatches(); // an informer that resumes (or relists) sees the same value again
    await waitFor(
      'the change seen',
      () =>
        replica.runtime.registry.getStore('SecretStore', 'aws-store', 'default')?.metadata?.labels?.team ===
          'a' || undefined,
    );
    t.equal(
      await metricSum(replica.metrics, 'refreshTriggers', { source: 'force-sync', kind: 'SecretStore' }),
      1,
    );
    t.same(calls(), { get: 0, batch: 0 }, 'no provider call');
  });

  t.test('on a ClusterSecretStore: dependents in every namespace', async (t) => {
    rotate('v4', ['push/k00', 'push/k01', 'push/k02']);
    await annotate(api, 'clustersecretstores', undefined, 'aws-cluster', '1700000003');
    await waitFor(
      'every dependent refreshed',
      () =>
        password(api, 'default', 'css-a-target') === value('v4', 'push/k00') &&
        password(api, 'team-b', 'css-b-target') === value('v4', 'push/k01') &&
        password(api, 'team-b', 'ph-cluster') === value('v4', 'push/k02'),
    );
    t.same(calls(), { get: 0, batch: 1 }, 'three keys, one batch');
    t.equal(
      password(api, 'default', 'es-0-target'),
      value('v3', 'push/k00'),
      'the SecretStore’s reader waits',
    );
    // Observed once each sync has finished (its status written after its Secret): wait for it.
    const observed = async () =>
      (await replica.metrics.refreshTriggerLatency.get()).values.find(
        (v) =>
          v.metricName === 'esw_refresh_trigger_latency_seconds_count' && v.labels.source === 'force-sync',
      )?.value ?? 0;
    t.ok(
      await waitFor('latency observed', async () =>
        (await observed()) >= 1 + 1 + 25 + 3 ? true : undefined,
      ),
      'latency observed for each object refreshed',
    );
  });

  t.test('no canary in logs, metrics, Events or statuses', async (t) => {
    const metricsText = await replica.metrics.registry.metrics();
    t.notOk(metricsText.includes(CANARY), 'metrics');
    t.notOk(replica.lines.join('\n').includes(CANARY), 'logs');
    const where = [
      ...api.list('events'),
      ...api.list('externalsecrets'),
      ...api.list('secretstores'),
      ...api.list('clustersecretstores'),
    ];
    t.notOk(JSON.stringify(where).includes(CANARY), 'Events, statuses, stores');
    t.notOk(JSON.stringify(where).includes(b64(CANARY).slice(0, 12)), 'not even base64');
  });
});
