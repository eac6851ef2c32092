/**
 * .pre-commit-hooks.yaml: the hook pre-commit installs runs this package's `esw` command (npm
 * packs bin/ and a fresh dist/), and its entry and args, with the staged file names appended as
 * pre-commit does, fail on a typo and pass on valid manifests.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { main } from '../../src/main.ts';

const root = join(import.meta.dirname, '..', '..');

t.test('the esw-validate hook', async (t) => {
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
  t.ok(hook, 'the hook is defined');
  t.equal(hook.language, 'node', 'pre-commit installs the package with npm');
  t.same(hook.types_or, ['yaml', 'json']);
  const [command, ...entryArgs] = hook.entry.split(' ');
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
    bin: Record<string, string>;
    files: string[];
    scripts: Record<string, string>;
  };
  t.ok(pkg.bin[command as string], `${command} is the package's command`);
  t.ok(
    pkg.files.includes('bin/') && pkg.files.includes('dist/'),
    'npm pack carries the launcher and the build',
  );
  t.match(pkg.scripts.prepack, /npm run build/, 'and builds dist/ first (pre-commit runs npm pack)');
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
  const argv = (files: string[]) => [...entryArgs, ...hook.args, ...files.map((f) => join(dir, f))];
  t.equal(await main(argv(['typo.yaml', 'ok.json']), io), 1, 'a typo fails the commit');
  t.equal(await main(argv(['ok.json']), io), 0, 'other objects pass');
});
