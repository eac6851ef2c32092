/**
 * The data-hash of a Secret target: ESO's (`esoDataHash`, sha3-224 of Go's `%+v` text of the
 * data, written up to 8 KiB of data) against the sha256 over the raw bytes (`dataHash`, written
 * above, and by earlier versions). One runs per Secret event in the informer projection and per
 * sync of a target; the table says what 100,000 Secrets cost at start. Bounded counts; no asserts.
 *
 *   node bench/data-hash.ts
 */
import { dataHash, ESO_HASH_MAX_BYTES, esoDataHash, type SecretData } from '../src/refresher/secret-data.ts';
import { loadAverage, machine, median, saveResult } from './lib.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);

function secret(keys: number, bytes: number): SecretData {
  const m: SecretData = new Map();
  for (let k = 0; k < keys; k++) {
    const v = Buffer.alloc(bytes);
    for (let i = 0; i < bytes; i++) v[i] = (i * 131 + k * 17) & 0xff;
    m.set(`key-${k}`, v);
  }
  return m;
}

/** Microseconds per hash, the median of RUNS timed rounds of `n` hashes. */
function perHash(fn: (d: SecretData) => string, data: SecretData, n: number): number {
  fn(data);
  const rounds: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn(data);
    rounds.push(Number(process.hrtime.bigint() - start) / 1e3 / n);
  }
  return median(rounds);
}

const shapes = [
  { label: '2 keys x 32 B (the scale scenario)', data: secret(2, 32), n: 20_000 },
  { label: '4 keys x 1 KiB', data: secret(4, 1024), n: 2_000 },
  { label: '10 keys x 1 KiB', data: secret(10, 1024), n: 2_000 },
  { label: '1 key x 8 KiB (the ESO-hash limit)', data: secret(1, 8 * 1024 - 8), n: 500 },
  { label: '1 key x 1 MiB (the Secret limit)', data: secret(1, 1 << 20), n: 5 },
];
const rows = shapes.map(({ label, data, n }) => {
  const eso = perHash(esoDataHash, data, n);
  const sha256 = perHash(dataHash, data, n);
  let size = 0;
  for (const [k, v] of data) size += Buffer.byteLength(k) + v.length;
  const written = size > ESO_HASH_MAX_BYTES ? 'sha256' : 'ESO';
  const writtenUs = written === 'ESO' ? eso : sha256;
  return { label, esoUs: eso, sha256Us: sha256, written, written100kS: (writtenUs * 100_000) / 1e6 };
});
console.log(`data-hash per Secret, median of ${RUNS} rounds — ${machine()}, load ${loadAverage()}`);
console.log('| data | ESO (sha3-224 of %+v text) | sha256 of bytes | written | written x 100,000 Secrets |');
console.log('|---|---|---|---|---|');
for (const r of rows)
  console.log(
    `| ${r.label} | ${r.esoUs.toFixed(1)} µs | ${r.sha256Us.toFixed(1)} µs | ${r.written} | ${r.written100kS.toFixed(2)} s |`,
  );
console.log(`written ${await saveResult('data-hash', { runs: RUNS, rows })}`);
