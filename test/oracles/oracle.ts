/**
 * Runs a Go reference oracle (test/oracles/<name>/main.go, built by test/oracles/build.sh) from a
 * test. A missing or stale binary is built when `go` is on PATH. When the oracle still cannot be
 * had, `loadOracle` throws under CI (CI=true: the oracles are part of the contract there) and
 * otherwise returns a skip reason, so a laptop without Go still runs the rest of the suite.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const ORACLES = path.dirname(new URL(import.meta.url).pathname);

export type OracleRun = (input: unknown) => unknown;
export type Oracle = { run: OracleRun; skip?: undefined } | { run?: undefined; skip: string };

function stale(name: string): boolean {
  const bin = path.join(ORACLES, 'bin', name);
  if (!existsSync(bin)) return true;
  const built = statSync(bin).mtimeMs;
  const dir = path.join(ORACLES, name);
  return readdirSync(dir).some((f) => f.endsWith('.go') && statSync(path.join(dir, f)).mtimeMs > built);
}

function build(): string | undefined {
  const res = spawnSync(path.join(ORACLES, 'build.sh'), { encoding: 'utf8' });
  if (res.error) return res.error.message;
  return res.status === 0 ? undefined : `${res.stderr}${res.stdout}`.trim() || `exit ${res.status}`;
}

export function loadOracle(name: string): Oracle {
  let why: string | undefined;
  if (stale(name)) why = build();
  const bin = path.join(ORACLES, 'bin', name);
  if (!existsSync(bin)) {
    const reason = `Go oracle "${name}" unavailable (${why ?? 'not built'}); run test/oracles/build.sh`;
    if (process.env.CI === 'true') throw new Error(reason);
    return { skip: reason };
  }
  const run: OracleRun = (input) => {
    const res = spawnSync(bin, { input: JSON.stringify(input), encoding: 'utf8', maxBuffer: 256 << 20 });
    if (res.error) throw res.error;
    if (res.status !== 0) throw new Error(`oracle ${name} failed: ${res.stderr}`);
    return JSON.parse(res.stdout) as unknown;
  };
  return { run };
}
