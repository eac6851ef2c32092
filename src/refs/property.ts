/**
 * `remoteRef.property` and `dataFrom.extract`, with the External Secrets Operator's semantics.
 *
 * ESO reads a property with gjson, first with every `.` escaped (so a top-level key that contains
 * dots wins: `gjson.Get(payload, strings.ReplaceAll(property, ".", "\\."))` in its providers),
 * then as a path. Paths follow gjson:
 * - `.` separates components, `\` escapes the next character (`a\.b` is the key `a.b`);
 * - a number indexes an array (`users.0.name`), `#` is an array's length, `list.#.name`
 *   collects `name` of every element;
 * - `*` and `?` in a component are wildcards over object keys (src/patterns/glob.ts: a linear
 *   matcher, never a RegExp); the first key, in document order, that matches and under which the
 *   rest of the path is found wins. As in gjson, escapes are removed before matching, so in a
 *   component that has an unescaped wildcard an escaped `*` is a wildcard too (`a\*?`).
 * gjson's modifiers (`@reverse`), pipes and `#(...)` queries are not supported.
 *
 * Results follow gjson's `Result.String()`: a string leaf gives its UTF-8 bytes, objects,
 * arrays and integers their original JSON text, other numbers their shortest decimal form,
 * booleans `true`/`false`, and `null` nothing (an empty value).
 *
 * `extract` follows ESO's `GetSecretMap`: every top-level property of a JSON object becomes a
 * key; strings give their bytes, `null` nothing, anything else its original JSON text.
 */
import { EswError } from '../errors.ts';
import { escapeDots, type PathPart, parsePath } from '../patterns/property-path.ts';
import { type JsonNode, JsonSyntaxError, parseJsonSpans, rawText } from './json-spans.ts';

/** Where a value comes from, for error messages (names only, never values). */
export interface ValueSource {
  key: string;
  /** `SecretStore "ns/name"` or `ClusterSecretStore "name"`. */
  store?: string;
}

/** A looked-up value: a span of the source text, or one built by `#`. */
type Found = { node: JsonNode } | { synthetic: string };

const utf8 = new TextDecoder('utf-8');
const encoder = new TextEncoder();

function lookup(text: string, node: JsonNode, parts: PathPart[], i: number): Found | undefined {
  if (i === parts.length) return { node };
  const part = parts[i]!;
  if (node.kind === 'object') {
    // gjson tries every key that matches, in order, until the rest of the path is found.
    const glob = part.glob;
    for (const [k, v] of node.entries) {
      if (glob ? !glob.match(k) : k !== part.text) continue;
      const found = lookup(text, v, parts, i + 1);
      if (found) return found;
    }
    return undefined;
  }
  if (node.kind === 'array') {
    if (part.count) {
      if (i === parts.length - 1) return { synthetic: String(node.items.length) };
      const collected: string[] = [];
      for (const item of node.items) {
        const found = lookup(text, item, parts, i + 1);
        if (found) collected.push(foundRaw(text, found));
      }
      return { synthetic: `[${collected.join(',')}]` };
    }
    if (part.index !== undefined) {
      const item = node.items[part.index];
      return item ? lookup(text, item, parts, i + 1) : undefined;
    }
  }
  return undefined;
}

function foundRaw(text: string, found: Found): string {
  return 'node' in found ? rawText(text, found.node) : found.synthetic;
}

/** gjson's `Result.String()` of a found value. */
function foundString(text: string, found: Found): string {
  if (!('node' in found)) return found.synthetic;
  const node = found.node;
  switch (node.kind) {
    case 'string':
      return node.value;
    case 'null':
      return '';
    case 'number': {
      const raw = rawText(text, node);
      return /^-?\d+$/.test(raw) ? raw : formatFloat(Number(raw));
    }
    default:
      return rawText(text, node);
  }
}

/** Go's `strconv.FormatFloat(f, 'f', -1, 64)`: shortest round-trip digits, never an exponent. */
export function formatFloat(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const s = String(n);
  const m = /^(-?)(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  if (!m) return s;
  const [, sign, intPart, frac = '', expText] = m;
  const digits = intPart! + frac;
  const exp = Number(expText) + intPart!.length;
  if (exp <= 0) return `${sign}0.${'0'.repeat(-exp)}${digits}`;
  if (exp >= digits.length) return `${sign}${digits}${'0'.repeat(exp - digits.length)}`;
  return `${sign}${digits.slice(0, exp)}.${digits.slice(exp)}`;
}

function describe(src: ValueSource): string {
  return `remote secret "${src.key}"${src.store ? ` of ${src.store}` : ''}`;
}

/**
 * Small bounded memos for the admission hot path, where every /mutate reads a few properties of
 * the same cached remote value: the parsed document per value (by identity: the resolver's cache
 * hands out the same bytes until it refetches) and the parsed path per property string. Only
 * small values are kept, and few, so the memo never holds more than a few MiB.
 */
const MEMO_ENTRIES = 128;
const MEMO_MAX_VALUE_BYTES = 8 * 1024;
const parsedDocs = new Map<Uint8Array, { text: string; root: JsonNode | undefined }>();
const parsedPaths = new Map<string, PathPart[]>();

function remember<K, V>(memo: Map<K, V>, key: K, value: V): V {
  if (memo.size >= MEMO_ENTRIES) memo.delete(memo.keys().next().value as K);
  memo.set(key, value);
  return value;
}

function cachedPath(property: string): PathPart[] {
  return parsedPaths.get(property) ?? remember(parsedPaths, property, parsePath(property));
}

/** The value's text and its JSON tree (undefined when it is not JSON). */
function parseDocument(value: Uint8Array): { text: string; root: JsonNode | undefined } {
  const hit = parsedDocs.get(value);
  if (hit) return hit;
  const text = utf8.decode(value);
  const doc = { text, root: parseOrUndefined(text) };
  return value.length <= MEMO_MAX_VALUE_BYTES ? remember(parsedDocs, value, doc) : doc;
}

function parseOrUndefined(text: string): JsonNode | undefined {
  try {
    return parseJsonSpans(text);
  } catch (err: unknown) {
    if (err instanceof JsonSyntaxError) return undefined;
    throw err;
  }
}

/**
 * Which reading of a dotted property is tried first. Most of ESO's providers try the whole
 * property as one key first; Azure Key Vault's reads it as a path first and falls back to the
 * key (`getProperty` in its keyvault.go).
 */
export type PropertyOrder = 'key-first' | 'path-first';

/** Finds `property` in the JSON `text` as ESO does; undefined when it is absent. */
function find(text: string, root: JsonNode, property: string, order: PropertyOrder): Found | undefined {
  if (!property.includes('.')) return lookup(text, root, cachedPath(property), 0);
  const whole = () => lookup(text, root, cachedPath(escapeDots(property)), 0);
  const path = () => lookup(text, root, cachedPath(property), 0);
  return order === 'key-first' ? (whole() ?? path()) : (path() ?? whole());
}

/**
 * The bytes `property` selects in `value`; the whole value when `property` is empty.
 * Throws ESW_PROPERTY_NOT_FOUND naming the key and the property.
 */
export function getProperty(
  value: Uint8Array,
  property: string | undefined,
  src: ValueSource,
  order: PropertyOrder = 'key-first',
): Uint8Array {
  if (!property) return value;
  const { text, root } = parseDocument(value);
  if (!root) {
    throw new EswError(
      'ESW_PROPERTY_NOT_FOUND',
      `property "${property}" not found: ${describe(src)} is not JSON`,
    );
  }
  const found = find(text, root, property, order);
  if (!found) {
    throw new EswError('ESW_PROPERTY_NOT_FOUND', `property "${property}" not found in ${describe(src)}`);
  }
  return encoder.encode(foundString(text, found));
}

/**
 * `dataFrom.extract`: every top-level property of the JSON object in `value` (or of the object
 * at `property`) -> its bytes. A later duplicate key wins, as in Go's `json.Unmarshal`.
 */
export function extractMap(
  value: Uint8Array,
  property: string | undefined,
  src: ValueSource,
): Map<string, Uint8Array> {
  const { text, root } = parseDocument(value);
  const where = property ? `property "${property}" of ${describe(src)}` : describe(src);
  if (!root) {
    if (property) {
      throw new EswError(
        'ESW_PROPERTY_NOT_FOUND',
        `property "${property}" not found: ${describe(src)} is not JSON`,
      );
    }
    throw new EswError('ESW_DECODE', `${where} is not JSON: dataFrom.extract needs a JSON object`);
  }
  let node: JsonNode = root;
  if (property) {
    const found = find(text, root, property, 'key-first');
    if (!found) {
      throw new EswError('ESW_PROPERTY_NOT_FOUND', `property "${property}" not found in ${describe(src)}`);
    }
    if (!('node' in found)) {
      throw new EswError('ESW_DECODE', `${where} is not a JSON object: dataFrom.extract needs one`);
    }
    node = found.node;
  }
  if (node.kind !== 'object') {
    throw new EswError(
      'ESW_DECODE',
      `${where} is a JSON ${node.kind}, not an object: dataFrom.extract needs one`,
    );
  }
  const out = new Map<string, Uint8Array>();
  for (const [k, v] of node.entries) {
    const bytes = v.kind === 'string' ? v.value : v.kind === 'null' ? '' : rawText(text, v);
    out.set(k, encoder.encode(bytes));
  }
  return out;
}
