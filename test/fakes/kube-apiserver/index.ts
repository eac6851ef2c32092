/**
 * A Kubernetes API-server double over HTTPS on 127.0.0.1: the REST subset the project uses
 * (Secrets, ConfigMaps, Events, Namespaces, Leases, the external-secrets.io kinds with /status,
 * webhook configurations), faithful to the API conventions: a single increasing
 * resourceVersion, Status objects for errors, 409 AlreadyExists / Conflict, list + watch with
 * label and field selectors replaying retained history (410 Gone when too old), generation
 * bumped on spec changes, owner-reference garbage collection, discovery enough for kubectl, and
 * the admission chain (see ./admission.ts).
 *
 * Test controls: setWebhooks, writes, requests (the request log), get/put/remove, failNext, hold,
 * dropWatches, compact / expireWatchHistory, restart; an injectable `now` for timestamps.
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import jsonpatch from 'fast-json-patch';
import { parse as parseYaml } from 'yaml';
import { createCertificates } from '../../../src/server/certs.ts';
import { AdmissionChain, AdmissionError, type Operation, type ServiceResolver } from './admission.ts';
import { type AuthOptions, review } from './auth.ts';
import { validateObjectMeta } from './meta-validation.ts';
import {
  apiVersionOf,
  discoveryGroups,
  discoveryResourceList,
  findResource,
  type ResourceDef,
  resourceByKind,
  resourceByName,
} from './resources.ts';
import {
  matchesFields,
  matchesRequirements,
  parseFieldSelector,
  parseLabelSelector,
  type Requirement,
} from './selectors.ts';
import { clone, type KObject, Store, type StoredEvent } from './store.ts';

export type { KObject, StoredEvent } from './store.ts';

export interface KubeApiServerOptions extends AuthOptions {
  /**
   * Bearer token → username for admission userInfo and TokenReview (./auth.ts, with `groups`,
   * `tokenAudiences` and `authorize` for SubjectAccessReview); unknown tokens get `defaultUser`.
   */
  users?: Record<string, string>;
  defaultUser?: string;
  serviceResolver?: ServiceResolver;
  /** Interval of BOOKMARK events on watches that allow them; default 5000 ms. */
  bookmarkIntervalMs?: number;
  /** Events retained for watch replay; default 10,000. */
  maxHistory?: number;
  /** Clock for creationTimestamp; default the real one. */
  now?: () => Date;
  /**
   * Overrides every webhook's `timeoutSeconds` (ms). Tests that are not about webhook timeouts
   * set a generous one, so a loaded machine makes a call slower, never a failed call.
   */
  webhookTimeoutMs?: number;
}

/**
 * A fault: the next `count` (default 1) requests that match fail with `code` and a Status body.
 * A request matches when its verb is `verb` (or `verb` is '*') and, when given, its resource is
 * `resource` ('secrets', or 'externalsecrets/status' for the subresource only) and its path
 * matches `path` (a substring or a RegExp on the URL path without the query).
 */
export interface Fault {
  verb: string;
  resource?: string;
  path?: string | RegExp;
  code: number;
  count?: number;
  message?: string;
}

/**
 * An RBAC refusal: requests by `user` (default: any) with `verb` on `resource` (e.g.
 * 'serviceaccounts/token', 'serviceaccounts') in `namespace` (default: any) and, when given,
 * on the object `name`, get 403 Forbidden worded as the API server's authorizer words it.
 */
export interface Forbidden {
  user?: string;
  verb: string;
  resource: string;
  namespace?: string;
  name?: string;
}

/** What a TokenRequest was for (never the token). */
export interface TokenRequestRecord {
  namespace: string;
  name: string;
  audiences: string[];
  expirationSeconds: number;
  user: string;
}

/** The claims of a token the double issued (what a TokenReview would confirm). */
export interface TokenClaims {
  iss: string;
  sub: string;
  aud: string[];
  exp: number;
  iat: number;
  nbf: number;
  jti: string;
  'kubernetes.io': { namespace: string; serviceaccount: { name: string; uid: string } };
}

/** The issuer and default audience of the double's tokens, as on a kubeadm cluster. */
export const TOKEN_ISSUER = 'https://kubernetes.default.svc.cluster.local';

/** One line of the request log: never a body, so never a secret value. */
export interface RequestRecord {
  method: string;
  /** Path and query string as sent. */
  path: string;
  /** get, list, watch, create, update, patch, delete; '' for discovery and unknown paths. */
  verb: string;
  userAgent: string;
  /** The Accept header (metadata-only reads ask for PartialObjectMetadata). */
  accept: string;
  /** HTTP status of the answer; 0 until it is sent (open watches). */
  status: number;
}

class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: object | undefined;
  /** Sent as Warning headers with the error, as admission warnings are on a refused request. */
  warnings: string[] = [];
  constructor(code: number, reason: string, message: string, details?: object) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
  }
}

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Expired',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

export function statusObject(code: number, reason: string, message: string, details?: object): object {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
}

interface Route {
  def: ResourceDef;
  version: string;
  namespace: string | undefined;
  name: string | undefined;
  sub: string | undefined;
}

interface Watcher {
  res: ServerResponse;
  end: () => void;
}

export class KubeApiServer {
  readonly url: string;
  readonly caPem: string;
  readonly port: number;
  readonly #server: Server;
  readonly #store: Store;
  readonly #admission: AdmissionChain;
  readonly #opts: KubeApiServerOptions;
  readonly #sockets = new Set<Socket>();
  readonly #watchers = new Set<Watcher>();
  readonly #writes = new Map<string, number>();
  readonly #requests: RequestRecord[] = [];
  /** Snapshots behind `continue` tokens of paged lists. */
  readonly #pages = new Map<string, { rv: string; items: KObject[] }>();
  #faults: Array<Fault & { count: number }> = [];
  #holds: Array<{ resource: string; gate: Promise<void> }> = [];
  #forbidden: Forbidden[] = [];
  readonly #tokenRequests: TokenRequestRecord[] = [];
  /** Signs the tokens TokenRequest issues (HS256): only this double can verify them. */
  readonly #signingKey = randomBytes(32);
  #inFlight = 0;
  #peakInFlight = 0;
  #peakSockets = 0;

  private constructor(server: Server, caPem: string, opts: KubeApiServerOptions) {
    this.#server = server;
    this.caPem = caPem;
    this.#opts = opts;
    this.port = (server.address() as AddressInfo).port;
    this.url = `https://127.0.0.1:${this.port}`;
    this.#store = new Store({
      ...(opts.maxHistory === undefined ? {} : { maxHistory: opts.maxHistory }),
      ...(opts.now ? { now: opts.now } : {}),
    });
    this.#admission = new AdmissionChain({
      ...(opts.serviceResolver ? { serviceResolver: opts.serviceResolver } : {}),
      ...(opts.webhookTimeoutMs ? { timeoutMs: opts.webhookTimeoutMs } : {}),
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.#handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.#sendError(res, err);
        else res.destroy();
      });
    });
    server.on('secureConnection', (s: Socket) => {
      this.#sockets.add(s);
      this.#peakSockets = Math.max(this.#peakSockets, this.#sockets.size);
      s.on('close', () => this.#sockets.delete(s));
    });
  }

  static async start(opts: KubeApiServerOptions = {}): Promise<KubeApiServer> {
    const certs = await createCertificates({ hosts: ['127.0.0.1', 'localhost'] });
    const server = createServer({ cert: certs.cert, key: certs.key });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new KubeApiServer(server, certs.caCert, opts);
  }

  /** A KubeConfig for @kubernetes/client-node pointing at the double. */
  kubeConfig(opts: { token?: string; namespace?: string } = {}): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'double', server: this.url, caData: Buffer.from(this.caPem).toString('base64') }],
      users: [{ name: 'user', ...(opts.token ? { token: opts.token } : {}) }],
      contexts: [{ name: 'double', cluster: 'double', user: 'user', namespace: opts.namespace ?? 'default' }],
      currentContext: 'double',
    });
    return kc;
  }

  // ---- test controls ----

  setWebhooks(configs: object[]): void {
    this.#admission.setWebhooks(configs);
  }

  /** Successful (non-dry-run) writes of `resource` (e.g. 'secrets', 'externalsecrets/status') by verb. */
  writes(resource: string, verb: 'create' | 'update' | 'patch' | 'delete'): number {
    return this.#writes.get(`${resource}:${verb}`) ?? 0;
  }

  get resourceVersion(): string {
    return this.#store.resourceVersion;
  }

  get(resource: string, namespace: string | undefined, name: string): KObject | undefined {
    const def = resourceByName(resource);
    if (!def) throw new Error(`unknown resource ${resource}`);
    return this.#store.get(def, namespace, name);
  }

  list(resource: string, namespace?: string): KObject[] {
    const def = resourceByName(resource);
    if (!def) throw new Error(`unknown resource ${resource}`);
    return this.#store.list(def, namespace);
  }

  /** Creates or replaces an object directly (no admission, no precondition); emits watch events. */
  put(input: object): KObject {
    const obj = input as KObject;
    const def = resourceByKind(obj.apiVersion ?? '', obj.kind ?? '');
    if (!def) throw new Error(`unknown kind ${obj.apiVersion} ${obj.kind}`);
    const o = clone(obj);
    o.metadata = o.metadata ?? {};
    if (def.kind === 'Secret') mergeStringData(o);
    if (def.kind === 'Namespace') addNamespaceNameLabel(o);
    if (def.namespaced) o.metadata.namespace = o.metadata.namespace ?? 'default';
    const existing = this.#store.get(def, o.metadata.namespace, o.metadata.name ?? '');
    if (!existing) return this.#store.create(def, o);
    const stored = this.#store.update(def, o);
    this.#finishIfFinalized(def, stored);
    return stored;
  }

  /**
   * Deletes an object directly (then garbage collection); one with finalizers is only marked
   * (deletionTimestamp) until they are removed. False when it did not exist.
   */
  remove(resource: string, namespace: string | undefined, name: string): boolean {
    const def = resourceByName(resource);
    if (!def) throw new Error(`unknown resource ${resource}`);
    const obj = this.#store.get(def, namespace, name);
    if (!obj) return false;
    this.#deleteObject(def, obj, false);
    this.#collectGarbage();
    return true;
  }

  /** The next `count` (default 1) requests with this verb on this resource fail with `code`. */
  failNext(fault: Fault): void {
    this.#faults.push({ count: 1, ...fault });
  }

  /**
   * Holds every request on `resource` but watches (a client cut off from the API server: sent,
   * not answered) until the returned function is called; those then proceed.
   */
  hold(resource: string): () => void {
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const entry = { resource, gate };
    this.#holds.push(entry);
    return () => {
      this.#holds = this.#holds.filter((h) => h !== entry);
      release();
    };
  }

  /** Adds an RBAC refusal (see Forbidden); returns the function that lifts it. */
  forbid(rule: Forbidden): () => void {
    this.#forbidden.push(rule);
    return () => {
      this.#forbidden = this.#forbidden.filter((r) => r !== rule);
    };
  }

  /** TokenRequests answered with a token, oldest first. */
  tokenRequests(filter: { namespace?: string; name?: string } = {}): TokenRequestRecord[] {
    return this.#tokenRequests.filter(
      (r) =>
        (filter.namespace === undefined || r.namespace === filter.namespace) &&
        (filter.name === undefined || r.name === filter.name),
    );
  }

  /**
   * The claims of a token this double issued, if its signature holds, it has not expired (by
   * the double's clock) and, when `audience` is given, its `aud` holds it; else undefined.
   * What a TokenReview (or an OIDC verifier with the issuer's keys) would check.
   */
  verifyToken(token: string, audience?: string): TokenClaims | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const [h, p, sig] = parts as [string, string, string];
    const want = createHmac('sha256', this.#signingKey).update(`${h}.${p}`).digest();
    const got = Buffer.from(sig, 'base64url');
    if (got.length !== want.length || !timingSafeEqual(got, want)) return undefined;
    let claims: TokenClaims;
    try {
      claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as TokenClaims;
    } catch {
      return undefined;
    }
    if (claims.exp * 1000 <= this.#clock()) return undefined;
    if (audience !== undefined && !claims.aud.includes(audience)) return undefined;
    return claims;
  }

  /** Ends every open watch stream (clients see a clean end of stream). */
  dropWatches(): void {
    for (const w of [...this.#watchers]) w.end();
  }

  /** Forgets the event history: watches from an older resourceVersion get 410 Gone. */
  compact(): void {
    this.#store.compact();
  }

  /** Same as compact(): the next watch from any resourceVersion seen so far gets 410 Gone. */
  expireWatchHistory(): void {
    this.#store.compact();
  }

  /** The request log (method, path with query, verb, user agent, status; no bodies), oldest first. */
  requests(filter: { method?: string; verb?: string; path?: string | RegExp } = {}): RequestRecord[] {
    return this.#requests.filter(
      (r) =>
        (filter.method === undefined || r.method === filter.method) &&
        (filter.verb === undefined || r.verb === filter.verb) &&
        (filter.path === undefined ||
          (typeof filter.path === 'string' ? r.path.includes(filter.path) : filter.path.test(r.path))),
    );
  }

  clearRequests(): void {
    this.#requests.length = 0;
  }

  /**
   * Load figures for benchmarks: requests being answered now (watches excluded) and the peak
   * since the last reset, open connections and their peak.
   */
  load(opts: { reset?: boolean } = {}): {
    inFlight: number;
    peakInFlight: number;
    sockets: number;
    peakSockets: number;
  } {
    const out = {
      inFlight: this.#inFlight,
      peakInFlight: this.#peakInFlight,
      sockets: this.#sockets.size,
      peakSockets: this.#peakSockets,
    };
    if (opts.reset) {
      this.#peakInFlight = this.#inFlight;
      this.#peakSockets = this.#sockets.size;
    }
    return out;
  }

  /** Every stored change (ADDED, MODIFIED, DELETED) as it happens; returns the unsubscribe. */
  subscribe(listener: (ev: StoredEvent) => void): () => void {
    return this.#store.subscribe(listener);
  }

  /** Destroys every connection (watches included) and keeps the state: an API server restart. */
  restart(): void {
    for (const w of [...this.#watchers]) this.#watchers.delete(w);
    for (const s of this.#sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.restart();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  // ---- HTTP ----

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const record: RequestRecord = {
      method: req.method ?? '',
      path: url.pathname + url.search,
      verb: '',
      userAgent: String(req.headers['user-agent'] ?? ''),
      accept: String(req.headers.accept ?? ''),
      status: 0,
    };
    this.#requests.push(record);
    if (this.#requests.length > 100_000) this.#requests.splice(0, 10_000);
    const watching = /[?&]watch=(true|1)(&|$)/.test(url.search);
    if (!watching) {
      this.#inFlight++;
      this.#peakInFlight = Math.max(this.#peakInFlight, this.#inFlight);
    }
    let counted = !watching;
    const done = () => {
      if (counted) this.#inFlight--;
      counted = false;
    };
    res.on('close', done);
    res.on('finish', () => {
      record.status = res.statusCode;
      done();
    });
    if (req.method === 'GET') {
      const doc = this.#discovery(path);
      if (doc) return send(res, 200, doc);
      if (path.startsWith('/openapi/')) {
        throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      }
    }
    if (req.method === 'POST' && path.endsWith('reviews')) {
      const answer = review(path, parseBody(await readBody(req), req.headers['content-type']), this.#opts);
      if (answer) {
        record.verb = 'create';
        return send(res, 201, answer);
      }
    }
    const route = parseRoute(path);
    if (!route) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const q = url.searchParams;
    const isWatch = q.get('watch') === 'true' || q.get('watch') === '1';
    const verb = verbOf(req.method ?? 'GET', route, isWatch);
    record.verb = verb;
    const held = verb === 'watch' ? undefined : this.#holds.find((h) => h.resource === route.def.resource);
    if (held) await held.gate;
    this.#injectFault(verb, route, path);
    const body = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(req.method ?? '') ? await readBody(req) : '';
    const username = this.#username(req);
    this.#authorize(username, verb, route);
    const dryRun = q.get('dryRun') === 'All';
    if (route.sub === 'token') {
      if (verb !== 'create')
        throw new ApiError(
          405,
          'MethodNotAllowed',
          'the server does not allow this method on the requested resource',
        );
      return send(
        res,
        201,
        this.#tokenRequest(route, parseBody(body, req.headers['content-type']), username),
      );
    }
    switch (verb) {
      case 'get':
        return send(res, 200, this.#getOne(route));
      case 'list':
        return send(res, 200, this.#list(route, q, partialOf(req, 'PartialObjectMetadataList')));
      case 'watch':
        return this.#watch(route, q, res, partialOf(req, 'PartialObjectMetadata'));
      case 'create': {
        const r = await this.#create(route, parseBody(body, req.headers['content-type']), username, dryRun);
        return send(res, 201, r.object, r.warnings);
      }
      case 'update': {
        const r = await this.#update(
          route,
          parseBody(body, req.headers['content-type']),
          username,
          dryRun,
          'update',
        );
        return send(res, 200, r.object, r.warnings);
      }
      case 'patch': {
        const type = String(req.headers['content-type'] ?? '');
        if (type.startsWith('application/apply-patch') && !q.get('fieldManager')) {
          throw new ApiError(
            422,
            'Invalid',
            'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
          );
        }
        const r = await this.#patch(route, body, type, username, dryRun);
        return send(res, r.created ? 201 : 200, r.object, r.warnings);
      }
      case 'delete': {
        const r = await this.#delete(route, body, q, username, dryRun);
        return send(res, 200, r.object, r.warnings);
      }
    }
    throw new ApiError(
      405,
      'MethodNotAllowed',
      `the server does not allow this method on the requested resource`,
    );
  }

  #discovery(path: string): object | undefined {
    if (path === '/version') {
      return {
        major: '1',
        minor: '33',
        gitVersion: 'v1.33.0',
        gitCommit: 'test-double',
        gitTreeState: 'clean',
        buildDate: '2026-01-01T00:00:00Z',
        goVersion: 'go1.24.0',
        compiler: 'gc',
        platform: 'linux/amd64',
      };
    }
    if (path === '/healthz' || path === '/readyz' || path === '/livez') return { status: 'ok' };
    if (path === '/api') {
      return {
        kind: 'APIVersions',
        versions: ['v1'],
        serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `127.0.0.1:${this.port}` }],
      };
    }
    if (path === '/api/v1') return discoveryResourceList('', 'v1');
    if (path === '/apis') return discoveryGroups();
    const m = /^\/apis\/([^/]+)\/([^/]+)$/.exec(path);
    if (m) {
      const doc = discoveryResourceList(m[1] ?? '', m[2] ?? '') as { resources: unknown[] };
      if (doc.resources.length > 0) return doc;
    }
    return undefined;
  }

  #injectFault(verb: string, route: Route, path: string): void {
    const resource = route.sub ? `${route.def.resource}/${route.sub}` : route.def.resource;
    const f = this.#faults.find(
      (x) =>
        (x.verb === verb || x.verb === '*') &&
        (x.resource === undefined || x.resource === resource || x.resource === route.def.resource) &&
        (x.path === undefined || (typeof x.path === 'string' ? path.includes(x.path) : x.path.test(path))),
    );
    if (!f) return;
    f.count--;
    if (f.count <= 0) this.#faults = this.#faults.filter((x) => x !== f);
    const reason = REASONS[f.code] ?? 'Unknown';
    throw new ApiError(f.code, reason, f.message ?? `injected fault: ${reason}`);
  }

  #clock(): number {
    return this.#opts.now ? this.#opts.now().getTime() : Date.now();
  }

  /** 403 as the RBAC authorizer words it, for a request a `forbid` rule matches. */
  #authorize(user: string, verb: string, route: Route): void {
    const resource = route.sub ? `${route.def.resource}/${route.sub}` : route.def.resource;
    const rule = this.#forbidden.find(
      (r) =>
        (r.user === undefined || r.user === user) &&
        r.verb === verb &&
        r.resource === resource &&
        (r.namespace === undefined || r.namespace === route.namespace) &&
        (r.name === undefined || r.name === route.name),
    );
    if (!rule) return;
    const object = route.name ? `${qualified(route.def)} "${route.name}"` : qualified(route.def);
    const scope = route.namespace ? ` in the namespace "${route.namespace}"` : ' at the cluster scope';
    throw new ApiError(
      403,
      'Forbidden',
      `${object} is forbidden: User "${user}" cannot ${verb} resource "${resource}" in API group "${route.def.group}"${scope}`,
      { ...(route.name ? { name: route.name } : {}), kind: route.def.resource },
    );
  }

  /**
   * TokenRequest (authentication.k8s.io/v1): a signed JWT for an existing ServiceAccount with
   * the audiences asked (default: the issuer), `expirationSeconds` at least 600 (default 3600).
   */
  #tokenRequest(route: Route, body: KObject, user: string): object {
    const ns = route.namespace ?? '';
    const name = route.name ?? '';
    const sa = this.#store.get(route.def, ns, name);
    if (!sa) throw this.#notFound(route, name);
    const spec = (body as { spec?: { audiences?: unknown; expirationSeconds?: unknown } }).spec ?? {};
    const seconds = spec.expirationSeconds === undefined ? 3600 : Number(spec.expirationSeconds);
    if (!Number.isInteger(seconds) || seconds < 600 || seconds > 2 ** 32) {
      throw new ApiError(
        422,
        'Invalid',
        `TokenRequest.authentication.k8s.io "${name}" is invalid: spec.expirationSeconds: Invalid value: ${String(spec.expirationSeconds)}: may not specify a duration less than 10 minutes`,
      );
    }
    const audiences =
      Array.isArray(spec.audiences) && spec.audiences.length > 0
        ? spec.audiences.map(String)
        : [TOKEN_ISSUER];
    const iat = Math.floor(this.#clock() / 1000);
    const claims: TokenClaims = {
      iss: TOKEN_ISSUER,
      sub: `system:serviceaccount:${ns}:${name}`,
      aud: audiences,
      exp: iat + seconds,
      iat,
      nbf: iat,
      jti: randomUUID(),
      'kubernetes.io': { namespace: ns, serviceaccount: { name, uid: String(sa.metadata?.uid ?? '') } },
    };
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const unsigned = `${enc({ alg: 'HS256', typ: 'JWT', kid: 'double' })}.${enc(claims)}`;
    const token = `${unsigned}.${createHmac('sha256', this.#signingKey).update(unsigned).digest('base64url')}`;
    this.#tokenRequests.push({ namespace: ns, name, audiences, expirationSeconds: seconds, user });
    return {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      metadata: {
        name,
        namespace: ns,
        creationTimestamp: new Date(iat * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      },
      spec: { audiences, expirationSeconds: seconds, boundObjectRef: null },
      status: {
        token,
        expirationTimestamp: new Date((iat + seconds) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      },
    };
  }

  #username(req: IncomingMessage): string {
    const auth = String(req.headers.authorization ?? '');
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    return (token && this.#opts.users?.[token]) || this.#opts.defaultUser || 'kubernetes-admin';
  }

  #notFound(route: Route, name: string): ApiError {
    return new ApiError(404, 'NotFound', `${qualified(route.def)} "${name}" not found`, {
      name,
      ...(route.def.group ? { group: route.def.group } : {}),
      kind: route.def.resource,
    });
  }

  #out(route: Route, o: KObject): KObject {
    return { ...o, apiVersion: apiVersionOf(route.def.group, route.version), kind: route.def.kind };
  }

  #getOne(route: Route): KObject {
    const name = route.name ?? '';
    const o = this.#store.get(route.def, route.namespace, name);
    if (!o) throw this.#notFound(route, name);
    return this.#out(route, o);
  }

  #filters(q: URLSearchParams): { labels: Requirement[]; fields: ReturnType<typeof parseFieldSelector> } {
    try {
      return {
        labels: parseLabelSelector(q.get('labelSelector')),
        fields: parseFieldSelector(q.get('fieldSelector')),
      };
    } catch (err) {
      throw new ApiError(400, 'BadRequest', (err as Error).message);
    }
  }

  /**
   * A list; with `limit`, one page and a `continue` token. The following pages come from the
   * snapshot taken at the first page (the API server serves them at the list's resourceVersion),
   * and the list's resourceVersion is the first page's, so a watch from it misses nothing. A
   * token older than the retained history (compact) is a 410 Expired, as from etcd.
   */
  #list(route: Route, q: URLSearchParams, partial = false): object {
    const token = q.get('continue');
    let page: { rv: string; items: KObject[] };
    if (token) {
      const snap = this.#pages.get(token);
      this.#pages.delete(token);
      if (!snap || Number(snap.rv) < this.#store.oldestResourceVersion) {
        throw new ApiError(
          410,
          'Expired',
          'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
        );
      }
      page = snap;
    } else {
      const f = this.#filters(q);
      const items = this.#store
        .list(route.def, route.namespace)
        .filter(
          (o) =>
            matchesRequirements(f.labels, o.metadata?.labels) && matchesFields(f.fields, o.metadata ?? {}),
        )
        .map((o) => (partial ? metadataOnly(o) : this.#out(route, o)));
      page = { rv: this.#store.resourceVersion, items };
    }
    const limit = Number(q.get('limit') ?? 0);
    let next: string | undefined;
    let items = page.items;
    if (limit > 0 && items.length > limit) {
      next = randomBytes(12).toString('base64url');
      this.#pages.set(next, { rv: page.rv, items: items.slice(limit) });
      if (this.#pages.size > 1000) this.#pages.delete(this.#pages.keys().next().value as string);
      items = items.slice(0, limit);
    }
    return {
      kind: partial ? 'PartialObjectMetadataList' : `${route.def.kind}List`,
      apiVersion: partial ? 'meta.k8s.io/v1' : apiVersionOf(route.def.group, route.version),
      metadata: {
        resourceVersion: page.rv,
        ...(next ? { continue: next, remainingItemCount: page.items.length - items.length } : {}),
      },
      items,
    };
  }

  #watch(route: Route, q: URLSearchParams, res: ServerResponse, partial = false): void {
    const out = (o: KObject) => (partial ? metadataOnly(o) : this.#out(route, o));
    const f = this.#filters(q);
    const matches = (o: KObject | undefined) =>
      o !== undefined &&
      (!route.def.namespaced || route.namespace === undefined || o.metadata?.namespace === route.namespace) &&
      matchesRequirements(f.labels, o.metadata?.labels) &&
      matchesFields(f.fields, o.metadata ?? {});
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const write = (type: string, object: object) => res.write(`${JSON.stringify({ type, object })}\n`);
    const rv = q.get('resourceVersion');
    let replay: StoredEvent[] = [];
    if (rv && rv !== '0') {
      const events = this.#store.since(Number(rv));
      if (!events) {
        write(
          'ERROR',
          statusObject(
            410,
            'Expired',
            `too old resource version: ${rv} (${this.#store.oldestResourceVersion})`,
          ),
        );
        res.end();
        return;
      }
      replay = events;
    } else {
      for (const o of this.#store.list(route.def, route.namespace)) if (matches(o)) write('ADDED', out(o));
    }
    const deliver = (ev: StoredEvent) => {
      if (ev.def !== route.def) return;
      const now = matches(ev.object);
      const before = ev.type === 'MODIFIED' && matches(ev.previous);
      let type: string = ev.type;
      if (ev.type === 'MODIFIED') {
        if (now && !before) type = 'ADDED';
        else if (!now && before) type = 'DELETED';
        else if (!now) return;
      } else if (!now) return;
      write(type, out(ev.object));
    };
    for (const ev of replay) deliver(ev);
    const unsubscribe = this.#store.subscribe(deliver);
    const timers: NodeJS.Timeout[] = [];
    const watcher: Watcher = {
      res,
      end: () => {
        cleanup();
        res.end();
      },
    };
    const cleanup = () => {
      unsubscribe();
      for (const t of timers) clearTimeout(t);
      this.#watchers.delete(watcher);
    };
    this.#watchers.add(watcher);
    res.on('close', cleanup);
    if (q.get('allowWatchBookmarks') === 'true') {
      const t = setInterval(
        () =>
          write('BOOKMARK', {
            kind: route.def.kind,
            apiVersion: apiVersionOf(route.def.group, route.version),
            metadata: { resourceVersion: this.#store.resourceVersion },
          }),
        this.#opts.bookmarkIntervalMs ?? 5000,
      );
      t.unref();
      timers.push(t);
    }
    const timeout = Number(q.get('timeoutSeconds') ?? 0);
    if (timeout > 0) {
      const t = setTimeout(() => watcher.end(), timeout * 1000);
      t.unref();
      timers.push(t);
    }
  }

  #prepare(route: Route, obj: KObject): KObject {
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      throw new ApiError(400, 'BadRequest', 'the body of the request is not an object');
    }
    const o = clone(obj);
    o.metadata = o.metadata ?? {};
    if (route.def.namespaced) {
      if (o.metadata.namespace && o.metadata.namespace !== route.namespace) {
        throw new ApiError(
          400,
          'BadRequest',
          'the namespace of the provided object does not match the namespace sent on the request',
        );
      }
      o.metadata.namespace = route.namespace;
    } else delete o.metadata.namespace;
    o.apiVersion = apiVersionOf(route.def.group, route.version);
    o.kind = route.def.kind;
    if (route.def.kind === 'Secret') mergeStringData(o);
    if (route.def.kind === 'Namespace') addNamespaceNameLabel(o);
    return o;
  }

  /** 422 Invalid as the API server words it: Status.message and causes quote the values. */
  #validateMeta(route: Route, obj: KObject): void {
    const causes = validateObjectMeta(obj);
    if (causes.length === 0) return;
    const name = obj.metadata?.name ?? '';
    throw new ApiError(
      422,
      'Invalid',
      `${route.def.kind} "${name}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`,
      { name, ...(route.def.group ? { group: route.def.group } : {}), kind: route.def.resource, causes },
    );
  }

  async #admit(
    route: Route,
    operation: Operation,
    name: string,
    object: KObject | undefined,
    oldObject: KObject | undefined,
    username: string,
    dryRun: boolean,
  ): Promise<{ object: KObject | undefined; warnings: string[] }> {
    if (!this.#admission.active) return { object, warnings: [] };
    const nsDef = resourceByName('namespaces') as ResourceDef;
    const ns = route.namespace ? this.#store.get(nsDef, undefined, route.namespace) : undefined;
    const namespaceLabels = route.namespace
      ? { ...(ns?.metadata?.labels ?? {}), 'kubernetes.io/metadata.name': route.namespace }
      : undefined;
    try {
      return await this.#admission.admit({
        operation,
        group: route.def.group,
        version: route.version,
        resource: route.def.resource,
        ...(route.sub ? { subResource: route.sub } : {}),
        kind: route.def.kind,
        namespaced: route.def.namespaced,
        ...(route.namespace ? { namespace: route.namespace } : {}),
        name,
        ...(object ? { object } : {}),
        ...(oldObject ? { oldObject } : {}),
        username,
        dryRun,
        ...(namespaceLabels ? { namespaceLabels } : {}),
      });
    } catch (err) {
      if (err instanceof AdmissionError) {
        const refused = new ApiError(err.code, err.reason, err.message, err.details);
        refused.warnings = err.warnings;
        throw refused;
      }
      throw err;
    }
  }

  #count(route: Route, verb: string): void {
    const key = `${route.sub ? `${route.def.resource}/${route.sub}` : route.def.resource}:${verb}`;
    this.#writes.set(key, (this.#writes.get(key) ?? 0) + 1);
  }

  async #create(
    route: Route,
    body: KObject,
    username: string,
    dryRun: boolean,
  ): Promise<{ object: KObject; warnings: string[] }> {
    if (route.name || route.sub)
      throw new ApiError(405, 'MethodNotAllowed', 'POST is only allowed on collections');
    const o = this.#prepare(route, body);
    const meta = o.metadata ?? {};
    if (!meta.name && meta.generateName) meta.name = meta.generateName + randomSuffix();
    if (!meta.name) {
      throw new ApiError(
        422,
        'Invalid',
        `${route.def.kind} "" is invalid: metadata.name: Required value: name or generateName is required`,
      );
    }
    delete meta.resourceVersion;
    delete meta.uid;
    const name = meta.name;
    const admitted = await this.#admit(route, 'CREATE', name, o, undefined, username, dryRun);
    const final = admitted.object ?? o;
    this.#validateMeta(route, final);
    if (this.#store.get(route.def, route.namespace, name)) {
      throw new ApiError(409, 'AlreadyExists', `${qualified(route.def)} "${name}" already exists`, {
        name,
        ...(route.def.group ? { group: route.def.group } : {}),
        kind: route.def.resource,
      });
    }
    if (dryRun) return { object: this.#out(route, final), warnings: admitted.warnings };
    const stored = this.#store.create(route.def, final);
    this.#count(route, 'create');
    return { object: this.#out(route, stored), warnings: admitted.warnings };
  }

  async #update(
    route: Route,
    body: KObject,
    username: string,
    dryRun: boolean,
    verb: 'update' | 'patch',
  ): Promise<{ object: KObject; warnings: string[] }> {
    const name = route.name ?? '';
    const old = this.#store.get(route.def, route.namespace, name);
    if (!old) throw this.#notFound(route, name);
    let o = this.#prepare(route, body);
    if (o.metadata?.name !== name) {
      throw new ApiError(
        400,
        'BadRequest',
        `the name of the object (${o.metadata?.name}) does not match the name on the URL (${name})`,
      );
    }
    const rv = o.metadata?.resourceVersion;
    if (rv && rv !== old.metadata?.resourceVersion) {
      throw new ApiError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${qualified(route.def)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        { name, ...(route.def.group ? { group: route.def.group } : {}), kind: route.def.resource },
      );
    }
    if (route.sub === 'status') {
      o = { ...old, apiVersion: o.apiVersion, kind: o.kind, status: o.status };
    } else if (route.def.status) {
      o = { ...o, status: old.status };
      if (old.status === undefined) delete o.status;
    }
    if (o.metadata) o.metadata.resourceVersion = old.metadata?.resourceVersion;
    const admitted = await this.#admit(route, 'UPDATE', name, o, this.#out(route, old), username, dryRun);
    const final = admitted.object ?? o;
    this.#validateMeta(route, final);
    if (dryRun) return { object: this.#out(route, final), warnings: admitted.warnings };
    const stored = this.#store.update(route.def, final);
    this.#count(route, verb);
    this.#finishIfFinalized(route.def, stored);
    return { object: this.#out(route, stored), warnings: admitted.warnings };
  }

  async #patch(
    route: Route,
    body: string,
    contentType: string,
    username: string,
    dryRun: boolean,
  ): Promise<{ object: KObject; warnings: string[]; created?: boolean }> {
    const name = route.name ?? '';
    const type = contentType.split(';')[0]?.trim() ?? '';
    const old = this.#store.get(route.def, route.namespace, name);
    let patched: KObject;
    try {
      if (type === 'application/json-patch+json') {
        if (!old) throw this.#notFound(route, name);
        const ops = JSON.parse(body);
        patched = jsonpatch.applyPatch(this.#out(route, old), ops, true, false).newDocument as KObject;
      } else if (
        type === 'application/merge-patch+json' ||
        type === 'application/strategic-merge-patch+json'
      ) {
        if (!old) throw this.#notFound(route, name);
        patched = mergePatch(this.#out(route, old), JSON.parse(body)) as KObject;
      } else if (type === 'application/apply-patch+yaml') {
        const doc = parseYaml(body) as KObject;
        if (!old) {
          const r = await this.#create(
            { ...route, name: undefined },
            { ...doc, metadata: { ...doc.metadata, name } },
            username,
            dryRun,
          );
          return { ...r, created: true };
        }
        patched = mergePatch(this.#out(route, old), doc) as KObject;
      } else {
        throw new ApiError(
          415,
          'UnsupportedMediaType',
          `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
        );
      }
    } catch (err) {
      if (err instanceof ApiError) throw err;
      throw new ApiError(
        422,
        'Invalid',
        `the server rejected our request due to an error in our request: ${(err as Error).message}`,
      );
    }
    return this.#update(route, patched, username, dryRun, 'patch');
  }

  async #delete(
    route: Route,
    body: string,
    q: URLSearchParams,
    username: string,
    dryRun: boolean,
  ): Promise<{ object: object; warnings: string[] }> {
    const name = route.name ?? '';
    if (!route.name)
      throw new ApiError(405, 'MethodNotAllowed', 'deletecollection is not supported by the double');
    const old = this.#store.get(route.def, route.namespace, name);
    if (!old) throw this.#notFound(route, name);
    let opts: { propagationPolicy?: string; preconditions?: { resourceVersion?: string; uid?: string } } = {};
    if (body.trim()) opts = JSON.parse(body);
    const pre = opts.preconditions ?? {};
    if (
      (pre.resourceVersion && pre.resourceVersion !== old.metadata?.resourceVersion) ||
      (pre.uid && pre.uid !== old.metadata?.uid)
    ) {
      throw new ApiError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${qualified(route.def)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    const admitted = await this.#admit(
      route,
      'DELETE',
      name,
      undefined,
      this.#out(route, old),
      username,
      dryRun,
    );
    const details = {
      name,
      ...(route.def.group ? { group: route.def.group } : {}),
      kind: route.def.resource,
      uid: old.metadata?.uid,
    };
    const success = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details };
    if (dryRun) return { object: success, warnings: admitted.warnings };
    const policy = opts.propagationPolicy ?? q.get('propagationPolicy') ?? 'Background';
    this.#count(route, 'delete');
    if (old.metadata?.deletionTimestamp)
      return { object: this.#out(route, old), warnings: admitted.warnings };
    if (policy === 'Orphan') this.#orphanDependents(old.metadata?.uid ?? '');
    const kept = this.#deleteObject(route.def, old, policy === 'Foreground');
    this.#collectGarbage();
    return { object: kept ? this.#out(route, kept) : success, warnings: admitted.warnings };
  }

  /**
   * Deletes `obj`, or, when it has finalizers (or `foreground`), only marks it: deletionTimestamp
   * set (from `now`), `foregroundDeletion` added for a foreground deletion, and the object stays
   * until its finalizers are removed. Returns the marked object, or undefined when it is gone.
   */
  #deleteObject(def: ResourceDef, obj: KObject, foreground: boolean): KObject | undefined {
    const meta = obj.metadata ?? {};
    const finalizers = [...((meta.finalizers as string[] | undefined) ?? [])];
    if (foreground && !finalizers.includes('foregroundDeletion')) finalizers.push('foregroundDeletion');
    if (finalizers.length > 0) {
      const now = (this.#opts.now?.() ?? new Date()).toISOString().replace(/\.\d+Z$/, 'Z');
      return this.#store.update(def, {
        ...obj,
        metadata: { ...meta, finalizers, deletionTimestamp: now, deletionGracePeriodSeconds: 0 },
      });
    }
    this.#store.delete(def, meta.namespace, meta.name ?? '');
    // A deleted Namespace takes its contents with it (at once here; a real one is Terminating first).
    if (def.kind === 'Namespace') {
      for (const e of this.#store.all()) {
        if (e.def.namespaced && e.object.metadata?.namespace === meta.name)
          this.#deleteObject(e.def, e.object, false);
      }
    }
    return undefined;
  }

  /** After a write: an object being deleted whose last finalizer was removed goes now. */
  #finishIfFinalized(def: ResourceDef, obj: KObject): void {
    const meta = obj.metadata;
    if (!meta?.deletionTimestamp || ((meta.finalizers as string[] | undefined) ?? []).length > 0) return;
    this.#store.delete(def, meta.namespace, meta.name ?? '');
    this.#collectGarbage();
  }

  /** As the garbage collector does for `propagationPolicy: Orphan`: drops the ownerReferences to `uid`. */
  #orphanDependents(uid: string): void {
    for (const { def, object } of this.#store.all()) {
      const refs = object.metadata?.ownerReferences ?? [];
      if (!refs.some((r) => r.uid === uid) || !object.metadata) continue;
      const kept = refs.filter((r) => r.uid !== uid);
      if (kept.length > 0) object.metadata.ownerReferences = kept;
      else delete object.metadata.ownerReferences;
      this.#store.update(def, object);
    }
  }

  /**
   * The garbage collector, run synchronously after a delete: an object whose owners are all gone
   * is deleted (and so on down the chain); an object with some owners left loses only the
   * references to the missing ones, as the real collector patches them away.
   */
  #collectGarbage(): void {
    const dying = (o: Readonly<KObject>) =>
      o.metadata?.deletionTimestamp !== undefined &&
      ((o.metadata?.finalizers as string[] | undefined) ?? []).includes('foregroundDeletion');
    for (let round = 0; round < 100; round++) {
      const all = this.#store.scan();
      // An owner in foreground deletion waits for its dependents: for them it is already gone.
      const uids = new Set(all.filter((e) => !dying(e.object)).map((e) => e.object.metadata?.uid));
      let changed = false;
      for (const { def, object } of all) {
        const refs = object.metadata?.ownerReferences ?? [];
        const alive = refs.filter((r) => uids.has(r.uid));
        if (!object.metadata || alive.length === refs.length) continue;
        if (alive.length === 0) {
          if (object.metadata.deletionTimestamp) continue; // already on its way out
          this.#deleteObject(def, object, false);
        }
        // update() copies what it stores.
        else this.#store.update(def, { ...object, metadata: { ...object.metadata, ownerReferences: alive } });
        changed = true;
      }
      if (changed) continue;
      // Dependents gone: the foreground deletions complete.
      for (const { def, object } of all) {
        if (!dying(object) || !object.metadata) continue;
        const finalizers = ((object.metadata.finalizers as string[]) ?? []).filter(
          (f) => f !== 'foregroundDeletion',
        );
        if (finalizers.length === 0)
          this.#store.delete(def, object.metadata.namespace, object.metadata.name ?? '');
        else this.#store.update(def, { ...object, metadata: { ...object.metadata, finalizers } });
        changed = true;
      }
      if (!changed) return;
    }
  }

  #sendError(res: ServerResponse, err: unknown): void {
    if (err instanceof ApiError) {
      send(res, err.code, statusObject(err.code, err.reason, err.message, err.details), err.warnings);
    } else {
      send(
        res,
        500,
        statusObject(500, 'InternalError', `Internal error occurred: ${(err as Error).message}`),
      );
    }
  }
}

function qualified(def: ResourceDef): string {
  return def.group ? `${def.resource}.${def.group}` : def.resource;
}

function verbOf(method: string, route: Route, isWatch: boolean): string {
  switch (method) {
    case 'GET':
      return route.name ? 'get' : isWatch ? 'watch' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return 'delete';
  }
  return 'unknown';
}

function parseRoute(path: string): Route | undefined {
  const seg = path
    .split('/')
    .filter((s) => s !== '')
    .map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (seg[0] === 'api' && seg.length >= 3) {
    group = '';
    version = seg[1] ?? '';
    rest = seg.slice(2);
  } else if (seg[0] === 'apis' && seg.length >= 4) {
    group = seg[1] ?? '';
    version = seg[2] ?? '';
    rest = seg.slice(3);
  } else return undefined;
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    const nsDef = findResource(group, version, rest[2] ?? '');
    if (nsDef?.namespaced) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
  }
  const def = findResource(group, version, rest[0] ?? '');
  if (!def || rest.length > 3) return undefined;
  if (def.namespaced && namespace === undefined && rest.length > 1) return undefined;
  const sub = rest[2];
  if (
    sub !== undefined &&
    !(sub === 'status' && def.status) &&
    !(sub === 'token' && def.kind === 'ServiceAccount')
  )
    return undefined;
  return { def, version, namespace, name: rest[1], sub };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseBody(body: string, contentType: string | undefined): KObject {
  try {
    if (String(contentType ?? '').includes('yaml')) return parseYaml(body) as KObject;
    return JSON.parse(body) as KObject;
  } catch (err) {
    throw new ApiError(
      400,
      'BadRequest',
      `the body of the request could not be decoded: ${(err as Error).message}`,
    );
  }
}

function send(res: ServerResponse, code: number, body: unknown, warnings: string[] = []): void {
  const text = JSON.stringify(body);
  const headers: Record<string, string | string[]> = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
  };
  if (warnings.length > 0) headers.warning = warnings.map((w) => `299 - ${JSON.stringify(w)}`);
  res.writeHead(code, headers);
  res.end(text);
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return clone(patch);
  const out: Record<string, unknown> =
    typeof target === 'object' && target !== null && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function mergeStringData(o: KObject): void {
  const sd = o.stringData as Record<string, string> | undefined;
  if (!sd) return;
  const data = { ...((o.data as Record<string, string> | undefined) ?? {}) };
  for (const [k, v] of Object.entries(sd)) data[k] = Buffer.from(String(v), 'utf8').toString('base64');
  o.data = data;
  delete o.stringData;
}

function addNamespaceNameLabel(o: KObject): void {
  if (!o.metadata?.name) return;
  o.metadata.labels = { ...(o.metadata.labels ?? {}), 'kubernetes.io/metadata.name': o.metadata.name };
}

function randomSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return [...randomBytes(5)].map((b) => alphabet[b % alphabet.length]).join('');
}

/**
 * The API server's metadata-only answers (`Accept: …;as=PartialObjectMetadata[List];g=meta.k8s.io;v=v1`,
 * what client-go's metadata informers ask for): the object's metadata alone.
 */
function partialOf(req: IncomingMessage, as: string): boolean {
  return String(req.headers.accept ?? '')
    .split(',')
    .some((t) => t.includes(`as=${as};`) && t.includes('g=meta.k8s.io'));
}

function metadataOnly(o: KObject): KObject {
  return {
    kind: 'PartialObjectMetadata',
    apiVersion: 'meta.k8s.io/v1',
    metadata: o.metadata ?? {},
  } as KObject;
}
