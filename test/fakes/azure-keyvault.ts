/**
 * A wire-level fake of Azure Key Vault over HTTPS on 127.0.0.1: the 401 bearer challenge the
 * SDKs' authentication policy answers, `GET /secrets/{name}/{version}` (latest when the version
 * is empty), `GET /secrets` (paged list with nextLink), `GET /keys/{name}/{version}` (a KeyBundle:
 * the public JWK), `GET /certificates/{name}/{version}` (a CertificateBundle: `cer` as base64),
 * each object with tags and attribute times; errors as `{"error":{"code":...,"message":...}}`.
 * It counts calls per operation and injects faults, so tests can prove call economy and error
 * mapping with the real SecretClient, KeyClient and CertificateClient.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createCertificates } from '../../src/server/certs.ts';

export const AZURE_FAKE_TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';

/** Attribute times, Unix seconds as the service sends them. */
export interface AzureTimes {
  expires?: number;
  notBefore?: number;
}

interface Version extends AzureTimes {
  version: string;
  value: string;
  enabled: boolean;
  created: number;
}

interface Entry {
  name: string;
  tags: Record<string, string>;
  versions: Version[];
}

/** A key's public JWK members as the service sends them (byte members base64url). */
export interface FakeJwk {
  kty: string;
  key_ops?: string[];
  n?: string;
  e?: string;
  crv?: string;
  x?: string;
  y?: string;
}

type ObjectKind = 'secrets' | 'keys' | 'certificates';

export type AzureKvFault =
  | { type: 'error'; status: number; code: string; retryAfter?: number }
  | { type: 'delay'; ms: number }
  | { type: 'reset' }
  | { type: 'malformed' };

/** Operations as counted: `challenge` is an unauthenticated request answered with the 401. */
export type AzureKvOp =
  | 'challenge'
  | 'GetSecret'
  | 'GetKey'
  | 'GetCertificate'
  | 'ListSecrets'
  | 'Unauthorized'
  | 'OpenIdConfiguration'
  | 'Token';

export interface PutOptions extends AzureTimes {
  version?: string;
  tags?: Record<string, string>;
  enabled?: boolean;
  /** Creation time (Unix seconds); default: a fixed time that grows with every put. */
  created?: number;
}

export class AzureKeyVaultFake {
  readonly calls = new Map<string, number>();
  /** Bearer tokens presented (test tokens, never secret values). */
  readonly tokens: string[] = [];
  /** Tokens this vault accepts; a request with another token gets 401 Unauthorized. */
  acceptedTokens = new Set<string>(['test-token']);
  /** Entra ID clients the login side knows: client ID -> client secret or client assertion. */
  readonly clients = new Map<string, string>();
  /**
   * Workload identity federation: client ID -> a check of the client assertion (a Kubernetes
   * token whose issuer, subject and audience the federated credential trusts). Tests pass the
   * API-server double's verifyToken.
   */
  readonly federated = new Map<string, (assertion: string) => boolean>();
  /** Token requests seen by the login side (no credentials recorded). */
  readonly tokenRequests: {
    tenant: string;
    clientId: string;
    scope: string;
    grantType: string;
    assertion: boolean;
  }[] = [];
  /** What the challenge names as the token resource. */
  resource = 'https://vault.azure.net';
  url = '';
  ca = '';
  readonly #secrets = new Map<string, Entry>();
  /** Keys (value: the JWK as JSON) and certificates (value: DER as base64). */
  readonly #keys = new Map<string, Entry>();
  readonly #certs = new Map<string, Entry>();
  readonly #faults: { name?: string; op?: string; fault: AzureKvFault; remaining: number }[] = [];
  readonly #sockets = new Set<Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #server: https.Server | undefined;
  #seq = 0;

  static async start(opts: { pageSize?: number } = {}): Promise<AzureKeyVaultFake> {
    const fake = new AzureKeyVaultFake();
    const certs = await createCertificates({ hosts: ['127.0.0.1', 'localhost'] });
    fake.ca = certs.caCert;
    const pageSize = opts.pageSize ?? 25;
    const server = https.createServer({ cert: certs.cert, key: certs.key }, (req, res) => {
      void fake.#handle(req, res, pageSize);
    });
    server.on('connection', (s: Socket) => {
      fake.#sockets.add(s);
      s.on('close', () => fake.#sockets.delete(s));
    });
    server.on('secureConnection', (s: Socket) => {
      fake.#sockets.add(s);
      s.on('close', () => fake.#sockets.delete(s));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    fake.#server = server;
    fake.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return fake;
  }

  /** Adds a version; it becomes the latest. Returns its version id (32 hex digits, as Azure). */
  put(name: string, value: string, opts: PutOptions = {}): string {
    return this.#put(this.#secrets, name, value, opts);
  }

  /** Adds a key version (the latest from then on). */
  putKey(name: string, jwk: FakeJwk, opts: PutOptions = {}): string {
    return this.#put(this.#keys, name, JSON.stringify(jwk), opts);
  }

  /** Adds a certificate version (DER bytes) (the latest from then on). */
  putCertificate(name: string, der: Uint8Array, opts: PutOptions = {}): string {
    return this.#put(this.#certs, name, Buffer.from(der).toString('base64'), opts);
  }

  #put(map: Map<string, Entry>, name: string, value: string, opts: PutOptions): string {
    let e = map.get(name);
    if (!e) {
      e = { name, tags: {}, versions: [] };
      map.set(name, e);
    }
    if (opts.tags) e.tags = { ...opts.tags };
    const version =
      opts.version ?? `${String(++this.#seq).padStart(8, '0')}${randomBytes(12).toString('hex')}`;
    e.versions.push({
      version,
      value,
      enabled: opts.enabled ?? true,
      created: opts.created ?? 1_700_000_000 + this.#seq,
      ...(opts.expires !== undefined ? { expires: opts.expires } : {}),
      ...(opts.notBefore !== undefined ? { notBefore: opts.notBefore } : {}),
    });
    return version;
  }

  /** Injects a fault for `count` calls (default: until cleared), for one secret and/or operation. */
  fault(fault: AzureKvFault, where: { name?: string; op?: AzureKvOp; count?: number } = {}): void {
    this.#faults.push({
      ...(where.name ? { name: where.name } : {}),
      ...(where.op ? { op: where.op } : {}),
      fault,
      remaining: where.count ?? Number.POSITIVE_INFINITY,
    });
  }

  clearFaults(): void {
    this.#faults.length = 0;
  }

  /** Reads of one object, by `secrets/NAME`, `keys/NAME` or `certificates/NAME` (cleared with the counts). */
  readonly reads = new Map<string, number>();

  count(op: AzureKvOp): number {
    return this.calls.get(op) ?? 0;
  }

  resetCounts(): void {
    this.calls.clear();
    this.reads.clear();
    this.tokens.length = 0;
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    for (const s of this.#sockets) s.destroy();
    const server = this.#server;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  #count(op: AzureKvOp): void {
    this.calls.set(op, (this.calls.get(op) ?? 0) + 1);
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse, pageSize: number): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', `https://${req.headers.host ?? '127.0.0.1'}`);
    const login = /^\/([\w.-]+)\/(v2\.0\/\.well-known\/openid-configuration|oauth2\/v2\.0\/token)$/.exec(
      url.pathname,
    );
    if (login) return this.#login(login[1] as string, login[2] as string, body, res);
    const auth = req.headers.authorization ?? '';
    if (!url.searchParams.get('api-version')) {
      return this.#error(res, 400, 'BadParameter', 'api-version is required');
    }
    if (!auth.startsWith('Bearer ')) {
      this.#count('challenge');
      res.writeHead(401, {
        'content-type': 'application/json; charset=utf-8',
        'www-authenticate': `Bearer authorization="https://login.microsoftonline.com/${AZURE_FAKE_TENANT}", resource="${this.resource}"`,
      });
      res.end(
        JSON.stringify({
          error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' },
        }),
      );
      return;
    }
    const token = auth.slice('Bearer '.length);
    this.tokens.push(token);
    if (!this.acceptedTokens.has(token)) {
      this.#count('Unauthorized');
      return this.#error(res, 401, 'Unauthorized', 'AKV10032: Invalid issuer.');
    }

    // /secrets -> list; /{secrets,keys,certificates}/{name}, …/{name}/ or …/{name}/{version} -> get
    const parts = url.pathname.split('/').slice(1);
    const kind = parts[0] as ObjectKind;
    if (!['secrets', 'keys', 'certificates'].includes(kind) || parts.length > 3) {
      return this.#error(res, 404, 'NotFound', 'unknown path');
    }
    const list = parts.length === 1 || (parts.length === 2 && parts[1] === '');
    if (list && kind !== 'secrets') return this.#error(res, 404, 'NotFound', 'unknown path');
    const op: AzureKvOp = list
      ? 'ListSecrets'
      : kind === 'keys'
        ? 'GetKey'
        : kind === 'certificates'
          ? 'GetCertificate'
          : 'GetSecret';
    this.#count(op);
    const name = decodeURIComponent(parts[1] ?? '');
    if (!list) this.reads.set(`${kind}/${name}`, (this.reads.get(`${kind}/${name}`) ?? 0) + 1);
    const fault = this.#takeFault(op, name);
    if (fault) {
      if (fault.type === 'reset') {
        req.socket.destroy();
        return;
      }
      if (fault.type === 'delay') {
        await new Promise<void>((r) => {
          const t = setTimeout(() => {
            this.#timers.delete(t);
            r();
          }, fault.ms);
          this.#timers.add(t);
        });
      }
      if (fault.type === 'malformed') {
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
        res.end('{"value": ');
        return;
      }
      if (fault.type === 'error') {
        return this.#error(res, fault.status, fault.code, 'injected fault', fault.retryAfter);
      }
    }
    if (res.destroyed || req.socket.destroyed) return;
    const base = `https://${req.headers.host}`;
    if (op === 'ListSecrets') return this.#list(url, res, base, pageSize);
    return this.#get(kind, name, decodeURIComponent(parts[2] ?? ''), res, base);
  }

  /**
   * The Entra ID (login) side, on the same server: OpenID metadata and the client-credentials
   * token endpoint, so the real ClientSecretCredential can be pointed here (authorityHost).
   */
  #login(tenant: string, what: string, body: string, res: http.ServerResponse) {
    const base = this.url;
    if (what.startsWith('v2.0')) {
      this.#count('OpenIdConfiguration');
      return this.#json(res, 200, {
        issuer: `${base}/${tenant}/v2.0`,
        authorization_endpoint: `${base}/${tenant}/oauth2/v2.0/authorize`,
        token_endpoint: `${base}/${tenant}/oauth2/v2.0/token`,
        jwks_uri: `${base}/${tenant}/discovery/v2.0/keys`,
        end_session_endpoint: `${base}/${tenant}/oauth2/v2.0/logout`,
      });
    }
    this.#count('Token');
    const form = new URLSearchParams(body);
    const clientId = form.get('client_id') ?? '';
    this.tokenRequests.push({
      tenant,
      clientId,
      scope: form.get('scope') ?? '',
      grantType: form.get('grant_type') ?? '',
      assertion: form.has('client_assertion'),
    });
    const expected = this.clients.get(clientId);
    const secret = form.get('client_secret');
    const assertion = form.get('client_assertion');
    const federated = this.federated.get(clientId);
    const ok =
      (expected !== undefined && (secret === expected || (assertion !== null && assertion === expected))) ||
      (federated !== undefined &&
        assertion !== null &&
        form.get('client_assertion_type') === 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' &&
        federated(assertion));
    if (!ok) {
      return this.#json(res, 401, {
        error: 'invalid_client',
        error_description: 'AADSTS7000215: Invalid client secret provided.',
        error_codes: [7000215],
      });
    }
    const token = [...this.acceptedTokens][0] ?? 'test-token';
    this.#json(res, 200, {
      token_type: 'Bearer',
      expires_in: 3599,
      ext_expires_in: 3599,
      access_token: token,
    });
  }

  #get(kind: ObjectKind, name: string, version: string, res: http.ServerResponse, base: string) {
    const map = kind === 'keys' ? this.#keys : kind === 'certificates' ? this.#certs : this.#secrets;
    const what = kind === 'keys' ? 'key' : kind === 'certificates' ? 'certificate' : 'secret';
    const code =
      kind === 'keys' ? 'KeyNotFound' : kind === 'certificates' ? 'CertificateNotFound' : 'SecretNotFound';
    const e = map.get(name);
    if (!e) {
      return this.#error(res, 404, code, `A ${what} with (name/id) ${name} was not found in this key vault.`);
    }
    const v = version ? e.versions.find((x) => x.version === version) : e.versions.at(-1);
    if (!v) {
      return this.#error(
        res,
        404,
        code,
        `A ${what} with (name/id) ${name}/${version} was not found in this key vault.`,
      );
    }
    if (!v.enabled)
      return this.#error(res, 403, 'Forbidden', `Operation get is not allowed on a disabled ${what}.`);
    const attributes = {
      enabled: v.enabled,
      ...(v.notBefore !== undefined ? { nbf: v.notBefore } : {}),
      ...(v.expires !== undefined ? { exp: v.expires } : {}),
      created: v.created,
      updated: v.created,
      recoveryLevel: 'Recoverable+Purgeable',
    };
    const id = `${base}/${kind}/${name}/${v.version}`;
    if (kind === 'keys') {
      return this.#json(res, 200, { key: { kid: id, ...JSON.parse(v.value) }, attributes, tags: e.tags });
    }
    if (kind === 'certificates') {
      return this.#json(res, 200, {
        id,
        kid: `${base}/keys/${name}/${v.version}`,
        sid: `${base}/secrets/${name}/${v.version}`,
        x5t: 'dGh1bWJwcmludA',
        cer: v.value,
        attributes,
        tags: e.tags,
      });
    }
    this.#json(res, 200, { value: v.value, id, attributes, tags: e.tags });
  }

  #list(url: URL, res: http.ServerResponse, base: string, pageSize: number): void {
    const all = [...this.#secrets.values()].sort((a, b) => a.name.localeCompare(b.name));
    const skip = Number(url.searchParams.get('$skiptoken') ?? '0') || 0;
    const max = Math.min(pageSize, Number(url.searchParams.get('maxresults') ?? pageSize) || pageSize);
    const page = all.slice(skip, skip + max);
    const next = skip + max < all.length;
    this.#json(res, 200, {
      value: page.map((e) => {
        const latest = e.versions.at(-1) as Version;
        return {
          id: `${base}/secrets/${e.name}`,
          attributes: { enabled: latest.enabled, created: latest.created, updated: latest.created },
          tags: e.tags,
        };
      }),
      nextLink: next
        ? `${base}/secrets?api-version=${url.searchParams.get('api-version')}&maxresults=${max}&$skiptoken=${skip + max}`
        : null,
    });
  }

  #takeFault(op: string, name: string): AzureKvFault | undefined {
    for (const f of this.#faults) {
      if (f.remaining <= 0) continue;
      if (f.op && f.op !== op) continue;
      if (f.name && f.name !== name) continue;
      f.remaining--;
      return f.fault;
    }
    return undefined;
  }

  #json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  }

  #error(res: http.ServerResponse, status: number, code: string, message: string, retryAfter?: number): void {
    this.#json(
      res,
      status,
      { error: { code, message } },
      retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) },
    );
  }
}
