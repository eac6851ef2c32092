/**
 * The floor: Node's own HTTPS server answering a constant AdmissionReview, no framework. The same
 * certificate, TLS settings and keep-alive as bench/bare-server.ts; the body is read and parsed
 * (JSON.parse) and the answer serialised per request, as the bare fastify server does. It shows what
 * fastify's per-request machinery costs, the part the webhook's admission lane does without
 * (docs/architecture.md, "admission lane").
 * Usage: node bench/bare-node-server.ts PORT CERT_FILE KEY_FILE
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';

const [port, certFile, keyFile] = process.argv.slice(2);
const answer = {
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  response: { uid: 'x', allowed: true },
};
const server = https.createServer(
  { cert: readFileSync(certFile as string), key: readFileSync(keyFile as string), minVersion: 'TLSv1.2' },
  (req, res) => {
    const send = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    };
    if (req.method === 'GET') {
      send(200, { status: 'ready' });
      return;
    }
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      try {
        JSON.parse(body);
        send(200, answer);
      } catch {
        send(400, { message: 'not JSON' });
      }
    });
  },
);
server.keepAliveTimeout = 100_000;
server.listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
