/**
 * force-sync on a ClusterSecretStore with the refresh shared by two replicas (`--shards 8`): every
 * replica sees the annotation through its informer, and each refreshes the dependents of the
 * shards it owns — all of them written with the new value, each by its shard's owner, one
 * provider read per replica for the shared key.
 */
import t from 'tap';
import type { KubeObject } from '../../src/api/types.ts';
import { startCluster, waitFor } from '../cluster-helpers.ts';
import {
  awsClusterStore,
  checkShardOwnersRefreshed,
  everyTarget,
  putShardedDependents,
  startShardedPair,
} from '../push-refresh-helpers.ts';

const CANARY = `CANARY-fss-${Math.random().toString(36).slice(2, 8)}`;

t.test('force-sync on a ClusterSecretStore across shard owners', async (t) => {
  const { api, aws, startReplica } = await startCluster(t);
  aws.put('shared/key', JSON.stringify({ password: `${CANARY}-v1` }));
  api.put(awsClusterStore('aws-cluster'));
  putShardedDependents(
    api,
    { name: 'aws-cluster', kind: 'ClusterSecretStore' },
    { key: 'shared/key', property: 'password' },
  );
  const replicas = await startShardedPair(api, startReplica, { cacheTtlMs: 600_000 }, `${CANARY}-v1`);

  aws.put('shared/key', JSON.stringify({ password: `${CANARY}-v2` }));
  aws.resetCounts();
  const css = api.get('clustersecretstores', undefined, 'aws-cluster') as KubeObject;
  api.put({ ...css, metadata: { ...css.metadata, annotations: { 'force-sync': '1' } } });
  await waitFor('every target refreshed', () => everyTarget(api, `${CANARY}-v2`));

  const calls = aws.count('GetSecretValue') + aws.count('BatchGetSecretValue');
  await checkShardOwnersRefreshed(t, replicas, calls, CANARY);
});
