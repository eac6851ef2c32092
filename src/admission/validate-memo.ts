/**
 * The answer memo of /validate: the verdict on an ESO object, reused when the same object arrives
 * again and every store the verdict looked at is still the very object it was.
 *
 * Only UPDATEs are kept: an object is validated again unchanged when a GitOps tool dry-runs an
 * apply of what is already there (server-side diff, drift detection) or a client retries, while
 * every CREATE is new (the API server sets its uid and creationTimestamp before validation).
 *
 * Why it is safe: validation is a pure function of the request's operation, kind, namespace and
 * object (the memo key holds exactly these), of the process's fixed settings (identity policy,
 * controller class, generic target kinds), and of the store registry — read only through
 * `getStore` / `getNamespace`. An entry records every registry lookup its validation made and
 * what each returned; it is reused only when each lookup returns the same object again (the
 * registry replaces an object on every change, never edits one). So a store created, changed
 * (even its status) or deleted since, in any lookup the verdict depended on, means validating
 * again. Secrets are not kept: their safety net is cheaper than a key, and they are the large
 * objects. Bounded in entries and characters; refusals are kept too (they are as pure).
 */
import type { Namespace, SecretStore, StoreKind } from '../api/types.ts';
import type { StoreRegistry } from '../resolve/types.ts';
import { keepResult, resultJson } from './review.ts';
import type { AdmissionRequest, AdmissionResult } from './types.ts';

export const VALIDATE_MEMO_MAX_ENTRIES = 1024;
/** Larger objects are validated every time: their key alone would cost more than it saves. */
export const VALIDATE_MEMO_MAX_KEY_CHARS = 32 * 1024;
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
   * The verdict on `request`: kept, or `validate(registry)` with a registry that records what
   * the validation looked up. Without a registry, the verdict depends on the request alone.
   */
  answer(
    request: AdmissionRequest,
    registry: StoreRegistry | undefined,
    validate: (registry: StoreRegistry | undefined) => AdmissionResult,
  ): AdmissionResult {
    const key = keyOf(request);
    if (key === undefined) return validate(registry);
    const entry = this.#entries.get(key);
    if (entry && registry !== undefined && !sameLookups(entry.lookups, registry)) {
      this.#delete(key, entry);
    } else if (entry) {
      this.hits++;
      return entry.result;
    }
    this.misses++;
    const lookups: Lookup[] = [];
    const result = keepResult(validate(registry === undefined ? undefined : recording(registry, lookups)));
    this.#remember(key, { result, lookups, chars: key.length + resultJson(result).length });
    return result;
  }

  get size(): number {
    return this.#entries.size;
  }

  #remember(key: string, entry: Entry): void {
    if (entry.chars > VALIDATE_MEMO_MAX_CHARS) return;
    while (
      this.#entries.size > 0 &&
      (this.#entries.size >= VALIDATE_MEMO_MAX_ENTRIES || this.#chars + entry.chars > VALIDATE_MEMO_MAX_CHARS)
    ) {
      // The oldest first (by insertion).
      const [oldestKey, oldest] = this.#entries.entries().next().value as [string, Entry];
      this.#delete(oldestKey, oldest);
    }
    this.#entries.set(key, entry);
    this.#chars += entry.chars;
  }

  #delete(key: string, entry: Entry): void {
    this.#entries.delete(key);
    this.#chars -= entry.chars;
  }
}

/** The parts of a request validation reads; undefined for what is not kept. */
function keyOf(request: AdmissionRequest): string | undefined {
  const { group, version, kind } = request.kind;
  // A CREATE is never repeated: the API server gives the object its uid and creationTimestamp
  // before validating webhooks see it, so keeping one would only cost.
  if (request.operation !== 'UPDATE' || !KEPT_KINDS.has(kind)) return undefined;
  const key = JSON.stringify([group, version, kind, request.namespace, request.object]);
  return key.length <= VALIDATE_MEMO_MAX_KEY_CHARS ? key : undefined;
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
