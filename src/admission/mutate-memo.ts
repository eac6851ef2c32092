/**
 * The render memo of /mutate: the result of a recent placeholder manifest, reused when the same
 * manifest arrives again and its references resolve to the same bytes.
 *
 * Why it is safe: a mutation is a pure function of two things — the parts of the request it
 * reads (`MutationInput`, which is the memo key, so it holds exactly those parts) and the values
 * its references resolve to. An entry keeps the values it was rendered from, and is reused only
 * after the resolver has answered the same references again from its cache, through the store
 * binding as it is now, with byte-equal values. So:
 * - a changed store, or a changed credential Secret, means a new provider client whose cache is
 *   empty: no answer from the cache, no reuse;
 * - a namespace no longer allowed by a store (`spec.conditions`, namespace labels) or a store
 *   gone: the resolver refuses to answer, no reuse (and the normal path refuses the Secret);
 * - a value that changed or expired from the cache: different bytes or no answer, no reuse.
 * Refusals are never kept. Bounded in entries and bytes; an entry that fails the check is dropped.
 * A kept result is frozen and shared by the requests it answers, its JSON written once.
 */
import type { RemoteRef } from '../api/types.ts';
import type { Resolver, StoreRef } from '../resolve/types.ts';
import type { MutationInput } from './mutate.ts';
import { keepResult } from './review.ts';
import type { AdmissionResult } from './types.ts';

/** What a result was rendered from, besides its input. */
export interface Rendered {
  store: StoreRef;
  /** Every distinct reference of the templates, and what each resolved to. */
  refs: RemoteRef[];
  values: Buffer[];
  /** `esw.io/data-from` and the map it resolved to. */
  dataFrom?: { ref: RemoteRef; map: Map<string, Buffer> };
  result: AdmissionResult;
  /** For the debug line of a reuse: keys in the filled Secret, references resolved. */
  keys: number;
  references: number;
}

export const MEMO_MAX_ENTRIES = 512;
/** Larger manifests are not kept: their key alone would cost more than the rendering saves. */
export const MEMO_MAX_KEY_CHARS = 32 * 1024;
export const MEMO_MAX_CHARS = 8 * 1024 * 1024;

export class MutationMemo {
  readonly #entries = new Map<string, Rendered>();
  #chars = 0;
  /** Reuses and renders, for tests and the benchmark's notes. */
  hits = 0;
  misses = 0;

  /** The key of an input, or undefined when it is too large to keep. */
  keyOf(input: MutationInput): string | undefined {
    const key = JSON.stringify(input);
    return key.length <= MEMO_MAX_KEY_CHARS ? key : undefined;
  }

  /**
   * The result kept for `key`, if the resolver now answers every reference it was rendered from
   * from its cache with byte-equal values; otherwise undefined (and the entry is dropped).
   */
  reuse(key: string, namespace: string, resolver: Resolver): AdmissionResult | undefined {
    const entry = this.#entries.get(key);
    if (!entry) {
      this.misses++;
      return undefined;
    }
    if (!stillRendersTo(entry, namespace, resolver)) {
      this.#delete(key, entry);
      this.misses++;
      return undefined;
    }
    this.hits++;
    // Kept (frozen, its JSON written once): shared by every request it answers.
    return entry.result;
  }

  /** The entry for `key` (for the debug line after a reuse). */
  peek(key: string): Rendered | undefined {
    return this.#entries.get(key);
  }

  remember(key: string, rendered: Rendered): void {
    const old = this.#entries.get(key);
    if (old) this.#delete(key, old);
    const chars = sizeOf(key, rendered);
    if (chars > MEMO_MAX_CHARS) return;
    while (
      this.#entries.size > 0 &&
      (this.#entries.size >= MEMO_MAX_ENTRIES || this.#chars + chars > MEMO_MAX_CHARS)
    ) {
      // The oldest first (by insertion: re-ordering on every reuse would cost more than it saves).
      const [oldestKey, oldest] = this.#entries.entries().next().value as [string, Rendered];
      this.#delete(oldestKey, oldest);
    }
    keepResult(rendered.result);
    this.#entries.set(key, rendered);
    this.#chars += chars;
  }

  get size(): number {
    return this.#entries.size;
  }

  clear(): void {
    this.#entries.clear();
    this.#chars = 0;
  }

  #delete(key: string, entry: Rendered): void {
    this.#entries.delete(key);
    this.#chars -= sizeOf(key, entry);
  }
}

function stillRendersTo(entry: Rendered, namespace: string, resolver: Resolver): boolean {
  const values = resolver.cachedValues?.(entry.store, namespace, entry.refs);
  if (!values || values.length !== entry.values.length) return false;
  for (let i = 0; i < values.length; i++) if (!values[i]!.equals(entry.values[i]!)) return false;
  if (entry.dataFrom) {
    const map = resolver.cachedMap?.(entry.store, namespace, entry.dataFrom.ref);
    if (!map || !sameMap(map, entry.dataFrom.map)) return false;
  }
  return true;
}

function sameMap(a: Map<string, Buffer>, b: Map<string, Buffer>): boolean {
  if (a.size !== b.size) return false;
  // Same keys in the same order: the order decides which key a warning names first.
  const bs = [...b];
  let i = 0;
  for (const [k, v] of a) {
    const [bk, bv] = bs[i++]!;
    if (k !== bk || !v.equals(bv)) return false;
  }
  return true;
}

function sizeOf(key: string, entry: Rendered): number {
  let n = key.length + (entry.result.patch?.length ?? 0);
  for (const v of entry.values) n += v.length;
  if (entry.dataFrom) for (const [k, v] of entry.dataFrom.map) n += k.length + v.length;
  return n;
}
