/**
 * ServiceAccount tokens through the TokenRequest API (`POST .../serviceaccounts/NAME/token`,
 * authentication.k8s.io/v1), and ServiceAccount annotations (AWS `eks.amazonaws.com/role-arn`,
 * Azure `azure.workload.identity/client-id`), for stores that authenticate as a named
 * ServiceAccount (Vault kubernetes auth, AWS per-store IRSA, Azure workload identity).
 *
 * - Tokens are short-lived (default 600 s, ESO's value and the API server's minimum), cached per
 *   (namespace, name, audiences, expiry) and renewed once 80 % of their lifetime has passed (as
 *   the kubelet renews projected tokens), so many syncs and many stores naming one
 *   ServiceAccount cost one TokenRequest per renewal. Concurrent callers share one request; a
 *   failure is not cached.
 * - The namespace rules (a SecretStore names only ServiceAccounts of its own namespace) are
 *   applied before this is called (src/resolve/credentials.ts).
 * - A token never appears in an error, a log line or a metric: errors are in our words
 *   (KubeApiError never carries a body), and a 403 says which RBAC grant is missing.
 */

import { EswError } from '../errors.ts';
import type { ServiceAccountReader, ServiceAccountTokenSource } from '../resolve/credentials.ts';
import { KubeApiError, type KubeHttp, namespacedPath } from './http.ts';

/** ESO requests 600 s tokens; it is also the shortest lifetime the API server accepts. */
export const DEFAULT_TOKEN_SECONDS = 600;
const MIN_TOKEN_SECONDS = 600;
/** Renew once this share of the lifetime has passed. */
const RENEW_FRACTION = 0.8;
/** Cached tokens kept at most (one per store identity in practice). */
const MAX_TOKENS = 10_000;
/** How long a ServiceAccount read is reused: a burst of client creations costs one GET. */
const SERVICE_ACCOUNT_TTL_MS = 10_000;

interface TokenEntry {
  /** Pending or settled request; a rejected one is removed at once. */
  token: Promise<string>;
  /** When to request a new one (ms, our clock); Infinity while the request is pending. */
  renewAt: number;
  /** When the token stops being valid (ms, our clock). */
  expiresAt: number;
}

interface TokenRequestStatus {
  status?: { token?: unknown; expirationTimestamp?: unknown };
}

interface ServiceAccountObject {
  metadata?: { annotations?: Record<string, string> };
}

export class ServiceAccountTokens {
  readonly #http: Pick<KubeHttp, 'request'>;
  readonly #now: () => number;
  readonly #tokens = new Map<string, TokenEntry>();
  readonly #accounts = new Map<string, { at: number; value: Promise<ServiceAccountObject | undefined> }>();
  #requests = 0;

  constructor(http: Pick<KubeHttp, 'request'>, opts: { now?: () => number } = {}) {
    this.#http = http;
    this.#now = opts.now ?? Date.now;
  }

  /** TokenRequests sent so far (tests and metrics). */
  get requests(): number {
    return this.#requests;
  }

  /** The `ServiceAccountTokenSource` for the resolver. */
  readonly token: ServiceAccountTokenSource = (req) => {
    const audiences = [...new Set(req.audiences ?? [])].sort();
    const seconds = Math.max(MIN_TOKEN_SECONDS, Math.floor(req.expirationSeconds ?? DEFAULT_TOKEN_SECONDS));
    const key = JSON.stringify([req.namespace, req.name, audiences, seconds]);
    const now = this.#now();
    const hit = this.#tokens.get(key);
    if (hit && now < hit.renewAt && now < hit.expiresAt) return hit.token;
    this.#prune(now);
    const entry: TokenEntry = {
      token: Promise.resolve(''),
      renewAt: Number.POSITIVE_INFINITY,
      expiresAt: Number.POSITIVE_INFINITY,
    };
    entry.token = this.#request(req.namespace, req.name, audiences, seconds).then(
      ({ token, expiresAt }) => {
        entry.expiresAt = expiresAt;
        entry.renewAt = now + (expiresAt - now) * RENEW_FRACTION;
        return token;
      },
      (err: unknown) => {
        if (this.#tokens.get(key) === entry) this.#tokens.delete(key);
        throw err;
      },
    );
    this.#tokens.set(key, entry);
    return entry.token;
  };

  /** The `ServiceAccountReader` for the resolver: annotations of a ServiceAccount, undefined if absent. */
  readonly serviceAccount: ServiceAccountReader = async (namespace, name) => {
    const key = `${namespace}/${name}`;
    const now = this.#now();
    let hit = this.#accounts.get(key);
    if (!hit || now - hit.at >= SERVICE_ACCOUNT_TTL_MS) {
      const what = `get ServiceAccount "${namespace}/${name}"`;
      const value = this.#http
        .request<ServiceAccountObject>('GET', namespacedPath('/api/v1', namespace, 'serviceaccounts', name), {
          what,
        })
        .catch((err: unknown) => {
          if (err instanceof KubeApiError && err.statusCode === 404) return undefined;
          throw rbacHint(err, what, 'get', 'serviceaccounts', namespace);
        });
      hit = { at: now, value };
      this.#accounts.set(key, hit);
      value.catch(() => this.#accounts.delete(key));
      if (this.#accounts.size > MAX_TOKENS)
        this.#accounts.delete(this.#accounts.keys().next().value as string);
    }
    const sa = await hit.value;
    return sa ? { annotations: { ...(sa.metadata?.annotations ?? {}) } } : undefined;
  };

  async #request(
    namespace: string,
    name: string,
    audiences: string[],
    seconds: number,
  ): Promise<{ token: string; expiresAt: number }> {
    const what = `TokenRequest for ServiceAccount "${namespace}/${name}"`;
    this.#requests++;
    const sentAt = this.#now();
    let res: TokenRequestStatus;
    try {
      res = await this.#http.request<TokenRequestStatus>(
        'POST',
        namespacedPath('/api/v1', namespace, 'serviceaccounts', name, 'token'),
        {
          what,
          body: {
            apiVersion: 'authentication.k8s.io/v1',
            kind: 'TokenRequest',
            // No audiences: the API server's own (what Vault's kubernetes auth expects by default).
            spec: { ...(audiences.length > 0 ? { audiences } : {}), expirationSeconds: seconds },
          },
        },
      );
    } catch (err: unknown) {
      if (err instanceof KubeApiError && err.statusCode === 404) {
        throw new EswError('ESW_CREDENTIALS', `ServiceAccount "${namespace}/${name}" not found`);
      }
      throw rbacHint(err, what, 'create', 'serviceaccounts/token', namespace);
    }
    const token = res?.status?.token;
    if (typeof token !== 'string' || token === '') {
      throw new KubeApiError(0, undefined, `${what}: the API server returned no token`);
    }
    // Our own clock and the lifetime asked: the API server only lengthens short lifetimes
    // (its maximum is far above 600 s), and its clock need not agree with ours.
    const expiresAt = sentAt + seconds * 1000;
    return { token, expiresAt };
  }

  #prune(now: number): void {
    for (const [k, e] of this.#tokens) if (e.expiresAt <= now) this.#tokens.delete(k);
    while (this.#tokens.size >= MAX_TOKENS) this.#tokens.delete(this.#tokens.keys().next().value as string);
  }
}

/** A 403 in words that say which grant is missing; other errors as they are. */
function rbacHint(err: unknown, what: string, verb: string, resource: string, namespace: string): unknown {
  if (err instanceof KubeApiError && err.statusCode === 403) {
    return new KubeApiError(
      403,
      err.reason,
      `${what}: forbidden by the API server (403): this webhook's ServiceAccount needs "${verb}" on "${resource}" in namespace "${namespace}" (RBAC)`,
      err,
    );
  }
  return err;
}
