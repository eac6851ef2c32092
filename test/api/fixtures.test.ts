import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { classifyField, NOT_SUPPORTED, type SupportKind } from '../../src/api/field-support.ts';
import { normalizePath, type SchemaVersion } from '../../src/api/schema-table.ts';
import { validateObject } from '../../src/api/validate.ts';

const dir = join(import.meta.dirname, '..', 'fixtures', 'manifests', 'valid');

function load(file: string): Record<string, unknown>[] {
  return parseAllDocuments(readFileSync(join(dir, file), 'utf8'))
    .map((d) => d.toJS() as Record<string, unknown> | null)
    .filter((o): o is Record<string, unknown> => o !== null);
}

/** Where the admin allows every namespace the webhook's own identity (ESO's behaviour). */
const EVERYWHERE = { identity: { ambientNamespaces: ['*'], gcpExternalAccount: false } };

/**
 * The fixtures are ESO's documented examples: valid for ESO 2.9. This webhook accepts each one,
 * or refuses it only for fields it does not serve ("what validates, works"), each refusal naming
 * a field (or value) the field-support table classifies as refused.
 */
t.test(
  'every valid fixture is accepted, or refused only for fields this webhook does not serve',
  async (t) => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    t.ok(files.length >= 7);
    let accepted = 0;
    for (const file of files) {
      const docs = load(file);
      t.ok(docs.length > 0, `${file} has documents`);
      for (const doc of docs) {
        const meta = doc.metadata as { name?: string };
        const { errors } = validateObject(doc, EVERYWHERE);
        if (errors.length === 0) accepted++;
        for (const e of errors) {
          t.match(
            e.message,
            NOT_SUPPORTED,
            `${file}: ${doc.kind}/${meta.name}: ${e.field} is a support refusal`,
          );
          const version = String(doc.apiVersion).split('/')[1] as SchemaVersion;
          const kind = doc.kind as SupportKind;
          const normalized = normalizePath(kind, version, e.field) ?? '';
          t.equal(
            classifyField(kind, normalized)?.entry.status,
            e.message.startsWith('Unsupported value') ? 'byValue' : 'refused',
            `${file}: ${e.field} is classified so`,
          );
        }
      }
    }
    t.ok(accepted >= 15, `${accepted} fixtures accepted as they are`);
  },
);

/** ESO's examples that use the webhook's own identity in a namespaced SecretStore. */
const AMBIENT = new Set([
  'aws.yaml: SecretStore/parameterstore',
  'azurekv.yaml: SecretStore/example-secret-store-mi',
  'gcpsm.yaml: SecretStore/gcp-default-credentials',
  // auth.jwt without serviceAccountRef: "populated by the SA of the running pod".
  'intro.yaml: SecretStore/aws-secrets-manager-store',
]);

t.test('ambient identity: refused by default, on the one field that chose it', async (t) => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  t.ok(files.length >= 7);
  const refused = new Set<string>();
  for (const file of files) {
    const docs = load(file);
    t.ok(docs.length > 0, `${file} has documents`);
    for (const doc of docs) {
      const meta = doc.metadata as { name?: string };
      const id = `${file}: ${doc.kind}/${meta.name}`;
      // By default a namespaced store that would use this server's identity is refused, on
      // the one field that chose it, and nothing else is.
      const allowed = validateObject(doc, EVERYWHERE).errors.length;
      const strict = validateObject(doc).errors;
      if (strict.length > allowed) {
        refused.add(id);
        t.equal(strict.length, allowed + 1, id);
        t.ok(
          strict.some((e) => e.message.includes('--allow-ambient-identity-namespaces')),
          id,
        );
      }
    }
  }
  t.same([...refused].sort(), [...AMBIENT].sort());
});

t.test('a documented example for each provider, ExternalSecrets for each', async (t) => {
  const providers = new Set<string>();
  const kinds = new Set<string>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
    for (const doc of load(file)) {
      kinds.add(`${doc.apiVersion} ${doc.kind}`);
      const spec = doc.spec as { provider?: Record<string, unknown> } | undefined;
      for (const p of Object.keys(spec?.provider ?? {})) providers.add(p);
    }
  }
  t.same([...providers].sort(), ['aws', 'azurekv', 'fake', 'gcpsm', 'vault']);
  for (const k of [
    'external-secrets.io/v1 ExternalSecret',
    'external-secrets.io/v1beta1 ExternalSecret',
    'external-secrets.io/v1 SecretStore',
    'external-secrets.io/v1 ClusterSecretStore',
  ]) {
    t.ok(kinds.has(k), k);
  }
});

t.test("the introduction's SecretStore and ExternalSecret, exactly as written", async (t) => {
  const [store, es] = load('intro.yaml');
  // Where the introduction itself is at hand (the project's shared reference), the fixture is
  // checked to be its text, byte for byte.
  const introPath = join(
    import.meta.dirname,
    '..',
    '..',
    '..',
    'shared',
    'reference',
    'external-secrets-operator-intro.txt',
  );
  if (existsSync(introPath)) {
    const intro = readFileSync(introPath, 'utf8');
    for (const block of readFileSync(join(dir, 'intro.yaml'), 'utf8').split('---\n')) {
      t.ok(intro.includes(block.trimEnd()), 'fixture block appears verbatim in the introduction');
    }
  }
  const s = validateObject(store);
  // Per-store IRSA: refused, naming the field, for as long as the table says it is not served.
  if (classifyField('SecretStore', 'spec.provider.aws.auth.jwt')?.entry.status === 'refused') {
    t.same(
      s.errors.map((e) => e.field),
      ['spec.provider.aws.auth.jwt'],
    );
    t.match(s.errors[0]?.message, `Forbidden: ${NOT_SUPPORTED}; per-store IRSA`);
  } else {
    // As written ("populated by the SA of the running pod", no serviceAccountRef) it is this
    // webhook's own IRSA: a namespaced SecretStore may use it only where a cluster admin allows.
    t.same(
      s.errors.map((e) => e.field),
      ['spec.provider.aws.auth.jwt.serviceAccountRef'],
    );
    t.match(s.errors[0]?.message, 'a SecretStore must name auth.jwt.serviceAccountRef (or auth.secretRef)');
    const allowed = validateObject(store, {
      identity: { ambientNamespaces: ['default'], gcpExternalAccount: false },
    });
    t.same(allowed.errors, []);
    t.ok(allowed.warnings.includes('unknown field "spec.provider.aws.auth.jwt.serviceAccountToken"'));
    // With a ServiceAccount named (ESO's per-store IRSA), it is valid anywhere.
    const named = structuredClone(store) as { spec: { provider: { aws: { auth: { jwt: object } } } } };
    named.spec.provider.aws.auth.jwt = { serviceAccountRef: { name: 'my-app' } };
    t.same(validateObject(named as never).errors, []);
  }
  const e = validateObject(es);
  t.same(e.errors, []);
  t.ok(e.warnings.includes('unknown field "spec.secretStoreRef.key"'));
  t.ok(e.warnings.some((w) => w.includes('v1beta1 ExternalSecret is deprecated')));
});
