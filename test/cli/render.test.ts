import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { parse } from 'yaml';
import { runRender } from '../../src/cli/render.ts';

const root = join(import.meta.dirname, '..', '..');
const CANARY = `CANARY-render-${Math.random().toString(36).slice(2)}`;

const STORES = `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: render-store, namespace: team-a }
spec:
  provider:
    fake:
      data:
        - key: app/db
          value: '{"username":"app","password":"${CANARY}"}'
`;

const secret = (stringData: Record<string, string>, extra = '') => `apiVersion: v1
kind: Secret
metadata:
  name: rendered
  namespace: team-a
  labels: { esw.io/inject: "true" }
  annotations: { esw.io/store: render-store${extra} }
stringData:
${Object.entries(stringData)
  .map(([k, v]) => `  ${k}: '${v}'`)
  .join('\n')}
`;

async function files(t: Test, docs: Record<string, string>): Promise<Record<string, string>> {
  const dir = await mkdtemp(join(tmpdir(), 'esw-render-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const out: Record<string, string> = {};
  for (const [name, text] of Object.entries(docs)) {
    out[name] = join(dir, name);
    await writeFile(out[name], text);
  }
  return out;
}

async function render(file: string, stores: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runRender(
    file,
    stores,
    (s) => {
      stdout += s;
    },
    (s) => {
      stderr += s;
    },
  );
  return { code, stdout, stderr };
}

type Rendered = {
  data: Record<string, string>;
  stringData?: unknown;
  metadata: { annotations: Record<string, string> };
};

const decoded = (s: Rendered) =>
  Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));

t.test(
  'the example placeholder Secret renders with the example stores (the README walk-through)',
  async (t) => {
    const r = await render(join(root, 'examples', 'placeholder-secret.yaml'), [
      join(root, 'examples', 'stores.yaml'),
    ]);
    t.equal(r.code, 0, r.stderr);
    const out = parse(r.stdout) as Rendered;
    t.same(decoded(out), {
      username: 'db_user',
      password: 'supersecretpassword',
      url: 'postgres://db_user@db:5432/app',
    });
    t.equal(
      out.data.password,
      Buffer.from('supersecretpassword').toString('base64'),
      'values are base64 data',
    );
    t.notOk('stringData' in out, 'stringData is gone');
    t.match(out.metadata.annotations['esw.io/data-hash'], /^[0-9a-f]{64}$/);
    t.notOk(r.stdout.includes('${ref:'), 'no literal placeholder in the output');
  },
);

t.test('a Secret is rendered against stores of its own namespace', async (t) => {
  const f = await files(t, {
    'stores.yaml': STORES,
    'secret.yaml': secret({
      user: '${ref:app/db#username}',
      dsn: 'u=${ref:app/db#username};p=${ref:app/db#password}',
    }),
  });
  const r = await render(f['secret.yaml'] as string, [f['stores.yaml'] as string]);
  t.equal(r.code, 0, r.stderr);
  t.same(decoded(parse(r.stdout) as Rendered), { user: 'app', dsn: `u=app;p=${CANARY}` });
});

t.test(
  'a refusal exits 1 with the message on stderr, naming the reference and store, never a value',
  async (t) => {
    const f = await files(t, {
      'stores.yaml': STORES,
      'secret.yaml': secret({ password: '${ref:app/db#password}', missing: '${ref:app/db#nope}' }),
      'syntax.yaml': secret({ bad: '${ref:app/db#a#b#c}' }),
      'nostore.yaml': secret({ password: '${ref:app/db#password}' }).replace(
        'esw.io/store: render-store',
        'x: y',
      ),
    });
    const missing = await render(f['secret.yaml'] as string, [f['stores.yaml'] as string]);
    t.equal(missing.code, 1);
    t.equal(missing.stdout, '', 'nothing printed on stdout');
    t.match(missing.stderr, /nope/);
    t.match(missing.stderr, /render-store/);
    t.notOk(missing.stderr.includes(CANARY), 'no value in the message');

    const syntax = await render(f['syntax.yaml'] as string, [f['stores.yaml'] as string]);
    t.equal(syntax.code, 1);
    t.match(syntax.stderr, /bad/);

    const noStore = await render(f['nostore.yaml'] as string, [f['stores.yaml'] as string]);
    t.equal(noStore.code, 1);
    t.match(noStore.stderr, /esw\.io\/store/);
  },
);

t.test('unreadable input exits 2', async (t) => {
  const f = await files(t, {
    'stores.yaml': STORES,
    'empty.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n',
  });
  t.equal((await render('/nonexistent/secret.yaml', [f['stores.yaml'] as string])).code, 2);
  const none = await render(f['empty.yaml'] as string, [f['stores.yaml'] as string]);
  t.equal(none.code, 2);
  t.match(none.stderr, /no Secret/);
});

t.test('a Secret the webhook would not fill is refused, not printed unchanged', async (t) => {
  const f = await files(t, {
    'stores.yaml': STORES,
    'unlabelled.yaml': secret({ user: '${ref:app/db#username}' }).replace(
      'labels: { esw.io/inject: "true" }',
      'labels: { esw.io/injet: "true" }',
    ),
    'no-label.yaml': secret({ user: 'plain' }).replace('labels: { esw.io/inject: "true" }', 'labels: {}'),
  });
  const typo = await render(f['unlabelled.yaml'] as string, [f['stores.yaml'] as string]);
  t.equal(typo.code, 1);
  t.equal(typo.stdout, '');
  t.match(
    typo.stderr,
    'error: Secret "team-a/rendered" is not labelled esw.io/inject: "true": the webhook would store it unchanged',
  );
  t.match(typo.stderr, 'unknown label esw.io/injet is ignored (did you mean "esw.io/inject"?)');
  const plain = await render(f['no-label.yaml'] as string, [f['stores.yaml'] as string]);
  t.equal(plain.code, 1);
  t.notMatch(plain.stderr, 'did you mean');
});

t.test('--strict: a Secret rendered with warnings is refused', async (t) => {
  const f = await files(t, {
    'stores.yaml': STORES,
    'nothing.yaml': secret({ user: 'plain' }),
  });
  const lax = await render(f['nothing.yaml'] as string, [f['stores.yaml'] as string]);
  t.equal(lax.code, 0);
  t.match(lax.stderr, 'holds no ${ref:…} references');
  let stderr = '';
  const strict = await runRender(
    f['nothing.yaml'] as string,
    [f['stores.yaml'] as string],
    () => undefined,
    (s) => {
      stderr += s;
    },
    { strict: true },
  );
  t.equal(strict, 1);
  t.match(stderr, 'has warnings (--strict)');
});
