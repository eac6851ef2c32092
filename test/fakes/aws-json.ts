/**
 * The wire of AWS's JSON 1.1 services, shared by the Parameter Store and Certificate Manager
 * fakes: an HTTP server on 127.0.0.1 that takes `POST /` with `x-amz-target: <Prefix>.<Op>`,
 * checks the request is SigV4-signed, counts calls per operation, injects faults (per name and/or
 * operation) and answers errors as `{"__type": ..., "message": ...}` with `x-amzn-errortype`,
 * as the real services do, so the real SDK clients parse them.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type AwsJsonFault =
  | { type: 'error'; status: number; errorType: string; retryAfter?: number; message?: string }
  | { type: 'delay'; ms: number }
  | { type: 'reset' }
  | { type: 'malformed' };

/** Thrown by an operation handler: answered as an AWS JSON error. */
export class AwsJsonError extends Error {
  readonly status: number;
  readonly type: string;
  constructor(status: number, type: string, message: string) {
    super(message);
    this.status = status;
    this.type = type;
  }
}

export type JsonBody = Record<string, unknown>;

export abstract class AwsJsonFake {
  readonly calls = new Map<string, number>();
  /** Names each call asked for, in order, per operation (names are not secret). */
  readonly asked: { op: string; names: string[] }[] = [];
  /** Access key id that signed each call (ids are not secret). */
  readonly accessKeys: string[] = [];
  endpoint = '';
  readonly #server: http.Server;
  readonly #sockets = new Set<Socket>();
  readonly #faults: { name?: string; op?: string; fault: AwsJsonFault; remaining: number }[] = [];
  readonly #prefix: string;

  protected constructor(targetPrefix: string) {
    this.#prefix = `${targetPrefix}.`;
    this.#server = http.createServer((req, res) => void this.#handle(req, res));
    this.#server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
  }

  protected async listen(): Promise<void> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    this.endpoint = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** The names an operation's request is about (for `asked` and per-name faults). */
  protected abstract namesOf(op: string, body: JsonBody): string[];
  /**
   * Answers one operation (or a promise of it: SQS long polls); throws AwsJsonError for an AWS
   * error. `signal` aborts when the client hangs up.
   */
  protected abstract dispatch(op: string, body: JsonBody, signal: AbortSignal): unknown;

  /** Injects a fault for `count` calls (default: until cleared), for one name and/or operation. */
  fault(fault: AwsJsonFault, where: { name?: string; op?: string; count?: number } = {}): void {
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

  count(op: string): number {
    return this.calls.get(op) ?? 0;
  }

  /** Calls of every operation together. */
  total(): number {
    let n = 0;
    for (const v of this.calls.values()) n += v;
    return n;
  }

  resetCounts(): void {
    this.calls.clear();
    this.asked.length = 0;
    this.accessKeys.length = 0;
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const target = String(req.headers['x-amz-target'] ?? '');
    if (!target.startsWith(this.#prefix)) {
      return error(res, 400, 'UnknownOperationException', `unknown target ${target}`);
    }
    const op = target.slice(this.#prefix.length);
    this.calls.set(op, (this.calls.get(op) ?? 0) + 1);
    this.accessKeys.push(/Credential=([^/]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? '');
    let body: JsonBody;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as JsonBody;
    } catch {
      return error(res, 400, 'SerializationException', 'bad json');
    }
    const names = this.namesOf(op, body);
    this.asked.push({ op, names });
    if (!req.headers.authorization?.startsWith('AWS4-HMAC-SHA256')) {
      return error(res, 400, 'IncompleteSignature', 'request is not signed');
    }
    const fault = this.#takeFault(op, names);
    if (fault) {
      if (fault.type === 'reset') {
        req.socket.destroy();
        return;
      }
      if (fault.type === 'delay') await new Promise((r) => setTimeout(r, fault.ms));
      if (fault.type === 'malformed') {
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        res.end('{"Parameter": ');
        return;
      }
      if (fault.type === 'error') {
        return error(res, fault.status, fault.errorType, fault.message ?? 'injected fault', fault.retryAfter);
      }
    }
    if (res.destroyed || req.socket.destroyed) return;
    try {
      const hangUp = new AbortController();
      res.on('close', () => hangUp.abort());
      const out = await this.dispatch(op, body, hangUp.signal);
      if (res.destroyed) return;
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify(out));
    } catch (err: unknown) {
      if (err instanceof AwsJsonError) return error(res, err.status, err.type, err.message);
      throw err;
    }
  }

  #takeFault(op: string, names: string[]): AwsJsonFault | undefined {
    for (const f of this.#faults) {
      if (f.remaining <= 0) continue;
      if (f.op && f.op !== op) continue;
      if (f.name && !names.includes(f.name)) continue;
      f.remaining--;
      return f.fault;
    }
    return undefined;
  }
}

function error(
  res: http.ServerResponse,
  status: number,
  type: string,
  message: string,
  retryAfter?: number,
): void {
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    'x-amzn-errortype': type,
    ...(retryAfter ? { 'retry-after': String(retryAfter) } : {}),
  });
  res.end(JSON.stringify({ __type: type, message }));
}
