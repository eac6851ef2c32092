/**
 * Issue 11, item 8: shutdown without a failed call. The API server keeps connections alive and
 * sends the next review on one as soon as the previous answer arrives; fastify answered such a
 * request with "503 server is closing", which the API server counts as a failed webhook call.
 * Through the real HTTPS server, on one connection, with every step ordered by events (a held
 * handler, the listener's state), never by time:
 * - during the shutdown delay (readiness failing, listener open), a request on a kept-alive
 *   connection is answered normally, with `Connection: close`, and the connection then ends;
 * - after the listener has closed, a request that arrives on a connection still open (the answer
 *   to its previous request was in flight) is answered 200 with `Connection: close`, not 503.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { AdmissionRequest } from '../../src/admission/types.ts';
import { allow } from '../../src/admission/types.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { createCertificates } from '../../src/server/certs.ts';
import { startServer } from '../../src/server/serve.ts';
import { admissionReview } from '../helpers/admission-review.ts';
import { RawConnection } from '../helpers/raw-http.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

function gate() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

const review = (uid: string) =>
  JSON.stringify(
    admissionReview('ConfigMap', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }, { uid }),
  );

async function serve(t: Test, opts: { held?: Set<string>; delay?: boolean } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'esw-shutdown-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const certs = await createCertificates({ hosts: ['localhost', '127.0.0.1'] });
  const tls = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
  await writeFile(tls.certFile, certs.cert);
  await writeFile(tls.keyFile, certs.key);
  const release = gate();
  const entered = gate();
  const delay = gate();
  const delayStarted = gate();
  const handler = async (request: AdmissionRequest) => {
    if (opts.held?.has(request.uid)) {
      entered.open();
      await release.opened;
    }
    return allow();
  };
  const server = await startServer(
    { validate: handler, mutate: handler, notReady: () => [] },
    {
      port: 0,
      host: '127.0.0.1',
      tls,
      logger: createLogger({ level: 'silent' }),
      metrics: createMetrics(),
      certPollMs: 60_000,
      ...(opts.delay
        ? {
            shutdownDelayMs: 1,
            // The shutdown delay ends when the test says so.
            sleep: async () => {
              delayStarted.open();
              await delay.opened;
            },
          }
        : {}),
    },
  );
  t.teardown(() => {
    release.open();
    delay.open();
    return server.shutdown('teardown');
  });
  const open = () => RawConnection.open(server.port, certs.caCert);
  return { server, open, release, entered, delay, delayStarted };
}

t.test('during the shutdown delay: answered normally, with Connection: close', async (t) => {
  const { server, open, delay, delayStarted } = await serve(t, { delay: true });
  const c = await open();
  c.post('/validate', review('before'));
  const before = await c.response();
  t.equal(before.status, 200);
  t.not(before.headers.connection, 'close', 'kept alive before shutdown');

  const stopped = server.shutdown('SIGTERM');
  await delayStarted.opened;
  t.equal(server.readiness().ready, false, 'readiness fails at once');
  t.ok(server.app.server.listening, 'the listener is still open during the delay');

  c.post('/validate', review('during'));
  const during = await c.response();
  t.equal(during.status, 200, 'answered normally');
  t.equal(during.headers.connection, 'close', 'and told to close the connection');
  t.match(JSON.parse(during.body), { response: { uid: 'during', allowed: true } });
  await c.closed();
  t.ok(c.ended, 'the server closed the connection after the answer');

  delay.open();
  await stopped;
  t.notOk(server.app.server.listening, 'listener closed after the delay');
});

t.test('after the listener closed: a request on a still-open connection gets 200, not 503', async (t) => {
  const { server, open, release, entered } = await serve(t, { held: new Set(['first']) });
  const c = await open();
  // Keep-alive first: a normal answer on this connection.
  c.post('/validate', review('warm'));
  t.equal((await c.response()).status, 200);
  // A request in flight when SIGTERM arrives (the handler is held).
  c.post('/validate', review('first'));
  await entered.opened;
  const stopped = server.shutdown('SIGTERM');
  for (let i = 0; i < 100_000 && server.app.server.listening; i++) await new Promise((r) => setImmediate(r));
  t.notOk(server.app.server.listening, 'the listener is closed; this connection stays (it is busy)');

  // The API server writes its next review on the connection while the first is answered.
  c.post('/validate', review('second'));
  release.open();
  const first = await c.response();
  t.equal(first.status, 200, 'the request in flight is answered');
  const second = await c.response();
  t.equal(second.status, 200, 'the request that arrived after close is answered, not refused with 503');
  t.equal(second.headers.connection, 'close');
  t.match(JSON.parse(second.body), { response: { uid: 'second', allowed: true } });
  await c.closed();
  await stopped;
});
