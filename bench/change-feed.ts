/**
 * Change feeds (docs/push-refresh.md, "Change feeds"): a key's value changes and Secrets
 * Manager's event lands on the SQS queue — the time from the event sent to each dependent's
 * Secret written (p50, p99, last) for 1,000 ExternalSecrets of one key, and the provider calls
 * per event. Through the real change-feed consumer (`@aws-sdk/client-sqs` long-polling the SQS
 * fake), refresher, resolver and Secrets Manager SDK against the AWS fake; an in-memory
 * Kubernetes port (no API server: this project's own cost); the real clock and timers.
 *
 * BENCH_PROVIDER=gcp: the same through Secret Manager's notification on a Pub/Sub subscription
 * (`@google-cloud/pubsub` streaming pull against the Pub/Sub fake, the Secret Manager SDK against
 * its fake), a ClusterSecretStore.
 *
 *   node bench/change-feed.ts     (BENCH_ES=1000 dependents of one key; BENCH_RUNS=10 events;
 *                                  BENCH_PROVIDER=aws (default) or gcp)
 */
import type { ExternalSecret, Secret, SecretStore } from '../src/api/types.ts';
import { ChangeFeeds } from '../src/feeds/change-feeds.ts';
import { silentLogger } from '../src/observability/logger.ts';
import { createMetrics } from '../src/observability/metrics.ts';
import { awsProvider } from '../src/providers/aws/index.ts';
import { gcpSmProvider } from '../src/providers/gcpsm/index.ts';
import type { Provider } from '../src/providers/types.ts';
import { Refresher } from '../src/refresher/refresher.ts';
import { MemoryRegistry } from '../src/resolve/memory-registry.ts';
import { StoreResolver } from '../src/resolve/resolver.ts';
import { AwsSecretsManagerFake } from '../test/fakes/aws-secrets-manager.ts';
import { AwsSqsFake } from '../test/fakes/aws-sqs.ts';
import { GcpPubSubFake } from '../test/fakes/gcp-pubsub.ts';
import { GcpSecretManagerFake } from '../test/fakes/gcp-secret-manager.ts';
import { MemoryKube } from '../test/refresher/memory-kube.ts';
import { machine, saveResult } from './lib.ts';

const ES_COUNT = Number(process.env.BENCH_ES ?? 1_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const PROVIDER = process.env.BENCH_PROVIDER === 'gcp' ? 'gcp' : 'aws';
const SUBSCRIPTION = 'projects/feeds-project/subscriptions/esw-changes';
const QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/esw-changes';
const KEY = 'app/db';
const GCP_KEY = 'app-db';
const ARN = `arn:aws:secretsmanager:us-east-1:123456789012:secret:${KEY}-AbCdEf`;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

function event(): string {
  return JSON.stringify({
    source: 'aws.secretsmanager',
    'detail-type': 'AWS API Call via CloudTrail',
    detail: { eventName: 'PutSecretValue', requestParameters: { secretId: ARN } },
  });
}

/** The provider side of one run: its fakes, the store naming its feed, a change and its event. */
interface Backend {
  store: SecretStore;
  resolver: StoreResolver;
  put(value: string): void;
  resetCalls(): void;
  calls(): number;
  sendEvent(): void;
  close(): Promise<void>;
}

async function awsBackend(registry: MemoryRegistry): Promise<Backend> {
  const aws = await AwsSecretsManagerFake.start();
  const sqs = await AwsSqsFake.start();
  sqs.create(QUEUE);
  aws.put(KEY, '{"password":"v0"}');
  registry.upsert({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'aws', namespace: 'default' },
    data: { id: Buffer.from('AKID').toString('base64'), secret: Buffer.from('SECRET').toString('base64') },
  } as never);
  const store: SecretStore = {
    apiVersion: 'external-secrets.io/v1',
    kind: 'SecretStore',
    metadata: {
      name: 'aws',
      namespace: 'default',
      uid: 'u1',
      resourceVersion: '1',
      generation: 1,
      annotations: { 'esw.io/change-feed': QUEUE },
    },
    spec: {
      provider: {
        aws: {
          service: 'SecretsManager',
          region: 'us-east-1',
          auth: {
            secretRef: {
              accessKeyIDSecretRef: { name: 'aws', key: 'id' },
              secretAccessKeySecretRef: { name: 'aws', key: 'secret' },
            },
          },
        },
      },
    },
  };
  const resolver = new StoreResolver({
    registry,
    secrets: registry,
    providers: new Map([['aws', awsProvider as Provider]]),
    logger: silentLogger(),
    metrics: createMetrics(),
    endpoints: { aws: aws.endpoint, awsSqs: sqs.endpoint },
    maxAttempts: 1,
  });
  return {
    store,
    resolver,
    put: (v) => aws.put(KEY, v),
    resetCalls: () => aws.resetCounts(),
    calls: () => aws.count('GetSecretValue') + aws.count('BatchGetSecretValue'),
    sendEvent: () => sqs.send(QUEUE, event()),
    close: async () => {
      await sqs.close();
      await aws.close();
    },
  };
}

async function gcpBackend(registry: MemoryRegistry): Promise<Backend> {
  const gcp = new GcpSecretManagerFake();
  const sm = await gcp.start();
  const pubsub = new GcpPubSubFake();
  await pubsub.start();
  pubsub.createSubscription(SUBSCRIPTION);
  gcp.addSecret({ project: 'my-project', id: GCP_KEY, versions: ['{"password":"v0"}'] });
  // A ClusterSecretStore: the default credentials (never used on the fakes' plaintext channels).
  const store: SecretStore = {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ClusterSecretStore',
    metadata: {
      name: 'gcp',
      uid: 'u1',
      resourceVersion: '1',
      generation: 1,
      annotations: { 'esw.io/change-feed': SUBSCRIPTION },
    },
    spec: { provider: { gcpsm: { projectID: 'my-project' } } },
  };
  const resolver = new StoreResolver({
    registry,
    secrets: registry,
    providers: new Map([['gcpsm', gcpSmProvider as Provider]]),
    logger: silentLogger(),
    metrics: createMetrics(),
    endpoints: {
      gcp: { host: sm.host, port: sm.port, insecure: true },
      gcpPubsub: pubsub.endpoint,
    },
    maxAttempts: 1,
  });
  const base = () => gcp.accessCalls.get(GCP_KEY) ?? 0;
  let from = 0;
  return {
    store,
    resolver,
    put: (v) => void gcp.addVersion('my-project', GCP_KEY, v),
    resetCalls: () => {
      from = base();
    },
    calls: () => base() - from,
    sendEvent: () =>
      void pubsub.publish(SUBSCRIPTION, {
        attributes: {
          eventType: 'SECRET_VERSION_ADD',
          secretId: `projects/my-project/secrets/${GCP_KEY}`,
          dataFormat: 'JSON_API_V1',
        },
        data: '{}',
      }),
    close: async () => {
      await pubsub.close();
      await gcp.close();
    },
  };
}

async function main() {
  process.env.NO_PROXY = '127.0.0.1,localhost';
  const registry = new MemoryRegistry();
  const backend = PROVIDER === 'gcp' ? await gcpBackend(registry) : await awsBackend(registry);
  const { store, resolver } = backend;
  registry.upsert(store);
  const storeRef =
    store.kind === 'ClusterSecretStore'
      ? { name: store.metadata?.name ?? '', kind: 'ClusterSecretStore' as const }
      : { name: store.metadata?.name ?? '', kind: 'SecretStore' as const };
  const remoteKey = PROVIDER === 'gcp' ? GCP_KEY : KEY;
  const feedLabel =
    store.kind === 'ClusterSecretStore'
      ? `ClusterSecretStore/${store.metadata?.name}`
      : 'SecretStore/default/aws';
  // Every Secret write, timed.
  const written = new Map<string, number>();
  const kube = new MemoryKube();
  const replace = kube.replaceSecret.bind(kube);
  kube.replaceSecret = async (ns: string, s: Secret) => {
    const out = await replace(ns, s);
    written.set(s.metadata?.name ?? '', performance.now());
    return out;
  };
  const create = kube.createSecret.bind(kube);
  kube.createSecret = async (ns: string, s: Secret) => {
    const out = await create(ns, s);
    written.set(s.metadata?.name ?? '', performance.now());
    return out;
  };
  const setTimer = (fn: () => void, ms: number) => {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  };
  const refresher = new Refresher({ resolver, kube, logger: silentLogger(), concurrency: 16, setTimer });
  for (let i = 0; i < ES_COUNT; i++) {
    const es: ExternalSecret = {
      apiVersion: 'external-secrets.io/v1',
      kind: 'ExternalSecret',
      metadata: { name: `es-${i}`, namespace: 'default', uid: `es-${i}`, generation: 1 },
      spec: {
        refreshInterval: '1h',
        secretStoreRef: storeRef,
        target: { name: `target-${i}` },
        data: [{ secretKey: 'password', remoteRef: { key: remoteKey, property: 'password' } }],
      },
    };
    refresher.upsertExternalSecret(es);
  }
  refresher.upsertStore(store);
  refresher.start();
  const feeds = new ChangeFeeds({
    open: (s, address) => resolver.changeFeed(s, address),
    refresh: (id, keys) => refresher.refreshStore(id, keys, 'feed'),
    logger: silentLogger(),
  });
  feeds.upsert(store);
  feeds.start();
  const deadline = Date.now() + 120_000;
  const waitUntil = async (what: string, ok: () => boolean) => {
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  };
  await waitUntil('first sync', () => written.size === ES_COUNT);
  await waitUntil('feed healthy', () => feeds.health()[feedLabel] === 'healthy');

  const latencies: number[] = [];
  const lasts: number[] = [];
  let calls = 0;
  for (let run = 1; run <= RUNS; run++) {
    await new Promise((r) => setTimeout(r, 50)); // the consumer is back in its long poll
    backend.put(`{"password":"v${run}"}`);
    backend.resetCalls();
    written.clear();
    const t0 = performance.now();
    backend.sendEvent();
    await waitUntil(`run ${run}`, () => written.size === ES_COUNT);
    const times = [...written.values()].map((t) => t - t0).sort((a, b) => a - b);
    latencies.push(...times);
    lasts.push(times[times.length - 1] ?? 0);
    calls += backend.calls();
  }
  await feeds.stop();
  await refresher.stop();
  await resolver.close();
  await backend.close();
  latencies.sort((a, b) => a - b);
  const result = {
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    lastMs: Math.max(...lasts),
    callsPerEvent: calls / RUNS,
  };
  const via = PROVIDER === 'gcp' ? 'GCP Secret Manager → Pub/Sub' : 'AWS Secrets Manager → SQS';
  console.log(`\n${machine()}\n${ES_COUNT} ExternalSecrets of one key, ${RUNS} change events (${via})\n`);
  console.log('| dependents | p50 event to Secret written | p99 | last Secret | provider calls per event |');
  console.log('|---:|---:|---:|---:|---:|');
  console.log(
    `| ${ES_COUNT} | ${result.p50Ms.toFixed(0)} ms | ${result.p99Ms.toFixed(0)} ms | ${result.lastMs.toFixed(0)} ms | ${result.callsPerEvent} |`,
  );
  const file = await saveResult(PROVIDER === 'gcp' ? 'change-feed-gcp' : 'change-feed', {
    provider: PROVIDER,
    esCount: ES_COUNT,
    runs: RUNS,
    ...result,
  });
  console.log(`written to ${file}`);
}

await main();
