/**
 * `metadataPolicy: Fetch` on Vault KV v2, as ESO 2.9 (client_get.go: readSecretMetadata,
 * buildMetadataPath, getSecretValue): the secret's `custom_metadata`, with `created_time`,
 * `current_version` and `delete_version_after` from its metadata, never its data. Pure: the
 * client reads `<mount>/metadata/<path>`, these functions shape and select, and the registry
 * offers the selection before the client module is loaded.
 *
 * - no property: the entries as JSON, as Go marshals a map (keys sorted, `<`, `>`, `&`
 *   escaped); an entry named by the property; else a gjson path into that JSON;
 * - a secret without any entry reads as an empty value (ESO returns nil), and cannot be
 *   extracted;
 * - `dataFrom.extract`: each entry; `version` is ignored (metadata belongs to the secret).
 * KV v1 has no metadata: refused at admission (src/api/ref-support.ts) and here.
 */
import type { VaultProvider } from '../../api/types.ts';
import { EswError } from '../../errors.ts';
import { extractMap, getProperty } from '../../refs/property.ts';
import { goJsonStringMap } from '../go-json.ts';
import { type Provider, ProviderError, type SelectRef } from '../types.ts';
import type { KvLayout } from './options.ts';

/** The KV v2 metadata fields ESO reports next to custom_metadata. */
const SYSTEM_KEYS = ['created_time', 'current_version', 'delete_version_after'] as const;

/**
 * ESO's buildMetadataPath: with a mount, the key's mount prefix (and `data/`) is dropped and
 * `<mount>/metadata/<rest>` read; without one, the key's first `/data/` becomes `/metadata/`.
 * Returns the request path, segments URL-encoded.
 */
export function kvMetadataReadPath(layout: KvLayout, key: string): string {
  return logicalPath(layout, key)
    .split('/')
    .map((segment) => encodeURIComponent(segment))
    .join('/');
}

function logicalPath(layout: KvLayout, key: string): string {
  if (layout.version === 'v1') {
    throw new ProviderError('Invalid', 'vault: metadataPolicy Fetch needs KV v2 (KV v1 has no metadata)');
  }
  if (layout.mount === undefined) {
    if (!key.includes('data')) {
      throw new ProviderError(
        'Invalid',
        `vault: "${key}" is not a KV v2 path: without spec.provider.vault.path the key names its mount and data/ segment`,
      );
    }
    return key.replace('/data/', '/metadata/');
  }
  let rest = key;
  if (rest.startsWith(`${layout.mount}/`)) {
    rest = rest.slice(layout.mount.length + 1);
    if (rest.startsWith('data/')) rest = rest.slice('data/'.length);
  }
  return `${layout.mount}/metadata/${rest}`;
}

/** Go's `fmt.Sprintf("%v", v)` of a JSON value as Vault's client decodes it (numbers kept as text). */
function goPrint(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v) ?? '';
}

/** The metadata document from a `GET <mount>/metadata/<path>` answer's `data`. */
export function metadataDocument(data: Record<string, unknown> | undefined): Uint8Array {
  const entries = new Map<string, string>();
  for (const k of SYSTEM_KEYS) {
    const v = data?.[k];
    if (v !== undefined && v !== null) entries.set(k, goPrint(v));
  }
  const custom = data?.custom_metadata;
  if (custom && typeof custom === 'object' && !Array.isArray(custom)) {
    for (const [k, v] of Object.entries(custom as Record<string, unknown>)) entries.set(k, goPrint(v));
  }
  return new TextEncoder().encode(goJsonStringMap(entries));
}

function entriesOf(raw: Uint8Array): Record<string, string> {
  // Written by metadataDocument above: parsing cannot fail on tenant data.
  return JSON.parse(Buffer.from(raw).toString('utf8')) as Record<string, string>;
}

function selectValue(_spec: VaultProvider, raw: Uint8Array, ref: SelectRef): Uint8Array | undefined {
  if (!ref.metadata) return undefined;
  const entries = entriesOf(raw);
  if (Object.keys(entries).length === 0) return new Uint8Array();
  const property = ref.property ?? '';
  if (!property) return raw;
  // As ESO: an entry named by the property wins over a gjson path.
  if (Object.hasOwn(entries, property)) return new TextEncoder().encode(entries[property]);
  return getProperty(raw, property, { key: `${ref.key} (metadata)`, store: ref.store });
}

function selectMap(
  spec: VaultProvider,
  raw: Uint8Array,
  ref: SelectRef,
): Map<string, Uint8Array> | undefined {
  if (!ref.metadata) return undefined;
  const selected = selectValue(spec, raw, ref) as Uint8Array;
  if (selected.length === 0) {
    throw new EswError(
      'ESW_DECODE',
      `metadata of "${ref.key}" of ${ref.store} is empty: dataFrom.extract needs a JSON object`,
    );
  }
  return extractMap(selected, undefined, { key: `${ref.key} (metadata)`, store: ref.store });
}

export const vaultSelection: Pick<Provider<VaultProvider>, 'selectValue' | 'selectMap'> = {
  selectValue,
  selectMap,
};
