/**
 * A runtime served as `esw serve` serves it: over real HTTPS on 127.0.0.1, a free port, with the
 * test's certificate written to files as a deployment mounts them; the server shut down and the
 * files removed at the test's end.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import type { Logger } from '../../src/observability/logger.ts';
import type { Metrics } from '../../src/observability/metrics.ts';
import type { CertificateBundle } from '../../src/server/certs.ts';
import { type RunningServer, type ServerHandlers, startServer } from '../../src/server/serve.ts';

export async function serveHttps(
  t: Test,
  runtime: ServerHandlers,
  opts: { bundle: CertificateBundle; logger: Logger; metrics: Metrics },
): Promise<RunningServer> {
  const dir = await mkdtemp(join(tmpdir(), 'esw-serve-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const tls = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
  await writeFile(tls.certFile, opts.bundle.cert);
  await writeFile(tls.keyFile, opts.bundle.key);
  const server = await startServer(runtime, {
    port: 0,
    host: '127.0.0.1',
    tls,
    logger: opts.logger,
    metrics: opts.metrics,
    // The certificate never changes here: no reload poll during the test.
    certPollMs: 60_000,
  });
  t.teardown(() => server.shutdown('test teardown'));
  return server;
}
