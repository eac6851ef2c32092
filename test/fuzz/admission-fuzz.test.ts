/**
 * Fuzzing /validate and /mutate with generated AdmissionReview bodies: malformed JSON, wrong
 * types, missing uid, deep nesting, huge strings, hostile references and templates (see
 * fuzz-runner.ts). Zero 5xx, every reply well-formed, the server healthy afterwards, and the
 * canary value held by the store never reaches a log line, a warning or a refusal message.
 *
 * CI runs FUZZ_RUNS (default 10,000) with a fixed seed; a longer run on demand:
 *   FUZZ_RUNS=200000 FUZZ_SEED=$RANDOM npx tap test/fuzz/admission-fuzz.test.ts
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';

const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261128);

interface Report {
  runs: number;
  seed: number;
  statuses: Record<string, number>;
  problems: string[];
  leaked: string[];
  healthy: boolean;
  logLines: number;
  failure?: string;
}

// The run spawns its own process and may take minutes on a loaded machine.
t.setTimeout(600_000);

t.test(`fuzz: ${RUNS} generated bodies against /validate and /mutate (seed ${SEED})`, async (t) => {
  const report = await new Promise<Report>((resolve, reject) => {
    execFile(
      process.execPath,
      [join(import.meta.dirname, 'fuzz-runner.ts')],
      {
        env: { ...process.env, FUZZ_RUNS: String(RUNS), FUZZ_SEED: String(SEED) },
        maxBuffer: 16 << 20,
        timeout: 600_000,
      },
      (err, stdout, stderr) => {
        const last = String(stdout).trim().split('\n').pop() ?? '';
        try {
          resolve(JSON.parse(last) as Report);
        } catch {
          reject(err ?? new Error(`no report from the fuzz runner: ${String(stderr).slice(0, 2000)}`));
        }
      },
    );
  });
  t.equal(report.runs, RUNS);
  t.equal(report.failure, undefined, 'every generated body got a well-formed answer');
  t.same(report.problems, [], 'no 5xx, no leak, no literal placeholder in a patch');
  t.notOk(
    Object.keys(report.statuses).some((s) => Number(s) >= 500),
    `status codes seen: ${JSON.stringify(report.statuses)}`,
  );
  t.ok(
    (report.statuses['200'] ?? 0) > RUNS * 0.4,
    'a large share were real reviews that reached the handlers',
  );
  t.ok((report.statuses['400'] ?? 0) > 0, 'garbage was refused with 400');
  t.equal(report.healthy, true, 'healthy afterwards');
  t.same(report.leaked, [], 'the canary never reaches a log line');
  t.ok(report.logLines > 0, 'logs were captured');
});
