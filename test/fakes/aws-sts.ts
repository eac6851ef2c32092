/**
 * A wire-level fake of AWS STS: the query protocol (form POST, `Action=…`, XML answers and
 * `<ErrorResponse>` errors) for AssumeRole and AssumeRoleWithWebIdentity, so role chains and
 * per-store IRSA run through the SDK's own credential providers.
 * - AssumeRole must be SigV4-signed; the fake records the access key that signed it.
 * - AssumeRoleWithWebIdentity must NOT be signed (the SDK sends it anonymously: the token is the
 *   credential); the fake checks the token's `aud` holds the audience STS expects and keeps the
 *   claims (`sub`, `aud`) and a digest of the token, never the token itself.
 * Each call hands out fresh temporary keys (`ASIA…`); `lifetimeSeconds` sets their expiry.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface AssumedRole {
  roleArn: string;
  sessionName: string;
  externalId?: string;
  tags: string[];
  transitiveTagKeys: string[];
  signedBy: string;
}

export interface WebIdentity {
  roleArn: string;
  sessionName: string;
  sub: string;
  aud: string[];
  /** sha256 of the token, to compare tokens without keeping them. */
  tokenDigest: string;
  /** An Authorization header came with it (the SDK must not sign this call). */
  signed: boolean;
}

export class AwsStsFake {
  readonly calls = new Map<string, number>();
  readonly assumed: AssumedRole[] = [];
  readonly webIdentities: WebIdentity[] = [];
  /** The audience AssumeRoleWithWebIdentity accepts (the OIDC provider's client id). */
  audience = 'sts.amazonaws.com';
  /**
   * Verifies the token's signature (the OIDC provider's keys); tests pass the API-server
   * double's verifyToken. Unset: any well-formed token with the right claims.
   */
  tokenVerifier: ((token: string) => boolean) | undefined;
  /** Lifetime of the credentials handed out; under 5 min the SDK refreshes before every call. */
  lifetimeSeconds = 3600;
  endpoint = '';
  readonly #server: http.Server;
  readonly #sockets = new Set<Socket>();
  #keys = 0;
  #fail: { action: string; code: string; status: number; remaining: number } | undefined;

  private constructor() {
    this.#server = http.createServer((req, res) => void this.#handle(req, res));
    this.#server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
  }

  static async start(): Promise<AwsStsFake> {
    const fake = new AwsStsFake();
    fake.#server.listen(0, '127.0.0.1');
    await once(fake.#server, 'listening');
    fake.endpoint = `http://127.0.0.1:${(fake.#server.address() as AddressInfo).port}`;
    return fake;
  }

  count(action: string): number {
    return this.calls.get(action) ?? 0;
  }

  /** The next `count` calls of `action` fail with an STS error code. */
  failNext(action: string, code: string, status = 400, count = 1): void {
    this.#fail = { action, code, status, remaining: count };
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const action = form.get('Action') ?? '';
    this.calls.set(action, (this.calls.get(action) ?? 0) + 1);
    const auth = req.headers.authorization ?? '';
    if (this.#fail && this.#fail.action === action && this.#fail.remaining > 0) {
      this.#fail.remaining--;
      return error(res, this.#fail.status, this.#fail.code, 'injected fault');
    }
    if (action === 'AssumeRole') {
      if (!auth.startsWith('AWS4-HMAC-SHA256'))
        return error(res, 403, 'MissingAuthenticationToken', 'unsigned');
      return this.#assumeRole(form, /Credential=([^/]+)\//.exec(auth)?.[1] ?? '', res);
    }
    if (action === 'AssumeRoleWithWebIdentity') return this.#webIdentity(form, auth !== '', res);
    return error(res, 400, 'InvalidAction', 'unknown action');
  }

  #assumeRole(form: URLSearchParams, signedBy: string, res: http.ServerResponse): void {
    const tags: string[] = [];
    for (let i = 1; form.has(`Tags.member.${i}.Key`); i++) {
      tags.push(`${form.get(`Tags.member.${i}.Key`)}=${form.get(`Tags.member.${i}.Value`)}`);
    }
    const transitiveTagKeys: string[] = [];
    for (let i = 1; form.has(`TransitiveTagKeys.member.${i}`); i++) {
      transitiveTagKeys.push(form.get(`TransitiveTagKeys.member.${i}`) as string);
    }
    const externalId = form.get('ExternalId');
    this.assumed.push({
      roleArn: form.get('RoleArn') ?? '',
      sessionName: form.get('RoleSessionName') ?? '',
      ...(externalId ? { externalId } : {}),
      tags,
      transitiveTagKeys,
      signedBy,
    });
    this.#credentials(res, 'AssumeRole', form.get('RoleArn') ?? '', '');
  }

  #webIdentity(form: URLSearchParams, signed: boolean, res: http.ServerResponse) {
    const token = form.get('WebIdentityToken') ?? '';
    let claims: { sub?: unknown; aud?: unknown } = {};
    try {
      claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
    } catch {
      // An opaque token: STS refuses it below.
    }
    const aud = [claims.aud ?? []].flat().map(String);
    if (typeof claims.sub !== 'string' || !claims.sub) {
      return error(res, 400, 'InvalidIdentityToken', 'No OpenIDConnect provider found in your account');
    }
    if (!aud.includes(this.audience)) {
      return error(res, 400, 'InvalidIdentityToken', 'Incorrect token audience');
    }
    if (this.tokenVerifier && !this.tokenVerifier(token)) {
      return error(
        res,
        400,
        'InvalidIdentityToken',
        "Couldn't verify the token's signature or it has expired",
      );
    }
    this.webIdentities.push({
      roleArn: form.get('RoleArn') ?? '',
      sessionName: form.get('RoleSessionName') ?? '',
      sub: claims.sub,
      aud,
      tokenDigest: createHash('sha256').update(token).digest('hex'),
      signed,
    });
    this.#credentials(res, 'AssumeRoleWithWebIdentity', form.get('RoleArn') ?? '', claims.sub);
  }

  #credentials(res: http.ServerResponse, action: string, roleArn: string, subject: string): void {
    const key = `ASIASTS${String(++this.#keys).padStart(13, '0')}`;
    const expires = new Date(Date.now() + this.lifetimeSeconds * 1000).toISOString();
    res.writeHead(200, { 'content-type': 'text/xml' });
    res.end(
      `<${action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><${action}Result>` +
        `<Credentials><AccessKeyId>${key}</AccessKeyId><SecretAccessKey>sts-secret-${this.#keys}</SecretAccessKey>` +
        `<SessionToken>sts-session-${this.#keys}</SessionToken><Expiration>${expires}</Expiration></Credentials>` +
        (subject ? `<SubjectFromWebIdentityToken>${escapeXml(subject)}</SubjectFromWebIdentityToken>` : '') +
        `<AssumedRoleUser><Arn>${escapeXml(roleArn)}/session</Arn><AssumedRoleId>AROA:session</AssumedRoleId></AssumedRoleUser>` +
        `</${action}Result><ResponseMetadata><RequestId>r-${this.#keys}</RequestId></ResponseMetadata></${action}Response>`,
    );
  }
}

function error(res: http.ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'text/xml' });
  res.end(
    `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>` +
      `<Code>${code}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>r</RequestId></ErrorResponse>`,
  );
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
