/**
 * The target Secrets as the last sync left them, remembered in the managed-Secret informer's
 * cache: each cached Secret keeps its identity, its resourceVersion and, when a sync wrote or
 * compared that very version, the fingerprint of what the sync wanted (one hash string). A
 * routine refresh that wants the same again, of a target at the same version, has nothing to
 * write — and needs no GET to find that out (10,000 targets: 10,000 GETs a cycle before).
 *
 * The resourceVersion is the proof: any write to the Secret (a hand edit, another controller, a
 * deletion and re-creation) gives it a new one, and its watch event replaces the cache entry by
 * one without a fingerprint, so the next sync reads the Secret and restores it. While the
 * informer is not listed and watching, nothing is vouched for.
 *
 * Generic targets (ConfigMaps, custom kinds) are only looked up, for a start or gain
 * (`GenericTargets`, below): their writes keep no fingerprint.
 */
import type { KubeObject, Secret } from '../api/types.ts';
import { identityOnly } from '../kube/informer.ts';
import type { TargetMemo, TargetState } from './ports.ts';
import { intact } from './secret-data.ts';

const FINGERPRINT = Symbol('sync fingerprint');
/** On a cached version whose data no longer matches its data-hash (edited by hand). */
const EDITED = Symbol('edited');
/** Writes awaiting their watch event (a first sync of 10,000 has a few hundred at most). */
const MAX_PENDING = 10_000;

interface Kept extends KubeObject {
  [FINGERPRINT]?: string;
  [EDITED]?: true;
}

/** The managed-Secret informer, as far as this reads it. */
export interface TargetCache {
  get(namespace: string | undefined, name: string): KubeObject | undefined;
  /** Listed and watching: the cache follows every change. */
  healthy(): boolean;
  /** Listed at least once: the cache holds every target as of a list, or later. */
  readonly listed: boolean;
  /** The entries by `namespace/name`: a key the caller holds is not built again. */
  readonly cache: ReadonlyMap<string, KubeObject>;
}

export class KnownTargets implements TargetMemo {
  #cache: TargetCache | undefined;
  /**
   * Fingerprints of versions written whose watch event has not come yet (the write's answer
   * usually arrives first): taken by `keep` when that version's event comes; one entry per target
   * at most, and emptied when full (a target deleted before its echo leaves its entry behind):
   * what is lost costs one GET.
   */
  readonly #pending = new Map<string, { resourceVersion: string; fingerprint: string }>();

  /** Reads `cache` from now on: the informer whose `keep` is `this.keep`. */
  attach(cache: TargetCache): void {
    this.#cache = cache;
  }

  /**
   * The managed-Secret informer's `keep`: identity and resourceVersion, whether the version was
   * edited by hand (`state`: the data digest the projection kept, one WeakMap read), and the
   * fingerprint a sync remembered for this version — pending from a write, or already on the
   * cache entry this one replaces (a relist hands back unchanged Secrets at the same version).
   */
  readonly keep = (obj: KubeObject): KubeObject => {
    const kept = identityOnly(obj) as Kept;
    if (!intact(obj as Secret)) kept[EDITED] = true;
    const ns = obj.metadata?.namespace;
    const name = obj.metadata?.name ?? '';
    const rv = obj.metadata?.resourceVersion;
    if (rv === undefined) return kept;
    const key = `${ns ?? ''}/${name}`;
    const pending = this.#pending.get(key);
    let fingerprint: string | undefined;
    if (pending?.resourceVersion === rv) {
      this.#pending.delete(key);
      fingerprint = pending.fingerprint;
    } else {
      const before = this.#cache?.get(ns, name) as Kept | undefined;
      if (before?.metadata?.resourceVersion === rv) fingerprint = before[FINGERPRINT];
    }
    if (fingerprint !== undefined) kept[FINGERPRINT] = fingerprint;
    return kept;
  };

  /**
   * The target Secret `target` (`namespace/name`) as the cache holds it: as written, edited by hand, or not
   * there (deleted — or never labelled: a Merge target). Unknown until the informer has listed:
   * an empty cache proves nothing. Listed but not watching, the cache may lag the cluster; what
   * it says was true at its list or later, and any change since reaches the refresher as an
   * event once the watch resumes.
   */
  state(target: string): TargetState {
    const cache = this.#cache;
    if (!cache?.listed) return 'unknown';
    const kept = cache.cache.get(target) as Kept | undefined;
    if (!kept) return 'absent';
    return kept[EDITED] ? 'edited' : 'intact';
  }

  recall(namespace: string, name: string): string | undefined {
    const cache = this.#cache;
    if (!cache?.healthy()) return undefined;
    return (cache.get(namespace, name) as Kept | undefined)?.[FINGERPRINT];
  }

  remember(namespace: string, name: string, resourceVersion: string, fingerprint: string): void {
    const cache = this.#cache;
    if (!cache) return;
    const kept = cache.get(namespace, name) as Kept | undefined;
    const key = `${namespace}/${name}`;
    if (kept?.metadata?.resourceVersion === resourceVersion) {
      kept[FINGERPRINT] = fingerprint;
      this.#pending.delete(key);
      return;
    }
    if (this.#pending.size >= MAX_PENDING) this.#pending.clear();
    this.#pending.set(key, { resourceVersion, fingerprint });
  }
}

/** A generic target kind's managed informer, as far as `GenericTargets` reads it. */
export interface GenericTargetCache {
  /** Listed at least once: the cache holds every target of the kind as of a list, or later. */
  readonly listed: boolean;
  /** The entries by `namespace/name`, projected through `flagEdited`. */
  readonly cache: ReadonlyMap<string, KubeObject>;
}

/**
 * A generic target's projection (withConfigMapDigest, withContentDigest), flagged when it is not
 * as written: decided once per version received, as the update handlers decide it, so a start's
 * lookup reads one flag (reading the digest and the annotation again per lookup cost about half
 * as much again as the Secret lookup, bench/RESULTS.md).
 */
export function flagEdited<T extends KubeObject>(obj: T, intact: (obj: T) => boolean): T {
  if (!intact(obj)) (obj as Kept)[EDITED] = true;
  return obj;
}

/**
 * Generic targets (ConfigMaps, custom kinds) as their managed informers' caches hold them, for
 * the same start-or-gain lookup as `KnownTargets.state`. A kind is answered for from when its
 * informer exists (a custom kind's starts after discovery); before that, and before its first
 * list, the answer is unknown.
 */
export class GenericTargets {
  readonly #kinds: { prefix: string; cache: GenericTargetCache }[] = [];

  /** Answers for the targets of `kindId` (`ConfigMap`, `group/version/Kind`) from `cache`. */
  watch(kindId: string, cache: GenericTargetCache): void {
    this.#kinds.push({ prefix: `${kindId}|`, cache });
  }

  /** The target `Kind|namespace/name` (the Refresher's key), as `KnownTargets.state` answers. */
  state(target: string): TargetState {
    // A handful of kinds at most: compared in place, no kind string cut from the key.
    for (const kind of this.#kinds) {
      if (!target.startsWith(kind.prefix)) continue;
      if (!kind.cache.listed) return 'unknown';
      // The one string a lookup builds: the cache's key is `namespace/name`.
      const kept = kind.cache.cache.get(target.slice(kind.prefix.length)) as Kept | undefined;
      if (!kept) return 'absent';
      return kept[EDITED] ? 'edited' : 'intact';
    }
    return 'unknown';
  }
}
