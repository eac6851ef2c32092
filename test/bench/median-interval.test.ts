import t from 'tap';
import { medianInterval } from '../../bench/stats.ts';

/** P(Binomial(n, ½) < k), exactly, with BigInt binomial coefficients. */
function below(n: number, k: number): number {
  let sum = 0n;
  let c = 1n;
  for (let i = 0; i < k; i++) {
    sum += c;
    c = (c * BigInt(n - i)) / BigInt(i + 1);
  }
  return Number(sum) / 2 ** n;
}

t.test('the ranks of the published tables (sign-test intervals for the median)', async (t) => {
  const runs = (n: number) => Array.from({ length: n }, (_, i) => n - i); // shuffled order: n..1
  // n = 30 at 95 %: the 10th and the 21st of 30 (coverage 95.7 %).
  t.same(medianInterval(runs(30)), { low: 10, high: 21, coverage: 1 - 2 * below(30, 10) });
  t.equal(Number(medianInterval(runs(30))!.coverage.toFixed(4)), 0.9572);
  // n = 6: min to max covers 96.9 %; n = 5 cannot reach 95 %.
  t.same(medianInterval(runs(6)), { low: 1, high: 6, coverage: 1 - 2 / 64 });
  t.equal(medianInterval(runs(5)), undefined);
  t.same(medianInterval(runs(5), 0.9), { low: 1, high: 5, coverage: 1 - 2 / 32 });
  t.equal(medianInterval([]), undefined);
});

t.test('k is the largest rank within the tail, for every n up to 200', async (t) => {
  for (let n = 1; n <= 200; n++) {
    const values = Array.from({ length: n }, (_, i) => (i * 7919) % n);
    const got = medianInterval(values);
    let k = 0;
    while (k + 1 <= n >> 1 && below(n, k + 1) <= 0.025) k++;
    if (k === 0) {
      t.equal(got, undefined, `n=${n}`);
      continue;
    }
    const sorted = [...values].sort((a, b) => a - b);
    t.equal(got?.low, sorted[k - 1], `n=${n} low`);
    t.equal(got?.high, sorted[n - k], `n=${n} high`);
    t.ok(Math.abs((got?.coverage ?? 0) - (1 - 2 * below(n, k))) < 1e-12, `n=${n} coverage`);
    t.ok((got?.coverage ?? 0) >= 0.95, `n=${n} covers at least 95 %`);
  }
});
