/**
 * Benchmark 1: admission throughput and latency over HTTPS, keep-alive, no pipelining, against a
 * bare fastify HTTPS server answering a constant AdmissionReview, in the same run.
 * Each server runs in its own process; the load generator (autocannon) runs here.
 *
 *   npm run bench:admission            (BENCH_DURATION=10 BENCH_CONNECTIONS=32 by default)
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificates } from '../src/server/certs.ts';
import { type LoadResult, load, machine, saveResult, spawnNode, waitReady } from './lib.ts';

/** The compiled server, as the container image runs it (npm run build first). */
const SERVER = join(import.meta.dirname, '..', 'dist', 'main.js');

const durationS = Number(process.env.BENCH_DURATION ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const root = join(import.meta.dirname, '..');

const validateReview = JSON.stringify({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: 'bench-validate',
    kind: { group: 'external-secrets.io', version: 'v1', kind: 'ExternalSecret' },
    resource: { group: 'external-secrets.io', version: 'v1', resource: 'externalsecrets' },
    operation: 'CREATE',
    namespace: 'default',
    object: {
      apiVersion: 'external-secrets.io/v1',
      kind: 'ExternalSecret',
      metadata: { name: 'database-credentials-secret', namespace: 'default' },
      spec: {
        refreshInterval: '1h',
        secretStoreRef: { name: 'bench-store', kind: 'SecretStore' },
        target: { name: 'database-credentials', creationPolicy: 'Owner' },
        data: [
          { secretKey: 'username', remoteRef: { key: 'my-app/database-credentials', property: 'username' } },
          { secretKey: 'password', remoteRef: { key: 'my-app/database-credentials', property: 'password' } },
        ],
      },
    },
  },
});

const b64 = (s: string) => Buffer.from(s).toString('base64');
const mutateReview = JSON.stringify({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: 'bench-mutate',
    kind: { group: '', version: 'v1', kind: 'Secret' },
    resource: { group: '', version: 'v1', resource: 'secrets' },
    operation: 'CREATE',
    namespace: 'default',
    object: {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 'database-credentials',
        namespace: 'default',
        labels: { 'esw.io/inject': 'true' },
        annotations: { 'esw.io/store': 'bench-store' },
      },
      data: {
        username: b64('${ref:my-app/database-credentials#username}'),
        password: b64('${ref:my-app/database-credentials#password}'),
        url: b64('postgres://${ref:my-app/database-credentials#username}@db:5432/app'),
      },
    },
  },
});

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'esw-bench-'));
  const bundle = await createCertificates({ hosts: ['localhost', '127.0.0.1'] });
  const cert = join(dir, 'tls.crt');
  const key = join(dir, 'tls.key');
  await writeFile(cert, bundle.cert);
  await writeFile(key, bundle.key);
  const results: LoadResult[] = [];
  const opts = { ca: bundle.caCert, connections, durationS };
  const warm = { ...opts, durationS: 2 };

  const barePort = 18443;
  const bare = spawnNode([join(root, 'bench/bare-server.ts'), String(barePort), cert, key]);
  try {
    await waitReady(`https://127.0.0.1:${barePort}/readyz`, bundle.caCert);
    await load('warmup', `https://127.0.0.1:${barePort}/validate`, validateReview, warm);
    results.push(
      await load(
        'bare fastify (constant answer)',
        `https://127.0.0.1:${barePort}/validate`,
        validateReview,
        opts,
      ),
    );
  } finally {
    await bare.stop();
  }

  const eswPort = 18444;
  const esw = spawnNode(
    [
      SERVER,
      'serve',
      '--port',
      String(eswPort),
      '--host',
      '127.0.0.1',
      '--tls-cert',
      cert,
      '--tls-key',
      key,
      '--stores',
      join(root, 'bench/fixtures/stores.yaml'),
      '--log-level',
      'warn',
    ],
    {},
  );
  try {
    await waitReady(`https://127.0.0.1:${eswPort}/readyz`, bundle.caCert);
    const base = `https://127.0.0.1:${eswPort}`;
    await load('warmup', `${base}/validate`, validateReview, warm);
    results.push(await load('esw /validate (ExternalSecret)', `${base}/validate`, validateReview, opts));
    await load('warmup', `${base}/mutate`, mutateReview, warm);
    results.push(await load('esw /mutate (warm, 3 refs)', `${base}/mutate`, mutateReview, opts));
  } finally {
    await esw.stop();
    await rm(dir, { recursive: true, force: true });
  }

  const bareRps = results[0]?.rps ?? 1;
  const rows = results.map((r) => ({ ...r, ratio: Number((r.rps / bareRps).toFixed(2)) }));
  console.log(`\n${machine()}; ${connections} connections, keep-alive, no pipelining, ${durationS} s each\n`);
  console.log('| server | req/s | ratio to bare | p50 ms | p99 ms | non-2xx | errors |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(`| ${r.name} | ${r.rps} | ${r.ratio} | ${r.p50} | ${r.p99} | ${r.non2xx} | ${r.errors} |`);
  }
  const file = await saveResult('admission', { connections, durationS, results: rows });
  console.log(`\nwritten to ${file}`);
}

await main();
