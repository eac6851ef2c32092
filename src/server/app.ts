/**
 * The fastify app factory: routes only, no listen (main.ts listens, tests use inject() or a real
 * HTTPS listen where TLS is the point). Handlers come in through `deps`, so this file knows
 * nothing of stores or providers, and admission/ knows nothing of HTTP.
 */
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import { performance } from 'node:perf_hooks';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import { parseAdmissionReview, reviewResponse } from '../admission/review.ts';
import type { AdmissionRequest, AdmissionResult } from '../admission/types.ts';
import { deny } from '../admission/types.ts';
import { errorMessage } from '../errors.ts';
import { type Logger, objectRef } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';

/**
 * The API server caps a request body at 3 MiB; an AdmissionReview of an UPDATE carries the object
 * and the oldObject, JSON-escaped, plus envelope. 8 MiB covers that with room to spare.
 */
export const BODY_LIMIT = 8 * 1024 * 1024;

/**
 * Keep-alive tuned for the API server's pooled connections: Go's HTTP client drops idle
 * connections after 90 s, so the server keeps them a little longer and the client always closes
 * first (no race where the server closes a connection the client is reusing).
 */
export const KEEP_ALIVE_TIMEOUT_MS = 100_000;
/** The longest webhook timeout the API server allows is 30 s; nothing legitimate takes longer. */
export const REQUEST_TIMEOUT_MS = 30_000;
export const HEADERS_TIMEOUT_MS = 20_000;

export type AdmissionHandler = (request: AdmissionRequest) => AdmissionResult | Promise<AdmissionResult>;

export interface Readiness {
  ready: boolean;
  reasons: string[];
}

export interface AppDeps {
  logger: Logger;
  metrics: Metrics;
  validate: AdmissionHandler;
  mutate: AdmissionHandler;
  readiness: () => Readiness;
}

export interface AppOptions {
  /** Serve HTTPS with these options (main.ts and TLS tests); omitted for inject() tests. */
  https?: HttpsServerOptions;
  bodyLimit?: number;
}

export function buildApp(deps: AppDeps, opts: AppOptions = {}): FastifyInstance {
  const app = Fastify({
    ...(opts.https ? { https: opts.https } : {}),
    loggerInstance: deps.logger,
    // Per-request lines off: admission is logged once, at debug, with no request content.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit ?? BODY_LIMIT,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    // On close: idle keep-alive connections go at once, in-flight requests finish.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  }) as unknown as FastifyInstance;
  app.server.headersTimeout = HEADERS_TIMEOUT_MS;

  // The API server always sends application/json; anything else is parsed the same way so that
  // a wrong Content-Type gets the same clear 400 as any other body that is not an AdmissionReview.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(badRequest('body is not valid JSON'), undefined);
    }
  });

  app.setErrorHandler((err: { statusCode?: number; message?: string; code?: string }, _req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
    // Framework errors (body too large, bad JSON, timeouts) never carry request content.
    reply.code(status).send({ code: 'ESW_BAD_REQUEST', message: err.message ?? 'bad request' });
  });
  app.setNotFoundHandler((req, reply) => {
    reply
      .code(404)
      .send({ code: 'ESW_NOT_FOUND', message: `no route for ${req.method} ${req.url.split('?')[0]}` });
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const r = deps.readiness();
    return reply
      .code(r.ready ? 200 : 503)
      .send({ status: r.ready ? 'ready' : 'not ready', reasons: r.reasons });
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });

  app.post('/validate', (req, reply) => admit('validate', deps.validate, deps, req, reply));
  app.post('/mutate', (req, reply) => admit('mutate', deps.mutate, deps, req, reply));
  return app;
}

async function admit(
  operation: 'validate' | 'mutate',
  handler: AdmissionHandler,
  deps: AppDeps,
  req: FastifyRequest,
  reply: FastifyReply,
) {
  const parsed = parseAdmissionReview(req.body);
  if (!parsed.ok) {
    deps.metrics.admissionRequests.inc({ operation, kind: 'unknown', result: 'bad_request' });
    return reply.code(400).send({ code: 'ESW_BAD_REQUEST', message: parsed.error });
  }
  const { request } = parsed;
  const kind = metricKind(request);
  const started = performance.now();
  let result: AdmissionResult;
  try {
    result = await handler(request);
  } catch (err: unknown) {
    // A bug, not a verdict: refuse (never let an unchecked Secret through) and keep serving.
    deps.logger.error(
      { err: errorMessage(err), uid: request.uid, operation, kind },
      'admission handler failed',
    );
    result = deny(500, 'internal error in the webhook (ESW_INTERNAL); see its logs');
  }
  const outcome = result.allowed ? (result.patch ? 'patched' : 'allowed') : 'denied';
  deps.metrics.admissionRequests.inc({ operation, kind, result: outcome });
  if (!result.allowed) {
    deps.metrics.admissionRefusals.inc({ operation, kind, code: String(result.status?.code ?? 0) });
  }
  deps.metrics.admissionDuration.observe(
    { operation, kind, result: outcome },
    (performance.now() - started) / 1000,
  );
  deps.logger.debug(
    {
      uid: request.uid,
      operation,
      kind,
      object: objectRef(request.namespace, request.name ?? ''),
      allowed: result.allowed,
      code: result.status?.code,
    },
    'admission',
  );
  return reply.send(reviewResponse(parsed.apiVersion, request.uid, result));
}

/** Bounded label values: the kinds this webhook knows, everything else is "other". */
function metricKind(request: AdmissionRequest): string {
  const k = request.kind.kind;
  return ['Secret', 'ExternalSecret', 'SecretStore', 'ClusterSecretStore'].includes(k) ? k : 'other';
}

function badRequest(message: string): Error & { statusCode: number } {
  return Object.assign(new Error(message), { statusCode: 400 });
}
