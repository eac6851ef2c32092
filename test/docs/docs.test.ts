/**
 * Docs that are true: every relative link and anchor in README.md, docs/ and bench/ resolves; every
 * repository path they cite in backticks exists; deploy/chart/values.yaml points at sections that
 * exist; nothing cites the design notes that are not part of the repository, nor a git tag that
 * does not exist; the first-cluster quick start installs what it says and applies manifests that
 * validate; the AWS region text says what validation enforces.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import GithubSlugger from 'github-slugger';
import { marked, type Token, type Tokens } from 'marked';
import t from 'tap';
import { parse, parseAllDocuments } from 'yaml';
import { helmBinary } from '../../scripts/binaries.ts';
import { validateObject } from '../../src/api/validate.ts';
import { validatePaths } from '../../src/cli/validate.ts';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');

async function markdownFiles(): Promise<string[]> {
  const out = [join(root, 'README.md')];
  const walk = async (dir: string) => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith('.md')) out.push(p);
    }
  };
  await walk(join(root, 'docs'));
  for (const e of await readdir(join(root, 'bench'))) if (e.endsWith('.md')) out.push(join(root, 'bench', e));
  return out;
}

const tokensOf = new Map<string, Token[]>();
async function tokens(file: string): Promise<Token[]> {
  let toks = tokensOf.get(file);
  if (!toks) {
    toks = marked.lexer(await readFile(file, 'utf8'));
    tokensOf.set(file, toks);
  }
  return toks;
}

/** GitHub's heading anchors of a Markdown file (duplicates get -1, -2 as on GitHub). */
async function anchors(file: string): Promise<Set<string>> {
  const slugger = new GithubSlugger();
  const out = new Set<string>();
  marked.walkTokens(await tokens(file), (tok) => {
    if (tok.type === 'heading') out.add(slugger.slug((tok as Tokens.Heading).text));
  });
  return out;
}

t.test('every relative link and anchor in README.md, docs/ and bench/ resolves', async (t) => {
  let checked = 0;
  for (const file of await markdownFiles()) {
    const rel = relative(root, file);
    const links: string[] = [];
    marked.walkTokens(await tokens(file), (tok) => {
      if (tok.type === 'link' || tok.type === 'image') links.push((tok as Tokens.Link).href);
    });
    for (const href of links) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(href)) continue; // https:, mailto:
      checked++;
      const [path = '', anchor] = href.split('#');
      const target = path === '' ? file : join(dirname(file), decodeURIComponent(path));
      t.ok(existsSync(target), `${rel}: link ${href} -> ${relative(root, target)} exists`);
      if (anchor && target.endsWith('.md') && existsSync(target)) {
        t.ok(
          (await anchors(target)).has(anchor),
          `${rel}: anchor #${anchor} exists in ${relative(root, target)}`,
        );
      }
    }
  }
  t.ok(checked > 30, `links checked: ${checked}`);
});

t.test('every repository path cited in backticks exists', async (t) => {
  const cited = /^(?:src|test|docs|deploy|bench|examples|scripts|bin)\/[\w./-]*$/;
  // What a run writes (bench/out/, the oracles' binaries) is git-ignored: a fresh clone has none.
  const generated = (await readFile(join(root, '.gitignore'), 'utf8'))
    .split('\n')
    .filter((l) => /^[\w.-]+\/.+\/$/.test(l));
  t.ok(generated.includes('bench/out/'), 'bench/out/ is among the generated directories');
  let checked = 0;
  for (const file of await markdownFiles()) {
    const rel = relative(root, file);
    marked.walkTokens(await tokens(file), (tok) => {
      if (tok.type !== 'codespan') return;
      const text = (tok as Tokens.Codespan).text;
      if (!cited.test(text) || generated.some((dir) => text.startsWith(dir))) return;
      checked++;
      t.ok(existsSync(join(root, text)), `${rel}: \`${text}\` exists`);
    });
  }
  t.ok(checked > 20, `paths checked: ${checked}`);
});

t.test('deploy/chart/values.yaml points at docs and sections that exist', async (t) => {
  const values = await readFile(join(root, 'deploy', 'chart', 'values.yaml'), 'utf8');
  const refs = [...values.matchAll(/(docs\/[\w/.-]+\.md)(?:, section "([^"]+)")?/g)];
  t.ok(refs.length > 0);
  for (const [, doc = '', section] of refs) {
    t.ok(existsSync(join(root, doc)), `${doc} exists`);
    if (section)
      t.ok((await anchors(join(root, doc))).has(new GithubSlugger().slug(section)), `${doc}: "${section}"`);
  }
});

t.test('no file cites notes that are not in the repository, nor a tag that does not exist', async (t) => {
  const { stdout } = await run('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
    cwd: root,
  });
  const tags = (await run('git', ['tag', '--list'], { cwd: root })).stdout.split('\n').filter(Boolean);
  const design = ['DESIGN', 'md'].join('.');
  for (const file of stdout.split('\n').filter((f) => /\.(md|ts|yaml|yml|json|cjs|txt)$/.test(f))) {
    if (file === 'package-lock.json' || !existsSync(join(root, file))) continue;
    const text = await readFile(join(root, file), 'utf8');
    t.notOk(text.includes(design), `${file} does not cite ${design}`);
    for (const m of text.matchAll(/\?ref=(v[\w.-]+)/g))
      t.ok(tags.includes(m[1] as string), `${file}: tag ${m[1]} exists`);
  }
  const ignore = await readFile(join(root, '.gitignore'), 'utf8');
  for (const kept of ignore.split('\n').filter((l) => l.startsWith('!'))) {
    t.ok(existsSync(join(root, kept.slice(1))), `.gitignore keeps ${kept.slice(1)}, which exists`);
  }
});

t.test(
  'the first-cluster quick start: the helm command installs the loaded image; the manifests validate',
  async (t) => {
    const install = await readFile(join(root, 'docs', 'install.md'), 'utf8');
    const section = install.slice(
      install.indexOf('## Quick start'),
      install.indexOf('\n## ', install.indexOf('## Quick start') + 3),
    );
    const script = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    t.match(script, /kind create cluster/);
    t.match(script, /docker build -t external-secrets-webhook:dev \./);
    t.match(script, /kind load docker-image external-secrets-webhook:dev/);
    const helmLine = /npm run -s helm -- (install (?:[^\n\\]|\\\n)*)/.exec(script)?.[1] ?? '';
    const args = helmLine.replace(/\\\n/g, ' ').split(/\s+/).filter(Boolean);
    t.equal(args[0], 'install');
    // `helm template` takes the same arguments and shows what `helm install` would create.
    const { stdout } = await run(
      await helmBinary(),
      ['template', ...args.slice(1).map((a) => a.replace('deploy/chart', join(root, 'deploy/chart')))],
      {
        maxBuffer: 16 << 20,
      },
    );
    const objects = parseAllDocuments(stdout).map((d) => d.toJS()) as {
      kind: string;
      spec?: Record<string, unknown>;
    }[];
    const deployment = objects.find((o) => o?.kind === 'Deployment') as unknown as {
      spec: {
        replicas: number;
        template: { spec: { containers: { image: string; imagePullPolicy: string }[] } };
      };
    };
    t.match(deployment.spec.template.spec.containers[0], {
      image: 'external-secrets-webhook:dev',
      imagePullPolicy: 'Never',
    });
    t.equal(deployment.spec.replicas, 1);
    const applied = [...script.matchAll(/kubectl apply -f (\S+)/g)].map((m) => join(root, m[1] as string));
    t.same(
      applied.map((f) => relative(root, f)),
      ['examples/stores.yaml', 'examples/placeholder-secret.yaml', 'examples/external-secret.yaml'],
    );
    const report = await validatePaths(applied, true);
    t.equal(report.exitCode, 0, JSON.stringify(report.results.filter((r) => r.status !== 'Valid')));
    t.equal(report.summary.invalid, 0);
    // What step 5 reads is what the manifests define.
    t.match(script, /get secret database-credentials -o jsonpath='\{\.data\.password\}'/);
    t.match(script, /get secret app-config -o jsonpath='\{\.data\.db-host\}'/);
  },
);

t.test('AWS region: the provider doc says what validation enforces (required, no default)', async (t) => {
  const doc = await readFile(join(root, 'docs', 'providers', 'aws.md'), 'utf8');
  const example = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
  const regionLine = example.split('\n').find((l) => /^\s+region:/.test(l)) ?? '';
  t.match(regionLine, /required/);
  t.notMatch(regionLine, /default us-east-1/);
  const store = (aws: Record<string, unknown>) => ({
    apiVersion: 'external-secrets.io/v1',
    kind: 'SecretStore',
    metadata: { name: 's', namespace: 'a' },
    spec: { provider: { aws } },
  });
  const spec = (parse(example) as { spec: { provider: { aws: Record<string, unknown> } } }).spec.provider.aws;
  t.same(validateObject(store(spec)).errors, [], 'the documented example validates');
  const { region: _dropped, ...withoutRegion } = spec;
  t.match(validateObject(store(withoutRegion)).errors, [
    { field: 'spec.provider.aws.region', reason: 'FieldValueRequired' },
  ]);
});

/** The fenced blocks of a Markdown file, in order, with their info string. */
async function fences(file: string): Promise<{ lang: string; text: string }[]> {
  const out: { lang: string; text: string }[] = [];
  marked.walkTokens(await tokens(file), (tok) => {
    if (tok.type === 'code')
      out.push({ lang: (tok as Tokens.Code).lang ?? '', text: (tok as Tokens.Code).text });
  });
  return out;
}

t.test('docs/validation.md: the esw validate example prints what the doc shows', async (t) => {
  const blocks = await fences(join(root, 'docs', 'validation.md'));
  const manifest = blocks.find((b) => b.lang === 'yaml')?.text ?? '';
  const shown = blocks.find((b) => b.text.startsWith('$ esw validate bad.yaml'))?.text ?? '';
  const dir = t.testdir({ 'bad.yaml': `${manifest}\n` });
  let out = '';
  const { runValidate } = await import('../../src/cli/validate.ts');
  const code = await runValidate([join(dir, 'bad.yaml')], {
    strict: false,
    output: 'text',
    io: {
      out: (s) => {
        out += s;
      },
      err: () => undefined,
      stdin: async () => '',
    },
  });
  t.equal(code, 1);
  t.equal(out.replaceAll(`${dir}/`, '').trimEnd(), shown.split('\n').slice(1).join('\n'));
});
