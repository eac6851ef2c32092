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
import type { SecretStore } from '../src/api/types.ts';
import { ChangeFeeds } from '../src/feeds/change-feeds.ts';
import { silentLogger } from '../src/observability/logger.ts';
import { createMetrics } from '../src/observability/metrics.ts';
import { awsProvider } from '../src/providers/aws/index.ts';
import { gcpSmProvider } from '../src/providers/gcpsm/index.ts';
import type { Provider } from '../src/providers/types.ts';
import { MemoryRegistry } from '../src/resolve/memory-registry.ts';
import { StoreResolver } from '../src/resolve/resolver.ts';
import { AwsSecretsManagerFake } from '../test/fakes/aws-secrets-manager.ts';
import { AwsSqsFake } from '../test/fakes/aws-sqs.ts';
import { GcpPubSubFake } from '../test/fakes/gcp-pubsub.ts';
import { GcpSecretManagerFake } from '../test/fakes/gcp-secret-manager.ts';
import {
  addDependents,
  awsSecretStore,
  deadline,
  latencyCells,
  timedRefresher,
  timeTriggers,
} from './feed-lib.ts';
import { machine, saveResult } from './lib.ts';

const ES_COUNT = Number(process.env.BENCH_ES ?? 1_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const PROVIDER = process.env.BENCH_PROVIDER === 'gcp' ? 'gcp' : 'aws';
const SUBSCRIPTION = 'projects/feeds-project/subscriptions/esw-changes';
const QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/esw-changes';
const KEY = 'app/db';
const GCP_KEY = 'app-db';
const ARN = `arn:aws:secretsmanager:us-east-1:123456789012:secret:${KEY}-AbCdEf`;

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
  const store = awsSecretStore(registry, { 'esw.io/change-feed': QUEUE });
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
  const remoteKey = PROVIDER === 'gcp' ? GCP_KEY : KEY;
  const feedLabel =
    store.kind === 'ClusterSecretStore'
      ? `ClusterSecretStore/${store.metadata?.name}`
      : 'SecretStore/default/aws';
  const { refresher, written } = timedRefresher(resolver, { timers: true });
  addDependents(refresher, ES_COUNT, store, () => ({ key: remoteKey, property: 'password' }));
  refresher.start();
  const feeds = new ChangeFeeds({
    open: (s, address) => resolver.changeFeed(s, address),
    refresh: (id, keys) => refresher.refreshStore(id, keys, 'feed'),
    logger: silentLogger(),
  });
  feeds.upsert(store);
  feeds.start();
  const waitUntil = deadline(120_000);
  await waitUntil('first sync', () => written.size === ES_COUNT);
  await waitUntil('feed healthy', () => feeds.health()[feedLabel] === 'healthy');

  let calls = 0;
  const latency = await timeTriggers({
    runs: RUNS,
    count: ES_COUNT,
    written,
    waitUntil,
    change: async (run) => {
      await new Promise((r) => setTimeout(r, 50)); // the consumer is back in its long poll
      backend.put(`{"password":"v${run}"}`);
      backend.resetCalls();
    },
    trigger: () => backend.sendEvent(),
    done: () => {
      calls += backend.calls();
    },
  });
  await feeds.stop();
  await refresher.stop();
  await resolver.close();
  await backend.close();
  const result = { ...latency, callsPerEvent: calls / RUNS };
  const via = PROVIDER === 'gcp' ? 'GCP Secret Manager → Pub/Sub' : 'AWS Secrets Manager → SQS';
  console.log(`\n${machine()}\n${ES_COUNT} ExternalSecrets of one key, ${RUNS} change events (${via})\n`);
  console.log('| dependents | p50 event to Secret written | p99 | last Secret | provider calls per event |');
  console.log('|---:|---:|---:|---:|---:|');
  console.log(`| ${ES_COUNT} | ${latencyCells(result)} | ${result.callsPerEvent} |`);
  const file = await saveResult(PROVIDER === 'gcp' ? 'change-feed-gcp' : 'change-feed', {
    provider: PROVIDER,
    esCount: ES_COUNT,
    runs: RUNS,
    ...result,
  });
  console.log(`written to ${file}`);
}

await main();
