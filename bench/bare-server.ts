/**
 * The baseline: a bare fastify HTTPS server answering a constant AdmissionReview. Same fastify,
 * same TLS, same keep-alive; no parsing beyond fastify's JSON body parser, no validation, no logs.
 * Usage: node bench/bare-server.ts PORT CERT_FILE KEY_FILE [ANSWER_FILE]
 * ANSWER_FILE: the AdmissionReview (JSON) to answer with instead of a bare `allowed` — the same
 * bytes another server answers (a warm /mutate's patch), still one constant object.
 */
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';

const [port, certFile, keyFile, answerFile] = process.argv.slice(2);
const app = Fastify({
  https: {
    cert: readFileSync(certFile as string),
    key: readFileSync(keyFile as string),
    minVersion: 'TLSv1.2',
  },
  bodyLimit: 8 * 1024 * 1024,
  keepAliveTimeout: 100_000,
});
const answer: unknown = answerFile
  ? JSON.parse(readFileSync(answerFile, 'utf8'))
  : {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'x', allowed: true },
    };
app.get('/healthz', async () => ({ status: 'ok' }));
app.get('/readyz', async () => ({ status: 'ready' }));
app.post('/validate', async () => answer);
app.post('/mutate', async () => answer);
await app.listen({ port: Number(port), host: '127.0.0.1' });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
