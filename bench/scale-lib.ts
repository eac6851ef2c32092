/**
 * Plumbing shared by bench:scale and bench:replicas: the cluster process (API-server double +
 * AWS fake, bench/scale-cluster.ts) driven over IPC, webhook replicas as their own processes
 * (`dist/main.js serve --kubeconfig`, exactly as a user runs it), RSS sampling from /proc,
 * and a low fixed-rate /validate load whose latency shows how much refresh work stalls admission.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { openSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { nodeFlags } from '../bin/node-flags.cjs';
import { createCertificates } from '../src/server/certs.ts';
import { externalSecretReview } from './admission-reviews.ts';
import { type Child, spawnNode, waitReady } from './lib.ts';
import type { ClusterMessage, ClusterStats } from './scale-cluster.ts';

/** The compiled server, as the container image runs it (npm run build first). */
export const SERVER = join(import.meta.dirname, '..', 'dist', 'main.js');

/**
 * The node flags the container image's launcher gives the server (bin/node-flags.cjs), for the
 * memory limit BENCH_MEMORY_LIMIT (e.g. `512Mi`: the old-generation cap of a pod with that limit;
 * unset: no cap, as on a machine without one): the webhook runs here as it runs in a pod.
 */
export function imageNodeFlags(): string[] {
  const limit = process.env.BENCH_MEMORY_LIMIT;
  return nodeFlags(limit ? { ESW_MEMORY_LIMIT: limit } : {}, []);
}

export const LEASE_NAMESPACE = 'esw-system';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function loadAverage(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

export interface ClusterProcess {
  kubeconfig: string;
  awsEndpoint: string;
  seededMs: number;
  /** The cluster process's pid (for CPU figures and priority). */
  pid: number;
  economy: number;
  stats(opts?: { reset?: boolean }): Promise<ClusterStats>;
  /** Sets a new force-sync annotation on every ExternalSecret at once; resolves with their count. */
  forceSync(): Promise<number>;
  stop(): Promise<void>;
}

export async function startClusterProcess(
  dir: string,
  env: { n: number; interval: string; other?: number },
): Promise<ClusterProcess> {
  const kubeconfig = join(dir, 'kubeconfig');
  const proc: ChildProcess = fork(join(import.meta.dirname, 'scale-cluster.ts'), [], {
    env: {
      ...process.env,
      NO_PROXY: '127.0.0.1,localhost',
      BENCH_N: String(env.n),
      BENCH_INTERVAL: env.interval,
      BENCH_OTHER: String(env.other ?? env.n),
      BENCH_KUBECONFIG: kubeconfig,
    },
    execArgv: ['--max-old-space-size=8192'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let seq = 0;
  const waiting = new Map<number, (s: ClusterStats) => void>();
  const forcing = new Map<number, (count: number) => void>();
  const ready = new Promise<Extract<ClusterMessage, { type: 'ready' }>>((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`cluster process exited with ${code}`)));
    proc.on('message', (m: ClusterMessage) => {
      if (m.type === 'ready') resolve(m);
      else if (m.type === 'stats') waiting.get(m.id)?.(m);
      else if (m.type === 'forced') forcing.get(m.id)?.(m.count);
    });
  });
  const r = await ready;
  return {
    kubeconfig: r.kubeconfig,
    awsEndpoint: r.awsEndpoint,
    seededMs: r.seededMs,
    pid: proc.pid as number,
    economy: r.economy,
    stats: (opts = {}) =>
      new Promise((resolve) => {
        const id = ++seq;
        waiting.set(id, (s) => {
          waiting.delete(id);
          resolve(s);
        });
        proc.send({ type: 'stats', id, reset: opts.reset === true });
      }),
    forceSync: () =>
      new Promise((resolve) => {
        const id = ++seq;
        forcing.set(id, (count) => {
          forcing.delete(id);
          resolve(count);
        });
        proc.send({ type: 'forceSync', id });
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.send({ type: 'stop' });
        setTimeout(() => proc.kill('SIGKILL'), 10_000).unref();
      }),
  };
}

export interface Replica extends Child {
  name: string;
  port: number;
  caCert: string;
  pid: number;
  startedAt: number;
}

export async function writeServingCerts(dir: string): Promise<{ cert: string; key: string; caCert: string }> {
  const certs = await createCertificates({ hosts: ['localhost', '127.0.0.1'] });
  const cert = join(dir, 'tls.crt');
  const key = join(dir, 'tls.key');
  await writeFile(cert, certs.cert);
  await writeFile(key, certs.key);
  return { cert, key, caCert: certs.caCert };
}

/** One webhook replica: `node dist/main.js serve --kubeconfig …` with its own pod name. */
export function startReplica(
  name: string,
  port: number,
  cluster: ClusterProcess,
  tls: { cert: string; key: string; caCert: string },
  extraArgs: string[] = [],
  extraEnv: Record<string, string> = {},
  /** Pins the replica (all its threads) to these CPUs (`taskset -c`), e.g. '0'. */
  cpus?: string,
): Replica {
  const child = spawnNode(
    [
      // The image's flags, then BENCH_NODE_ARGS: flags for the webhook's node (e.g.
      // --max-old-space-size=192; a later --max-semi-space-size wins); the cluster process is
      // not affected. BENCH_IMAGE_FLAGS=0 leaves the image's flags out (V8's defaults).
      ...(process.env.BENCH_IMAGE_FLAGS === '0' ? [] : imageNodeFlags()),
      ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
      SERVER,
      'serve',
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--tls-cert',
      tls.cert,
      '--tls-key',
      tls.key,
      '--kubeconfig',
      cluster.kubeconfig,
      '--log-level',
      'warn',
      ...extraArgs,
    ],
    {
      POD_NAME: name,
      POD_NAMESPACE: LEASE_NAMESPACE,
      // The AWS SDK's configured-endpoint variable: every store's client talks to the fake.
      AWS_ENDPOINT_URL_SECRETS_MANAGER: cluster.awsEndpoint,
      // The pod's limit, as the chart passes it (the in-flight request budget is 1/16 of it).
      ...(process.env.BENCH_MEMORY_LIMIT ? { ESW_MEMORY_LIMIT: process.env.BENCH_MEMORY_LIMIT } : {}),
      ...extraEnv,
    },
    // BENCH_LOG=DIR keeps each replica's log (warnings and errors) in DIR/<name>.log.
    process.env.BENCH_LOG ? openSync(join(process.env.BENCH_LOG, `${name}.log`), 'a') : 'ignore',
    cpus,
  );
  return {
    ...child,
    name,
    port,
    caCert: tls.caCert,
    pid: child.proc.pid as number,
    startedAt: Date.now(),
  };
}

export async function waitReplicaReady(r: Replica, timeoutMs = 600_000): Promise<number> {
  await waitReady(`https://127.0.0.1:${r.port}/readyz`, r.caCert, timeoutMs);
  return Date.now();
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
export async function cpuSeconds(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat (11 and 12 after the command name).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** VmRSS and VmHWM (the peak) of a process, MiB. */
export async function rss(pid: number): Promise<{ rssMiB: number; peakMiB: number }> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = (f: string) => Number(new RegExp(`${f}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return { rssMiB: Math.round(kb('VmRSS') / 1024), peakMiB: Math.round(kb('VmHWM') / 1024) };
  } catch {
    return { rssMiB: 0, peakMiB: 0 };
  }
}

export interface LatencyResult {
  requests: number;
  p50: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
}

/**
 * /validate at a fixed, modest rate (default 100 req/s over 4 connections) until `stop` is
 * called: it measures how long admission waits behind other work, not how fast it can go.
 */
export function validateLoad(
  r: Replica,
  opts: { rate?: number; connections?: number; maxSeconds?: number } = {},
): { stop: () => Promise<LatencyResult> } {
  let resolveDone: (r: LatencyResult) => void = () => {};
  const done = new Promise<LatencyResult>((resolve) => {
    resolveDone = resolve;
  });
  const instance = autocannon(
    {
      url: `https://127.0.0.1:${r.port}/validate`,
      method: 'POST',
      body: VALIDATE_REVIEW,
      headers: { 'content-type': 'application/json' },
      connections: opts.connections ?? 4,
      overallRate: opts.rate ?? 100,
      pipelining: 1,
      duration: opts.maxSeconds ?? 3600,
      tlsOptions: { ca: r.caCert, servername: 'localhost' },
    },
    (err, res) => {
      if (err) throw err;
      resolveDone({
        requests: res.requests.total,
        p50: res.latency.p50,
        p99: res.latency.p99,
        max: res.latency.max,
        non2xx: res.non2xx,
        errors: res.errors + res.timeouts,
      });
    },
  );
  return {
    stop: () => {
      instance.stop();
      return done;
    },
  };
}

export const VALIDATE_REVIEW = externalSecretReview('ns-0', 'aws');
