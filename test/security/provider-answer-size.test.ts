/**
 * A tenant's SecretStore chooses its Vault `server` (docs/threat-model.md, residual risks): the
 * server behind it is the tenant's, and so is the size of its answers. Through the real HTTPS
 * server, a placeholder Secret reads from a hostile Vault that streams an answer far larger than
 * any Secret can hold: the read stops at the answer bound (the hostile server sees its answer cut
 * off), is not retried, and the refusal names the bound — never the value.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import type { AdmissionResponse } from '../../src/admission/types.ts';
import type { KubeObject, Secret } from '../../src/api/types.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { createRuntime, loadIntoRegistry } from '../../src/runtime.ts';
import { createCertificates } from '../../src/server/certs.ts';
import { startServer } from '../../src/server/serve.ts';
import { admissionReview } from '../helpers/admission-review.ts';
import { request } from '../helpers/https.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const CANARY = `CANARY-${randomUUID()}`;
const MiB = 1024 * 1024;
/** What the hostile server sends: six times the bound, one MiB a write. */
const HOSTILE_MIB = 48;
const b64 = (s: string) => Buffer.from(s).toString('base64');

interface Hostile {
  url: string;
  /** Secret reads the server was asked for. */
  reads: number;
  /** Reads whose whole answer was written and flushed. */
  completed: number;
  close(): Promise<void>;
}

/**
 * A "Vault" whose every secret is a JSON document of HOSTILE_MIB MiB, sent as fast as it is read;
 * `zipped` is the same document as a gzip of a few KiB.
 */
async function hostileVault(): Promise<Hostile> {
  const state = { reads: 0, completed: 0 };
  const doc = `{"data":{"data":{"password":"${CANARY}${'a'.repeat(HOSTILE_MIB * MiB)}"}}}`;
  const zipped = gzipSync(doc);
  const server = http.createServer((req, res) => {
    if (!req.url?.startsWith('/v1/secret/data/')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":{}}');
      return;
    }
    state.reads++;
    if (req.url.includes('zipped')) {
      res.on('finish', () => state.completed++);
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(zipped);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.on('finish', () => state.completed++);
    const chunk = Buffer.alloc(MiB, 'a');
    void (async () => {
      res.write(`{"data":{"data":{"password":"${CANARY}`);
      for (let i = 0; i < HOSTILE_MIB; i++) {
        if (res.destroyed) return;
        if (!res.write(chunk)) {
          await new Promise<void>((resolve) => {
            res.once('drain', resolve);
            res.once('close', resolve);
          });
        }
      }
      if (!res.destroyed) res.end('"}}}');
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    get reads() {
      return state.reads;
    },
    get completed() {
      return state.completed;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function manifests(vaultUrl: string): KubeObject[] {
  return [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'vault-token', namespace: 'tenant' },
      data: { token: b64('tenant-token') },
    } as KubeObject,
    {
      apiVersion: 'external-secrets.io/v1',
      kind: 'SecretStore',
      metadata: { name: 'own-vault', namespace: 'tenant', uid: randomUUID(), generation: 1 },
      spec: {
        provider: {
          vault: {
            server: vaultUrl,
            path: 'secret',
            version: 'v2',
            auth: { tokenSecretRef: { name: 'vault-token', key: 'token' } },
          },
        },
      },
    } as KubeObject,
  ];
}

function review(key: string): Record<string, unknown> {
  const object: Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 'app-secret',
      namespace: 'tenant',
      labels: { 'esw.io/inject': 'true' },
      annotations: { 'esw.io/store': 'own-vault' },
    },
    type: 'Opaque',
    data: { password: b64(`\${ref:${key}#password}`) },
  };
  return admissionReview('Secret', object, { name: 'app-secret', namespace: 'tenant', oldObject: null });
}

t.test(
  'a Vault answer larger than the bound is cut off, not retried, and refused naming the bound',
  async (t) => {
    const vault = await hostileVault();
    t.teardown(() => vault.close());
    const dir = await mkdtemp(join(tmpdir(), 'esw-answer-size-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const bundle = await createCertificates({ hosts: ['localhost', '127.0.0.1'] });
    const tls = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
    await writeFile(tls.certFile, bundle.cert);
    await writeFile(tls.keyFile, bundle.key);

    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', destination: { write: (l: string) => lines.push(l) } });
    const metrics = createMetrics();
    const registry = new MemoryRegistry();
    loadIntoRegistry(
      registry,
      manifests(vault.url).map((object, index) => ({ file: 'test', index, object })),
      logger,
    );
    // A deadline no loopback transfer of this size comes near: the bound must stop the read, not it.
    const runtime = createRuntime(registry, registry, {
      logger,
      metrics,
      admissionDeadlineMs: 60_000,
      cacheTtlMs: 30_000,
    });
    t.teardown(() => runtime.close());
    const server = await startServer(runtime, {
      port: 0,
      host: '127.0.0.1',
      tls,
      logger,
      metrics,
      certPollMs: 60_000,
    });
    t.teardown(() => server.shutdown('test teardown'));

    const mutate = async (key: string) => {
      const res = await request(`https://127.0.0.1:${server.port}/mutate`, review(key), {
        ca: bundle.caCert,
      });
      t.equal(res.status, 200, 'the server answered the review');
      const answer = res.json<{ response: AdmissionResponse }>().response;
      t.equal(answer.allowed, false, 'refused');
      t.notOk(answer.patch, 'no patch');
      const message = answer.status?.message ?? '';
      t.match(message, /larger than 8 MiB, the bound on one Vault answer/, `names the bound: ${message}`);
      t.ok(message.includes(`key "${key}"`), 'names the reference');
      t.notOk(message.includes(CANARY), 'the value is not in the refusal');
    };

    await mutate('huge');
    t.equal(vault.reads, 1, 'read once: an answer over the bound is not retried');
    t.equal(vault.completed, 0, 'the hostile answer was cut off before its end');
    // A gzip bomb: the bound counts what decompression makes, not what the wire carries.
    await mutate('zipped');
    t.equal(vault.reads, 2, 'the gzip read once too');
    t.notOk(
      lines.some((l) => l.includes(CANARY)),
      'the value is not in any log line',
    );
    t.notOk((await metrics.registry.metrics()).includes(CANARY), 'nor in the metrics');
  },
);
