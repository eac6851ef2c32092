/**
 * The answer memo of /validate: the verdict on an ESO object, reused when the same object arrives
 * again and every store the verdict looked at is still the very object it was.
 *
 * Only UPDATEs are kept: an object is validated again unchanged when a GitOps tool dry-runs an
 * apply of what is already there (server-side diff, drift detection) or a client retries, while
 * every CREATE is new (the API server sets its uid and creationTimestamp before validation).
 *
 * Why it is safe: validation is a pure function of the request's operation, kind, namespace and
 * object (an entry keeps these, the object as a private copy, and answers only a request equal to
 * them: the object compared value by value, key order included, `sameJson`), of the process's
 * fixed settings (identity policy,
 * controller class, generic target kinds), and of the store registry — read only through
 * `getStore` / `getNamespace`. An entry records every registry lookup its validation made and
 * what each returned; it is reused only when each lookup returns the same object again (the
 * registry replaces an object on every change, never edits one). So a store created, changed
 * (even its status) or deleted since, in any lookup the verdict depended on, means validating
 * again. Secrets are not kept: their safety net is cheaper than a key, and they are the large
 * objects. Bounded in entries and characters; refusals are kept too (they are as pure).
 *
 * Entries are found by a slot — kind, namespace and name — one per slot: where to look, while
 * the comparison decides (no JSON key written and hashed per request, see mutate-memo.ts).
 */
import type { Namespace, SecretStore, StoreKind } from '../api/types.ts';
import type { StoreRegistry } from '../resolve/types.ts';
import { keepResult, resultJson } from './review.ts';
import { keepJson, sameJson } from './same-json.ts';
import type { AdmissionRequest, AdmissionResult } from './types.ts';

export const VALIDATE_MEMO_MAX_ENTRIES = 1024;
/** Larger objects (as JSON) are validated every time: comparing them would cost more than it saves. */
export const VALIDATE_MEMO_MAX_OBJECT_CHARS = 32 * 1024;
export const VALIDATE_MEMO_MAX_CHARS = 8 * 1024 * 1024;

/** The kinds whose verdict is kept (validation's schema walk is the cost worth saving). */
const KEPT_KINDS = new Set(['ExternalSecret', 'SecretStore', 'ClusterSecretStore', 'ClusterExternalSecret']);

type Lookup =
  | {
      store: true;
      kind: StoreKind;
      name: string;
      namespace: string | undefined;
      found: SecretStore | undefined;
    }
  | { store: false; name: string; found: Namespace | undefined };

interface Entry {
  group: string;
  version: string;
  kind: string;
  namespace: string | undefined;
  /** A private copy of the object validated. */
  object: unknown;
  result: AdmissionResult;
  lookups: Lookup[];
  chars: number;
}

export class ValidationMemo {
  readonly #entries = new Map<string, Entry>();
  #chars = 0;
  /** Reuses and validations, for tests and the benchmark's notes. */
  hits = 0;
  misses = 0;

  /**
   * The verdict on `request`: kept, or `validate(registry, request)` with a registry that records
   * what the validation looked up (`registry` itself for a request that is not kept). Without a
   * registry, the verdict depends on the request alone. The request is handed on so that the
   * caller's `validate` is one function, not a closure per review.
   */
  answer(
    request: AdmissionRequest,
    registry: StoreRegistry | undefined,
    validate: (registry: StoreRegistry | undefined, request: AdmissionRequest) => AdmissionResult,
  ): AdmissionResult {
    const slot = slotOf(request);
    if (slot === undefined) return validate(registry, request);
    const entry = this.#entries.get(slot);
    if (entry && sameRequest(entry, request)) {
      if (registry === undefined || sameLookups(entry.lookups, registry)) {
        this.hits++;
        return entry.result;
      }
    }
    this.misses++;
    const lookups: Lookup[] = [];
    const result = keepResult(
      validate(registry === undefined ? undefined : recording(registry, lookups), request),
    );
    this.#remember(slot, request, result, lookups);
    return result;
  }

  get size(): number {
    return this.#entries.size;
  }

  #remember(slot: string, request: AdmissionRequest, result: AdmissionResult, lookups: Lookup[]): void {
    const old = this.#entries.get(slot);
    if (old) this.#delete(slot, old);
    const json = JSON.stringify(request.object ?? null);
    if (json.length > VALIDATE_MEMO_MAX_OBJECT_CHARS) return;
    const { group, version, kind } = request.kind;
    const entry: Entry = {
      group,
      version,
      kind,
      namespace: request.namespace,
      // Parsed from the body, so plain JSON: its text read back is an exact copy, written at a
      // fraction of structuredClone's cost.
      object: request.object === undefined ? undefined : keepJson(json),
      result,
      lookups,
      chars: slot.length + json.length + resultJson(result).length,
    };
    if (entry.chars > VALIDATE_MEMO_MAX_CHARS) return;
    while (
      this.#entries.size > 0 &&
      (this.#entries.size >= VALIDATE_MEMO_MAX_ENTRIES || this.#chars + entry.chars > VALIDATE_MEMO_MAX_CHARS)
    ) {
      // The oldest first (by insertion).
      const [oldestSlot, oldest] = this.#entries.entries().next().value as [string, Entry];
      this.#delete(oldestSlot, oldest);
    }
    this.#entries.set(slot, entry);
    this.#chars += entry.chars;
  }

  #delete(slot: string, entry: Entry): void {
    this.#entries.delete(slot);
    this.#chars -= entry.chars;
  }
}

/** Where an entry for `request` is kept; undefined for what is not kept. */
function slotOf(request: AdmissionRequest): string | undefined {
  const kind = request.kind.kind;
  // A CREATE is never repeated: the API server gives the object its uid and creationTimestamp
  // before validating webhooks see it, so keeping one would only cost.
  if (request.operation !== 'UPDATE' || !KEPT_KINDS.has(kind)) return undefined;
  const name = (request.object?.metadata as { name?: unknown } | undefined)?.name;
  return `${kind}\u0000${request.namespace ?? ''}\u0000${typeof name === 'string' ? name : ''}`;
}

/** Everything validation reads of the request is what the entry was validated from. */
function sameRequest(entry: Entry, request: AdmissionRequest): boolean {
  const { group, version, kind } = request.kind;
  return (
    entry.group === group &&
    entry.version === version &&
    entry.kind === kind &&
    entry.namespace === request.namespace &&
    sameJson(entry.object, request.object)
  );
}

function recording(registry: StoreRegistry, lookups: Lookup[]): StoreRegistry {
  return {
    getStore(kind, name, namespace) {
      const found = registry.getStore(kind, name, namespace);
      lookups.push({ store: true, kind, name, namespace, found });
      return found;
    },
    getNamespace(name) {
      const found = registry.getNamespace(name);
      lookups.push({ store: false, name, found });
      return found;
    },
  };
}

function sameLookups(lookups: readonly Lookup[], registry: StoreRegistry): boolean {
  for (const l of lookups) {
    const now = l.store ? registry.getStore(l.kind, l.name, l.namespace) : registry.getNamespace(l.name);
    if (now !== l.found) return false;
  }
  return true;
}
