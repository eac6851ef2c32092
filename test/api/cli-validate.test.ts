/**
 * `esw validate` in-process (test/cli/npx.test.ts runs the real command through npx): paths,
 * directories and stdin, --strict, did-you-mean, -o json with the API server's cause structure,
 * whole YAML errors with their code frame, exit codes.
 */
import { join } from 'node:path';
import t from 'tap';
import { runValidate, type ValidateReport } from '../../src/cli/validate.ts';

const valid = join(import.meta.dirname, '..', 'fixtures', 'manifests', 'valid');

async function run(
  paths: string[],
  opts: { strict?: boolean; json?: boolean; stdin?: string } = {},
): Promise<{ code: number; lines: string[]; report: () => ValidateReport }> {
  let out = '';
  const code = await runValidate(paths, {
    strict: opts.strict ?? false,
    output: opts.json ? 'json' : 'text',
    io: {
      out: (s) => {
        out += s;
      },
      err: () => undefined,
      stdin: async () => opts.stdin ?? '',
    },
  });
  return { code, lines: out.trimEnd().split('\n'), report: () => JSON.parse(out) as ValidateReport };
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

const TYPOS = `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: typo
  namespace: default
spec:
  secretStoreRef:
    name: store
  target:
    creationPolcy: Owner
  data:
  - secretKey: username
    remoteRef:
      key: db
      proprety: username
`;

t.test('exit 0 and one line per valid object; warnings prefixed with their line', async (t) => {
  // The introduction's ExternalSecret (examples/manifests) and the fake provider's examples.
  const intro = join(import.meta.dirname, '..', '..', 'examples', 'manifests', 'external-secret.yaml');
  const { code, lines } = await run([intro, join(valid, 'fake.yaml')]);
  t.equal(code, 0);
  t.ok(
    lines.includes(`${intro}:1: ExternalSecret/default/database-credentials-secret: valid`),
    lines.join('\n'),
  );
  t.ok(
    lines.includes(
      `warning: ${intro}:10: ExternalSecret/default/database-credentials-secret: unknown field "spec.secretStoreRef.key"`,
    ),
    lines.join('\n'),
  );
  t.match(lines.at(-1), /^4 valid, 0 invalid, \d+ warnings$/);
});

t.test('exit 1 with <file>:<line>: <Kind>/<ns>/<name>: <field>: <message> per error', async (t) => {
  const dir = t.testdir({ 'bad.yaml': INVALID });
  const file = join(dir, 'bad.yaml');
  const { code, lines } = await run([file]);
  t.equal(code, 1);
  t.ok(
    lines.includes(
      `${file}:15: ExternalSecret/default/db: spec.data[1].remoteRef.key: Required value: the name of the secret in the provider`,
    ),
    lines.join('\n'),
  );
  t.ok(
    lines.some((l) =>
      l.startsWith(`${file}:7: ExternalSecret/default/db: spec.refreshInterval: Invalid value: "1 hour"`),
    ),
  );
  t.ok(lines.some((l) => l.startsWith(`${file}:28: ClusterSecretStore/two: spec.provider: Invalid value`)));
  t.ok(
    lines.includes(
      `${file}:18: skipping ConfigMap/unrelated: only ExternalSecret, SecretStore, ClusterSecretStore, ClusterExternalSecret and placeholder Secrets are validated`,
    ),
  );
  t.equal(lines.at(-1), '0 valid, 2 invalid, 1 skipped');
});

t.test('typos: a suggestion each; warnings by default, errors with --strict', async (t) => {
  const dir = t.testdir({ 'typo.yaml': TYPOS });
  const file = join(dir, 'typo.yaml');
  const lax = await run([file]);
  t.equal(lax.code, 0, 'an unknown field alone is a warning');
  t.ok(
    lax.lines.includes(
      `warning: ${file}:10: ExternalSecret/default/typo: unknown field "spec.target.creationPolcy" (did you mean "creationPolicy"?)`,
    ),
    lax.lines.join('\n'),
  );
  t.ok(
    lax.lines.includes(
      `warning: ${file}:15: ExternalSecret/default/typo: unknown field "spec.data[0].remoteRef.proprety" (did you mean "property"?)`,
    ),
  );
  const strict = await run([file], { strict: true });
  t.equal(strict.code, 1);
  t.ok(
    strict.lines.includes(
      `${file}:15: ExternalSecret/default/typo: spec.data[0].remoteRef.proprety: Unsupported value: unknown field, the API server drops it (did you mean "property"?)`,
    ),
    strict.lines.join('\n'),
  );
  t.notOk(
    strict.lines.some((l) => l.startsWith('warning:') && l.includes('proprety')),
    'under --strict the finding is an error, not also a warning',
  );
});

t.test('a kind the external-secrets.io group does not have is never "valid"', async (t) => {
  const text = 'apiVersion: external-secrets.io/v1\nkind: ExternalSecrets\nmetadata: {name: x}\nspec: {}\n';
  const lax = await run(['-'], { stdin: text });
  t.equal(lax.code, 0);
  t.same(lax.lines, [
    'warning: <stdin>:2: ExternalSecrets/x: unknown kind "ExternalSecrets" in external-secrets.io (did you mean "ExternalSecret"?)',
    '<stdin>:1: skipping ExternalSecrets/x: unknown kind "ExternalSecrets"',
    '0 valid, 0 invalid, 1 skipped, 1 warning',
  ]);
  const strict = await run(['-'], { stdin: text, strict: true });
  t.equal(strict.code, 1);
  t.match(
    strict.lines[0],
    /^<stdin>:2: ExternalSecrets\/x: kind: Unsupported value: "ExternalSecrets": supported values: .*\(did you mean "ExternalSecret"\?\)$/,
  );
  const known = await run(['-'], {
    stdin: 'apiVersion: external-secrets.io/v1alpha1\nkind: PushSecret\nmetadata: {name: p}\n',
  });
  t.equal(known.code, 0, 'a kind ESO has but esw does not validate is skipped, not flagged');
  t.match(known.lines[0], /skipping PushSecret\/p: PushSecret is not validated by esw/);
});

t.test('placeholder Secrets: misspelt labels and annotations, references without the label', async (t) => {
  const text = `apiVersion: v1
kind: Secret
metadata:
  name: ph
  namespace: team-a
  labels:
    esw.io/injet: "true"
  annotations:
    esw.io/stroe: aws
stringData:
  password: \${ref:db#password}
---
apiVersion: v1
kind: Secret
metadata:
  name: filled
  namespace: team-a
  labels: {esw.io/inject: "true"}
  annotations: {esw.io/store: aws, esw.io/refresh-interval: soon}
stringData:
  broken: \${ref:db#a#b#c}
---
apiVersion: v1
kind: Secret
metadata: {name: plain, namespace: team-a}
stringData: {a: b}
`;
  const { code, lines } = await run(['-'], { stdin: text });
  t.equal(code, 1);
  t.ok(
    lines.includes(
      'warning: <stdin>:7: Secret/team-a/ph: unknown label esw.io/injet is ignored (did you mean "esw.io/inject"?)',
    ),
    lines.join('\n'),
  );
  t.ok(
    lines.includes(
      'warning: <stdin>:9: Secret/team-a/ph: unknown annotation esw.io/stroe is ignored (did you mean "esw.io/store"?)',
    ),
  );
  t.ok(
    lines.some((l) =>
      /^<stdin>:\d+: Secret\/team-a\/ph: metadata\.labels\[esw\.io\/inject\]: Required value: the Secret holds/.test(
        l,
      ),
    ),
  );
  t.ok(
    lines.some((l) =>
      /Secret\/team-a\/filled: metadata\.annotations: Invalid value: annotation esw\.io\/refresh-interval/.test(
        l,
      ),
    ),
  );
  t.ok(
    lines.some((l) =>
      /^<stdin>:21: Secret\/team-a\/filled: stringData\[broken\]: Invalid value: .*too many "#"/.test(l),
    ),
    lines.join('\n'),
  );
  t.ok(lines.some((l) => l.includes('skipping Secret/team-a/plain')));
});

t.test('-o json: every object with details.causes[] as the API server carries them', async (t) => {
  const dir = t.testdir({ 'bad.yaml': INVALID, 'typo.yaml': TYPOS });
  const { code, report } = await run([dir], { json: true, strict: true });
  t.equal(code, 1);
  const r = report();
  t.equal(r.exitCode, 1);
  t.same(r.summary, { valid: 0, invalid: 3, skipped: 1, unreadable: 0, warnings: r.summary.warnings });
  const db = r.results.find((o) => o.name === 'db');
  t.match(db, {
    status: 'Invalid',
    details: { name: 'db', group: 'external-secrets.io', kind: 'ExternalSecret' },
  });
  t.match(db?.details?.causes, [
    { field: 'spec.refreshInterval', reason: 'FieldValueInvalid', message: /^Invalid value: "1 hour": / },
    {
      field: 'spec.data[1].remoteRef.key',
      reason: 'FieldValueRequired',
      message: 'Required value: the name of the secret in the provider',
      line: 15,
    },
  ]);
  const typo = r.results.find((o) => o.name === 'typo');
  t.ok(
    typo?.details?.causes.some(
      (c) => c.field === 'spec.data[0].remoteRef.proprety' && c.reason === 'FieldValueNotSupported',
    ),
  );
});

t.test('directories are searched recursively for .yaml, .yml and .json; stdin is "-"', async (t) => {
  const dir = t.testdir({
    a: {
      'one.yml': TYPOS,
      deeper: {
        'two.json': JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }),
      },
    },
    'notes.txt': 'kind: ExternalSecret\nthis is not checked',
    '.git': { 'x.yaml': 'kind: [broken' },
  });
  const { code, report } = await run([dir, '-'], { json: true, stdin: INVALID });
  t.equal(code, 1);
  t.same(
    [...new Set(report().results.map((r) => r.file))],
    [join(dir, 'a', 'deeper', 'two.json'), join(dir, 'a', 'one.yml'), '<stdin>'],
  );
});

t.test('exit 2: unreadable paths and YAML errors, whole, with their code frame', async (t) => {
  const dir = t.testdir({
    'broken.yaml': 'kind: ExternalSecret\nspec:\n  data: [unclosed\n  x: 1\n',
    'ok.yaml': '',
    empty: {},
  });
  const missing = join(dir, 'missing.yaml');
  const { code, lines } = await run([
    missing,
    join(dir, 'broken.yaml'),
    join(valid, 'fake.yaml'),
    join(dir, 'ok.yaml'),
    join(dir, 'empty'),
  ]);
  t.equal(code, 2);
  const text = lines.join('\n');
  t.ok(lines.includes(`${missing}: error: cannot read (ENOENT)`), text);
  t.ok(lines.includes(`${join(dir, 'empty')}: error: no .yaml, .yml or .json file in the directory`));
  t.match(
    text,
    `${join(dir, 'broken.yaml')}:4:3: error: YAML syntax error in document 1: Flow sequence in block collection must be sufficiently indented and end with a ] at line 4, column 3:\n\n  data: [unclosed\n  x: 1\n  ^`,
    'the whole message with its code frame',
  );
  t.ok(lines.some((l) => l.endsWith('ClusterSecretStore/fake: valid')));
  t.match(lines.at(-1), /^3 valid, 0 invalid, 3 unreadable/);
});

t.test('kind: List is expanded, with lines inside the list', async (t) => {
  const dir = t.testdir({
    'list.yaml': `apiVersion: v1
kind: List
items:
- apiVersion: external-secrets.io/v1
  kind: SecretStore
  metadata: {name: s, namespace: a}
  spec:
    provider:
      aws: {service: SecretsManager}
`,
  });
  const { code, lines } = await run([join(dir, 'list.yaml')]);
  t.equal(code, 1);
  t.ok(
    lines.includes(
      `${join(dir, 'list.yaml')}:9: SecretStore/a/s: spec.provider.aws.region: Required value: the AWS region, e.g. "us-east-1"`,
    ),
    lines.join('\n'),
  );
});

t.test('the examples validate, strictly', async (t) => {
  const root = join(import.meta.dirname, '..', '..', 'examples');
  const { code, lines } = await run(
    [
      join(root, 'manifests', 'secret-store.yaml'),
      join(root, 'placeholder-secret.yaml'),
      join(root, 'stores.yaml'),
    ],
    { strict: false },
  );
  t.equal(code, 0, lines.join('\n'));
  t.notOk(
    lines.some((l) => l.includes('did you mean')),
    'no typo in the examples',
  );
});
