/**
 * A wire-level fake of AWS Secrets Manager: the JSON 1.1 protocol the real SDK speaks
 * (`x-amz-target: secretsmanager.<Operation>`, errors as `{"__type": ..., "message": ...}`),
 * on 127.0.0.1. It counts calls per operation and injects faults, so tests can prove call
 * economy and error mapping with the real client.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface AwsSecretVersion {
  versionId: string;
  stages: string[];
  string?: string;
  binary?: Buffer;
}

interface Entry {
  name: string;
  /** Scheduled for deletion: reads answer InvalidRequestException, as AWS does. */
  deleted?: boolean;
  arn: string;
  tags: { Key: string; Value: string }[];
  versions: AwsSecretVersion[];
}

const MARKED_FOR_DELETION =
  "You can't perform this operation on the secret because it was marked for deletion.";

export type AwsFault =
  | { type: 'error'; status: number; errorType: string; retryAfter?: number; message?: string }
  | { type: 'delay'; ms: number }
  | { type: 'reset' }
  | { type: 'malformed' };

export class AwsSecretsManagerFake {
  readonly calls = new Map<string, number>();
  /** Secret ids asked for, in order, per operation (ids are not secret). */
  readonly asked: { op: string; ids: string[] }[] = [];
  /** Access key id that signed each Secrets Manager call (ids are not secret). */
  readonly accessKeys: string[] = [];
  /** Access key ids AWS no longer accepts (deactivated or deleted): their calls are refused. */
  readonly revoked = new Set<string>();
  /** AssumeRole calls seen by the STS side: role, session, external id, signing access key. */
  readonly assumed: {
    roleArn: string;
    sessionName: string;
    externalId?: string;
    tags: string[];
    signedBy: string;
  }[] = [];
  readonly #secrets = new Map<string, Entry>();
  readonly #faults: { key?: string; op?: string; fault: AwsFault; remaining: number }[] = [];
  readonly #server: http.Server;
  readonly #sockets = new Set<Socket>();
  #versionSeq = 0;
  endpoint = '';

  constructor() {
    this.#server = http.createServer((req, res) => void this.#handle(req, res));
    this.#server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
  }

  static async start(): Promise<AwsSecretsManagerFake> {
    const fake = new AwsSecretsManagerFake();
    fake.#server.listen(0, '127.0.0.1');
    await once(fake.#server, 'listening');
    fake.endpoint = `http://127.0.0.1:${(fake.#server.address() as AddressInfo).port}`;
    return fake;
  }

  /** Adds a new version (it becomes AWSCURRENT; the old current becomes AWSPREVIOUS). */
  put(
    name: string,
    value: string | Buffer,
    opts: { tags?: Record<string, string>; versionId?: string } = {},
  ): string {
    let e = this.#secrets.get(name);
    if (!e) {
      e = {
        name,
        arn: `arn:aws:secretsmanager:us-east-1:123456789012:secret:${name}-AbCdEf`,
        tags: [],
        versions: [],
      };
      this.#secrets.set(name, e);
    }
    if (opts.tags) e.tags = Object.entries(opts.tags).map(([Key, Value]) => ({ Key, Value }));
    for (const v of e.versions) {
      v.stages = v.stages.filter((s) => s !== 'AWSPREVIOUS');
      if (v.stages.includes('AWSCURRENT'))
        v.stages = v.stages.filter((s) => s !== 'AWSCURRENT').concat('AWSPREVIOUS');
    }
    const versionId =
      opts.versionId ?? `00000000-0000-4000-8000-${String(++this.#versionSeq).padStart(12, '0')}`;
    e.versions.push({
      versionId,
      stages: ['AWSCURRENT'],
      ...(typeof value === 'string' ? { string: value } : { binary: value }),
    });
    return versionId;
  }

  delete(name: string): void {
    this.#secrets.delete(name);
  }

  /** DeleteSecret with a recovery window: the secret stays, but reads fail until restored. */
  markForDeletion(name: string): void {
    const e = this.#secrets.get(name);
    if (e) e.deleted = true;
  }

  /** Injects a fault for `count` calls (default: until cleared), for one key and/or operation. */
  fault(fault: AwsFault, where: { key?: string; op?: string; count?: number } = {}): void {
    this.#faults.push({
      ...(where.key ? { key: where.key } : {}),
      ...(where.op ? { op: where.op } : {}),
      fault,
      remaining: where.count ?? Number.POSITIVE_INFINITY,
    });
  }

  clearFaults(): void {
    this.#faults.length = 0;
  }

  count(op: string): number {
    return this.calls.get(op) ?? 0;
  }

  resetCounts(): void {
    this.calls.clear();
    this.asked.length = 0;
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const accessKey = /Credential=([^/]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? '';
    if (!req.headers['x-amz-target']) {
      return this.#sts(new URLSearchParams(Buffer.concat(chunks).toString('utf8')), accessKey, res);
    }
    this.accessKeys.push(accessKey);
    const target = String(req.headers['x-amz-target'] ?? '');
    const op = target.replace(/^secretsmanager\./, '');
    this.calls.set(op, (this.calls.get(op) ?? 0) + 1);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
    } catch {
      return this.#error(res, 400, 'SerializationException', 'bad json');
    }
    const ids =
      op === 'BatchGetSecretValue' ? ((body.SecretIdList as string[]) ?? []) : [String(body.SecretId ?? '')];
    this.asked.push({ op, ids });
    if (!req.headers.authorization?.startsWith('AWS4-HMAC-SHA256')) {
      return this.#error(res, 400, 'IncompleteSignature', 'request is not signed');
    }
    if (this.revoked.has(accessKey)) {
      return this.#error(
        res,
        400,
        'UnrecognizedClientException',
        'The security token included in the request is invalid.',
      );
    }
    const fault = this.#takeFault(op, ids);
    if (fault) {
      if (fault.type === 'reset') {
        req.socket.destroy();
        return;
      }
      if (fault.type === 'delay') await new Promise((r) => setTimeout(r, fault.ms));
      if (fault.type === 'malformed') {
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        res.end('{"SecretString": ');
        return;
      }
      if (fault.type === 'error') {
        return this.#error(
          res,
          fault.status,
          fault.errorType,
          fault.message ?? 'injected fault',
          fault.retryAfter,
        );
      }
    }
    if (res.destroyed || req.socket.destroyed) return;
    switch (op) {
      case 'GetSecretValue':
        return this.#getSecretValue(body, res);
      case 'BatchGetSecretValue':
        return this.#batchGet(body, res);
      case 'ListSecrets':
        return this.#listSecrets(body, res);
      case 'DescribeSecret':
        return this.#describeSecret(body, res);
      default:
        return this.#error(res, 400, 'UnknownOperationException', `unknown operation ${op}`);
    }
  }

  /**
   * The STS side (query protocol, form POST, XML answers), so `role` assumption runs through the
   * real credential provider: each AssumeRole hands out a fresh temporary access key.
   */
  #sts(form: URLSearchParams, signedBy: string, res: http.ServerResponse): void {
    const action = form.get('Action') ?? '';
    this.calls.set(action, (this.calls.get(action) ?? 0) + 1);
    if (action !== 'AssumeRole') {
      res.writeHead(400, { 'content-type': 'text/xml' });
      res.end(
        '<ErrorResponse><Error><Code>InvalidAction</Code><Message>unknown</Message></Error></ErrorResponse>',
      );
      return;
    }
    const tags: string[] = [];
    for (let i = 1; form.has(`Tags.member.${i}.Key`); i++) {
      tags.push(`${form.get(`Tags.member.${i}.Key`)}=${form.get(`Tags.member.${i}.Value`)}`);
    }
    const externalId = form.get('ExternalId');
    this.assumed.push({
      roleArn: form.get('RoleArn') ?? '',
      sessionName: form.get('RoleSessionName') ?? '',
      ...(externalId ? { externalId } : {}),
      tags,
      signedBy,
    });
    const key = `ASIATEMP${String(this.assumed.length).padStart(12, '0')}`;
    res.writeHead(200, { 'content-type': 'text/xml' });
    res.end(
      `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>` +
        `<Credentials><AccessKeyId>${key}</AccessKeyId><SecretAccessKey>temp-secret</SecretAccessKey>` +
        `<SessionToken>temp-token</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>` +
        `<AssumedRoleUser><Arn>${form.get('RoleArn')}/s</Arn><AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>` +
        `</AssumeRoleResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>`,
    );
  }

  #takeFault(op: string, ids: string[]): AwsFault | undefined {
    for (const f of this.#faults) {
      if (f.remaining <= 0) continue;
      if (f.op && f.op !== op) continue;
      if (f.key && !ids.includes(f.key)) continue;
      f.remaining--;
      return f.fault;
    }
    return undefined;
  }

  #find(id: string): Entry | undefined {
    return this.#secrets.get(id) ?? [...this.#secrets.values()].find((e) => e.arn === id);
  }

  #version(e: Entry, versionId?: unknown, stage?: unknown): AwsSecretVersion | undefined {
    if (typeof versionId === 'string') return e.versions.find((v) => v.versionId === versionId);
    const s = typeof stage === 'string' ? stage : 'AWSCURRENT';
    return e.versions.find((v) => v.stages.includes(s));
  }

  #answer(e: Entry, v: AwsSecretVersion) {
    return {
      ARN: e.arn,
      Name: e.name,
      VersionId: v.versionId,
      VersionStages: v.stages,
      CreatedDate: 1_700_000_000,
      ...(v.string !== undefined
        ? { SecretString: v.string }
        : { SecretBinary: v.binary?.toString('base64') }),
    };
  }

  #getSecretValue(body: Record<string, unknown>, res: http.ServerResponse) {
    const e = this.#find(String(body.SecretId));
    if (e?.deleted) return this.#error(res, 400, 'InvalidRequestException', MARKED_FOR_DELETION);
    const v = e && this.#version(e, body.VersionId, body.VersionStage);
    if (!e || !v)
      return this.#error(
        res,
        400,
        'ResourceNotFoundException',
        "Secrets Manager can't find the specified secret.",
      );
    this.#json(res, this.#answer(e, v));
  }

  #batchGet(body: Record<string, unknown>, res: http.ServerResponse) {
    const ids = (body.SecretIdList as string[] | undefined) ?? [];
    if (ids.length > 20) return this.#error(res, 400, 'InvalidParameterException', 'too many ids');
    if (new Set(ids).size !== ids.length) {
      return this.#error(res, 400, 'InvalidParameterException', 'duplicate ids in SecretIdList');
    }
    const SecretValues: unknown[] = [];
    const Errors: unknown[] = [];
    for (const id of ids) {
      const e = this.#find(id);
      const v = e && this.#version(e);
      if (e?.deleted)
        Errors.push({ SecretId: id, ErrorCode: 'InvalidRequestException', Message: MARKED_FOR_DELETION });
      else if (e && v) SecretValues.push(this.#answer(e, v));
      else
        Errors.push({
          SecretId: id,
          ErrorCode: 'ResourceNotFoundException',
          Message: "Secrets Manager can't find the specified secret.",
        });
    }
    this.#json(res, { SecretValues, Errors });
  }

  /** DescribeSecret: the secret's metadata and tags (never a value). */
  #describeSecret(body: Record<string, unknown>, res: http.ServerResponse): void {
    const e = this.#find(String(body.SecretId));
    if (!e) {
      this.#error(res, 400, 'ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
      return;
    }
    this.#json(res, {
      ARN: e.arn,
      Name: e.name,
      ...(e.tags.length ? { Tags: e.tags } : {}),
      VersionIdsToStages: Object.fromEntries(e.versions.map((v) => [v.versionId, v.stages])),
    });
  }

  #listSecrets(body: Record<string, unknown>, res: http.ServerResponse): void {
    const filters = (body.Filters as { Key: string; Values: string[] }[] | undefined) ?? [];
    const max = Number(body.MaxResults ?? 100);
    const start = Number(body.NextToken ?? 0);
    const all = [...this.#secrets.values()].filter((e) =>
      filters.every((f) => {
        if (f.Key === 'name') return f.Values.some((v) => e.name.startsWith(v));
        if (f.Key === 'tag-key') return f.Values.some((v) => e.tags.some((t) => t.Key === v));
        if (f.Key === 'tag-value') return f.Values.some((v) => e.tags.some((t) => t.Value === v));
        return true;
      }),
    );
    const page = all.slice(start, start + max);
    this.#json(res, {
      SecretList: page.map((e) => ({ ARN: e.arn, Name: e.name, Tags: e.tags })),
      ...(start + max < all.length ? { NextToken: String(start + max) } : {}),
    });
  }

  #json(res: http.ServerResponse, body: unknown): void {
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
    res.end(JSON.stringify(body));
  }

  #error(res: http.ServerResponse, status: number, type: string, message: string, retryAfter?: number): void {
    res.writeHead(status, {
      'content-type': 'application/x-amz-json-1.1',
      'x-amzn-errortype': type,
      ...(retryAfter ? { 'retry-after': String(retryAfter) } : {}),
    });
    res.end(JSON.stringify({ __type: type, message }));
  }
}
