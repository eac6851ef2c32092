/**
 * One ExternalSecret sync, as the External Secrets Operator does it: resolve `data`,
 * `dataFrom` (extract, find, rewrite) through the shared resolver, apply `target.template`,
 * then create or update the target Secret according to `creationPolicy` / `deletionPolicy`,
 * and report in `status` and Events. The target is written only when its content changed, and
 * every write is conditional on resourceVersion (a conflict re-reads and recomputes).
 * A failure never touches the data already in the Secret.
 */
import { createHash } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { storeRefsOf } from '../api/controller-class.ts';
import { parseDuration } from '../api/duration.ts';
import type {
  Condition,
  ConfigMap,
  ExternalSecret,
  ExternalSecretStatus,
  KubeObject,
  ObjectMeta,
  RemoteRef,
  Secret,
  StoreKind,
  TemplateFrom,
} from '../api/types.ts';
import { EswError, errorMessage, isEswError } from '../errors.ts';
import { decodeMap } from '../refs/decoding.ts';
import type { LookupOptions, Resolver, StoreRef } from '../resolve/types.ts';
import { Budget, renderTemplate, templateBytes, templateInput } from '../template/index.ts';
import { compareGoStrings, goString } from '../template/values.ts';
import {
  canonicalJson,
  checkGenericTarget,
  configMapData,
  configMapDigest,
  contentDigest,
  kindId,
  manifestOf,
  objectDigest,
  type TargetManifest,
  toConfigMapFields,
} from './generic-target.ts';
import { ConflictError, type KubeWriter } from './ports.ts';
import { applyRewrites } from './rewrite.ts';
import {
  dataDigest,
  dataHash,
  decodeData,
  ES_HASH_ANNOTATION,
  encodeData,
  type SecretData,
  writeDataHash,
} from './secret-data.ts';
import { readTemplateSources, type TemplateSources, templateOf } from './template-from.ts';
import { yamlStringMap } from './yaml-map.ts';

export const MANAGED_LABEL = 'reconcile.external-secrets.io/managed';
export { ES_HASH_ANNOTATION } from './secret-data.ts';
/** Merge / CreateOrMerge: the keys this ExternalSecret wrote (names only), JSON list. */
export const MANAGED_KEYS_ANNOTATION = 'esw.io/managed-keys';
export const PRIVILEGED_TYPES = new Set([
  'kubernetes.io/service-account-token',
  'bootstrap.kubernetes.io/token',
]);
const MAX_CONFLICT_RETRIES = 5;

export type SyncResult = 'created' | 'updated' | 'unchanged' | 'deleted' | 'skipped' | 'error';

export interface SyncOutcome {
  result: SyncResult;
  error?: unknown;
  /** Skipped because a store it uses belongs to another controller class. */
  otherClass?: true;
  /**
   * Synced in full: `status.refreshTime` and `status.syncedResourceVersion` were written (not a
   * failure, not skipped by the refresh gate).
   */
  refreshed?: true;
}

export interface EsSyncDeps {
  resolver: Resolver;
  kube: KubeWriter;
  now: () => number;
  /** The refresh path asks for values fetched in this cycle (see LookupOptions.fetchedAfter). */
  lookup?: LookupOptions;
  /**
   * The last full sync as the caller knows it (the refresher remembers its own; the status it
   * wrote may not have come back yet). null: never synced. Undefined: read from `es.status`.
   */
  synced?: SyncBasis | null;
  /**
   * Kinds a generic target (`spec.target.manifest`) may be (`--generic-target-kinds`); none by
   * default, as ESO without `--unsafe-allow-generic-targets`.
   */
  genericTargetKinds?: readonly string[];
}

// ------------------------------------------------------------------ resolving data

/** An entry whose remote secret does not exist (skipped when deletionPolicy is not Retain). */
export interface MissingEntry {
  field: string;
  key: string;
}

/**
 * As ESO's getProviderSecretData: with `skipMissing` (deletionPolicy Delete or Merge) an entry
 * whose remote secret is gone is skipped and reported in `missing`; the others still count.
 * With Retain a missing secret is an error, so nothing is ever removed by accident.
 */
export async function resolveExternalSecretData(
  es: ExternalSecret,
  resolver: Resolver,
  opts: LookupOptions = {},
  skip: { skipMissing?: boolean; missing?: MissingEntry[] } = {},
): Promise<SecretData> {
  const gone = (err: unknown): boolean =>
    skip.skipMissing === true && isEswError(err) && err.code === 'ESW_SECRET_NOT_FOUND';
  const ns = es.metadata?.namespace ?? 'default';
  const spec = es.spec ?? {};
  const defaultStore = spec.secretStoreRef?.name
    ? { name: spec.secretStoreRef.name, kind: (spec.secretStoreRef.kind ?? 'SecretStore') as StoreKind }
    : undefined;
  const storeOf = (
    sourceRef: { storeRef?: { name?: string; kind?: StoreKind }; generatorRef?: unknown } | undefined,
    field: string,
  ): StoreRef => {
    if (sourceRef?.generatorRef)
      throw new EswError(
        'ESW_STORE_INVALID',
        `${field}.sourceRef.generatorRef: generators are not supported`,
      );
    if (sourceRef?.storeRef?.name)
      return { name: sourceRef.storeRef.name, kind: sourceRef.storeRef.kind ?? 'SecretStore' };
    if (!defaultStore) throw new EswError('ESW_STORE_NOT_FOUND', `${field}: no secretStoreRef`);
    return defaultStore;
  };
  const out: SecretData = new Map();
  // dataFrom first, then data: explicit keys win, as in ESO.
  for (const [i, df] of (spec.dataFrom ?? []).entries()) {
    const field = `spec.dataFrom[${i}]`;
    const store = storeOf(df.sourceRef, field);
    // As ESO: with a rewrite, keys are not converted and values are decoded after it (a merge
    // reads the values as the provider returned them).
    const rewrites = df.rewrite ?? [];
    const rewriting = rewrites.length > 0;
    const decoding = (df.extract ?? df.find)?.decodingStrategy;
    const lookup: LookupOptions = rewriting ? { ...opts, skipKeyConversion: true } : opts;
    let map: Map<string, Buffer>;
    try {
      if (df.extract) {
        const ref = rewriting ? { ...df.extract, decodingStrategy: 'None' as const } : df.extract;
        map = await resolver.getMap(store, ns, ref as RemoteRef, lookup);
      } else if (df.find) {
        const find = rewriting ? { ...df.find, decodingStrategy: 'None' as const } : df.find;
        map = await resolver.find(store, ns, find, lookup);
      } else throw new EswError('ESW_VALIDATION', `${field}: needs extract or find`);
    } catch (err: unknown) {
      if (!gone(err)) throw err;
      skip.missing?.push({ field, key: df.extract?.key ?? '' });
      continue;
    }
    if (rewriting) map = applyRewrites(map, rewrites, field);
    map = validKeys(map, field);
    if (rewriting && decoding && decoding !== 'None')
      map = toBuffers(decodeMap(decoding, map, `${field} (decodingStrategy ${decoding})`));
    // Later entries win over earlier ones (ESO's MergeByteMap in dataFrom order).
    for (const [k, v] of map) out.set(k, v);
  }
  const MISSING = Symbol('missing');
  const values = await Promise.all(
    (spec.data ?? []).map((d, i) =>
      resolver
        .getValue(storeOf(d.sourceRef, `spec.data[${i}]`), ns, (d.remoteRef ?? {}) as RemoteRef, opts)
        .catch((err: unknown) => {
          if (!gone(err)) throw err;
          skip.missing?.push({ field: `spec.data[${i}]`, key: d.remoteRef?.key ?? '' });
          return MISSING;
        }),
    ),
  );
  (spec.data ?? []).forEach((d, i) => {
    const v = values[i];
    if (v instanceof Buffer) out.set(d.secretKey ?? '', v);
  });
  return out;
}

/**
 * ESO's ValidateKeys: an empty key is dropped (nothing upstream), a key longer than 253 bytes or
 * with a character other than a letter, a digit, `-`, `.` or `_` fails the sync.
 */
function validKeys(map: Map<string, Buffer>, field: string): Map<string, Buffer> {
  let out = map;
  for (const key of map.keys()) {
    if (key === '') {
      if (out === map) out = new Map(map);
      out.delete(key);
      continue;
    }
    if (Buffer.byteLength(key) > 253)
      throw new EswError('ESW_VALIDATION', `${field}: key "${key.slice(0, 253)}…" is longer than 253 bytes`);
    if (!KEY_CHARS.test(key))
      throw new EswError(
        'ESW_VALIDATION',
        `${field}: key "${key}" has a character other than a letter, a digit, '-', '.' or '_' (use rewrite or conversionStrategy)`,
      );
  }
  return out;
}

const KEY_CHARS = /^[\p{L}\p{N}._-]+$/u;

function toBuffers(map: Map<string, Uint8Array>): Map<string, Buffer> {
  return new Map([...map].map(([k, v]) => [k, Buffer.isBuffer(v) ? v : Buffer.from(v)]));
}

// ------------------------------------------------------------------ desired Secret

export interface Desired {
  type: string | undefined;
  data: SecretData;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/**
 * The target as ESO's ApplyTemplate builds it:
 * - without a template: the provider's data, and the ExternalSecret's own labels and annotations
 *   (ESO's setMetadata, and applyTemplateToManifest for generic targets); with one, only
 *   `template.metadata` sets metadata;
 * - `templateFrom` entries in order, each one's `configMap` items, then its `secret` items, then
 *   its `literal`: an item with `templateAs: Values` (the default) renders its value to its own
 *   key, one with `KeysAndValues` (and a literal) renders a YAML map of keys and values; `target`
 *   sends them to the data (default), the labels or the annotations; a later key replaces an
 *   earlier one;
 * - then `template.data`, which wins over templateFrom; then `metadata.labels`/`annotations`;
 * - the provider's data is kept under them only with `mergePolicy: Merge`, or when the template
 *   has neither `data` nor `templateFrom` (ESO's `noTemplate`).
 * `sources` holds the ConfigMaps and Secrets the entries name (readTemplateSources).
 */
export function applyTemplate(
  es: ExternalSecret,
  data: SecretData,
  sources: TemplateSources = new Map(),
): Desired {
  const template = es.spec?.target?.template;
  if (!template) return { type: undefined, data, ...esMetadata(es) };
  const desired: Desired = { type: template.type, data, labels: {}, annotations: {} };
  const ns = es.metadata?.namespace ?? 'default';
  const input = templateInput(data);
  // One budget for every template of this ExternalSecret: many small templates cannot add up.
  const budget = new Budget();
  const render = (tpl: string, name: string) => renderTemplate(tpl, input, name, { budget });
  const rendered: SecretData = new Map();
  const put = (target: TemplateFrom['target'], k: string, value: string | Buffer) => {
    if (target === 'Labels') desired.labels[k] = value.toString();
    else if (target === 'Annotations') desired.annotations[k] = value.toString();
    else rendered.set(k, typeof value === 'string' ? Buffer.from(value, 'utf8') : value);
  };
  for (const [i, tf] of (template.templateFrom ?? []).entries()) {
    const at = `spec.target.template.templateFrom[${i}]`;
    for (const { itemField, key, out, keysAndValues } of sourceItems(tf, at, sources, ns, render)) {
      if (keysAndValues) {
        for (const [k, value] of yamlStringMap(out, itemField)) put(tf.target, k, value);
      } else put(tf.target, key, templateBytes(out));
    }
    if (tf.literal !== undefined) {
      const field = `${at}.literal`;
      for (const [k, value] of yamlStringMap(render(tf.literal, field), field)) put(tf.target, k, value);
    }
  }
  // Explicit template.data wins over templateFrom (ESO renders it last).
  for (const [key, tpl] of Object.entries(template.data ?? {})) {
    rendered.set(key, templateBytes(render(tpl, `spec.target.template.data.${key}`)));
  }
  const noTemplate =
    Object.keys(template.data ?? {}).length === 0 && (template.templateFrom ?? []).length === 0;
  if (!noTemplate)
    desired.data = template.mergePolicy === 'Merge' ? new Map([...data, ...rendered]) : rendered;
  for (const [k, v] of Object.entries(template.metadata?.labels ?? {})) {
    desired.labels[k] = render(v, `spec.target.template.metadata.labels.${k}`);
  }
  for (const [k, v] of Object.entries(template.metadata?.annotations ?? {})) {
    desired.annotations[k] = render(v, `spec.target.template.metadata.annotations.${k}`);
  }
  return desired;
}

/**
 * What a target without a template carries of its ExternalSecret's metadata: every label and
 * annotation, as ESO copies them (the managed label and the data-hash annotation are set after,
 * and win) — except this webhook's own (`esw.io/…`, `*.esw.io/…`): `esw.io/inject` with
 * `esw.io/store` would make the target a placeholder Secret, rewritten by the mutating webhook
 * on every write the refresher makes, each one read back as an edit to restore.
 */
export function esMetadata(es: ExternalSecret): {
  labels: Record<string, string>;
  annotations: Record<string, string>;
} {
  const copy = (m: Record<string, string> | undefined) =>
    Object.fromEntries(Object.entries(m ?? {}).filter(([k]) => !isOwnKey(k)));
  return { labels: copy(es.metadata?.labels), annotations: copy(es.metadata?.annotations) };
}

function isOwnKey(key: string): boolean {
  const slash = key.indexOf('/');
  if (slash < 0) return false;
  const domain = key.slice(0, slash);
  return domain === 'esw.io' || domain.endsWith('.esw.io');
}

/**
 * The rendered items of a templateFrom entry's `configMap` then `secret` source, in ESO's order,
 * for both target writers (a Secret's, a generic manifest's): each item's field path, key, output
 * and whether it renders keys and values.
 */
function* sourceItems(
  tf: TemplateFrom,
  at: string,
  sources: TemplateSources,
  ns: string,
  render: (tpl: string, name: string) => string,
): Generator<{ itemField: string; key: string; out: string; keysAndValues: boolean }> {
  for (const [kind, field] of [
    ['ConfigMap', 'configMap'],
    ['Secret', 'secret'],
  ] as const) {
    const ref = tf[field];
    if (!ref) continue;
    for (const [j, item] of (ref.items ?? []).entries()) {
      const itemField = `${at}.${field}.items[${j}]`;
      const key = item.key ?? '';
      const out = render(goString(templateOf(sources, kind, ref.name ?? '', key, ns, itemField)), itemField);
      yield { itemField, key, out, keysAndValues: (item.templateAs ?? 'Values') === 'KeysAndValues' };
    }
  }
}

// ------------------------------------------------------------------ sync

export async function syncExternalSecret(es: ExternalSecret, deps: EsSyncDeps): Promise<SyncOutcome> {
  const target = es.spec?.target ?? {};
  const targetName = target.name || es.metadata?.name || '';
  const creation = target.creationPolicy ?? 'Owner';
  const deletion = target.deletionPolicy ?? 'Retain';
  // Being deleted (finalizers, foreground deletion): as ESO, leave it alone. Recreating its
  // target now would hand the garbage collector a new dependent to wait for.
  if (es.metadata?.deletionTimestamp) return { result: 'skipped' };
  // A store of another controller class: that controller's object, as in ESO — no write, no
  // status, no Event.
  if (usesOtherClass(es, deps.resolver)) return { result: 'skipped', otherClass: true };
  // ESO's gate: nothing to refresh (refreshPolicy, refreshInterval 0) and a target as it was
  // written — no provider call, no write, no status. When a periodic refresh is due is the
  // caller's business (the refresher's rounds).
  const manifest = manifestOf(es);
  if (!needsRefresh(es, deps.synced === undefined ? syncedOf(es) : deps.synced)) {
    try {
      if (manifest) checkGenericTarget(manifest, deps.genericTargetKinds ?? []);
      const current = await readTarget(es, deps, targetName);
      if (isTargetValid(es, current)) return { result: 'skipped' };
    } catch {
      // Cannot tell: sync, which reports what is wrong.
    }
  }
  try {
    if (manifest) checkGenericManifest(es, manifest, deps);
    const type = target.template?.type;
    if (!manifest && type && PRIVILEGED_TYPES.has(type)) {
      throw new EswError('ESW_FORBIDDEN_TYPE', `spec.target.template.type "${type}" may not be managed`);
    }
    const missing: MissingEntry[] = [];
    const data = await resolveExternalSecretData(es, deps.resolver, deps.lookup, {
      skipMissing: deletion !== 'Retain',
      missing,
    });
    for (const m of missing) {
      await event(
        deps,
        es,
        'Normal',
        'Deleted',
        `secret does not exist at provider using .${m.field.replace(/^spec\./, '')} key=${m.key}`,
      );
    }
    // As ESO: nothing left at the provider. Delete removes the Secret, Retain keeps it as it
    // is, Merge goes on and writes the Secret without the keys this ExternalSecret managed.
    if (data.size === 0 && deletion === 'Delete') return await deleteTarget(es, deps, targetName);
    if (data.size === 0 && deletion === 'Retain') {
      await setStatus(es, deps, ready('SecretSynced', 'secret synced'), manifest ? undefined : targetName);
      return { result: 'unchanged', refreshed: true };
    }
    const sources = await readTemplateSources(es, deps.kube);
    // A custom resource renders into its own content (writeCustomResource), not a data map.
    const custom = manifest !== undefined && kindId(manifest) !== 'ConfigMap';
    const desired = custom ? undefined : applyTemplate(es, data, sources);
    if (creation === 'None') {
      await setStatus(
        es,
        deps,
        ready('SecretSynced', 'secret synced (creationPolicy None: nothing written)'),
      );
      return { result: 'skipped', refreshed: true };
    }
    const result = custom
      ? await writeCustomResource(es, deps, targetName, manifest, data, sources)
      : manifest
        ? await writeConfigMap(es, deps, targetName, desired as Desired)
        : await writeTarget(es, deps, targetName, desired as Desired);
    if (result === 'created' || result === 'updated') {
      await event(
        deps,
        es,
        'Normal',
        result === 'created' ? 'Created' : 'Updated',
        `${result === 'created' ? 'Created' : 'Updated'} ${manifest?.kind ?? 'Secret'} ${targetName}`,
      );
    }
    // status.binding names a Secret (a LocalObjectReference): a generic target has none.
    await setStatus(es, deps, ready('SecretSynced', 'secret synced'), manifest ? undefined : targetName);
    return { result, refreshed: true };
  } catch (err: unknown) {
    // The Secret is not touched: its data stays as it was.
    const message = isEswError(err) ? err.message : `sync failed: ${errorMessage(err)}`;
    await event(deps, es, 'Warning', 'UpdateFailed', message).catch(() => undefined);
    await setStatus(es, deps, notReady('SecretSyncedError', message)).catch(() => undefined);
    return { result: 'error', error: err };
  }
}

/**
 * True when any store `es` names is refused as another controller's (ESO's
 * shouldSkipUnmanagedStore; a store not found, or refused for another reason, does not count:
 * the sync reports that).
 */
export function usesOtherClass(es: ExternalSecret, resolver: Resolver): boolean {
  const ns = es.metadata?.namespace ?? 'default';
  for (const ref of storeRefsOf(es)) {
    try {
      resolver.checkStore(ref, ns);
    } catch (err: unknown) {
      if (isEswError(err) && err.code === 'ESW_STORE_OTHER_CLASS') return true;
    }
  }
  return false;
}

async function writeTarget(
  es: ExternalSecret,
  deps: EsSyncDeps,
  name: string,
  desired: Desired,
): Promise<SyncResult> {
  const ns = es.metadata?.namespace ?? 'default';
  const creation = es.spec?.target?.creationPolicy ?? 'Owner';
  // The informer's cache holds the target at the version the last sync wrote or compared, and
  // this sync wants what that one wanted: nothing to write, and no GET to find that out.
  const memo = deps.kube.targets;
  const fingerprint = memo ? targetFingerprint(es, desired) : undefined;
  if (fingerprint !== undefined && memo?.recall(ns, name) === fingerprint) return 'unchanged';
  const remember = (secret: Secret) => {
    const rv = secret.metadata?.resourceVersion;
    // Only Secrets with the managed label are in the informer's cache.
    if (memo && fingerprint !== undefined && rv && secret.metadata?.labels?.[MANAGED_LABEL] === 'true')
      memo.remember(ns, name, rv, fingerprint);
  };
  for (let attempt = 0; attempt <= MAX_CONFLICT_RETRIES; attempt++) {
    const existing = await deps.kube.getSecret(ns, name);
    if (!existing && creation === 'Merge') {
      throw new EswError(
        'ESW_SECRET_NOT_FOUND',
        `target Secret "${ns}/${name}" does not exist (creationPolicy Merge only updates)`,
      );
    }
    // A target's type is immutable, so a Secret Kubernetes issues (a service-account or
    // bootstrap token) would keep its type under our data: never write into one.
    if (existing?.type && PRIVILEGED_TYPES.has(existing.type)) {
      throw new EswError(
        'ESW_FORBIDDEN_TYPE',
        `target Secret "${ns}/${name}" has type "${existing.type}", which may not be managed`,
      );
    }
    const next = mergeInto(es, existing, desired);
    if (existing && sameContent(existing, next)) {
      remember(existing);
      return 'unchanged';
    }
    if (existing?.immutable) {
      throw new EswError(
        'ESW_VALIDATION',
        `target Secret "${ns}/${name}" is immutable and its data changed; delete it to let it be recreated`,
      );
    }
    try {
      const stored = existing
        ? await deps.kube.replaceSecret(ns, next)
        : await deps.kube.createSecret(ns, next);
      // Stored as sent (no other admission webhook changed it): what this sync leaves as it is.
      if (sameContent(stored, next)) remember(stored);
      return existing ? 'updated' : 'created';
    } catch (err: unknown) {
      if (err instanceof ConflictError) continue;
      throw err;
    }
  }
  throw new EswError('ESW_KUBE', `target Secret "${ns}/${name}": too many conflicting writes`);
}

/**
 * Everything writeTarget's outcome depends on besides the stored Secret (mergeInto, sameContent):
 * the policy, the owner this ExternalSecret is, `immutable`, and the desired type, labels,
 * annotations and data. Equal fingerprints on an unchanged Secret give an unchanged result.
 */
export function targetFingerprint(es: ExternalSecret, desired: Desired): string {
  const h = createHash('sha256').update(
    JSON.stringify([
      es.spec?.target?.creationPolicy ?? 'Owner',
      es.metadata?.uid ?? '',
      es.metadata?.name ?? '',
      es.apiVersion ?? '',
      es.spec?.target?.immutable === true,
      desired.type ?? null,
      sorted(desired.labels),
      sorted(desired.annotations),
    ]),
  );
  // Lengths first: no two data maps hash the same text.
  for (const key of [...desired.data.keys()].sort()) {
    const value = desired.data.get(key) as Buffer;
    h.update(`\0${Buffer.byteLength(key)}:${key}${value.length}:`).update(value);
  }
  return h.digest('base64');
}

function mergeInto(es: ExternalSecret, existing: Secret | undefined, desired: Desired): Secret {
  const { metadata, data } = mergeTarget(es, 'Secret', existing, decodeData(existing?.data), desired);
  const secret: Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata,
    type: desired.type ?? existing?.type ?? 'Opaque',
    data: encodeData(data),
  };
  if (es.spec?.target?.immutable || existing?.immutable) secret.immutable = true;
  return secret;
}

/**
 * The target's metadata and data after this sync, whatever its kind: labels and annotations
 * merged over the existing ones, the managed label (Owner, Orphan), the managed keys (Merge,
 * CreateOrMerge), the data hash and the controller reference (Owner).
 */
function mergeTarget(
  es: ExternalSecret,
  kind: string,
  existing: { metadata?: ObjectMeta } | undefined,
  existingData: SecretData,
  desired: Desired,
): { metadata: ObjectMeta; data: SecretData } {
  const creation = es.spec?.target?.creationPolicy ?? 'Owner';
  const ns = es.metadata?.namespace ?? 'default';
  const name = es.spec?.target?.name || es.metadata?.name || '';
  const mergeData = creation === 'Merge' || creation === 'CreateOrMerge';
  let data = desired.data;
  const labels = { ...(existing?.metadata?.labels ?? {}), ...desired.labels };
  const annotations = { ...(existing?.metadata?.annotations ?? {}), ...desired.annotations };
  if (mergeData) {
    // Keys written before and no longer wanted (remote gone, removed from the spec) go; the
    // target's other keys stay. ESO knows its keys from managedFields; we record them.
    const base = new Map(existingData);
    for (const k of managedKeys(es, existing)) if (!desired.data.has(k)) base.delete(k);
    data = new Map([...base, ...desired.data]);
    annotations[MANAGED_KEYS_ANNOTATION] = JSON.stringify([...desired.data.keys()].sort());
  }
  if (!mergeData) labels[MANAGED_LABEL] = 'true';
  // A Secret carries ESO's hash (kept in this webhook's earlier format while it still matches:
  // no write for the format alone); a ConfigMap this webhook's (ESO hashes the whole object).
  annotations[ES_HASH_ANNOTATION] =
    kind === 'Secret'
      ? writeDataHash(data, existing?.metadata?.annotations?.[ES_HASH_ANNOTATION])
      : dataHash(data);
  let ownerReferences = existing?.metadata?.ownerReferences ?? [];
  if (creation === 'Owner') {
    const uid = es.metadata?.uid ?? '';
    const other = ownerReferences.find((o) => o.controller && o.uid !== uid);
    if (other) {
      throw new EswError(
        'ESW_VALIDATION',
        `target ${kind} "${ns}/${name}" is controlled by ${other.kind} "${other.name}"`,
      );
    }
    ownerReferences = [
      ...ownerReferences.filter((o) => o.uid !== uid),
      {
        apiVersion: es.apiVersion ?? 'external-secrets.io/v1',
        kind: 'ExternalSecret',
        name: es.metadata?.name ?? '',
        uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ];
  }
  return {
    metadata: {
      ...(existing?.metadata ?? {}),
      name,
      namespace: ns,
      labels,
      annotations,
      ...(ownerReferences.length > 0 ? { ownerReferences } : {}),
    },
    data,
  };
}

function sameContent(a: Secret, b: Secret): boolean {
  const canon = (s: Secret) =>
    JSON.stringify([
      s.type ?? 'Opaque',
      sorted(s.data ?? {}),
      sorted(s.metadata?.labels ?? {}),
      sorted(s.metadata?.annotations ?? {}),
      (s.metadata?.ownerReferences ?? []).map((o) => o.uid),
      s.immutable ?? false,
    ]);
  return canon(a) === canon(b);
}

function sorted(o: Record<string, string>): [string, string][] {
  return Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The keys this ExternalSecret wrote into a merged Secret (before the record: its spec.data keys). */
function managedKeys(es: ExternalSecret, existing: { metadata?: ObjectMeta } | undefined): string[] {
  const recorded = existing?.metadata?.annotations?.[MANAGED_KEYS_ANNOTATION];
  if (recorded !== undefined) {
    try {
      const keys: unknown = JSON.parse(recorded);
      if (Array.isArray(keys)) return keys.filter((k): k is string => typeof k === 'string');
    } catch {
      // A hand-edited record: fall back to the spec.
    }
  }
  return (es.spec?.data ?? []).map((d) => d.secretKey ?? '');
}

/**
 * deletionPolicy Delete with every remote secret gone. As ESO, only a Secret this
 * ExternalSecret owns (creationPolicy Owner, our controller reference) is ever deleted.
 */
async function deleteTarget(es: ExternalSecret, deps: EsSyncDeps, name: string): Promise<SyncOutcome> {
  const ns = es.metadata?.namespace ?? 'default';
  const creation = es.spec?.target?.creationPolicy ?? 'Owner';
  if (creation !== 'Owner') {
    throw new EswError(
      'ESW_VALIDATION',
      `deletionPolicy Delete: creationPolicy ${creation} does not own ${manifestOf(es)?.kind ?? 'Secret'} "${ns}/${name}", it is not deleted`,
    );
  }
  const manifest = manifestOf(es);
  const kind = manifest?.kind ?? 'Secret';
  const existing = await readTarget(es, deps, name);
  if (existing) {
    const uid = es.metadata?.uid ?? '';
    const ours = (existing.metadata?.ownerReferences ?? []).some((o) => o.controller && o.uid === uid);
    if (!ours) {
      throw new EswError(
        'ESW_VALIDATION',
        `target ${kind} "${ns}/${name}" is not controlled by this ExternalSecret, it is not deleted`,
      );
    }
    if (manifest && kindId(manifest) !== 'ConfigMap') {
      if (!deps.kube.deleteObject)
        throw new EswError('ESW_KUBE', 'this refresher cannot write custom resources');
      await deps.kube.deleteObject(manifest.apiVersion, manifest.kind, ns, name);
    } else if (manifest) await configMapWriter(deps).deleteConfigMap(ns, name);
    else await deps.kube.deleteSecret(ns, name);
    await event(
      deps,
      es,
      'Normal',
      'Deleted',
      `Deleted ${kind} ${name}: the remote secret is gone (deletionPolicy Delete)`,
    );
  }
  await setStatus(es, deps, ready('SecretDeleted', 'secret deleted due to DeletionPolicy'));
  return { result: existing ? 'deleted' : 'unchanged', refreshed: true };
}

// ------------------------------------------------------------------ generic targets

/**
 * A generic target this sync may write: an allowed, implemented kind (generic-target.ts), and
 * templateFrom entries that send their output to the data, the labels or the annotations (a field
 * path such as `spec.database` only means something on a custom resource).
 */
function checkGenericManifest(es: ExternalSecret, manifest: TargetManifest, deps: EsSyncDeps): void {
  checkGenericTarget(manifest, deps.genericTargetKinds ?? []);
  if (kindId(manifest) !== 'ConfigMap') return;
  for (const [i, tf] of (es.spec?.target?.template?.templateFrom ?? []).entries()) {
    const t = tf.target as string | undefined;
    if (t !== undefined && t !== '' && t !== 'Data' && t !== 'Labels' && t !== 'Annotations')
      throw new EswError(
        'ESW_VALIDATION',
        `spec.target.template.templateFrom[${i}].target: a ${kindId(manifest)} target takes Data, Labels or Annotations`,
      );
  }
}

/** The target as stored: a Secret, a ConfigMap or a custom resource (generic targets). */
async function readTarget(
  es: ExternalSecret,
  deps: EsSyncDeps,
  name: string,
): Promise<Secret | ConfigMap | KubeObject | undefined> {
  const ns = es.metadata?.namespace ?? 'default';
  const manifest = manifestOf(es);
  if (!manifest) return deps.kube.getSecret(ns, name);
  if (kindId(manifest) === 'ConfigMap') return deps.kube.getConfigMap(ns, name);
  if (!deps.kube.getObject) throw new EswError('ESW_KUBE', 'this refresher cannot read custom resources');
  return deps.kube.getObject(manifest.apiVersion, manifest.kind, ns, name);
}

const isMap = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * A custom resource as ESO's applyTemplateToManifest builds it, on a copy of the stored object
 * (fields others own stay): without a template the provider data goes to `spec.data`; with one,
 * each templateFrom entry goes to its `target` — `Data` (the object's top-level `data`),
 * `Labels`, `Annotations`, `spec`, or a field path (`spec.database`): a literal's YAML is set
 * there (merged one level into a map already there), an item's value replaces it (parsed as YAML
 * when it parses) — then `template.data` into `data`. Metadata comes only from the labels and
 * annotations: a path into `metadata`, or one that changes apiVersion or kind, is refused.
 */
export function renderCustomResource(
  es: ExternalSecret,
  manifest: TargetManifest,
  data: SecretData,
  sources: TemplateSources,
  existing: KubeObject | undefined,
): { content: Record<string, unknown>; labels: Record<string, string>; annotations: Record<string, string> } {
  const content: Record<string, unknown> = existing
    ? (structuredClone(existing) as Record<string, unknown>)
    : { apiVersion: manifest.apiVersion, kind: manifest.kind, spec: {} };
  delete content.metadata;
  delete content.status;
  const template = es.spec?.target?.template;
  const { labels, annotations } = template ? { labels: {}, annotations: {} } : esMetadata(es);
  const mapAt = (key: string): Record<string, unknown> => {
    const v = content[key];
    if (isMap(v)) return v;
    const m: Record<string, unknown> = {};
    content[key] = m;
    return m;
  };
  if (!template) {
    mapAt('spec').data = Object.fromEntries([...data].map(([k, v]) => [k, v.toString('utf8')]));
  } else {
    const ns = es.metadata?.namespace ?? 'default';
    const budget = new Budget();
    const input = templateInput(data);
    const render = (tpl: string, name: string) => renderTemplate(tpl, input, name, { budget });
    const setPath = (path: string, value: unknown, merge: boolean, field: string) => {
      const parts = path.split('.');
      let current = content;
      for (const part of parts.slice(0, -1)) {
        const next = current[part];
        if (next === undefined || next === null) current[part] = {};
        else if (!isMap(next))
          throw new EswError('ESW_TEMPLATE', `${field}: path ${path} is not a map at segment ${part}`);
        current = current[part] as Record<string, unknown>;
      }
      const last = parts[parts.length - 1] as string;
      const before = current[last];
      current[last] =
        merge && parts.length > 1 && isMap(before) && isMap(value) ? { ...before, ...value } : value;
    };
    const apply = (target: string, k: string, value: string, field: string) => {
      const t = target.toLowerCase();
      if (t === 'labels') labels[k] = value;
      else if (t === 'annotations') annotations[k] = value;
      else if (t === 'data' || t === 'spec') mapAt(t)[k] = value;
      else setPath(target, parseYamlValue(value), false, field);
    };
    for (const [i, tf] of (template.templateFrom ?? []).entries()) {
      const at = `spec.target.template.templateFrom[${i}]`;
      const target = (tf.target as string | undefined) || 'Data';
      const head = target.split('.')[0];
      if (head === 'metadata' || head === 'apiVersion' || head === 'kind')
        throw new EswError(
          'ESW_VALIDATION',
          `${at}.target: ${head} is not written by a template (use Labels or Annotations)`,
        );
      for (const { itemField, key, out, keysAndValues } of sourceItems(tf, at, sources, ns, render)) {
        if (keysAndValues) {
          for (const [k, v] of yamlStringMap(out, itemField)) apply(target, k, v.toString(), itemField);
        } else apply(target, key, out, itemField);
      }
      if (tf.literal !== undefined) {
        const field = `${at}.literal`;
        const out = render(tf.literal, field);
        if (['data', 'labels', 'annotations'].includes(target.toLowerCase())) {
          for (const [k, v] of yamlStringMap(out, field)) apply(target, k, v.toString(), field);
        } else setPath(target, parseYamlDocument(out, field), true, field);
      }
    }
    for (const [key, tpl] of Object.entries(template.data ?? {})) {
      mapAt('data')[key] = render(tpl, `spec.target.template.data.${key}`);
    }
    for (const [k, v] of Object.entries(template.metadata?.labels ?? {})) {
      labels[k] = render(v, `spec.target.template.metadata.labels.${k}`);
    }
    for (const [k, v] of Object.entries(template.metadata?.annotations ?? {})) {
      annotations[k] = render(v, `spec.target.template.metadata.annotations.${k}`);
    }
  }
  // As ESO: rendering must not change the kind written.
  if (content.apiVersion !== manifest.apiVersion || content.kind !== manifest.kind)
    throw new EswError(
      'ESW_VALIDATION',
      `spec.target.template: the rendered target's apiVersion/kind differs from spec.target.manifest (${kindId(manifest)})`,
    );
  return { content, labels, annotations };
}

/** A value at a field path: its YAML value when it parses (ESO's tryParseYAML), else the text. */
function parseYamlValue(text: string): unknown {
  try {
    return parseYaml(text, { maxAliasCount: 0 }) ?? text;
  } catch {
    return text;
  }
}

/** A literal's YAML document for a field path; an error names the field, never the text. */
function parseYamlDocument(text: string, field: string): unknown {
  try {
    return parseYaml(text, { maxAliasCount: 0 });
  } catch {
    throw new EswError('ESW_TEMPLATE', `${field}: the rendered template is not valid YAML`);
  }
}

/** writeTarget for a custom resource (renderCustomResource), conditional on resourceVersion. */
async function writeCustomResource(
  es: ExternalSecret,
  deps: EsSyncDeps,
  name: string,
  manifest: TargetManifest,
  data: SecretData,
  sources: TemplateSources,
): Promise<SyncResult> {
  const ns = es.metadata?.namespace ?? 'default';
  const creation = es.spec?.target?.creationPolicy ?? 'Owner';
  const { getObject, createObject, replaceObject } = deps.kube;
  if (!getObject || !createObject || !replaceObject)
    throw new EswError('ESW_KUBE', 'spec.target.manifest: this refresher cannot write custom resources');
  for (let attempt = 0; attempt <= MAX_CONFLICT_RETRIES; attempt++) {
    const existing = await getObject.call(deps.kube, manifest.apiVersion, manifest.kind, ns, name);
    if (!existing && creation === 'Merge') {
      throw new EswError(
        'ESW_SECRET_NOT_FOUND',
        `target ${manifest.kind} "${ns}/${name}" does not exist (creationPolicy Merge only updates)`,
      );
    }
    const { content, labels, annotations } = renderCustomResource(es, manifest, data, sources, existing);
    const { metadata } = mergeTarget(es, manifest.kind, existing, new Map(), {
      type: undefined,
      data: new Map(),
      labels,
      annotations,
    });
    const ann = { ...(metadata.annotations ?? {}) };
    delete ann[MANAGED_KEYS_ANNOTATION];
    ann[ES_HASH_ANNOTATION] = contentDigest(content);
    const next = { ...content, metadata: { ...metadata, annotations: ann } } as KubeObject;
    if (existing && sameObject(existing, next)) return 'unchanged';
    try {
      if (existing) await replaceObject.call(deps.kube, ns, next);
      else await createObject.call(deps.kube, ns, next);
      return existing ? 'updated' : 'created';
    } catch (err: unknown) {
      if (err instanceof ConflictError) continue;
      throw err;
    }
  }
  throw new EswError('ESW_KUBE', `target ${manifest.kind} "${ns}/${name}": too many conflicting writes`);
}

function sameObject(a: KubeObject, b: KubeObject): boolean {
  const canon = (o: KubeObject) =>
    canonicalJson([
      contentDigest(o),
      o.metadata?.labels ?? {},
      o.metadata?.annotations ?? {},
      (o.metadata?.ownerReferences ?? []).map((r) => r.uid),
    ]);
  return canon(a) === canon(b);
}

function configMapWriter(
  deps: EsSyncDeps,
): Required<Pick<KubeWriter, 'createConfigMap' | 'replaceConfigMap' | 'deleteConfigMap'>> {
  const { createConfigMap, replaceConfigMap, deleteConfigMap } = deps.kube;
  if (!createConfigMap || !replaceConfigMap || !deleteConfigMap)
    throw new EswError('ESW_KUBE', 'spec.target.manifest: this refresher cannot write ConfigMaps');
  return {
    createConfigMap: createConfigMap.bind(deps.kube),
    replaceConfigMap: replaceConfigMap.bind(deps.kube),
    deleteConfigMap: deleteConfigMap.bind(deps.kube),
  };
}

/** writeTarget for a ConfigMap target: values as `data` (UTF-8) or `binaryData` (other bytes). */
async function writeConfigMap(
  es: ExternalSecret,
  deps: EsSyncDeps,
  name: string,
  desired: Desired,
): Promise<SyncResult> {
  const ns = es.metadata?.namespace ?? 'default';
  const creation = es.spec?.target?.creationPolicy ?? 'Owner';
  const writer = configMapWriter(deps);
  for (let attempt = 0; attempt <= MAX_CONFLICT_RETRIES; attempt++) {
    const existing = await deps.kube.getConfigMap(ns, name);
    if (!existing && creation === 'Merge') {
      throw new EswError(
        'ESW_SECRET_NOT_FOUND',
        `target ConfigMap "${ns}/${name}" does not exist (creationPolicy Merge only updates)`,
      );
    }
    const { metadata, data } = mergeTarget(es, 'ConfigMap', existing, configMapData(existing), desired);
    const next: ConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata, ...toConfigMapFields(data) };
    if (es.spec?.target?.immutable || existing?.immutable) next.immutable = true;
    if (existing && sameConfigMap(existing, next)) return 'unchanged';
    if (existing?.immutable) {
      throw new EswError(
        'ESW_VALIDATION',
        `target ConfigMap "${ns}/${name}" is immutable and its data changed; delete it to let it be recreated`,
      );
    }
    try {
      if (existing) {
        await writer.replaceConfigMap(ns, next);
        return 'updated';
      }
      await writer.createConfigMap(ns, next);
      return 'created';
    } catch (err: unknown) {
      if (err instanceof ConflictError) continue;
      throw err;
    }
  }
  throw new EswError('ESW_KUBE', `target ConfigMap "${ns}/${name}": too many conflicting writes`);
}

function sameConfigMap(a: ConfigMap, b: ConfigMap): boolean {
  const canon = (c: ConfigMap) =>
    JSON.stringify([
      sorted(c.data ?? {}),
      sorted(c.binaryData ?? {}),
      sorted(c.metadata?.labels ?? {}),
      sorted(c.metadata?.annotations ?? {}),
      (c.metadata?.ownerReferences ?? []).map((o) => o.uid),
      c.immutable ?? false,
    ]);
  return canon(a) === canon(b);
}

// ------------------------------------------------------------------ status and events

function ready(reason: string, message: string): Condition {
  return { type: 'Ready', status: 'True', reason, message };
}

function notReady(reason: string, message: string): Condition {
  return { type: 'Ready', status: 'False', reason, message };
}

async function setStatus(
  es: ExternalSecret,
  deps: EsSyncDeps,
  condition: Condition,
  bound?: string,
): Promise<void> {
  const previous = es.status?.conditions?.find((c) => c.type === 'Ready');
  const nowIso = new Date(deps.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const changed = !previous || previous.status !== condition.status || previous.reason !== condition.reason;
  const status: ExternalSecretStatus = {
    ...(es.status ?? {}),
    conditions: [
      ...(es.status?.conditions ?? []).filter((c) => c.type !== 'Ready'),
      { ...condition, lastTransitionTime: changed ? nowIso : (previous?.lastTransitionTime ?? nowIso) },
    ],
  };
  if (condition.status === 'True') {
    status.refreshTime = nowIso;
    status.syncedResourceVersion = esoResourceVersion(es);
    if (bound) status.binding = { name: bound };
  }
  await deps.kube.updateExternalSecretStatus(es, status);
}

// ------------------------------------------------------------------ refresh gate

/** What the last full sync recorded: ESO's `status.syncedResourceVersion` and `refreshTime`. */
export interface SyncBasis {
  resourceVersion: string;
  /** ms since epoch */
  refreshTime: number;
}

/**
 * ESO's GetResourceVersion: `<generation>-<sha3-224 of fmt "%+v" of the labels and
 * annotations>`, byte for byte — so a status ESO wrote is understood here after a migration,
 * and any label or annotation change (force-sync among them) counts as a change.
 */
export function esoResourceVersion(es: ExternalSecret): string {
  const text = `{annotations:${goMapText(es.metadata?.annotations)} labels:${goMapText(es.metadata?.labels)}}`;
  return `${es.metadata?.generation ?? 0}-${createHash('sha3-224').update(text, 'utf8').digest('hex')}`;
}

/** Go's fmt `%v` of a map[string]string: `map[k:v k2:v2]`, keys in byte order. */
function goMapText(m: Record<string, string> | undefined): string {
  const keys = Object.keys(m ?? {}).sort(compareGoStrings);
  return `map[${keys.map((k) => `${k}:${(m as Record<string, string>)[k]}`).join(' ')}]`;
}

/** The basis recorded in `es.status` (ESO's reading), or null when it was never synced. */
export function syncedOf(es: ExternalSecret): SyncBasis | null {
  const rv = es.status?.syncedResourceVersion;
  const at = es.status?.refreshTime ? Date.parse(es.status.refreshTime) : Number.NaN;
  if (!rv || Number.isNaN(at)) return null;
  return { resourceVersion: rv, refreshTime: at };
}

/** `spec.refreshInterval` in ms (the CRD's default 1h when absent or unreadable). */
export function refreshIntervalOf(es: ExternalSecret): number {
  const raw = es.spec?.refreshInterval;
  return (raw === undefined ? undefined : parseDuration(raw)) ?? DEFAULT_REFRESH_INTERVAL_MS;
}

export const DEFAULT_REFRESH_INTERVAL_MS = 3_600_000;

/**
 * ESO's shouldRefresh without its clock: false when nothing but a missing or edited target may
 * sync `es` again (CreatedOnce once synced, OnChange with no change, Periodic with interval 0 once
 * synced).
 */
export function needsRefresh(es: ExternalSecret, synced: SyncBasis | null): boolean {
  if (synced === null) return true;
  const policy = es.spec?.refreshPolicy ?? 'Periodic';
  if (policy === 'CreatedOnce') return false;
  if (policy === 'OnChange') return synced.resourceVersion !== esoResourceVersion(es);
  return refreshIntervalOf(es) > 0;
}

/**
 * ESO's shouldRefresh:
 * - `CreatedOnce`: only when never synced;
 * - `OnChange`: when never synced, or the generation, a label or an annotation changed;
 * - `Periodic` (default): never again once synced with `refreshInterval` 0 (not even on a
 *   change or force-sync — ESO since 0.11); else on a change, or once the interval has passed.
 * Whatever it says, a target that is missing or was edited is restored (isTargetValid).
 */
export function shouldRefresh(es: ExternalSecret, synced: SyncBasis | null, now: number): boolean {
  const policy = es.spec?.refreshPolicy ?? 'Periodic';
  if (policy === 'CreatedOnce') return synced === null;
  if (policy === 'OnChange') return synced === null || synced.resourceVersion !== esoResourceVersion(es);
  const interval = refreshIntervalOf(es);
  if (interval <= 0 && synced !== null) return false;
  if (synced === null || synced.resourceVersion !== esoResourceVersion(es)) return true;
  if (synced.refreshTime > now) return true;
  return synced.refreshTime + interval < now;
}

/**
 * ESO's isSecretValid: the target exists, carries the managed label (for the policies that set
 * it here: Owner and Orphan) and its data matches its data-hash annotation. An `Orphan` target is
 * always valid: once written it is not this ExternalSecret's to restore.
 */
export function isTargetValid(
  es: ExternalSecret,
  target: Secret | ConfigMap | KubeObject | undefined | null,
): boolean {
  const creation = es.spec?.target?.creationPolicy ?? 'Owner';
  if (creation === 'Orphan') return true;
  if (!target) return false;
  const merged = creation === 'Merge' || creation === 'CreateOrMerge';
  if (!merged && target.metadata?.labels?.[MANAGED_LABEL] !== 'true') return false;
  const written = target.metadata?.annotations?.[ES_HASH_ANNOTATION];
  const manifest = manifestOf(es);
  const digest = !manifest
    ? dataDigest(target as Secret)
    : kindId(manifest) === 'ConfigMap'
      ? configMapDigest(target as ConfigMap)
      : objectDigest(target);
  return written !== undefined && written === digest;
}

async function event(
  deps: EsSyncDeps,
  es: ExternalSecret,
  type: 'Normal' | 'Warning',
  reason: string,
  message: string,
): Promise<void> {
  await deps.kube.createEvent({ involved: es, type, reason, message });
}
