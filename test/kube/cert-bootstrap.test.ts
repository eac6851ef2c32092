/**
 * The built-in certificate mode against the API-server double: bootstrap from nothing, racing
 * replicas, renewal at 2/3 of the lifetime with the same CA, the three-step CA rotation, and a
 * caBundle lost by an upgrade put back. After every pass of every replica the invariant that
 * keeps requests from failing is checked: each replica's serving certificate is signed by a CA
 * in the caBundle the webhook configurations carry.
 */
import '../../src/server/certs.ts';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import t, { type Test } from 'tap';
import { parseAllDocuments } from 'yaml';
import {
  CA_STEP_ANNOTATION,
  CertBootstrap,
  type CertBootstrapOptions,
} from '../../src/kube/cert-bootstrap.ts';
import { createLogger, silentLogger } from '../../src/observability/logger.ts';
import { certificateHosts, serviceDnsNames } from '../../src/server/certs.ts';
import { type KObject, KubeApiServer } from '../fakes/kube-apiserver/index.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const NS = 'external-secrets-webhook';
const NAME = 'external-secrets-webhook';
const SECRET = 'external-secrets-webhook-tls';
const DAY = 86_400_000;
const root = join(import.meta.dirname, '../..');

/** The webhook configurations exactly as deploy/ installs them (no caBundle: built-in mode). */
async function renderedWebhooks(): Promise<KObject[]> {
  const text = await readFile(join(root, 'deploy/webhook.yaml'), 'utf8');
  return parseAllDocuments(text)
    .map((d) => d.toJS() as KObject)
    .filter((o) => o?.kind?.endsWith('WebhookConfiguration'));
}

interface Setup {
  api: KubeApiServer;
  clock: { now: number };
  replica: (name: string, extra?: Partial<CertBootstrapOptions>) => Promise<Replica>;
}
interface Replica {
  boot: CertBootstrap;
  certFile: string;
  keyFile: string;
}

async function setup(t: Test): Promise<Setup> {
  const api = await KubeApiServer.start();
  t.teardown(() => api.close());
  for (const cfg of await renderedWebhooks()) api.put(cfg);
  const clock = { now: Date.parse('2030-01-01T00:00:00Z') };
  const dir = await mkdtemp(join(tmpdir(), 'esw-certboot-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const replica = async (name: string, extra: Partial<CertBootstrapOptions> = {}): Promise<Replica> => {
    const certFile = join(dir, name, 'tls.crt');
    const keyFile = join(dir, name, 'tls.key');
    const boot = new CertBootstrap({
      kubeConfig: api.kubeConfig({ namespace: NS }),
      namespace: NS,
      secretName: SECRET,
      service: NAME,
      mutatingWebhooks: [NAME],
      validatingWebhooks: [NAME],
      certFile,
      keyFile,
      logger: silentLogger(),
      now: () => new Date(clock.now),
      sleep: async () => undefined,
      servingValidityMs: 90 * DAY,
      caValidityMs: 900 * DAY,
      overlapMs: 600_000,
      ...extra,
    });
    return { boot, certFile, keyFile };
  };
  return { api, clock, replica };
}

const b64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');
const pems = (bundle: string) =>
  bundle.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];

/** The caBundle of every webhook in both configurations; asserts they are all the same. */
function bundles(api: KubeApiServer): string[] {
  type Hooks = Array<{ clientConfig: { caBundle?: string } }>;
  const hooks = (resource: string) => (api.get(resource, undefined, NAME)?.webhooks ?? []) as Hooks;
  return [...hooks('mutatingwebhookconfigurations'), ...hooks('validatingwebhookconfigurations')].map((w) =>
    w.clientConfig.caBundle ? b64(w.clientConfig.caBundle) : '',
  );
}

async function signedByOneOf(certPem: string, bundle: string): Promise<boolean> {
  const cert = new x509.X509Certificate(certPem);
  for (const ca of pems(bundle)) {
    const caCert = new x509.X509Certificate(ca);
    if (await cert.verify({ publicKey: caCert.publicKey, signatureOnly: true })) return true;
  }
  return false;
}

/** The invariant: every webhook trusts the certificate each replica serves. */
async function assertServedCertsTrusted(t: Test, api: KubeApiServer, replicas: Replica[], when: string) {
  const all = bundles(api);
  t.equal(new Set(all).size, 1, `${when}: every webhook carries the same caBundle`);
  for (const [i, r] of replicas.entries()) {
    const cert = await readFile(r.certFile, 'utf8');
    t.ok(
      await signedByOneOf(cert, all[0] ?? ''),
      `${when}: replica ${i}'s certificate is trusted by caBundle`,
    );
  }
}

const secretOf = (api: KubeApiServer) =>
  api.get('secrets', NS, SECRET) as KObject & { data: Record<string, string> };

t.test(
  'bootstraps from nothing: Secret, caBundle in every webhook, files with the Service SANs',
  async (t) => {
    const { api, replica } = await setup(t);
    t.same(bundles(api), ['', '', ''], 'deploy/ ships no caBundle');
    const r = await replica('a');
    t.same(r.boot.notReady().length, 1, 'not ready before the first pass');
    const res = await r.boot.reconcile();
    t.same(res.actions, ['created']);
    t.ok(res.filesWritten);
    t.same(res.patched.sort(), [
      `MutatingWebhookConfiguration/${NAME}`,
      `ValidatingWebhookConfiguration/${NAME}`,
    ]);
    t.same(r.boot.notReady(), []);
    const secret = secretOf(api);
    t.equal(secret.type, 'kubernetes.io/tls');
    t.same(Object.keys(secret.data).sort(), ['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    const cert = await readFile(r.certFile, 'utf8');
    t.equal(cert, b64(secret.data['tls.crt'] ?? ''));
    t.equal(await readFile(r.keyFile, 'utf8'), b64(secret.data['tls.key'] ?? ''));
    t.same(certificateHosts(cert), serviceDnsNames(NAME, NS));
    t.same(pems(bundles(api)[0] ?? ''), pems(b64(secret.data['ca.crt'] ?? '')));
    await assertServedCertsTrusted(t, api, [r], 'after bootstrap');

    const again = await r.boot.reconcile();
    t.same(
      again,
      { actions: [], filesWritten: false, patched: [], missing: [] },
      'a second pass changes nothing',
    );
    t.equal(api.writes('secrets', 'update'), 0);
  },
);

t.test('replicas racing to bootstrap agree on one CA', async (t) => {
  const { api, replica } = await setup(t);
  const rs = await Promise.all(['a', 'b', 'c'].map((n) => replica(n)));
  const results = await Promise.all(rs.map((r) => r.boot.reconcile()));
  t.equal(api.writes('secrets', 'create'), 1, 'one Secret created');
  t.equal(results.filter((x) => x.actions.includes('created')).length, 1, 'one winner');
  const files = await Promise.all(rs.map((r) => readFile(r.certFile, 'utf8')));
  t.equal(new Set(files).size, 1, 'every replica serves the winner’s certificate');
  await assertServedCertsTrusted(t, api, rs, 'after the race');
});

t.test('renews the serving certificate at 2/3 of its lifetime, same CA, caBundle untouched', async (t) => {
  const { api, clock, replica } = await setup(t);
  const leader = await replica('leader');
  const leading = false;
  const follower = await replica('follower', { mayWrite: () => leading });
  await leader.boot.reconcile();
  await follower.boot.reconcile();
  const first = await readFile(leader.certFile, 'utf8');
  const bundleBefore = bundles(api)[0];

  clock.now += 59 * DAY;
  t.same((await leader.boot.reconcile()).actions, [], 'not yet at 2/3 of 90 days');
  clock.now += 2 * DAY;
  const renewed = await leader.boot.reconcile();
  t.same(renewed.actions, ['renewed']);
  t.same(renewed.patched, [], 'the CA is kept, so caBundle needs no change');
  t.equal(bundles(api)[0], bundleBefore);
  const second = await readFile(leader.certFile, 'utf8');
  t.not(second, first, 'the leader serves the new certificate');
  t.equal(await readFile(follower.certFile, 'utf8'), first, 'the follower has not synced yet…');
  await assertServedCertsTrusted(t, api, [leader, follower], 'mid-renewal');
  const f = await follower.boot.reconcile();
  t.same(f.actions, [], 'a follower never renews');
  t.ok(f.filesWritten);
  t.equal(await readFile(follower.certFile, 'utf8'), second, '…and picks it up on its next pass');
  const notAfter = new x509.X509Certificate(second).notAfter.getTime();
  t.equal(notAfter, clock.now + 90 * DAY, 'a full new lifetime');
});

t.test('rotates the CA in three steps; no replica ever serves an untrusted certificate', async (t) => {
  const { api, clock, replica } = await setup(t);
  const leader = await replica('leader');
  const follower = await replica('follower', { mayWrite: () => false });
  const all = [leader, follower];
  await leader.boot.reconcile();
  await follower.boot.reconcile();
  const ca1 = b64(secretOf(api).data['ca.crt'] ?? '');
  const check = async (when: string) => {
    await assertServedCertsTrusted(t, api, all, when);
  };

  // Keep the serving certificate fresh on the way, as the periodic passes would.
  for (let day = 30; day <= 570; day += 30) {
    clock.now += 30 * DAY;
    const pass = await leader.boot.reconcile();
    t.notOk(pass.actions.includes('ca-next'), `day ${day}: the CA is kept`);
    await check(`day ${day} (leader)`);
    await follower.boot.reconcile();
  }
  clock.now += 31 * DAY; // day 601 > 2/3 of 900 days
  const step1 = await leader.boot.reconcile();
  t.ok(step1.actions.includes('ca-next'), 'step 1: a new CA is announced');
  t.equal(pems(bundles(api)[0] ?? '').length, 2, 'caBundle = old + new');
  t.equal(b64(secretOf(api).data['ca.crt'] ?? ''), ca1, 'the old CA still signs');
  t.ok(secretOf(api).metadata?.annotations?.[CA_STEP_ANNOTATION]);
  await check('step 1');

  clock.now += 300_000;
  t.notOk((await leader.boot.reconcile()).actions.includes('ca-promoted'), 'waits the overlap');
  clock.now += 300_000;
  const step2 = await leader.boot.reconcile();
  t.ok(step2.actions.includes('ca-promoted'), 'step 2: the new CA signs');
  const ca2 = b64(secretOf(api).data['ca.crt'] ?? '');
  t.not(ca2, ca1);
  t.same(pems(bundles(api)[0] ?? ''), pems(ca2 + ca1), 'caBundle = new + old');
  t.ok(
    await signedByOneOf(await readFile(leader.certFile, 'utf8'), ca2),
    'the leader serves a certificate from the new CA',
  );
  await check('step 2, follower still on the old CA');
  await follower.boot.reconcile();
  await check('step 2, follower synced');

  clock.now += 600_000;
  const step3 = await leader.boot.reconcile();
  t.ok(step3.actions.includes('ca-previous-dropped'), 'step 3: the old CA leaves caBundle');
  t.same(pems(bundles(api)[0] ?? ''), pems(ca2));
  t.notOk(secretOf(api).data['ca-previous.crt']);
  t.notOk(secretOf(api).metadata?.annotations?.[CA_STEP_ANNOTATION]);
  await follower.boot.reconcile();
  await check('after rotation');
});

t.test('puts back a caBundle an upgrade dropped, and repairs an edited Secret', async (t) => {
  const { api, replica } = await setup(t);
  const r = await replica('a');
  await r.boot.reconcile();
  const ca = b64(secretOf(api).data['ca.crt'] ?? '');
  // An install tool re-applies deploy/ verbatim (no caBundle).
  for (const cfg of await renderedWebhooks()) api.put(cfg);
  t.same(bundles(api), ['', '', '']);
  const res = await r.boot.reconcile();
  t.equal(res.patched.length, 2);
  t.same(
    bundles(api).map((b) => pems(b)),
    [pems(ca), pems(ca), pems(ca)],
    'the same CA is back, no rotation',
  );

  const broken = secretOf(api);
  broken.data = { ...broken.data, 'tls.crt': Buffer.from('not a certificate').toString('base64') };
  api.put(broken);
  const repaired = await r.boot.reconcile();
  t.same(repaired.actions, ['recreated']);
  await assertServedCertsTrusted(t, api, [r], 'after repair');
});

t.test('a write conflict re-reads and converges; the webhook Secret stays out of admission', async (t) => {
  const { api, clock, replica } = await setup(t);
  const r = await replica('a');
  await r.boot.reconcile();
  clock.now += 80 * DAY;
  api.failNext({ verb: 'update', resource: 'secrets', code: 409, count: 2 });
  const res = await r.boot.reconcile();
  t.same(res.actions, ['renewed']);
  t.equal(api.writes('secrets', 'update'), 1);
  await assertServedCertsTrusted(t, api, [r], 'after conflicts');
});

t.test('start() retries until the API answers, then keeps the files in sync', async (t) => {
  const { api, replica } = await setup(t);
  let sleeps = 0;
  const r = await replica('a', {
    sleep: async () => {
      sleeps++;
    },
  });
  api.failNext({ verb: 'get', resource: 'secrets', code: 503, count: 2 });
  await r.boot.start({ attempts: 5 });
  t.equal(sleeps >= 2, true, 'waited between attempts');
  t.same(r.boot.notReady(), []);
  await r.boot.stop();
  const bad = await replica('b');
  api.failNext({ verb: 'get', resource: 'secrets', code: 403, count: 3 });
  await t.rejects(bad.boot.start({ attempts: 3 }), 'gives up after the attempts');
  t.match(bad.boot.notReady()[0], /not written yet/);
});

t.test(
  'webhook configurations created after the pods: caBundle set within seconds, not a sync period',
  async (t) => {
    const { api, replica } = await setup(t);
    const configs = await renderedWebhooks();
    for (const c of configs)
      api.remove(`${(c.kind ?? '').toLowerCase()}s`, undefined, c.metadata?.name ?? '');
    const sleeps: number[] = [];
    const r: { boot?: CertBootstrap } = {};
    let finish = () => {};
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const rep = await replica('a', {
      syncPeriodMs: 30_000,
      sleep: async (ms) => {
        sleeps.push(ms);
        if (sleeps.length === 3) for (const c of configs) api.put(c); // the install finishes
        if (sleeps.length >= 6) {
          void r.boot?.stop();
          finish();
        }
      },
    });
    r.boot = rep.boot;
    const first = await rep.boot.reconcile();
    t.same(first.missing.sort(), [
      `MutatingWebhookConfiguration/${NAME}`,
      `ValidatingWebhookConfiguration/${NAME}`,
    ]);
    t.same(
      rep.boot.notReady(),
      [],
      'ready: the server can start; the API server will call it once caBundle lands',
    );
    await rep.boot.start();
    await done;
    await rep.boot.stop();
    t.same(
      sleeps.slice(0, 3),
      [1_000, 2_000, 4_000],
      'missing configurations: looked for again soon, backing off',
    );
    t.equal(sleeps[3], 30_000, 'found and patched: back to the sync period');
    await assertServedCertsTrusted(t, api, [rep], 'after the late install');
  },
);

t.test('a Secret pre-created empty (type Opaque) is filled, its type kept', async (t) => {
  const { api, replica } = await setup(t);
  api.put({ apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name: SECRET, namespace: NS } });
  const r = await replica('a');
  const res = await r.boot.reconcile();
  t.same(res.actions, ['recreated']);
  t.equal(secretOf(api).type, 'Opaque');
  await assertServedCertsTrusted(t, api, [r], 'after filling');
});

t.test('no key material in any log line, through bootstrap, renewal and CA rotation', async (t) => {
  const { api, clock, replica } = await setup(t);
  const lines: string[] = [];
  const logger = createLogger({ level: 'trace', destination: { write: (s: string) => void lines.push(s) } });
  const r = await replica('a', { logger });
  await r.boot.reconcile();
  clock.now += 61 * DAY;
  await r.boot.reconcile();
  clock.now += 540 * DAY;
  for (let i = 0; i < 3; i++) {
    await r.boot.reconcile();
    clock.now += 600_000;
  }
  api.failNext({ verb: 'update', resource: 'secrets', code: 500, message: 'boom' });
  clock.now += 61 * DAY;
  await t.rejects(r.boot.reconcile());
  const log = lines.join('');
  t.ok(lines.length >= 5, `${lines.length} lines logged`);
  t.match(log, /caBundle updated/);
  const data = secretOf(api).data;
  const keys = [b64(data['tls.key'] ?? ''), b64(data['ca.key'] ?? '')];
  t.notMatch(log, /PRIVATE KEY/, 'no PEM key');
  for (const k of keys) {
    const body = k.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
    t.notOk(log.includes(body.slice(0, 40)), 'no key body');
  }
  t.notOk(log.includes(data['ca.key'] ?? '<none>'), 'no base64 of the CA key');
});

t.test('CA rotation waits for the new CA to reach caBundle before it signs anything', async (t) => {
  const { api, clock, replica } = await setup(t);
  const r = await replica('a');
  await r.boot.reconcile();
  clock.now += 601 * DAY;
  api.failNext({ verb: 'update', resource: 'mutatingwebhookconfigurations', code: 500 });
  await t.rejects(r.boot.reconcile(), 'step 1: the Secret has the new CA, the caBundle write failed');
  t.ok(secretOf(api).data['ca-next.crt'], 'new CA announced in the Secret');
  t.equal(pems(bundles(api)[0] ?? '').length, 1, 'but the mutating webhook does not trust it yet');

  clock.now += 600_000;
  const pending = await r.boot.reconcile();
  t.same(
    pending.actions.filter((a) => a.startsWith('ca-')),
    ['ca-next-pending'],
    'not promoted',
  );
  await assertServedCertsTrusted(t, api, [r], 'pending');
  t.equal(pems(bundles(api)[0] ?? '').length, 2, 'the same pass wrote old + new');

  clock.now += 300_000;
  t.notOk((await r.boot.reconcile()).actions.includes('ca-promoted'), 'the overlap restarted');
  clock.now += 300_000;
  t.ok((await r.boot.reconcile()).actions.includes('ca-promoted'), 'then the new CA signs');
  await assertServedCertsTrusted(t, api, [r], 'promoted');
});
