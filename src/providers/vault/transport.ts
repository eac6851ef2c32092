/**
 * node-vault's HTTP transport (its `request-promise` option), with a bound on every answer.
 *
 * A SecretStore's `server` is its author's choice (docs/threat-model.md, T37), and node-vault's
 * own transport reads whatever it is sent into memory, decompressed, before parsing it: a
 * tenant's "Vault" streaming a few hundred MiB (or a small gzip of them) took the whole process —
 * every tenant's admissions and the refresher — past its memory limit. Here an answer is read as
 * a stream and given up, its connection closed, at MAX_ANSWER_BYTES after decompression.
 *
 * Everything else is node-vault's transport as it was: axios (proxies from the environment, its
 * redirects and decompression), every status answered for node-vault to judge, the TLS options of
 * the client (or of one call: the `cert` login's certificate) on an agent, the body parsed as
 * JSON when it is JSON and passed as text otherwise.
 */
import https from 'node:https';
import type { Readable } from 'node:stream';
import axios from 'axios';

/**
 * Above any answer a Secret can use: a Kubernetes Secret holds at most 1 MiB, JSON escapes at most
 * 6 bytes a byte, and a LIST of `MAX_NAMES` keys is a few MiB.
 */
export const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

/** Thrown for an answer over MAX_ANSWER_BYTES; `vaultError` words it for the tenant. */
export class AnswerTooLarge extends Error {
  constructor() {
    super(`answer larger than ${MAX_ANSWER_BYTES / (1024 * 1024)} MiB`);
    this.name = 'AnswerTooLarge';
  }
}

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

async function readBounded(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > MAX_ANSWER_BYTES) {
      stream.destroy();
      throw new AnswerTooLarge();
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size).toString('utf8');
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
