/**
 * Push refreshes (docs/push-refresh.md): what asks the refresher to refresh now rather than on
 * its rounds, and which objects a store-wide request reaches.
 *
 * - `force-sync` (ESO's annotation) on an ExternalSecret, a placeholder Secret, a SecretStore or
 *   a ClusterSecretStore: a *change* of its value is the request (an informer resync is not);
 * - `esw.io/refresh-request` on a store, written by `POST /refresh` (src/server/refresh.ts) on
 *   whichever replica took the request, so that every replica sees it through its informer and
 *   the owner of each dependent — the leader, or each shard's owner — refreshes its own.
 */
import { storeRefsOf } from '../api/controller-class.ts';
import type { ExternalSecret, KubeObject, StoreKind } from '../api/types.ts';
import { FORCE_SYNC_ANNOTATION } from '../api/types.ts';

export { FORCE_SYNC_ANNOTATION };
/** Written by `POST /refresh` on the store: `{"id":…,"at":…,"keys":[…]}` (keys absent: every key). */
export const REFRESH_REQUEST_ANNOTATION = 'esw.io/refresh-request';
/** Keys one request may name, and their length: the annotation stays small whoever wrote it. */
export const MAX_REQUEST_KEYS = 100;
export const MAX_KEY_LENGTH = 512;
const MAX_REQUEST_BYTES = 128 * 1024;

export type TriggerSource = 'force-sync' | 'endpoint' | 'feed';
export type TriggerKind = 'ExternalSecret' | 'Secret' | 'SecretStore' | 'ClusterSecretStore';

export interface StoreId {
  kind: StoreKind;
  /** The SecretStore's namespace; undefined for a ClusterSecretStore. */
  namespace: string | undefined;
  name: string;
}

export interface RefreshRequest {
  id: string;
  /** ms since epoch, when the request was taken */
  at: number;
  /** undefined: every key of the store */
  keys: string[] | undefined;
  /** `feed` when a change feed's consumer recorded it (src/cluster.ts); else POST /refresh. */
  source?: 'feed';
}

/** The force-sync value of an object (undefined when it has none). */
export function forceSyncOf(obj: KubeObject | undefined): string | undefined {
  return obj?.metadata?.annotations?.[FORCE_SYNC_ANNOTATION];
}

/**
 * The request recorded on a store, or undefined when it has none or it cannot be read (anyone
 * who may patch the store may write it: it is bounded and checked, never trusted).
 */
export function refreshRequestOf(obj: KubeObject | undefined): RefreshRequest | undefined {
  const text = obj?.metadata?.annotations?.[REFRESH_REQUEST_ANNOTATION];
  if (typeof text !== 'string' || text.length > MAX_REQUEST_BYTES) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const { id, at, keys, source } = parsed as Record<string, unknown>;
  if (typeof id !== 'string' || id === '') return undefined;
  const when = typeof at === 'string' ? Date.parse(at) : Number.NaN;
  const from = source === 'feed' ? { source: 'feed' as const } : {};
  if (keys === undefined) return { id, at: Number.isNaN(when) ? 0 : when, keys: undefined, ...from };
  if (!Array.isArray(keys) || keys.length > MAX_REQUEST_KEYS) return undefined;
  if (!keys.every((k) => typeof k === 'string' && k !== '' && k.length <= MAX_KEY_LENGTH)) return undefined;
  return { id, at: Number.isNaN(when) ? 0 : when, keys: keys as string[], ...from };
}

/** The annotation value of a request (what `refreshRequestOf` reads back). */
export function formatRefreshRequest(req: RefreshRequest): string {
  return JSON.stringify({
    id: req.id,
    at: new Date(req.at).toISOString(),
    ...(req.keys ? { keys: req.keys } : {}),
    ...(req.source ? { source: req.source } : {}),
  });
}

export function storeOfObject(obj: KubeObject): StoreId | undefined {
  const name = obj.metadata?.name;
  if (!name) return undefined;
  if (obj.kind === 'ClusterSecretStore') return { kind: 'ClusterSecretStore', namespace: undefined, name };
  if (obj.kind === 'SecretStore')
    return { kind: 'SecretStore', namespace: obj.metadata?.namespace ?? 'default', name };
  return undefined;
}

/** `ref` (as an object in `namespace` names it) is `store`. */
export function sameStore(
  store: StoreId,
  ref: { kind?: string | undefined; name?: string | undefined },
  namespace: string,
): boolean {
  const kind = ref.kind === 'ClusterSecretStore' ? 'ClusterSecretStore' : 'SecretStore';
  if (kind !== store.kind || ref.name !== store.name) return false;
  return kind === 'ClusterSecretStore' || namespace === store.namespace;
}

/**
 * True when `es` reads from `store` — any of `keys` when given (data, dataFrom.extract; a
 * dataFrom.find reads keys by pattern, so it counts for any key).
 */
export function esReadsFrom(
  es: ExternalSecret,
  store: StoreId,
  keys: ReadonlySet<string> | undefined,
): boolean {
  const ns = es.metadata?.namespace ?? 'default';
  if (!storeRefsOf(es).some((r) => sameStore(store, r, ns))) return false;
  const def = es.spec?.secretStoreRef;
  const inStore = (sourceRef: { storeRef?: { kind?: string; name?: string } } | undefined) => {
    const ref = sourceRef?.storeRef ?? def;
    return ref !== undefined && sameStore(store, ref, ns);
  };
  for (const d of es.spec?.data ?? []) {
    if (!inStore(d.sourceRef)) continue;
    if (!keys || (d.remoteRef?.key !== undefined && keys.has(d.remoteRef.key))) return true;
  }
  for (const d of es.spec?.dataFrom ?? []) {
    if (!inStore(d.sourceRef)) continue;
    if (!keys || d.find || (d.extract?.key !== undefined && keys.has(d.extract.key))) return true;
  }
  return false;
}
