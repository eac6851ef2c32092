/**
 * Benchmark 5 (request memory): the webhook as its own process (standalone, compiled build), hit
 * by waves of concurrent AdmissionReviews at the body limit (the largest review the API server
 * sends: an UPDATE of a Secret with 1 MiB of binary data and 256 KiB of annotations, twice). Peak
 * RSS (VmHWM from /proc) with the default in-flight budget for a 512Mi container, and with the
 * budget lifted, to show what the budget holds back. Also the RSS cost per in-flight body byte,
 * which the default share of the memory limit (1/16) is derived from.
 *
 *   npm run bench:request-memory      (BENCH_CONCURRENCY=40 BENCH_WAVES=3)
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificates } from '../src/server/certs.ts';
import { BODY_LIMIT } from '../src/server/request-bounds.ts';
import { machine, saveResult, spawnNode, waitReady } from './lib.ts';

const SERVER = join(import.meta.dirname, '..', 'dist', 'main.js');
const STORES = join(import.meta.dirname, '..', 'examples', 'stores.yaml');
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 40);
const WAVES = Number(process.env.BENCH_WAVES ?? 3);
const MiB = 1024 * 1024;

/** A Secret UPDATE review close to the body limit (see src/server/request-bounds.ts). */
function largestReview(): string {
  const data: Record<string, string> = {};
  for (let i = 0; i < 16; i++) data[`k${i}`] = randomBytes(64 * 1024 - 3).toString('base64');
  const annotations: Record<string, string> = {};
  for (let i = 0; i < 4; i++) annotations[`a${i}`] = '<'.repeat(64 * 1024 - 2);
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 's', namespace: 'default', labels: { 'esw.io/inject': 'true' }, annotations },
    type: 'Opaque',
    data,
  };
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'u',
      kind: { group: '', version: 'v1', kind: 'Secret' },
      resource: { group: '', version: 'v1', resource: 'secrets' },
      name: 's',
      namespace: 'default',
      operation: 'UPDATE',
      object: secret,
      oldObject: secret,
    },
  }).replaceAll('<', '\\u003c');
}

async function vm(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024);
}

function post(port: number, ca: string, body: string): Promise<number> {
  return new Promise((resolve) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: '/validate',
        method: 'POST',
        ca,
        servername: 'localhost',
        // One connection per request, kept alive as the API server's are (agent: false would
        // send Connection: close, and the server would close while a refused body is still
        // being written).
        agent: new https.Agent({ keepAlive: true, maxSockets: 1 }),
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const socket = res.socket;
        res.resume();
        res.on('end', () => {
          resolve(res.statusCode ?? 0);
          socket?.destroy();
        });
      },
    );
    // A 429 comes before the body is read and the server may close early: count it, not the error.
    req.on('error', () => resolve(-1));
    req.end(body);
  });
}

async function run(label: string, extraArgs: string[], port: number, body: string) {
  const dir = await mkdtemp(join(tmpdir(), 'esw-reqmem-'));
  const certs = await createCertificates({ hosts: ['localhost', '127.0.0.1'] });
  await writeFile(join(dir, 'tls.crt'), certs.cert);
  await writeFile(join(dir, 'tls.key'), certs.key);
  const child = spawnNode(
    [
      SERVER,
      'serve',
      '--port',
      String(port),
      '--tls-cert',
      join(dir, 'tls.crt'),
      '--tls-key',
      join(dir, 'tls.key'),
      '--stores',
      STORES,
      '--log-level',
      'warn',
      ...extraArgs,
    ],
    // What the chart passes from limits.memory (512Mi).
    { ESW_MEMORY_LIMIT: String(512 * MiB) },
  );
  try {
    await waitReady(`https://127.0.0.1:${port}/readyz`, certs.caCert, 120_000);
    const pid = child.proc.pid as number;
    const idle = await vm(pid, 'VmRSS');
    const statuses = new Map<number, number>();
    for (let w = 0; w < WAVES; w++) {
      const codes = await Promise.all(
        Array.from({ length: CONCURRENCY }, () => post(port, certs.caCert, body)),
      );
      for (const c of codes) statuses.set(c, (statuses.get(c) ?? 0) + 1);
    }
    const peak = await vm(pid, 'VmHWM');
    return { label, idleMiB: idle, peakMiB: peak, statuses: Object.fromEntries(statuses) };
  } finally {
    await child.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const body = largestReview();
const bounded = await run('default budget (512Mi limit: 32 MiB in flight)', [], 18611, body);
const lifted = await run(
  'budget lifted (--max-inflight-bytes 4Gi)',
  ['--max-inflight-bytes', '4Gi'],
  18612,
  body,
);
const perByte = (lifted.peakMiB - lifted.idleMiB) / ((CONCURRENCY * Buffer.byteLength(body)) / MiB);
console.log(`\n${machine()}\n`);
console.log(
  `${WAVES} waves of ${CONCURRENCY} concurrent /validate requests of ${Buffer.byteLength(body)} bytes (body limit ${BODY_LIMIT})\n`,
);
console.log('| server | RSS idle | peak RSS | answers |');
console.log('|---|---:|---:|---|');
for (const r of [bounded, lifted]) {
  const answers = Object.entries(r.statuses)
    .map(([code, n]) => `${n} × ${code === '-1' ? 'connection closed' : code}`)
    .join(', ');
  console.log(`| ${r.label} | ${r.idleMiB} MiB | **${r.peakMiB} MiB** | ${answers} |`);
}
console.log(`\nRSS per in-flight body MiB with the budget lifted: ${perByte.toFixed(1)} MiB`);
console.log(
  `results: ${await saveResult('request-memory', { concurrency: CONCURRENCY, waves: WAVES, bounded, lifted, perByte })}`,
);
