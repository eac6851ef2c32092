/**
 * Preloaded into the webhook by bench:scale when BENCH_HEAP_DIR is set (`--expose-gc --import`):
 * on SIGUSR2 it collects garbage (twice, so weakly held objects go too), writes the process's
 * memory figures to BENCH_HEAP_DIR/probe-<n>.json and, with BENCH_HEAP_SNAPSHOT=1, a heap
 * snapshot beside it. Bench-only: the server itself never writes snapshots.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import v8 from 'node:v8';

const dir = process.env.BENCH_HEAP_DIR as string;
const gc = (globalThis as { gc?: () => void }).gc;
let n = 0;
process.on('SIGUSR2', () => {
  const i = n++;
  gc?.();
  gc?.();
  const mem = process.memoryUsage();
  const spaces = Object.fromEntries(
    v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.space_used_size]),
  );
  const snapshot =
    process.env.BENCH_HEAP_SNAPSHOT === '1'
      ? v8.writeHeapSnapshot(join(dir, `probe-${i}.heapsnapshot`))
      : undefined;
  // Written last: the bench waits for this file, so the snapshot is complete when it appears.
  writeFileSync(join(dir, `probe-${i}.json`), JSON.stringify({ ...mem, spaces, snapshot }));
});
