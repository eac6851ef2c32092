/**
 * Benchmark 2: provider-call economy. 10,000 ExternalSecrets over 1,000 remote keys (two
 * properties each) on AWS, through the real refresher, resolver and AWS SDK against the AWS
 * fake, which counts the calls. One full refresh cycle is measured, next to the
 * one-call-per-ExternalSecret-data-item baseline (the same SDK client, one GetSecretValue per
 * data item, as a per-object reconcile does) in the same run. Also: Secret writes in a cycle
 * where nothing changed. Time is simulated, so a one-hour cycle runs in seconds.
 *
 *   npm run bench:provider-calls     (BENCH_ES=10000 BENCH_KEYS=1000)
 *   BENCH_SERVICE=ParameterStore npm run bench:provider-calls   (SSM: GetParameters, 10 a call)
 */
import type { ExternalSecret, SecretStore } from '../src/api/types.ts';
import { silentLogger } from '../src/observability/logger.ts';
import { createMetrics } from '../src/observability/metrics.ts';
import { awsProvider } from '../src/providers/aws/index.ts';
import { Refresher } from '../src/refresher/refresher.ts';
import { MemoryRegistry } from '../src/resolve/memory-registry.ts';
import { StoreResolver } from '../src/resolve/resolver.ts';
import { AwsSecretsManagerFake } from '../test/fakes/aws-secrets-manager.ts';
import { AwsSsmFake } from '../test/fakes/aws-ssm.ts';
import { MemoryKube } from '../test/refresher/memory-kube.ts';
import { machine, saveResult } from './lib.ts';

const ES_COUNT = Number(process.env.BENCH_ES ?? 10_000);
const KEYS = Number(process.env.BENCH_KEYS ?? 1_000);
const HOUR = 3_600_000;
const SSM = process.env.BENCH_SERVICE === 'ParameterStore';
/** The fake's operation names: one key, a batch. */
const OPS = SSM
  ? { get: 'GetParameter', batch: 'GetParameters' }
  : { get: 'GetSecretValue', batch: 'BatchGetSecretValue' };
const keyName = (k: number) => (SSM ? `/app/key-${k}` : `app/key-${k}`);

async function main() {
  process.env.NO_PROXY = '127.0.0.1,localhost';
  const aws = SSM ? await AwsSsmFake.start() : await AwsSecretsManagerFake.start();
  for (let k = 0; k < KEYS; k++) aws.put(keyName(k), `{"username":"user-${k}","password":"pw-${k}"}`);
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
    metadata: { name: 'aws', namespace: 'default', uid: 'u1', resourceVersion: '1' },
    spec: {
      provider: {
        aws: {
          service: SSM ? 'ParameterStore' : 'SecretsManager',
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
  let now = Date.parse('2026-11-28T00:00:00Z');
  const clock = () => now;
  const resolver = new StoreResolver({
    registry,
    secrets: registry,
    providers: new Map([['aws', awsProvider]]),
    logger: silentLogger(),
    metrics: createMetrics(),
    now: clock,
    endpoints: { aws: aws.endpoint },
    maxAttempts: 1,
  });
  const kube = new MemoryKube();
  const refresher = new Refresher({ resolver, kube, logger: silentLogger(), now: clock, concurrency: 32 });
  const objects: ExternalSecret[] = [];
  for (let i = 0; i < ES_COUNT; i++) {
    const key = keyName(i % KEYS);
    objects.push({
      apiVersion: 'external-secrets.io/v1',
      kind: 'ExternalSecret',
      metadata: { name: `es-${i}`, namespace: 'default', uid: `es-${i}`, generation: 1 },
      spec: {
        refreshInterval: '1h',
        secretStoreRef: { name: 'aws', kind: 'SecretStore' },
        target: { name: `target-${i}` },
        data: [
          { secretKey: 'username', remoteRef: { key, property: 'username' } },
          { secretKey: 'password', remoteRef: { key, property: 'password' } },
        ],
      },
    });
  }
  for (const es of objects) refresher.upsertExternalSecret(es);
  refresher.start();

  const calls = () => ({ get: aws.count(OPS.get), batch: aws.count(OPS.batch) });
  let t0 = performance.now();
  await refresher.tick();
  const first = { ...calls(), seconds: (performance.now() - t0) / 1000, writes: kube.secretWrites() };

  aws.resetCounts();
  const writesBefore = kube.secretWrites();
  t0 = performance.now();
  for (let step = 0; step < 60; step++) {
    now += HOUR / 60;
    await refresher.tick();
  }
  const cycle = {
    ...calls(),
    seconds: (performance.now() - t0) / 1000,
    writes: kube.secretWrites() - writesBefore,
  };
  const batchSizes = aws.asked
    .filter((a) => a.op === OPS.batch)
    .map((a) => ('ids' in a ? a.ids : a.names).length);
  await refresher.stop();

  // Baseline: one GetSecretValue per ExternalSecret data item, with the same SDK client.
  aws.resetCounts();
  const client = await awsProvider.newClient(
    registry.getStore('SecretStore', 'aws', 'default')?.spec?.provider?.aws ?? {},
    {
      store: { kind: 'SecretStore', name: 'aws', namespace: 'default' },
      namespace: 'default',
      readSecretKey: async (sel) => (sel.key === 'id' ? 'AKID' : 'SECRET'),
      endpoints: { aws: aws.endpoint },
      maxAttempts: 1,
      timeoutMs: 10_000,
      // Static keys from auth.secretRef: the ambient identity is never asked for.
      requireAmbientIdentity: () => {
        throw new Error('unexpected fallback to the ambient identity');
      },
      allowGcpExternalAccount: false,
    },
  );
  t0 = performance.now();
  const signal = AbortSignal.timeout(600_000);
  for (let i = 0; i < objects.length; i += 64) {
    await Promise.all(
      objects
        .slice(i, i + 64)
        .flatMap((es) =>
          (es.spec?.data ?? []).map((d) => client.getSecret({ key: d.remoteRef?.key ?? '' }, { signal })),
        ),
    );
  }
  const baseline = { ...calls(), seconds: (performance.now() - t0) / 1000 };
  await client.close();
  await resolver.close();
  await aws.close();

  const dataItems = ES_COUNT * 2;
  console.log(
    `\n${machine()}\n${ES_COUNT} ExternalSecrets x 2 data items over ${KEYS} remote keys, one refresh cycle (1 h, simulated)\n`,
  );
  console.log(`| | ${OPS.get} | ${OPS.batch} | keys per batch (max) | Secret writes | wall time |`);
  console.log('|---|---:|---:|---:|---:|---:|');
  console.log(
    `| first sync (all new) | ${first.get} | ${first.batch} | | ${first.writes} | ${first.seconds.toFixed(1)} s |`,
  );
  console.log(
    `| refresh cycle, nothing changed | ${cycle.get} | ${cycle.batch} | ${Math.max(0, ...batchSizes)} | ${cycle.writes} | ${cycle.seconds.toFixed(1)} s |`,
  );
  console.log(
    `| baseline: one call per data item | ${baseline.get} | ${baseline.batch} | | | ${baseline.seconds.toFixed(1)} s |`,
  );
  console.log(
    `\nAPI calls per cycle: ${cycle.get + cycle.batch} vs ${baseline.get} (${(baseline.get / Math.max(1, cycle.get + cycle.batch)).toFixed(0)}x fewer); budget: <= ${KEYS} keys fetched and <= ${Math.ceil(KEYS / (SSM ? 10 : 20))} batches`,
  );
  const file = await saveResult(SSM ? 'provider-calls-ssm' : 'provider-calls', {
    esCount: ES_COUNT,
    keys: KEYS,
    dataItems,
    first,
    cycle,
    maxBatch: Math.max(0, ...batchSizes),
    baseline,
  });
  console.log(`written to ${file}`);
}

await main();
