/**
 * Statistics for the benches' summaries, apart from bench/lib.ts (which starts processes and
 * reads /proc) so that test/bench covers them whole.
 */

/**
 * A distribution-free confidence interval for the median of `values` (independent runs): the
 * order statistics x(k) and x(n+1-k), with k the largest rank for which a Binomial(n, ½) count
 * below k has probability at most (1 − confidence) / 2. It assumes nothing about the shape of the
 * runs' spread — on a shared host it is lopsided (a neighbour only ever slows a run down), so a
 * mean and standard deviation would mislead. Five runs cannot give 95 % (the widest interval,
 * min to max, covers 93.75 %): then it is undefined, and a claim needs more runs, not a wider
 * guess. `coverage` is the interval's exact probability of holding the median.
 */
export function medianInterval(
  values: readonly number[],
  confidence = 0.95,
): { low: number; high: number; coverage: number } | undefined {
  const n = values.length;
  // 0.5^n underflows past ~1,070 runs; no bench runs that many windows.
  if (n === 0 || n > 1000) return undefined;
  const tail = (1 - confidence) / 2;
  // below[k] = P(Binomial(n, ½) < k), for k = 1, 2, … while it stays within the tail.
  let pmf = 0.5 ** n;
  let below = pmf;
  let k = 0;
  while (below <= tail && k < n >> 1) {
    k++;
    pmf = (pmf * (n - k + 1)) / k;
    below += pmf;
  }
  if (k === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  let outside = 0;
  pmf = 0.5 ** n;
  for (let i = 0; i < k; i++) {
    outside += pmf;
    pmf = (pmf * (n - i)) / (i + 1);
  }
  return { low: sorted[k - 1]!, high: sorted[n - k]!, coverage: 1 - 2 * outside };
}
