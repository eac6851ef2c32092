/**
 * An attacker's listener: a plain HTTP server on 127.0.0.1 that records every request (method,
 * URL, headers, body) and answers 200 `{}`. A tenant points a store's `server`, a credential's
 * `token_url` or `credential_source.url` at it; the tests assert it hears nothing.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Test } from 'tap';

export interface Heard {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface Listener {
  url: string;
  heard: Heard[];
  /** Everything it received, as one string, for canary searches. */
  text(): string;
}

export async function startListener(t: Test): Promise<Listener> {
  const heard: Heard[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      heard.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    heard,
    text: () => JSON.stringify(heard),
  };
}
