/**
 * The refresher's due-time queue: one binary heap ordered by due time, not a timer per object,
 * so 10,000 objects cost one timer. Keys are unique: scheduling a key again moves it.
 */
export const Priority = { Urgent: 0, Routine: 1 } as const;
export type Priority = (typeof Priority)[keyof typeof Priority];

interface Entry {
  key: string;
  due: number;
  seq: number;
}

export interface Due {
  key: string;
  due: number;
  priority: Priority;
  /** The group the key was scheduled with (urgent lane only; '' otherwise). */
  group: string;
}

/**
 * Urgent keys (new or changed objects, tampered targets) wait in a lane that is always served
 * before the routine heap, so a new ExternalSecret never waits behind thousands of due refreshes.
 * The lane is kept by group (the store an object reads), first come first served between groups:
 * a round takes a store's urgent objects together and fetches their keys in one batch, however
 * their events were interleaved.
 */
export class DueQueue {
  readonly #heap: Entry[] = [];
  readonly #live = new Map<string, Entry>();
  /** key -> group, for urgent keys */
  readonly #urgent = new Map<string, string>();
  /** group -> its urgent keys, groups in arrival order */
  readonly #lanes = new Map<string, Set<string>>();
  #seq = 0;

  get size(): number {
    return this.#live.size + this.#urgent.size;
  }

  has(key: string): boolean {
    return this.#urgent.has(key) || this.#live.has(key);
  }

  dueOf(key: string): number | undefined {
    return this.#live.get(key)?.due;
  }

  /** Schedules (or moves) `key`. Urgent means now, ahead of everything routine. */
  schedule(key: string, due: number, priority: Priority = Priority.Routine, group = ''): void {
    if (priority === Priority.Urgent) {
      this.#live.delete(key);
      if (this.#urgent.has(key)) return;
      this.#urgent.set(key, group);
      const lane = this.#lanes.get(group);
      if (lane) lane.add(key);
      else this.#lanes.set(group, new Set([key]));
      return;
    }
    if (this.#urgent.has(key)) return;
    const entry: Entry = { key, due, seq: this.#seq++ };
    this.#live.set(key, entry);
    this.#push(entry);
  }

  remove(key: string): void {
    this.#live.delete(key);
    const group = this.#urgent.get(key);
    if (group === undefined) return;
    this.#urgent.delete(key);
    const lane = this.#lanes.get(group);
    lane?.delete(key);
    if (lane?.size === 0) this.#lanes.delete(group);
  }

  /** When the next entry is due (now for urgent ones), or undefined when empty. */
  nextDue(now: number): number | undefined {
    if (this.#urgent.size > 0) return now;
    this.#prune();
    return this.#heap[0]?.due;
  }

  /** The group whose urgent keys are served next, or undefined when the urgent lane is empty. */
  nextUrgentGroup(): string | undefined {
    return this.#lanes.keys().next().value;
  }

  /** Takes the most pressing entry due at `now`, or undefined. */
  popDue(now: number): Due | undefined {
    const lane = this.#lanes.entries().next();
    if (!lane.done) {
      const [group, keys] = lane.value;
      const key = keys.values().next().value as string;
      this.remove(key);
      return { key, due: now, priority: Priority.Urgent, group };
    }
    this.#prune();
    const top = this.#heap[0];
    if (!top || top.due > now) return undefined;
    this.#pop();
    this.#live.delete(top.key);
    return { key: top.key, due: top.due, priority: Priority.Routine, group: '' };
  }

  #prune(): void {
    while (this.#heap.length > 0) {
      const top = this.#heap[0] as Entry;
      if (this.#live.get(top.key) === top) return;
      this.#pop();
    }
  }

  #less(a: Entry, b: Entry): boolean {
    return a.due !== b.due ? a.due < b.due : a.seq < b.seq;
  }

  #push(e: Entry): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(h[i] as Entry, h[p] as Entry)) break;
      [h[i], h[p]] = [h[p] as Entry, h[i] as Entry];
      i = p;
    }
  }

  #pop(): void {
    const h = this.#heap;
    const last = h.pop() as Entry;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.#less(h[l] as Entry, h[m] as Entry)) m = l;
      if (r < h.length && this.#less(h[r] as Entry, h[m] as Entry)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m] as Entry, h[i] as Entry];
      i = m;
    }
  }
}

/** A stable value in [0, period) for a string (FNV-1a): objects sharing a seed share it. */
export function phaseOf(seed: string, period: number): number {
  let h = 2166136261;
  for (let i = 0; i < seed.length; i++) {
    h ^= seed.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return period > 0 ? (h >>> 0) % Math.floor(period) : 0;
}

/** The shard of a namespace: every object of a namespace (and so of a SecretStore) shares one. */
export function shardOf(namespace: string, shards: number): number {
  return shards <= 1 ? 0 : phaseOf(namespace, shards);
}

/** The first time after `now` that is `phase` past a multiple of `period`. */
export function nextSlot(now: number, period: number, phase: number): number {
  const base = Math.floor((now - phase) / period) * period + phase;
  return base > now ? base : base + period;
}
