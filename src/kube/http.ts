/**
 * The one HTTP path to the Kubernetes API: JSON requests and watch streams over a single
 * keep-alive agent, with TLS and credentials taken from the KubeConfig.
 *
 * Why not @kubernetes/client-node's generated clients: 2.x builds a new undici Agent for every
 * request, so every call opened a new TLS connection (≈ 500 sockets and most of the CPU of a
 * 2,000-object first sync went to TLS handshakes). Here every request reuses one pool of at most
 * `maxSockets` connections (requests beyond it wait in the agent's queue, which also bounds the
 * requests in flight), and watches use a second pool so a long-lived stream never blocks a write.
 * client-node still loads the configuration and produces the credentials (token files, exec
 * plugins, OIDC); their headers are cached for a few seconds and refreshed at once on a 401.
 *
 * Errors are KubeApiError (status, Status reason, our own words: see statusError), never a
 * request or response body nor the Status message: both can hold secret data.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { EswError } from '../errors.ts';
import { describeError, kubeStatusReason, kubeStatusText } from '../observability/sanitize.ts';
import type { KubeSource } from './kubeconfig.ts';

export class KubeApiError extends EswError {
  /** HTTP status, 0 when the request never got an answer. */
  readonly statusCode: number;
  /** The Status `reason` (NotFound, Conflict, AlreadyExists, Expired, ...) when the server sent one. */
  readonly reason: string | undefined;
  constructor(statusCode: number, reason: string | undefined, message: string, cause?: unknown) {
    super('ESW_KUBE', message, { cause });
    this.statusCode = statusCode;
    this.reason = reason;
  }
}

/**
 * A failed answer in our words: `<what>: API server refused the request: 422 Invalid (field
 * metadata.labels)`. The Status `message` is never copied: the API server echoes the offending
 * values in it (a label value a template rendered from a secret, a name, a fragment of the body).
 */
export function statusError(code: number, body: unknown, what: string): KubeApiError {
  const verdict = code >= 400 && code < 500 ? 'API server refused the request' : 'API server failed';
  return new KubeApiError(code, kubeStatusReason(body), `${what}: ${verdict}: ${kubeStatusText(code, body)}`);
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  /** JSON-serialised unless a string. */
  body?: unknown;
  /** Default `application/json` when there is a body. */
  contentType?: string;
  /** Whole request, default 30 s. */
  timeoutMs?: number;
  /** Names the call in error messages; default `<METHOD> <path>`. */
  what?: string;
  /** The Accept header; default `application/json` (PARTIAL_LIST asks for metadata only). */
  accept?: string;
}

/**
 * Metadata-only reads (client-go's metadata client): the API server sends objects without their
 * data or spec. The trailing `application/json` lets a server that cannot do it send whole
 * objects; callers drop what they do not keep either way.
 */
export const PARTIAL_LIST =
  'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';
export const PARTIAL_WATCH = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json';

export interface WatchHandle {
  /** Resolves when the stream ends (server timeout, close); rejects on an HTTP or network error. */
  done: Promise<void>;
  abort(): void;
}

export interface KubeHttpOptions {
  /** Connections for requests (watches have their own pool). Default 16. */
  maxSockets?: number;
  /** How long credential headers are reused before asking the KubeConfig again. Default 10 s. */
  authTtlMs?: number;
  now?: () => number;
}

/** Default number of pooled connections: enough to keep a bounded work loop busy, not a storm. */
export const DEFAULT_MAX_SOCKETS = 16;

/**
 * Watch events handled in one turn of the event loop before the stream yields (about a
 * millisecond of informer and refresher work at 10,000 ExternalSecrets).
 */
export const WATCH_SLICE = 64;

export class KubeHttp {
  readonly kc: KubeSource;
  readonly #server: URL;
  readonly #secure: boolean;
  readonly #opts: KubeHttpOptions;
  readonly #now: () => number;
  #agents: Promise<{ requests: http.Agent; watches: http.Agent }> | undefined;
  #auth: { at: number; headers: Promise<Record<string, string>> } | undefined;
  #inFlight = 0;
  #closed = false;

  constructor(kc: KubeSource, opts: KubeHttpOptions = {}) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new KubeApiError(0, undefined, 'kubeconfig: no current cluster');
    this.kc = kc;
    this.#server = new URL(cluster.server);
    this.#secure = this.#server.protocol === 'https:';
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  /** Requests sent and not yet answered (watches excluded). */
  get inFlight(): number {
    return this.#inFlight;
  }

  async request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const what = opts.what ?? `${method} ${path}`;
    for (let attempt = 0; ; attempt++) {
      const res = await this.#send(method, path, opts, what);
      // Expired credentials: ask the KubeConfig again (token file rotated, exec plugin) once.
      if (res.status === 401 && attempt === 0) {
        this.#auth = undefined;
        continue;
      }
      if (res.status < 200 || res.status > 299) throw statusError(res.status, res.text, what);
      if (res.text === '') return undefined as T;
      try {
        return JSON.parse(res.text) as T;
      } catch {
        throw new KubeApiError(res.status, undefined, `${what}: response is not JSON`);
      }
    }
  }

  get<T = unknown>(path: string, query?: Query, what?: string): Promise<T> {
    return this.request<T>('GET', path, { ...(query ? { query } : {}), ...(what ? { what } : {}) });
  }

  /**
   * A watch stream: `onEvent(type, object)` for every line. The server ends it at
   * `timeoutSeconds`; the client gives up `graceMs` after that (a half-open connection).
   */
  watch(
    path: string,
    query: Query,
    onEvent: (type: string, object: unknown) => void,
    opts: { graceMs?: number; what?: string; onOpen?: () => void; accept?: string } = {},
  ): WatchHandle {
    const what = opts.what ?? `watch ${path}`;
    let req: http.ClientRequest | undefined;
    let aborted = false;
    const done = (async () => {
      const { watches } = await this.#agentsReady();
      const headers = await this.#headers();
      if (aborted) return;
      const timeoutS = Number(query.timeoutSeconds ?? 0);
      await new Promise<void>((resolve, reject) => {
        const r = this.#module().request(this.#url(path, { ...query, watch: true }), {
          method: 'GET',
          agent: watches,
          headers: { ...headers, accept: opts.accept ?? 'application/json' },
        });
        req = r;
        const limit = timeoutS > 0 ? timeoutS * 1000 + (opts.graceMs ?? 60_000) : 0;
        const timer =
          limit > 0 ? setTimeout(() => r.destroy(new Error('watch timed out')), limit) : undefined;
        timer?.unref();
        let finished = false;
        const finish = (err?: unknown) => {
          if (finished) return;
          finished = true;
          clearTimeout(timer);
          if (err && !aborted) reject(err instanceof KubeApiError ? err : toNetworkError(err, what));
          else resolve();
        };
        r.on('error', finish);
        r.on('response', (res: IncomingMessage) => {
          const status = res.statusCode ?? 0;
          if (status < 200 || status > 299) {
            readAll(res).then((text) => {
              if (status === 401) this.#auth = undefined;
              finish(statusError(status, text, what));
            }, finish);
            return;
          }
          opts.onOpen?.();
          res.setEncoding('utf8');
          let buffered = '';
          let ended = false;
          let yielding = false;
          // A burst (10,000 ExternalSecrets annotated at once, the echoes of a refresh cycle) can
          // arrive as megabytes in one turn of the event loop, in many reads: at most WATCH_SLICE
          // events are handled per turn, then the stream pauses and the rest follows after
          // setImmediate, so admission requests that arrived meanwhile are answered in between.
          let inTurn = 0;
          let turnCounted = false;
          const countTurn = () => {
            inTurn++;
            if (turnCounted) return;
            turnCounted = true;
            setImmediate(() => {
              turnCounted = false;
              inTurn = 0;
            });
          };
          const drain = () => {
            let nl = buffered.indexOf('\n');
            while (nl >= 0) {
              if (inTurn >= WATCH_SLICE) {
                yielding = true;
                res.pause();
                // Queued after the turn's reset: it runs with a fresh slice.
                setImmediate(() => {
                  yielding = false;
                  if (finished || aborted) return;
                  drain();
                  if (!yielding) {
                    if (ended) finish();
                    else res.resume();
                  }
                });
                return;
              }
              const line = buffered.slice(0, nl).trim();
              buffered = buffered.slice(nl + 1);
              nl = buffered.indexOf('\n');
              if (line === '') continue;
              let ev: { type?: string; object?: unknown };
              try {
                ev = JSON.parse(line) as { type?: string; object?: unknown };
              } catch {
                r.destroy(new KubeApiError(status, undefined, `${what}: a watch event is not JSON`));
                return;
              }
              countTurn();
              onEvent(String(ev.type ?? ''), ev.object);
              if (finished || aborted) return;
            }
          };
          res.on('data', (chunk: string) => {
            buffered += chunk;
            if (!yielding) drain();
          });
          // Events still buffered are delivered before the end is reported.
          res.on('end', () => {
            ended = true;
            if (!yielding) finish();
          });
          res.on('error', finish);
          res.on('aborted', () => finish());
        });
        r.end();
      });
    })();
    return {
      done,
      abort: () => {
        aborted = true;
        req?.destroy();
      },
    };
  }

  /** Closes every pooled connection; requests after this fail. */
  close(): void {
    this.#closed = true;
    void this.#agents?.then((a) => {
      a.requests.destroy();
      a.watches.destroy();
    });
  }

  async #send(
    method: string,
    path: string,
    opts: RequestOptions,
    what: string,
    retried = false,
  ): Promise<{ status: number; text: string }> {
    if (this.#closed) throw new KubeApiError(0, undefined, `${what}: client closed`);
    const { requests } = await this.#agentsReady();
    const headers: Record<string, string> = {
      ...(await this.#headers()),
      accept: opts.accept ?? 'application/json',
    };
    let payload: string | undefined;
    if (opts.body !== undefined) {
      payload = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['content-type'] = opts.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    this.#inFlight++;
    try {
      return await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = this.#module().request(this.#url(path, opts.query), { method, agent: requests, headers });
        // The whole request, queueing in the agent included: a stalled API server fails the call.
        const timer = setTimeout(() => req.destroy(new Error('request timed out')), opts.timeoutMs ?? 30_000);
        req.on('error', (e: NodeJS.ErrnoException) => {
          clearTimeout(timer);
          // The server closed an idle kept-alive connection as we reused it: nothing reached
          // it, so the request is sent again once on a fresh connection (as Node's docs advise).
          if (req.reusedSocket && e.code === 'ECONNRESET' && !retried)
            resolve(this.#send(method, path, opts, what, true));
          else reject(toNetworkError(e, what));
        });
        req.on('response', (res) => {
          readAll(res).then(
            (text) => {
              clearTimeout(timer);
              resolve({ status: res.statusCode ?? 0, text });
            },
            (e: unknown) => {
              clearTimeout(timer);
              reject(toNetworkError(e, what));
            },
          );
        });
        req.end(payload);
      });
    } finally {
      this.#inFlight--;
    }
  }

  #module(): typeof https | typeof http {
    return this.#secure ? https : http;
  }

  #url(path: string, query: Query | undefined): URL {
    const url = new URL(this.#server.pathname.replace(/\/$/, '') + path, this.#server);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  /** Credential headers from the KubeConfig (bearer token, impersonation, basic auth), cached briefly. */
  #headers(): Promise<Record<string, string>> {
    const ttl = this.#opts.authTtlMs ?? 10_000;
    const now = this.#now();
    if (this.#auth && now - this.#auth.at < ttl) return this.#auth.headers;
    const headers = (async () => {
      const o: https.RequestOptions = { headers: {} };
      await this.kc.applyToHTTPSOptions(o);
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(o.headers ?? {}))
        if (v !== undefined) out[k.toLowerCase()] = String(v);
      if (o.auth) out.authorization = `Basic ${Buffer.from(o.auth).toString('base64')}`;
      return out;
    })();
    this.#auth = { at: now, headers };
    headers.catch(() => {
      if (this.#auth?.headers === headers) this.#auth = undefined;
    });
    return headers;
  }

  /** Both pools, with the cluster's TLS settings (read once: CA and client certificate). */
  #agentsReady(): Promise<{ requests: http.Agent; watches: http.Agent }> {
    this.#agents ??= (async () => {
      const o: https.RequestOptions = { headers: {} };
      await this.kc.applyToHTTPSOptions(o);
      const cluster = this.kc.getCurrentCluster();
      // A proxy in the kubeconfig: client-node's own agent knows how to tunnel through it.
      if (cluster?.proxyUrl && o.agent instanceof http.Agent) return { requests: o.agent, watches: o.agent };
      const tls = {
        ...(o.ca ? { ca: o.ca } : {}),
        ...(o.cert ? { cert: o.cert } : {}),
        ...(o.key ? { key: o.key } : {}),
        ...(o.pfx ? { pfx: o.pfx } : {}),
        ...(o.passphrase ? { passphrase: o.passphrase } : {}),
        ...(o.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
        ...(o.servername ? { servername: o.servername } : {}),
      };
      const base = { keepAlive: true, keepAliveMsecs: 30_000, noDelay: true, scheduling: 'lifo' as const };
      const make = (maxSockets: number) =>
        this.#secure
          ? new https.Agent({ ...base, ...tls, maxSockets })
          : new http.Agent({ ...base, maxSockets });
      return {
        requests: make(this.#opts.maxSockets ?? DEFAULT_MAX_SOCKETS),
        watches: make(Number.POSITIVE_INFINITY),
      };
    })();
    return this.#agents;
  }
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
    res.on('aborted', () => reject(new Error('response aborted')));
  });
}

function toNetworkError(err: unknown, what: string): KubeApiError {
  if (err instanceof KubeApiError) return err;
  return new KubeApiError(0, undefined, `${what}: ${describeError(err)}`, err);
}

/** `/api/v1/namespaces/<ns>/<plural>[/<name>[/<sub>]]` with each segment escaped. */
export function namespacedPath(
  prefix: string,
  namespace: string,
  plural: string,
  name?: string,
  sub?: string,
): string {
  const e = encodeURIComponent;
  return `${prefix}/namespaces/${e(namespace)}/${plural}${name === undefined ? '' : `/${e(name)}`}${sub ? `/${sub}` : ''}`;
}
