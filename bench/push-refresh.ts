/**
 * Push refresh (docs/push-refresh.md): a new `force-sync` on a SecretStore after its values
 * changed — the time from the trigger to each dependent's Secret written (p50, p99, last), and the
 * provider calls it cost. Through the real refresher, resolver and AWS SDK against the AWS fake,
 * an in-memory Kubernetes port (no API server: src/refresher's own cost), on the real clock.
 *
 *   node bench/push-refresh.ts     (BENCH_ES=1000; runs 1 key, then 100 keys; BENCH_RUNS=5 triggers each)
 */
import { silentLogger } from '../src/observability/logger.ts';
import { createMetrics } from '../src/observability/metrics.ts';
import { awsProvider } from '../src/providers/aws/index.ts';
import { MemoryRegistry } from '../src/resolve/memory-registry.ts';
import { StoreResolver } from '../src/resolve/resolver.ts';
import { AwsSecretsManagerFake } from '../test/fakes/aws-secrets-manager.ts';
import { addDependents, awsSecretStore, latencyCells, timedRefresher, timeTriggers } from './feed-lib.ts';
import { machine, saveResult } from './lib.ts';

const ES_COUNT = Number(process.env.BENCH_ES ?? 1_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

async function scenario(keys: number) {
  const aws = await AwsSecretsManagerFake.start();
  const keyName = (k: number) => `app/key-${k}`;
  for (let k = 0; k < keys; k++) aws.put(keyName(k), `{"password":"v0-${k}"}`);
  const registry = new MemoryRegistry();
  const store = awsSecretStore(registry);
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
  // Ticked by the bench: each trigger's refresh is done when its tick is.
  const { refresher, written } = timedRefresher(resolver, { timers: false });
  addDependents(refresher, ES_COUNT, store, (i) => ({ key: keyName(i % keys), property: 'password' }));
  refresher.start();
  await refresher.tick();

  let calls = 0;
  let batches = 0;
  const latency = await timeTriggers({
    runs: RUNS,
    count: ES_COUNT,
    written,
    waitUntil: async (what, ok) => {
      if (!ok()) throw new Error(`${what}: ${written.size} of ${ES_COUNT} written`);
    },
    change: async (run) => {
      for (let k = 0; k < keys; k++) aws.put(keyName(k), `{"password":"v${run}-${k}"}`);
      aws.resetCounts();
      await new Promise((r) => setTimeout(r, 5)); // the trigger comes after the values changed
    },
    trigger: async (run) => {
      refresher.upsertStore({
        ...store,
        metadata: { ...store.metadata, annotations: { 'force-sync': `${run}` } },
      });
      await refresher.tick();
    },
    done: () => {
      calls += aws.count('GetSecretValue') + aws.count('BatchGetSecretValue');
      batches += aws.count('BatchGetSecretValue');
    },
  });
  await refresher.stop();
  await resolver.close();
  await aws.close();
  return { keys, ...latency, callsPerTrigger: calls / RUNS, batchesPerTrigger: batches / RUNS };
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
    console.log(`| ${r.keys} | ${latencyCells(r)} | ${r.callsPerTrigger} (${r.batchesPerTrigger} batches) |`);
  }
  const file = await saveResult('push-refresh', { esCount: ES_COUNT, runs: RUNS, results });
  console.log(`written to ${file}`);
}

await main();
