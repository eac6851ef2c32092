/**
 * "What validates, works": every field of ExternalSecret, SecretStore and ClusterSecretStore in the
 * ESO schemas (v1 and v1beta1, from the generated tables) is classified by src/api/field-support.ts,
 * and admission follows the class — a refused field or value is refused naming it, a warned one is
 * warned about, a served one draws neither.
 */
import t from 'tap';
import {
  classifyField,
  classifyValue,
  FIELD_SUPPORT,
  NOT_SUPPORTED,
  type Support,
  type SupportKind,
  servedValues,
} from '../../src/api/field-support.ts';
import {
  type FieldSchema,
  fieldAt,
  SCHEMA_VERSIONS,
  type SchemaVersion,
  schemaPaths,
} from '../../src/api/schema-table.ts';
import { validateObject } from '../../src/api/validate.ts';

const KINDS: SupportKind[] = ['ExternalSecret', 'SecretStore', 'ClusterSecretStore'];
/** Checked by validate.ts / validate-meta.ts, or written by the webhook: not walked. */
const NOT_WALKED = /^(apiVersion|kind|metadata|status)(\.|$|\[)/;

type Obj = Record<string, unknown>;

/** A valid object of each kind to put one field into. */
function base(kind: SupportKind, version: SchemaVersion): Obj {
  const apiVersion = `external-secrets.io/${version}`;
  if (kind === 'ExternalSecret') {
    return {
      apiVersion,
      kind,
      metadata: { name: 'es', namespace: 'team-a' },
      spec: {
        secretStoreRef: { name: 'store', kind: 'SecretStore' },
        data: [{ secretKey: 'k', remoteRef: { key: 'remote' } }],
      },
    };
  }
  return {
    apiVersion,
    kind,
    metadata: kind === 'SecretStore' ? { name: 'store', namespace: 'team-a' } : { name: 'store' },
    spec: { provider: { fake: { data: [] } } },
  };
}

/** A minimal valid spec for each served provider, so a field of it can be added alone. */
const PROVIDER_BASES: Record<string, Obj> = {
  aws: { service: 'SecretsManager', region: 'us-east-1' },
  azurekv: { vaultUrl: 'https://v.vault.azure.net', authType: 'ManagedIdentity' },
  gcpsm: {},
  vault: { server: 'https://vault:8200' },
  fake: { data: [] },
};

/** `spec.data[].x{}` -> `spec.data[0].x["k"]`, and the steps to build it. */
function concrete(path: string): { text: string; steps: (string | number)[] } {
  const steps: (string | number)[] = [];
  let text = '';
  for (const part of path.split('.')) {
    const m = /^([^[{]*)((?:\[\]|\{\})*)$/.exec(part);
    const name = m?.[1] ?? part;
    steps.push(name);
    text += text ? `.${name}` : name;
    for (const marker of (m?.[2] ?? '').match(/\[\]|\{\}/g) ?? []) {
      if (marker === '[]') {
        steps.push(0);
        text += '[0]';
      } else {
        steps.push('k');
        text += '["k"]';
      }
    }
  }
  return { text, steps };
}

function setAt(obj: Obj, steps: (string | number)[], value: unknown): void {
  let cur: Obj | unknown[] = obj;
  for (let i = 0; i < steps.length - 1; i++) {
    const step = steps[i] as string | number;
    const nextIsIndex = typeof steps[i + 1] === 'number';
    const container = cur as Record<string | number, unknown>;
    const existing = container[step];
    if (existing === undefined || existing === null || typeof existing !== 'object') {
      container[step] = nextIsIndex ? [] : {};
    }
    cur = container[step] as Obj | unknown[];
  }
  (cur as Record<string | number, unknown>)[steps[steps.length - 1] as string | number] = value;
}

function sample(s: FieldSchema): unknown {
  if (s.intOrString) return 1;
  switch (s.type) {
    case 'object':
      return {};
    case 'array':
      return [];
    case 'integer':
    case 'number':
      return s.minimum ?? 1;
    case 'boolean':
      return true;
    default:
      return typeof s.enum?.[0] === 'string' ? s.enum[0] : 'x';
  }
}

/** The object with `value` at the (normalised) `path`, on the base of its kind and provider. */
function withField(kind: SupportKind, version: SchemaVersion, path: string, value: unknown): Obj {
  const obj = structuredClone(base(kind, version));
  const provider = /^spec\.provider\.([^.[{]+)/.exec(path)?.[1];
  if (provider) {
    (obj.spec as Obj).provider = { [provider]: structuredClone(PROVIDER_BASES[provider] ?? {}) };
  }
  setAt(obj, concrete(path).steps, value);
  return obj;
}

function parentOf(path: string): string {
  if (path.endsWith('[]') || path.endsWith('{}')) return path.slice(0, -2);
  const dot = path.lastIndexOf('.');
  return dot < 0 ? '' : path.slice(0, dot);
}

function classOf(kind: SupportKind, path: string) {
  return classifyField(kind, path)?.entry;
}

t.test('every field of the three kinds, v1 and v1beta1, is classified', async (t) => {
  let fields = 0;
  for (const kind of KINDS) {
    for (const version of SCHEMA_VERSIONS) {
      const missing = schemaPaths(kind, version).filter((p) => classifyField(kind, p) === undefined);
      fields += schemaPaths(kind, version).length;
      t.same(missing, [], `${kind} ${version}: no field without a class (src/api/field-support.ts)`);
    }
  }
  t.ok(fields > 3000, `${fields} fields classified`);
});

t.test('below a refused field everything is refused, and every table line is used', async (t) => {
  for (const kind of KINDS) {
    const used = new Set<string>();
    for (const version of SCHEMA_VERSIONS) {
      for (const path of schemaPaths(kind, version)) {
        const hit = classifyField(kind, path);
        if (hit) used.add(hit.key);
        const parent = parentOf(path);
        if (parent && classOf(kind, parent)?.status === 'refused') {
          t.equal(hit?.entry.status, 'refused', `${kind} ${version} ${path}: under a refused field`);
        }
      }
    }
    const unused = Object.keys(FIELD_SUPPORT[kind]).filter((k) => !used.has(k));
    t.same(
      unused,
      [],
      `${kind}: every line of the table names fields of the schema (no typos, no leftovers)`,
    );
  }
});

t.test('by-value classes cover every enum value, and name only values of the schema', async (t) => {
  for (const kind of KINDS) {
    for (const version of SCHEMA_VERSIONS) {
      for (const path of schemaPaths(kind, version)) {
        const entry = classOf(kind, path);
        if (entry?.status !== 'byValue') continue;
        const schemaEnum = (fieldAt(kind, version, path)?.enum ?? []).map(String);
        for (const v of schemaEnum) {
          t.ok(classifyValue(entry, v), `${kind} ${version} ${path}: value "${v}" is classified`);
        }
        if (schemaEnum.length > 0 && !entry.other) {
          const unknown = Object.keys(entry.values).filter((v) => !schemaEnum.includes(v));
          // A value of v1 only (e.g. CertificateManager) is simply absent from v1beta1's enum.
          if (version === 'v1') t.same(unknown, [], `${kind} ${path}: no value the schema lacks`);
        }
        t.ok(servedValues(entry).length > 0, `${kind} ${path}: some value is served`);
      }
    }
  }
});

/** The outermost field of each refused or warned subtree, per kind and version. */
function outermost(kind: SupportKind, version: SchemaVersion, status: Support['status']): string[] {
  return schemaPaths(kind, version).filter((p) => {
    if (NOT_WALKED.test(p) || classOf(kind, p)?.status !== status) return false;
    return classOf(kind, parentOf(p))?.status !== status;
  });
}

t.test('a refused field is refused at admission, naming the field', async (t) => {
  let checked = 0;
  for (const kind of KINDS) {
    for (const version of SCHEMA_VERSIONS) {
      for (const path of outermost(kind, version, 'refused')) {
        const schema = fieldAt(kind, version, path) as FieldSchema;
        const obj = withField(kind, version, path, sample(schema));
        const { errors } = validateObject(obj);
        const field = concrete(path).text;
        const hit = errors.find(
          (e) => e.field === field && e.message.startsWith(`Forbidden: ${NOT_SUPPORTED}; `),
        );
        t.ok(hit, `${kind} ${version} ${field} is refused`, { errors });
        checked++;
      }
    }
  }
  // A floor that proves the walk ran (mostly unserved providers); it falls as fields are served.
  t.ok(checked > 100, `${checked} refused fields checked`);
});

t.test('a refused value is refused at admission, a served value is not', async (t) => {
  let checked = 0;
  for (const kind of KINDS) {
    for (const version of SCHEMA_VERSIONS) {
      for (const path of schemaPaths(kind, version)) {
        const entry = classOf(kind, path);
        if (entry?.status !== 'byValue') continue;
        const schemaEnum = fieldAt(kind, version, path)?.enum?.map(String);
        const values = [
          ...new Set([...Object.keys(entry.values), ...(entry.other ? ['some-other-value'] : [])]),
        ];
        for (const value of values) {
          if (schemaEnum && !schemaEnum.includes(value)) continue;
          const { errors } = validateObject(withField(kind, version, path, value));
          const field = concrete(path).text;
          const refusal = errors.find((e) => e.field === field && e.message.includes(NOT_SUPPORTED));
          const cls = classifyValue(entry, value);
          if (cls?.status === 'refused') {
            t.match(
              refusal?.message,
              `Unsupported value: ${JSON.stringify(value)}: ${NOT_SUPPORTED}; `,
              `${kind} ${version} ${field}: "${value}" is refused`,
            );
          } else t.notOk(refusal, `${kind} ${version} ${field}: "${value}" is accepted`, { errors });
          checked++;
        }
      }
    }
  }
  t.ok(checked > 40, `${checked} values checked`);
});

t.test('a warned field is accepted with a warning naming it', async (t) => {
  let checked = 0;
  for (const kind of KINDS) {
    for (const version of SCHEMA_VERSIONS) {
      for (const path of outermost(kind, version, 'warned')) {
        const schema = fieldAt(kind, version, path) as FieldSchema;
        const { errors, warnings } = validateObject(withField(kind, version, path, sample(schema)));
        const field = concrete(path).text;
        t.notOk(
          errors.some((e) => e.message.includes(NOT_SUPPORTED)),
          `${kind} ${version} ${field}: not refused`,
        );
        t.ok(
          warnings.some((w) => w.startsWith(`${field} is ignored by external-secrets-webhook: `)),
          `${kind} ${version} ${field} is warned about`,
          { warnings },
        );
        checked++;
      }
    }
  }
  t.ok(checked >= 14, `${checked} warned fields checked`);
});

t.test('a served field draws no refusal and no support warning', async (t) => {
  let checked = 0;
  for (const kind of KINDS) {
    for (const version of SCHEMA_VERSIONS) {
      for (const path of schemaPaths(kind, version)) {
        if (NOT_WALKED.test(path) || classOf(kind, path)?.status !== 'served') continue;
        const schema = fieldAt(kind, version, path) as FieldSchema;
        const { errors, warnings } = validateObject(withField(kind, version, path, sample(schema)));
        const field = concrete(path).text;
        const support = errors.filter((e) => e.message.includes(NOT_SUPPORTED));
        t.same(support, [], `${kind} ${version} ${field}: no refusal`);
        t.notOk(
          warnings.some((w) => w.includes('is ignored by external-secrets-webhook')),
          `${kind} ${version} ${field}: no support warning`,
        );
        checked++;
      }
    }
  }
  t.ok(checked > 300, `${checked} served fields checked`);
});

t.test('the checks are not blind: an unclassified field would be refused, not served', async (t) => {
  // A field ESO adds in its next release and nobody reviewed: the walk refuses what it cannot
  // classify. Simulated with a table line removed.
  const table = FIELD_SUPPORT.ExternalSecret as Record<string, unknown>;
  const saved = table['spec.refreshPolicy'];
  t.teardown(() => {
    table['spec.refreshPolicy'] = saved;
  });
  t.equal(classifyField('ExternalSecret', 'spec.refreshPolicy')?.key, 'spec.refreshPolicy');
  // The matcher compiles each table once; a fresh table object exercises the fallback instead.
  const { classifyIn } = await import('../../src/api/field-support.ts');
  t.equal(classifyIn({ 'spec.data.**': { status: 'served' } }, 'spec.refreshPolicy'), undefined);
  t.equal(
    classifyIn({ 'spec.data.**': { status: 'served' } }, 'spec.data[].remoteRef.key')?.key,
    'spec.data.**',
  );
  t.equal(classifyIn({ 'spec.data.**': { status: 'served' } }, 'spec.dataFrom'), undefined);
  t.equal(
    classifyIn(
      {
        'spec.*.x.**': { status: 'refused', why: 'a' },
        'spec.a.x.y': { status: 'served' },
        'spec.a.**': { status: 'warned', why: 'b' },
      },
      'spec.a.x.z',
    )?.key,
    'spec.a.**',
    'the longest literal prefix wins',
  );
});

t.test('a default the API server writes into every object is never refused or warned about', async (t) => {
  let checked = 0;
  for (const kind of KINDS) {
    for (const version of SCHEMA_VERSIONS) {
      for (const path of schemaPaths(kind, version)) {
        const schema = fieldAt(kind, version, path) as FieldSchema;
        if (schema.default === undefined || NOT_WALKED.test(path)) continue;
        // Defaults inside a refused field only appear when that field is written.
        if (classOf(kind, parentOf(path))?.status === 'refused') continue;
        const { errors, warnings } = validateObject(withField(kind, version, path, schema.default));
        const field = concrete(path).text;
        t.notOk(
          errors.some((e) => e.field === field && e.message.includes(NOT_SUPPORTED)),
          `${kind} ${version} ${field}: ${JSON.stringify(schema.default)} is not refused`,
        );
        t.notOk(
          warnings.some((w) => w.startsWith(`${field} is ignored`)),
          `${kind} ${version} ${field}: ${JSON.stringify(schema.default)} is not warned about`,
        );
        checked++;
      }
    }
  }
  t.ok(checked > 30, `${checked} defaults checked`);
});
