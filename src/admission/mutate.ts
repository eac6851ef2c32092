/**
 * POST /mutate for placeholder Secrets (docs/placeholder-secrets.md): a Secret labelled `esw.io/inject: "true"`
 * is filled with the values its references name, from the store its annotations name. Pure of
 * HTTP: AdmissionRequest in, AdmissionResult out.
 *
 * - Values are decoded once at the edge (base64 `data`, then `stringData` over it as the API
 *   server merges them) and encoded once at the end; the filled `data` and annotations are new
 *   maps, and the patch is written from what they change (secret-patch.ts), not by a diff.
 * - Every declared reference is resolved in parallel under one deadline; any failure refuses the
 *   Secret (`allowed: false`) — a placeholder is never let through as a value. When every
 *   reference is already in the resolver's cache the mutation runs synchronously: no deadline
 *   timer, no promises (the all-cached path, the common case of a warm webhook).
 * - The result depends only on `MutationInput` and the resolved values, so a recent manifest
 *   whose references resolve to the same bytes reuses its result (`MutationMemo`).
 * - Idempotent: a Secret with nothing left to resolve (reinvocation, the refresher's writes)
 *   passes unchanged.
 * Messages and logs name keys, references and stores, never a value.
 */
import { hash } from 'node:crypto';
import { parseDuration } from '../api/duration.ts';
import { isObject } from '../api/schema.ts';
import { suggestion } from '../api/suggest.ts';
import type { RemoteRef, Secret, StoreKind } from '../api/types.ts';
import { type ErrorCode, EswError, isEswError } from '../errors.ts';
import { type Logger, objectRef } from '../observability/logger.ts';
import { decodeBase64Text } from '../refs/decoding.ts';
import {
  bytesHaveRefs,
  formatReference,
  PlaceholderAnnotation,
  PlaceholderLabel,
  parseReferenceBody,
  parseRefsAnnotation,
  parseTemplate,
  type Reference,
  type RefsRecord,
  referenceId,
  referenceTemplate,
  renderTemplate,
  serializeRefs,
  type Template,
  templateReferences,
  toRemoteRef,
} from '../refs/placeholder.ts';
import { sortByText } from '../refs/sort.ts';
import type { Resolver, StoreRef } from '../resolve/types.ts';
import type { MutationMemo } from './mutate-memo.ts';
import { secretPatch } from './secret-patch.ts';
import { type AdmissionRequest, type AdmissionResult, allow, deny } from './types.ts';

export interface MutateDeps {
  resolver: Resolver;
  logger: Logger;
  /** Clock (ms), for the duration in logs. */
  now?: () => number;
  /** One deadline for all lookups of a mutation. Default 8000 ms. */
  deadlineMs?: number;
  /** Results of recent manifests, reused while their values are unchanged; none when absent. */
  memo?: MutationMemo;
}

/** Kubernetes' limit on a Secret's data (keys + values), `MaxSecretSize`. */
export const MAX_SECRET_BYTES = 1024 * 1024;
/** Kubernetes' limit on all annotations of an object together. */
export const MAX_ANNOTATIONS_BYTES = 256 * 1024;
/**
 * Distinct references one Secret may name. The 256 KiB of templates alone let a review name some
 * 30,000 keys (`${ref:a}` is 8 bytes): as many provider calls in one admission, on the event loop
 * every tenant shares. Far above what one application's Secret reads.
 */
export const MAX_REFERENCES = 1000;
export const DEFAULT_REFRESH_INTERVAL = '1h';
export const DEFAULT_DEADLINE_MS = 8000;

/** Secret types that grant cluster access: never filled from an external store. */
export const PRIVILEGED_SECRET_TYPES: readonly string[] = [
  'kubernetes.io/service-account-token',
  'bootstrap.kubernetes.io/token',
];

const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
const KNOWN_ANNOTATIONS = new Set<string>(Object.values(PlaceholderAnnotation));
const KNOWN_ANNOTATION_NAMES = [...KNOWN_ANNOTATIONS].filter((a) => !a.endsWith('/'));

/** What the annotations of a placeholder Secret say (shared with the refresher). */
export interface PlaceholderSettings {
  store: StoreRef | undefined;
  /** Refresh interval in ms; 0 = never refreshed. */
  refreshIntervalMs: number;
  warnings: string[];
}

/**
 * Reads `esw.io/store`, `esw.io/store-kind` and `esw.io/refresh-interval`. Throws ESW_VALIDATION
 * (422) naming the annotation for an invalid kind or interval; a missing store is `undefined`
 * (only an error when there is something to resolve).
 */
export function readPlaceholderSettings(annotations: Record<string, unknown>): PlaceholderSettings {
  const warnings: string[] = [];
  const storeName = annotations[PlaceholderAnnotation.store];
  const kindText = annotations[PlaceholderAnnotation.storeKind] ?? 'SecretStore';
  if (kindText !== 'SecretStore' && kindText !== 'ClusterSecretStore') {
    throw new EswError(
      'ESW_VALIDATION',
      `annotation ${PlaceholderAnnotation.storeKind}: must be SecretStore or ClusterSecretStore, not "${clip(String(kindText))}"`,
    );
  }
  const intervalText = annotations[PlaceholderAnnotation.refreshInterval] ?? DEFAULT_REFRESH_INTERVAL;
  const interval = typeof intervalText === 'string' ? parseDuration(intervalText) : undefined;
  if (interval === undefined || interval < 0) {
    throw new EswError(
      'ESW_VALIDATION',
      `annotation ${PlaceholderAnnotation.refreshInterval}: "${clip(String(intervalText))}" is not a valid duration (Go syntax, e.g. 1h, 30m, 0 to never refresh)`,
    );
  }
  if (interval === 0) {
    warnings.push(
      `annotation ${PlaceholderAnnotation.refreshInterval} is 0: the Secret is filled now and never refreshed`,
    );
  }
  let store: StoreRef | undefined;
  if (typeof storeName === 'string' && storeName !== '') {
    store = storeReference(storeName, kindText as StoreKind);
  } else if (storeName !== undefined) {
    throw new EswError('ESW_VALIDATION', `annotation ${PlaceholderAnnotation.store}: must name a store`);
  }
  return { store, refreshIntervalMs: interval, warnings };
}

/**
 * `NAME`, or `NAMESPACE/NAME` for a SecretStore: naming a namespace is allowed so that a Secret
 * pointing at another namespace's store gets a clear ESW_STORE_FORBIDDEN (403) from the resolver
 * instead of "not found" (a SecretStore serves only its own namespace).
 */
function storeReference(text: string, kind: StoreKind): StoreRef {
  const parts = text.split('/');
  if (parts.length === 1) return { name: text, kind };
  const [ns = '', name = ''] = parts;
  if (parts.length > 2 || ns === '' || name === '') {
    throw new EswError(
      'ESW_VALIDATION',
      `annotation ${PlaceholderAnnotation.store}: "${clip(text)}" is neither NAME nor NAMESPACE/NAME`,
    );
  }
  if (kind === 'ClusterSecretStore') {
    throw new EswError(
      'ESW_VALIDATION',
      `annotation ${PlaceholderAnnotation.store}: a ClusterSecretStore has no namespace; name it without "${clip(ns)}/"`,
    );
  }
  return { name, kind, namespace: ns };
}

/** sha256 (hex) of the canonical data: JSON of the base64 values with keys sorted. */
export function dataHash(data: Record<string, string>): string {
  const sorted = sortByText(Object.keys(data), itself).map((k) => [k, data[k]]);
  return hash('sha256', JSON.stringify(sorted), 'hex');
}

const itself = (key: string): string => key;

/**
 * The parts of an admission request that a mutation reads, and the only ones it reads: the
 * Secret's `data`, `stringData`, `type`, `immutable` and `metadata.annotations` (in the order of
 * the object's keys, which the patch follows), the namespace it is admitted in and, for an
 * UPDATE, the stored Secret's `data` and annotations.
 */
export interface MutationInput {
  operation: 'CREATE' | 'UPDATE';
  namespace: string;
  secret: SecretParts;
  /** UPDATE: the stored Secret; absent when the request has none. */
  old?: { data?: unknown; annotations?: unknown };
}

export interface SecretParts {
  metadata?: unknown;
  data?: unknown;
  stringData?: unknown;
  type?: unknown;
  immutable?: unknown;
}

interface Entry {
  /** The base64 text as received, kept as it is when the value does not change. */
  original?: string;
  /** The decoded bytes; undefined for a `data` value that is not base64 (left untouched). */
  bytes?: Buffer;
}

/** Returns a promise only when a reference has to be fetched (not in the resolver's cache). */
export function mutateSecret(
  request: AdmissionRequest,
  deps: MutateDeps,
): AdmissionResult | Promise<AdmissionResult> {
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return allow();
  if (request.kind.group !== '' || request.kind.kind !== 'Secret') return allow();
  const object: unknown = request.object;
  if (!isObject(object)) return allow();
  const metadata = isObject(object.metadata) ? object.metadata : {};
  const labels = isObject(metadata.labels) ? metadata.labels : {};
  if (labels[PlaceholderLabel.inject] !== 'true') return allow();

  const namespace =
    request.namespace || (typeof metadata.namespace === 'string' && metadata.namespace) || 'default';
  const name =
    (typeof metadata.name === 'string' && metadata.name) ||
    request.name ||
    (typeof metadata.generateName === 'string' ? `${metadata.generateName}*` : '');
  const now = deps.now ?? Date.now;
  const started = now();
  const input = mutationInput(request.operation, namespace, object, request.oldObject);
  // One kept result per operation, namespace and name (mutate-memo.ts: where to look, not what).
  const memoSlot = deps.memo ? `${request.operation}\u0000${namespace}\u0000${name}` : '';
  const reused = deps.memo?.reuse(memoSlot, input, namespace, deps.resolver);
  if (reused) {
    if (deps.logger.isLevelEnabled('debug')) {
      deps.logger.debug(
        {
          secret: objectRef(namespace, name),
          store: storeText(reused.store, namespace),
          keys: reused.keys,
          references: reused.references,
          dryRun: request.dryRun === true,
          reused: true,
          ms: now() - started,
        },
        'placeholder Secret filled',
      );
    }
    return reused.result;
  }
  return render(request, deps, input, memoSlot, namespace, name, now, started);
}

/**
 * The mutation of an input the memo did not answer. Its own function: the scope its closures
 * share is then allocated only here, not on every review the memo answers.
 */
function render(
  request: AdmissionRequest,
  deps: MutateDeps,
  input: MutationInput,
  memoSlot: string,
  namespace: string,
  name: string,
  now: () => number,
  started: number,
): AdmissionResult | Promise<AdmissionResult> {
  let storeLabel = '';
  const refuse = (err: unknown) => refusal(err, { namespace, name, store: storeLabel, logger: deps.logger });
  try {
    const plan = planMutation(input);
    storeLabel = plan.store ? storeText(plan.store, namespace) : '';
    if (!plan.pending) return allow(plan.warnings);
    const finish = (resolved: Resolved): AdmissionResult => {
      const filled = fillSecret(plan, resolved);
      const ops = secretPatch(plan.secret, filled.data, filled.annotations);
      if (ops.length === 0) return allow(plan.warnings);
      const patchText = JSON.stringify(ops);
      if (patchText.includes('${ref:')) {
        // Unreachable by construction (values holding "${ref:" are refused); never let one out.
        throw new EswError('ESW_INTERNAL', 'the patch would hold a literal reference');
      }
      const result: AdmissionResult = {
        allowed: true,
        patchType: 'JSONPatch',
        patch: Buffer.from(patchText, 'utf8').toString('base64'),
        ...(plan.warnings.length > 0 ? { warnings: plan.warnings } : {}),
      };
      const keys = Object.keys(filled.data).length;
      if (deps.memo) {
        deps.memo.remember(memoSlot, {
          input,
          store: plan.store as StoreRef,
          refs: resolved.refs,
          values: resolved.values,
          ...(plan.dataFrom && resolved.extracted
            ? { dataFrom: { ref: toRemoteRef(plan.dataFrom), map: resolved.extracted } }
            : {}),
          result,
          keys,
          references: plan.referenceCount,
        });
      }
      // Its fields only when it is written: they cost an object and a reference on every render.
      if (deps.logger.isLevelEnabled('debug')) {
        deps.logger.debug(
          {
            secret: objectRef(namespace, name),
            store: storeLabel,
            keys,
            references: plan.referenceCount,
            dryRun: request.dryRun === true,
            ms: now() - started,
          },
          'placeholder Secret filled',
        );
      }
      return result;
    };
    const cached = cachedLookups(plan, namespace, deps.resolver);
    if (cached) return finish(cached);
    return lookups(plan, namespace, deps).then(finish).catch(refuse);
  } catch (err: unknown) {
    return refuse(err);
  }
}

/**
 * The parts of the request the mutation reads (see MutationInput). Everything after this point
 * reads only the input, so equal inputs with equal values give equal results.
 */
function mutationInput(
  operation: 'CREATE' | 'UPDATE',
  namespace: string,
  object: Record<string, unknown>,
  oldObject: unknown,
): MutationInput {
  const secret: SecretParts = {};
  // In the object's key order (the patch follows it), without listing the keys.
  for (const k in object) {
    if (!Object.hasOwn(object, k)) continue;
    switch (k) {
      case 'metadata': {
        const m = object.metadata;
        // Only the annotations: every other metadata field is left as it is, so not in the patch.
        secret.metadata = isObject(m) ? ('annotations' in m ? { annotations: m.annotations } : {}) : m;
        break;
      }
      case 'data':
      case 'stringData':
      case 'type':
      case 'immutable':
        secret[k] = object[k];
        break;
    }
  }
  const input: MutationInput = { operation, namespace, secret };
  if (isObject(oldObject)) {
    const m = oldObject.metadata;
    // Only what is there: an input is plain JSON, copied and compared as such (mutate-memo.ts).
    input.old = {};
    if (oldObject.data !== undefined) input.old.data = oldObject.data;
    if (isObject(m) && m.annotations !== undefined) input.old.annotations = m.annotations;
  }
  return input;
}

interface Plan {
  secret: Secret;
  entries: Map<string, Entry>;
  /** Secret key -> template, for everything the Secret declares. */
  templates: Map<string, Template>;
  /** The distinct references of the templates, by `referenceId`. */
  references: Map<string, Reference>;
  dataFrom: Reference | undefined;
  store: StoreRef | undefined;
  /** True when something is unresolved (a reference in data, a new or changed annotation). */
  pending: boolean;
  referenceCount: number;
  warnings: string[];
  create: boolean;
}

function planMutation(input: MutationInput): Plan {
  const secret = input.secret as Secret;
  const metadata = isObject(secret.metadata) ? secret.metadata : {};
  const type = typeof secret.type === 'string' ? secret.type : 'Opaque';
  if (PRIVILEGED_SECRET_TYPES.includes(type)) {
    throw new EswError(
      'ESW_FORBIDDEN_TYPE',
      `Secrets of type ${type} cannot be placeholder Secrets: remove the ${PlaceholderLabel.inject} label`,
    );
  }
  const annotations = isObject(metadata.annotations) ? metadata.annotations : {};
  const settings = readPlaceholderSettings(annotations);
  const warnings = [...settings.warnings];
  const previous = parseRefsAnnotation(stringOr(annotations[PlaceholderAnnotation.refs]));
  const oldData = input.old?.data;
  const update = input.operation === 'UPDATE';

  const entries = decodeEntries(secret);
  const templates = new Map<string, Template>();
  let pending = false;
  let templateBytes = 0;

  for (const [key, entry] of entries) {
    if (!entry.bytes) continue;
    if (!bytesHaveRefs(entry.bytes)) {
      // A value already filled: its template stays recorded while the value is the stored one
      // (UPDATE of a filled Secret), so an edit of another key keeps this key refreshed.
      const kept = previous?.templates.get(key);
      if (kept && update && isObject(oldData) && oldData[key] === entry.original) {
        templates.set(key, kept);
      }
      continue;
    }
    const text = utf8Text(entry.bytes);
    if (text === undefined) {
      throw new EswError('ESW_REF_SYNTAX', `key "${key}": the value holds "\${ref:" but is not UTF-8 text`);
    }
    // The templates are recorded in an annotation: more than fits is refused before any work.
    templateBytes += key.length + entry.bytes.length;
    if (templateBytes > MAX_ANNOTATIONS_BYTES) {
      throw new EswError(
        'ESW_SECRET_TOO_LARGE',
        `the values holding references are over 256 KiB together, more than the ${PlaceholderAnnotation.refs} annotation can record: use fewer or shorter references`,
      );
    }
    templates.set(key, parseTemplate(text, key));
    pending = true;
  }

  for (const [annotation, value] of Object.entries(annotations)) {
    if (!annotation.startsWith(PlaceholderAnnotation.refPrefix)) {
      if (annotation.startsWith('esw.io/') && !KNOWN_ANNOTATIONS.has(annotation)) {
        warnings.push(
          `unknown annotation ${clip(annotation)} is ignored${suggestion(annotation, KNOWN_ANNOTATION_NAMES)}`,
        );
      }
      continue;
    }
    const key = annotation.slice(PlaceholderAnnotation.refPrefix.length);
    if (!SECRET_KEY.test(key)) {
      throw new EswError(
        'ESW_REF_SYNTAX',
        `annotation ${clip(annotation)}: "${clip(key)}" is not a valid Secret key`,
      );
    }
    if (typeof value !== 'string') continue;
    const entry = entries.get(key);
    if (entry?.bytes && bytesHaveRefs(entry.bytes)) {
      throw new EswError(
        'ESW_REF_SYNTAX',
        `key "${key}" is declared twice: by a reference in its value and by annotation ${annotation}`,
      );
    }
    const template = referenceTemplate(parseReferenceBody(value, key, `${annotation}: ${value}`));
    templates.set(key, template);
    if (!entry || previous?.templates.get(key)?.source !== template.source) pending = true;
  }

  // A filled Secret moved to another store: its recorded templates are resolved from the new
  // store now, so a store it may not use (or that lacks a key) is refused at once, not at refresh.
  const oldAnnotations = input.old?.annotations;
  if (update && previous && isObject(oldAnnotations)) {
    const kindOf = (a: Record<string, unknown>) => a[PlaceholderAnnotation.storeKind] ?? 'SecretStore';
    if (
      oldAnnotations[PlaceholderAnnotation.store] !== annotations[PlaceholderAnnotation.store] ||
      kindOf(oldAnnotations) !== kindOf(annotations)
    ) {
      pending = true;
    }
  }

  let dataFrom: Reference | undefined;
  const dataFromText = annotations[PlaceholderAnnotation.dataFrom];
  if (typeof dataFromText === 'string') {
    dataFrom = parseReferenceBody(dataFromText, '', `${PlaceholderAnnotation.dataFrom}: ${dataFromText}`);
    const before = previous?.dataFrom;
    if (!before || referenceId(before) !== referenceId(dataFrom)) pending = true;
  }

  const references = new Map<string, Reference>();
  let referenceCount = dataFrom ? 1 : 0;
  for (const t of templates.values()) {
    for (const r of templateReferences(t)) {
      references.set(referenceId(r), r);
      referenceCount++;
    }
  }
  if (references.size > MAX_REFERENCES) {
    throw new EswError(
      'ESW_VALIDATION',
      `the Secret names ${references.size} distinct references, more than ${MAX_REFERENCES}: split it into several Secrets`,
    );
  }
  if (pending && !settings.store) {
    throw new EswError(
      'ESW_VALIDATION',
      `annotation ${PlaceholderAnnotation.store} is required: the Secret holds references but names no store`,
    );
  }
  if (!pending && referenceCount === 0 && !previous) {
    warnings.push(
      `the Secret is labelled ${PlaceholderLabel.inject}="true" but holds no \${ref:…} references and no ${PlaceholderAnnotation.refPrefix}* annotations`,
    );
  }
  if (pending && secret.immutable === true) {
    warnings.push('the Secret is immutable: it is filled now and never refreshed');
  }
  return {
    secret,
    entries,
    templates,
    references,
    dataFrom,
    store: settings.store,
    pending,
    referenceCount,
    warnings,
    create: input.operation === 'CREATE',
  };
}

/** `data` base64-decoded, then `stringData` over it (the API server's merge: stringData wins). */
function decodeEntries(secret: Secret): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  const data: unknown = secret.data;
  const stringData: unknown = secret.stringData;
  if (data !== undefined && data !== null && !isStringMap(data)) {
    throw new EswError('ESW_VALIDATION', 'data must be a map of base64 strings');
  }
  if (stringData !== undefined && stringData !== null && !isStringMap(stringData)) {
    throw new EswError('ESW_VALIDATION', 'stringData must be a map of strings');
  }
  for (const [k, v] of Object.entries(data ?? {})) {
    const decoded = decodeBase64Text(v, 'std');
    entries.set(k, decoded ? { original: v, bytes: decoded } : { original: v });
  }
  for (const [k, v] of Object.entries(stringData ?? {})) {
    entries.set(k, { bytes: Buffer.from(v, 'utf8') });
  }
  // As the API server checks (and so no key can smuggle text into the patch's paths).
  for (const k of entries.keys()) {
    if (!SECRET_KEY.test(k) || k.length > 253) {
      throw new EswError(
        'ESW_VALIDATION',
        `"${clip(k)}" is not a valid Secret key (letters, digits, "-", "_", ".")`,
      );
    }
  }
  return entries;
}

/** What the references resolved to: `refs[i]` (the distinct references) -> `values[i]`. */
interface Resolved {
  ids: string[];
  refs: RemoteRef[];
  values: Buffer[];
  extracted: Map<string, Buffer> | undefined;
}

/** Every reference from the resolver's cache, synchronously; undefined when one is not cached. */
function cachedLookups(plan: Plan, namespace: string, resolver: Resolver): Resolved | undefined {
  if (!resolver.cachedValues) return undefined;
  const store = plan.store as StoreRef;
  let extracted: Map<string, Buffer> | undefined;
  if (plan.dataFrom) {
    extracted = resolver.cachedMap?.(store, namespace, toRemoteRef(plan.dataFrom));
    if (!extracted) return undefined;
  }
  const refs = [...plan.references.values()].map(toRemoteRef);
  const values = resolver.cachedValues(store, namespace, refs);
  return values ? { ids: [...plan.references.keys()], refs, values, extracted } : undefined;
}

/** Every reference through the resolver, in parallel, under one deadline. */
async function lookups(plan: Plan, namespace: string, deps: MutateDeps): Promise<Resolved> {
  const store = plan.store as StoreRef;
  // Store problems (not found, not allowed here, invalid) before any provider call.
  deps.resolver.checkStore(store, namespace);

  const deadlineMs = deps.deadlineMs ?? DEFAULT_DEADLINE_MS;
  // What is still unanswered when the deadline fires, so the refusal names the references.
  const unanswered = new Set<string>();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const waiting = [...unanswered];
      const named =
        waiting.length > 0
          ? `: no answer for ${waiting.slice(0, 5).join(', ')}${waiting.length > 5 ? ` and ${waiting.length - 5} more` : ''}`
          : '';
      const err = new EswError(
        'ESW_PROVIDER_UNAVAILABLE',
        `${storeText(store, namespace)}: references not resolved within ${deadlineMs} ms${named}`,
      );
      controller.abort(err);
      reject(err);
    }, deadlineMs);
  });
  deadline.catch(() => {});
  const opts = { signal: controller.signal };

  const usedBy = new Map<string, string>();
  for (const [k, t] of plan.templates) {
    for (const r of templateReferences(t)) if (!usedBy.has(referenceId(r))) usedBy.set(referenceId(r), k);
  }
  const refs = [...plan.references.values()].map(toRemoteRef);
  const pending = [...plan.references].map(async ([id, ref], i) => {
    const what = `key "${usedBy.get(id) ?? ''}" ${formatReference(ref)}`;
    unanswered.add(what);
    try {
      return await deps.resolver.getValue(store, namespace, refs[i] as RemoteRef, opts);
    } catch (err: unknown) {
      throw withReference(err, what);
    } finally {
      unanswered.delete(what);
    }
  });
  const dataFromText = `${PlaceholderAnnotation.dataFrom} "${formatRefBody(plan.dataFrom)}"`;
  if (plan.dataFrom) unanswered.add(dataFromText);
  const extract = plan.dataFrom
    ? deps.resolver
        .getMap(store, namespace, toRemoteRef(plan.dataFrom), opts)
        .catch((err: unknown) => {
          throw withReference(err, dataFromText);
        })
        .finally(() => unanswered.delete(dataFromText))
    : Promise.resolve(undefined);
  try {
    const [values, extracted] = await Promise.race([Promise.all([Promise.all(pending), extract]), deadline]);
    return { ids: [...plan.references.keys()], refs, values, extracted };
  } finally {
    // Lookups still running after a failure finish in the background (they may be shared with
    // other admissions); only the deadline aborts them.
    clearTimeout(timer);
  }
}

/** The Secret filled with `resolved`: its new `data` and annotations (`stringData` is merged in). */
function fillSecret(
  plan: Plan,
  resolved: Resolved,
): { data: Record<string, string>; annotations: Record<string, string> } {
  const values = new Map<string, Buffer>();
  for (const [i, id] of resolved.ids.entries()) values.set(id, resolved.values[i] as Buffer);
  for (const [id, value] of values) {
    if (bytesHaveRefs(value)) {
      const ref = plan.references.get(id) as Reference;
      throw new EswError(
        'ESW_REF_SYNTAX',
        `${formatReference(ref)}: the remote value itself holds "\${ref:"; refused so that it is never stored or resolved again`,
      );
    }
  }

  // Precedence: keys with templates > data-from > values already in the Secret.
  const out = new Map<string, Buffer | string>();
  for (const [k, e] of plan.entries)
    out.set(k, e.bytes && e.original === undefined ? e.bytes : (e.original ?? ''));
  if (resolved.extracted) {
    for (const [k, v] of resolved.extracted) {
      if (bytesHaveRefs(v)) {
        throw new EswError(
          'ESW_REF_SYNTAX',
          `${PlaceholderAnnotation.dataFrom} "${formatRefBody(plan.dataFrom)}": the value of property "${k}" holds "\${ref:"; refused`,
        );
      }
      if (plan.templates.has(k)) continue;
      const existing = plan.entries.get(k);
      if (plan.create && existing?.bytes && !existing.bytes.equals(v)) {
        plan.warnings.push(
          `key "${k}" from ${PlaceholderAnnotation.dataFrom} replaces the value in the manifest`,
        );
      }
      out.set(k, v);
    }
  }
  const lookup = (ref: Reference): Uint8Array => values.get(referenceId(ref)) as Buffer;
  for (const [k, t] of plan.templates) out.set(k, renderTemplate(t, lookup, k));

  const data: Record<string, string> = {};
  let size = 0;
  for (const [k, v] of out) {
    const original = plan.entries.get(k);
    if (typeof v === 'string') {
      data[k] = v;
      size += k.length + (original?.bytes?.length ?? Buffer.byteLength(v, 'latin1'));
    } else {
      // Unchanged values keep their text, so the patch holds only what changed.
      data[k] =
        original?.original !== undefined && original.bytes?.equals(v)
          ? original.original
          : v.toString('base64');
      size += k.length + v.length;
    }
  }
  if (size > MAX_SECRET_BYTES) {
    throw new EswError(
      'ESW_SECRET_TOO_LARGE',
      `the filled Secret would hold ${size} bytes of data, more than the ${MAX_SECRET_BYTES}-byte (1 MiB) limit`,
    );
  }
  if (plan.secret.type === 'kubernetes.io/dockerconfigjson' && data['.dockerconfigjson'] !== undefined) {
    const text = Buffer.from(data['.dockerconfigjson'], 'base64').toString('utf8');
    try {
      JSON.parse(text);
    } catch {
      throw new EswError(
        'ESW_DECODE',
        'key ".dockerconfigjson" is not valid JSON after its references were filled (a referenced value may need JSON escaping)',
      );
    }
  }

  const record: RefsRecord = { templates: plan.templates };
  if (plan.dataFrom) record.dataFrom = plan.dataFrom;
  const annotations: Record<string, string> = { ...(plan.secret.metadata?.annotations ?? {}) };
  annotations[PlaceholderAnnotation.refs] = serializeRefs(record);
  annotations[PlaceholderAnnotation.dataHash] = dataHash(data);
  let annotationBytes = 0;
  // A loop, not Object.entries + reduce: a pair per annotation and a closure on every render.
  for (const k in annotations)
    annotationBytes += k.length + Buffer.byteLength(String(annotations[k]), 'utf8');
  if (annotationBytes > MAX_ANNOTATIONS_BYTES) {
    throw new EswError(
      'ESW_SECRET_TOO_LARGE',
      `the annotations with the ${PlaceholderAnnotation.refs} record would hold ${annotationBytes} bytes, more than the 256 KiB limit: use fewer references`,
    );
  }
  return { data, annotations };
}

function formatRefBody(ref: Reference | undefined): string {
  return ref ? formatReference(ref).slice('${ref:'.length, -1) : '';
}

/** Names the reference in a resolver error; the resolver's message names the key and store. */
function withReference(err: unknown, what: string): unknown {
  if (!isEswError(err)) return err;
  return new EswError(err.code, `${what}: ${err.message}`, { cause: err });
}

const REFUSAL_STATUS: Partial<Record<ErrorCode, number>> = {
  // Internal failures are a verdict too: refuse, and let the API server retry later.
  ESW_INTERNAL: 503,
};

function refusal(
  err: unknown,
  ctx: { namespace: string; name: string; store: string; logger: Logger },
): AdmissionResult {
  const id = `Secret "${clip(`${ctx.namespace}/${ctx.name}`)}"`;
  if (isEswError(err)) {
    const status = REFUSAL_STATUS[err.code] ?? err.status;
    ctx.logger.info(
      { secret: objectRef(ctx.namespace, ctx.name), store: ctx.store, code: err.code, reason: err.message },
      'placeholder Secret refused',
    );
    return deny(status, `${id} not filled (${err.code}): ${err.message}`);
  }
  // Only the error's name and stack frames: an unknown error's message may quote a value.
  const name = err instanceof Error ? err.name : typeof err;
  const frames = err instanceof Error ? (err.stack ?? '').split('\n').slice(1, 6).join('\n') : '';
  ctx.logger.error(
    { secret: objectRef(ctx.namespace, ctx.name), store: ctx.store, errorName: name, frames },
    'placeholder Secret: unexpected failure',
  );
  return deny(
    503,
    `${id} not filled (ESW_INTERNAL): unexpected failure while resolving references${ctx.store ? ` from ${ctx.store}` : ''}; see the webhook's logs`,
  );
}

function storeText(store: StoreRef, namespace: string): string {
  return store.kind === 'ClusterSecretStore'
    ? `ClusterSecretStore "${store.name}"`
    : `SecretStore "${store.namespace ?? namespace}/${store.name}"`;
}

function isStringMap(v: unknown): v is Record<string, string> {
  return isObject(v) && Object.values(v).every((x) => typeof x === 'string');
}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

function utf8Text(bytes: Uint8Array): string | undefined {
  try {
    return fatalUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

function stringOr(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}
