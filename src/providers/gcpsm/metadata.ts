/**
 * `metadataPolicy: Fetch` on GCP Secret Manager, as ESO's getSecretMetadata (secretmanager
 * client.go, ESO 2.9): the secret's labels and annotations (GetSecret; versions have none),
 * never its payload. Pure: the client fetches, these functions shape and select, and the
 * registry offers the selection before the SDK is loaded.
 *
 * - no property: `{"annotations":{…},"labels":{…}}` as Go marshals it (keys sorted, a secret
 *   without any as `null`);
 * - `annotations` / `labels`: that map as JSON; `annotations.<key>` / `labels.<key>`: one entry,
 *   the rest of the property taken whole (annotation keys may hold dots);
 * - anything else is refused, as in ESO;
 * - `dataFrom.extract` reads the selected JSON object's members.
 */
import type { GcpSmProvider } from '../../api/types.ts';
import { EswError } from '../../errors.ts';
import { extractMap } from '../../refs/property.ts';
import { type GoJsonValue, goJson } from '../go-json.ts';
import type { Provider, SelectRef } from '../types.ts';

type StringMap = Record<string, string>;

/** The cached document: both maps, `null` where the secret has none (Go's nil map). */
interface SecretMetadata {
  annotations: StringMap | null;
  labels: StringMap | null;
}

const nonEmpty = (m: Record<string, string> | null | undefined): StringMap | null =>
  m && Object.keys(m).length > 0 ? { ...m } : null;

export function metadataDocument(
  annotations: Record<string, string> | null | undefined,
  labels: Record<string, string> | null | undefined,
): Uint8Array {
  const doc: SecretMetadata = { annotations: nonEmpty(annotations), labels: nonEmpty(labels) };
  return encoder.encode(goJson(doc as unknown as GoJsonValue));
}

const encoder = new TextEncoder();

function readMetadata(raw: Uint8Array): SecretMetadata {
  // Written by metadataDocument above, never by the service: parsing cannot fail on tenant data.
  return JSON.parse(Buffer.from(raw).toString('utf8')) as SecretMetadata;
}

const MAPS = ['annotations', 'labels'] as const;
const SINGULAR = { annotations: 'annotation', labels: 'label' } as const;

function selectValue(_spec: GcpSmProvider, raw: Uint8Array, ref: SelectRef): Uint8Array | undefined {
  if (!ref.metadata) return undefined;
  const property = ref.property ?? '';
  if (!property) return raw;
  const doc = readMetadata(raw);
  for (const which of MAPS) {
    const prefix = `${which}.`;
    if (!property.startsWith(prefix) || property.length === prefix.length) continue;
    const entry = property.slice(prefix.length);
    const value = doc[which]?.[entry];
    if (value === undefined || !Object.hasOwn(doc[which] ?? {}, entry)) {
      throw new EswError(
        'ESW_PROPERTY_NOT_FOUND',
        `${SINGULAR[which]} "${entry}" not found on secret "${ref.key}" of ${ref.store}`,
      );
    }
    return encoder.encode(value);
  }
  for (const which of MAPS) {
    if (property === which) return encoder.encode(goJson(doc[which]));
  }
  throw new EswError(
    'ESW_PROPERTY_NOT_FOUND',
    `property "${property}" of secret "${ref.key}" of ${ref.store}: with metadataPolicy Fetch a property starts with "annotations" or "labels"`,
  );
}

function selectMap(
  spec: GcpSmProvider,
  raw: Uint8Array,
  ref: SelectRef,
): Map<string, Uint8Array> | undefined {
  if (!ref.metadata) return undefined;
  const selected = selectValue(spec, raw, ref) as Uint8Array;
  // json.Unmarshal of `null` into a map leaves it empty: a secret without labels extracts none.
  if (Buffer.from(selected).toString('utf8') === 'null') return new Map();
  return extractMap(selected, undefined, { key: ref.key, store: ref.store });
}

export const gcpSmSelection: Pick<Provider<GcpSmProvider>, 'selectValue' | 'selectMap'> = {
  selectValue,
  selectMap,
};
