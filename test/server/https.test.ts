import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { AdmissionResult } from '../../src/admission/types.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { createCertificates } from '../../src/server/certs.ts';
import { startServer } from '../../src/server/serve.ts';
import { admissionReview } from '../helpers/admission-review.ts';
import { request } from '../helpers/https.ts';

async function setup(t: Test, handler?: () => Promise<AdmissionResult>) {
  const dir = await mkdtemp(join(tmpdir(), 'esw-https-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const bundle = await createCertificates({ hosts: ['localhost', '127.0.0.1'] });
  const tls = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
  await writeFile(tls.certFile, bundle.cert);
  await writeFile(tls.keyFile, bundle.key);
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (l: string) => lines.push(l) } });
  const server = await startServer(
    {
      validate: handler ?? (async () => ({ allowed: false, status: { code: 422, message: 'nope' } })),
      mutate: async () => ({ allowed: true }),
      notReady: () => [],
    },
    { port: 0, host: '127.0.0.1', tls, logger, metrics: createMetrics(), certPollMs: 60_000 },
  );
  t.teardown(() => server.shutdown('test teardown'));
  return { server, bundle, dir, tls, lines, base: `https://127.0.0.1:${server.port}` };
}

const review = (uid: string) =>
  admissionReview('ExternalSecret', { metadata: { name: 'x' } }, { uid, namespace: 'default' });

t.test('AdmissionReview round trip over verified HTTPS', async (t) => {
  const { base, bundle } = await setup(t);
  const res = await request(`${base}/validate`, review('uid-1'), { ca: bundle.caCert });
  t.equal(res.status, 200);
  t.same(res.json(), {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid: 'uid-1', allowed: false, status: { code: 422, message: 'nope' } },
  });
  const v1beta1 = { ...review('uid-2'), apiVersion: 'admission.k8s.io/v1beta1' };
  const res2 = await request(`${base}/validate`, v1beta1, { ca: bundle.caCert });
  t.equal(
    res2.json<{ apiVersion: string }>().apiVersion,
    'admission.k8s.io/v1beta1',
    'echoes the request apiVersion',
  );
  t.equal((await request(`${base}/healthz`, undefined, { ca: bundle.caCert })).status, 200);
  t.equal((await request(`${base}/readyz`, undefined, { ca: bundle.caCert })).status, 200);
});

t.test('an untrusted client cannot talk to it: the certificate is really verified', async (t) => {
  const { base } = await setup(t);
  const other = await createCertificates({ hosts: ['localhost'] });
  await t.rejects(
    request(`${base}/healthz`, undefined, { ca: other.caCert }),
    /self-signed|unable to verify|certificate/,
  );
});

t.test('garbage gets a JSON 400, never a 5xx', async (t) => {
  const { base, bundle } = await setup(t);
  const cases: [string, unknown, RegExp][] = [
    ['not json', '{nope', /not valid JSON|JSON/],
    ['array', '[]', /JSON object/],
    ['wrong kind', { kind: 'Pod' }, /kind must be "AdmissionReview"/],
    ['no request', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, /request is required/],
    ['no uid', { ...review(''), request: { ...review('').request, uid: '' } }, /request.uid/],
    [
      'bad operation',
      { ...review('u'), request: { ...review('u').request, operation: 'EXPLODE' } },
      /operation/,
    ],
    [
      'object not object',
      { ...review('u'), request: { ...review('u').request, object: 'str' } },
      /request.object/,
    ],
  ];
  for (const [name, body, message] of cases) {
    const res = await request(`${base}/validate`, body, { ca: bundle.caCert });
    t.equal(res.status, 400, name);
    t.equal(res.json<{ code: string }>().code, 'ESW_BAD_REQUEST', name);
    t.match(res.json<{ message: string }>().message, message, name);
  }
  const wrongType = await request(`${base}/mutate`, JSON.stringify(review('u')), {
    ca: bundle.caCert,
    headers: { 'content-type': 'text/plain' },
  });
  t.equal(wrongType.status, 200, 'a wrong content type with a valid body is still answered');
  // Whatever the content type, the parser is fastify's secure one: a __proto__ key is refused.
  const poisoned = `{"__proto__":{"allowed":true},${JSON.stringify(review('u')).slice(1)}`;
  for (const type of ['application/json', 'text/plain']) {
    const res = await request(`${base}/validate`, poisoned, {
      ca: bundle.caCert,
      headers: { 'content-type': type },
    });
    t.equal(res.status, 400, `a __proto__ key is refused (${type})`);
    t.match(res.json(), { code: 'ESW_BAD_REQUEST', message: 'body is not valid JSON' }, type);
  }
  const tooBig = await request(`${base}/validate`, 'x'.repeat(9 * 1024 * 1024), { ca: bundle.caCert });
  t.equal(tooBig.status, 413, 'bodies above the limit are refused with 413');
  const missing = await request(`${base}/nowhere`, undefined, { ca: bundle.caCert });
  t.equal(missing.status, 404);
});

t.test('a handler that throws is a refusal with 500 in the review, not an HTTP 5xx', async (t) => {
  const { base, bundle, lines } = await setup(t, async () => {
    throw new Error('boom');
  });
  const res = await request(`${base}/validate`, review('u-9'), { ca: bundle.caCert });
  t.equal(res.status, 200);
  t.match(res.json(), { response: { uid: 'u-9', allowed: false, status: { code: 500 } } });
  t.ok(lines.some((l) => l.includes('admission handler failed')));
});

t.test(
  'certificate rotation: a kept connection stays up, new connections get the new certificate',
  async (t) => {
    const { base, bundle, tls, server } = await setup(t);
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    t.teardown(() => agent.destroy());
    const first = await request(`${base}/validate`, review('a'), { ca: bundle.caCert, agent });
    const rotated = await createCertificates({
      hosts: ['localhost', '127.0.0.1'],
      ca: { cert: bundle.caCert, key: bundle.caKey },
    });
    await writeFile(tls.keyFile, rotated.key);
    await writeFile(tls.certFile, rotated.cert);
    // fs.watch may already have swapped the pair in (its debounce can fire while writeFile is
    // finishing), so the explicit reload's return value depends on timing: assert the outcome.
    server.watcher.reload();
    t.equal(server.watcher.reload(), false, 'an unchanged pair is not swapped again');

    const again = await request(`${base}/validate`, review('b'), { ca: bundle.caCert, agent });
    t.equal(again.status, 200);
    t.equal(again.localPort, first.localPort, 'the same keep-alive connection served both requests');
    t.equal(again.peerFingerprint, first.peerFingerprint, 'that connection keeps its handshake');

    const fresh = await request(`${base}/validate`, review('c'), { ca: bundle.caCert });
    t.equal(fresh.status, 200);
    t.not(fresh.peerFingerprint, first.peerFingerprint, 'a new connection sees the rotated certificate');

    // Half-written rotation (a new cert without its key) keeps the working pair.
    const other = await createCertificates({ hosts: ['localhost'] });
    await writeFile(tls.certFile, other.cert);
    t.equal(server.watcher.reload(), false, 'a mismatched pair is not swapped in');
    const stillOk = await request(`${base}/healthz`, undefined, { ca: bundle.caCert });
    t.equal(stillOk.peerFingerprint, fresh.peerFingerprint);
  },
);

t.test(
  'graceful shutdown: readiness fails at once, in-flight requests finish, idle connections close',
  async (t) => {
    let release: () => void = () => undefined;
    let entered: () => void = () => undefined;
    const inHandler = new Promise<void>((r) => {
      entered = r;
    });
    const { base, bundle, server } = await setup(t, async () => {
      entered();
      await new Promise<void>((r) => {
        release = r;
      });
      return { allowed: true };
    });
    const idleAgent = new https.Agent({ keepAlive: true });
    t.teardown(() => idleAgent.destroy());
    await request(`${base}/healthz`, undefined, { ca: bundle.caCert, agent: idleAgent });
    const idleSocket = Object.values(idleAgent.freeSockets)[0]?.[0];
    t.ok(idleSocket, 'an idle keep-alive connection exists');
    const idleClosed = new Promise<void>((r) => idleSocket?.once('close', () => r()));

    const inflight = request(`${base}/validate`, review('slow'), { ca: bundle.caCert });
    await inHandler;
    const stopping = server.shutdown('SIGTERM');
    t.equal(server.readiness().ready, false, 'readiness fails at once');
    t.same(server.readiness().reasons, ['shutting down']);
    await idleClosed;
    t.pass('the idle keep-alive connection was closed');
    release();
    const res = await inflight;
    t.equal(res.status, 200, 'the in-flight request finished');
    t.match(res.json(), { response: { uid: 'slow', allowed: true } });
    await stopping;
    await t.rejects(request(`${base}/healthz`, undefined, { ca: bundle.caCert }), /ECONNREFUSED/);
  },
);
