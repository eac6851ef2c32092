/**
 * Certificate hot reload never serves an unusable pair. Writers (cert-manager's CSI driver, a
 * script, `esw certs`) may be caught mid-write: `writeFile` truncates, then writes. Node accepts
 * an empty certificate or key in a secure context, and a context without a certificate fails every
 * new handshake — so every intermediate state of a non-atomic rewrite must keep the old pair.
 */
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import t, { type Test } from 'tap';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { writeFileAtomic } from '../../src/server/atomic-file.ts';
import { type CertificateBundle, createCertificates } from '../../src/server/certs.ts';
import { writeCertificateFiles } from '../../src/server/dev-certs.ts';
import { startServer } from '../../src/server/serve.ts';
import {
  CertificateWatcher,
  checkTlsMaterial,
  readTlsMaterial,
  type TlsFiles,
  TlsMaterialError,
} from '../../src/server/tls.ts';

const DAY = 86_400_000;
const hosts = ['localhost', '127.0.0.1'];

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'esw-tls-reload-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function capture() {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (l: string) => lines.push(l) } });
  return { logger, lines };
}

/** One new TLS connection; resolves with the served certificate's fingerprint or the error. */
function handshake(port: number, ca: string): Promise<{ ok: true; fp: string } | { ok: false; err: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' });
    socket.once('secureConnect', () => {
      const fp = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve({ ok: true, fp });
    });
    socket.once('error', (err) => resolve({ ok: false, err: err.message }));
  });
}

const fingerprintOf = (pem: string) => new X509Certificate(pem).fingerprint256;

async function rotated(base: CertificateBundle): Promise<CertificateBundle> {
  return createCertificates({ hosts, ca: { cert: base.caCert, key: base.caKey } });
}

async function serve(t: Test) {
  const dir = await tempDir(t);
  const bundle = await createCertificates({ hosts });
  const files: TlsFiles = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
  await writeFile(files.certFile, bundle.cert);
  await writeFile(files.keyFile, bundle.key);
  const { logger, lines } = capture();
  const server = await startServer(
    {
      validate: async () => ({ allowed: true }),
      mutate: async () => ({ allowed: true }),
      notReady: () => [],
    },
    { port: 0, host: '127.0.0.1', tls: files, logger, metrics: createMetrics(), certPollMs: 3_600_000 },
  );
  t.teardown(() => server.shutdown('test teardown'));
  return { server, bundle, files, lines };
}

t.test('checkTlsMaterial refuses every incomplete or wrong pair, with our own words', async (t) => {
  const a = await createCertificates({ hosts });
  const b = await createCertificates({ hosts });
  const files: TlsFiles = {
    certFile: '/certs/tls.crt',
    keyFile: '/certs/tls.key',
    clientCaFile: '/certs/ca.crt',
  };
  const refused = (m: { cert: string; key: string; ca?: string }, reason: string, now?: Date) => {
    try {
      checkTlsMaterial(m, files, now);
      return 'accepted';
    } catch (err: unknown) {
      t.ok(err instanceof TlsMaterialError, 'a TlsMaterialError');
      t.notMatch((err as Error).message, /BEGIN|MII|MHc/, 'no PEM bytes in the message');
      return (err as TlsMaterialError).reason === reason ? reason : `${(err as TlsMaterialError).reason}`;
    }
  };
  t.equal(refused({ cert: '', key: a.key }, 'empty'), 'empty', 'empty certificate');
  t.equal(refused({ cert: a.cert, key: '' }, 'empty'), 'empty', 'empty key');
  t.equal(refused({ cert: ' \n', key: a.key }, 'empty'), 'empty', 'blank certificate');
  t.equal(refused({ cert: a.cert.slice(0, 100), key: a.key }, 'unparsable'), 'unparsable', 'truncated cert');
  t.equal(refused({ cert: a.cert, key: a.key.slice(0, 60) }, 'unparsable'), 'unparsable', 'truncated key');
  t.equal(
    refused({ cert: a.cert + a.caCert.slice(0, 120), key: a.key }, 'unparsable'),
    'unparsable',
    'a complete leaf followed by a truncated chain certificate',
  );
  t.equal(refused({ cert: a.cert, key: b.key }, 'mismatch'), 'mismatch', 'key of another certificate');
  t.equal(
    refused({ cert: a.cert, key: a.key }, 'expired', new Date(a.notAfter.getTime() + DAY)),
    'expired',
    'expired leaf',
  );
  t.equal(
    refused({ cert: a.cert, key: a.key }, 'not-yet-valid', new Date(a.notBefore.getTime() - DAY)),
    'not-yet-valid',
    'leaf not yet valid',
  );
  t.equal(refused({ cert: a.cert, key: a.key, ca: 'garbage' }, 'unparsable'), 'unparsable', 'bad client CA');
  t.doesNotThrow(() => checkTlsMaterial({ cert: a.cert, key: a.key }, files), 'a complete pair');
  t.doesNotThrow(
    () => checkTlsMaterial({ cert: `${a.cert}\n${a.caCert}`, key: a.key, ca: a.caCert }, files),
    'leaf + chain, with a client CA',
  );
});

t.test('start-up: an unusable pair is fatal, an expired one is served with an error logged', async (t) => {
  const dir = await tempDir(t);
  const a = await createCertificates({ hosts });
  const files: TlsFiles = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
  await writeFile(files.certFile, '');
  await writeFile(files.keyFile, a.key);
  t.throws(
    () => readTlsMaterial(files),
    new TlsMaterialError('empty', `certificate ${files.certFile} is empty`),
  );
  await writeFile(files.certFile, a.cert);
  const { logger, lines } = capture();
  const later = new Date(a.notAfter.getTime() + DAY);
  t.equal(readTlsMaterial(files, { logger, now: later }).cert, a.cert);
  t.match(lines.join(''), /outside its validity period/);
});

t.test('a non-atomic rewrite, byte by byte: every new handshake succeeds at every step', async (t) => {
  const { server, bundle, files } = await serve(t);
  const next = await rotated(bundle);
  const oldFp = fingerprintOf(bundle.cert);
  const newFp = fingerprintOf(next.cert);
  let handshakes = 0;
  const failures: string[] = [];
  const served = new Set<string>();
  // After each write: reload as fs.watch would, then open a brand-new connection.
  const step = async (label: string) => {
    const swapped = server.watcher.reload();
    const res = await handshake(server.port, bundle.caCert);
    handshakes++;
    if (!res.ok) failures.push(`${label}: ${res.err}`);
    else served.add(res.fp);
    return { swapped, fp: res.ok ? res.fp : undefined };
  };
  // writeFile's shape: truncate, then the bytes arrive. The certificate first, then the key.
  const fh = await open(files.certFile, 'r+');
  await fh.truncate(0);
  await fh.close();
  t.same(await step('certificate truncated'), { swapped: false, fp: oldFp });
  for (let n = 1; n <= next.cert.length; n++) {
    await writeFile(files.certFile, next.cert.slice(0, n));
    const r = await step(`certificate ${n}/${next.cert.length} bytes`);
    if (r.swapped) failures.push(`swapped at certificate byte ${n}`);
  }
  await writeFile(files.keyFile, '');
  t.same(await step('key truncated'), { swapped: false, fp: oldFp });
  // Up to the last byte of the END line: a key without its final newline is complete.
  for (let n = 1; n < next.key.trimEnd().length; n++) {
    await writeFile(files.keyFile, next.key.slice(0, n));
    const r = await step(`key ${n}/${next.key.length} bytes`);
    if (r.swapped) failures.push(`swapped at key byte ${n}`);
  }
  await writeFile(files.keyFile, next.key);
  t.same(await step('complete'), { swapped: true, fp: newFp }, 'the complete pair is swapped in');
  t.same(failures, [], 'zero failed handshakes, no early swap');
  t.same([...served].sort(), [oldFp, newFp].sort(), 'only the old pair, then the new one, was ever served');
  t.ok(handshakes > next.cert.length + next.key.length, `${handshakes} handshakes`);
});

t.test('a broken pair is logged once, however often it is polled', async (t) => {
  const { server, files, lines } = await serve(t);
  await writeFile(files.certFile, '');
  const before = lines.length;
  for (let i = 0; i < 5; i++) t.equal(server.watcher.reload(), false);
  const warnings = lines.slice(before).filter((l) => l.includes('not usable'));
  t.equal(warnings.length, 1, 'one warning for one problem');
  t.match(warnings[0], /certificate .*tls\.crt is empty/);
});

t.test('the watcher refuses an expired or not-yet-valid pair and keeps the current one', async (t) => {
  const dir = await tempDir(t);
  const a = await createCertificates({ hosts });
  const files: TlsFiles = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
  await writeFile(files.certFile, a.cert);
  await writeFile(files.keyFile, a.key);
  const { logger, lines } = capture();
  let now = new Date();
  const swaps: string[] = [];
  const watcher = new CertificateWatcher(
    { files, logger, onChange: (m) => swaps.push(m.cert), now: () => now },
    readTlsMaterial(files),
  );
  const stale = await createCertificates({ hosts, now: () => new Date(Date.now() - 400 * DAY) });
  await writeFileAtomic(files.keyFile, stale.key, 0o600);
  await writeFileAtomic(files.certFile, stale.cert);
  t.equal(watcher.reload(), false, 'an expired pair is not swapped in');
  t.match(lines.join(''), /expired at/);
  const future = await createCertificates({ hosts, now: () => new Date(Date.now() + 2 * DAY) });
  await writeFileAtomic(files.keyFile, future.key, 0o600);
  await writeFileAtomic(files.certFile, future.cert);
  t.equal(watcher.reload(), false, 'a not-yet-valid pair is not swapped in');
  now = new Date(Date.now() + 3 * DAY);
  t.equal(watcher.reload(), true, 'once its validity starts, the same files are swapped in');
  t.same(swaps, [future.cert]);
});

t.test('rewrites racing fs.watch and a client loop: zero failed handshakes', async (t) => {
  const { server, bundle, files } = await serve(t);
  // fs.watch drives reloads here (debounced 100 ms), as in production; the poll is an hour away.
  const pairs = [bundle, await rotated(bundle), await rotated(bundle)];
  let writing = true;
  const failures: string[] = [];
  let handshakes = 0;
  const client = (async () => {
    while (writing || handshakes < 20) {
      const res = await handshake(server.port, bundle.caCert);
      handshakes++;
      if (!res.ok) failures.push(res.err);
    }
  })();
  // Ten non-atomic rotations, each write in small chunks with a turn of the event loop between.
  for (let round = 1; round <= 10; round++) {
    const pair = pairs[round % pairs.length] as CertificateBundle;
    for (const [file, content] of [
      [files.certFile, pair.cert],
      [files.keyFile, pair.key],
    ] as const) {
      const fh = await open(file, 'w');
      for (let i = 0; i < content.length; i += 16) {
        await fh.write(content.slice(i, i + 16));
        await new Promise((r) => setImmediate(r));
      }
      await fh.close();
    }
  }
  writing = false;
  await client;
  t.same(failures, [], `zero failed handshakes out of ${handshakes}`);
  // The last pair is served once the watcher sees it (explicit reload: no waiting on fs.watch).
  server.watcher.reload();
  const last = await handshake(server.port, bundle.caCert);
  t.same(last, { ok: true, fp: fingerprintOf((pairs[10 % pairs.length] as CertificateBundle).cert) });
});

t.test('every TLS file this project writes is replaced atomically, keys 0600', async (t) => {
  const dir = await tempDir(t);
  const target = join(dir, 'tls.key');
  await writeFile(target, 'old', { mode: 0o644 });
  await writeFileAtomic(target, 'new-key', 0o600);
  t.equal(await readFile(target, 'utf8'), 'new-key');
  t.equal((await stat(target)).mode & 0o777, 0o600, 'an older, looser file is replaced, not reused');
  // The dev-certificate writer leaves no temporary files and only complete files behind.
  await writeCertificateFiles(dir, ['localhost']);
  t.same((await readdir(dir)).sort(), ['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
  const material = readTlsMaterial({ certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') });
  t.ok(material.cert.includes('BEGIN CERTIFICATE'));
  // A failed replacement (the target is a directory: rename refuses) leaves no temporary file.
  await mkdir(join(dir, 'sub'));
  await t.rejects(writeFileAtomic(join(dir, 'sub'), 'x'));
  t.same((await readdir(dir)).sort(), ['ca.crt', 'ca.key', 'sub', 'tls.crt', 'tls.key']);
});
