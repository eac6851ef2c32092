/**
 * Where a row's server CPU goes, from the whole server's V8 CPU profiles: µs per request, self and
 * total, per function, for two sets of runs and their difference — e.g. the hand-made CREATE
 * against the CREATE as `kubectl apply` makes it (bench/RESULTS.md, "where the cost goes").
 *
 * Each DIR holds one `bench/admission.ts` run of a single webhook row (`BENCH_RUNS=1`, `BENCH_ROWS`
 * naming that row alone, `BENCH_CPU_PROF=DIR`) and that run's `bench/out/admission.json` copied
 * in as `result.json`. The webhook's profile is the one with samples in `admit`; its measured
 * window is the last `durationS` seconds of its burst of such samples (the warm-up runs just before
 * it, the other rows load other servers), and its requests the row's count. Idle samples are left
 * out. Runs fall in different phases of a shared host, so each function's figure is the median of
 * its per-run figures, not a sum.
 *
 *   node bench/profile-rows.ts [TOP] DIR... -- DIR...
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Run {
  note: string;
  busy: number;
  self: Map<string, number>;
  total: Map<string, number>;
}

/** A function's name and where it is, short: `dist/…` for ours, `nm/…` for a dependency's. */
function label(n: ProfileNode): string {
  const url = n.callFrame.url;
  const at = url.includes('node_modules/')
    ? `nm/${url.slice(url.lastIndexOf('node_modules/') + 'node_modules/'.length)}`
    : url.replace(/^file:\/\/.*\/dist\//, '');
  return `${n.callFrame.functionName || '(anonymous)'}${url ? ` ${at}:${n.callFrame.lineNumber + 1}` : ''}`;
}

/** One run: µs per request of each function, self and total, in the row's measured window. */
function analyse(dir: string): Run {
  const result = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8'));
  const rows = result.rows.filter((r: { name: string }) => r.name.startsWith('esw'));
  if (rows.length !== 1) throw new Error(`${dir}: expected one webhook row, found ${rows.length}`);
  const row = rows[0];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    const nodes = new Map<number, ProfileNode>();
    const parent = new Map<number, number>();
    for (const n of profile.nodes as ProfileNode[]) {
      nodes.set(n.id, n);
      for (const c of n.children ?? []) parent.set(c, n.id);
    }
    const stacks = new Map<number, string[]>();
    const stackOf = (id: number): string[] => {
      let stack = stacks.get(id);
      if (stack) return stack;
      stack = [];
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur))
        stack.push(label(nodes.get(cur) as ProfileNode));
      stacks.set(id, stack);
      return stack;
    };
    const times: number[] = [];
    let t = profile.startTime as number;
    for (const d of profile.timeDeltas as number[]) {
      t += d;
      times.push(t);
    }
    const samples = profile.samples as number[];
    let end = -1;
    for (let i = 0; i < samples.length; i++) {
      if (stackOf(samples[i] as number).some((f) => f.startsWith('admit server/app.js')))
        end = times[i] as number;
    }
    if (end < 0) continue;
    const from = end - result.durationS * 1e6;
    const run: Run = { note: '', busy: 0, self: new Map(), total: new Map() };
    for (let i = 0; i < samples.length - 1; i++) {
      const at = times[i] as number;
      if (at < from || at > end) continue;
      const stack = stackOf(samples[i] as number);
      const leaf = stack[0] as string;
      if (leaf === '(idle)') continue;
      const us = ((times[i + 1] as number) - at) / row.requests;
      run.busy += us;
      run.self.set(leaf, (run.self.get(leaf) ?? 0) + us);
      for (const f of new Set(stack)) run.total.set(f, (run.total.get(f) ?? 0) + us);
    }
    run.note = `${dir}: ${row.requests} requests, /proc ${row.serverUsPerReq} µs/req, handler ${row.handlerUs} µs, load ${row.loadAverage}, sampled ${run.busy.toFixed(1)} µs/req`;
    return run;
  }
  throw new Error(`${dir}: no profile with admission samples`);
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Each function's median over the runs (a run without a sample of it counts 0). */
function medians(runs: Run[], which: 'self' | 'total'): Map<string, number> {
  const names = new Set(runs.flatMap((r) => [...r[which].keys()]));
  return new Map([...names].map((n) => [n, median(runs.map((r) => r[which].get(n) ?? 0))]));
}

const args = process.argv.slice(2);
const top = /^\d+$/.test(args[0] ?? '') ? Number(args.shift()) : 40;
const split = args.indexOf('--');
if (split < 1 || split === args.length - 1) throw new Error('usage: profile-rows.ts [TOP] DIR... -- DIR...');
const sets = [args.slice(0, split), args.slice(split + 1)].map((dirs) => dirs.map(analyse));
for (const [i, runs] of sets.entries()) {
  console.log(
    `${i === 0 ? 'A' : 'B'}: sampled ${median(runs.map((r) => r.busy)).toFixed(1)} µs/req (median)`,
  );
  for (const r of runs) console.log(`  ${r.note}`);
}
const fmt = (v: number) => v.toFixed(2).padStart(7);
for (const which of ['self', 'total'] as const) {
  const [a, b] = sets.map((runs) => medians(runs, which)) as [Map<string, number>, Map<string, number>];
  const rows = [...new Set([...a.keys(), ...b.keys()])].map((name) => {
    const x = a.get(name) ?? 0;
    const y = b.get(name) ?? 0;
    return { name, x, y, d: y - x };
  });
  console.log(`\n${which} µs/req: A, B, B − A (the largest in B first)`);
  for (const r of rows.sort((p, q) => q.y - p.y).slice(0, top))
    console.log(`${fmt(r.x)}${fmt(r.y)}${fmt(r.d)}  ${r.name}`);
  console.log(`\n${which} µs/req: A, B, B − A (the largest difference first)`);
  for (const r of rows.sort((p, q) => Math.abs(q.d) - Math.abs(p.d)).slice(0, top))
    console.log(`${fmt(r.x)}${fmt(r.y)}${fmt(r.d)}  ${r.name}`);
}
