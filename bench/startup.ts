/**
 * Benchmark 4: time from process start to a passing /readyz, standalone (stores from files).
 * The cluster variant (informers synced against the API-server double) is in bench/startup-cluster.ts.
 *
 *   npm run bench:startup          (BENCH_RUNS=5)
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificates } from '../src/server/certs.ts';
import { machine, saveResult, spawnNode, waitReady } from './lib.ts';

/** The compiled server, as the container image runs it (npm run build first). */
const SERVER = join(import.meta.dirname, '..', 'dist', 'main.js');

const runs = Number(process.env.BENCH_RUNS ?? 5);
const root = join(import.meta.dirname, '..');

export async function measureStandalone(): Promise<number[]> {
  const dir = await mkdtemp(join(tmpdir(), 'esw-startup-'));
  const bundle = await createCertificates({ hosts: ['localhost', '127.0.0.1'] });
  await writeFile(join(dir, 'tls.crt'), bundle.cert);
  await writeFile(join(dir, 'tls.key'), bundle.key);
  const times: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const port = 18500 + i;
      const started = performance.now();
      const child = spawnNode([
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
        '--stores',
        join(root, 'bench/fixtures/stores.yaml'),
        '--log-level',
        'warn',
      ]);
      try {
        await waitReady(`https://127.0.0.1:${port}/readyz`, bundle.caCert, 30_000);
        times.push(Math.round(performance.now() - started));
      } finally {
        await child.stop();
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return times;
}

if (import.meta.main) {
  const times = await measureStandalone();
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  console.log(`${machine()}\nstandalone start to ready (ms): ${times.join(', ')}; median ${median}`);
  console.log(`written to ${await saveResult('startup-standalone', { runs: times, medianMs: median })}`);
}
