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
import type {
  Condition,
  ExternalSecret,
  ExternalSecretDataFrom,
  ExternalSecretStatus,
  RemoteRef,
  Rewrite,
  Secret,
  StoreKind,
} from '../api/types.ts';
import { EswError, errorMessage, isEswError } from '../errors.ts';
import { parseErrorText } from '../observability/sanitize.ts';
import { compileGoRegexp, type GoRegexp, PatternError } from '../patterns/re2.ts';
import type { LookupOptions, Resolver, StoreRef } from '../resolve/types.ts';
import { Budget, renderTemplate, templateBytes, templateInput } from '../template/index.ts';
import { ConflictError, type KubeWriter } from './ports.ts';
import { dataHash, decodeData, encodeData, type SecretData } from './secret-data.ts';

export const MANAGED_LABEL = 'reconcile.external-secrets.io/managed';
export const ES_HASH_ANNOTATION = 'reconcile.external-secrets.io/data-hash';
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
}

export interface EsSyncDeps {
  resolver: Resolver;
  kube: KubeWriter;
  now: () => number;
  /** The refresh path asks for values fetched in this cycle (see LookupOptions.fetchedAfter). */
  lookup?: LookupOptions;
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
    let map: Map<string, Buffer>;
    // As ESO: with a rewrite the remote names are renamed by it, not by conversionStrategy.
    const lookup = df.rewrite?.length ? { ...opts, skipKeyConversion: true } : opts;
    try {
      if (df.extract) map = await resolver.getMap(store, ns, df.extract as RemoteRef, lookup);
      else if (df.find) map = await resolver.find(store, ns, df.find, lookup);
      else throw new EswError('ESW_VALIDATION', `${field}: needs extract or find`);
    } catch (err: unknown) {
      if (!gone(err)) throw err;
      skip.missing?.push({ field, key: df.extract?.key ?? '' });
      continue;
    }
    for (const [k, v] of rewriteKeys(map, df, field)) out.set(k, v);
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

function rewriteKeys(
  map: Map<string, Buffer>,
  df: ExternalSecretDataFrom,
  field: string,
): Map<string, Buffer> {
  let current = map;
  for (const [j, rw] of (df.rewrite ?? []).entries())
    current = applyRewrite(current, rw, `${field}.rewrite[${j}]`);
  return current;
}

/** Go's regexp, as ESO's rewrite compiles it (src/patterns/re2.ts). */
function rewriteRegexp(source: string, field: string): GoRegexp {
  try {
    return compileGoRegexp(source);
  } catch (err: unknown) {
    if (!(err instanceof PatternError)) throw err;
    throw new EswError('ESW_VALIDATION', `${field}.regexp.source: ${err.message}`);
  }
}

function applyRewrite(map: Map<string, Buffer>, rw: Rewrite, field: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const re = rw.regexp?.source !== undefined ? rewriteRegexp(rw.regexp.source, field) : undefined;
  for (const [key, value] of map) {
    let next = key;
    if (re) {
      // Go's ReplaceAllString with Go's `$1`/`${name}` expansion, as ESO's rewrite.
      next = re.replaceAll(key, rw.regexp?.target ?? '');
    } else if (rw.transform?.template !== undefined) {
      next = renderTemplate(rw.transform.template, { value: key }, `${field}.transform.template`);
    }
    out.set(next, value);
  }
  return out;
}

// ------------------------------------------------------------------ desired Secret

export interface Desired {
  type: string | undefined;
  data: SecretData;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export function applyTemplate(es: ExternalSecret, data: SecretData): Desired {
  const template = es.spec?.target?.template;
  const desired: Desired = { type: template?.type, data, labels: {}, annotations: {} };
  if (!template) return desired;
  const input = templateInput(data);
  // One budget for every template of this ExternalSecret: many small templates cannot add up.
  const budget = new Budget();
  const render = (tpl: string, name: string) => renderTemplate(tpl, input, name, { budget });
  const rendered: SecretData = new Map();
  for (const [key, tpl] of Object.entries(template.data ?? {})) {
    rendered.set(key, templateBytes(render(tpl, `spec.target.template.data.${key}`)));
  }
  for (const [i, tf] of (template.templateFrom ?? []).entries()) {
    if (tf.literal === undefined) {
      throw new EswError(
        'ESW_TEMPLATE',
        `spec.target.template.templateFrom[${i}]: only literal is supported`,
      );
    }
    const field = `spec.target.template.templateFrom[${i}].literal`;
    const text = render(tf.literal, field);
    for (const [k, value] of literalEntries(text, field)) {
      if (tf.target === 'Labels') desired.labels[k] = value;
      else if (tf.target === 'Annotations') desired.annotations[k] = value;
      else rendered.set(k, Buffer.from(value, 'utf8'));
    }
  }
  const templated =
    Object.keys(template.data ?? {}).length > 0 ||
    (template.templateFrom ?? []).some((tf) => (tf.target ?? 'Data') === 'Data');
  if (templated) desired.data = template.mergePolicy === 'Merge' ? new Map([...data, ...rendered]) : rendered;
  for (const [k, v] of Object.entries(template.metadata?.labels ?? {})) {
    desired.labels[k] = render(v, `spec.target.template.metadata.labels.${k}`);
  }
  for (const [k, v] of Object.entries(template.metadata?.annotations ?? {})) {
    desired.annotations[k] = render(v, `spec.target.template.metadata.annotations.${k}`);
  }
  return desired;
}

/**
 * The map a rendered `templateFrom` literal holds. The text holds secret values, and the YAML
 * parser quotes the text around an error: only the error's code and position are reported.
 */
function literalEntries(text: string, field: string): [string, string][] {
  try {
    // logLevel 'error': the parser's warnings (unknown tags…) quote the text too.
    const parsed = parseYaml(text, { logLevel: 'error' }) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new EswError('ESW_TEMPLATE', `${field} must render a map`);
    }
    return Object.entries(parsed).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]);
  } catch (err: unknown) {
    if (isEswError(err)) throw err;
    throw new EswError('ESW_TEMPLATE', `${field}: the rendered template is ${parseErrorText(err)}`);
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
  try {
    const type = target.template?.type;
    if (type && PRIVILEGED_TYPES.has(type)) {
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
      await setStatus(es, deps, ready('SecretSynced', 'secret synced'), targetName);
      return { result: 'unchanged' };
    }
    const desired = applyTemplate(es, data);
    if (creation === 'None') {
      await setStatus(
        es,
        deps,
        ready('SecretSynced', 'secret synced (creationPolicy None: nothing written)'),
      );
      return { result: 'skipped' };
    }
    const result = await writeTarget(es, deps, targetName, desired);
    if (result === 'created' || result === 'updated') {
      await event(
        deps,
        es,
        'Normal',
        result === 'created' ? 'Created' : 'Updated',
        `${result === 'created' ? 'Created' : 'Updated'} Secret ${targetName}`,
      );
    }
    await setStatus(es, deps, ready('SecretSynced', 'secret synced'), targetName);
    return { result };
  } catch (err: unknown) {
    // The Secret is not touched: its data stays as it was.
    const message = isEswError(err) ? err.message : `sync failed: ${errorMessage(err)}`;
    await event(deps, es, 'Warning', 'UpdateFailed', message).catch(() => undefined);
    await setStatus(es, deps, notReady('SecretSyncedError', message)).catch(() => undefined);
    return { result: 'error', error: err };
  }
}

async function writeTarget(
  es: ExternalSecret,
  deps: EsSyncDeps,
  name: string,
  desired: Desired,
): Promise<SyncResult> {
  const ns = es.metadata?.namespace ?? 'default';
  const creation = es.spec?.target?.creationPolicy ?? 'Owner';
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
    if (existing && sameContent(existing, next)) return 'unchanged';
    if (existing?.immutable) {
      throw new EswError(
        'ESW_VALIDATION',
        `target Secret "${ns}/${name}" is immutable and its data changed; delete it to let it be recreated`,
      );
    }
    try {
      if (existing) {
        await deps.kube.replaceSecret(ns, next);
        return 'updated';
      }
      await deps.kube.createSecret(ns, next);
      return 'created';
    } catch (err: unknown) {
      if (err instanceof ConflictError) continue;
      throw err;
    }
  }
  throw new EswError('ESW_KUBE', `target Secret "${ns}/${name}": too many conflicting writes`);
}

function mergeInto(es: ExternalSecret, existing: Secret | undefined, desired: Desired): Secret {
  const creation = es.spec?.target?.creationPolicy ?? 'Owner';
  const ns = es.metadata?.namespace ?? 'default';
  const name = es.spec?.target?.name || es.metadata?.name || '';
  const mergeData = creation === 'Merge' || creation === 'CreateOrMerge';
  let data = desired.data;
  const labels = { ...(existing?.metadata?.labels ?? {}), ...desired.labels };
  const annotations = { ...(existing?.metadata?.annotations ?? {}), ...desired.annotations };
  if (mergeData) {
    // Keys written before and no longer wanted (remote gone, removed from the spec) go; the
    // Secret's other keys stay. ESO knows its keys from managedFields; we record them.
    const base = decodeData(existing?.data);
    for (const k of managedKeys(es, existing)) if (!desired.data.has(k)) base.delete(k);
    data = new Map([...base, ...desired.data]);
    annotations[MANAGED_KEYS_ANNOTATION] = JSON.stringify([...desired.data.keys()].sort());
  }
  if (!mergeData) labels[MANAGED_LABEL] = 'true';
  annotations[ES_HASH_ANNOTATION] = dataHash(data);
  let ownerReferences = existing?.metadata?.ownerReferences ?? [];
  if (creation === 'Owner') {
    const uid = es.metadata?.uid ?? '';
    const other = ownerReferences.find((o) => o.controller && o.uid !== uid);
    if (other) {
      throw new EswError(
        'ESW_VALIDATION',
        `target Secret "${ns}/${name}" is controlled by ${other.kind} "${other.name}"`,
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
  const secret: Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      ...(existing?.metadata ?? {}),
      name,
      namespace: ns,
      labels,
      annotations,
      ...(ownerReferences.length > 0 ? { ownerReferences } : {}),
    },
    type: desired.type ?? existing?.type ?? 'Opaque',
    data: encodeData(data),
  };
  if (es.spec?.target?.immutable || existing?.immutable) secret.immutable = true;
  return secret;
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
function managedKeys(es: ExternalSecret, existing: Secret | undefined): string[] {
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
      `deletionPolicy Delete: creationPolicy ${creation} does not own Secret "${ns}/${name}", it is not deleted`,
    );
  }
  const existing = await deps.kube.getSecret(ns, name);
  if (existing) {
    const uid = es.metadata?.uid ?? '';
    const ours = (existing.metadata?.ownerReferences ?? []).some((o) => o.controller && o.uid === uid);
    if (!ours) {
      throw new EswError(
        'ESW_VALIDATION',
        `target Secret "${ns}/${name}" is not controlled by this ExternalSecret, it is not deleted`,
      );
    }
    await deps.kube.deleteSecret(ns, name);
    await event(
      deps,
      es,
      'Normal',
      'Deleted',
      `Deleted Secret ${name}: the remote secret is gone (deletionPolicy Delete)`,
    );
  }
  await setStatus(es, deps, ready('SecretDeleted', 'secret deleted due to DeletionPolicy'));
  return { result: existing ? 'deleted' : 'unchanged' };
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
    status.syncedResourceVersion = syncedResourceVersion(es);
    if (bound) status.binding = { name: bound };
  }
  await deps.kube.updateExternalSecretStatus(es, status);
}

/** ESO's form: "<generation>-<hash of labels and annotations>". */
export function syncedResourceVersion(es: ExternalSecret): string {
  const meta = JSON.stringify([sorted(es.metadata?.labels ?? {}), sorted(es.metadata?.annotations ?? {})]);
  return `${es.metadata?.generation ?? 0}-${createHash('sha256').update(meta).digest('hex').slice(0, 16)}`;
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
