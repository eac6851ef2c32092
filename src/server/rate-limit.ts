/**
 * Token buckets by name (a caller, a client address, a store), bounded in number: the oldest
 * forgotten first, so a flood of names costs at most BUCKETS_MAX entries. Shared by the
 * endpoints of the refresh port (POST /refresh, the Event Grid deliveries).
 */
const BUCKETS_MAX = 10_000;

/** Token buckets by name, bounded in number (the oldest forgotten first). */
export class Buckets {
  readonly #burst: number;
  readonly #intervalMs: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(burst: number, intervalMs: number) {
    this.#burst = Math.max(1, burst);
    this.#intervalMs = Math.max(1, intervalMs);
  }

  /** The ms until a token is available (0: one is), without taking it. */
  peek(name: string, now: number): number {
    const b = this.#buckets.get(name);
    if (!b) return 0;
    const tokens = Math.min(this.#burst, b.tokens + Math.max(0, now - b.at) / this.#intervalMs);
    return tokens < 1 ? Math.ceil((1 - tokens) * this.#intervalMs) : 0;
  }

  /** Takes a token: 0 when granted, else the ms until one is available. */
  take(name: string, now: number): number {
    const b = this.#buckets.get(name) ?? { tokens: this.#burst, at: now };
    const tokens = Math.min(this.#burst, b.tokens + Math.max(0, now - b.at) / this.#intervalMs);
    this.#buckets.delete(name);
    if (tokens < 1) {
      this.#buckets.set(name, { tokens, at: now });
      return Math.ceil((1 - tokens) * this.#intervalMs);
    }
    this.#buckets.set(name, { tokens: tokens - 1, at: now });
    if (this.#buckets.size > BUCKETS_MAX) this.#buckets.delete(this.#buckets.keys().next().value as string);
    return 0;
  }
}
