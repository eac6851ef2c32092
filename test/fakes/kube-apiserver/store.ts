/**
 * The double's storage: one map of objects keyed by resource/namespace/name (one storage per
 * resource, whatever version it is served at), a single global increasing resourceVersion,
 * and the retained event history that watches replay from.
 */
import { randomUUID } from 'node:crypto';
import type { ResourceDef } from './resources.ts';

export interface KObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    generateName?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: Array<{
      apiVersion?: string;
      kind?: string;
      name?: string;
      uid: string;
      controller?: boolean;
    }>;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoredEvent {
  rv: number;
  type: EventType;
  def: ResourceDef;
  object: KObject;
  /** The object before a MODIFIED, for selector transitions. */
  previous?: KObject;
}

export type Listener = (ev: StoredEvent) => void;

export const clone = <T>(v: T): T => structuredClone(v);

export function keyOf(def: ResourceDef, namespace: string | undefined, name: string): string {
  return `${def.group}/${def.resource}/${def.namespaced ? (namespace ?? '') : ''}/${name}`;
}

export class Store {
  #rv = 1;
  readonly #objects = new Map<string, { def: ResourceDef; object: KObject }>();
  #history: StoredEvent[] = [];
  /** Oldest resourceVersion a watch may start from; older ones get 410 Gone. */
  #oldestRv = 1;
  readonly #listeners = new Set<Listener>();
  readonly maxHistory: number;
  readonly #now: () => Date;

  constructor(opts: { maxHistory?: number; now?: () => Date } = {}) {
    this.maxHistory = opts.maxHistory ?? 10_000;
    this.#now = opts.now ?? (() => new Date());
  }

  get resourceVersion(): string {
    return String(this.#rv);
  }

  get oldestResourceVersion(): number {
    return this.#oldestRv;
  }

  get(def: ResourceDef, namespace: string | undefined, name: string): KObject | undefined {
    const e = this.#objects.get(keyOf(def, namespace, name));
    return e ? clone(e.object) : undefined;
  }

  list(def: ResourceDef, namespace: string | undefined): KObject[] {
    const out: KObject[] = [];
    for (const e of this.#objects.values()) {
      if (e.def !== def) continue;
      if (def.namespaced && namespace !== undefined && e.object.metadata?.namespace !== namespace) continue;
      out.push(clone(e.object));
    }
    return out.sort((a, b) =>
      `${a.metadata?.namespace}/${a.metadata?.name}`.localeCompare(
        `${b.metadata?.namespace}/${b.metadata?.name}`,
      ),
    );
  }

  /** The stored objects themselves, uncloned: read them, never change them. */
  scan(): Array<{ readonly def: ResourceDef; readonly object: Readonly<KObject> }> {
    return [...this.#objects.values()];
  }

  all(): Array<{ def: ResourceDef; object: KObject }> {
    return [...this.#objects.values()].map((e) => ({ def: e.def, object: clone(e.object) }));
  }

  /** Stores a new object: uid, creationTimestamp, generation and resourceVersion assigned. */
  create(def: ResourceDef, obj: KObject): KObject {
    const o = clone(obj);
    const meta = o.metadata ?? {};
    o.metadata = meta;
    meta.uid = randomUUID();
    meta.creationTimestamp = this.#now()
      .toISOString()
      .replace(/\.\d+Z$/, 'Z');
    if (def.generation) meta.generation = 1;
    else delete meta.generation;
    meta.resourceVersion = String(++this.#rv);
    this.#objects.set(keyOf(def, meta.namespace, meta.name ?? ''), { def, object: o });
    this.#record({ rv: this.#rv, type: 'ADDED', def, object: o });
    return clone(o);
  }

  /** Replaces an object; returns the stored one. No change at all → no new resourceVersion. */
  update(def: ResourceDef, obj: KObject): KObject {
    const key = keyOf(def, obj.metadata?.namespace, obj.metadata?.name ?? '');
    const prev = this.#objects.get(key)?.object;
    if (!prev) throw new Error(`update of missing ${key}`);
    const o = clone(obj);
    const meta = o.metadata ?? {};
    o.metadata = meta;
    meta.uid = prev.metadata?.uid;
    meta.creationTimestamp = prev.metadata?.creationTimestamp;
    meta.resourceVersion = prev.metadata?.resourceVersion;
    if (def.generation) {
      const g = prev.metadata?.generation ?? 1;
      meta.generation = canonical(o.spec) === canonical(prev.spec) ? g : g + 1;
    }
    if (stable(o) === stable(prev)) return clone(prev);
    meta.resourceVersion = String(++this.#rv);
    this.#objects.set(key, { def, object: o });
    this.#record({ rv: this.#rv, type: 'MODIFIED', def, object: o, previous: prev });
    return clone(o);
  }

  delete(def: ResourceDef, namespace: string | undefined, name: string): KObject | undefined {
    const key = keyOf(def, namespace, name);
    const e = this.#objects.get(key);
    if (!e) return undefined;
    this.#objects.delete(key);
    const o = clone(e.object);
    if (o.metadata) o.metadata.resourceVersion = String(++this.#rv);
    this.#record({ rv: this.#rv, type: 'DELETED', def, object: o });
    return clone(o);
  }

  hasUid(uid: string): boolean {
    for (const e of this.#objects.values()) if (e.object.metadata?.uid === uid) return true;
    return false;
  }

  /** Events after `rv`, or undefined when `rv` is older than the retained window (410 Gone). */
  since(rv: number): StoredEvent[] | undefined {
    if (rv < this.#oldestRv) return undefined;
    return this.#history.filter((e) => e.rv > rv);
  }

  /** Forgets the history: a watch from any resourceVersion before now gets 410 Gone. */
  compact(): void {
    this.#history = [];
    this.#oldestRv = this.#rv;
  }

  subscribe(l: Listener): () => void {
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  }

  #record(ev: StoredEvent): void {
    this.#history.push(ev);
    if (this.#history.length > this.maxHistory) {
      const dropped = this.#history.splice(0, this.#history.length - this.maxHistory);
      this.#oldestRv = dropped[dropped.length - 1]?.rv ?? this.#oldestRv;
    }
    for (const l of this.#listeners) l(ev);
  }
}

/** JSON with the resourceVersion left out, to recognise a no-op write. */
function stable(o: KObject): string {
  return canonical({ ...o, metadata: { ...o.metadata, resourceVersion: undefined } });
}

/** JSON with object keys sorted, so key order never makes two equal objects differ. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const entries = Object.entries(v)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
