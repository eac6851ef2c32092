/**
 * The generated files (scripts/gen-crds.ts) are up to date with the vendored ESO CRDs and the
 * field-support table, the choices they encode hold (v1beta1 served without loss, CRDs small
 * enough for client-side apply), and the table API the CLI's suggestions use answers.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { generate, KINDS, SERVE_V1BETA1 } from '../../scripts/gen-crds.ts';
import { classifyField, type SupportKind } from '../../src/api/field-support.ts';
import {
  enumAt,
  fieldAt,
  knownFieldsAt,
  normalizePath,
  SCHEMA_VERSIONS,
  schemaPaths,
} from '../../src/api/schema-table.ts';
import { compileGoRegexp } from '../../src/patterns/re2.ts';

const root = join(import.meta.dirname, '../..');
const generated = await generate();

t.test('every generated file is up to date (npm run gen:crds)', async (t) => {
  t.ok(generated.size >= 9, `${generated.size} files`);
  for (const [file, text] of generated) {
    const committed = await readFile(join(root, file), 'utf8').catch(() => '<missing>');
    t.ok(committed === text, `${file} is up to date: run \`npm run gen:crds\``);
  }
});

t.test('the check is not blind: a changed upstream schema changes the output', async (t) => {
  const { flatten, stripSchema } = await import('../../scripts/gen-crds.ts');
  const out: Record<string, unknown> = {};
  flatten(
    stripSchema(
      {
        type: 'object',
        description: 'dropped',
        properties: {
          a: { type: 'string', enum: ['x'], description: 'dropped' },
          description: { type: 'string' },
        },
      },
      '',
    ),
    '',
    out as Parameters<typeof flatten>[2],
  );
  t.same(out, {
    '': { type: 'object' },
    a: { type: 'string', enum: ['x'] },
    description: { type: 'string' },
  });
  t.throws(() => stripSchema({ type: 'object', oneOf: [] }, 'spec'), /schema keyword "oneOf" is new/);
});

t.test('v1beta1 is served, deprecated, and loses nothing the webhook uses when stored as v1', async (t) => {
  t.equal(SERVE_V1BETA1, true);
  for (const plan of KINDS.filter((k) => k.install)) {
    const file = [...generated.keys()].find(
      (f) => f.startsWith('deploy/chart/crds/') && f.includes(plan.upstream),
    );
    t.ok(file, `${plan.kind} is installed`);
    const crd = parse(generated.get(file as string) as string);
    t.same(
      crd.spec.versions.map((v: { name: string; served: boolean; storage: boolean }) => [
        v.name,
        v.served,
        v.storage,
      ]),
      [
        ['v1', true, true],
        ['v1beta1', true, false],
      ],
    );
    t.ok(crd.spec.versions[1].deprecated);
    // No conversion webhook: the API server stores a v1beta1 object as v1 by changing apiVersion
    // and prunes what v1 does not define. Every v1beta1 field the webhook uses must exist in v1.
    const kind = plan.kind as SupportKind;
    const v1 = new Set(schemaPaths(kind, 'v1'));
    const lost = schemaPaths(kind, 'v1beta1').filter(
      (p) => !v1.has(p) && classifyField(kind, p)?.entry.status !== 'refused',
    );
    t.same(lost, [], `${kind}: v1beta1 fields missing from v1 are all refused`);
  }
  const ces = [...generated.keys()].filter((f) => f.includes('clusterexternalsecrets'));
  t.same(
    ces.sort(),
    [
      'deploy/base/crds/external-secrets.io_clusterexternalsecrets.yaml',
      'deploy/chart/crds/external-secrets.io_clusterexternalsecrets.yaml',
    ],
    'ClusterExternalSecret is installed by the chart and kustomize',
  );
});

t.test('each installed CRD fits the 256 KiB last-applied annotation of client-side apply', async (t) => {
  for (const [file, text] of generated) {
    if (!file.startsWith('deploy/chart/crds/')) continue;
    const size = Buffer.byteLength(JSON.stringify(parse(text)));
    t.ok(size < 200 * 1024, `${file}: ${size} bytes of JSON`);
  }
});

t.test('CRD patterns on fields the webhook serves compile as Go RE2 and are bounded', async (t) => {
  for (const kind of ['ExternalSecret', 'SecretStore'] as const) {
    for (const version of SCHEMA_VERSIONS) {
      for (const path of schemaPaths(kind, version)) {
        const f = fieldAt(kind, version, path);
        if (!f?.pattern || classifyField(kind, path)?.entry.status === 'refused') continue;
        t.doesNotThrow(
          () => compileGoRegexp(f.pattern as string),
          `${kind} ${path}: compiles with Go's syntax`,
        );
        // Linear time, but still work per character: only after the length bound has been checked.
        t.ok(
          f.maxLength !== undefined && f.maxLength <= 1024,
          `${kind} ${version} ${path}: maxLength bounds it`,
        );
      }
    }
  }
});

t.test(
  'CEL rules: none on a field the webhook serves or warns about (the validator does not run CEL)',
  async (t) => {
    for (const kind of ['ExternalSecret', 'SecretStore'] as const) {
      for (const version of SCHEMA_VERSIONS) {
        const unhandled = schemaPaths(kind, version).filter(
          (p) => fieldAt(kind, version, p)?.celRules && classifyField(kind, p)?.entry.status !== 'refused',
        );
        t.same(unhandled, [], `${kind} ${version}: implement these rules by hand before serving them`);
      }
    }
  },
);

t.test('the table API: known fields, normalised paths, enums', async (t) => {
  t.ok(knownFieldsAt('ExternalSecret', 'v1', 'spec.data[3].remoteRef').includes('metadataPolicy'));
  t.same(knownFieldsAt('ExternalSecret', 'v1', 'spec.secretStoreRef'), ['kind', 'name']);
  t.ok(knownFieldsAt('ExternalSecret', 'v1', 'spec').includes('syncWindows'));
  t.notOk(knownFieldsAt('ExternalSecret', 'v1beta1', 'spec').includes('syncWindows'));
  t.ok(knownFieldsAt('SecretStore', 'v1', 'spec.provider').includes('aws'));
  t.same(knownFieldsAt('ExternalSecret', 'v1', 'spec.nope'), []);
  t.same(knownFieldsAt('ExternalSecret', 'v1', 'spec.data[0'), [], 'malformed path');
  t.equal(
    normalizePath('ExternalSecret', 'v1', 'spec.target.template.data["tls.crt"]'),
    'spec.target.template.data{}',
  );
  t.equal(
    normalizePath('ExternalSecret', 'v1', 'spec.target.template.data.tls'),
    'spec.target.template.data{}',
  );
  t.equal(
    normalizePath('ExternalSecret', 'v1', 'spec.dataFrom[2].find.tags{}'),
    'spec.dataFrom[].find.tags{}',
  );
  t.same(enumAt('SecretStore', 'v1', 'spec.provider.aws.service'), [
    'SecretsManager',
    'ParameterStore',
    'CertificateManager',
  ]);
  t.same(enumAt('SecretStore', 'v1beta1', 'spec.provider.aws.service'), ['SecretsManager', 'ParameterStore']);
  t.same(fieldAt('SecretStore', 'v1', 'spec.refreshInterval'), { intOrString: true });
});
