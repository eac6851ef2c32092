/** Shared benchmark plumbing: child servers, readiness polling, bounded load, result files. */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';

export const NODE = process.execPath;

export interface Child {
  proc: ChildProcess;
  stop(): Promise<void>;
}

export function spawnNode(
  args: string[],
  env: Record<string, string> = {},
  stdout: 'ignore' | number = 'ignore',
  /** A CPU list for `taskset -c` (e.g. '0'): the child and every thread it starts run only there. */
  cpus?: string,
): Child {
  const [cmd, argv] = cpus ? ['taskset', ['-c', cpus, NODE, ...args]] : [NODE, args];
  const proc = spawn(cmd, argv, {
    env: { ...process.env, NO_PROXY: '127.0.0.1,localhost', ...env },
    stdio: ['ignore', stdout, 'inherit'],
  });
  return {
    proc,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
        setTimeout(() => proc.kill('SIGKILL'), 10_000).unref();
      }),
  };
}

/** Polls GET url until 200; returns milliseconds waited. Bounded by timeoutMs. */
export async function waitReady(url: string, ca: string, timeoutMs = 60_000): Promise<number> {
  const start = performance.now();
  while (performance.now() - start < timeoutMs) {
    const ok = await new Promise<boolean>((resolve) => {
      const req = https.get(url, { ca, servername: 'localhost', agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.setTimeout(1000, () => {
        req.destroy();
        resolve(false);
      });
    });
    if (ok) return performance.now() - start;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms`);
}

export interface LoadResult {
  name: string;
  connections: number;
  durationS: number;
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

/** Keep-alive, no pipelining, a fixed number of connections for a fixed time. */
export async function load(
  name: string,
  url: string,
  body: string,
  opts: {
    ca: string;
    connections: number;
    durationS: number;
    idReplacement?: boolean;
    /** Requests per second over all connections (open loop); unset: as fast as answered. */
    rate?: number;
  },
): Promise<LoadResult> {
  const r = await autocannon({
    url,
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json' },
    connections: opts.connections,
    pipelining: 1,
    duration: opts.durationS,
    tlsOptions: { ca: opts.ca, servername: 'localhost' },
    // Every `[<id>]` in the body becomes a fresh random id, request by request.
    ...(opts.idReplacement ? { idReplacement: true } : {}),
    ...(opts.rate ? { overallRate: opts.rate } : {}),
  });
  return {
    name,
    connections: opts.connections,
    durationS: opts.durationS,
    requests: r.requests.total,
    rps: Math.round(r.requests.average),
    p50: r.latency.p50,
    p99: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
  };
}

/**
 * CPU time (user + system, seconds) a process has used so far, from /proc/<pid>/stat; undefined
 * where there is no /proc. Divided by the requests served it gives the server's CPU cost per
 * request, which a busy machine disturbs far less than requests per second.
 */
export function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** The 1-minute load average, recorded with each figure (the machine may be shared). */
export function loadAverage(): number {
  return Number(os.loadavg()[0]?.toFixed(2));
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} x ${cpus[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

export async function saveResult(name: string, data: unknown): Promise<string> {
  const dir = join(import.meta.dirname, 'out');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  await writeFile(
    file,
    `${JSON.stringify({ date: new Date().toISOString(), machine: machine(), ...(data as object) }, null, 2)}\n`,
  );
  return file;
}
