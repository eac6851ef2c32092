/**
 * Key Vault objects as ESO's azurekv provider returns them (keyvault.go, keyvault_new_sdk.go in
 * ESO 2.9). Pure: the client (index.ts) fetches, these functions shape and select, and the
 * registry offers the selection before the SDK is loaded.
 *
 * - `name` or `secret/name`: the secret's value; `key/name`: the key's JWK as JSON (public parts
 *   only: Key Vault never exports private keys); `cert/name`: the certificate's DER bytes
 *   (`cer`), whatever `property` says. A key's `property` and a secret's read the JSON as a
 *   gjson path first, then as one dotted key.
 * - The JWK's member order follows the SDK ESO uses: the legacy go-autorest client (the
 *   default, `useAzureSDK` unset or false) marshals the struct in the service's order; the
 *   Azure SDK for Go (`useAzureSDK: true`) marshals a map, so its members are sorted.
 * - `metadataPolicy: Fetch` reads the object's tags — and, with the legacy client, its
 *   `attribute.expires`, `attribute.created`, `attribute.updated` and `attribute.notBefore`
 *   times (RFC 3339, UTC) — instead of its value: no property gives them all as a JSON object,
 *   a property one tag, `tag.path` a gjson path into a tag holding JSON.
 * - `dataFrom.extract` of a secret with Fetch gives each tag as `<name>_<tag>`, a tag holding a
 *   JSON object of strings as `<name>_<tag>_<key>` per entry; of a key or certificate it fails,
 *   as in ESO.
 */
import type { JsonWebKey } from '@azure/keyvault-keys';
import type { AzureKvProvider } from '../../api/types.ts';
import { EswError } from '../../errors.ts';
import { extractMap, getProperty } from '../../refs/property.ts';
import { goJson, goJsonStringMap } from '../go-json.ts';
import type { Provider, SelectRef } from '../types.ts';

export const OBJECT_TYPES = ['secret', 'key', 'cert'] as const;
export type ObjectType = (typeof OBJECT_TYPES)[number];

/**
 * ESO's getObjType: without a `/` the key names a secret; with one, the first segment is the
 * type and the second the name (later segments are ignored, as in ESO).
 */
export function parseObjectName(key: string): { type: string; name: string } {
  const parts = key.split('/');
  if (parts.length < 2) return { type: 'secret', name: key };
  return { type: parts[0] as string, name: parts[1] as string };
}

/** Which of ESO's two Azure SDKs for Go the store selects; it shapes keys and metadata. */
export function usesNewSdk(spec: Pick<AzureKvProvider, 'useAzureSDK'>): boolean {
  return spec.useAzureSDK === true;
}

// ------------------------------------------------------------------ keys

type JwkMember = readonly [json: string, field: keyof JsonWebKey];

/** The legacy client's JSONWebKey struct: the service's member order. */
const LEGACY_ORDER: readonly JwkMember[] = [
  ['kid', 'kid'],
  ['kty', 'kty'],
  ['key_ops', 'keyOps'],
  ['n', 'n'],
  ['e', 'e'],
  ['d', 'd'],
  ['dp', 'dp'],
  ['dq', 'dq'],
  ['qi', 'qi'],
  ['p', 'p'],
  ['q', 'q'],
  ['k', 'k'],
  ['key_hsm', 't'],
  ['crv', 'crv'],
  ['x', 'x'],
  ['y', 'y'],
];
const SORTED_ORDER: readonly JwkMember[] = [...LEGACY_ORDER].sort(([a], [b]) => (a < b ? -1 : 1));

/** The JWK as ESO writes it (`json.Marshal(key)`); byte members as unpadded base64url. */
export function jwkJson(key: JsonWebKey, newSdk: boolean): string {
  const members: string[] = [];
  for (const [json, field] of newSdk ? SORTED_ORDER : LEGACY_ORDER) {
    const v = key[field];
    if (v === undefined || v === null) continue;
    let encoded: string;
    if (v instanceof Uint8Array) encoded = goJson(Buffer.from(v).toString('base64url'));
    else if (Array.isArray(v)) encoded = `[${v.map((op) => goJson(String(op))).join(',')}]`;
    else encoded = goJson(String(v));
    members.push(`${goJson(json)}:${encoded}`);
  }
  return `{${members.join(',')}}`;
}

// ------------------------------------------------------------------ metadata

/** The metadata document the client caches for `metadataPolicy: Fetch` (our own format). */
export interface ObjectMetadata {
  /** The object's name (without its type prefix). */
  name: string;
  tags: Record<string, string>;
  /** `attribute.expires` … -> RFC 3339 time, for the times the object has. */
  attributes: Record<string, string>;
}

const ATTRIBUTES = ['expires', 'created', 'updated', 'notBefore'] as const;
export type AttributeName = (typeof ATTRIBUTES)[number];

/** Go's `time.Format(time.RFC3339)` of a UTC time: seconds, no fraction. */
function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function metadataDocument(
  name: string,
  tags: Record<string, string> | undefined,
  times: Partial<Record<AttributeName, Date | undefined>>,
): Uint8Array {
  const attributes: Record<string, string> = {};
  for (const a of ATTRIBUTES) {
    const t = times[a];
    if (t && Number.isFinite(t.getTime())) attributes[`attribute.${a}`] = rfc3339(t);
  }
  const doc: ObjectMetadata = { name, tags: { ...(tags ?? {}) }, attributes };
  return new TextEncoder().encode(JSON.stringify(doc));
}

function readMetadata(raw: Uint8Array): ObjectMetadata {
  // Written by metadataDocument above, never by the service: parsing cannot fail on tenant data.
  return JSON.parse(Buffer.from(raw).toString('utf8')) as ObjectMetadata;
}

/** Tags, and with the legacy client the attribute times: ESO's getSecretAllMetadata. */
function allMetadata(doc: ObjectMetadata, newSdk: boolean): Map<string, string> {
  const out = new Map(Object.entries(doc.tags));
  if (!newSdk) for (const [k, v] of Object.entries(doc.attributes)) out.set(k, v);
  return out;
}

const encoder = new TextEncoder();

/** ESO's getSecretTag: every tag as JSON, one tag, or a gjson path into a tag. */
function selectTag(tags: Map<string, string>, property: string, ref: SelectRef): Uint8Array {
  if (!property) return encoder.encode(goJsonStringMap(tags));
  const exact = tags.get(property);
  if (exact !== undefined) return encoder.encode(exact);
  const dot = property.indexOf('.');
  if (dot > 0) {
    const tag = tags.get(property.slice(0, dot));
    if (tag !== undefined) {
      return getProperty(
        encoder.encode(tag),
        property.slice(dot + 1),
        { key: `${ref.key} (tag "${property.slice(0, dot)}")`, store: ref.store },
        'path-first',
      );
    }
  }
  throw new EswError('ESW_PROPERTY_NOT_FOUND', `tag "${property}" not found on "${ref.key}" of ${ref.store}`);
}

/**
 * ESO's getSecretTags for `dataFrom.extract`: `<name>_<tag>`, a tag that is a JSON object of
 * strings spread as `<name>_<tag>_<key>`, and (legacy client) `<name>_attribute.<time>`.
 */
function prefixedTags(doc: ObjectMetadata, newSdk: boolean): Map<string, string> {
  const out = new Map<string, string>();
  for (const [tag, value] of Object.entries(doc.tags)) {
    const prefix = `${doc.name}_${tag}`;
    const spread = stringObject(value);
    if (spread === undefined) out.set(prefix, value);
    else for (const [k, v] of spread) out.set(`${prefix}_${k}`, v);
  }
  if (!newSdk) for (const [k, v] of Object.entries(doc.attributes)) out.set(`${doc.name}_${k}`, v);
  return out;
}

/**
 * What Go's `json.Unmarshal(value, &map[string]string{})` accepts: an object whose members are
 * strings or null (null leaves ""), later duplicates winning; `null` itself gives no entries.
 * Anything else is undefined (ESO keeps the tag as it is).
 */
function stringObject(value: string): Map<string, string> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (parsed === null) return new Map();
  if (typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (v === null) out.set(k, '');
    else if (typeof v === 'string') out.set(k, v);
    else return undefined;
  }
  return out;
}

// ------------------------------------------------------------------ selection

function selectValue(spec: AzureKvProvider, raw: Uint8Array, ref: SelectRef): Uint8Array {
  const newSdk = usesNewSdk(spec);
  if (ref.metadata) return selectTag(allMetadata(readMetadata(raw), newSdk), ref.property ?? '', ref);
  // A certificate is its DER bytes: ESO ignores the property there.
  if (parseObjectName(ref.key).type === 'cert') return raw;
  return getProperty(raw, ref.property, { key: ref.key, store: ref.store }, 'path-first');
}

function selectMap(spec: AzureKvProvider, raw: Uint8Array, ref: SelectRef): Map<string, Uint8Array> {
  const { type } = parseObjectName(ref.key);
  if (type === 'key' || type === 'cert') {
    throw new EswError(
      'ESW_PROVIDER_INVALID',
      `"${ref.key}" of ${ref.store}: dataFrom.extract cannot read Key Vault ${type === 'key' ? 'keys' : 'certificates'}`,
    );
  }
  const selected = selectValue(spec, raw, ref);
  if (!ref.metadata) return extractMap(selected, undefined, { key: ref.key, store: ref.store });
  const tags = prefixedTags(readMetadata(raw), usesNewSdk(spec));
  const property = ref.property ?? '';
  if (!property) return new Map([...tags].map(([k, v]) => [k, encoder.encode(v)]));
  // ESO reads `<key>_<property>` (the key as written, type prefix included) and keeps the
  // entry, empty, when the tag is not there.
  const name = `${ref.key}_${property}`;
  let value: Uint8Array;
  try {
    value = selectTag(tags, name, ref);
  } catch {
    value = new Uint8Array();
  }
  return new Map([[name, value]]);
}

export const azureKvSelection: Pick<Provider<AzureKvProvider>, 'selectValue' | 'selectMap'> = {
  selectValue,
  selectMap,
};
