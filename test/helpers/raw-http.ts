/**
 * HTTP/1.1 over one TLS socket, by hand: for tests that must control exactly what is sent on
 * which connection and when — headers without a body (a request held open), a second request on
 * a kept-alive connection, a request written before the previous answer arrived.
 */
import { connect, type TLSSocket } from 'node:tls';

export interface RawResponse {
  status: number;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  body: string;
}

export class RawConnection {
  readonly socket: TLSSocket;
  #buffer = Buffer.alloc(0);
  #ended = false;
  #waiters: (() => void)[] = [];

  private constructor(socket: TLSSocket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#wake();
    });
    const end = () => {
      this.#ended = true;
      this.#wake();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }

  static open(port: number, ca: string): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () =>
        resolve(new RawConnection(socket)),
      );
      socket.once('error', reject);
    });
  }

  /** True once the server closed the connection (or it failed). */
  get ended(): boolean {
    return this.#ended;
  }

  /** Writes a request head; `body` (string) is written after it when given. */
  send(method: string, path: string, headers: Record<string, string | number>, body?: string): void {
    const lines = [`${method} ${path} HTTP/1.1`, 'host: localhost'];
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    this.socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (body !== undefined) this.socket.write(body);
  }

  /** A complete JSON POST with Content-Length. */
  post(path: string, body: string): void {
    this.send(
      'POST',
      path,
      { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      body,
    );
  }

  /** The next response on this connection (Content-Length bodies only). Rejects if the connection ends first. */
  async response(): Promise<RawResponse> {
    for (;;) {
      const parsed = this.#parse();
      if (parsed) return parsed;
      if (this.#ended) throw new Error('connection closed before a complete response');
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Resolves when the server has closed the connection. */
  async closed(): Promise<void> {
    while (!this.#ended) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  destroy(): void {
    this.socket.destroy();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  #parse(): RawResponse | undefined {
    const headEnd = this.#buffer.indexOf('\r\n\r\n');
    if (headEnd < 0) return undefined;
    const [statusLine = '', ...headerLines] = this.#buffer
      .subarray(0, headEnd)
      .toString('latin1')
      .split('\r\n');
    const headers: Record<string, string> = {};
    for (const l of headerLines) {
      const i = l.indexOf(':');
      if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    if (this.#buffer.length < headEnd + 4 + length) return undefined;
    const body = this.#buffer.subarray(headEnd + 4, headEnd + 4 + length).toString('utf8');
    this.#buffer = this.#buffer.subarray(headEnd + 4 + length);
    return { status: Number(statusLine.split(' ')[1]), headers, body };
  }
}
