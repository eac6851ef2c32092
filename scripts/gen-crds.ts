/**
 * One source of truth for the ESO API: from the External Secrets Operator's published CRDs
 * (vendored unmodified in deploy/upstream/eso-<release>/), generate
 * - the CRDs this project installs: deploy/chart/crds/*.yaml and the same files in
 *   deploy/base/crds/ (descriptions dropped so client-side `kubectl apply` stays under the
 *   256 KiB annotation limit; our printer columns; v1beta1 served, see SERVE_V1BETA1);
 * - the CRDs of kinds not served yet, kept next to them but not installed (deploy/unserved-crds/,
 *   empty while every kind is served);
 * - the validator's field tables, src/api/generated/schema-fields.ts;
 * - docs/field-support.md, the readable form of the field-support table (src/api/field-support.ts).
 *
 * `npm run gen:crds` writes what changed; `npm run gen:crds -- --check` only reports it (exit 1).
 * test/api/schema-generated.test.ts fails when a committed file differs from a fresh generation.
 * For the next ESO release: docs/validation.md, "Regenerating for a new ESO release".
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { supportDocument } from '../src/api/field-support-doc.ts';
import type { FieldSchema, SchemaKind, SchemaVersion } from '../src/api/schema-table.ts';

const root = join(import.meta.dirname, '..');

/** The ESO release whose CRDs are the reference, and where they are vendored. */
export const ESO_RELEASE = '2.9.0';
export const UPSTREAM = 'deploy/upstream/eso-2.9';

/**
 * ESO 2.9 no longer serves v1beta1; this project still does (deprecated, stored as v1 with no
 * conversion): old manifests keep applying, every v1beta1 field exists in v1 with the same meaning
 * (test/api/schema-generated.test.ts checks it), and the validator handles both versions.
 * docs/validation.md explains the choice.
 */
export const SERVE_V1BETA1 = true;

interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
}

const READY_COLUMNS: PrinterColumn[] = [
  { name: 'Status', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason' },
  { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
];
const AGE: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

interface KindPlan {
  kind: SchemaKind;
  /** File name in UPSTREAM. */
  upstream: string;
  /** Installed by the chart and kustomize; otherwise written to deploy/unserved-crds/. */
  install: boolean;
  /** Our `kubectl get` columns; undefined keeps the upstream's. */
  columns: PrinterColumn[] | undefined;
}

export const KINDS: readonly KindPlan[] = [
  {
    kind: 'ExternalSecret',
    upstream: 'externalsecrets.yaml',
    install: true,
    columns: [
      { name: 'Store', type: 'string', jsonPath: '.spec.secretStoreRef.name' },
      { name: 'Refresh Interval', type: 'string', jsonPath: '.spec.refreshInterval' },
      ...READY_COLUMNS,
      AGE,
    ],
  },
  // ESO's own columns (AGE, Status, Capabilities, Ready): the store status is written as ESO's.
  { kind: 'SecretStore', upstream: 'secretstores.yaml', install: true, columns: undefined },
  { kind: 'ClusterSecretStore', upstream: 'clustersecretstores.yaml', install: true, columns: undefined },
  // Fanned out to namespaces by the leader (src/refresher/cluster-external-secret.ts).
  {
    kind: 'ClusterExternalSecret',
    upstream: 'clusterexternalsecrets.yaml',
    install: true,
    columns: undefined,
  },
];

const LABELS = {
  'app.kubernetes.io/name': 'external-secrets-webhook',
  'app.kubernetes.io/part-of': 'external-secrets-webhook',
};

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

interface UpstreamVersion {
  name: SchemaVersion;
  served: boolean;
  storage: boolean;
  schema: { openAPIV3Schema: JsonObject };
  subresources?: JsonObject;
  selectableFields?: Json;
  additionalPrinterColumns?: Json;
}

interface UpstreamCrd {
  metadata: { name: string };
  spec: {
    group: string;
    names: JsonObject & { kind: string; plural: string };
    scope: string;
    versions: UpstreamVersion[];
  };
}

/** Schema keywords the generator knows what to do with; any other stops it. */
const KNOWN_KEYWORDS = new Set([
  'type',
  'properties',
  'items',
  'additionalProperties',
  'required',
  'enum',
  'default',
  'pattern',
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'nullable',
  'anyOf',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-int-or-string',
  'x-kubernetes-validations',
  'x-kubernetes-map-type',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  // Documentation only: dropped from what we install.
  'description',
  'example',
]);

const FIELD_NAME = /^[A-Za-z0-9_-]+$/;

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The schema without descriptions/examples; refuses keywords this generator does not know. */
export function stripSchema(s: JsonObject, path: string): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(s)) {
    if (!KNOWN_KEYWORDS.has(k)) {
      throw new Error(`${path || '<root>'}: schema keyword "${k}" is new: teach scripts/gen-crds.ts`);
    }
    if (k === 'description' || k === 'example') continue;
    if (k === 'properties' && isObject(v)) {
      const props: JsonObject = {};
      for (const [name, child] of Object.entries(v)) {
        if (!FIELD_NAME.test(name)) throw new Error(`${path}: field name "${name}" cannot be a path step`);
        if (!isObject(child)) throw new Error(`${path}.${name}: not a schema`);
        props[name] = stripSchema(child, path ? `${path}.${name}` : name);
      }
      out[k] = props;
    } else if (k === 'items' && isObject(v)) out[k] = stripSchema(v, `${path}[]`);
    else if (k === 'additionalProperties' && isObject(v)) out[k] = stripSchema(v, `${path}{}`);
    else if (k === 'anyOf') {
      // Only the int-or-string form is expected (`anyOf: [{type: integer}, {type: string}]`).
      if (s['x-kubernetes-int-or-string'] !== true)
        throw new Error(`${path}: anyOf without x-kubernetes-int-or-string`);
      out[k] = v;
    } else out[k] = v;
  }
  return out;
}

/** Flattens a (stripped) schema into `path -> FieldSchema`, parents before children. */
export function flatten(s: JsonObject, path: string, out: Record<string, FieldSchema>): void {
  const f: Record<string, unknown> = {};
  if (typeof s.type === 'string') f.type = s.type;
  if (s['x-kubernetes-int-or-string'] === true) f.intOrString = true;
  if (s['x-kubernetes-preserve-unknown-fields'] === true) f.preserveUnknown = true;
  if (s.nullable === true) f.nullable = true;
  if (Array.isArray(s.required) && s.required.length > 0) f.required = s.required;
  if (Array.isArray(s.enum)) f.enum = s.enum;
  if (s.default !== undefined) f.default = s.default;
  for (const k of [
    'pattern',
    'format',
    'minimum',
    'maximum',
    'minLength',
    'maxLength',
    'minItems',
    'maxItems',
    'minProperties',
    'maxProperties',
  ] as const) {
    if (s[k] !== undefined) f[k] = s[k];
  }
  if (s.exclusiveMinimum === true) f.exclusiveMinimum = true;
  if (s.exclusiveMaximum === true) f.exclusiveMaximum = true;
  const rules = s['x-kubernetes-validations'];
  if (Array.isArray(rules)) f.celRules = rules.map((r) => (isObject(r) ? String(r.rule) : String(r)));
  out[path] = f as FieldSchema;
  const join = (name: string) => (path ? `${path}.${name}` : name);
  if (isObject(s.properties)) {
    for (const [name, child] of Object.entries(s.properties)) flatten(child as JsonObject, join(name), out);
  }
  if (isObject(s.items)) flatten(s.items, `${path}[]`, out);
  if (isObject(s.additionalProperties)) flatten(s.additionalProperties, `${path}{}`, out);
}

/**
 * Length bounds the validator adds where ESO's schema runs a pattern on an unbounded string (a
 * tenant's text, matched in linear time but still per character). Only the validator's tables
 * carry them; the installed CRDs stay ESO's.
 */
const PROJECT_MAX_LENGTH: [suffix: string, maxLength: number][] = [
  // A cron schedule or `@every <duration>`: the longest sensible one is far shorter.
  ['syncWindows.windows[].schedule', 256],
  // An email address: at most 254 characters (RFC 5321).
  ['workloadIdentityFederation.gcpServiceAccountEmail', 254],
];

export function applyProjectBounds(table: Record<string, FieldSchema>): void {
  for (const [path, field] of Object.entries(table)) {
    for (const [suffix, max] of PROJECT_MAX_LENGTH) {
      if (path.endsWith(suffix) && field.maxLength === undefined)
        (field as { maxLength?: number }).maxLength = max;
    }
  }
}

async function loadUpstream(file: string): Promise<UpstreamCrd> {
  return parse(await readFile(join(root, UPSTREAM, file), 'utf8')) as UpstreamCrd;
}

function crdDocument(
  plan: KindPlan,
  crd: UpstreamCrd,
): { yaml: string; tables: Map<SchemaVersion, Record<string, FieldSchema>> } {
  if (crd.spec.names.kind !== plan.kind) throw new Error(`${plan.upstream}: kind ${crd.spec.names.kind}`);
  const tables = new Map<SchemaVersion, Record<string, FieldSchema>>();
  const versions: JsonObject[] = [];
  for (const v of crd.spec.versions) {
    if (v.name !== 'v1' && v.name !== 'v1beta1')
      throw new Error(`${plan.upstream}: version ${v.name} is new`);
    const schema = stripSchema(v.schema.openAPIV3Schema, '');
    const table: Record<string, FieldSchema> = {};
    flatten(schema, '', table);
    applyProjectBounds(table);
    tables.set(v.name, table);
    const v1 = v.name === 'v1';
    const out: JsonObject = {
      name: v.name,
      served: v1 || SERVE_V1BETA1,
      storage: v1,
    };
    if (!v1) {
      out.deprecated = true;
      out.deprecationWarning = `external-secrets.io/v1beta1 ${plan.kind} is deprecated; use external-secrets.io/v1`;
    }
    out.subresources = v.subresources ?? { status: {} };
    out.additionalPrinterColumns = (plan.columns as unknown as Json) ?? v.additionalPrinterColumns ?? [];
    if (v.selectableFields !== undefined) out.selectableFields = v.selectableFields;
    out.schema = { openAPIV3Schema: schema };
    versions.push(out);
  }
  if (!tables.has('v1') || !tables.has('v1beta1'))
    throw new Error(`${plan.upstream}: v1 and v1beta1 expected`);
  const doc = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: crd.metadata.name, labels: LABELS },
    spec: {
      group: crd.spec.group,
      scope: crd.spec.scope,
      names: crd.spec.names,
      versions,
    },
  };
  const header = plan.install
    ? `# Generated by \`npm run gen:crds\` from the External Secrets Operator ${ESO_RELEASE} CRD (${UPSTREAM}/${plan.upstream}):\n# edit scripts/gen-crds.ts, not this file. The webhook enforces every rule at admission (docs/validation.md).\n`
    : `# Generated by \`npm run gen:crds\` from the External Secrets Operator ${ESO_RELEASE} CRD (${UPSTREAM}/${plan.upstream}).\n# NOT INSTALLED: ${plan.kind} is not served by external-secrets-webhook yet. When it is, set\n# \`install: true\` for it in scripts/gen-crds.ts and list it in deploy/base/kustomization.yaml.\n`;
  return {
    yaml: header + stringify(doc, { lineWidth: 0, indentSeq: false, aliasDuplicateObjects: false }),
    tables,
  };
}

function sameTable(a: Record<string, FieldSchema>, b: Record<string, FieldSchema>): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

const CONST_NAMES: Record<SchemaKind, string> = {
  ExternalSecret: 'EXTERNAL_SECRET',
  SecretStore: 'SECRET_STORE',
  ClusterSecretStore: 'CLUSTER_SECRET_STORE',
  ClusterExternalSecret: 'CLUSTER_EXTERNAL_SECRET',
};

function tablesModule(all: Map<SchemaKind, Map<SchemaVersion, Record<string, FieldSchema>>>): string {
  const lines: string[] = [
    `// Generated by \`npm run gen:crds\` (scripts/gen-crds.ts) from the External Secrets Operator`,
    `// ${ESO_RELEASE} CRDs in ${UPSTREAM}: do not edit. One line per field: normalised path -> what the`,
    '// validator uses of its schema (see src/api/schema-table.ts).',
    "import type { FieldTable, SchemaTables } from '../schema-table.ts';",
    '',
    `export const ESO_RELEASE = ${JSON.stringify(ESO_RELEASE)};`,
    '',
  ];
  const refs = new Map<SchemaKind, Record<SchemaVersion, string>>();
  const emitted: { name: string; table: Record<string, FieldSchema> }[] = [];
  for (const [kind, versions] of all) {
    const names = {} as Record<SchemaVersion, string>;
    for (const [version, table] of versions) {
      // SecretStore and ClusterSecretStore share one schema: emit it once.
      const same = emitted.find((e) => sameTable(e.table, table));
      if (same) {
        names[version] = same.name;
        continue;
      }
      const name = `${CONST_NAMES[kind]}_${version.toUpperCase()}`;
      lines.push(`const ${name}: FieldTable = {`);
      for (const [path, f] of Object.entries(table))
        lines.push(`  ${JSON.stringify(path)}: ${JSON.stringify(f)},`);
      lines.push('};', '');
      emitted.push({ name, table });
      names[version] = name;
    }
    refs.set(kind, names);
  }
  lines.push('export const SCHEMA_TABLES: SchemaTables = {');
  for (const [kind, names] of refs) lines.push(`  ${kind}: { v1: ${names.v1}, v1beta1: ${names.v1beta1} },`);
  lines.push('};', '');
  return lines.join('\n');
}

/** Every generated file: repository-relative path -> content. */
export async function generate(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const tables = new Map<SchemaKind, Map<SchemaVersion, Record<string, FieldSchema>>>();
  for (const plan of KINDS) {
    const crd = await loadUpstream(plan.upstream);
    const { yaml, tables: t } = crdDocument(plan, crd);
    tables.set(plan.kind, t);
    const name = `external-secrets.io_${crd.spec.names.plural}.yaml`;
    if (plan.install) {
      files.set(`deploy/chart/crds/${name}`, yaml);
      files.set(`deploy/base/crds/${name}`, yaml);
    } else {
      files.set(`deploy/unserved-crds/${name}`, yaml);
    }
  }
  files.set('src/api/generated/schema-fields.ts', tablesModule(tables));
  files.set('docs/field-support.md', supportDocument(ESO_RELEASE));
  return files;
}

if (import.meta.main) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [file, text] of await generate()) {
    const path = join(root, file);
    const old = await readFile(path, 'utf8').catch(() => '');
    if (old === text) continue;
    stale++;
    if (check) console.log(`${file} is out of date`);
    else {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, text);
      console.log(`wrote ${file}`);
    }
  }
  if (stale === 0) console.log('every generated file is up to date');
  if (check && stale > 0) process.exit(1);
}
