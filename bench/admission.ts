/**
 * Benchmark 1: admission throughput and latency over HTTPS, keep-alive, no pipelining, against a
 * bare fastify HTTPS server answering a constant AdmissionReview, in the same run.
 *
 * Both servers run for the whole benchmark, each in its own process, with the same certificate,
 * TLS settings and keep-alive; the load generator (autocannon) runs here. A run measures the bare
 * server, /validate and a warm /mutate one after the other (the order rotates from run to run so
 * a change in the machine's load does not always favour the same row), each after its own
 * warm-up. Ratios are taken within a run, then the median over runs is reported with the spread
 * and, from 6 runs on, the median's 95 % interval (bench/stats.ts): on a shared host many short
 * runs (BENCH_RUNS=30 BENCH_DURATION=2) pin a median down better than a few long ones, and a goal
 * is shown met only when the interval's low end meets it.
 * Besides req/s, the server's CPU time per request is read from /proc: the machine may be shared,
 * and CPU per request is much less disturbed by other work than req/s. The webhook's own
 * admission-duration histogram, read before and after each window, splits out its handler's share.
 * The webhook is started as users start it, through bin/esw.cjs (the V8 flags of
 * bin/node-flags.cjs).
 *
 * Two rows split the cost apart: the bare server sent the UPDATE review (a request 1.6× the size
 * of the CREATE: the repeated-UPDATE row is also compared with it, the same bytes both ways), and
 * /validate sent a kind it does not check (everything the webhook does around validation, none
 * of validation itself).
 *
 *   npm run bench:admission     (BENCH_RUNS=5 BENCH_DURATION=10 BENCH_WARMUP=2 BENCH_CONNECTIONS=32,
 *                                BENCH_COMPARE=other/dist/main.js for a second build side by side,
 *                                paired with this one run by run,
 *                                BENCH_PIN=0:1 for the servers on CPU 0 and autocannon on CPU 1,
 *                                BENCH_CPU_PROF=DIR for a V8 CPU profile of each server in DIR,
 *                                BENCH_ROWS=mutate,UPDATE for the bare row and the rows named so,
 *                                BENCH_RATE=6000 for that many requests a second to every row,
 *                                BENCH_RESTART=1 for fresh server processes every run)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createCertificates } from '../src/server/certs.ts';
import {
  appliedValidateReview,
  distinctMutateReview,
  mutateReview,
  unchangedUpdateReview,
  uncheckedKindReview,
  validateReview,
} from './admission-reviews.ts';
import {
  type Child,
  cpuSeconds,
  type LoadResult,
  load,
  loadAverage,
  machine,
  median,
  saveResult,
  spawnNode,
  waitReady,
} from './lib.ts';
import { medianInterval } from './stats.ts';

/** The compiled server (npm run build first), started as the image and `npm start` start it. */
const SERVER = join(import.meta.dirname, '..', 'dist', 'main.js');

const durationS = Number(process.env.BENCH_DURATION ?? 10);
const warmupS = Number(process.env.BENCH_WARMUP ?? 2);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const runs = Number(process.env.BENCH_RUNS ?? 5);
/**
 * BENCH_RATE=R: every row is sent R requests a second (autocannon's overallRate) instead of as
 * many as the server answers. Set below the slowest row's capacity, every server answers the same
 * load to a client just as busy, so server CPU per request compares the servers' own costs apart
 * from what a slower server's lower rate changes around it (batching, the client's idle time).
 */
const fixedRate = process.env.BENCH_RATE ? Number(process.env.BENCH_RATE) : undefined;
/** BENCH_COMPARE=path/to/dist/main.js: a second build measured in the same runs. */
/**
 * BENCH_RESTART=1: every server is stopped and started again before each run after the first.
 * Two processes of one build differ by up to ~9 % in a 20-run median (bench/RESULTS.md, the A/A
 * run): where a process's code and heap landed and what its JIT decided last for its whole life.
 * Fresh processes each run turn that into run-to-run spread, which the median and its interval
 * then account for, instead of a bias that pairing runs cannot take out.
 */
const restartEachRun = process.env.BENCH_RESTART === '1';
const compareServer = process.env.BENCH_COMPARE;
const root = join(import.meta.dirname, '..');
/**
 * BENCH_PIN=S:L pins every server to CPU list S and this process (autocannon) to CPU list L: on
 * two cores the load generator otherwise takes CPU from the server it measures. The servers are
 * loaded one at a time, so they can share their list.
 */
const PIN = process.env.BENCH_PIN ? parsePin(process.env.BENCH_PIN) : undefined;
function parsePin(v: string): { servers: string; load: string } {
  const m = /^([0-9,-]+):([0-9,-]+)$/.exec(v);
  if (!m) throw new Error(`BENCH_PIN: expected SERVER_CPUS:LOAD_CPUS (e.g. 0:1), got ${v}`);
  return { servers: m[1] as string, load: m[2] as string };
}
if (PIN) {
  // -a: every thread this process already runs (libuv's pool, V8's helpers), not only the main one.
  const r = spawnSync('taskset', ['-a', '-cp', PIN.load, String(process.pid)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`taskset failed: ${r.stderr || r.error}`);
}
/** BENCH_ROWS=a,b: only the rows whose name holds one of these (the bare row always, for the ratio). */
const rowFilter = process.env.BENCH_ROWS?.split(',').filter(Boolean);
/** BENCH_CPU_PROF=DIR: each server writes a V8 CPU profile there when it stops (for where the µs go). */
const profileFlags = process.env.BENCH_CPU_PROF
  ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
  : [];

/**
 * The launcher of the tree a dist/main.js was built in, `bin/esw.cjs`: what the container image's
 * ENTRYPOINT and `npm start` run. It re-executes Node in place (process.execve, the same PID, so
 * /proc still reads the server's CPU) with the V8 flags users get (bin/node-flags.cjs). Flags for
 * the server itself (a CPU profile) then go through NODE_OPTIONS, which the re-executed Node reads.
 */
function launcherOf(server: string): string {
  const tree = dirname(dirname(server));
  const launcher = join(tree, 'bin', 'esw.cjs');
  if (!existsSync(launcher)) throw new Error(`bench: no launcher ${launcher} beside ${server}`);
  // The launcher runs src/ through type stripping when dist/ is older: that is not what is measured.
  if (statSync(server).mtimeMs < newestMtime(join(tree, 'src')))
    throw new Error(`bench: ${server} is older than ${join(tree, 'src')}: run npm run build there first`);
  return launcher;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) newest = Math.max(newest, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return newest;
}

for (const body of [distinctMutateReview]) {
  if (!body.includes('[<id>]')) throw new Error('bench: a review meant to change per request does not');
}

/** The suffix of a BENCH_COMPARE build's rows. */
const COMPARED = ', BENCH_COMPARE build';
const BARE = 'bare fastify (constant answer)';
const BARE_UPDATE = 'bare fastify (constant answer), sent the UPDATE review';
const BARE_APPLIED = 'bare fastify (constant answer), sent the applied CREATE';
const WARM_MUTATE = 'esw /mutate (warm, 3 refs)';
const BARE_PATCH = "bare fastify, answering the warm /mutate's answer (the same bytes)";

interface Target {
  name: string;
  url: string;
  body: string;
  server: Child;
  /** The server's /metrics (esw only): the time its handlers took, from its own histogram. */
  metricsUrl?: string;
  idReplacement?: boolean;
  /**
   * The bare row with this row's bytes, when they differ from the bare row's own: sent this row's
   * body (a larger request costs the bare server more too: TLS, parsing), or answering this row's
   * answer (a patch is 9× the bytes of a bare `allowed`). The ratio against the same bytes is
   * reported beside the ratio against the bare row.
   */
  sameBodyBare?: string;
}

interface Row extends LoadResult {
  run: number;
  /** Server CPU (user + system) per request, µs; undefined without /proc. */
  serverUsPerReq: number | undefined;
  /** Load generator CPU per request, µs (it shares the machine with the server). */
  clientUsPerReq: number;
  /**
   * esw's own `esw_admission_duration_seconds` over the window, µs per review: the handler alone
   * (the object bounds, the handler, the metrics), as the server runs it between its TLS and HTTP
   * work — which is slower than the same code in a loop (bench/admission-pieces.ts).
   */
  handlerUs: number | undefined;
  loadAverage: number;
}

async function measure(target: Target, run: number, ca: string): Promise<Row> {
  const opts = {
    ca,
    connections,
    durationS,
    idReplacement: target.idReplacement === true,
    rate: fixedRate,
  };
  await load('warm-up', target.url, target.body, { ...opts, durationS: warmupS });
  const loadAvg = loadAverage();
  const handlerBefore = target.metricsUrl ? await admissionSeconds(target.metricsUrl, ca) : undefined;
  const serverBefore = cpuSeconds(target.server.proc.pid);
  const clientBefore = process.cpuUsage();
  const result = await load(target.name, target.url, target.body, opts);
  const client = process.cpuUsage(clientBefore);
  const serverAfter = cpuSeconds(target.server.proc.pid);
  const handlerAfter = target.metricsUrl ? await admissionSeconds(target.metricsUrl, ca) : undefined;
  const perReq = (us: number) => Math.round(us / Math.max(1, result.requests));
  return {
    ...result,
    run,
    handlerUs:
      handlerBefore && handlerAfter && handlerAfter.count > handlerBefore.count
        ? Number(
            (
              ((handlerAfter.sum - handlerBefore.sum) * 1e6) /
              (handlerAfter.count - handlerBefore.count)
            ).toFixed(1),
          )
        : undefined,
    serverUsPerReq:
      serverBefore === undefined || serverAfter === undefined
        ? undefined
        : perReq((serverAfter - serverBefore) * 1e6),
    clientUsPerReq: perReq(client.user + client.system),
    loadAverage: loadAvg,
  };
}

/**
 * The sum and count of every `esw_admission_duration_seconds` series: only one row loads a server
 * at a time, so the difference over a window is that row's.
 */
async function admissionSeconds(url: string, ca: string): Promise<{ sum: number; count: number }> {
  const text = await get(url, ca);
  let sum = 0;
  let count = 0;
  for (const line of text.split('\n')) {
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith('esw_admission_duration_seconds_sum')) sum += value;
    else if (line.startsWith('esw_admission_duration_seconds_count')) count += value;
  }
  if (count === 0 && !text.includes('esw_admission_duration_seconds'))
    throw new Error(`bench: ${url} has no esw_admission_duration_seconds`);
  return { sum, count };
}

function get(url: string, ca: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    https
      .get(url, { ca, servername: 'localhost' }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

/** One request first, so a misconfigured bench never measures refusals as if they were work. */
async function expectAnswer(
  target: Pick<Target, 'name' | 'url' | 'body'>,
  ca: string,
  check: (response: Record<string, unknown>) => boolean,
): Promise<string> {
  const text = await new Promise<string>((resolve, reject) => {
    const req = https.request(
      target.url,
      { method: 'POST', ca, servername: 'localhost', headers: { 'content-type': 'application/json' } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve(body));
      },
    );
    req.on('error', reject);
    req.end(target.body);
  });
  const response = (JSON.parse(text) as { response?: Record<string, unknown> }).response ?? {};
  if (!check(response)) throw new Error(`${target.name}: unexpected answer ${text.slice(0, 300)}`);
  return text;
}

/** The median and range of a per-run ratio, or a dash for rows without one. */
function ratioSummary(values: (number | undefined)[]): string {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length === 0 ? '—' : `${Number(median(known).toFixed(2))} (${range(known)})`;
}

/**
 * The 95 % interval of a median over runs (bench/stats.ts), or why there is none: a ratio is
 * "shown" at or above a goal only when the interval's low end is.
 */
function interval(values: (number | undefined)[]): string {
  const known = values.filter((v): v is number => v !== undefined);
  const ci = medianInterval(known);
  return ci ? `${ci.low}–${ci.high}` : `— (${known.length} runs: 6 or more give one)`;
}

/**
 * Each row measured on both builds, paired run by run: the ratio of req/s and the difference of
 * server CPU per request within each run, their medians and 95 % intervals. Pairing takes out
 * what moves whole runs (the host's phases); what it cannot take out is a process's own speed.
 */
function pairedWithCompare(rows: Row[]) {
  return [...new Set(rows.map((r) => r.name))]
    .filter((name) => name.endsWith(COMPARED))
    .map((name) => {
      const base = name.slice(0, -COMPARED.length);
      const ratios: number[] = [];
      const saved: number[] = [];
      for (const other of rows.filter((r) => r.name === name)) {
        const mine = rows.find((r) => r.name === base && r.run === other.run);
        if (!mine) continue;
        ratios.push(Number((mine.rps / other.rps).toFixed(3)));
        if (mine.serverUsPerReq !== undefined && other.serverUsPerReq !== undefined)
          saved.push(other.serverUsPerReq - mine.serverUsPerReq);
      }
      return {
        name: base,
        rpsRatio: Number(median(ratios).toFixed(3)),
        rpsRatioInterval: interval(ratios),
        cpuSaved: saved.length > 0 ? median(saved) : undefined,
        cpuSavedInterval: interval(saved),
      };
    });
}

function range(values: number[]): string {
  return `${Math.min(...values)}–${Math.max(...values)}`;
}

async function main() {
  // Both launchers checked before any server starts: a stale build stops the bench here, not
  // after the bare servers are up (they would be left running).
  const eswLauncher = launcherOf(SERVER);
  const compareLauncher = compareServer ? launcherOf(compareServer) : undefined;
  const dir = await mkdtemp(join(tmpdir(), 'esw-bench-'));
  const bundle = await createCertificates({ hosts: ['localhost', '127.0.0.1'] });
  const cert = join(dir, 'tls.crt');
  const key = join(dir, 'tls.key');
  await writeFile(cert, bundle.cert);
  await writeFile(key, bundle.key);
  const ca = bundle.caCert;

  const barePort = 18443;
  const eswPort = 18444;
  const startBare = (port: number, answer?: string) =>
    spawnNode(
      [
        ...profileFlags,
        join(root, 'bench/bare-server.ts'),
        String(port),
        cert,
        key,
        ...(answer ? [answer] : []),
      ],
      {},
      'ignore',
      PIN?.servers,
    );
  let bare = startBare(barePort);
  const bareNodePort = 18447;
  const startBareNode = () =>
    spawnNode(
      [...profileFlags, join(root, 'bench/bare-node-server.ts'), String(bareNodePort), cert, key],
      {},
      'ignore',
      PIN?.servers,
    );
  let bareNode = startBareNode();
  // biome-ignore format: one flag per line reads better
  const serve = (launcher: string, port: number) => spawnNode([
    launcher, 'serve',
    '--port', String(port),
    '--host', '127.0.0.1',
    '--tls-cert', cert,
    '--tls-key', key,
    '--stores', join(root, 'bench/fixtures/stores.yaml'),
    '--log-level', 'warn',
  ], profileFlags.length > 0 ? { NODE_OPTIONS: profileFlags.join(' ') } : {}, 'ignore', PIN?.servers);
  let esw = serve(eswLauncher, eswPort);
  // Another build (e.g. a worktree of an older commit, built) served side by side: its rows are
  // measured in the same runs, so a change is compared under the same load.
  const comparePort = 18445;
  let compare = compareLauncher ? serve(compareLauncher, comparePort) : undefined;
  const rows: Row[] = [];
  /** Each row's name with the bare row sent its body, where that is another row. */
  let sameBodyBares: [string, string][] = [];
  /** A second bare server, answering with the warm /mutate's answer (known once esw answers). */
  let barePatch: Child | undefined;
  try {
    await waitReady(`https://127.0.0.1:${barePort}/readyz`, ca);
    await waitReady(`https://127.0.0.1:${bareNodePort}/readyz`, ca);
    await waitReady(`https://127.0.0.1:${eswPort}/readyz`, ca);
    if (compare) await waitReady(`https://127.0.0.1:${comparePort}/readyz`, ca);
    const mutateUrl = `https://127.0.0.1:${eswPort}/mutate`;
    const patchAnswer = await expectAnswer(
      { name: WARM_MUTATE, url: mutateUrl, body: mutateReview },
      ca,
      (r) => typeof r.patch === 'string',
    );
    const patchFile = join(dir, 'mutate-answer.json');
    await writeFile(patchFile, patchAnswer);
    const barePatchPort = 18446;
    barePatch = startBare(barePatchPort, patchFile);
    await waitReady(`https://127.0.0.1:${barePatchPort}/readyz`, ca);
    const eswMetrics = `https://127.0.0.1:${eswPort}/metrics`;
    const allTargets: Target[] = [
      {
        name: BARE,
        url: `https://127.0.0.1:${barePort}/validate`,
        body: validateReview,
        server: bare,
      },
      {
        // The floor under the bare row: no framework (bench/bare-node-server.ts).
        name: 'bare node:https, no framework (constant answer)',
        url: `https://127.0.0.1:${bareNodePort}/validate`,
        body: validateReview,
        server: bareNode,
      },
      {
        name: 'esw /validate (ExternalSecret, CREATE)',
        url: `https://127.0.0.1:${eswPort}/validate`,
        body: validateReview,
        server: esw,
        metricsUrl: eswMetrics,
      },
      {
        // What a cluster sends: defaults, uid, managedFields, the last-applied annotation.
        name: 'esw /validate (ExternalSecret CREATE as `kubectl apply` makes it)',
        url: `https://127.0.0.1:${eswPort}/validate`,
        body: appliedValidateReview,
        server: esw,
        metricsUrl: eswMetrics,
        sameBodyBare: BARE_APPLIED,
      },
      {
        name: BARE_APPLIED,
        url: `https://127.0.0.1:${barePort}/validate`,
        body: appliedValidateReview,
        server: bare,
      },
      {
        name: 'esw /validate (the same UPDATE again: validation memo)',
        url: `https://127.0.0.1:${eswPort}/validate`,
        body: unchangedUpdateReview,
        server: esw,
        metricsUrl: eswMetrics,
        sameBodyBare: BARE_UPDATE,
      },
      {
        name: BARE_UPDATE,
        url: `https://127.0.0.1:${barePort}/validate`,
        body: unchangedUpdateReview,
        server: bare,
      },
      {
        name: 'esw /validate (a kind it does not check: everything but validation)',
        url: `https://127.0.0.1:${eswPort}/validate`,
        body: uncheckedKindReview,
        server: esw,
        metricsUrl: eswMetrics,
      },
      {
        name: WARM_MUTATE,
        url: mutateUrl,
        body: mutateReview,
        server: esw,
        metricsUrl: eswMetrics,
        sameBodyBare: BARE_PATCH,
      },
      {
        name: BARE_PATCH,
        url: `https://127.0.0.1:${barePatchPort}/mutate`,
        body: mutateReview,
        server: barePatch,
      },
      {
        name: 'esw /mutate (warm values, a new manifest each request)',
        url: `https://127.0.0.1:${eswPort}/mutate`,
        body: distinctMutateReview,
        server: esw,
        metricsUrl: eswMetrics,
        idReplacement: true,
      },
    ];
    sameBodyBares = allTargets.flatMap((t) =>
      t.sameBodyBare ? [[t.name, t.sameBodyBare] as [string, string]] : [],
    );
    for (const t of allTargets.filter((t) => t.server === esw)) {
      const patched = t.url.endsWith('/mutate');
      await expectAnswer(t, ca, (r) => r.allowed === true && (typeof r.patch === 'string') === patched);
    }
    const targets = allTargets.filter(
      (t) =>
        t.name === BARE ||
        !rowFilter ||
        rowFilter.some((f) => t.name.includes(f)) ||
        allTargets.some((e) => e.sameBodyBare === t.name && rowFilter.some((f) => e.name.includes(f))),
    );
    if (compare) {
      for (const t of targets.filter((t) => t.server === esw)) {
        targets.push({
          ...t,
          name: `${t.name}${COMPARED}`,
          url: t.url.replace(`:${eswPort}/`, `:${comparePort}/`),
          server: compare,
          metricsUrl: `https://127.0.0.1:${comparePort}/metrics`,
        });
      }
    }
    /** Every server stopped and started again (BENCH_RESTART=1), the targets moved to the new ones. */
    const restartAll = async () => {
      const fresh = new Map<Child, Child>();
      const again = async (old: Child, start: () => Child, port: number) => {
        await old.stop();
        const next = start();
        fresh.set(old, next);
        await waitReady(`https://127.0.0.1:${port}/readyz`, ca);
        return next;
      };
      bare = await again(bare, () => startBare(barePort), barePort);
      bareNode = await again(bareNode, startBareNode, bareNodePort);
      if (barePatch)
        barePatch = await again(barePatch, () => startBare(barePatchPort, patchFile), barePatchPort);
      esw = await again(esw, () => serve(eswLauncher, eswPort), eswPort);
      if (compare && compareLauncher)
        compare = await again(compare, () => serve(compareLauncher, comparePort), comparePort);
      for (const t of targets) t.server = fresh.get(t.server) ?? t.server;
    };
    for (let run = 1; run <= runs; run++) {
      if (restartEachRun && run > 1) await restartAll();
      const order = targets.map((_, i) => targets[(i + run - 1) % targets.length]!);
      for (const target of order) {
        const row = await measure(target, run, ca);
        rows.push(row);
        console.error(
          `run ${run}: ${row.name}: ${row.rps} req/s, p99 ${row.p99} ms, server ${row.serverUsPerReq ?? '?'} µs/req${row.handlerUs === undefined ? '' : ` (handler ${row.handlerUs})`}, load ${row.loadAverage}`,
        );
      }
    }
  } finally {
    await Promise.all([bare.stop(), bareNode.stop(), barePatch?.stop(), esw.stop(), compare?.stop()]);
    await rm(dir, { recursive: true, force: true });
  }

  const rpsOf = (name: string) => new Map(rows.filter((r) => r.name === name).map((r) => [r.run, r.rps]));
  const bareRps = rpsOf(BARE);
  const bareUs = new Map(rows.filter((r) => r.name === BARE).map((r) => [r.run, r.serverUsPerReq]));
  const sameBody = new Map(sameBodyBares.map(([name, bareName]) => [name, rpsOf(bareName)]));
  const withRatio = rows.map((r) => {
    const same = sameBody.get(r.name)?.get(r.run);
    const bareCpu = bareUs.get(r.run);
    return {
      ...r,
      ratio: Number((r.rps / (bareRps.get(r.run) ?? 1)).toFixed(2)),
      // The bare server's CPU per request over this row's, in the same run: the cost ratio, which
      // moves less than req/s when something else takes a share of the core.
      ...(bareCpu && r.serverUsPerReq ? { cpuRatio: Number((bareCpu / r.serverUsPerReq).toFixed(2)) } : {}),
      ...(same ? { sameBodyRatio: Number((r.rps / same).toFixed(2)) } : {}),
    };
  });
  const summary = [...new Set(rows.map((r) => r.name))].map((name) => {
    const mine = withRatio.filter((r) => r.name === name);
    const server = mine.map((r) => r.serverUsPerReq).filter((v): v is number => v !== undefined);
    const handler = mine.map((r) => r.handlerUs).filter((v): v is number => v !== undefined);
    return {
      name,
      rps: Math.round(median(mine.map((r) => r.rps))),
      rpsRange: range(mine.map((r) => r.rps)),
      ratio: Number(median(mine.map((r) => r.ratio)).toFixed(2)),
      ratioRange: range(mine.map((r) => r.ratio)),
      ratioInterval: interval(mine.map((r) => r.ratio)),
      cpuRatioInterval: interval(mine.map((r) => r.cpuRatio)),
      sameBodyRatio: ratioSummary(mine.map((r) => r.sameBodyRatio)),
      p50: median(mine.map((r) => r.p50)),
      p99: median(mine.map((r) => r.p99)),
      p99Max: Math.max(...mine.map((r) => r.p99)),
      serverUsPerReq: server.length > 0 ? Math.round(median(server)) : undefined,
      handlerUs: handler.length > 0 ? Number(median(handler).toFixed(1)) : undefined,
      cpuRatio: ratioSummary(mine.map((r) => r.cpuRatio)),
      clientUsPerReq: Math.round(median(mine.map((r) => r.clientUsPerReq))),
      non2xx: mine.reduce((n, r) => n + r.non2xx, 0),
      errors: mine.reduce((n, r) => n + r.errors, 0),
    };
  });
  const loads = rows.map((r) => r.loadAverage);
  console.log(
    `\n${machine()}; ${connections} connections, keep-alive, no pipelining; ${runs} runs of ${durationS} s (+${warmupS} s warm-up) per row; ${PIN ? `servers on CPU ${PIN.servers}, autocannon on CPU ${PIN.load}` : 'unpinned'}${fixedRate ? `; ${fixedRate} req/s sent to every row (BENCH_RATE: compare CPU per request, not req/s)` : ''}; 1-min load average ${range(loads)}\n`,
  );
  console.log(
    "| server | req/s (median, range) | ratio to bare (median, range) | its median's 95 % interval | to bare with the same bytes (request or answer) | p50 ms | p99 ms (median, max) | server CPU µs/req | of which the handler, µs | CPU ratio (bare µs ÷ row µs) | its median's 95 % interval | non-2xx | errors |",
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const s of summary) {
    console.log(
      `| ${s.name} | ${s.rps} (${s.rpsRange}) | ${s.ratio} (${s.ratioRange}) | ${s.ratioInterval} | ${s.sameBodyRatio} | ${s.p50} | ${s.p99} (${s.p99Max}) | ${s.serverUsPerReq ?? '—'} | ${s.handlerUs ?? '—'} | ${s.cpuRatio} | ${s.cpuRatioInterval} | ${s.non2xx} | ${s.errors} |`,
    );
  }
  const paired = pairedWithCompare(rows);
  if (paired.length > 0) {
    console.log(
      '\nThis build against the BENCH_COMPARE build, run by run (each run measures both; an A/A run, the same build twice, is the yardstick: two processes of one build differed by 9 % in a 20-run median here, bench/RESULTS.md):\n',
    );
    console.log(
      '| row | req/s, this build ÷ the other (median) | its 95 % interval | server CPU µs, the other − this build (median) | its 95 % interval |',
    );
    console.log('|---|---:|---:|---:|---:|');
    for (const p of paired)
      console.log(
        `| ${p.name} | ${p.rpsRatio} | ${p.rpsRatioInterval} | ${p.cpuSaved} | ${p.cpuSavedInterval} |`,
      );
  }
  const file = await saveResult('admission', {
    connections,
    durationS,
    warmupS,
    runs,
    pin: PIN,
    summary,
    paired,
    rows: withRatio,
  });
  console.log(`\nwritten to ${file}`);
}

await main();
