/**
 * The fastify app factory: routes only, no listen (main.ts listens, tests use inject() or a real
 * HTTPS listen where TLS is the point). Handlers come in through `deps`, so this file knows
 * nothing of stores or providers, and admission/ knows nothing of HTTP.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions as HttpsServerOptions } from 'node:https';
import { performance } from 'node:perf_hooks';
import { StringDecoder } from 'node:string_decoder';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import { objectBoundsProblem } from '../admission/object-bounds.ts';
import { parseAdmissionReview, reviewResponseJson } from '../admission/review.ts';
import type { AdmissionRequest, AdmissionResult } from '../admission/types.ts';
import { deny } from '../admission/types.ts';
import { EswError, errorMessage } from '../errors.ts';
import { LazyChildLogger, type Logger, objectRef } from '../observability/logger.ts';
import { type Metrics, metricsText } from '../observability/metrics.ts';
import { errorFrames } from '../observability/sanitize.ts';
import type { EventGridEndpoint } from './event-grid.ts';
import { registerEventGridRoutes } from './event-grid-routes.ts';
import { PhaseBatch } from './phase-batch.ts';
import { REFRESH_BODY_LIMIT, type RefreshAnswer, type RefreshEndpoint } from './refresh.ts';
import {
  BODY_LIMIT,
  DEFAULT_INFLIGHT_BYTES,
  frameworkErrorReply,
  InflightBudget,
  RETRY_AFTER_SECONDS,
} from './request-bounds.ts';

/** The largest AdmissionReview the API server sends (computed in ./request-bounds.ts). */
export { BODY_LIMIT } from './request-bounds.ts';

/**
 * Keep-alive tuned for the API server's pooled connections: Go's HTTP client drops idle
 * connections after 90 s, so the server keeps them a little longer and the client always closes
 * first (no race where the server closes a connection the client is reusing).
 */
export const KEEP_ALIVE_TIMEOUT_MS = 100_000;
/** The longest webhook timeout the API server allows is 30 s; nothing legitimate takes longer. */
export const REQUEST_TIMEOUT_MS = 30_000;
export const HEADERS_TIMEOUT_MS = 20_000;

/** What fastify sends with a serialised object. */
const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

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
  /** Body bytes all requests in flight may hold together; beyond it, 429 before reading. */
  maxInflightBytes?: number;
  /**
   * Serve well-formed admission requests on their own lane (`admissionLane`; default on with
   * `https`). Off only in the test that compares the lane's answers with fastify's, byte for byte.
   */
  admissionLane?: boolean;
}

export function buildApp(deps: AppDeps, opts: AppOptions = {}): FastifyInstance {
  const bodyLimit = opts.bodyLimit ?? BODY_LIMIT;
  const budget = new InflightBudget(
    Math.max(opts.maxInflightBytes ?? DEFAULT_INFLIGHT_BYTES, bodyLimit),
    bodyLimit,
    (used) => deps.metrics.admissionInflightBytes.set(used),
  );
  let closing = false;
  let lane: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined;
  const https = opts.https;
  const app = Fastify({
    ...(https ? { https } : {}),
    ...(https && opts.admissionLane !== false
      ? {
          // The server fastify would create, with the admission lane in front of fastify's
          // handler; fastify sets none of these on a server it is given.
          serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void) => {
            const server = createHttpsServer(https, (req, res) => {
              if (lane === undefined || !lane(req, res)) handler(req, res);
            });
            server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
            server.requestTimeout = REQUEST_TIMEOUT_MS;
            return server;
          },
        }
      : {}),
    loggerInstance: deps.logger,
    // Per-request lines off: admission is logged once, at debug, with no request content.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: (logger, bindings, options) =>
      new LazyChildLogger(logger as Logger, bindings, options) as unknown as FastifyBaseLogger,
    bodyLimit,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    // On close: idle keep-alive connections go at once, in-flight requests finish. A request
    // that still arrives on an open connection is answered (fastify adds Connection: close),
    // never a 503: the API server would count that as a failed webhook call.
    forceCloseConnections: 'idle',
    return503OnClosing: false,
  }) as unknown as FastifyInstance;
  app.server.headersTimeout = HEADERS_TIMEOUT_MS;

  // The API server always sends application/json; anything else is parsed the same way so that
  // a wrong Content-Type gets the same clear 400 as any other body that is not an AdmissionReview.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('*', { parseAs: 'string' }, anyTypeJson(app));

  const busy = (req: FastifyRequest) =>
    deps.metrics.admissionRequests.inc({
      operation: req.url.startsWith('/mutate') ? 'mutate' : 'validate',
      kind: 'unknown',
      result: 'busy',
    });
  app.setErrorHandler((err, req, reply) => {
    // Errors before a handler (body too large, not JSON…): our words, never the parser's.
    const { status, code, message } = frameworkErrorReply(err, bodyLimit);
    if (status === 429) {
      busy(req);
      reply.header('retry-after', RETRY_AFTER_SECONDS);
    }
    reply.code(status).send({ code, message });
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
    return metricsText(deps.metrics.registry);
  });

  // Routes with a body reserve it in the in-flight budget: its Content-Length before it is read,
  // or (chunked) each chunk as it arrives.
  const bounds = { onRequest: budget.hook(busy), preParsing: budget.streamHook() };
  app.post('/validate', bounds, (req, reply) =>
    admit('validate', deps.validate, deps, req.body, fastifyAnswer(reply)),
  );
  app.post('/mutate', bounds, (req, reply) =>
    admit('mutate', deps.mutate, deps, req.body, fastifyAnswer(reply)),
  );
  // Requests still arriving while the app closes go through fastify, which answers them with
  // Connection: close.
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  const parseJson = app.getDefaultJsonParser('error', 'error');
  // A bug in the lane's own code (its handling answers every error it expects): logged, and the
  // other reviews of the batch are answered.
  const batch = new PhaseBatch((err) =>
    deps.logger.error({ err: errorMessage(err), frames: errorFrames(err) }, 'admission lane failed'),
  );
  lane = (req, res) => !closing && admissionLane(req, res, deps, budget, parseJson, batch);
  return app;
}

/** How `admit` answers: a status and the JSON text of the body. */
type Answer = (status: number, json: string) => void;

function fastifyAnswer(reply: FastifyReply): Answer {
  return (status, json) => {
    reply.code(status).header('content-type', JSON_CONTENT_TYPE).send(json);
  };
}

/**
 * The admission lane: a request as the API server sends it — POST /validate or /mutate (any query:
 * it adds `?timeout=10s`), `Content-Type: application/json`, a Content-Length within the body limit
 * and within the in-flight budget — is read, parsed and answered here, without fastify's
 * per-request machinery (request and reply objects, hooks, content-type lookup: 14–18 µs of CPU per
 * request on the benchmark's machine, about a fifth of a bare fastify server's whole cost). It
 * answers with the same bytes fastify would: the same JSON parser, the same error words
 * (`frameworkErrorReply`), the same headers. Anything else — another route or method, a chunked
 * body, an empty, oversized or differently typed one, a request the budget cannot hold now, any
 * request once the app is closing — returns false and goes to fastify, which answers it as before
 * (the 429, 413, 415 and 400s included). test/server/admission-lane.test.ts compares the two.
 * A review read whole is parsed and handled in the check phase after the poll phase that read it,
 * together with the others read in that phase (`PhaseBatch`): the validators then run back to
 * back instead of between TLS reads: a CREATE cost the server half the CPU (103 → 52 µs a request
 * at 32 connections, bench/RESULTS.md "evening").
 */
function admissionLane(
  req: IncomingMessage,
  res: ServerResponse,
  deps: AppDeps,
  budget: InflightBudget,
  parseJson: ReturnType<FastifyInstance['getDefaultJsonParser']>,
  batch: PhaseBatch,
): boolean {
  if (req.method !== 'POST') return false;
  const url = req.url ?? '';
  const query = url.indexOf('?');
  const path = query < 0 ? url : url.slice(0, query);
  const operation = path === '/validate' ? 'validate' : path === '/mutate' ? 'mutate' : undefined;
  if (operation === undefined) return false;
  const type = req.headers['content-type']?.toLowerCase();
  if (type !== 'application/json' && type !== 'application/json; charset=utf-8') return false;
  // Node's HTTP parser has already refused a malformed Content-Length and one beside
  // Transfer-Encoding; without one (chunked), fastify counts the chunks against the budget.
  const length = req.headers['content-length'];
  if (length === undefined || req.headers['transfer-encoding'] !== undefined) return false;
  const bytes = Number(length);
  if (!(bytes > 0 && bytes <= budget.bodyLimit) || !budget.tryReserve(bytes)) return false;
  res.once('close', () => budget.release(bytes));
  const body = new BodyText();
  req.on('data', (chunk: Buffer) => body.add(chunk));
  // A client gone mid-body: nothing to answer; the response's close gives the bytes back.
  req.on('error', () => {});
  // Parsed and handled with the other reviews read in the same poll phase (phase-batch.ts).
  const handle = (): void => {
    const answer: Answer = (status, json) => {
      res.writeHead(status, { 'content-type': JSON_CONTENT_TYPE, 'content-length': Buffer.byteLength(json) });
      res.end(json);
    };
    // What fastify's error handler would answer for an error thrown in a route (and never an
    // uncaught exception or unhandled rejection here: nothing else would catch it).
    const failed = (err: unknown) => {
      const { status, code, message } = frameworkErrorReply(err, budget.bodyLimit);
      if (!res.headersSent) answer(status, JSON.stringify({ code, message }));
    };
    // The parser calls back inside its own try block: the review is handled after it returns, so
    // an error in the handling is not taken for a parse error.
    let parsed: { err: Error | null; value?: unknown } = { err: null };
    parseJson(req as unknown as FastifyRequest, body.text(), (err, value) => {
      parsed = { err, value };
    });
    if (parsed.err) {
      failed(parsed.err);
      return;
    }
    try {
      const handler = operation === 'mutate' ? deps.mutate : deps.validate;
      admit(operation, handler, deps, parsed.value, answer)?.catch(failed);
    } catch (err: unknown) {
      failed(err);
    }
  };
  req.on('end', () => batch.add(handle));
  return true;
}

/**
 * A request body as text, as fastify's `setEncoding('utf8')` and string concatenation read it: a
 * body almost always arrives as one chunk, and that chunk is decoded once at the end, without the
 * StringDecoder `setEncoding` makes for every request. From a second chunk on, the chunks go
 * through a StringDecoder as with `setEncoding`, so a character split between chunks is decoded
 * whole and the text is the same. (One chunk decoded by `toString` differs from the decoder's only
 * in a malformed sequence at the very end of the body, which is not JSON either way.)
 */
export class BodyText {
  #first: Buffer | undefined;
  #decoder: StringDecoder | undefined;
  #text = '';

  add(chunk: Buffer): void {
    if (this.#decoder) this.#text += this.#decoder.write(chunk);
    else if (this.#first === undefined) this.#first = chunk;
    else {
      this.#decoder = new StringDecoder('utf8');
      this.#text = this.#decoder.write(this.#first) + this.#decoder.write(chunk);
      this.#first = undefined;
    }
  }

  text(): string {
    if (this.#decoder) return this.#text + this.#decoder.end();
    // No argument: UTF-8, and Buffer#toString's shortest path (an encoding is looked up by name).
    return this.#first === undefined ? '' : this.#first.toString();
  }
}

/**
 * The `POST /refresh` listener (src/server/refresh.ts): a port of its own, so that a
 * NetworkPolicy can open it to rotation jobs without opening the admission routes, and so that
 * `--client-ca` (mutual TLS for the API server) does not apply to it. Event Grid deliveries
 * (src/server/event-grid.ts) are served on it too, each with `--event-grid-endpoint`.
 */
export function buildRefreshApp(
  deps: {
    logger: Logger;
    metrics: Metrics;
    refresh?: RefreshEndpoint | undefined;
    eventGrid?: EventGridEndpoint | undefined;
  },
  opts: { https?: HttpsServerOptions } = {},
): FastifyInstance {
  const { refresh } = deps;
  const app = Fastify({
    ...(opts.https ? { https: opts.https } : {}),
    loggerInstance: deps.logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: REFRESH_BODY_LIMIT,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    forceCloseConnections: 'idle',
  }) as unknown as FastifyInstance;
  app.server.headersTimeout = HEADERS_TIMEOUT_MS;
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('*', { parseAs: 'string' }, anyTypeJson(app));
  app.setErrorHandler((err, req, reply) => {
    const limit = req.routeOptions.bodyLimit ?? REFRESH_BODY_LIMIT;
    const { status, code, message } = frameworkErrorReply(err, limit);
    if (req.url.startsWith('/events/'))
      deps.metrics.changeFeedDeliveries.inc({ feed: 'azure-event-grid', code: String(status) });
    else deps.metrics.refreshRequests.inc({ code: String(status) });
    reply.code(status).send({ code, message });
  });
  app.setNotFoundHandler((req, reply) => {
    reply
      .code(404)
      .send({ code: 'ESW_NOT_FOUND', message: `no route for ${req.method} ${req.url.split('?')[0]}` });
  });
  const answer = (reply: FastifyReply, a: RefreshAnswer) => {
    for (const [k, v] of Object.entries(a.headers ?? {})) reply.header(k, v);
    return reply.code(a.status).send(a.body);
  };
  if (refresh)
    app.post(
      '/refresh',
      {
        // No token, or an address starting too many authentications: answered before the body is
        // read and before any call to the API server.
        onRequest: async (req, reply) => {
          const early = refresh.precheck(req.headers.authorization, req.ip);
          if (early) return answer(reply, early);
          return undefined;
        },
      },
      async (req, reply) => answer(reply, await refresh.handle(req.headers.authorization, req.body)),
    );
  if (deps.eventGrid) registerEventGridRoutes(app, deps.eventGrid, answer);
  return app;
}

/**
 * Answers synchronously when the handler does (validation, a mutation served from the cache),
 * so the common admission costs no promise here; a handler's promise is awaited.
 */
function admit(
  operation: 'validate' | 'mutate',
  handler: AdmissionHandler,
  deps: AppDeps,
  body: unknown,
  answer: Answer,
): Promise<void> | undefined {
  const parsed = parseAdmissionReview(body);
  if (!parsed.ok) {
    deps.metrics.admissionRequests.inc({ operation, kind: 'unknown', result: 'bad_request' });
    answer(400, JSON.stringify({ code: 'ESW_BAD_REQUEST', message: parsed.error }));
    return undefined;
  }
  const { apiVersion, request } = parsed;
  const kind = metricKind(request);
  const started = performance.now();
  // A bug, not a verdict: refuse (never let an unchecked Secret through) and keep serving.
  const failed = (err: unknown): AdmissionResult => {
    deps.logger.error(
      { err: errorMessage(err), frames: errorFrames(err), uid: request.uid, operation, kind },
      'admission handler failed',
    );
    return deny(500, 'internal error in the webhook (ESW_INTERNAL); see its logs');
  };
  const respond = (result: AdmissionResult): void => {
    const outcome = result.allowed ? (result.patch ? 'patched' : 'allowed') : 'denied';
    // One label object for both: the tallies read the values, they keep no reference to it.
    const labels = { operation, kind, result: outcome };
    deps.metrics.admissionRequests.inc(labels);
    if (!result.allowed) {
      deps.metrics.admissionRefusals.inc({ operation, kind, code: String(result.status?.code ?? 0) });
    }
    deps.metrics.admissionDuration.observe(labels, (performance.now() - started) / 1000);
    // Built only when written: most servers log at info, and this runs for every review.
    if (deps.logger.isLevelEnabled('debug')) {
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
    }
    // The text as fastify would serialise it, written here: a memo's answer is only spliced.
    answer(200, reviewResponseJson(apiVersion, request.uid, result));
  };
  // Metadata sizes, counts and nesting first, in time bounded by the limits: no handler ever
  // walks an object beyond them.
  const outOfBounds = objectBoundsProblem(request.object);
  if (outOfBounds) {
    respond(deny(422, `${objectLabel(request)} refused (ESW_VALIDATION): ${outOfBounds}`));
    return undefined;
  }
  let result: AdmissionResult | Promise<AdmissionResult>;
  try {
    result = handler(request);
  } catch (err: unknown) {
    result = failed(err);
  }
  if (result instanceof Promise) return result.then(respond, (err: unknown) => respond(failed(err)));
  respond(result);
  return undefined;
}

function objectLabel(request: AdmissionRequest): string {
  const name = request.name ?? '';
  return `${request.kind.kind} "${request.namespace ? `${request.namespace}/${name}` : name}"`;
}

/** Bounded label values: the kinds this webhook knows, everything else is "other". */
function metricKind(request: AdmissionRequest): string {
  const k = request.kind.kind;
  return METRIC_KINDS.has(k) ? k : 'other';
}

/** Made once: a list literal in metricKind was a new array on every review. */
const METRIC_KINDS = new Set(['Secret', 'ExternalSecret', 'SecretStore', 'ClusterSecretStore']);

function badRequest(message: string): Error & { statusCode: number } {
  return Object.assign(new EswError('ESW_BAD_REQUEST', message), { statusCode: 400 });
}

/**
 * A body sent with any other content type is still read as JSON (the API server always sends
 * `application/json`; a client that does not should still get an answer), with the same parser
 * as `application/json`: fastify's secure one, which refuses `__proto__` and `constructor.prototype`
 * keys instead of handing them on as own properties. Its errors become our words.
 */
function anyTypeJson(app: FastifyInstance) {
  const parse = app.getDefaultJsonParser('error', 'error');
  return (req: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) =>
    parse(req, body as string, (err: Error | null, value?: unknown) =>
      err ? done(badRequest('body is not valid JSON'), undefined) : done(null, value),
    );
}
