/**
 * Azure Key Vault change events delivered by Event Grid to the webhook (docs/push-refresh.md,
 * "Azure: Event Grid → the webhook"). Pure and bounded: a delivery body is hostile until its
 * store's secret matched, and even then only names keys — values are always read again.
 *
 * - Both delivery schemas: the Event Grid schema (a JSON array of events) and CloudEvents 1.0
 *   (one structured event, or a batch array). The validation handshake of the Event Grid schema
 *   (`Microsoft.EventGrid.SubscriptionValidationEvent`) is recognised here; the CloudEvents one
 *   is an OPTIONS request (src/server/event-grid.ts).
 * - Key Vault events: a new version of a secret, key or certificate refreshes the dependents of
 *   its name under every spelling a store may read it by (`name`, `secret/name`, `key/name`,
 *   `cert/name`: the azurekv object-type prefixes). A certificate's new version is also a new
 *   version of its managed key and secret. Expiry events (`…NearExpiry`, `…Expired`) and access
 *   policy changes are ignored: they change no value a store reads.
 * - An event about another vault than the store's is ignored: a delivery refreshes its own
 *   store's dependents only.
 */
import type { KubeObject, SecretStore } from '../api/types.ts';
import { AZURE_CLOUDS } from '../providers/azurekv/options.ts';
import { CHANGE_FEED_ANNOTATION } from './types.ts';

/** `esw.io/change-feed: event-grid`: the store's events are pushed by Event Grid. */
export const EVENT_GRID_FEED = 'event-grid';
/**
 * The Secret holding the store's delivery secret: `NAME/KEY` in a SecretStore's namespace,
 * `NAMESPACE/NAME/KEY` for a ClusterSecretStore.
 */
export const FEED_SECRET_ANNOTATION = 'esw.io/change-feed-secret';
/** A delivery secret shorter than this never authenticates (it would be guessable). */
export const MIN_SECRET_LENGTH = 16;
/** Event Grid sends at most 5,000 events in a batch, and at most 1 MiB (preferred batch size). */
export const MAX_EVENTS = 5_000;

const VALIDATION = 'Microsoft.EventGrid.SubscriptionValidationEvent';
const KV = 'Microsoft.KeyVault.';
/** Key Vault object names: 1 to 127 letters, digits and dashes. */
const OBJECT_NAME = /^[0-9A-Za-z-]{1,127}$/;
const VAULT_NAME = /^[0-9A-Za-z-]{3,24}$/;
const K8S_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]{1,253}$/;
const MAX_CODE_LENGTH = 256;
const MAX_FIELD_LENGTH = 2_048;

export type EventResult = 'refresh' | 'ignored' | 'unreadable';

export interface KeyVaultChange {
  result: EventResult;
  /** The keys to refresh (result `refresh`). */
  keys: string[];
}

export type Delivery =
  | { kind: 'validation'; code: string }
  | { kind: 'events'; events: unknown[] }
  | { kind: 'invalid'; error: string };

/** Where the store's delivery secret lives, or why the annotation cannot be used. */
export function feedSecretRef(
  store: KubeObject,
): { namespace: string; name: string; key: string } | { error: string } {
  const text = store.metadata?.annotations?.[FEED_SECRET_ANNOTATION]?.trim();
  const cluster = store.kind === 'ClusterSecretStore';
  const form = cluster ? 'NAMESPACE/NAME/KEY' : 'NAME/KEY';
  if (!text) return { error: `${FEED_SECRET_ANNOTATION} is required with ${EVENT_GRID_FEED}: ${form}` };
  const parts = text.split('/');
  const [namespace, name, key] = cluster ? parts : [store.metadata?.namespace ?? '', parts[0], parts[1]];
  if (
    parts.length !== (cluster ? 3 : 2) ||
    !NAMESPACE.test(namespace ?? '') ||
    !K8S_NAME.test(name ?? '') ||
    !SECRET_KEY.test(key ?? '')
  )
    return { error: `${FEED_SECRET_ANNOTATION} must be ${form}` };
  return { namespace: namespace as string, name: name as string, key: key as string };
}

/** Does the store name the Event Grid feed? */
export function isEventGridStore(store: KubeObject | undefined): boolean {
  return store?.metadata?.annotations?.[CHANGE_FEED_ANNOTATION]?.trim() === EVENT_GRID_FEED;
}

/**
 * A delivery body in either schema: the handshake's validation code, or the events (each still
 * to be read by `keyVaultChange`). A CloudEvents batch and the Event Grid schema are arrays; a
 * structured CloudEvent is one object.
 */
export function parseDelivery(body: unknown): Delivery {
  let events: unknown[];
  if (Array.isArray(body)) events = body;
  else if (body && typeof body === 'object' && 'specversion' in body) events = [body];
  else return { kind: 'invalid', error: 'the body is neither an array of events nor a CloudEvent' };
  if (events.length === 0) return { kind: 'invalid', error: 'no events' };
  if (events.length > MAX_EVENTS) return { kind: 'invalid', error: `more than ${MAX_EVENTS} events` };
  const first = events[0] as Record<string, unknown> | null;
  if (first && typeof first === 'object' && typeOf(first) === VALIDATION) {
    const data = first.data as Record<string, unknown> | null | undefined;
    const code = data && typeof data === 'object' ? data.validationCode : undefined;
    if (typeof code !== 'string' || code === '' || code.length > MAX_CODE_LENGTH)
      return { kind: 'invalid', error: 'the validation event has no usable validationCode' };
    return { kind: 'validation', code };
  }
  return { kind: 'events', events };
}

/** The event's type, in either schema (`eventType` or CloudEvents' `type`). */
function typeOf(event: Record<string, unknown>): string | undefined {
  const t = 'specversion' in event ? event.type : event.eventType;
  return typeof t === 'string' && t.length <= MAX_FIELD_LENGTH ? t : undefined;
}

/**
 * What one event asks of `store`: the keys to refresh, or ignored (not a change of a value, or
 * another vault's), or unreadable (not an event of either schema).
 */
export function keyVaultChange(event: unknown, store: SecretStore): KeyVaultChange {
  const ignored: KeyVaultChange = { result: 'ignored', keys: [] };
  const unreadable: KeyVaultChange = { result: 'unreadable', keys: [] };
  if (!event || typeof event !== 'object' || Array.isArray(event)) return unreadable;
  const e = event as Record<string, unknown>;
  if ('specversion' in e && e.specversion !== '1.0') return unreadable;
  const type = typeOf(e);
  if (!type) return unreadable;
  if (!type.startsWith(KV)) return ignored;
  const kind = /^Microsoft\.KeyVault\.(Secret|Key|Certificate)NewVersionCreated$/.exec(type)?.[1];
  if (!kind) return ignored;
  const data = fields(e.data);
  if (!data) return unreadable;
  const name = data.get('objectname');
  if (typeof name !== 'string' || !OBJECT_NAME.test(name.trim())) return unreadable;
  const objectName = name.trim();
  const source = 'specversion' in e ? e.source : e.topic;
  if (!sameVault(store, data, typeof source === 'string' ? source : undefined)) return ignored;
  const keys =
    kind === 'Secret'
      ? [objectName, `secret/${objectName}`]
      : kind === 'Key'
        ? [`key/${objectName}`]
        : // A certificate's new version is also its managed key's and secret's.
          [`cert/${objectName}`, objectName, `secret/${objectName}`, `key/${objectName}`];
  return { result: 'refresh', keys };
}

/**
 * The event's data members by lower-cased, trimmed name: the service sends `VaultName`,
 * `ObjectName`… (its documented example even has `"ObjectName "`), SDKs write `vaultName`.
 */
function fields(data: unknown): Map<string, unknown> | undefined {
  if (!data || typeof data !== 'object' || Array.isArray(data)) return undefined;
  const entries = Object.entries(data as Record<string, unknown>);
  if (entries.length > 32) return undefined;
  return new Map(entries.map(([k, v]) => [k.trim().toLowerCase(), v]));
}

/**
 * Is the event about the store's vault? The store's `vaultUrl` host is `<VaultName>.<suffix>`
 * for a Key Vault DNS suffix of an Azure cloud, or the host of the object's id (`Id`, a URL in
 * the vault) — which also covers a vault reached under another name. The event's topic, when
 * it names a vault, must name the same one.
 */
function sameVault(store: SecretStore, data: Map<string, unknown>, topic: string | undefined): boolean {
  const url = store.spec?.provider?.azurekv?.vaultUrl;
  const host = hostOf(url);
  if (!host) return false;
  const vault = data.get('vaultname');
  const vaultName =
    typeof vault === 'string' && VAULT_NAME.test(vault.trim()) ? vault.trim().toLowerCase() : '';
  const topicVault = /\/providers\/Microsoft\.KeyVault\/vaults\/([^/]{1,64})$/i.exec(topic ?? '')?.[1];
  if (topicVault && vaultName && topicVault.toLowerCase() !== vaultName) return false;
  if (vaultName && Object.values(AZURE_CLOUDS).some((c) => host === `${vaultName}.${c.keyVaultSuffix}`))
    return true;
  const id = data.get('id');
  return typeof id === 'string' && id.length <= MAX_FIELD_LENGTH && hostOf(id) === host;
}

/** A URL's host (with a port when it has one), lower-cased; undefined when it is not a URL. */
function hostOf(url: unknown): string | undefined {
  if (typeof url !== 'string' || url.length > MAX_FIELD_LENGTH) return undefined;
  try {
    const u = new URL(url.trim());
    return u.protocol === 'https:' ? u.host.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}
