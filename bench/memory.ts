/**
 * Benchmark 3 (memory) and 4 (start to ready, cluster mode): the webhook in cluster mode as its
 * own process, its informers holding 10,000 ExternalSecrets and 10,000 managed Secrets served by
 * the API-server double in this process. RSS is read from /proc after readiness and after the
 * refresher has scheduled everything. The ExternalSecrets carry a recent Ready status, as after
 * a restart in a steady cluster, so the first pass spreads them instead of syncing them all.
 *
 *   npm run bench:memory      (BENCH_ES=10000 BENCH_SECRETS=10000)
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExternalSecret } from '../src/api/types.ts';
import { esoResourceVersion } from '../src/refresher/external-secret.ts';
import { createCertificates } from '../src/server/certs.ts';
import { KubeApiServer } from '../test/fakes/kube-apiserver/index.ts';
import { writeKubeconfig } from '../test/fakes/kubectl.ts';
import { machine, saveResult, spawnNode, waitReady } from './lib.ts';
import { imageNodeFlags } from './scale-lib.ts';

/** The compiled server, as the container image runs it (npm run build first). */
const SERVER = join(import.meta.dirname, '..', 'dist', 'main.js');

const ES_COUNT = Number(process.env.BENCH_ES ?? 10_000);
const SECRET_COUNT = Number(process.env.BENCH_SECRETS ?? 10_000);

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

async function run(esCount: number, secretCount: number, port: number) {
  const dir = await mkdtemp(join(tmpdir(), 'esw-mem-'));
  const api = await KubeApiServer.start();
  const certs = await createCertificates({ hosts: ['localhost', '127.0.0.1'] });
  await writeFile(join(dir, 'tls.crt'), certs.cert);
  await writeFile(join(dir, 'tls.key'), certs.key);
  const kubeconfig = await writeKubeconfig(
    join(dir, 'kubeconfig'),
    { url: api.url, caPem: api.caPem },
    { token: 'bench' },
  );
  api.put({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'default', labels: { 'kubernetes.io/metadata.name': 'default' } },
  });
  api.put({
    apiVersion: 'external-secrets.io/v1',
    kind: 'SecretStore',
    metadata: { name: 'store', namespace: 'default' },
    spec: { provider: { fake: { data: [{ key: 'k', value: '{"a":"1"}' }] } } },
  });
  const recent = new Date().toISOString();
  for (let i = 0; i < esCount; i++) {
    api.put({
      apiVersion: 'external-secrets.io/v1',
      kind: 'ExternalSecret',
      metadata: {
        name: `es-${i}`,
        namespace: 'default',
        labels: { app: `app-${i % 100}` },
        annotations: { team: 'platform' },
      },
      spec: {
        refreshInterval: '1h',
        secretStoreRef: { name: 'store', kind: 'SecretStore' },
        target: { name: `target-${i}`, creationPolicy: 'Owner' },
        data: [
          { secretKey: 'username', remoteRef: { key: `app/key-${i % 1000}`, property: 'username' } },
          { secretKey: 'password', remoteRef: { key: `app/key-${i % 1000}`, property: 'password' } },
        ],
      },
    });
  }
  // Ready statuses (the status subresource is separate from spec, as on a real API server).
  for (const o of api.list('externalsecrets', 'default')) {
    const obj = o as ExternalSecret;
    obj.status = {
      refreshTime: recent,
      syncedResourceVersion: esoResourceVersion(obj),
      conditions: [{ type: 'Ready', status: 'True', reason: 'SecretSynced' }],
    };
    api.put(obj);
  }
  for (let i = 0; i < secretCount; i++) {
    api.put({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: `target-${i}`,
        namespace: 'default',
        labels: { 'reconcile.external-secrets.io/managed': 'true' },
        annotations: { 'reconcile.external-secrets.io/data-hash': 'f'.repeat(64) },
      },
      data: {
        username: Buffer.from(`user-${i}`).toString('base64'),
        password: Buffer.from(`pw-${i}-${'x'.repeat(32)}`).toString('base64'),
      },
    });
  }
  const started = performance.now();
  const child = spawnNode(
    [
      // As the container image runs it (its V8 flags).
      ...imageNodeFlags(),
      SERVER,
      'serve',
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--tls-cert',
      join(dir, 'tls.crt'),
      '--tls-key',
      join(dir, 'tls.key'),
      '--kubeconfig',
      kubeconfig,
      '--log-level',
      'warn',
    ],
    { POD_NAME: 'bench-0', POD_NAMESPACE: 'default' },
  );
  try {
    await waitReady(`https://127.0.0.1:${port}/readyz`, certs.caCert, 120_000);
    const readyMs = Math.round(performance.now() - started);
    const atReady = await rssMiB(child.proc.pid as number);
    await new Promise((r) => setTimeout(r, 5_000));
    const steady = await rssMiB(child.proc.pid as number);
    return { esCount, secretCount, readyMs, rssAtReadyMiB: atReady, rssSteadyMiB: steady };
  } finally {
    await child.stop();
    await api.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const empty = await run(0, 0, 18601);
const full = await run(ES_COUNT, SECRET_COUNT, 18602);
console.log(`\n${machine()}\n`);
console.log('| informers hold | start to ready | RSS at ready | RSS 5 s later |');
console.log('|---|---:|---:|---:|');
for (const r of [empty, full]) {
  console.log(
    `| ${r.esCount} ExternalSecrets + ${r.secretCount} managed Secrets | ${r.readyMs} ms | ${r.rssAtReadyMiB} MiB | ${r.rssSteadyMiB} MiB |`,
  );
}
console.log(`\nbudget: under 256 MB RSS at ${ES_COUNT} + ${SECRET_COUNT}`);
console.log(`written to ${await saveResult('memory', { empty, full })}`);
