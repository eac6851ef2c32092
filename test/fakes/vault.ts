/**
 * A wire-level fake of HashiCorp Vault's HTTP API, enough for node-vault and the `vault`
 * provider: KV v2 (`/v1/<mount>/data/<path>` with versions and `?version=`,
 * `/v1/<mount>/metadata/<path>` read and `?list=true`), KV v1 (`/v1/<mount>/<path>`, list),
 * AppRole and Kubernetes logins, `auth/token/renew-self` and `auth/token/lookup-self`.
 *
 * Tokens carry a TTL measured on an injectable clock and the namespace they were issued in;
 * every KV request checks `X-Vault-Token` (403 `{"errors":["permission denied"]}` otherwise).
 * The fake counts logins, renewals, lookups, reads and lists, records `X-Vault-Namespace`, and
 * injects faults per path prefix: a status with a body, a delay, a connection reset.
 * HTTPS when given a certificate (the caBundle test).
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

export interface VaultFakeOptions {
  /** Milliseconds since epoch; tokens expire on this clock. */
  now?: () => number;
  tls?: { cert: string; key: string };
}

export interface Fault {
  status?: number;
  /** Response body for `status`; default `{"errors":["injected"]}`. */
  body?: unknown;
  /** Destroy the connection instead of answering. */
  reset?: boolean;
  /** Wait before answering (or failing). */
  delayMs?: number;
  /** Only the next `times` matching requests; forever when absent. */
  times?: number;
}

interface Token {
  expiresAt: number;
  ttlSeconds: number;
  renewable: boolean;
  namespace: string;
  revoked: boolean;
}

interface KvV2Secret {
  versions: ({ data: Record<string, unknown>; deleted: boolean } | undefined)[];
  customMetadata: Record<string, string>;
}

export interface Counts {
  /** Logins per auth mount path (`approle`, `kubernetes`, …). */
  logins: number;
  renewals: number;
  lookups: number;
  /** KV data reads (v1 and v2). */
  reads: number;
  lists: number;
  metadataReads: number;
  requests: number;
}

const DENIED = { errors: ['permission denied'] };

export class VaultFake {
  readonly #now: () => number;
  readonly #server: http.Server | https.Server;
  readonly #tokens = new Map<string, Token>();
  readonly #kv2 = new Map<string, Map<string, KvV2Secret>>();
  readonly #kv1 = new Map<string, Map<string, Record<string, unknown>>>();
  readonly #approle = new Map<string, Map<string, string>>();
  readonly #kubernetes = new Map<string, Map<string, string>>();
  readonly #faults = new Map<string, Fault>();
  readonly #denied = new Set<string>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly counts: Counts = {
    logins: 0,
    renewals: 0,
    lookups: 0,
    reads: 0,
    lists: 0,
    metadataReads: 0,
    requests: 0,
  };
  readonly loginsByMount = new Map<string, number>();
  /** `X-Vault-Namespace` of every request ('' when absent), in order. */
  readonly namespaces: string[] = [];
  /** Headers of every request, in order. */
  readonly headers: http.IncomingHttpHeaders[] = [];
  /** Method and path (with query) of every request, in order. */
  readonly requests: string[] = [];
  /** Lease of a login, seconds. */
  loginTtlSeconds = 3600;
  /** A token is never renewed past this age (Vault's max_ttl), seconds. */
  maxTtlSeconds = 86_400;
  readonly tls: boolean;
  url = '';

  constructor(opts: VaultFakeOptions = {}) {
    this.#now = opts.now ?? Date.now;
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => this.#handle(req, res);
    this.tls = opts.tls !== undefined;
    this.#server = opts.tls
      ? https.createServer({ cert: opts.tls.cert, key: opts.tls.key }, handler)
      : http.createServer(handler);
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const { port } = this.#server.address() as AddressInfo;
    this.url = `${this.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    return this.url;
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  // ------------------------------------------------------------------ setup

  /** A token valid for `ttlSeconds` (Infinity = never expires), e.g. a static token. */
  addToken(token: string, ttlSeconds = Number.POSITIVE_INFINITY, namespace = ''): void {
    this.#tokens.set(token, {
      expiresAt: this.#now() + ttlSeconds * 1000,
      ttlSeconds,
      renewable: Number.isFinite(ttlSeconds),
      namespace,
      revoked: false,
    });
  }

  revokeToken(token: string): void {
    const t = this.#tokens.get(token);
    if (t) t.revoked = true;
  }

  /** Revokes every token (as if all leases were revoked). */
  revokeAll(): void {
    for (const t of this.#tokens.values()) t.revoked = true;
  }

  addAppRole(roleId: string, secretId: string, mount = 'approle'): void {
    this.#map(this.#approle, mount).set(roleId, secretId);
  }

  addKubernetesRole(role: string, jwt: string, mount = 'kubernetes'): void {
    this.#map(this.#kubernetes, mount).set(role, jwt);
  }

  /** Writes a new KV v2 version; returns its number. */
  putKv2(
    mount: string,
    path: string,
    data: Record<string, unknown>,
    customMetadata?: Record<string, string>,
  ): number {
    const secrets = this.#map(this.#kv2, mount);
    const s = secrets.get(path) ?? { versions: [], customMetadata: {} };
    s.versions.push({ data, deleted: false });
    if (customMetadata) s.customMetadata = customMetadata;
    secrets.set(path, s);
    return s.versions.length;
  }

  /** Soft-deletes one KV v2 version (reads return 404 with `data: null`). */
  deleteKv2Version(mount: string, path: string, version: number): void {
    const v = this.#kv2.get(mount)?.get(path)?.versions[version - 1];
    if (v) v.deleted = true;
  }

  putKv1(mount: string, path: string, data: Record<string, unknown>): void {
    this.#map(this.#kv1, mount).set(path, data);
  }

  /** Requests whose path (after `/v1/`) starts with `prefix` get `fault`. */
  fault(prefix: string, fault: Fault): void {
    this.#faults.set(prefix, { ...fault });
  }

  clearFaults(): void {
    this.#faults.clear();
  }

  /** A policy denial: valid tokens still get 403 on paths starting with `prefix`. */
  deny(prefix: string): void {
    this.#denied.add(prefix);
  }

  // ------------------------------------------------------------------ serving

  #map<V>(outer: Map<string, Map<string, V>>, key: string): Map<string, V> {
    let m = outer.get(key);
    if (!m) {
      m = new Map();
      outer.set(key, m);
    }
    return m;
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.counts.requests++;
      const url = new URL(req.url ?? '/', 'http://vault');
      const method = req.method ?? 'GET';
      this.requests.push(`${method} ${url.pathname}${url.search}`);
      this.headers.push(req.headers);
      const namespace = headerOf(req, 'x-vault-namespace');
      this.namespaces.push(namespace);
      const path = decodeURIComponent(url.pathname.replace(/^\/v1\//, ''));
      const fault = this.#takeFault(path);
      const respond = () => {
        if (fault?.reset) {
          req.socket.destroy();
          return;
        }
        if (fault?.status !== undefined) {
          send(res, fault.status, fault.body ?? { errors: ['injected'] });
          return;
        }
        let body: unknown;
        try {
          body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
        } catch {
          send(res, 400, { errors: ['failed to parse JSON input'] });
          return;
        }
        const [status, payload] = this.#route(method, path, url.searchParams, body, req, namespace);
        send(res, status, payload);
      };
      const delay = fault?.delayMs ?? 0;
      if (delay <= 0) return respond();
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        respond();
      }, delay);
      this.#timers.add(timer);
    });
  }

  #takeFault(path: string): Fault | undefined {
    for (const [prefix, f] of this.#faults) {
      if (!path.startsWith(prefix)) continue;
      if (f.times !== undefined) {
        if (f.times <= 0) continue;
        f.times--;
      }
      return f;
    }
    return undefined;
  }

  #route(
    method: string,
    path: string,
    query: URLSearchParams,
    body: unknown,
    req: http.IncomingMessage,
    namespace: string,
  ): [number, unknown] {
    const login = /^auth\/(.+)\/login$/.exec(path);
    if (login && method === 'POST')
      return this.#login(login[1] as string, body as Record<string, unknown>, namespace);

    const token = this.#valid(headerOf(req, 'x-vault-token'), namespace);
    if (path === 'auth/token/lookup-self' && method === 'GET') {
      this.counts.lookups++;
      if (!token) return [403, DENIED];
      const ttl = Number.isFinite(token.expiresAt) ? Math.floor((token.expiresAt - this.#now()) / 1000) : 0;
      return [200, { data: { ttl, renewable: token.renewable, namespace_path: namespace } }];
    }
    if (path === 'auth/token/renew-self' && (method === 'POST' || method === 'PUT')) {
      this.counts.renewals++;
      if (!token) return [403, DENIED];
      if (!token.renewable) return [400, { errors: ['lease is not renewable'] }];
      const remainingMax = Math.max(0, this.maxTtlSeconds);
      const lease = Math.min(token.ttlSeconds, remainingMax);
      token.expiresAt = this.#now() + lease * 1000;
      return [
        200,
        { auth: { client_token: headerOf(req, 'x-vault-token'), lease_duration: lease, renewable: true } },
      ];
    }
    if (!token) return [403, DENIED];
    for (const prefix of this.#denied) if (path.startsWith(prefix)) return [403, DENIED];

    const listing =
      method === 'LIST' || (method === 'GET' && ['true', '1'].includes(query.get('list') ?? ''));
    for (const [mount, secrets] of this.#kv2) {
      if (!path.startsWith(`${mount}/`)) continue;
      const rest = path.slice(mount.length + 1);
      if (rest.startsWith('data/') && method === 'GET') {
        this.counts.reads++;
        return this.#readKv2(secrets, rest.slice(5), query.get('version'));
      }
      if (rest.startsWith('metadata/') || rest === 'metadata') {
        const sub = rest.replace(/^metadata\/?/, '');
        if (listing) {
          this.counts.lists++;
          return listKeys([...secrets.keys()], sub);
        }
        this.counts.metadataReads++;
        const s = secrets.get(sub);
        if (!s) return [404, { errors: [] }];
        return [
          200,
          {
            data: {
              cas_required: false,
              created_time: '2024-01-01T00:00:00.000000001Z',
              current_version: s.versions.length,
              delete_version_after: '0s',
              max_versions: 0,
              custom_metadata: s.customMetadata,
            },
          },
        ];
      }
      return [404, { errors: [`no handler for route "${path}"`] }];
    }
    for (const [mount, secrets] of this.#kv1) {
      if (!path.startsWith(`${mount}/`) && path !== mount) continue;
      const rest = path.slice(mount.length + 1);
      if (listing) {
        this.counts.lists++;
        return listKeys([...secrets.keys()], rest);
      }
      if (method !== 'GET') return [405, { errors: ['unsupported operation'] }];
      this.counts.reads++;
      const data = secrets.get(rest);
      return data ? [200, { lease_duration: 2764800, data }] : [404, { errors: [] }];
    }
    return [404, { errors: [`no handler for route "${path}"`] }];
  }

  #valid(token: string, namespace: string): Token | undefined {
    const t = token ? this.#tokens.get(token) : undefined;
    if (!t || t.revoked || t.expiresAt <= this.#now() || t.namespace !== namespace) return undefined;
    return t;
  }

  #login(mount: string, body: Record<string, unknown>, namespace: string): [number, unknown] {
    let ok = false;
    const approle = this.#approle.get(mount);
    const kube = this.#kubernetes.get(mount);
    if (approle) {
      ok = typeof body.role_id === 'string' && approle.get(body.role_id) === body.secret_id;
      if (!ok) return [400, { errors: ['invalid role or secret ID'] }];
    } else if (kube) {
      ok = typeof body.role === 'string' && kube.get(body.role) === body.jwt;
      if (!ok) return [403, DENIED];
    } else {
      return [400, { errors: [`no handler for route "auth/${mount}/login"`] }];
    }
    this.counts.logins++;
    this.loginsByMount.set(mount, (this.loginsByMount.get(mount) ?? 0) + 1);
    const token = `hvs.${randomUUID()}`;
    this.addToken(token, this.loginTtlSeconds, namespace);
    return [
      200,
      {
        auth: {
          client_token: token,
          accessor: randomUUID(),
          lease_duration: this.loginTtlSeconds,
          renewable: true,
        },
      },
    ];
  }

  #readKv2(secrets: Map<string, KvV2Secret>, path: string, version: string | null): [number, unknown] {
    const s = secrets.get(path);
    if (!s) return [404, { errors: [] }];
    const n = version && version !== '0' ? Number(version) : s.versions.length;
    if (!Number.isInteger(n) || n < 1) return [400, { errors: ['invalid version'] }];
    const v = s.versions[n - 1];
    if (!v) return [404, { errors: [] }];
    const metadata = {
      version: n,
      created_time: '2024-01-01T00:00:00Z',
      deletion_time: '',
      destroyed: false,
    };
    if (v.deleted)
      return [
        404,
        { data: { data: null, metadata: { ...metadata, deletion_time: '2024-02-01T00:00:00Z' } } },
      ];
    return [200, { data: { data: v.data, metadata } }];
  }
}

function headerOf(req: http.IncomingMessage, name: string): string {
  const v = req.headers[name];
  return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Vault LIST: the direct children of `prefix`, folders with a trailing `/`; 404 when none. */
function listKeys(paths: string[], prefix: string): [number, unknown] {
  const base = prefix && !prefix.endsWith('/') ? `${prefix}/` : prefix;
  const keys = new Set<string>();
  for (const p of paths) {
    if (!p.startsWith(base)) continue;
    const rest = p.slice(base.length);
    const slash = rest.indexOf('/');
    keys.add(slash < 0 ? rest : rest.slice(0, slash + 1));
  }
  if (keys.size === 0) return [404, { errors: [] }];
  return [200, { data: { keys: [...keys].sort() } }];
}
