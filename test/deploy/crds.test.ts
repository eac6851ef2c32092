/**
 * The CRDs: structural (the API server refuses a non-structural v1 CRD), the very schemas the
 * validator's generated tables hold (src/api/generated/schema-fields.ts, per kind and version),
 * and pruning nothing of the documented valid manifests that the webhook does not warn about or
 * refuse.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { applyProjectBounds, flatten } from '../../scripts/gen-crds.ts';
import { fieldTable, type SchemaKind, type SchemaVersion } from '../../src/api/schema-table.ts';
import { validateObject } from '../../src/api/validate.ts';

const root = join(import.meta.dirname, '../..');
const crdDir = join(root, 'deploy/chart/crds');

interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  [k: string]: unknown;
}
interface Crd {
  metadata: { name: string };
  spec: {
    names: { kind: string };
    versions: Array<{ name: string; schema: { openAPIV3Schema: Schema } }>;
  };
}

async function loadCrds(): Promise<Crd[]> {
  const out: Crd[] = [];
  for (const f of (await readdir(crdDir)).sort()) {
    for (const d of parseAllDocuments(await readFile(join(crdDir, f), 'utf8'))) out.push(d.toJS() as Crd);
  }
  return out;
}

/** Structural-schema violations (a subset of the API server's checks that catches real mistakes). */
function structuralErrors(s: Schema, path: string, errors: string[]): void {
  const open = s['x-kubernetes-preserve-unknown-fields'] === true || s['x-kubernetes-int-or-string'] === true;
  if (!s.type && !open) errors.push(`${path}: type is required`);
  if (s.properties && s.additionalProperties !== undefined && s.additionalProperties !== false)
    errors.push(`${path}: properties and additionalProperties together`);
  if (s.type === 'array' && !s.items) errors.push(`${path}: array without items`);
  for (const [k, v] of Object.entries(s.properties ?? {})) structuralErrors(v, `${path}.${k}`, errors);
  if (s.items) structuralErrors(s.items, `${path}[]`, errors);
  if (typeof s.additionalProperties === 'object')
    structuralErrors(s.additionalProperties, `${path}{}`, errors);
}

/** Paths of `value` that the schema would prune. */
function pruned(value: unknown, s: Schema | undefined, path: string, out: string[]): void {
  if (!s) {
    out.push(path);
    return;
  }
  if (s['x-kubernetes-preserve-unknown-fields'] && !s.properties) return;
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) pruned(v, s.items, `${path}[${i}]`, out);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  for (const [k, v] of Object.entries(value)) {
    if (path === '' && k === 'metadata') continue; // ObjectMeta is the API server's, never pruned
    const child =
      s.properties?.[k] ?? (typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined);
    if (child) pruned(v, child, `${path}.${k}`, out);
    else if (!s['x-kubernetes-preserve-unknown-fields'] && !(path === '' && k === 'metadata'))
      out.push(`${path}.${k}`);
  }
}

t.test('every version of every CRD is structural', async (t) => {
  const crds = await loadCrds();
  t.same(crds.map((c) => c.spec.names.kind).sort(), [
    'ClusterExternalSecret',
    'ClusterSecretStore',
    'ExternalSecret',
    'SecretStore',
  ]);
  for (const crd of crds) {
    for (const v of crd.spec.versions) {
      const errors: string[] = [];
      structuralErrors(v.schema.openAPIV3Schema, '', errors);
      t.same(errors, [], `${crd.metadata.name} ${v.name}`);
    }
  }
});

t.test('the validator tables are the installed CRDs, kind by kind and version by version', async (t) => {
  for (const crd of await loadCrds()) {
    for (const v of crd.spec.versions) {
      const flat: Record<string, unknown> = {};
      flatten(
        v.schema.openAPIV3Schema as Parameters<typeof flatten>[0],
        '',
        flat as Parameters<typeof flatten>[2],
      );
      // The validator's own length bounds on top of ESO's schema (scripts/gen-crds.ts).
      applyProjectBounds(flat as Parameters<typeof applyProjectBounds>[0]);
      const table = fieldTable(crd.spec.names.kind as SchemaKind, v.name as SchemaVersion);
      t.same(Object.keys(flat), Object.keys(table), `${crd.spec.names.kind} ${v.name}: the same fields`);
      t.same(flat, table, `${crd.spec.names.kind} ${v.name}: the same rules`);
    }
  }
});

t.test('the documented valid manifests survive pruning unchanged', async (t) => {
  const crds = new Map((await loadCrds()).map((c) => [c.spec.names.kind, c]));
  const files = [
    ...(await readdir(join(root, 'test/fixtures/manifests/valid'))).map(
      (f) => `test/fixtures/manifests/valid/${f}`,
    ),
    'examples/stores.yaml',
    'examples/manifests/secret-store.yaml',
  ];
  let checked = 0;
  for (const file of files) {
    for (const d of parseAllDocuments(await readFile(join(root, file), 'utf8'))) {
      const o = d.toJS() as { apiVersion?: string; kind?: string; metadata?: { name?: string } } | null;
      const crd = o?.kind ? crds.get(o.kind) : undefined;
      if (!o || !crd) continue;
      const version = o.apiVersion?.split('/')[1];
      const schema = crd.spec.versions.find((v) => v.name === version)?.schema.openAPIV3Schema;
      t.ok(schema, `${file}: ${o.kind} ${version} is served`);
      const out: string[] = [];
      pruned(o, schema, '', out);
      // A field the schema drops must be one the webhook warns about (it has no effect), unless
      // it lies under a field the webhook refuses.
      const result = validateObject(o);
      const warnings = result.warnings.join('\n');
      for (const p of out) {
        const path = p.slice(1);
        const under = result.errors.some((e) => path.startsWith(`${e.field}.`));
        if (!under) t.match(warnings, `unknown field "${path}"`, `${file}: ${p} is warned about`);
      }
      if (!file.endsWith('intro.yaml'))
        t.same(out, [], `${file}: ${o.kind}/${o.metadata?.name} loses nothing`);
      checked++;
    }
  }
  t.ok(checked >= 10, `${checked} manifests checked`);
});

t.test('the checks are not blind: an unknown field is reported as pruned', async (t) => {
  const es = (await loadCrds()).find((c) => c.spec.names.kind === 'ExternalSecret');
  const schema = es?.spec.versions[0]?.schema.openAPIV3Schema;
  const out: string[] = [];
  pruned({ spec: { secretStoreRef: { name: 's', key: 'k' }, bogus: 1 } }, schema, '', out);
  t.same(out.sort(), ['.spec.bogus', '.spec.secretStoreRef.key']);
  const errors: string[] = [];
  structuralErrors({ type: 'object', properties: { a: {} } }, '', errors);
  t.same(errors, ['.a: type is required']);
});
