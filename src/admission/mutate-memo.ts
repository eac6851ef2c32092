/**
 * The render memo of /mutate: the result of a recent placeholder manifest, reused when the same
 * manifest arrives again and its references resolve to the same bytes.
 *
 * Why it is safe: a mutation is a pure function of two things — the parts of the request it
 * reads (`MutationInput`) and the values its references resolve to. An entry keeps a private copy
 * of the input it was rendered from (its JSON text, then a parsed copy: below) and is reused only
 * for an input equal to it, value for value and key for key in the same order (equal text,
 * `sameJson`), and only after the resolver has answered the same references again from its
 * cache, through the store binding as it is now, with byte-equal values. So:
 * - a changed store, or a changed credential Secret, means a new provider client whose cache is
 *   empty: no answer from the cache, no reuse;
 * - a namespace no longer allowed by a store (`spec.conditions`, namespace labels) or a store
 *   gone: the resolver refuses to answer, no reuse (and the normal path refuses the Secret);
 * - a value that changed or expired from the cache: different bytes or no answer, no reuse.
 * Refusals are never kept. Bounded in entries and bytes; an entry that fails the check is dropped.
 * A kept result is frozen and shared by the requests it answers, its JSON written once.
 *
 * Entries are found by a slot — operation, namespace and name, which nothing in the result
 * depends on — and one is kept per slot: the slot only says where to look, the comparison of the
 * whole input decides. A new entry keeps the input's JSON text, which its size is measured by
 * anyway: most manifests are never seen again (every first admission of a Secret), and a parsed
 * copy (`keepJson`) cost three times the text. The entry's first reuse compares the request's
 * JSON text with it — equal text is `sameJson`'s own definition of equal — and makes the copy;
 * later reuses walk the copy (`sameJson`), a walk that stops at the first difference and never
 * goes beyond the kept copy, where writing the request's text would cost that text on every one.
 * A text entry's miss hands the request's text on to `remember`, so no miss writes it twice.
 *
 * A slot whose manifests keep changing (a tool that stamps every apply, a Secret edited again and
 * again) rests: after MEMO_REST_AFTER entries in a row were replaced unused, it keeps a count
 * instead of an entry — no text written, no result kept, nothing compared — and after
 * MEMO_PROBE_AFTER renders keeps one entry again, so a manifest that repeats is answered again
 * after at most that many renders and the slot keeps as before once an entry is reused. What it keeps
 * decides only what can be answered: a resting slot answers nothing.
 */
import type { RemoteRef } from '../api/types.ts';
import type { Resolver, StoreRef } from '../resolve/types.ts';
import type { MutationInput } from './mutate.ts';
import { keepResult } from './review.ts';
import { keepJson, sameJson } from './same-json.ts';
import type { AdmissionResult } from './types.ts';

/** What a result was rendered from, besides its input. */
export interface Rendered {
  /** What the result was rendered from (a private copy: nothing else holds it). */
  input: MutationInput;
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
/** Larger inputs (as JSON) are not kept: comparing them would cost more than rendering saves. */
export const MEMO_MAX_INPUT_CHARS = 32 * 1024;
export const MEMO_MAX_CHARS = 8 * 1024 * 1024;
/** Entries replaced unused in a row after which a slot rests (keeps nothing). */
export const MEMO_REST_AFTER = 4;
/** Renders a resting slot lets go before it keeps an entry again. */
export const MEMO_PROBE_AFTER = 8;

interface Entry extends Omit<Rendered, 'input'> {
  resting: false;
  /** The private copy of the input (`keepJson`), made on the entry's first reuse. */
  input: MutationInput | undefined;
  /** Until then the input's JSON text. */
  json: string | undefined;
  /** Entries this slot kept in a row before this one that were replaced unused. */
  unused: number;
  /** Characters accounted for it (input JSON, patch, values). */
  chars: number;
}

/** A slot that keeps nothing for now, and how many renders it has let go. */
interface Resting {
  resting: true;
  renders: number;
  chars: number;
}

export class MutationMemo {
  readonly #entries = new Map<string, Entry | Resting>();
  #chars = 0;
  /** The JSON text the last miss wrote of its input, for `remember` of that same input. */
  #written: { input: MutationInput; json: string } | undefined;
  /** Reuses and renders, for tests and the benchmark's notes. */
  hits = 0;
  misses = 0;

  /**
   * The result kept in `slot` for an input equal to `input`, if the resolver now answers every
   * reference it was rendered from from its cache with byte-equal values; otherwise undefined
   * (and an entry that no longer renders to its result is dropped).
   */
  reuse(slot: string, input: MutationInput, namespace: string, resolver: Resolver): Rendered | undefined {
    const entry = this.#entries.get(slot);
    if (
      !entry ||
      entry.resting ||
      !(entry.input !== undefined
        ? sameJson(entry.input, input)
        : this.#sameText(entry.json as string, input))
    ) {
      this.misses++;
      return undefined;
    }
    if (!stillRendersTo(entry, namespace, resolver)) {
      this.#delete(slot, entry);
      this.misses++;
      return undefined;
    }
    this.hits++;
    if (entry.input === undefined) {
      entry.input = keepJson(entry.json as string) as MutationInput;
      entry.json = undefined;
    }
    // Its result is kept (frozen, its JSON written once): shared by every request it answers.
    return entry as Rendered;
  }

  /**
   * The text of `input` equals `json`; the text is kept for `remember` of this very input (only
   * this one: `remember` compares the object), so one request is held until the next is written.
   */
  #sameText(json: string, input: MutationInput): boolean {
    const written = JSON.stringify(input);
    this.#written = { input, json: written };
    return written === json;
  }

  /**
   * Keeps `rendered` (its input as JSON text) in `slot`, unless its input is too large or the
   * slot rests.
   */
  remember(slot: string, rendered: Rendered): void {
    const written = this.#written;
    this.#written = undefined;
    const old = this.#entries.get(slot);
    if (old) this.#delete(slot, old);
    let unused = 0;
    if (old?.resting) {
      if (old.renders < MEMO_PROBE_AFTER) {
        this.#add(slot, rest(slot, old.renders + 1));
        return;
      }
      // Kept again; unused, it is the last before the slot rests again.
      unused = MEMO_REST_AFTER - 1;
    } else if (old && old.input === undefined) {
      // An entry whose copy was never made was never reused.
      unused = old.unused + 1;
      if (unused >= MEMO_REST_AFTER) {
        this.#add(slot, rest(slot, 1));
        return;
      }
    }
    // The same object, not an equal one: another request's text may have been written since.
    const json = written?.input === rendered.input ? written.json : JSON.stringify(rendered.input);
    if (json.length > MEMO_MAX_INPUT_CHARS) return;
    // The input is plain JSON (parsed from the body): its text is an exact copy, and read back
    // (on the first reuse) a copy at a third of structuredClone's cost.
    const entry: Entry = { ...rendered, resting: false, input: undefined, json, unused, chars: 0 };
    entry.chars = sizeOf(slot, json.length, entry);
    if (entry.chars > MEMO_MAX_CHARS) return;
    keepResult(entry.result);
    this.#add(slot, entry);
  }

  get size(): number {
    return this.#entries.size;
  }

  clear(): void {
    this.#entries.clear();
    this.#chars = 0;
    this.#written = undefined;
  }

  #add(slot: string, entry: Entry | Resting): void {
    while (
      this.#entries.size > 0 &&
      (this.#entries.size >= MEMO_MAX_ENTRIES || this.#chars + entry.chars > MEMO_MAX_CHARS)
    ) {
      // The oldest first (by insertion: re-ordering on every reuse would cost more than it saves).
      const [oldestSlot, oldest] = this.#entries.entries().next().value as [string, Entry | Resting];
      this.#delete(oldestSlot, oldest);
    }
    this.#entries.set(slot, entry);
    this.#chars += entry.chars;
  }

  #delete(slot: string, entry: Entry | Resting): void {
    this.#entries.delete(slot);
    this.#chars -= entry.chars;
  }
}

function rest(slot: string, renders: number): Resting {
  return { resting: true, renders, chars: slot.length };
}

function stillRendersTo(entry: Entry, namespace: string, resolver: Resolver): boolean {
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

function sizeOf(slot: string, inputChars: number, entry: Entry): number {
  let n = slot.length + inputChars + (entry.result.patch?.length ?? 0);
  for (const v of entry.values) n += v.length;
  if (entry.dataFrom) for (const [k, v] of entry.dataFrom.map) n += k.length + v.length;
  return n;
}
