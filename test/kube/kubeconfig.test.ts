/**
 * LeanKubeConfig against client-node's KubeConfig: the same kubeconfig gives the same server,
 * namespace, TLS settings and credential headers — and cluster mode never loads client-node's
 * generated API (the ~85 MiB the lean configuration exists to avoid).
 */
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import t from 'tap';
import { stringify } from 'yaml';
import { LeanKubeConfig } from '../../src/kube/kubeconfig.ts';
import { restoreEnv } from '../helpers/env.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function kubeconfig(cluster: object, user: object, namespace?: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443', ...cluster } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u', ...(namespace ? { namespace } : {}) } }],
    'current-context': 'ctx',
  });
}

/** What a request gets from a configuration: TLS settings and headers, agent left out. */
async function settings(kc: { applyToHTTPSOptions(o: https.RequestOptions): Promise<void> }) {
  const o: https.RequestOptions = { headers: {} };
  await kc.applyToHTTPSOptions(o);
  return {
    headers: o.headers,
    ca: o.ca?.toString(),
    cert: o.cert?.toString(),
    key: o.key?.toString(),
    rejectUnauthorized: o.rejectUnauthorized,
    servername: o.servername,
    auth: o.auth,
  };
}

t.test('the same settings as client-node for every credential kind it does itself', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'esw-lean-kc-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'certs'));
  await writeFile(join(dir, 'certs', 'ca.pem'), 'CA FROM FILE');
  await writeFile(join(dir, 'certs', 'client.pem'), 'CERT FROM FILE');
  await writeFile(join(dir, 'certs', 'client.key'), 'KEY FROM FILE');
  await writeFile(join(dir, 'token'), 'token-from-file');
  const exec = join(dir, 'exec-plugin.sh');
  await writeFile(
    exec,
    '#!/bin/sh\necho \'{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"token-from-exec"}}\'\n',
  );
  await chmod(exec, 0o755);
  const cases: Record<string, string> = {
    'static token, CA data, namespace': kubeconfig(
      { 'certificate-authority-data': b64('CA DATA') },
      { token: 'static-token' },
      'team-a',
    ),
    'token file': kubeconfig({}, { tokenFile: join(dir, 'token') }),
    'client certificate files, relative to the kubeconfig': kubeconfig(
      { 'certificate-authority': 'certs/ca.pem' },
      { 'client-certificate': 'certs/client.pem', 'client-key': 'certs/client.key' },
    ),
    'client certificate data': kubeconfig(
      {},
      { 'client-certificate-data': b64('CERT DATA'), 'client-key-data': b64('KEY DATA') },
    ),
    'insecure, tls-server-name, basic auth, impersonation': kubeconfig(
      { 'insecure-skip-tls-verify': true, 'tls-server-name': 'api.internal' },
      { username: 'admin', password: 'pw', as: 'someone' },
    ),
    'exec plugin': kubeconfig(
      {},
      { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: exec, interactiveMode: 'Never' } },
    ),
    'exec plugin and a static token: the token wins': kubeconfig(
      {},
      {
        token: 'static-wins',
        exec: { apiVersion: 'client.authentication.k8s.io/v1', command: exec, interactiveMode: 'Never' },
      },
    ),
  };
  for (const [name, text] of Object.entries(cases)) {
    const file = join(dir, `${name.replace(/\W+/g, '-')}.yaml`);
    await writeFile(file, text);
    const full = new KubeConfig();
    full.loadFromFile(file);
    const lean = new LeanKubeConfig();
    lean.loadFromFile(file);
    t.equal(lean.delegated(), false, `${name}: done without client-node's KubeConfig`);
    t.same(lean.getCurrentCluster(), full.getCurrentCluster(), `${name}: cluster`);
    t.same(lean.getContextObject(lean.getCurrentContext()), full.getContextObject(full.getCurrentContext()));
    t.same(await settings(lean), await settings(full), `${name}: TLS settings and headers`);
  }
});

t.test('in cluster: the service account files, as client-node reads them', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'esw-lean-sa-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const sa = join(dir, 'var/run/secrets/kubernetes.io/serviceaccount');
  await mkdir(sa, { recursive: true });
  await writeFile(join(sa, 'ca.crt'), 'SA CA');
  await writeFile(join(sa, 'token'), 'sa-token');
  await writeFile(join(sa, 'namespace'), 'esw-system');
  restoreEnv(t, ['KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT']);
  for (const [host, port] of [
    ['10.0.0.1', '443'],
    ['fd00::1', '6443'],
    ['10.0.0.1', '8080'],
  ] as const) {
    process.env.KUBERNETES_SERVICE_HOST = host;
    process.env.KUBERNETES_SERVICE_PORT = port;
    const full = new KubeConfig();
    full.loadFromCluster(dir);
    const lean = new LeanKubeConfig();
    lean.loadFromCluster(dir);
    t.same(lean.getCurrentCluster(), full.getCurrentCluster(), `${host}:${port}: cluster`);
    t.same(lean.getContextObject(lean.getCurrentContext()), full.getContextObject(full.getCurrentContext()));
    if (port === '8080') {
      const refused = { message: 'HTTP protocol is not allowed when skipTLSVerify is not set or false' };
      await t.rejects(settings(full), refused);
      await t.rejects(settings(lean), refused, `${host}:${port}: plain HTTP refused, as client-node does`);
    } else t.same(await settings(lean), await settings(full), `${host}:${port}: CA and token file`);
  }
});

t.test('auth providers and proxies it does not do itself are handed to client-node', async (t) => {
  const lean = new LeanKubeConfig();
  lean.loadFromString(
    kubeconfig(
      { 'certificate-authority-data': b64('CA DATA') },
      {
        'auth-provider': {
          name: 'gcp',
          config: { 'access-token': 'gcp-token', expiry: '2999-01-01T00:00:00Z' },
        },
      },
    ),
  );
  t.equal(lean.delegated(), true);
  const full = new KubeConfig();
  full.loadFromString(
    kubeconfig(
      { 'certificate-authority-data': b64('CA DATA') },
      {
        'auth-provider': {
          name: 'gcp',
          config: { 'access-token': 'gcp-token', expiry: '2999-01-01T00:00:00Z' },
        },
      },
    ),
  );
  t.same(await settings(lean), await settings(full), 'the gcp provider through client-node');
  t.match((await settings(lean)).headers, { Authorization: 'Bearer gcp-token' });

  const proxied = new LeanKubeConfig();
  proxied.loadFromString(kubeconfig({ 'proxy-url': 'http://127.0.0.1:3128' }, { token: 't' }));
  t.equal(proxied.delegated(), true, 'a proxy-url: client-node builds the proxy agent');
  const o: https.RequestOptions = { headers: {} };
  await proxied.applyToHTTPSOptions(o);
  t.ok(o.agent, 'the agent client-node made for the proxy');
});

t.test('cluster mode never loads the generated API of client-node', async (t) => {
  const root = join(import.meta.dirname, '..', '..');
  const dir = await mkdtemp(join(tmpdir(), 'esw-lean-load-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'config');
  await writeFile(file, kubeconfig({ 'certificate-authority-data': b64('CA') }, { token: 'tok' }));
  // A module hook records every module loaded; then what `esw serve --kubeconfig` imports.
  const script = `
    import { registerHooks } from 'node:module';
    const loaded = [];
    registerHooks({ load(url, context, next) { loaded.push(url); return next(url, context); } });
    const { loadKubeConfig } = await import(${JSON.stringify(join(root, 'src/kube/config.ts'))});
    await import(${JSON.stringify(join(root, 'src/cluster.ts'))});
    await import(${JSON.stringify(join(root, 'src/kube/cert-bootstrap.ts'))});
    const kc = loadKubeConfig({ kubeconfig: ${JSON.stringify(file)}, env: {} });
    const o = { headers: {} };
    await kc.applyToHTTPSOptions(o);
    const cn = loaded.filter((u) => u.includes('@kubernetes/client-node'));
    console.log(JSON.stringify({ auth: o.headers.Authorization, clientNode: cn.map((u) => u.slice(u.indexOf('client-node'))) }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  t.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as {
    auth?: string;
    clientNode?: string[];
  };
  t.equal(out.auth, 'Bearer tok');
  t.same(
    out.clientNode?.filter(
      (u) => u.includes('/gen/') || u.endsWith('dist/index.js') || u.endsWith('dist/config.js'),
    ),
    [],
    'no generated API, no index, no KubeConfig module',
  );
  t.ok(
    out.clientNode?.some((u) => u.endsWith('config_types.js')),
    'only its light modules',
  );
});
