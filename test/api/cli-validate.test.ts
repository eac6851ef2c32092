import { join } from 'node:path';
import t from 'tap';
import { runValidate } from '../../src/cli/validate.ts';

const valid = join(import.meta.dirname, '..', 'fixtures', 'manifests', 'valid');

async function run(files: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await runValidate(files, (l) => lines.push(l));
  return { code, lines };
}

const INVALID = `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: db
  namespace: default
spec:
  refreshInterval: 1 hour
  secretStoreRef:
    name: store
  data:
  - secretKey: username
    remoteRef:
      key: db
  - secretKey: password
    remoteRef:
      property: password
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: unrelated
---
apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata:
  name: two
spec:
  provider:
    fake:
      data: []
    vault:
      server: https://vault:8200
`;

t.test('exit 0 and one line per valid object; warnings prefixed', async (t) => {
  const { code, lines } = await run([join(valid, 'intro.yaml'), join(valid, 'vault.yaml')]);
  t.equal(code, 0);
  t.ok(
    lines.includes(`${join(valid, 'intro.yaml')}: ExternalSecret/default/database-credentials-secret: valid`),
  );
  t.ok(
    lines.includes(
      `warning: ${join(valid, 'intro.yaml')}: ExternalSecret/default/database-credentials-secret: unknown field "spec.secretStoreRef.key"`,
    ),
  );
  t.equal(lines.at(-1), '8 valid, 0 invalid');
});

t.test('exit 1 with <file>: <Kind>/<ns>/<name>: <field>: <message> per error', async (t) => {
  const dir = t.testdir({ 'bad.yaml': INVALID });
  const file = join(dir, 'bad.yaml');
  const { code, lines } = await run([file]);
  t.equal(code, 1);
  t.ok(
    lines.includes(
      `${file}: ExternalSecret/default/db: spec.data[1].remoteRef.key: Required value: the name of the secret in the provider`,
    ),
  );
  t.ok(
    lines.some((l) =>
      l.startsWith(`${file}: ExternalSecret/default/db: spec.refreshInterval: Invalid value: "1 hour"`),
    ),
  );
  t.ok(lines.some((l) => l.startsWith(`${file}: ClusterSecretStore/two: spec.provider: Invalid value`)));
  t.ok(
    lines.includes(
      `${file}: skipping ConfigMap/unrelated: only ExternalSecret, SecretStore, ClusterSecretStore are validated`,
    ),
  );
  t.equal(lines.at(-1), '0 valid, 2 invalid');
});

t.test('exit 2 for an unreadable file or a YAML syntax error, other files still checked', async (t) => {
  const dir = t.testdir({ 'broken.yaml': 'kind: ExternalSecret\nspec: [unclosed\n', 'ok.yaml': '' });
  const missing = join(dir, 'missing.yaml');
  const { code, lines } = await run([
    missing,
    join(dir, 'broken.yaml'),
    join(valid, 'fake.yaml'),
    join(dir, 'ok.yaml'),
  ]);
  t.equal(code, 2);
  t.ok(lines.includes(`${missing}: error: cannot read file (ENOENT)`));
  t.ok(
    lines.some((l) => l.startsWith(`${join(dir, 'broken.yaml')}: error: YAML syntax error in document 1:`)),
  );
  t.ok(lines.some((l) => l.endsWith('ClusterSecretStore/fake: valid')));
  t.ok(lines.includes(`${join(dir, 'ok.yaml')}: no objects`));
});

t.test('kind: List is expanded', async (t) => {
  const dir = t.testdir({
    'list.yaml': `apiVersion: v1
kind: List
items:
- apiVersion: external-secrets.io/v1
  kind: SecretStore
  metadata: {name: s, namespace: a}
  spec: {provider: {aws: {service: SecretsManager}}}
`,
  });
  const { code, lines } = await run([join(dir, 'list.yaml')]);
  t.equal(code, 1);
  t.ok(
    lines.some((l) =>
      l.endsWith(
        'SecretStore/a/s: spec.provider.aws.region: Required value: the AWS region, e.g. "us-east-1"',
      ),
    ),
  );
});

t.test('the examples in examples/manifests validate', async (t) => {
  const dir = join(import.meta.dirname, '..', '..', 'examples', 'manifests');
  const { code, lines } = await run([join(dir, 'secret-store.yaml'), join(dir, 'external-secret.yaml')]);
  t.equal(code, 0);
  t.equal(lines.at(-1), '2 valid, 0 invalid');
});
