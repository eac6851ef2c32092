/**
 * A wire-level fake of Google's Security Token Service (`POST /v1/token`, RFC 8693 token
 * exchange, form-encoded as google-auth-library sends it) and IAM Credentials
 * (`POST /v1/projects/-/serviceAccounts/EMAIL:generateAccessToken`, JSON, Bearer auth), on one
 * plain-HTTP listener, so google-auth-library's IdentityPoolClient and AwsClient run unchanged
 * against it (`token_url` and the impersonation URL are the operator's endpoint overrides).
 *
 * - Exchange of a JWT (a Kubernetes ServiceAccount token): STS accepts it when `audience` is a
 *   provider the test declared (`providers`) and the token's `aud` holds the audience that
 *   provider expects. The principal is `sub` (`system:serviceaccount:NS:NAME`).
 * - Exchange of an AWS signed GetCallerIdentity request (`aws4_request`): the fake checks the
 *   request names `audience` in `x-goog-cloud-target-resource` and verifies the SigV4 signature
 *   with the secret of the access key (`awsKeys`), as AWS would. The principal is `aws:KEYID`.
 * - generateAccessToken: the Bearer token must be one STS issued, whose principal may
 *   impersonate the GCP service account (`impersonators`). The principal is `gsa:EMAIL`.
 * The fake keeps claims and sha256 digests of subject tokens, never the tokens themselves.
 * `principalOf(authorization)` tells the Secret Manager fake whose access token it got.
 */
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Exchange {
  audience: string;
  subjectTokenType: string;
  scope: string;
  /** JWT: `sub` and `aud` claims; AWS: the access key id and region that signed. */
  sub?: string;
  aud?: string[];
  awsKeyId?: string;
  awsRegion?: string;
  tokenDigest: string;
  /** Why it was refused, if it was. */
  refused?: string;
}

export interface Impersonation {
  email: string;
  scope: string[];
  lifetime?: string;
  principal: string;
  refused?: string;
}

const JWT = 'urn:ietf:params:oauth:token-type:jwt';
const AWS = 'urn:ietf:params:aws:token-type:aws4_request';

export class GcpStsFake {
  /** `http://127.0.0.1:PORT` (IAM Credentials base) and its `/v1/token` (STS). */
  url = '';
  tokenUrl = '';
  readonly exchanges: Exchange[] = [];
  readonly impersonations: Impersonation[] = [];
  /** STS audience -> the `aud` a subject JWT must carry for it. */
  readonly providers = new Map<string, string>();
  /** AWS access key id -> secret access key (for SigV4 verification). */
  readonly awsKeys = new Map<string, string>();
  /** GCP service account email -> principals allowed to impersonate it. */
  readonly impersonators = new Map<string, Set<string>>();
  /**
   * Checks a subject JWT's signature as Google would with the cluster's OIDC keys (the
   * API-server double's `verifyToken`); without it the claims are read unchecked.
   */
  verify: ((jwt: string, audience: string) => boolean) | undefined;
  /** Start of every access token handed out (leak scans plant a canary here). */
  tokenPrefix = 'ya29.fake';
  /** Appended to every refusal's description (leak scans: Google's text must not be passed on). */
  refusalDetail = '';
  /** Lifetime of the tokens handed out (STS `expires_in`, IAM `expireTime`). */
  lifetimeSeconds = 3600;
  /** Fail the next calls to `path` ('token' | 'impersonate') with this HTTP status and body. */
  fail: { path: 'token' | 'impersonate'; status: number; body: string } | undefined;
  readonly #tokens = new Map<string, string>();
  readonly #server: http.Server;
  readonly #sockets = new Set<Socket>();

  private constructor() {
    this.#server = http.createServer((req, res) => void this.#handle(req, res));
    this.#server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
  }

  static async start(): Promise<GcpStsFake> {
    const fake = new GcpStsFake();
    fake.#server.listen(0, '127.0.0.1');
    await once(fake.#server, 'listening');
    const { port } = fake.#server.address() as AddressInfo;
    fake.url = `http://127.0.0.1:${port}`;
    fake.tokenUrl = `${fake.url}/v1/token`;
    return fake;
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    this.#server.close();
  }

  /** Whose access token an `authorization` header carries (undefined: not one we issued). */
  principalOf(authorization: string | undefined): string | undefined {
    const token = /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
    return token ? this.#tokens.get(token) : undefined;
  }

  /** Every access token handed out (for leak scans). */
  issued(): string[] {
    return [...this.#tokens.keys()];
  }

  allowImpersonation(email: string, principal: string): void {
    const set = this.impersonators.get(email) ?? new Set<string>();
    this.impersonators.set(email, set);
    set.add(principal);
  }

  #issue(principal: string): string {
    const token = `${this.tokenPrefix}-${randomUUID()}`;
    this.#tokens.set(token, principal);
    return token;
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const send = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(typeof value === 'string' ? value : JSON.stringify(value));
    };
    const url = new URL(req.url ?? '/', this.url);
    const path = url.pathname === '/v1/token' ? 'token' : 'impersonate';
    if (this.fail?.path === path && req.method === 'POST') {
      send(this.fail.status, this.fail.body);
      return;
    }
    if (req.method === 'POST' && url.pathname === '/v1/token') {
      this.#exchange(body, send);
      return;
    }
    const m = /^\/v1\/projects\/-\/serviceAccounts\/([^/]+):generateAccessToken$/.exec(url.pathname);
    if (req.method === 'POST' && m) {
      this.#impersonate(decodeURIComponent(m[1] ?? ''), req.headers.authorization, body, send);
      return;
    }
    send(404, { error: { code: 404, message: 'not found', status: 'NOT_FOUND' } });
  }

  #exchange(body: string, send: (status: number, value: unknown) => void): void {
    const form = new URLSearchParams(body);
    const audience = form.get('audience') ?? '';
    const type = form.get('subject_token_type') ?? '';
    const subject = form.get('subject_token') ?? '';
    const exchange: Exchange = {
      audience,
      subjectTokenType: type,
      scope: form.get('scope') ?? '',
      tokenDigest: createHash('sha256').update(subject).digest('hex'),
    };
    this.exchanges.push(exchange);
    const refuse = (why: string) => {
      exchange.refused = why;
      send(400, { error: 'invalid_grant', error_description: `${why}${this.refusalDetail}` });
    };
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:token-exchange') {
      refuse('grant_type');
      return;
    }
    if (form.get('requested_token_type') !== 'urn:ietf:params:oauth:token-type:access_token') {
      refuse('requested_token_type');
      return;
    }
    let principal: string;
    if (type === JWT) {
      const expected = this.providers.get(audience);
      if (expected === undefined) {
        refuse('unknown audience');
        return;
      }
      let claims: { sub?: unknown; aud?: unknown };
      try {
        claims = JSON.parse(Buffer.from(subject.split('.')[1] ?? '', 'base64url').toString('utf8'));
      } catch {
        refuse('the subject token is not a JWT');
        return;
      }
      const aud = Array.isArray(claims.aud) ? claims.aud.map(String) : [String(claims.aud ?? '')];
      exchange.sub = String(claims.sub ?? '');
      exchange.aud = aud;
      if (!aud.includes(expected)) {
        refuse('the token audience does not match the provider');
        return;
      }
      if (this.verify && !this.verify(subject, expected)) {
        refuse('the token signature does not verify');
        return;
      }
      principal = exchange.sub;
    } else if (type === AWS) {
      if (!this.providers.has(audience)) {
        refuse('unknown audience');
        return;
      }
      const why = this.#verifyAws(subject, audience, exchange);
      if (why) {
        refuse(why);
        return;
      }
      principal = `aws:${exchange.awsKeyId}`;
    } else {
      refuse('subject_token_type');
      return;
    }
    send(200, {
      access_token: this.#issue(principal),
      issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      token_type: 'Bearer',
      expires_in: this.lifetimeSeconds,
    });
  }

  /** The AWS subject token: a GetCallerIdentity request, signed with SigV4 (checked here). */
  #verifyAws(subject: string, audience: string, exchange: Exchange): string | undefined {
    let request: { url?: string; method?: string; headers?: { key: string; value: string }[] };
    try {
      request = JSON.parse(decodeURIComponent(subject));
    } catch {
      return 'the subject token is not a serialized AWS request';
    }
    const headers = new Map((request.headers ?? []).map((h) => [h.key.toLowerCase(), h.value]));
    if (headers.get('x-goog-cloud-target-resource') !== audience) return 'target resource';
    const auth = headers.get('authorization') ?? '';
    const m =
      /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/sts\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]+)$/.exec(
        auth,
      );
    if (!m) return 'authorization';
    const [, keyId, date, region, signedHeaders, signature] = m as unknown as string[];
    exchange.awsKeyId = keyId;
    exchange.awsRegion = region;
    const secret = this.awsKeys.get(keyId ?? '');
    if (secret === undefined) return 'unknown access key';
    const url = new URL(request.url ?? '');
    if (url.hostname !== `sts.${region}.amazonaws.com`) return 'url';
    const query = [...url.searchParams.entries()]
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
      .sort()
      .join('&');
    const names = (signedHeaders ?? '').split(';');
    const canonical = [
      request.method ?? 'POST',
      url.pathname || '/',
      query,
      ...names.map((n) => `${n}:${(headers.get(n) ?? '').trim()}`),
      '',
      signedHeaders,
      createHash('sha256').update('').digest('hex'),
    ].join('\n');
    const amzDate = headers.get('x-amz-date') ?? '';
    const scope = `${date}/${region}/sts/aws4_request`;
    const toSign = [
      'AWS4-HMAC-SHA256',
      amzDate,
      scope,
      createHash('sha256').update(canonical).digest('hex'),
    ].join('\n');
    const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
    let key = hmac(`AWS4${secret}`, date ?? '');
    for (const part of [region ?? '', 'sts', 'aws4_request']) key = hmac(key, part);
    if (hmac(key, toSign).toString('hex') !== signature) return 'signature';
    return undefined;
  }

  #impersonate(
    email: string,
    authorization: string | undefined,
    body: string,
    send: (status: number, value: unknown) => void,
  ): void {
    const principal = this.principalOf(authorization) ?? '';
    let request: { scope?: string[]; lifetime?: string } = {};
    try {
      request = JSON.parse(body);
    } catch {
      // refused below
    }
    const record: Impersonation = {
      email,
      scope: request.scope ?? [],
      principal,
      ...(request.lifetime ? { lifetime: request.lifetime } : {}),
    };
    this.impersonations.push(record);
    if (!principal) {
      record.refused = 'unauthenticated';
      send(401, {
        error: {
          code: 401,
          message: 'Request had invalid authentication credentials.',
          status: 'UNAUTHENTICATED',
        },
      });
      return;
    }
    if (!this.impersonators.get(email)?.has(principal)) {
      record.refused = 'permission';
      send(403, {
        error: {
          code: 403,
          message: `Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).`,
          status: 'PERMISSION_DENIED',
        },
      });
      return;
    }
    send(200, {
      accessToken: this.#issue(`gsa:${email}`),
      expireTime: new Date(Date.now() + this.lifetimeSeconds * 1000).toISOString(),
    });
  }
}
