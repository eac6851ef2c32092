/**
 * .pre-commit-hooks.yaml: the hook pre-commit installs runs this package's `esw` command, and its
 * entry and args, with the staged file names appended as pre-commit does, fail on a typo and pass
 * on valid manifests — also from an installed copy under node_modules, as pre-commit installs it.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { main } from '../../src/main.ts';

const root = join(import.meta.dirname, '..', '..');

const hooks = parse(await readFile(join(root, '.pre-commit-hooks.yaml'), 'utf8')) as Record<
  string,
  unknown
>[];
const hook = hooks.find((h) => h.id === 'esw-validate') as {
  entry: string;
  args: string[];
  language: string;
  types_or: string[];
};
const [command, ...entryArgs] = hook.entry.split(' ');
/** What pre-commit runs, before it appends the staged files. */
const hookArgv = [...entryArgs, ...hook.args];

t.test('the esw-validate hook', async (t) => {
  t.equal(hook.language, 'node', 'pre-commit installs the package with npm');
  t.same(hook.types_or, ['yaml', 'json']);
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
    bin: Record<string, string>;
    files: string[];
    scripts: Record<string, string>;
  };
  t.ok(pkg.bin[command as string], `${command} is the package's command`);
  t.ok(
    pkg.files.includes('bin/') && pkg.files.includes('src/'),
    'npm pack carries the launcher and the sources',
  );
  for (const script of ['prepare', 'prepack', 'preinstall', 'install', 'postinstall']) {
    t.notOk(
      pkg.scripts[script],
      `no ${script} script: pre-commit reads the tarball name from npm pack's output`,
    );
  }
  const doc = await readFile(join(root, 'docs', 'cli.md'), 'utf8');
  t.match(doc, 'id: esw-validate', 'documented in docs/cli.md');

  const dir = t.testdir({
    'typo.yaml': `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: t, namespace: default}
spec:
  secretStoreRef: {name: s}
  data: [{secretKey: a, remoteRef: {key: k, proprety: p}}]
`,
    'ok.json': JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }),
  });
  const io = { out: () => undefined, err: () => undefined, stdin: async () => '' };
  const argv = (files: string[]) => [...hookArgv, ...files.map((f) => join(dir, f))];
  t.equal(await main(argv(['typo.yaml', 'ok.json']), io), 1, 'a typo fails the commit');
  t.equal(await main(argv(['ok.json']), io), 0, 'other objects pass');
});

t.test('an installed copy (under node_modules, no Node 24 of its own) runs from its sources', async (t) => {
  // The layout `npm install -g` gives pre-commit: the package's files under node_modules, its
  // production dependencies beside them, the environment's Node on PATH.
  const dir = t.testdir({
    'typo.yaml': 'apiVersion: external-secrets.io/v1\nkind: ExternalSecrets\nmetadata: {name: x}\n',
  });
  const pkgDir = join(dir, 'node_modules', 'external-secrets-webhook');
  await mkdir(join(pkgDir, 'node_modules'), { recursive: true });
  for (const entry of ['bin', 'src', 'package.json']) await symlink(join(root, entry), join(pkgDir, entry));
  for (const dep of await readdir(join(root, 'node_modules'))) {
    if (dep !== 'node' && dep !== '.bin')
      await symlink(join(root, 'node_modules', dep), join(pkgDir, 'node_modules', dep));
  }
  const { stdout, stderr, code } = await new Promise<{ stdout: string; stderr: string; code: number }>(
    (resolve) => {
      execFile(
        process.execPath,
        [join(pkgDir, 'bin', 'esw.cjs'), ...hookArgv, join(dir, 'typo.yaml')],
        { env: { ...process.env, PATH: dirname(process.execPath) } },
        (err, out, errOut) => resolve({ stdout: out, stderr: errOut, code: err ? Number(err.code) : 0 }),
      );
    },
  );
  t.equal(code, 1, stderr);
  t.match(stdout, 'kind: Unsupported value: "ExternalSecrets"');
  t.equal(stderr, '', 'no experimental-feature warning');
});
