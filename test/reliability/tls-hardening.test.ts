/**
 * The serving side's hardening: TLS below 1.2 is refused by the real server, and private keys
 * written by `esw certs` / the dev certificates are 0600 — also when an older, looser file is
 * already in the way.
 */
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import t from 'tap';
import { silentLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { createCertificates } from '../../src/server/certs.ts';
import { writeCertificateFiles } from '../../src/server/dev-certs.ts';
import { startServer } from '../../src/server/serve.ts';

function handshake(port: number, ca: string, version: tls.SecureVersion): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      ca,
      servername: 'localhost',
      minVersion: version,
      maxVersion: version,
    });
    socket.once('secureConnect', () => {
      const protocol = socket.getProtocol() ?? '';
      socket.destroy();
      resolve(protocol);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve('refused');
    });
  });
}

t.test('TLS 1.0 and 1.1 are refused; 1.2 and 1.3 are served', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'esw-tls-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const bundle = await createCertificates({ hosts: ['localhost', '127.0.0.1'] });
  const files = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
  await writeFile(files.certFile, bundle.cert);
  await writeFile(files.keyFile, bundle.key);
  const server = await startServer(
    { validate: () => ({ allowed: true }), mutate: () => ({ allowed: true }), notReady: () => [] },
    {
      port: 0,
      host: '127.0.0.1',
      tls: files,
      logger: silentLogger(),
      metrics: createMetrics(),
      certPollMs: 60_000,
    },
  );
  t.teardown(() => server.shutdown());
  t.equal(await handshake(server.port, bundle.caCert, 'TLSv1'), 'refused', 'TLS 1.0 refused');
  t.equal(await handshake(server.port, bundle.caCert, 'TLSv1.1'), 'refused', 'TLS 1.1 refused');
  t.equal(await handshake(server.port, bundle.caCert, 'TLSv1.2'), 'TLSv1.2', 'TLS 1.2 served');
  t.equal(await handshake(server.port, bundle.caCert, 'TLSv1.3'), 'TLSv1.3', 'TLS 1.3 served');
});

t.test('private keys are written 0600, even over older world-readable files', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'esw-keys-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeCertificateFiles(dir, ['localhost']);
  for (const f of ['ca.key', 'tls.key']) {
    t.equal((await stat(join(dir, f))).mode & 0o777, 0o600, `${f}: 0600 when new`);
  }
  for (const f of ['ca.key', 'tls.key']) await chmod(join(dir, f), 0o644);
  await writeCertificateFiles(dir, ['localhost']);
  for (const f of ['ca.key', 'tls.key']) {
    t.equal((await stat(join(dir, f))).mode & 0o777, 0o600, `${f}: 0600 when replacing a 0644 file`);
  }
});
