/**
 * node-vault's HTTP transport (its `request-promise` option), with a bound on every answer.
 *
 * A SecretStore's `server` is its author's choice, and node-vault's own transport reads whatever
 * it is sent into memory, decompressed (a small gzip inflates to hundreds of MiB), before parsing
 * it. Here an answer is read as a stream and given up, its connection closed, at the answer bound
 * (`../answer-bound.ts`) counted after decompression.
 *
 * Everything else is node-vault's transport as it was: axios (proxies from the environment, its
 * redirects and decompression), every status answered for node-vault to judge, the TLS options of
 * the client (or of one call: the `cert` login's certificate) on an agent, the body parsed as
 * JSON when it is JSON and passed as text otherwise.
 */
import https from 'node:https';
import type { Readable } from 'node:stream';
import axios from 'axios';
import { readBounded } from '../answer-bound.ts';

/** What node-vault hands its transport (its request options merged with the client's). */
interface TransportRequest {
  method: string;
  uri: string;
  headers?: Record<string, string>;
  json?: unknown;
  timeout?: number;
  ca?: string;
  cert?: string;
  key?: string;
}

/** What node-vault's `handleVaultResponse` reads. */
interface TransportAnswer {
  statusCode: number;
  body: unknown;
  request: { path: string };
}

type Transport = (options: TransportRequest) => Promise<TransportAnswer>;

/** node-vault calls `defaults(rpDefaults)` once per client; TLS verification is always on. */
export function boundedTransport(): { defaults(): Transport } {
  const instance = axios.create({ validateStatus: () => true, responseType: 'stream' });
  // One agent per set of TLS options: the client's, and the `cert` login's if it has one.
  const agents = new Map<string, https.Agent>();
  const agentFor = (o: TransportRequest): https.Agent => {
    const id = JSON.stringify([o.ca, o.cert, o.key]);
    let agent = agents.get(id);
    if (!agent) {
      agent = new https.Agent({ ca: o.ca, cert: o.cert, key: o.key, rejectUnauthorized: true });
      agents.set(id, agent);
    }
    return agent;
  };
  const request: Transport = async (o) => {
    const response = await instance({
      method: o.method,
      url: o.uri,
      headers: { ...o.headers },
      ...(o.json !== undefined && typeof o.json === 'object' ? { data: o.json } : {}),
      ...(o.timeout !== undefined ? { timeout: o.timeout } : {}),
      httpsAgent: agentFor(o),
    });
    const text = await readBounded(response.data as Readable);
    return { statusCode: response.status, body: parsed(text), request: { path: pathOf(o.uri) } };
  };
  return { defaults: () => request };
}

/** axios' default for a body it was not told the type of: JSON when it parses, else the text. */
function parsed(text: string): unknown {
  if (text === '') return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function pathOf(uri: string): string {
  try {
    return new URL(uri).pathname;
  } catch {
    return uri;
  }
}
