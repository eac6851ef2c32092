/**
 * Event Grid deliveries with the refresh shared by two replicas (`--shards 8`): no replica leads
 * alone, so the one that takes a delivery records its keys on the store (`esw.io/refresh-request`,
 * source `feed`) and every shard's owner refreshes its own dependents — all eight namespaces'
 * targets written with the new value, at most one Key Vault read of the key per replica — and the
 * holder of shard 0, which writes store status, sees the delivery (`ChangeFeedReady` True).
 */
import t from 'tap';
import { b64, startCluster, waitFor } from '../cluster-helpers.ts';
import { keyVaultEvent } from '../fakes/azure-event-grid.ts';
import { AzureKeyVaultFake } from '../fakes/azure-keyvault.ts';
import {
  azureProvider,
  eventGridReplica,
  everyTarget,
  putShardedDependents,
  startShardedPair,
  storeCondition,
  subscribeWithSecret,
} from '../push-refresh-helpers.ts';

const CANARY = `CANARY-egs-${Math.random().toString(36).slice(2, 8)}`;
const DELIVERY_SECRET = `DELIVERY-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;

t.test('an Event Grid delivery reaches every shard owner', async (t) => {
  const { api, caCert, startReplica } = await startCluster(t);
  const azure = await AzureKeyVaultFake.start();
  t.teardown(() => azure.close());
  azure.clients.set('client-guid', 'sp-secret');
  azure.put('shared', `${CANARY}-v1`);
  api.put({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'azure-creds', namespace: 'default' },
    data: { 'client-id': b64('client-guid'), 'client-secret': b64('sp-secret'), token: b64(DELIVERY_SECRET) },
  });
  api.put({
    apiVersion: 'external-secrets.io/v1',
    kind: 'ClusterSecretStore',
    metadata: {
      name: 'azure-cluster',
      annotations: {
        'esw.io/change-feed': 'event-grid',
        'esw.io/change-feed-secret': 'default/azure-creds/token',
      },
    },
    spec: { provider: azureProvider(azure, 'azure-creds', 'default') },
  });
  putShardedDependents(api, { name: 'azure-cluster', kind: 'ClusterSecretStore' }, { key: 'shared' });
  const replicas = await startShardedPair(api, startReplica, eventGridReplica(azure), `${CANARY}-v1`);
  const condition = () => storeCondition(api, 'azure-cluster');
  await waitFor('waiting for deliveries', () => condition()?.status === 'Unknown' || undefined);

  azure.put('shared', `${CANARY}-v2`);
  azure.resetCounts();
  const delivery = await subscribeWithSecret(
    `https://127.0.0.1:${replicas[1].server.refresh?.port}/events/azure/clustersecretstores/azure-cluster`,
    caCert,
    DELIVERY_SECRET,
  );
  delivery.publish(keyVaultEvent({ vaultName: 'kv', vaultUrl: azure.url, objectName: 'shared' }));
  t.same(await delivery.flush(), [200]);
  await waitFor('every target holds v2', () => everyTarget(api, `${CANARY}-v2`));
  const reads = azure.reads.get('secrets/shared') ?? 0;
  t.ok(reads >= 1 && reads <= 2, `at most one read of the key per replica (${reads})`);
  const c = await waitFor('the delivery seen by the status writer', () =>
    condition()?.status === 'True' ? condition() : undefined,
  );
  t.equal(c?.reason, 'FeedDelivered');
  for (const r of replicas) t.notOk(r.lines.some((l) => l.includes(DELIVERY_SECRET) || l.includes(CANARY)));
});
