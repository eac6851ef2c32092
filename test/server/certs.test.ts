import { once } from 'node:events';
import https from 'node:https';
import t from 'tap';
import { certificateHosts, certificateNotAfter, createCertificates } from '../../src/server/certs.ts';

t.test('serving certificate verifies against its CA over real TLS', async (t) => {
  const bundle = await createCertificates({ hosts: ['localhost', '127.0.0.1'], validityDays: 2 });
  t.same(certificateHosts(bundle.cert).sort(), ['127.0.0.1', 'localhost']);
  const days = ((certificateNotAfter(bundle.cert)?.getTime() ?? 0) - Date.now()) / 86_400_000;
  t.ok(days > 1.9 && days <= 2, 'lifetime is the requested one');
  t.equal(certificateNotAfter('not a certificate'), undefined);

  const server = https.createServer({ cert: bundle.cert, key: bundle.key }, (_req, res) => res.end('ok'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const port = (server.address() as { port: number }).port;
  const body = await new Promise<string>((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, ca: bundle.caCert, servername: 'localhost' }, (res) => {
        let b = '';
        res.on('data', (c) => {
          b += c;
        });
        res.on('end', () => resolve(b));
      })
      .on('error', reject);
  });
  t.equal(body, 'ok');
});

t.test('rotation with the same CA keeps the CA and changes the leaf', async (t) => {
  const first = await createCertificates({ hosts: ['svc.ns.svc'] });
  const second = await createCertificates({
    hosts: ['svc.ns.svc'],
    ca: { cert: first.caCert, key: first.caKey },
  });
  t.equal(second.caCert, first.caCert);
  t.not(second.cert, first.cert);
});
