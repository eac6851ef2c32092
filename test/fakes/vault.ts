/**
 * A wire-level fake of HashiCorp Vault's HTTP API, enough for node-vault and the `vault`
 * provider: KV v2 (`/v1/<mount>/data/<path>` with versions and `?version=`,
 * `/v1/<mount>/metadata/<path>` read and `?list=true`), KV v1 (`/v1/<mount>/<path>`, list),
 * logins (AppRole, Kubernetes, userpass, LDAP, JWT, TLS certificate, AWS IAM with its SigV4
 * signature checked), `auth/token/renew-self` and `auth/token/lookup-self`.
 *
 * Tokens carry a TTL measured on an injectable clock and the namespace they were issued in;
 * every KV request checks `X-Vault-Token` (403 `{"errors":["permission denied"]}` otherwise).
 * The fake counts logins, renewals, lookups, reads and lists, records `X-Vault-Namespace`, and
 * injects faults per path prefix: a status with a body, a delay, a connection reset.
 * HTTPS when given a certificate (the caBundle test); it asks every client for a certificate
 * (cert login, mutual TLS) and, with `clientCa`, can require one signed by that CA.
 *
 * Tokens are valid in the namespace they were issued in and its children (a token of `admin`
 * reads in `admin/team-a`, a root-namespace token everywhere), as Vault Enterprise does.
 */
import { createHash, createHmac, randomUUID, X509Certificate } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';

export interface VaultFakeOptions {
  /** Milliseconds since epoch; tokens expire on this clock. */
  now?: () => number;
  /** `clientCa` + `requireClientCert`: the handshake fails without a certificate from that CA. */
  tls?: { cert: string; key: string; clientCa?: string; requireClientCert?: boolean };
}

/** An AWS identity the `aws` login accepts: its keys, and what the role requires. */
export interface AwsIdentity {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** `X-Vault-AWS-IAM-Server-ID` the role requires (Vault's iam_server_id_header_value). */
  serverId?: string;
  region?: string;
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
  readonly #kubernetes = new Map<string, Map<string, string | ((jwt: string) => boolean)>>();
  readonly #passwords = new Map<string, Map<string, string>>();
  readonly #jwt = new Map<string, Map<string, string | ((jwt: string) => boolean)>>();
  /** cert mount -> role name -> certificate fingerprint (SHA-256). */
  readonly #certs = new Map<string, Map<string, string>>();
  readonly #aws = new Map<string, Map<string, AwsIdentity>>();
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
  /** Path and JSON body of every login request, in order (credentials included: a fake). */
  readonly loginBodies: { path: string; body: Record<string, unknown> }[] = [];
  /** SHA-256 fingerprint of the client certificate of every request ('' without one). */
  readonly clientCerts: string[] = [];
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
      ? https.createServer(
          {
            cert: opts.tls.cert,
            key: opts.tls.key,
            // Ask for a certificate, accept any: the cert login checks it, not the handshake.
            requestCert: true,
            rejectUnauthorized: opts.tls.requireClientCert === true,
            ...(opts.tls.clientCa ? { ca: opts.tls.clientCa } : {}),
          },
          handler,
        )
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

  /**
   * A kubernetes-auth role: the JWT it accepts, or a check of the JWT (what Vault's TokenReview
   * call does; tests pass the API-server double's verifyToken).
   */
  addKubernetesRole(role: string, jwt: string | ((jwt: string) => boolean), mount = 'kubernetes'): void {
    this.#map(this.#kubernetes, mount).set(role, jwt);
  }

  /** A userpass (mount `userpass`) or LDAP (mount `ldap`) user. */
  addPasswordUser(username: string, password: string, mount = 'userpass'): void {
    this.#map(this.#passwords, mount).set(username, password);
  }

  /** A jwt role accepting `jwt`, or any JWT the predicate accepts (a TokenRequest token). */
  addJwtRole(role: string, jwt: string | ((jwt: string) => boolean), mount = 'jwt'): void {
    this.#map(this.#jwt, mount).set(role, jwt);
  }

  /** A cert role (name '' = any role) accepting the client certificate `certPem`. */
  addCertRole(name: string, certPem: string, mount = 'cert'): void {
    this.#map(this.#certs, mount).set(name, new X509Certificate(certPem).fingerprint256);
  }

  /** An aws (IAM) role accepting a GetCallerIdentity request signed by `identity`. */
  addAwsRole(role: string, identity: AwsIdentity, mount = 'aws'): void {
    this.#map(this.#aws, mount).set(role, identity);
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
      const peer = (req.socket as TLSSocket).getPeerCertificate?.();
      const fingerprint = peer && 'fingerprint256' in peer ? (peer.fingerprint256 ?? '') : '';
      this.clientCerts.push(fingerprint);
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
    const login = /^auth\/(.+?)\/login(?:\/([^/]+))?$/.exec(path);
    if (login && (method === 'POST' || method === 'PUT')) {
      this.loginBodies.push({ path, body: body as Record<string, unknown> });
      return this.#login(login[1] as string, login[2], body as Record<string, unknown>, namespace, req);
    }

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
    if (!t || t.revoked || t.expiresAt <= this.#now()) return undefined;
    const inNamespace =
      t.namespace === '' || namespace === t.namespace || namespace.startsWith(`${t.namespace}/`);
    return inNamespace ? t : undefined;
  }

  #login(
    mount: string,
    user: string | undefined,
    body: Record<string, unknown>,
    namespace: string,
    req: http.IncomingMessage,
  ): [number, unknown] {
    const approle = this.#approle.get(mount);
    const kube = this.#kubernetes.get(mount);
    const passwords = this.#passwords.get(mount);
    const jwt = this.#jwt.get(mount);
    const certs = this.#certs.get(mount);
    const aws = this.#aws.get(mount);
    if (approle && user === undefined) {
      const ok = typeof body.role_id === 'string' && approle.get(body.role_id) === body.secret_id;
      if (!ok) return [400, { errors: ['invalid role or secret ID'] }];
    } else if (kube && user === undefined) {
      const want = typeof body.role === 'string' ? kube.get(body.role) : undefined;
      const ok =
        typeof body.jwt === 'string' &&
        (typeof want === 'function' ? want(body.jwt) : want !== undefined && want === body.jwt);
      if (!ok) return [403, DENIED];
    } else if (passwords && user !== undefined) {
      const ok = passwords.has(user) && passwords.get(user) === body.password;
      if (!ok) return [400, { errors: ['invalid username or password'] }];
    } else if (jwt && user === undefined) {
      const want = typeof body.role === 'string' ? jwt.get(body.role) : undefined;
      const ok =
        typeof body.jwt === 'string' &&
        (typeof want === 'function' ? want(body.jwt) : want !== undefined && want === body.jwt);
      if (!ok) return [400, { errors: ['error validating token: invalid signature'] }];
    } else if (certs && user === undefined) {
      const peer = (req.socket as TLSSocket).getPeerCertificate?.();
      const fingerprint = peer && 'fingerprint256' in peer ? peer.fingerprint256 : undefined;
      if (!fingerprint) return [400, { errors: ['client certificate must be supplied'] }];
      const name = typeof body.name === 'string' ? body.name : '';
      const ok = [...certs].some(([role, fp]) => fp === fingerprint && (name === '' || role === name));
      if (!ok) return [400, { errors: ['invalid certificate or no client certificate supplied'] }];
    } else if (aws && user === undefined) {
      const problem = checkAwsLogin(aws, body, this.#now());
      if (problem) return [400, { errors: [problem] }];
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

const b64d = (v: unknown) => (typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : '');
const sha256hex = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const hmac = (key: Buffer | string, s: string) => createHmac('sha256', key).update(s, 'utf8').digest();

/**
 * Vault's aws (IAM) login, as far as a fake can check it without AWS: the request is a POST of
 * GetCallerIdentity to the STS endpoint of a region, signed (AWS SigV4, verified here
 * independently of the signer that made it) by the role's keys, with the server ID header
 * signed in when the role requires one. Returns what is wrong, or undefined.
 */
function checkAwsLogin(
  roles: Map<string, AwsIdentity>,
  body: Record<string, unknown>,
  nowMs: number,
): string | undefined {
  const identity = typeof body.role === 'string' ? roles.get(body.role) : undefined;
  if (!identity) return 'entry for role not found';
  if (body.iam_http_request_method !== 'POST') return 'iam_http_request_method must be POST';
  const url = new URL(b64d(body.iam_request_url));
  const region = identity.region ?? 'us-east-1';
  if (url.href !== `https://sts.${region}.amazonaws.com/`) return `unexpected STS endpoint ${url.host}`;
  const reqBody = b64d(body.iam_request_body);
  if (reqBody !== 'Action=GetCallerIdentity&Version=2011-06-15') return 'not a GetCallerIdentity request';
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(b64d(body.iam_request_headers)) as Record<string, unknown>;
  } catch {
    return 'iam_request_headers is not JSON';
  }
  const headers = new Map<string, string>();
  for (const [k, v] of Object.entries(raw)) {
    // Go's http.Header: a list of values per canonical name.
    if (!Array.isArray(v) || v.length !== 1 || typeof v[0] !== 'string') return `header ${k} is not [value]`;
    headers.set(k.toLowerCase(), v[0]);
  }
  if (identity.serverId !== undefined && headers.get('x-vault-aws-iam-server-id') !== identity.serverId) {
    return 'expected X-Vault-AWS-IAM-Server-ID header';
  }
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/sts\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
      headers.get('authorization') ?? '',
    );
  if (!m) return 'no SigV4 Authorization header';
  const [, accessKey, day, signRegion, signedList, signature] = m as unknown as string[];
  if (accessKey !== identity.accessKeyId) return 'unknown access key';
  if (signRegion !== region) return 'signed for another region';
  if ((identity.sessionToken ?? undefined) !== headers.get('x-amz-security-token'))
    return 'session token mismatch';
  const amzDate = headers.get('x-amz-date') ?? '';
  const signedAt = Date.parse(
    amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'),
  );
  if (!Number.isFinite(signedAt) || Math.abs(signedAt - nowMs) > 15 * 60_000) return 'signature expired';
  const signed = (signedList as string).split(';');
  for (const required of ['host', 'x-amz-date'])
    if (!signed.includes(required)) return `${required} not signed`;
  if (identity.serverId !== undefined && !signed.includes('x-vault-aws-iam-server-id')) {
    return 'server ID header not signed';
  }
  const canonical = [
    'POST',
    '/',
    '',
    ...signed.map((h) => `${h}:${(headers.get(h) ?? (h === 'host' ? url.host : '')).trim()}`),
    '',
    signedList,
    sha256hex(reqBody),
  ].join('\n');
  const scope = `${day}/${region}/sts/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256hex(canonical)].join('\n');
  let key: Buffer = hmac(`AWS4${identity.secretAccessKey}`, day as string);
  for (const part of [region, 'sts', 'aws4_request']) key = hmac(key, part);
  const expected = createHmac('sha256', key).update(toSign, 'utf8').digest('hex');
  return expected === signature ? undefined : 'signature does not match';
}
