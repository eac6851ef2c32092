import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { silentLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { createCertificates } from '../../src/server/certs.ts';
import { startServer } from '../../src/server/serve.ts';
import { request } from '../helpers/https.ts';

// --client-ca: only clients holding a certificate from that CA (the API server's client
// certificate) may POST AdmissionReviews — the defence against forged reviews reading values.
t.test('mutual TLS refuses clients without a certificate from the client CA', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'esw-mtls-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const serving = await createCertificates({ hosts: ['localhost', '127.0.0.1'] });
  const client = await createCertificates({ hosts: ['kube-apiserver'], clientAuth: true });
  const stranger = await createCertificates({ hosts: ['intruder'], clientAuth: true });
  const tls = {
    certFile: join(dir, 'tls.crt'),
    keyFile: join(dir, 'tls.key'),
    clientCaFile: join(dir, 'client-ca.crt'),
  };
  await writeFile(tls.certFile, serving.cert);
  await writeFile(tls.keyFile, serving.key);
  await writeFile(tls.clientCaFile, client.caCert);
  const server = await startServer(
    { validate: () => ({ allowed: true }), mutate: () => ({ allowed: true }), notReady: () => [] },
    { port: 0, host: '127.0.0.1', tls, logger: silentLogger(), metrics: createMetrics(), certPollMs: 60_000 },
  );
  t.teardown(() => server.shutdown());
  const url = `https://127.0.0.1:${server.port}/healthz`;

  const ok = await request(url, undefined, { ca: serving.caCert, cert: client.cert, key: client.key });
  t.equal(ok.status, 200, 'the API server client certificate is accepted');
  await t.rejects(request(url, undefined, { ca: serving.caCert }), 'no client certificate: refused');
  await t.rejects(
    request(url, undefined, { ca: serving.caCert, cert: stranger.cert, key: stranger.key }),
    'a certificate from another CA: refused',
  );
});
