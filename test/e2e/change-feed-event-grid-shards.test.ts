/**
 * Event Grid deliveries with the refresh shared by two replicas (`--shards 8`): no replica leads
 * alone, so the one that takes a delivery records its keys on the store (`esw.io/refresh-request`,
 * source `feed`) and every shard's owner refreshes its own dependents — all eight namespaces'
 * targets written with the new value, at most one Key Vault read of the key per replica — and the
 * holder of shard 0, which writes store status, sees the delivery (`ChangeFeedReady` True).
 */
import t from 'tap';
import { b64, startCluster, unb64, waitFor } from '../cluster-helpers.ts';
import { keyVaultEvent, subscribeWebhook } from '../fakes/azure-event-grid.ts';
import { AZURE_FAKE_TENANT, AzureKeyVaultFake } from '../fakes/azure-keyvault.ts';

const SHARDS = 8;
const NAMESPACES = Array.from({ length: 8 }, (_, i) => `team-${i}`);
const CANARY = `CANARY-egs-${Math.random().toString(36).slice(2, 8)}`;
const DELIVERY_SECRET = `DELIVERY-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;
const LEASE = ['--lease-duration', '30s', '--renew-deadline', '20s', '--retry-period', '250ms'];
const SNI = 'external-secrets-webhook.external-secrets-webhook.svc';

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
    spec: {
      provider: {
        azurekv: {
          vaultUrl: azure.url,
          tenantId: AZURE_FAKE_TENANT,
          authType: 'ServicePrincipal',
          authSecretRef: {
            clientId: { name: 'azure-creds', key: 'client-id', namespace: 'default' },
            clientSecret: { name: 'azure-creds', key: 'client-secret', namespace: 'default' },
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
        secretStoreRef: { name: 'azure-cluster', kind: 'ClusterSecretStore' },
        target: { name: 'app-target' },
        data: [{ secretKey: 'password', remoteRef: { key: 'shared' } }],
      },
    });
  }
  const opts = {
    cacheTtlMs: 600_000,
    args: ['--event-grid-endpoint'],
    endpoints: {
      azureCa: azure.ca,
      azureDisableChallengeResourceVerification: true,
      azureAuthorityHost: azure.url,
    },
  };
  const args = [...LEASE, '--shards', String(SHARDS)];
  const replicas = [await startReplica('esw-0', args, opts), await startReplica('esw-1', args, opts)];
  await waitFor('the shards shared by both replicas', () =>
    replicas.every((r) => (r.runtime.shards?.owned ?? []).length === SHARDS / 2),
  );
  const password = (ns: string) => {
    const s = api.get('secrets', ns, 'app-target') as { data?: Record<string, string> } | undefined;
    return s?.data?.password === undefined ? undefined : unb64(s.data.password);
  };
  await waitFor('every target synced', () => NAMESPACES.every((ns) => password(ns) === `${CANARY}-v1`));
  const condition = () => {
    const store = api.get('clustersecretstores', undefined, 'azure-cluster') as {
      status?: { conditions?: { type: string; status: string; reason: string }[] };
    };
    return store?.status?.conditions?.find((c) => c.type === 'ChangeFeedReady');
  };
  await waitFor('waiting for deliveries', () => condition()?.status === 'Unknown' || undefined);

  azure.put('shared', `${CANARY}-v2`);
  azure.resetCounts();
  const delivery = await subscribeWebhook({
    endpoint: `https://127.0.0.1:${replicas[1]?.server.refresh?.port}/events/azure/clustersecretstores/azure-cluster`,
    ca: caCert,
    servername: SNI,
    schema: 'EventGridSchema',
    headers: { authorization: `Bearer ${DELIVERY_SECRET}` },
  });
  delivery.publish(keyVaultEvent({ vaultName: 'kv', vaultUrl: azure.url, objectName: 'shared' }));
  t.same(await delivery.flush(), [200]);
  await waitFor('every target holds v2', () => NAMESPACES.every((ns) => password(ns) === `${CANARY}-v2`));
  const reads = azure.reads.get('secrets/shared') ?? 0;
  t.ok(reads >= 1 && reads <= 2, `at most one read of the key per replica (${reads})`);
  const c = await waitFor('the delivery seen by the status writer', () =>
    condition()?.status === 'True' ? condition() : undefined,
  );
  t.equal(c?.reason, 'FeedDelivered');
  for (const r of replicas) t.notOk(r.lines.some((l) => l.includes(DELIVERY_SECRET) || l.includes(CANARY)));
});
