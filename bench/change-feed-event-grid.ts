/**
 * The Azure change feed (docs/push-refresh.md, "Azure: Event Grid → the webhook"): a Key Vault
 * secret changes and Event Grid delivers its `SecretNewVersionCreated` event to the webhook — the
 * time from the delivery sent to each dependent's Secret written (p50, p99, last) for 1,000
 * ExternalSecrets of one key, and the provider calls per event. Through the real refresh-port app
 * over HTTPS (the delivery secret checked against the store's Secret, the body parsed, the keys
 * handed to the refresher as the leader does), the refresher, resolver and Key Vault SDK against
 * the Key Vault fake; the Event Grid delivery fake sends (Event Grid schema, one event a
 * delivery); an in-memory Kubernetes port (no API server: this project's own cost); the real
 * clock and timers.
 *
 *   node bench/change-feed-event-grid.ts     (BENCH_ES=1000 dependents of one key; BENCH_RUNS=10 events)
 */
import type { SecretStore } from '../src/api/types.ts';
import { silentLogger } from '../src/observability/logger.ts';
import { createMetrics } from '../src/observability/metrics.ts';
import { createProviders } from '../src/providers/registry.ts';
import { MemoryRegistry } from '../src/resolve/memory-registry.ts';
import { StoreResolver } from '../src/resolve/resolver.ts';
import { buildRefreshApp } from '../src/server/app.ts';
import { createCertificates } from '../src/server/certs.ts';
import { EventGridEndpoint } from '../src/server/event-grid.ts';
import { keyVaultEvent, subscribeWebhook } from '../test/fakes/azure-event-grid.ts';
import { AZURE_FAKE_TENANT, AzureKeyVaultFake } from '../test/fakes/azure-keyvault.ts';
import { addDependents, deadline, latencyCells, timedRefresher, timeTriggers } from './feed-lib.ts';
import { machine, saveResult } from './lib.ts';

const ES_COUNT = Number(process.env.BENCH_ES ?? 1_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const KEY = 'app-db';
const SECRET = 'bench-delivery-secret-0123456789';
const b64 = (s: string) => Buffer.from(s).toString('base64');

async function main() {
  process.env.NO_PROXY = '127.0.0.1,localhost';
  const azure = await AzureKeyVaultFake.start();
  azure.clients.set('client-guid', 'sp-secret');
  azure.put(KEY, 'v0');
  const registry = new MemoryRegistry();
  registry.upsert({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'azure', namespace: 'default' },
    data: { id: b64('client-guid'), secret: b64('sp-secret'), token: b64(SECRET) },
  } as never);
  const store: SecretStore = {
    apiVersion: 'external-secrets.io/v1',
    kind: 'SecretStore',
    metadata: {
      name: 'azure',
      namespace: 'default',
      uid: 'u1',
      resourceVersion: '1',
      generation: 1,
      annotations: { 'esw.io/change-feed': 'event-grid', 'esw.io/change-feed-secret': 'azure/token' },
    },
    spec: {
      provider: {
        azurekv: {
          vaultUrl: azure.url,
          tenantId: AZURE_FAKE_TENANT,
          authType: 'ServicePrincipal',
          authSecretRef: {
            clientId: { name: 'azure', key: 'id' },
            clientSecret: { name: 'azure', key: 'secret' },
          },
        },
      },
    },
  };
  registry.upsert(store);
  const resolver = new StoreResolver({
    registry,
    secrets: registry,
    providers: createProviders(),
    logger: silentLogger(),
    metrics: createMetrics(),
    endpoints: {
      azureCa: azure.ca,
      azureDisableChallengeResourceVerification: true,
      azureAuthorityHost: azure.url,
    },
    maxAttempts: 1,
  });
  const { refresher, written } = timedRefresher(resolver, { timers: true });
  addDependents(refresher, ES_COUNT, store, () => ({ key: KEY }));
  refresher.start();
  // The refresh port's app over HTTPS, with the leader's hand-over (refresh at once).
  const metrics = createMetrics();
  const endpoint = new EventGridEndpoint({
    store: (id) => registry.getStore(id.kind, id.name, id.namespace),
    secrets: registry,
    accept: async (id, keys) => {
      refresher.refreshStore(id, keys, 'feed');
    },
    logger: silentLogger(),
    metrics,
  });
  const certs = await createCertificates({ hosts: ['127.0.0.1', 'localhost'] });
  const app = buildRefreshApp(
    { logger: silentLogger(), metrics, eventGrid: endpoint },
    { https: { cert: certs.cert, key: certs.key } },
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const subscription = await subscribeWebhook({
    endpoint: `https://127.0.0.1:${port}/events/azure/secretstores/default/azure`,
    ca: certs.caCert,
    schema: 'EventGridSchema',
    headers: { authorization: `Bearer ${SECRET}` },
  });
  const waitUntil = deadline(120_000);
  await waitUntil('first sync', () => written.size === ES_COUNT);

  let calls = 0;
  const latency = await timeTriggers({
    runs: RUNS,
    count: ES_COUNT,
    written,
    waitUntil,
    change: async (run) => {
      await new Promise((r) => setTimeout(r, 50));
      azure.put(KEY, `v${run}`);
      azure.resetCounts();
    },
    trigger: async () => {
      subscription.publish(keyVaultEvent({ vaultName: 'bench', vaultUrl: azure.url, objectName: KEY }));
      const [status] = await subscription.flush();
      if (status !== 200) throw new Error(`delivery answered ${status}`);
    },
    done: () => {
      calls += azure.count('GetSecret');
    },
  });
  await refresher.stop();
  await app.close();
  await resolver.close();
  await azure.close();
  const result = { ...latency, callsPerEvent: calls / RUNS };
  console.log(`\n${machine()}\n${ES_COUNT} ExternalSecrets of one key, ${RUNS} Event Grid deliveries\n`);
  console.log(
    '| dependents | p50 delivery to Secret written | p99 | last Secret | provider calls per event |',
  );
  console.log('|---:|---:|---:|---:|---:|');
  console.log(`| ${ES_COUNT} | ${latencyCells(result)} | ${result.callsPerEvent} |`);
  const file = await saveResult('change-feed-event-grid', { esCount: ES_COUNT, runs: RUNS, ...result });
  console.log(`written to ${file}`);
}

await main();
