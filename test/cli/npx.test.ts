/**
 * The real `esw`, run as a user runs it right after `npm ci`: `npx esw …` in the checkout, on the
 * machine's own Node (the launcher in bin/esw.cjs re-executes on the Node 24 from node_modules),
 * and `npm start`. Kept to a handful of process spawns; the detailed behaviour of each command is
 * tested in-process (test/api/cli-validate.test.ts, test/cli/*.test.ts, test/config.test.ts).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, stat } from 'node:fs/promises';
import { request } from 'node:https';
import { delimiter, join } from 'node:path';
import t from 'tap';
import { flagsOf } from '../../src/config.ts';

const root = join(import.meta.dirname, '..', '..');
process.env.NO_PROXY = '127.0.0.1,localhost';
// Six process starts through npm: a few seconds each on an idle machine, much more on a busy one.
t.setTimeout(600_000);

/** PATH without node_modules entries: the Node and npx this machine has of its own. */
const machinePath = (process.env.PATH ?? '')
  .split(delimiter)
  .filter((p) => !p.includes('node_modules'))
  .join(delimiter);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function npx(args: string[], opts: { stdin?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      'npx',
      ['esw', ...args],
      { cwd: root, env: { ...process.env, PATH: machinePath, ...opts.env }, timeout: 90_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(opts.stdin ?? '');
  });
}

const machineNode = await new Promise<string>((resolve) => {
  execFile('node', ['--version'], { env: { ...process.env, PATH: machinePath } }, (err, out) =>
    resolve(err ? 'none' : out.trim()),
  );
});

t.test(`npx esw --version on the machine's Node (${machineNode}) runs on Node 24`, async (t) => {
  const r = await npx(['--version']);
  t.equal(r.code, 0, r.stderr);
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
  t.match(r.stdout, new RegExp(`^esw ${pkg.version.replaceAll('.', '\\.')} \\(node v24\\.`));
  // package.json's engines name Node 24, so npm may print an engine warning on an older Node;
  // the launcher is what makes the command work there (it re-executes on Node 24).
});

t.test('npx esw serve --help lists every serve flag with its env variable', async (t) => {
  const r = await npx(['serve', '--help']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, '');
  for (const f of flagsOf('serve')) {
    t.match(r.stdout, `--${f.name}`);
    if (f.env) t.match(r.stdout, f.env);
  }
});

t.test('npx esw validate --strict -o json - : typos are errors with a suggestion', async (t) => {
  const r = await npx(['validate', '--strict', '-o', 'json', '-'], {
    stdin: `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: typo, namespace: default}
spec:
  secretStoreRef: {name: store}
  data:
  - secretKey: username
    remoteRef: {key: db, proprety: username}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecrets
metadata: {name: plural}
`,
  });
  t.equal(r.code, 1, r.stderr);
  const report = JSON.parse(r.stdout) as {
    results: {
      name: string;
      status: string;
      details?: { causes: { field: string; reason: string; message: string }[] };
    }[];
  };
  t.match(report.results, [
    {
      name: 'typo',
      status: 'Invalid',
      details: {
        causes: [
          {
            field: 'spec.data[0].remoteRef.proprety',
            reason: 'FieldValueNotSupported',
            message: /did you mean "property"\?/,
          },
        ],
      },
    },
    {
      name: 'plural',
      status: 'Invalid',
      details: { causes: [{ field: 'kind', message: /did you mean "ExternalSecret"\?/ }] },
    },
  ]);
});

t.test('npx esw render refuses a Secret the webhook would not fill', async (t) => {
  const dir = t.testdir({
    'secret.yaml': `apiVersion: v1
kind: Secret
metadata:
  name: not-opted-in
  namespace: default
  labels: {esw.io/injet: "true"}
  annotations: {esw.io/store: demo-store}
stringData:
  password: \${ref:my-app/database-credentials#password}
`,
  });
  const r = await npx(['render', join(dir, 'secret.yaml'), '--stores', 'examples/stores.yaml']);
  t.equal(r.code, 1);
  t.equal(r.stdout, '', 'nothing printed as if it were rendered');
  t.match(r.stderr, 'Secret "default/not-opted-in" is not labelled esw.io/inject: "true"');
  t.match(r.stderr, 'did you mean "esw.io/inject"?');
});

t.test('npx esw certs keeps an existing CA unless --force', async (t) => {
  const dir = t.testdir({ 'ca.crt': 'the existing CA\n' });
  const again = await npx(['certs', '--out', dir, '--dns', 'localhost', '--days', '30']);
  t.equal(again.code, 1);
  t.match(
    again.stderr,
    /ca\.crt already exists: a new CA breaks every caBundle that trusts the old one\. Use --force/,
  );
  t.equal(await readFile(join(dir, 'ca.crt'), 'utf8'), 'the existing CA\n', 'untouched');
  t.notOk(await stat(join(dir, 'tls.key')).catch(() => undefined), 'nothing else written either');
});

t.test('npm start is the standalone demo on 127.0.0.1, whatever KUBECONFIG says', async (t) => {
  const dir = t.testdir({
    kubeconfig:
      'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\n',
  });
  const child: ChildProcess = spawn('npm', ['start', '--', '--port', '0'], {
    cwd: root,
    env: { ...process.env, KUBECONFIG: join(dir, 'kubeconfig'), ESW_LOG_LEVEL: 'info' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(async () => {
    if (child.exitCode === null) {
      process.kill(-(child.pid as number), 'SIGTERM');
      await once(child, 'exit');
    }
  });
  const lines: Record<string, unknown>[] = [];
  let buffer = '';
  const listening = new Promise<{ host: string; port: number }>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as Record<string, unknown>;
        lines.push(entry);
        if (entry.msg === 'webhook listening') resolve(entry as unknown as { host: string; port: number });
      }
    });
    child.on('exit', (code) => reject(new Error(`npm start exited ${code}`)));
  });
  const { host, port } = await listening;
  t.equal(host, '127.0.0.1');
  t.match(
    lines.find((l) => l.mode),
    { mode: 'standalone', stores: ['examples/stores.yaml'], host: '127.0.0.1' },
  );
  t.notOk(
    lines.some((l) => l.mode === 'cluster'),
    'no Lease, no API server',
  );

  // The README's first curl: the placeholder Secret comes back as a patch with its values.
  await stat(join(root, 'certs', 'ca.crt'));
  const body = await readFile(join(root, 'examples', 'admission', 'mutate-secret.json'));
  const ca = await readFile(join(root, 'certs', 'ca.crt'));
  const reply = await new Promise<string>((resolve, reject) => {
    const req = request(
      {
        host: 'localhost',
        port,
        path: '/mutate',
        method: 'POST',
        ca,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString('utf8');
        });
        res.on('end', () => resolve(text));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
  const patch = JSON.parse(
    Buffer.from((JSON.parse(reply) as { response: { patch: string } }).response.patch, 'base64').toString(
      'utf8',
    ),
  ) as { op: string; path: string; value: unknown }[];
  t.ok(
    patch.some((op) => op.path.startsWith('/data')),
    'the data is filled',
  );
});
