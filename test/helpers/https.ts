/** A small HTTPS client for tests: real TLS verification against the test CA, keep-alive agents. */
import https from 'node:https';
import type { TLSSocket } from 'node:tls';

process.env.NO_PROXY = '127.0.0.1,localhost';

export interface HttpsResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** Client-side local port of the TCP connection: the same value means the same connection. */
  localPort: number | undefined;
  /** Fingerprint of the certificate the server presented on this connection. */
  peerFingerprint: string | undefined;
  json<T = unknown>(): T;
}

export interface RequestOptions {
  ca: string;
  agent?: https.Agent;
  method?: string;
  headers?: Record<string, string>;
  servername?: string;
  cert?: string;
  key?: string;
}

export function request(url: string, body: unknown, opts: RequestOptions): Promise<HttpsResponse> {
  const u = new URL(url);
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method: opts.method ?? (payload === undefined ? 'GET' : 'POST'),
        ca: opts.ca,
        servername: opts.servername ?? 'localhost',
        agent: opts.agent ?? false,
        ...(opts.cert ? { cert: opts.cert, key: opts.key } : {}),
        headers: {
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
          ...opts.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        const socket = res.socket as TLSSocket;
        const localPort = socket.localPort;
        const peerFingerprint = socket.getPeerCertificate?.()?.fingerprint256;
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text,
            localPort,
            peerFingerprint,
            json: <T>() => JSON.parse(text) as T,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}
