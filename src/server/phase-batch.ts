/**
 * Work gathered over one poll phase of the event loop and run together in the check phase right
 * after it (`setImmediate`), in the order it came.
 *
 * Why: under load, one poll phase reads many connections at once (32 at the benchmark's 32
 * connections, 22 on average). Handled as each is read, every review runs between two TLS reads
 * and HTTP parses, whose code and data have pushed the validators' out of the core's caches: a
 * CREATE's validation cost the whole server ~31 µs of CPU against 2.8 µs in a hot loop
 * (bench/RESULTS.md). Handled together, after the reads, the validators stay warm from one review
 * to the next. A review arriving alone waits for nothing but the rest of its own loop iteration.
 *
 * What it holds is bounded by what is in flight: each item is a request whose body bytes the
 * in-flight budget already holds. Work added while a batch runs goes to the next check phase, so
 * a run never grows while it runs. An item that throws is reported and does not stop the others.
 */
export class PhaseBatch {
  #waiting: (() => void)[] = [];
  #scheduled = false;
  readonly #failed: (err: unknown) => void;

  constructor(failed: (err: unknown) => void) {
    this.#failed = failed;
  }

  add(work: () => void): void {
    this.#waiting.push(work);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#run);
  }

  readonly #run = (): void => {
    this.#scheduled = false;
    const batch = this.#waiting;
    this.#waiting = [];
    for (const work of batch) {
      try {
        work();
      } catch (err: unknown) {
        this.#failed(err);
      }
    }
  };
}
