/**
 * Push refresh (docs/push-refresh.md): a new `force-sync` on a SecretStore after its values
 * changed — the time from the trigger to each dependent's Secret written (p50, p99, last), and the
 * provider calls it cost. Through the real refresher, resolver and AWS SDK against the AWS fake,
 * an in-memory Kubernetes port (no API server: src/refresher's own cost), on the real clock.
 *
 *   node bench/push-refresh.ts     (BENCH_ES=1000; runs 1 key, then 100 keys; BENCH_RUNS=5 triggers each)
 */
import type { ExternalSecret, Secret, SecretStore } from '../src/api/types.ts';
import { silentLogger } from '../src/observability/logger.ts';
import { createMetrics } from '../src/observability/metrics.ts';
import { awsProvider } from '../src/providers/aws/index.ts';
import { Refresher } from '../src/refresher/refresher.ts';
import { MemoryRegistry } from '../src/resolve/memory-registry.ts';
import { StoreResolver } from '../src/resolve/resolver.ts';
import { AwsSecretsManagerFake } from '../test/fakes/aws-secrets-manager.ts';
import { MemoryKube } from '../test/refresher/memory-kube.ts';
import { machine, saveResult } from './lib.ts';

const ES_COUNT = Number(process.env.BENCH_ES ?? 1_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

async function scenario(keys: number) {
  const aws = await AwsSecretsManagerFake.start();
  const keyName = (k: number) => `app/key-${k}`;
  for (let k = 0; k < keys; k++) aws.put(keyName(k), `{"password":"v0-${k}"}`);
  const registry = new MemoryRegistry();
  registry.upsert({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'aws', namespace: 'default' },
    data: { id: Buffer.from('AKID').toString('base64'), secret: Buffer.from('SECRET').toString('base64') },
  } as never);
  const store: SecretStore = {
    apiVersion: 'external-secrets.io/v1',
    kind: 'SecretStore',
    metadata: { name: 'aws', namespace: 'default', uid: 'u1', resourceVersion: '1', generation: 1 },
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
  registry.upsert(store);
  const resolver = new StoreResolver({
    registry,
    secrets: registry,
    providers: new Map([['aws', awsProvider]]),
    logger: silentLogger(),
    metrics: createMetrics(),
    endpoints: { aws: aws.endpoint },
    maxAttempts: 1,
  });
  // Every Secret write, timed.
  const written = new Map<string, number>();
  const kube = new MemoryKube();
  const replace = kube.replaceSecret.bind(kube);
  kube.replaceSecret = async (ns: string, s: Secret) => {
    const out = await replace(ns, s);
    written.set(s.metadata?.name ?? '', performance.now());
    return out;
  };
  const refresher = new Refresher({ resolver, kube, logger: silentLogger(), concurrency: 16 });
  for (let i = 0; i < ES_COUNT; i++) {
    const es: ExternalSecret = {
      apiVersion: 'external-secrets.io/v1',
      kind: 'ExternalSecret',
      metadata: { name: `es-${i}`, namespace: 'default', uid: `es-${i}`, generation: 1 },
      spec: {
        refreshInterval: '1h',
        secretStoreRef: { name: 'aws', kind: 'SecretStore' },
        target: { name: `target-${i}` },
        data: [{ secretKey: 'password', remoteRef: { key: keyName(i % keys), property: 'password' } }],
      },
    };
    refresher.upsertExternalSecret(es);
  }
  refresher.upsertStore(store);
  refresher.start();
  await refresher.tick();

  const latencies: number[] = [];
  const lasts: number[] = [];
  let calls = 0;
  let batches = 0;
  for (let run = 1; run <= RUNS; run++) {
    for (let k = 0; k < keys; k++) aws.put(keyName(k), `{"password":"v${run}-${k}"}`);
    aws.resetCounts();
    written.clear();
    await new Promise((r) => setTimeout(r, 5)); // the trigger comes after the values changed
    const t0 = performance.now();
    refresher.upsertStore({
      ...store,
      metadata: { ...store.metadata, annotations: { 'force-sync': `${run}` } },
    });
    await refresher.tick();
    if (written.size !== ES_COUNT) throw new Error(`run ${run}: ${written.size} of ${ES_COUNT} written`);
    const times = [...written.values()].map((t) => t - t0).sort((a, b) => a - b);
    latencies.push(...times);
    lasts.push(times[times.length - 1] ?? 0);
    calls += aws.count('GetSecretValue') + aws.count('BatchGetSecretValue');
    batches += aws.count('BatchGetSecretValue');
  }
  await refresher.stop();
  await resolver.close();
  await aws.close();
  latencies.sort((a, b) => a - b);
  return {
    keys,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    lastMs: Math.max(...lasts),
    callsPerTrigger: calls / RUNS,
    batchesPerTrigger: batches / RUNS,
  };
}

async function main() {
  process.env.NO_PROXY = '127.0.0.1,localhost';
  const results = [await scenario(1), await scenario(100)];
  console.log(
    `\n${machine()}\n${ES_COUNT} ExternalSecrets, force-sync on their SecretStore, ${RUNS} triggers each\n`,
  );
  console.log('| remote keys | p50 to Secret written | p99 | last Secret | provider calls per trigger |');
  console.log('|---:|---:|---:|---:|---:|');
  for (const r of results) {
    console.log(
      `| ${r.keys} | ${r.p50Ms.toFixed(0)} ms | ${r.p99Ms.toFixed(0)} ms | ${r.lastMs.toFixed(0)} ms | ${r.callsPerTrigger} (${r.batchesPerTrigger} batches) |`,
    );
  }
  const file = await saveResult('push-refresh', { esCount: ES_COUNT, runs: RUNS, results });
  console.log(`written to ${file}`);
}

await main();
