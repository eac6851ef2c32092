/**
 * `POST /refresh` (docs/push-refresh.md): a rotation job asks for a store's dependents — or the
 * dependents of some of its keys — to be refreshed now.
 *
 * In order, each step answering before the next runs:
 * 1. a bearer token must be present (401), and a client address may not start more than a
 *    bounded number of authentications (429): unauthenticated floods never reach the API server;
 * 2. the token is authenticated with a TokenReview (401; results cached 10 s by the token's
 *    SHA-256, never the token itself);
 * 3. the caller's rate (429, per authenticated user);
 * 4. the body: `{kind, namespace, name, keys?}` (400);
 * 5. a SubjectAccessReview for verb `create` on the subresource `refresh` of the store
 *    (`secretstores/refresh` in its namespace, `clustersecretstores/refresh`), for the caller's
 *    user, groups and extra (403). The store is not looked up before this: an unknown store and a
 *    forbidden one get the same 403, byte for byte;
 * 6. the store must exist (404: the caller may refresh it, so may know it does not exist);
 * 7. the request is written on the store as the `esw.io/refresh-request` annotation, and 202.
 *    Every replica sees it through its store informer; the owner of each dependent refreshes it
 *    (src/refresher/refresher.ts, upsertStore). No answer says whether a key exists or is read by
 *    anything: keys that nothing reads refresh nothing.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { StoreKind } from '../api/types.ts';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import {
  formatRefreshRequest,
  MAX_KEY_LENGTH,
  MAX_REQUEST_KEYS,
  type StoreId,
} from '../refresher/triggers.ts';
import { Buckets } from './rate-limit.ts';

/** The route's body limit: 100 keys of up to 512 characters, JSON-escaped, fit. */
export const REFRESH_BODY_LIMIT = 64 * 1024;
const TOKEN_CACHE_MS = 10_000;
const TOKEN_CACHE_MAX = 1_000;

export interface ReviewedUser {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** What the endpoint needs from Kubernetes (src/kube/refresh-kube.ts; tests may use the double). */
export interface RefreshKube {
  /** TokenReview: the user, or undefined when the token is not authenticated. */
  reviewToken(token: string, audiences: string[] | undefined): Promise<ReviewedUser | undefined>;
  /** SubjectAccessReview: may `user` do `verb` on `resource/subresource` `name` in `namespace`? */
  reviewAccess(
    user: ReviewedUser,
    attrs: {
      group: string;
      resource: string;
      subresource: string;
      verb: string;
      namespace: string | undefined;
      name: string;
    },
  ): Promise<boolean>;
  /** The store from the informers' cache. */
  storeExists(store: StoreId): boolean;
  /** Writes the request annotation on the store (merge patch of that annotation only). */
  recordRequest(store: StoreId, annotation: string): Promise<void>;
}

export interface RefreshOptions {
  kube: RefreshKube;
  logger: Logger;
  metrics: Metrics;
  /** TokenReview audiences; undefined: the API server's. */
  audiences?: string[];
  /** One request per caller per this many ms on average. Default 5 s. */
  callerIntervalMs?: number;
  /** Requests a caller may make at once. Default 5. */
  callerBurst?: number;
  /** Authentications one client address may start per second on average (burst 20). Default 2. */
  addressPerSecond?: number;
  now?: () => number;
}

export interface RefreshAnswer {
  status: number;
  body: { code: string; message: string; [k: string]: unknown };
  headers?: Record<string, string>;
}

// Fixed answers: nothing in them depends on the store, the keys or why the caller was refused.
const UNAUTHORIZED: RefreshAnswer = {
  status: 401,
  body: { code: 'ESW_UNAUTHORIZED', message: 'a valid Kubernetes bearer token is required' },
  headers: { 'www-authenticate': 'Bearer' },
};
const FORBIDDEN: RefreshAnswer = {
  status: 403,
  body: {
    code: 'ESW_FORBIDDEN',
    message: 'not allowed: needs verb "create" on the "refresh" subresource of the store',
  },
};

export class RefreshEndpoint {
  readonly #opts: RefreshOptions;
  readonly #now: () => number;
  readonly #tokens = new Map<string, { at: number; user: ReviewedUser | undefined }>();
  readonly #callers: Buckets;
  readonly #addresses: Buckets;

  constructor(opts: RefreshOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#callers = new Buckets(opts.callerBurst ?? 5, opts.callerIntervalMs ?? 5_000);
    this.#addresses = new Buckets(20, 1_000 / (opts.addressPerSecond ?? 2));
  }

  /** Step 1, before the body is read: a token, and an address not flooding. */
  precheck(authorization: string | undefined, address: string): RefreshAnswer | undefined {
    if (bearer(authorization) === undefined) return this.#count(UNAUTHORIZED);
    const wait = this.#addresses.take(address, this.#now());
    if (wait > 0) return this.#count(tooMany(wait));
    return undefined;
  }

  async handle(authorization: string | undefined, body: unknown): Promise<RefreshAnswer> {
    return this.#count(await this.#handle(authorization, body));
  }

  async #handle(authorization: string | undefined, body: unknown): Promise<RefreshAnswer> {
    const token = bearer(authorization);
    if (token === undefined) return UNAUTHORIZED;
    let user: ReviewedUser | undefined;
    try {
      user = await this.#review(token);
    } catch (err: unknown) {
      this.#opts.logger.warn({ err: errorMessage(err) }, 'refresh: TokenReview failed');
      return unavailable();
    }
    if (!user) return UNAUTHORIZED;
    const wait = this.#callers.take(user.username, this.#now());
    if (wait > 0) return tooMany(wait);
    const parsed = parseRequest(body);
    if ('error' in parsed) return { status: 400, body: { code: 'ESW_BAD_REQUEST', message: parsed.error } };
    const store = parsed.store;
    const keys = parsed.keys && [...new Set(parsed.keys)];
    let allowed: boolean;
    try {
      allowed = await this.#opts.kube.reviewAccess(user, {
        group: 'external-secrets.io',
        resource: store.kind === 'ClusterSecretStore' ? 'clustersecretstores' : 'secretstores',
        subresource: 'refresh',
        verb: 'create',
        namespace: store.namespace,
        name: store.name,
      });
    } catch (err: unknown) {
      this.#opts.logger.warn({ err: errorMessage(err) }, 'refresh: SubjectAccessReview failed');
      return unavailable();
    }
    if (!allowed) {
      this.#opts.logger.info({ user: user.username }, 'refresh refused: not authorised');
      return FORBIDDEN;
    }
    const label = storeText(store);
    if (!this.#opts.kube.storeExists(store)) {
      return { status: 404, body: { code: 'ESW_STORE_NOT_FOUND', message: `${label} not found` } };
    }
    const id = randomUUID();
    try {
      await this.#opts.kube.recordRequest(store, formatRefreshRequest({ id, at: this.#now(), keys }));
    } catch (err: unknown) {
      this.#opts.logger.warn(
        { store: label, err: errorMessage(err) },
        'refresh: recording the request failed',
      );
      return unavailable();
    }
    this.#opts.logger.info({ user: user.username, store: label, keys, id }, 'refresh requested');
    return {
      status: 202,
      body: {
        code: 'ACCEPTED',
        message: `refresh of ${label} requested`,
        id,
        ...(keys ? { keys: keys.length } : {}),
      },
    };
  }

  async #review(token: string): Promise<ReviewedUser | undefined> {
    const id = createHash('sha256').update(token).digest('base64url');
    const now = this.#now();
    const hit = this.#tokens.get(id);
    if (hit && now - hit.at < TOKEN_CACHE_MS) return hit.user;
    const user = await this.#opts.kube.reviewToken(token, this.#opts.audiences);
    this.#tokens.delete(id);
    this.#tokens.set(id, { at: now, user });
    if (this.#tokens.size > TOKEN_CACHE_MAX) this.#tokens.delete(this.#tokens.keys().next().value as string);
    return user;
  }

  #count(answer: RefreshAnswer): RefreshAnswer {
    this.#opts.metrics.refreshRequests.inc({ code: String(answer.status) });
    return answer;
  }
}

function bearer(authorization: string | undefined): string | undefined {
  const m = /^Bearer +(\S{1,16384})\s*$/i.exec(authorization ?? '');
  return m?.[1];
}

function tooMany(waitMs: number): RefreshAnswer {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return {
    status: 429,
    body: { code: 'ESW_TOO_MANY_REQUESTS', message: `too many refresh requests; retry in ${seconds} s` },
    headers: { 'retry-after': String(seconds) },
  };
}

function unavailable(): RefreshAnswer {
  return {
    status: 503,
    body: { code: 'ESW_UNAVAILABLE', message: 'the Kubernetes API could not be reached; retry later' },
    headers: { 'retry-after': '5' },
  };
}

function storeText(s: StoreId): string {
  return s.namespace === undefined ? `${s.kind} "${s.name}"` : `${s.kind} "${s.namespace}/${s.name}"`;
}

const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** The request body, checked field by field; errors name fields, never echo values. */
export function parseRequest(
  body: unknown,
): { store: StoreId; keys: string[] | undefined } | { error: string } {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    return { error: 'body must be a JSON object {kind, namespace, name, keys}' };
  const { kind, namespace, name, keys, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) return { error: `unknown field "${unknown[0]?.slice(0, 64)}"` };
  if (kind !== 'SecretStore' && kind !== 'ClusterSecretStore')
    return { error: 'kind: must be SecretStore or ClusterSecretStore' };
  if (typeof name !== 'string' || !NAME.test(name)) return { error: 'name: must be a store name' };
  let ns: string | undefined;
  if (kind === 'SecretStore') {
    if (typeof namespace !== 'string' || !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace))
      return { error: 'namespace: required for a SecretStore, a namespace name' };
    ns = namespace;
  } else if (namespace !== undefined) return { error: 'namespace: a ClusterSecretStore has none' };
  if (keys === undefined) return { store: { kind: kind as StoreKind, namespace: ns, name }, keys: undefined };
  if (!Array.isArray(keys) || keys.length === 0 || keys.length > MAX_REQUEST_KEYS)
    return { error: `keys: a list of 1 to ${MAX_REQUEST_KEYS} remote keys (omit it for every key)` };
  for (const [i, k] of keys.entries()) {
    if (typeof k !== 'string' || k === '' || k.length > MAX_KEY_LENGTH)
      return { error: `keys[${i}]: a non-empty string of at most ${MAX_KEY_LENGTH} characters` };
  }
  return { store: { kind: kind as StoreKind, namespace: ns, name }, keys: keys as string[] };
}
