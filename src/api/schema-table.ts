/**
 * The External Secrets Operator's CRD schemas as flat field tables, one per kind and version,
 * generated from the vendored upstream CRDs by `npm run gen:crds` (src/api/generated/). This
 * module reads them: which fields exist where (unknown-field warnings, did-you-mean
 * suggestions), their types, enums, required children, patterns and bounds (the schema checks
 * in schema-check.ts).
 *
 * Paths are normalised: `spec.data[].remoteRef.key` — `[]` for the items of an array, `{}` for
 * the values of a map (`additionalProperties`), `''` for the object itself. Concrete paths as
 * messages print them (`spec.data[1].remoteRef`, `spec.target.template.data["tls.crt"]`) are
 * accepted wherever a path is asked for.
 */
import { SCHEMA_TABLES } from './generated/schema-fields.ts';

export const SCHEMA_KINDS = [
  'ExternalSecret',
  'SecretStore',
  'ClusterSecretStore',
  'ClusterExternalSecret',
] as const;
export type SchemaKind = (typeof SCHEMA_KINDS)[number];
export const SCHEMA_VERSIONS = ['v1', 'v1beta1'] as const;
export type SchemaVersion = (typeof SCHEMA_VERSIONS)[number];

/** What the validator uses of one OpenAPI v3 schema node (descriptions are dropped). */
export interface FieldSchema {
  readonly type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  /** `x-kubernetes-int-or-string`. */
  readonly intOrString?: true;
  /** `x-kubernetes-preserve-unknown-fields`: nothing below is pruned. */
  readonly preserveUnknown?: true;
  readonly nullable?: true;
  /** Children that must be present (the API server applies `default`s first). */
  readonly required?: readonly string[];
  readonly enum?: readonly (string | number | boolean)[];
  readonly default?: unknown;
  readonly pattern?: string;
  readonly format?: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: true;
  readonly exclusiveMaximum?: true;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly minProperties?: number;
  readonly maxProperties?: number;
  /** `x-kubernetes-validations` rules (CEL), kept for review: the validator does not run CEL. */
  readonly celRules?: readonly string[];
}

/** Normalised path -> schema, in the upstream's order. */
export type FieldTable = Readonly<Record<string, FieldSchema>>;
export type SchemaTables = Readonly<Record<SchemaKind, Readonly<Record<SchemaVersion, FieldTable>>>>;

/** One node of a table as a tree, for walking an object alongside its schema. */
export interface SchemaNode {
  /** Normalised path. */
  readonly path: string;
  readonly schema: FieldSchema;
  /** Named properties. */
  readonly children: ReadonlyMap<string, SchemaNode>;
  /** Array items. */
  readonly items: SchemaNode | undefined;
  /** Map values (`additionalProperties`). */
  readonly values: SchemaNode | undefined;
}

export function isSchemaKind(kind: unknown): kind is SchemaKind {
  return typeof kind === 'string' && (SCHEMA_KINDS as readonly string[]).includes(kind);
}

export function isSchemaVersion(version: unknown): version is SchemaVersion {
  return typeof version === 'string' && (SCHEMA_VERSIONS as readonly string[]).includes(version);
}

/** The flat table of a kind and version. */
export function fieldTable(kind: SchemaKind, version: SchemaVersion): FieldTable {
  return SCHEMA_TABLES[kind][version];
}

const trees = new Map<FieldTable, SchemaNode>();

/** The table as a tree (built once per table). */
export function schemaTree(kind: SchemaKind, version: SchemaVersion): SchemaNode {
  return treeOf(fieldTable(kind, version));
}

export function treeOf(table: FieldTable): SchemaNode {
  let root = trees.get(table);
  if (!root) {
    root = buildTree(table);
    trees.set(table, root);
  }
  return root;
}

interface MutableNode {
  path: string;
  schema: FieldSchema;
  children: Map<string, MutableNode>;
  items: MutableNode | undefined;
  values: MutableNode | undefined;
}

function buildTree(table: FieldTable): SchemaNode {
  const nodes = new Map<string, MutableNode>();
  const node = (path: string, schema: FieldSchema): MutableNode => ({
    path,
    schema,
    children: new Map(),
    items: undefined,
    values: undefined,
  });
  const root = node('', table[''] ?? { type: 'object' });
  nodes.set('', root);
  for (const [path, schema] of Object.entries(table)) {
    if (path === '') continue;
    const { parent, step } = splitLast(path);
    const up = nodes.get(parent);
    // The generator writes parents before children; a table that does not is a generator bug.
    if (!up) throw new Error(`schema table: ${path} has no parent ${parent}`);
    const n = node(path, schema);
    if (step === '[]') up.items = n;
    else if (step === '{}') up.values = n;
    else up.children.set(step, n);
    nodes.set(path, n);
  }
  return root;
}

/** `a.b[]` -> {a.b, []}; `a.b` -> {a, b}; `a` -> {'', a}. */
function splitLast(path: string): { parent: string; step: string } {
  if (path.endsWith('[]') || path.endsWith('{}')) return { parent: path.slice(0, -2), step: path.slice(-2) };
  const dot = path.lastIndexOf('.');
  return dot < 0 ? { parent: '', step: path } : { parent: path.slice(0, dot), step: path.slice(dot + 1) };
}

type Step = { name: string } | { index: true } | { key: string };

/**
 * Steps of a concrete or normalised path: `spec.data[1].remoteRef` -> spec, data, [i],
 * remoteRef; `template.data["a.b"]` and `labels{}` -> a map value. Undefined when malformed.
 */
function parseSteps(path: string): Step[] | undefined {
  const steps: Step[] = [];
  let i = 0;
  while (i < path.length) {
    const c = path[i];
    if (c === '.') {
      i++;
      continue;
    }
    if (c === '[') {
      const end = path.indexOf(']', i);
      if (end < 0) return undefined;
      const inner = path.slice(i + 1, end);
      if (inner === '' || /^\d+$/.test(inner)) steps.push({ index: true });
      else if (inner.startsWith('"')) {
        // A JSON string key: find its closing quote (a `]` may sit inside the key).
        let close = i + 1;
        let key: string | undefined;
        for (let j = i + 2; j < path.length; j++) {
          if (path[j] === '\\') {
            j++;
            continue;
          }
          if (path[j] === '"') {
            close = j;
            try {
              key = JSON.parse(path.slice(i + 1, j + 1)) as string;
            } catch {
              return undefined;
            }
            break;
          }
        }
        if (key === undefined || path[close + 1] !== ']') return undefined;
        steps.push({ key });
        i = close + 2;
        continue;
      } else return undefined;
      i = end + 1;
      continue;
    }
    if (c === '{' && path[i + 1] === '}') {
      steps.push({ key: '' });
      i += 2;
      continue;
    }
    let end = i;
    while (end < path.length && path[end] !== '.' && path[end] !== '[' && path[end] !== '{') end++;
    steps.push({ name: path.slice(i, end) });
    i = end;
  }
  return steps;
}

/** The schema node a concrete or normalised path names, or undefined when the schema has none. */
export function nodeAt(kind: SchemaKind, version: SchemaVersion, path: string): SchemaNode | undefined {
  return nodeIn(schemaTree(kind, version), path);
}

export function nodeIn(root: SchemaNode, path: string): SchemaNode | undefined {
  const steps = parseSteps(path);
  if (!steps) return undefined;
  let node: SchemaNode | undefined = root;
  for (const step of steps) {
    if (!node) return undefined;
    if ('index' in step) node = node.items;
    else if ('key' in step) node = node.values;
    else node = node.children.get(step.name) ?? node.values;
  }
  return node;
}

/** The normalised form of a concrete path (`spec.data[2].remoteRef` -> `spec.data[].remoteRef`). */
export function normalizePath(kind: SchemaKind, version: SchemaVersion, path: string): string | undefined {
  return nodeAt(kind, version, path)?.path;
}

/** The schema of the field at `path`, or undefined when the schema does not define it. */
export function fieldAt(kind: SchemaKind, version: SchemaVersion, path: string): FieldSchema | undefined {
  return nodeAt(kind, version, path)?.schema;
}

/**
 * The field names the schema defines directly under `path` (an object), sorted; empty when the
 * path is unknown, not an object, or a free-form map. For did-you-mean suggestions:
 * `knownFieldsAt('ExternalSecret', 'v1', 'spec.data[0].remoteRef')` -> `conversionStrategy, …`.
 */
export function knownFieldsAt(kind: SchemaKind, version: SchemaVersion, path: string): readonly string[] {
  const node = nodeAt(kind, version, path);
  if (!node) return [];
  let names = sortedNames.get(node);
  if (!names) {
    names = Object.freeze([...node.children.keys()].sort());
    sortedNames.set(node, names);
  }
  return names;
}

const sortedNames = new WeakMap<SchemaNode, readonly string[]>();

/** The enum values of a string field (empty when the schema gives none). */
export function enumAt(kind: SchemaKind, version: SchemaVersion, path: string): readonly string[] {
  const values = fieldAt(kind, version, path)?.enum ?? [];
  return values.filter((v): v is string => typeof v === 'string');
}

/** Every normalised path of a table (the root `''` excluded), in the table's order. */
export function schemaPaths(kind: SchemaKind, version: SchemaVersion): readonly string[] {
  return Object.keys(fieldTable(kind, version)).filter((p) => p !== '');
}
