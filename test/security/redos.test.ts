/**
 * Issue 11, item 1 (regex stalls), reproduced as a tenant would, through the real HTTPS server and
 * through the `esw validate` command. The inputs are sized so that a backtracking engine (the
 * previous RegExp-based code) needs hours: these tests finishing at all is the proof; they assert
 * on results and ordering, never on durations.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { AdmissionResponse } from '../../src/admission/types.ts';
import type { Secret } from '../../src/api/types.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { createStandaloneRuntime } from '../../src/runtime.ts';
import { createCertificates } from '../../src/server/certs.ts';
import { applyPatch, b64, decodedData, fixtureReview } from '../admission/mutate-helpers.ts';
import { admissionReview } from '../helpers/admission-review.ts';
import { request } from '../helpers/https.ts';
import { serveHttps } from '../helpers/serve-https.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const ROOT = join(import.meta.dirname, '..', '..');
/** 34 wildcards and a `d`: as a RegExp (`^.*.*…d$`) against a 27-character key, it backtracks for hours. */
const STARS = `${'*'.repeat(34)}d`;
const LONG_KEY = 'username_for_the_database_x';

async function setup(t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'esw-redos-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const bundle = await createCertificates({ hosts: ['localhost', '127.0.0.1'] });
  const stores = join(dir, 'stores.yaml');
  await writeFile(
    stores,
    `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: tenant-store, namespace: default }
spec:
  provider:
    fake:
      data:
        - key: app/db
          value: '{"${LONG_KEY}":"u","password":"the-password"}'
        - key: app/plain
          value: '{"${LONG_KEY}":"u"}'
`,
  );
  const logger = createLogger({ level: 'warn', destination: { write: () => {} } });
  const metrics = createMetrics();
  const runtime = await createStandaloneRuntime([stores], {
    logger,
    metrics,
    admissionDeadlineMs: 5000,
    cacheTtlMs: 30_000,
  });
  t.teardown(() => runtime.close());
  const server = await serveHttps(t, runtime, { bundle: bundle, logger, metrics });
  const base = `https://127.0.0.1:${server.port}`;
  const post = async (path: string, review: Record<string, unknown>) => {
    const res = await request(`${base}${path}`, review, { ca: bundle.caCert });
    t.equal(res.status, 200, `${path} answers 200`);
    return res.json<{ response: AdmissionResponse }>().response;
  };
  const healthz = () => request(`${base}/healthz`, undefined, { ca: bundle.caCert });
  return { post, healthz };
}

function placeholderReview(data: Record<string, string>): Record<string, unknown> {
  const review = fixtureReview('create-single');
  const object = (review.request as { object: Secret }).object;
  object.metadata!.annotations = { 'esw.io/store': 'tenant-store' };
  object.data = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)]));
  return review;
}

function externalSecretReview(spec: Record<string, unknown>): Record<string, unknown> {
  const es = {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name: 'es', namespace: 'default' },
    spec: { secretStoreRef: { name: 'tenant-store', kind: 'SecretStore' }, ...spec },
  };
  return admissionReview('ExternalSecret', es, {
    name: 'es',
    namespace: 'default',
    userInfo: { username: 'tenant' },
  });
}

t.test('/mutate: a property with 34 wildcards is answered, and /healthz is answered meanwhile', async (t) => {
  const { post, healthz } = await setup(t);
  const review = placeholderReview({ password: `\${ref:app/db#${STARS}}` });
  const order: string[] = [];
  const [response, health] = await Promise.all([
    post('/mutate', review).then((r) => {
      order.push('mutate');
      return r;
    }),
    healthz().then((r) => {
      order.push('healthz');
      return r;
    }),
  ]);
  t.equal(health.status, 200, '/healthz answered while the pattern ran');
  t.equal(order.length, 2, 'both requests were answered');
  t.equal(response.allowed, true, JSON.stringify(response.status));
  const stored = applyPatch((review.request as { object: Secret }).object, response);
  t.same(decodedData(stored), { password: 'the-password' }, 'the first key ending in "d" is the one read');

  // No key matches: a clear refusal, not a stall.
  const none = await post('/mutate', placeholderReview({ password: `\${ref:app/plain#${STARS}}` }));
  t.equal(none.allowed, false);
  t.equal(none.status?.code, 404);
  t.match(none.status?.message, /property "\*{34}d" not found in remote secret "app\/plain"/);

  // A wildcard pattern beyond the bound is refused as a malformed reference.
  const huge = await post('/mutate', placeholderReview({ password: `\${ref:app/db#${'*'.repeat(2000)}d}` }));
  t.equal(huge.allowed, false);
  t.equal(huge.status?.code, 422);
  t.match(huge.status?.message, /at most 1024 are accepted/);
});

t.test('/validate: Go RE2 decides, and a 1 MiB pattern is refused by its size', async (t) => {
  const { post, healthz } = await setup(t);
  const find = (regexp: string) => externalSecretReview({ dataFrom: [{ find: { name: { regexp } } }] });
  const rewrite = (source: string) =>
    externalSecretReview({
      dataFrom: [{ extract: { key: 'app/db' }, rewrite: [{ regexp: { source, target: '$1' } }] }],
    });
  // Valid Go RE2 (pathological only for a backtracking engine): accepted.
  for (const review of [
    find('(a+)+$'),
    rewrite('(a|a)+$'),
    find('(?P<n>x)\\Ay\\z[[:alpha:]](?U)a+\\Qa.b\\E'),
  ]) {
    const r = await post('/validate', review);
    t.equal(r.allowed, true, JSON.stringify(r.status));
  }
  const refused: [Record<string, unknown>, RegExp][] = [
    [
      find('^(?=db).*'),
      /find\.name\.regexp: Invalid value: .*invalid or unsupported Perl syntax: `\(\?=` \(Go RE2 syntax has no lookahead\)/,
    ],
    [rewrite('(a)\\1'), /rewrite\[0\]\.regexp\.source: .*invalid escape sequence: `\\1`/],
    [find('x'.repeat(1024 * 1024)), /pattern is 1048576 bytes long; at most 4096 are accepted/],
    [find('x{1000}'.repeat(100)), /pattern is too large: its program would exceed 5000 instructions/],
  ];
  for (const [review, message] of refused) {
    const r = await post('/validate', review);
    t.equal(r.allowed, false);
    t.match(r.status?.message, message);
  }
  t.equal((await healthz()).status, 200);
});

/** Runs the real CLI (`node src/main.ts validate FILE`), as a CI pipeline would. */
function esw(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'src', 'main.ts'), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
    });
    child.stderr.resume();
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout }));
  });
}

const manifest = (
  name: string,
  find: string,
  source: string,
  namespaces: string,
) => `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: ${name}, namespace: default }
spec:
  secretStoreRef: { name: tenant-store }
  dataFrom:
    - find: { name: { regexp: ${JSON.stringify(find)} } }
      rewrite:
        - regexp: { source: ${JSON.stringify(source)}, target: "\${v}-$1" }
---
apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: { name: ${name}-store }
spec:
  conditions:
    - namespaceRegexes: [${JSON.stringify(namespaces)}]
  provider:
    fake: { data: [] }
`;

t.test('esw validate: accepts what Go RE2 accepts, refuses what it refuses', async (t) => {
  const dir = t.testdir({
    // Go accepts all three; the old hand translation refused the repeated group name.
    'good.yaml': manifest('good', '(a+)+$', '(?P<v>[a-z]+)-(?P<v>[0-9]+)', '^team-(?U)(a|a)+\\z'),
    // Go refuses all three; the old hand translation accepted the first two.
    'bad.yaml': manifest('bad', '[[:foo:]]', '[a-\\d]', '(?<!kube-)system'),
  });
  const good = await esw(['validate', join(dir, 'good.yaml')]);
  t.equal(good.code, 0, good.stdout);
  t.match(good.stdout, /2 valid, 0 invalid/);

  const bad = await esw(['validate', join(dir, 'bad.yaml')]);
  t.equal(bad.code, 1, bad.stdout);
  const lines = bad.stdout.split('\n');
  const has = (re: RegExp) =>
    t.ok(
      lines.some((l) => re.test(l)),
      re.source,
    );
  has(
    /ExternalSecret\/default\/bad: spec\.dataFrom\[0\]\.find\.name\.regexp: Invalid value: "\[\[:foo:\]\]": error parsing regexp: invalid character class range: `\[:foo:\]`$/,
  );
  has(
    /spec\.dataFrom\[0\]\.rewrite\[0\]\.regexp\.source: Invalid value: "\[a-\\\\d\]": error parsing regexp: invalid escape sequence: `\\d`$/,
  );
  has(
    /ClusterSecretStore\/bad-store: spec\.conditions\[0\]\.namespaceRegexes\[0\]: Invalid value: "\(\?<!kube-\)system": error parsing regexp: invalid named capture: `\(\?<!kube-\)system` \(Go RE2 syntax has no lookbehind\)$/,
  );
  t.match(bad.stdout, /0 valid, 2 invalid/);
});
