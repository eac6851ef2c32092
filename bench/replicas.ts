/**
 * bench:replicas — refresh shared by 1, 2, 3 replicas (`--shards`, src/kube/shards.ts), measured
 * as a user runs it: R × `esw serve --kubeconfig` (the compiled build) against the API-server
 * double in its own process (bench/scale-cluster.ts, the scale scenario of bench:scale).
 *
 * Per replica count: the first sync, how the shards are shared, objects refreshed per replica in
 * one refresh cycle (esw_refresher_syncs_total from each replica's /metrics) against the total,
 * AWS calls of that cycle, then — with 2 or more replicas — the replica holding the most shards
 * is killed (SIGKILL: it releases nothing) and the takeover time is measured: from the kill until
 * every shard Lease is held by a live replica (the latest acquireTime the survivors wrote, on this
 * machine's one clock), and from the victim's last renewal (the latest renewTime of its Leases,
 * member included: a Lease is not taken before the lease duration after it — the kill may come
 * at any point between two renewals, 5 s apart). The load average is recorded with every figure.
 *
 *   npm run bench:replicas   (BENCH_N=2000 BENCH_REPLICAS=1,2,3 BENCH_INTERVAL=1m BENCH_SHARDS=32)
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { machine, saveResult } from './lib.ts';
import {
  type ClusterProcess,
  loadAverage,
  type Replica,
  sleep,
  startClusterProcess,
  startReplica,
  waitReplicaReady,
  writeServingCerts,
} from './scale-lib.ts';

const N = Number(process.env.BENCH_N ?? 2000);
const COUNTS = (process.env.BENCH_REPLICAS ?? '1,2,3').split(',').map(Number);
const INTERVAL = process.env.BENCH_INTERVAL ?? '1m';
const INTERVAL_MS = Number(/^(\d+)m$/.exec(INTERVAL)?.[1] ?? Number.NaN) * 60_000;
const SHARDS = Number(process.env.BENCH_SHARDS ?? 32);
const EXTRA_ARGS = (process.env.BENCH_ARGS ?? '').split(' ').filter(Boolean);
if (!Number.isFinite(INTERVAL_MS)) throw new Error(`BENCH_INTERVAL must be whole minutes, got ${INTERVAL}`);

/** esw_refresher_syncs_total of ExternalSecrets, from a replica's /metrics. */
function syncs(r: Replica): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: r.port, path: '/metrics', ca: r.caCert, servername: 'localhost' },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => {
          let total = 0;
          for (const line of body.split('\n'))
            if (line.startsWith('esw_refresher_syncs_total{') && line.includes('kind="ExternalSecret"'))
              total += Number(line.slice(line.lastIndexOf(' ') + 1));
          resolve(total);
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const shardLeases = (leases: Record<string, string>) =>
  Object.entries(leases).filter(([name]) => /-shard-\d+$/.test(name));

function holdings(leases: Record<string, string>, names: string[]): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  for (const [, holder] of shardLeases(leases)) if (holder in out) out[holder] = (out[holder] ?? 0) + 1;
  return out;
}

async function waitUntil<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

interface Row {
  replicas: number;
  load: string;
  firstSyncMs: number;
  shards: Record<string, number>;
  cycle: {
    perReplica: number[];
    total: number;
    windowMs: number;
    statusWrites: number;
    batch: number;
    get: number;
  };
  economy: number;
  takeover?: { killed: string; shards: number; ms: number; sinceRenewalMs: number; load: string };
}

async function run(count: number, basePort: number): Promise<Row> {
  const dir = await mkdtemp(join(tmpdir(), 'esw-replicas-'));
  const cluster: ClusterProcess = await startClusterProcess(dir, { n: N, interval: INTERVAL });
  const tls = await writeServingCerts(dir);
  const names = Array.from({ length: count }, (_, i) => `bench-${i}`);
  const replicas = names.map((name, i) =>
    startReplica(name, basePort + i, cluster, tls, ['--shards', String(SHARDS), ...EXTRA_ARGS]),
  );
  const killed = new Set<Replica>();
  try {
    const load = loadAverage();
    const readyAt = Math.max(...(await Promise.all(replicas.map((r) => waitReplicaReady(r)))));
    const complete = await waitUntil(
      'the first sync',
      async () => (await cluster.stats()).completeAt,
      1_200_000,
    );
    const firstSyncMs = complete - readyAt;
    console.error(`[replicas ${count}] first sync ${firstSyncMs} ms after the last replica was ready`);
    const cap = Math.ceil(SHARDS / count);
    const shards = await waitUntil(
      'the shards shared',
      async () => {
        const leases = (await cluster.stats()).leases;
        const held = holdings(leases, names);
        const all = shardLeases(leases).filter(([, h]) => h !== '').length === SHARDS;
        return all && Object.values(held).every((n) => n <= cap && n > 0) ? held : undefined;
      },
      120_000,
    );
    console.error(`[replicas ${count}] shards ${JSON.stringify(shards)}; one cycle (${INTERVAL})`);

    // One refresh cycle with nothing changed.
    await cluster.stats({ reset: true });
    const statusBefore = (await cluster.stats()).observer.statusWrites;
    const windowStart = Date.now();
    const before = await Promise.all(replicas.map(syncs));
    await sleep(INTERVAL_MS);
    const after = await Promise.all(replicas.map(syncs));
    // The reads take time under load: the window is a little longer than the interval.
    const windowMs = Date.now() - windowStart;
    const c = await cluster.stats({ reset: true });
    const perReplica = after.map((a, i) => a - (before[i] ?? 0));
    const row: Row = {
      replicas: count,
      load,
      firstSyncMs,
      shards,
      cycle: {
        perReplica,
        total: perReplica.reduce((s, n) => s + n, 0),
        windowMs,
        statusWrites: c.observer.statusWrites - statusBefore,
        batch: c.aws.BatchGetSecretValue ?? 0,
        get: c.aws.GetSecretValue ?? 0,
      },
      economy: cluster.economy,
    };

    if (count >= 2) {
      // Kill the replica holding the most shards; it releases nothing.
      const victimName = Object.entries(shards).sort((a, b) => b[1] - a[1])[0]?.[0] as string;
      const victim = replicas.find((r) => r.name === victimName) as Replica;
      const killedAt = Date.now();
      const gone = new Promise((resolve) => victim.proc.once('exit', resolve));
      victim.proc.kill('SIGKILL');
      await gone;
      killed.add(victim);
      // Its Leases as it left them: it writes nothing more.
      const left = await cluster.stats();
      const theirs = Object.keys(left.leases).filter((name) => left.leases[name] === victimName);
      const lastRenewal = Math.max(...theirs.map((name) => Date.parse(left.leaseTimes[name]?.renew ?? '')));
      const takenAt = await waitUntil(
        'the takeover',
        async () => {
          const s = await cluster.stats();
          const taken = theirs.filter((name) => /-shard-\d+$/.test(name));
          const ok = shardLeases(s.leases).every(([, h]) => h !== '' && h !== victimName);
          return ok
            ? Math.max(...taken.map((name) => Date.parse(s.leaseTimes[name]?.acquire ?? '')))
            : undefined;
        },
        300_000,
      );
      row.takeover = {
        killed: victimName,
        shards: shards[victimName] ?? 0,
        ms: takenAt - killedAt,
        sinceRenewalMs: takenAt - lastRenewal,
        load: loadAverage(),
      };
      console.error(
        `[replicas ${count}] takeover of ${victimName} after ${takenAt - killedAt} ms (${takenAt - lastRenewal} ms after its last renewal)`,
      );
    }
    return row;
  } finally {
    // A killed replica has exited already (its stop() would wait for an exit that never comes).
    await Promise.all(replicas.filter((r) => !killed.has(r)).map((r) => r.stop()));
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const rows: Row[] = [];
let port = 18_800;
for (const count of COUNTS) {
  rows.push(await run(count, port));
  port += count;
  console.error(JSON.stringify(rows[rows.length - 1]));
}

console.log(`\n${machine()}\n`);
console.log(
  `N = ${N} ExternalSecrets, --shards ${SHARDS}, refreshInterval ${INTERVAL}, lease duration as given (default 15 s)\n`,
);
console.log(
  '| replicas | load | first sync | shards per replica | ExternalSecrets refreshed per replica in one cycle | total (N), window | AWS calls in the cycle (economy) | takeover after SIGKILL (after its last renewal) |',
);
console.log('|---:|---|---:|---|---|---:|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.replicas} | ${r.load} | ${(r.firstSyncMs / 1000).toFixed(1)} s | ${Object.values(r.shards).join(' / ')} | ${r.cycle.perReplica.join(' / ')} | ${r.cycle.total} (${N}), ${(r.cycle.windowMs / 1000).toFixed(1)} s | ${r.cycle.get} Get + ${r.cycle.batch} Batch (${r.economy}) | ${r.takeover ? `${(r.takeover.ms / 1000).toFixed(2)} s (${(r.takeover.sinceRenewalMs / 1000).toFixed(2)} s; ${r.takeover.shards} shards of ${r.takeover.killed}; load ${r.takeover.load})` : '—'} |`,
  );
}
console.log(`written to ${await saveResult('replicas', { n: N, shards: SHARDS, interval: INTERVAL, rows })}`);
