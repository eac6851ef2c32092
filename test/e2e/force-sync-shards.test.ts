/**
 * force-sync on a ClusterSecretStore with the refresh shared by two replicas (`--shards 8`): every
 * replica sees the annotation through its informer, and each refreshes the dependents of the
 * shards it owns — all of them written with the new value, each by its shard's owner, one
 * provider read per replica for the shared key.
 */
import t from 'tap';
import type { KubeObject } from '../../src/api/types.ts';
import { shardOf } from '../../src/refresher/queue.ts';
import { type Replica, startCluster, unb64, waitFor } from '../cluster-helpers.ts';

const SHARDS = 8;
const NAMESPACES = Array.from({ length: 8 }, (_, i) => `team-${i}`);
const CANARY = `CANARY-fss-${Math.random().toString(36).slice(2, 8)}`;
const LEASE = ['--lease-duration', '30s', '--renew-deadline', '20s', '--retry-period', '250ms'];

const owned = (r: Replica) => r.runtime.shards?.owned ?? [];

t.test('force-sync on a ClusterSecretStore across shard owners', async (t) => {
  const { api, aws, startReplica } = await startCluster(t);
  aws.put('shared/key', JSON.stringify({ password: `${CANARY}-v1` }));
  api.put({
    apiVersion: 'external-secrets.io/v1',
    kind: 'ClusterSecretStore',
    metadata: { name: 'aws-cluster' },
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
  const args = [...LEASE, '--shards', String(SHARDS)];
  const replicas = [
    await startReplica('esw-0', args, { cacheTtlMs: 600_000 }),
    await startReplica('esw-1', args, { cacheTtlMs: 600_000 }),
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

  aws.put('shared/key', JSON.stringify({ password: `${CANARY}-v2` }));
  aws.resetCounts();
  const css = api.get('clustersecretstores', undefined, 'aws-cluster') as KubeObject;
  api.put({ ...css, metadata: { ...css.metadata, annotations: { 'force-sync': '1' } } });
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
    const scheduled = (await r.metrics.refreshTriggeredObjects.get()).values.reduce((n, v) => n + v.value, 0);
    const mine = NAMESPACES.filter((ns) => owned(r).includes(shardOf(ns, SHARDS))).length;
    t.equal(scheduled, mine, `${r.podName} refreshed the dependents of its own shards only`);
    t.notOk(r.lines.join('\n').includes(CANARY), `${r.podName}: no canary in logs`);
  }
});
