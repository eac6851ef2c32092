/**
 * Bounds on what a request may cost before any handler runs: the largest body, the body bytes
 * held by all requests in flight together (answered 429 with Retry-After before the body is
 * read), and the words a framework error is answered with.
 */
import { Transform } from 'node:stream';
import type { FastifyReply, FastifyRequest, preParsingHookHandler } from 'fastify';
import { EswError, isEswError } from '../errors.ts';
import { isOwnWords } from '../observability/sanitize.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

/*
 * The largest AdmissionReview the API server sends for an object it can store. Both webhooks see
 * Secrets (the largest objects they get: ESO kinds have no 1 MiB data map, and a custom resource is
 * stored as JSON, so object + oldObject of one stay under 2 × 1.5 MiB):
 *
 *   data: MaxSecretSize 1 MiB of keys and values, values base64 in JSON
 *         (base64 needs no JSON escaping)                  ceil(1 MiB / 3) × 4 =  1,398,104
 *   annotations: TotalAnnotationSizeLimitB 256 KiB; Go's encoding/json (the API server's)
 *         writes <, >, & and control characters as \u00XX: up to 6 bytes each
 *                                                          256 KiB × 6         =  1,572,864
 *   the rest of the object: name, labels, ownerReferences, finalizers, managedFields,
 *         timestamps, map framing                          128 KiB             =    131,072
 *   one object                                                                 =  3,102,040
 *   UPDATE: object and oldObject                           × 2                 =  6,204,080
 *   the review around them: kind, resource, uid, operation, options, and userInfo
 *         (username, uid, groups, extra)                   64 KiB              =     65,536
 *   total                                                                      =  6,269,616
 *
 * rounded up to 6 MiB (6,291,456). A larger review (only a Secret with more than 128 KiB of labels
 * and managed fields on top of full data and annotations made of escaped characters) is refused
 * with 413, and the API server applies the webhook's failurePolicy. The API server's own limit on a
 * request it receives is 3 MiB; 8 MiB here had no basis.
 */
export const MAX_SECRET_DATA_BYTES = 1 * MiB;
export const MAX_ANNOTATION_BYTES = 256 * KiB;
const JSON_ESCAPE_FACTOR = 6;
const OTHER_OBJECT_BYTES = 128 * KiB;
const REVIEW_ENVELOPE_BYTES = 64 * KiB;
export const MAX_OBJECT_JSON_BYTES =
  Math.ceil(MAX_SECRET_DATA_BYTES / 3) * 4 + MAX_ANNOTATION_BYTES * JSON_ESCAPE_FACTOR + OTHER_OBJECT_BYTES;
export const MAX_REVIEW_BYTES = 2 * MAX_OBJECT_JSON_BYTES + REVIEW_ENVELOPE_BYTES;
export const BODY_LIMIT = Math.ceil(MAX_REVIEW_BYTES / MiB) * MiB;

/**
 * Default budget of body bytes in flight: 1/16 of the container's memory limit (a request costs
 * several times its body while it is parsed and answered: bench/RESULTS.md, "Request memory"),
 * never less than one largest body.
 */
export const INFLIGHT_SHARE_OF_MEMORY = 16;
/** When no memory limit is known: the chart's default limit (512 MiB) / 16. */
export const DEFAULT_INFLIGHT_BYTES = 32 * MiB;

export function defaultInflightBytes(memoryLimitBytes: number | undefined, bodyLimit = BODY_LIMIT): number {
  const share =
    memoryLimitBytes && memoryLimitBytes > 0
      ? Math.floor(memoryLimitBytes / INFLIGHT_SHARE_OF_MEMORY)
      : DEFAULT_INFLIGHT_BYTES;
  return Math.max(share, bodyLimit);
}

/*
 * The container's memory limit and the sizes flags are written in are read by the launcher's
 * module (bin/node-flags.cjs), which caps the heap from the same limit: one reader, so the heap cap
 * and the budget cannot disagree. `../../bin` from src/server and from dist/server alike.
 * memoryLimit: `ESW_MEMORY_LIMIT` (the chart sets it from `limits.memory` through the Downward
 * API), else the cgroup's (v2 `memory.max`, else v1 `memory.limit_in_bytes`), else undefined.
 * parseBytes: `33554432`, `32Mi`, `64M` (Kubernetes quantity suffixes); undefined when malformed or 0.
 */
export { memoryLimit, parseBytes } from '../../bin/node-flags.cjs';

/**
 * Body bytes held by requests in flight. A request reserves its declared Content-Length before its
 * body is read (a chunked body: each chunk as it arrives), and gives it back when its response is
 * done or its connection closes. Logical accounting, independent of when memory is collected.
 */
export class InflightBudget {
  readonly limit: number;
  readonly bodyLimit: number;
  readonly #onChange: ((used: number) => void) | undefined;
  #used = 0;

  /** `onChange` sees the bytes in use after every reserve and release (a gauge). */
  constructor(limit: number, bodyLimit: number, onChange?: (used: number) => void) {
    this.limit = limit;
    this.bodyLimit = bodyLimit;
    this.#onChange = onChange;
  }

  get used(): number {
    return this.#used;
  }

  /**
   * The bytes a request reserves before its body is read: its Content-Length (0 when that is over
   * the body limit: refused for size anyway). A body without one (chunked) reserves nothing here
   * and is counted as it arrives (`streamHook`).
   */
  charge(contentLength: string | undefined): number {
    if (contentLength === undefined) return 0;
    const n = Number(contentLength);
    if (!Number.isSafeInteger(n) || n < 0) return this.bodyLimit;
    return n > this.bodyLimit ? 0 : n;
  }

  tryReserve(bytes: number): boolean {
    if (bytes > 0 && this.#used + bytes > this.limit) return false;
    if (bytes > 0) {
      this.#used += bytes;
      this.#onChange?.(this.#used);
    }
    return true;
  }

  release(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes);
    this.#onChange?.(this.#used);
  }

  /**
   * fastify onRequest hook for routes with a body: reserve, or answer 429 at once without
   * reading the body. `onRefused` counts refusals.
   */
  hook(onRefused?: (req: FastifyRequest) => void) {
    return (req: FastifyRequest, reply: FastifyReply, done: () => void): void => {
      const bytes = this.charge(req.headers['content-length']);
      if (!this.tryReserve(bytes)) {
        onRefused?.(req);
        reply
          .code(429)
          .header('retry-after', RETRY_AFTER_SECONDS)
          .send({ code: 'ESW_BUSY', message: busyError(this.limit).message });
        return;
      }
      if (bytes > 0) reply.raw.once('close', () => this.release(bytes));
      done();
    };
  }

  /**
   * fastify preParsing hook: a body without Content-Length (chunked; the API server always sends
   * one) is reserved chunk by chunk as it arrives; the chunk that does not fit ends the request
   * with 429. Bodies with a Content-Length pass untouched.
   */
  streamHook() {
    const hook: preParsingHookHandler = (req, reply, payload, done): void => {
      if (req.headers['content-length'] !== undefined) {
        done(null, payload);
        return;
      }
      let reserved = 0;
      reply.raw.once('close', () => this.release(reserved));
      const counter = new Transform({
        transform: (chunk: Buffer, _encoding, next) => {
          if (!this.tryReserve(chunk.length)) {
            next(busyError(this.limit));
            return;
          }
          reserved += chunk.length;
          next(null, chunk);
        },
      });
      payload.on('error', (err: Error) => counter.destroy(err));
      done(null, payload.pipe(counter));
    };
    return hook;
  }
}

/** The 429 for a request that does not fit; fastify answers it through the error handler. */
export function busyError(limit: number): Error & { statusCode: number } {
  return Object.assign(
    new EswError('ESW_BUSY', `too many request bytes in flight (limit ${limit}): retry shortly`),
    { statusCode: 429 },
  );
}

/** Seconds a refused client waits; requests last milliseconds, so the budget frees up fast. */
export const RETRY_AFTER_SECONDS = '1';

const FRAMEWORK_ERRORS: Record<string, { status: number; message: (bodyLimit: number) => string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: {
    status: 413,
    message: (limit) =>
      `request body is larger than ${limit} bytes, the largest AdmissionReview the API server sends`,
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, message: () => 'unsupported content type' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, message: () => 'body is empty' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    message: () => 'Content-Length does not match the body',
  },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, message: () => 'body is not valid JSON' },
  FST_ERR_CTP_INVALID_TYPE: { status: 400, message: () => 'unsupported content type' },
};

/**
 * The answer to an error raised before a handler ran (body too large, not JSON, bad headers).
 * Framework and parser messages can quote the body (V8's JSON errors do), so they are never sent
 * or logged: our own message by code, else a generic one naming the code.
 */
export function frameworkErrorReply(
  err: unknown,
  bodyLimit: number,
): { status: number; code: string; message: string } {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { statusCode?: unknown; code?: unknown };
  const statusCode =
    typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500 ? e.statusCode : 400;
  if (isEswError(err)) return { status: statusCode, code: err.code, message: err.message };
  return { code: 'ESW_BAD_REQUEST', ...framework(err, e, statusCode, bodyLimit) };
}

function framework(
  err: unknown,
  e: { code?: unknown },
  statusCode: number,
  bodyLimit: number,
): { status: number; message: string } {
  if (isOwnWords(err)) return { status: statusCode, message: err.message };
  const known = typeof e.code === 'string' ? FRAMEWORK_ERRORS[e.code] : undefined;
  if (known) return { status: known.status, message: known.message(bodyLimit) };
  // fastify's JSON parser (secure-json-parse) throws SyntaxError, also for __proto__ keys.
  if (err instanceof SyntaxError) return { status: 400, message: 'body is not valid JSON' };
  const code = typeof e.code === 'string' && /^FST_ERR_[A-Z0-9_]{1,60}$/.test(e.code) ? e.code : undefined;
  return { status: statusCode, message: code ? `bad request (${code})` : 'bad request' };
}
