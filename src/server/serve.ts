/**
 * A running webhook server: HTTPS listener, certificate hot reload and graceful shutdown.
 * cli/serve.ts adds process signals; tests drive `shutdown()` directly.
 */
import { X509Certificate } from 'node:crypto';
import type { Server as TlsServer } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { type AdmissionHandler, buildApp, buildRefreshApp, type Readiness } from './app.ts';
import type { EventGridEndpoint } from './event-grid.ts';
import type { RefreshEndpoint } from './refresh.ts';
import {
  CertificateWatcher,
  httpsServerOptions,
  readTlsMaterial,
  secureContextOptions,
  type TlsFiles,
  type TlsMaterial,
} from './tls.ts';

export interface ServerHandlers {
  validate: AdmissionHandler;
  mutate: AdmissionHandler;
  /** Reasons the process is not ready besides shutting down (informers, certificates…). */
  notReady: () => string[];
  /** POST /refresh, in cluster mode with --refresh-endpoint. */
  refresh?: RefreshEndpoint | undefined;
  /** Event Grid deliveries on the refresh port, in cluster mode with --event-grid-endpoint. */
  eventGrid?: EventGridEndpoint | undefined;
}

export interface StartOptions {
  port: number;
  host: string;
  tls: TlsFiles;
  logger: Logger;
  metrics: Metrics;
  /** After readiness starts failing, wait this long before closing the listener. */
  shutdownDelayMs?: number;
  /** Body bytes all requests in flight may hold together (default: ./request-bounds.ts). */
  maxInflightBytes?: number;
  certPollMs?: number;
  /** The POST /refresh listener's port (0: any), when the handlers have one. Default 8444. */
  refreshPort?: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface RunningServer {
  app: FastifyInstance;
  port: number;
  watcher: CertificateWatcher;
  readiness: () => Readiness;
  /** The POST /refresh listener, when served. */
  refresh?: { app: FastifyInstance; port: number } | undefined;
  /**
   * Graceful stop: readiness fails at once and every answer from then on carries
   * `Connection: close`; the listener stays up for `shutdownDelayMs` so endpoints can drain, then
   * new connections are refused, idle keep-alive connections are closed, in-flight requests
   * finish and a request still arriving on an open connection is answered normally (never a
   * 503). Safe to call twice.
   */
  shutdown: (reason?: string) => Promise<void>;
}

export async function startServer(handlers: ServerHandlers, opts: StartOptions): Promise<RunningServer> {
  const material = readTlsMaterial(opts.tls, { logger: opts.logger });
  // The certificate-expiry alert reads this: set now and on every reload.
  const recordExpiry = (m: TlsMaterial) => {
    const notAfter = certificateNotAfter(m.cert);
    if (notAfter !== undefined) opts.metrics.certificateExpiry.set(notAfter / 1000);
  };
  recordExpiry(material);
  let closing = false;
  const readiness = (): Readiness => {
    const reasons = closing ? ['shutting down'] : handlers.notReady();
    return { ready: reasons.length === 0, reasons };
  };
  const app = buildApp(
    {
      logger: opts.logger,
      metrics: opts.metrics,
      validate: handlers.validate,
      mutate: handlers.mutate,
      readiness,
    },
    {
      https: httpsServerOptions(material),
      ...(opts.maxInflightBytes ? { maxInflightBytes: opts.maxInflightBytes } : {}),
    },
  );
  // POST /refresh on its own port and without the client CA: its callers are rotation jobs with
  // a Kubernetes token, not the API server.
  const refreshApp =
    handlers.refresh || handlers.eventGrid
      ? buildRefreshApp(
          {
            logger: opts.logger,
            metrics: opts.metrics,
            refresh: handlers.refresh,
            eventGrid: handlers.eventGrid,
          },
          { https: httpsServerOptions({ ...material, ca: undefined }) },
        )
      : undefined;
  const watcher = new CertificateWatcher(
    {
      files: opts.tls,
      logger: opts.logger,
      onChange: (m) => {
        (app.server as unknown as TlsServer).setSecureContext(secureContextOptions(m));
        (refreshApp?.server as unknown as TlsServer | undefined)?.setSecureContext(
          secureContextOptions({ ...m, ca: undefined }),
        );
        recordExpiry(m);
      },
      ...(opts.certPollMs ? { pollMs: opts.certPollMs } : {}),
    },
    material,
  );
  watcher.start();
  await app.listen({ port: opts.port, host: opts.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  opts.logger.info({ host: opts.host, port }, 'webhook listening');
  let refresh: RunningServer['refresh'];
  if (refreshApp) {
    await refreshApp.listen({ port: opts.refreshPort ?? 8444, host: opts.host });
    const a = refreshApp.server.address();
    refresh = { app: refreshApp, port: typeof a === 'object' && a ? a.port : (opts.refreshPort ?? 8444) };
    const routes = [
      ...(handlers.refresh ? ['POST /refresh'] : []),
      ...(handlers.eventGrid ? ['/events/azure/… (Event Grid)'] : []),
    ];
    opts.logger.info({ host: opts.host, port: refresh.port, routes }, 'refresh port listening');
  }

  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let stopped: Promise<void> | undefined;
  const shutdown = (reason = 'shutdown') => {
    stopped ??= (async () => {
      closing = true;
      // From now on every answer says Connection: close, so the API server's pooled
      // connections end one by one, each after a normal answer, while endpoints drain.
      // Added only now: no cost per request before shutdown.
      app.server.prependListener('request', (_req, res) => res.setHeader('connection', 'close'));
      opts.logger.info({ reason }, 'shutting down: readiness now fails');
      if (opts.shutdownDelayMs) await sleep(opts.shutdownDelayMs);
      watcher.stop();
      await Promise.all([app.close(), refreshApp?.close()]);
      opts.logger.info('listener closed, in-flight requests finished');
    })();
    return stopped;
  };
  return { app, port, watcher, readiness, refresh, shutdown };
}

/** notAfter of the first certificate of a PEM, in ms; undefined when it does not parse. */
function certificateNotAfter(pem: string): number | undefined {
  try {
    return new X509Certificate(pem).validToDate.getTime();
  } catch {
    return undefined;
  }
}
