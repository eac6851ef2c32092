/**
 * The map a rendered `templateFrom` text holds (`literal`, `templateAs: KeysAndValues`), read as
 * ESO reads it: `yaml.Unmarshal(text, &map[string]string{})` from k8s.io/apimachinery, which for
 * that type is sigs.k8s.io/yaml — go-yaml v2 (YAML 1.1 resolution of plain scalars), converted
 * to JSON knowing that every value is a string, then encoding/json:
 * - a plain `5432`, `0x1F`, `017`, `1_000` is an integer printed in decimal; `yes`, `on`, `y`
 *   are `true` (`no`, `off`, `n`: `false`); `1e3`, `.5` are floats printed as Go's
 *   `FormatFloat(f, 'g', -1, 32)` (`1000`, `0.5`, `1e+06`, `+Inf`); `~`, `null` and an empty value are
 *   the empty string; a timestamp or `1:20` stays as written; `!!binary` is decoded;
 * - keys resolve the same way (`1: a` is key `1`, `true: b` key `true`); a null, list or map key
 *   fails; a later duplicate key wins;
 * - a list or map value fails, and so does a document that is not a map; an empty one is empty.
 * Errors give a code and a position, never the text: it holds secret values.
 * test/refresher/yaml-map-differential.test.ts compares this with Go (test/oracles/yamlmap/).
 */
import {
  type Alias,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type Node,
  parseAllDocuments,
  type parseDocument,
  Scalar,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml';
import { EswError, isEswError } from '../errors.ts';
import { parseErrorText } from '../observability/sanitize.ts';
import { formatFloat } from '../template/fmt.ts';

type Resolved =
  | { kind: 'null' }
  | { kind: 'string'; value: Buffer }
  | { kind: 'bool'; value: boolean }
  | { kind: 'int'; value: bigint }
  | { kind: 'float'; value: number };

const MAX_INT64 = (1n << 63n) - 1n;
const MIN_INT64 = -(1n << 63n);
const MAX_UINT64 = (1n << 64n) - 1n;

// go-yaml v2's resolveMap.
const BOOLS = new Map<string, boolean>([
  ...['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON'].map((s) => [s, true] as const),
  ...['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF'].map(
    (s) => [s, false] as const,
  ),
]);
const NULLS = new Set(['', '~', 'null', 'Null', 'NULL']);
const FLOATS = new Map<string, number>([
  ...['.nan', '.NaN', '.NAN'].map((s) => [s, Number.NaN] as const),
  ...['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF'].map((s) => [s, Number.POSITIVE_INFINITY] as const),
  ...['-.inf', '-.Inf', '-.INF'].map((s) => [s, Number.NEGATIVE_INFINITY] as const),
]);
const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;

/** Go's strconv.ParseInt / ParseUint with base 0 (prefixes 0x, 0o, 0b, leading 0 for octal). */
function parseGoInt(s: string): bigint | undefined {
  const m = /^([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return undefined;
  const body = m[2] as string;
  let v: bigint;
  if (/^0[oO]/.test(body)) v = BigInt(`0o${body.slice(2)}`);
  else if (/^0[0-7]+$/.test(body)) v = BigInt(`0o${body.slice(1)}`);
  else v = BigInt(body);
  return m[1] === '-' ? -v : v;
}

/** go-yaml v2's resolve() of a plain scalar (no tag, or a tag it resolves anyway). */
function resolvePlain(s: string): Resolved {
  if (NULLS.has(s)) return { kind: 'null' };
  const first = s[0] ?? '';
  const bool = BOOLS.get(s);
  if (bool !== undefined) return { kind: 'bool', value: bool };
  const special = FLOATS.get(s);
  if (special !== undefined) return { kind: 'float', value: special };
  if (first === '.') {
    if (/^\.[0-9]+([eE][-+]?[0-9]+)?$/.test(s) && Number.isFinite(Number(s)))
      return { kind: 'float', value: Number(s) };
    return { kind: 'string', value: Buffer.from(s, 'utf8') };
  }
  if (/^[-+0-9]$/.test(first)) {
    // A timestamp (go-yaml v2 keeps its text for an interface{}) is no number either.
    const plain = s.replaceAll('_', '');
    const int = parseGoInt(plain);
    if (
      int !== undefined &&
      int >= MIN_INT64 &&
      int <= MAX_UINT64 &&
      !(int > MAX_INT64 && plain.startsWith('-'))
    )
      return { kind: 'int', value: int };
    // Go's ParseFloat refuses a number beyond the float64 range (ErrRange): it stays text.
    if (YAML_STYLE_FLOAT.test(plain) && Number.isFinite(Number(plain)))
      return { kind: 'float', value: Number(plain) };
    if (/^-0b[01]+$/.test(plain)) {
      const v = -BigInt(`0b${plain.slice(3)}`);
      if (v >= MIN_INT64) return { kind: 'int', value: v };
    }
  }
  return { kind: 'string', value: Buffer.from(s, 'utf8') };
}

class Refused extends Error {
  readonly node: Node | null;
  constructor(what: string, node: Node | null) {
    super(what);
    this.node = node;
  }
}

function resolveNode(
  node: unknown,
  doc: ReturnType<typeof parseDocument>,
  seen = 0,
): Resolved | 'collection' {
  if (node === null || node === undefined) return { kind: 'null' };
  if (isAlias(node)) {
    if (seen > 100) throw new Refused('an alias loop', node as Alias);
    return resolveNode((node as Alias).resolve(doc), doc, seen + 1);
  }
  if (!isScalar(node)) return 'collection';
  const s = node as Scalar;
  const text = String(s.value ?? '');
  const tag = s.tag;
  if (tag === 'tag:yaml.org,2002:binary' || tag === '!!binary')
    return { kind: 'string', value: Buffer.from(text.replace(/\s+/g, ''), 'base64') };
  if (tag === 'tag:yaml.org,2002:str' || tag === '!!str')
    return { kind: 'string', value: Buffer.from(text, 'utf8') };
  if (s.type !== Scalar.PLAIN && !tag) return { kind: 'string', value: Buffer.from(text, 'utf8') };
  return resolvePlain(text);
}

/** The text of a value for a map[string]string (sigs.k8s.io/yaml's string target). */
function valueText(r: Resolved): Buffer {
  switch (r.kind) {
    case 'null':
      return Buffer.alloc(0);
    case 'string':
      return r.value;
    case 'bool':
      return Buffer.from(String(r.value));
    case 'int':
      return Buffer.from(r.value.toString());
    case 'float':
      return Buffer.from(formatFloat(r.value, 'g', -1, 32));
  }
}

/** The key as sigs.k8s.io/yaml writes it into JSON; undefined when it refuses the key. */
function keyText(r: Resolved): string | undefined {
  switch (r.kind) {
    case 'string':
      return r.value.toString('utf8');
    case 'bool':
      return String(r.value);
    case 'int':
      // A key beyond int64 is a uint64, which it does not take.
      return r.value <= MAX_INT64 ? r.value.toString() : undefined;
    case 'float': {
      const s = formatFloat(r.value, 'g', -1, 32);
      return s === '+Inf' ? '.inf' : s === '-Inf' ? '-.inf' : s === 'NaN' ? '.nan' : s;
    }
    default:
      return undefined;
  }
}

function where(text: string, node: Node | null): string {
  const at = node?.range?.[0];
  if (at === undefined) return '';
  const before = text.slice(0, at).split('\n');
  return ` at line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}`;
}

/** The entries of a rendered templateFrom text, in order (a later duplicate key wins). */
export function yamlStringMap(text: string, field: string): [string, Buffer][] {
  let doc: ReturnType<typeof parseDocument>;
  try {
    // failsafe: every scalar a string; go-yaml v2's resolution is applied here, node by node.
    // logLevel 'error': the parser's warnings (unknown tags…) quote the text too.
    // go-yaml v2 reads the first document only.
    const docs = parseAllDocuments(text, {
      schema: 'failsafe',
      version: '1.1',
      uniqueKeys: false,
      logLevel: 'error',
    });
    const first = Array.isArray(docs) ? docs[0] : docs;
    if (!first) return [];
    doc = first as ReturnType<typeof parseDocument>;
  } catch (err: unknown) {
    throw new EswError('ESW_TEMPLATE', `${field}: the rendered template is ${parseErrorText(err)}`);
  }
  const parseError = doc.errors[0];
  if (parseError)
    throw new EswError('ESW_TEMPLATE', `${field}: the rendered template is ${parseErrorText(parseError)}`);
  const root = isAlias(doc.contents) ? (doc.contents as Alias).resolve(doc) : doc.contents;
  try {
    if (root === null || root === undefined) return [];
    if (!isMap(root)) {
      const r = resolveNode(root, doc);
      if (r !== 'collection' && r.kind === 'null') return [];
      throw new Refused('is not a map', root as Node);
    }
    const out: [string, Buffer][] = [];
    entries(root as YAMLMap, doc, out, 0);
    return out;
  } catch (err: unknown) {
    if (isEswError(err)) throw err;
    if (err instanceof Refused)
      throw new EswError(
        'ESW_TEMPLATE',
        `${field}: the rendered template ${err.message}${where(text, err.node)}`,
      );
    throw new EswError('ESW_TEMPLATE', `${field}: the rendered template is ${parseErrorText(err)}`);
  }
}

/**
 * A map's entries in order. A `<<` key merges a map, or a list of maps (the first winning), at
 * its place, as go-yaml v2 does: a key set before it can be overwritten by it.
 */
function entries(
  map: YAMLMap,
  doc: ReturnType<typeof parseDocument>,
  out: [string, Buffer][],
  depth: number,
): void {
  if (depth > 100) throw new Refused('nests merge keys too deeply', map);
  for (const pair of map.items) {
    const keyNode = pair.key as Node | null;
    if (isScalar(keyNode) && keyNode.type === Scalar.PLAIN && !keyNode.tag && keyNode.value === '<<') {
      merge(pair.value as Node | null, doc, out, depth);
      continue;
    }
    const k = resolveNode(keyNode, doc);
    const key = k === 'collection' ? undefined : keyText(k);
    if (key === undefined)
      throw new Refused('has a key that is not a string, a number or a boolean', keyNode);
    const valueNode = pair.value as Node | null;
    const v = resolveNode(valueNode, doc);
    if (v === 'collection')
      throw new Refused(
        'has a list or map where a string value is expected (quote it, or use toJson)',
        valueNode,
      );
    out.push([key, valueText(v)]);
  }
}

function merge(
  node: Node | null,
  doc: ReturnType<typeof parseDocument>,
  out: [string, Buffer][],
  depth: number,
): void {
  const target = isAlias(node) ? (node as Alias).resolve(doc) : node;
  if (isMap(target)) {
    entries(target as YAMLMap, doc, out, depth + 1);
    return;
  }
  if (isSeq(target)) {
    // go-yaml v2 merges the list from the end, so the first map wins.
    const maps = (target as YAMLSeq).items.map((i) => (isAlias(i) ? (i as Alias).resolve(doc) : i));
    for (const m of maps.reverse()) {
      if (!isMap(m)) throw new Refused('merges (<<) something that is not a map', (m ?? null) as Node | null);
      entries(m as YAMLMap, doc, out, depth + 1);
    }
    return;
  }
  throw new Refused('merges (<<) something that is not a map', target ?? null);
}
