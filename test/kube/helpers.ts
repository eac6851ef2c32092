/** Small helpers for the Kubernetes tests: bounded polling and a sleep the test releases. */

/**
 * Polls `cond` every 10 ms; throws with `what` when it never holds. The bound only ends a broken
 * run: it is far above any real wait, so a loaded machine is slower, never failed.
 */
export async function until(cond: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A sleep that only returns when the test calls `release()`; records the requested delays. */
export function heldSleep() {
  const delays: number[] = [];
  let waiting: Array<() => void> = [];
  return {
    delays,
    sleep: (ms: number) =>
      new Promise<void>((resolve) => {
        delays.push(ms);
        waiting.push(resolve);
      }),
    get pending(): number {
      return waiting.length;
    },
    release(): void {
      const w = waiting;
      waiting = [];
      for (const r of w) r();
    },
  };
}
