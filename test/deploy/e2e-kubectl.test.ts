/**
 * End to end with the real kubectl: kubectl installs the webhook configurations rendered in
 * deploy/ into the API-server double, two webhook replicas bootstrap their certificates in the
 * built-in mode (no caBundle anywhere to begin with), and the double's admission chain calls them
 * over TLS verified with the caBundle the replicas wrote into those configurations.
 *
 *  - `kubectl apply` of the introduction's placeholder Secret stores the resolved values;
 *  - `kubectl apply` of an invalid ExternalSecret fails and kubectl prints the webhook's message;
 *  - the CA rotates (and the serving certificate renews) while Secrets keep being admitted: not
 *    one request fails, through every step, with one replica lagging behind the other;
 *  - with both replicas down, only opted-in Secrets are refused; the refresher's own identity
 *    skips the webhook (matchConditions).
 *
 * Values come from the `fake` provider stores in examples/stores.yaml.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { promisify } from 'node:util';
import { CoreV1Api } from '@kubernetes/client-node';
import t from 'tap';
import { parseAllDocuments, stringify } from 'yaml';
import { kubectlBinary } from '../../scripts/binaries.ts';
import { CertBootstrap } from '../../src/kube/cert-bootstrap.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { createStandaloneRuntime } from '../../src/runtime.ts';
import { type RunningServer, startServer } from '../../src/server/serve.ts';
import { type KObject, KubeApiServer } from '../fakes/kube-apiserver/index.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';
const run = promisify(execFile);
const root = join(import.meta.dirname, '../..');
const NS = 'external-secrets-webhook';
const NAME = 'external-secrets-webhook';
const REFRESHER = `system:serviceaccount:${NS}:${NAME}`;

const dir = await mkdtemp(join(tmpdir(), 'esw-e2e-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));

// ---- the cluster: the double, with a Service that round-robins over the replicas ----
const replicaUrls: string[] = [];
let turn = 0;
const api = await KubeApiServer.start({
  users: { 'admin-token': 'kubernetes-admin', 'refresher-token': REFRESHER },
  serviceResolver: (namespace, name, port) => {
    if (namespace !== NS || name !== NAME || port !== 443)
      throw new Error(`no Service ${namespace}/${name}:${port}`);
    const url = replicaUrls[turn++ % replicaUrls.length];
    if (!url) throw new Error('no endpoints');
    return url;
  },
});
t.teardown(() => api.close());
api.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });

async function writeKubeconfig(file: string, token: string): Promise<string> {
  const path = join(dir, file);
  await writeFile(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'double',
          cluster: {
            server: api.url,
            'certificate-authority-data': Buffer.from(api.caPem).toString('base64'),
          },
        },
      ],
      users: [{ name: 'user', user: { token } }],
      contexts: [{ name: 'double', context: { cluster: 'double', user: 'user', namespace: 'default' } }],
      'current-context': 'double',
    }),
  );
  return path;
}
const adminConfig = await writeKubeconfig('admin.kubeconfig', 'admin-token');
const refresherConfig = await writeKubeconfig('refresher.kubeconfig', 'refresher-token');
const kubectlPath = await kubectlBinary();

interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}
async function kubectl(args: string[], kubeconfig = adminConfig): Promise<KubectlResult> {
  try {
    const { stdout, stderr } = await run(kubectlPath, ['--kubeconfig', kubeconfig, ...args], {
      timeout: 60_000,
      maxBuffer: 16 << 20,
      env: { ...process.env, HOME: dir, KUBECACHEDIR: join(dir, 'cache') },
    });
    return { code: 0, stdout, stderr };
  } catch (err: unknown) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}
async function applyText(name: string, text: string, kubeconfig = adminConfig): Promise<KubectlResult> {
  const file = join(dir, name);
  await writeFile(file, text);
  // --validate=false: the double serves no OpenAPI document for client-side schema checks.
  return kubectl(['apply', '--validate=false', '-f', file], kubeconfig);
}

/** The API server watches webhook configurations; the double is told explicitly. */
function syncAdmissionChain(): void {
  api.setWebhooks([
    ...api.list('mutatingwebhookconfigurations'),
    ...api.list('validatingwebhookconfigurations'),
  ]);
}

// ---- install: kubectl applies what deploy/ renders, the kinds the double serves ----
const built = await run(kubectlPath, ['kustomize', join(root, 'deploy')], { maxBuffer: 16 << 20 });
const installable = parseAllDocuments(built.stdout)
  .map((d) => d.toJS() as KObject)
  .filter((o) =>
    ['Namespace', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'].includes(o?.kind ?? ''),
  );
const install = await applyText('install.yaml', installable.map((o) => stringify(o)).join('---\n'));
if (install.code !== 0) throw new Error(`kubectl apply of deploy/ failed: ${install.stderr}`);
const unpatched = [
  ...api.list('mutatingwebhookconfigurations'),
  ...api.list('validatingwebhookconfigurations'),
];
// The API server enforces the webhooks from now on — before any replica runs or any caBundle
// exists. The replicas' own writes (their certificate Secret, caBundle) must not depend on them.
api.setWebhooks(unpatched);

// ---- two replicas, built-in certificate mode ----
let offsetMs = 0;
const clock = () => new Date(Date.now() + offsetMs);
const runtime = await createStandaloneRuntime([join(root, 'examples/stores.yaml')], {
  logger: silentLogger(),
  metrics: createMetrics(),
  admissionDeadlineMs: 8_000,
  cacheTtlMs: 30_000,
});
t.teardown(() => runtime.close());

interface Replica {
  boot: CertBootstrap;
  server: RunningServer;
  certFile: string;
}
async function startReplica(name: string, leader: boolean): Promise<Replica> {
  const certFile = join(dir, name, 'tls.crt');
  const keyFile = join(dir, name, 'tls.key');
  const boot = new CertBootstrap({
    kubeConfig: api.kubeConfig({ token: 'refresher-token', namespace: NS }),
    namespace: NS,
    secretName: `${NAME}-tls`,
    service: NAME,
    mutatingWebhooks: [NAME],
    validatingWebhooks: [NAME],
    certFile,
    keyFile,
    logger: silentLogger(),
    mayWrite: () => leader,
    now: clock,
    // Short lifetimes on the real clock (TLS checks validity): both certificates fall due
    // 13 s after they are made, which the test reaches by moving `offsetMs`, never by waiting.
    caValidityMs: 3_600_000,
    servingValidityMs: 3_600_000,
    renewFraction: 0.02,
    overlapMs: 5_000,
  });
  await boot.reconcile();
  const server = await startServer(runtime, {
    port: 0,
    host: '127.0.0.1',
    tls: { certFile, keyFile },
    logger: silentLogger(),
    metrics: createMetrics(),
    certPollMs: 3_600_000,
  });
  t.teardown(() => server.shutdown('test end'));
  replicaUrls.push(`https://127.0.0.1:${server.port}`);
  return { boot, server, certFile };
}
const leader = await startReplica('a', true);
const follower = await startReplica('b', false);

/** The DER of the certificate a replica presents on a new TLS connection. */
function presented(port: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: '127.0.0.1', port, servername: `${NAME}.${NS}.svc`, rejectUnauthorized: false },
      () => {
        const raw = socket.getPeerCertificate().raw;
        socket.end();
        resolve(raw);
      },
    );
    socket.on('error', reject);
  });
}

/**
 * Waits until the replica presents the certificate in its files. The bound (2,400 × 25 ms) only
 * ends a broken run: fs.watch or the certificate poll may be slow on a loaded machine.
 */
async function untilServing(r: Replica): Promise<void> {
  const pem = await readFile(r.certFile, 'utf8');
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  for (let i = 0; i < 2_400; i++) {
    if ((await presented(r.server.port)).equals(der)) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`replica on ${r.server.port} never reloaded ${r.certFile}`);
}

const PLACEHOLDER = await readFile(join(root, 'examples/placeholder-secret.yaml'), 'utf8');
const decoded = (o: KObject | undefined, key: string) =>
  Buffer.from((o?.data as Record<string, string> | undefined)?.[key] ?? '', 'base64').toString('utf8');

t.test('without the caBundle the API server cannot trust the webhook', async (t) => {
  api.setWebhooks(unpatched);
  const r = await applyText('placeholder-0.yaml', PLACEHOLDER);
  t.not(r.code, 0);
  t.match(r.stderr, /failed calling webhook "mutate\.secrets\.esw\.io"/);
  t.notOk(api.get('secrets', 'default', 'database-credentials'), 'nothing stored');
});

t.test('built-in mode wrote the caBundle into every webhook of deploy/’s configurations', async (t) => {
  t.equal(
    api.writes('secrets', 'create'),
    1,
    'the certificate Secret was admitted while no webhook could answer',
  );
  const secret = api.get('secrets', NS, `${NAME}-tls`);
  const ca = (secret?.data as Record<string, string> | undefined)?.['ca.crt'];
  for (const cfg of [
    ...api.list('mutatingwebhookconfigurations'),
    ...api.list('validatingwebhookconfigurations'),
  ]) {
    for (const w of cfg.webhooks as Array<{ name: string; clientConfig: { caBundle?: string } }>) {
      t.equal(
        Buffer.from(w.clientConfig.caBundle ?? '', 'base64')
          .toString()
          .trim(),
        Buffer.from(ca ?? '', 'base64')
          .toString()
          .trim(),
        `${w.name} trusts the CA`,
      );
    }
  }
  t.equal(
    await readFile(leader.certFile, 'utf8'),
    await readFile(follower.certFile, 'utf8'),
    'both replicas serve the one certificate',
  );
});

t.test('kubectl apply of the placeholder Secret stores the values', async (t) => {
  syncAdmissionChain();
  const r = await applyText('placeholder.yaml', PLACEHOLDER);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /secret\/database-credentials created/);
  const stored = api.get('secrets', 'default', 'database-credentials');
  t.equal(decoded(stored, 'username'), 'db_user');
  t.equal(decoded(stored, 'password'), 'supersecretpassword');
  t.equal(decoded(stored, 'url'), 'postgres://db_user@db:5432/app');
  t.notOk(stored?.stringData, 'stringData merged into data by the API server');
  t.ok(stored?.metadata?.annotations?.['esw.io/refs'], 'references kept for the refresher');
  t.notMatch(
    JSON.stringify(stored?.metadata?.annotations ?? {}),
    /supersecretpassword/,
    'no value in annotations',
  );
  const got = await kubectl(['get', 'secret', 'database-credentials', '-o', 'jsonpath={.data.password}']);
  t.equal(Buffer.from(got.stdout, 'base64').toString(), 'supersecretpassword', 'kubectl reads it back');
});

t.test('kubectl apply of an invalid ExternalSecret prints every cause on a line of its own', async (t) => {
  const intro = await readFile(join(root, 'examples/manifests/external-secret.yaml'), 'utf8');
  const invalid = intro
    .replace(
      /( {6}remoteRef:\n {8}key: my-app\/database-credentials\n {8}property: password)/,
      '      remoteRef:\n        property: password',
    )
    .replace('creationPolicy: Owner', 'creationPolicy: Owned');
  t.not(invalid, intro, 'the second remoteRef lost its key');
  const r = await applyText('es-invalid.yaml', invalid);
  t.not(r.code, 0);
  // kubectl reads status.details (reason Invalid, causes[]) as it does for the API server's own
  // validation errors: a heading, then one "* field: message" line per cause.
  const lines = r.stderr
    .trimEnd()
    .split('\n')
    .filter((l) => !l.startsWith('Warning: '));
  t.match(lines[0], /^The ExternalSecret "database-credentials-secret" is invalid: ?$/, r.stderr);
  t.match(lines.slice(1), [
    /^\* spec\.target\.creationPolicy: Unsupported value: "Owned": supported values: "Owner",/,
    /^\* spec\.data\[1\]\.remoteRef\.key: Required value: the name of the secret in the provider$/,
  ]);
  t.equal(lines.length, 3, 'nothing joined onto one line');
  t.notOk(api.get('externalsecrets', 'default', 'database-credentials-secret'));

  const ok = await applyText('es-intro.yaml', intro);
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stderr, /Warning: .*unknown field "spec\.secretStoreRef\.key"/, 'warnings reach kubectl');
});

t.test('docs/validation.md: kubectl prints what the doc shows', async (t) => {
  const doc = await readFile(join(root, 'docs/validation.md'), 'utf8');
  const manifest = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
  const shown = /```\n\$ kubectl apply -f bad\.yaml\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
  t.ok(manifest && shown, 'the example is in the doc');
  const r = await applyText('bad.yaml', manifest);
  t.not(r.code, 0);
  // kubectl ends the heading with ": " (a trailing space the doc cannot keep).
  const lines = (text: string) => text.split('\n').map((l) => l.trimEnd());
  t.same(lines(r.stderr), lines(shown));
  t.equal(r.stdout, '');
});

t.test('the CA rotates and the certificate renews without a single failed request', async (t) => {
  let n = 0;
  const core = api.kubeConfig({ token: 'admin-token' }).makeApiClient(CoreV1Api);
  const admitSome = async (step: string) => {
    // Round-robin: each replica serves at least two of these.
    for (let i = 0; i < 4; i++) {
      const name = `rotation-${++n}`;
      const body = {
        metadata: {
          name,
          labels: { 'esw.io/inject': 'true' },
          annotations: { 'esw.io/store': 'demo-store' },
        },
        stringData: { key: '${ref:my-app/api-key}' },
      };
      const created = await core.createNamespacedSecret({ namespace: 'default', body }).then(
        (s) => s,
        (err: unknown) => {
          t.fail(`${step}: ${name} refused: ${(err as Error).message}`);
          return undefined;
        },
      );
      if (created)
        t.equal(decoded(api.get('secrets', 'default', name), 'key'), 'ak_live_new_4567', `${step}: ${name}`);
    }
    const r = await applyText(
      `rotation-${step}.yaml`,
      PLACEHOLDER.replace('name: database-credentials', `name: db-${step}`),
    );
    t.equal(r.code, 0, `${step}: kubectl apply ${r.stderr}`);
  };
  const leaderPass = async () => {
    const res = await leader.boot.reconcile();
    if (res.patched.length > 0) syncAdmissionChain();
    if (res.filesWritten) leader.server.watcher.reload();
    return res;
  };
  const followerPass = async () => {
    const res = await follower.boot.reconcile();
    // No explicit reload here: the server's own file watcher must notice the new files.
    if (res.filesWritten) await untilServing(follower);
    return res;
  };
  const servedBy = async () => [
    await readFile(leader.certFile, 'utf8'),
    await readFile(follower.certFile, 'utf8'),
  ];

  await admitSome('before');
  const before = await servedBy();

  offsetMs = 15_000;
  const step1 = await leaderPass();
  t.ok(step1.actions.includes('ca-next'), 'step 1: new CA announced');
  t.ok(step1.actions.includes('renewed'), 'and the serving certificate renewed with the old CA');
  await admitSome('step1-follower-lagging');
  t.equal((await servedBy())[1], before[1], 'the follower still serves the previous certificate');
  await followerPass();
  await admitSome('step1');

  offsetMs = 21_000;
  const step2 = await leaderPass();
  t.ok(step2.actions.includes('ca-promoted'), 'step 2: the new CA signs');
  await admitSome('step2-follower-lagging');
  await followerPass();
  await admitSome('step2');

  offsetMs = 27_000;
  const step3 = await leaderPass();
  t.ok(step3.actions.includes('ca-previous-dropped'), 'step 3: the old CA leaves caBundle');
  await followerPass();
  await admitSome('after');
  const after = await servedBy();
  t.not(after[0], before[0], 'the leader serves a new certificate');
  t.equal(after[0], after[1], 'both replicas serve the same one');
  t.ok(n >= 24, 'admissions ran at every step');
});

t.test('both replicas down: only opted-in Secrets are refused, the refresher is never blocked', async (t) => {
  await Promise.all([leader.server.shutdown('outage'), follower.server.shutdown('outage')]);
  const plain = await applyText(
    'plain.yaml',
    'apiVersion: v1\nkind: Secret\nmetadata:\n  name: plain\n  namespace: default\nstringData:\n  a: b\n',
  );
  t.equal(plain.code, 0, `an ordinary Secret is untouched by the outage ${plain.stderr}`);
  const optedIn = await applyText(
    'placeholder-down.yaml',
    PLACEHOLDER.replace('name: database-credentials', 'name: db-down'),
  );
  t.not(optedIn.code, 0);
  t.match(optedIn.stderr, /failed calling webhook "mutate\.secrets\.esw\.io"/);
  t.notOk(api.get('secrets', 'default', 'db-down'), 'never stored with a literal placeholder');

  const refreshed = PLACEHOLDER.replace(/stringData:[\s\S]*$/, 'stringData:\n  username: db_user_rotated\n');
  const r = await applyText('refresher-write.yaml', refreshed, refresherConfig);
  t.equal(r.code, 0, `the refresher's write skips the webhook ${r.stderr}`);
  t.equal(decoded(api.get('secrets', 'default', 'database-credentials'), 'username'), 'db_user_rotated');
});
