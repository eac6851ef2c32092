/**
 * A tenant's SecretStore chooses its Vault `server` or Key Vault `vaultUrl` (docs/threat-model.md,
 * T37): the endpoint behind it is the tenant's, and so is the size of its answers. Through the
 * real HTTPS server, a placeholder Secret reads from a hostile endpoint that streams an answer far
 * larger than any Secret can hold (or a gzip that inflates to it): the read stops at the answer
 * bound (the hostile endpoint sees its answer cut off), is not retried, and the refusal names the
 * bound — never the value.
 */
import { randomUUID } from 'node:crypto';
import https from 'node:https';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import type { AdmissionResponse } from '../../src/admission/types.ts';
import type { KubeObject, Secret } from '../../src/api/types.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { createRuntime, loadIntoRegistry } from '../../src/runtime.ts';
import { createCertificates } from '../../src/server/certs.ts';
import { admissionReview } from '../helpers/admission-review.ts';
import { request } from '../helpers/https.ts';
import { serveHttps } from '../helpers/serve-https.ts';
import { secret as tenantSecret, store as tenantStore } from '../resolve/fixtures.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const CANARY = `CANARY-${randomUUID()}`;
const MiB = 1024 * 1024;
/** What the hostile server sends: six times the bound, one MiB a write. */
const HOSTILE_MIB = 48;
const AZURE_TENANT = '00000000-0000-0000-0000-000000000000';
const b64 = (s: string) => Buffer.from(s).toString('base64');

interface Hostile {
  url: string;
  /** Secret reads the server was asked for. */
  reads: number;
  /** Streamed answers (all but the gzip) written and flushed to their end. */
  completed: number;
  close(): Promise<void>;
}

/**
 * A provider endpoint of the tenant's choosing, over TLS with a certificate of `bundle`: every
 * Vault KV read and Key Vault secret read is a JSON document of HOSTILE_MIB MiB, sent as fast as
 * it is read; the Vault key `zipped` is the same document as a gzip of a few KiB.
 */
async function hostileEndpoint(bundle: { cert: string; key: string }): Promise<Hostile> {
  const state = { reads: 0, completed: 0 };
  const zipped = gzipSync(`{"data":{"data":{"password":"${CANARY}${'a'.repeat(HOSTILE_MIB * MiB)}"}}}`);
  const server = https.createServer({ cert: bundle.cert, key: bundle.key }, (req, res) => {
    const vault = req.url?.startsWith('/v1/secret/data/');
    if (req.url?.startsWith('/secrets/authority')) {
      // A Key Vault challenge sending the token request to the store's own authority (below).
      const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
      res.writeHead(401, {
        'www-authenticate': `Bearer authorization="https://${host}/${AZURE_TENANT}", resource="https://127.0.0.1"`,
      });
      res.end();
      return;
    }
    if (!vault && !req.url?.startsWith('/secrets/') && !req.url?.startsWith(`/${AZURE_TENANT}/`)) {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":{}}');
      return;
    }
    state.reads++;
    if (req.url?.includes('zipped')) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(zipped);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.on('finish', () => state.completed++);
    const chunk = Buffer.alloc(MiB, 'a');
    void (async () => {
      res.write(vault ? `{"data":{"data":{"password":"${CANARY}` : `{"value":"${CANARY}`);
      for (let i = 0; i < HOSTILE_MIB; i++) {
        if (res.destroyed) return;
        if (!res.write(chunk)) {
          await new Promise<void>((resolve) => {
            res.once('drain', resolve);
            res.once('close', resolve);
          });
        }
      }
      if (!res.destroyed) res.end(vault ? '"}}}' : '"}');
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `https://127.0.0.1:${port}`,
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

function manifests(url: string, caPem: string): KubeObject[] {
  const secret = (name: string, data: Record<string, string>) => tenantSecret('tenant', name, data);
  const store = (name: string, provider: Record<string, unknown>) =>
    tenantStore('SecretStore', name, 'tenant', provider) as KubeObject;
  return [
    secret('vault-token', { token: 'tenant-token' }),
    secret('azure-sp', { id: 'client-guid', secret: 'client-secret' }),
    store('own-vault', {
      vault: {
        server: url,
        caBundle: b64(caPem),
        path: 'secret',
        version: 'v2',
        auth: { tokenSecretRef: { name: 'vault-token', key: 'token' } },
      },
    }),
    store('own-azure', {
      azurekv: {
        vaultUrl: url,
        tenantId: AZURE_TENANT,
        authSecretRef: {
          clientId: { name: 'azure-sp', key: 'id' },
          clientSecret: { name: 'azure-sp', key: 'secret' },
        },
      },
    }),
    store('own-cloud', {
      azurekv: {
        vaultUrl: url,
        tenantId: AZURE_TENANT,
        environmentType: 'AzureStackCloud',
        useAzureSDK: true,
        customCloudConfig: { activeDirectoryEndpoint: `${url}/`, keyVaultDNSSuffix: '127.0.0.1' },
        authSecretRef: {
          clientId: { name: 'azure-sp', key: 'id' },
          clientSecret: { name: 'azure-sp', key: 'secret' },
        },
      },
    }),
  ];
}

function review(store: string, key: string): Record<string, unknown> {
  const object: Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 'app-secret',
      namespace: 'tenant',
      labels: { 'esw.io/inject': 'true' },
      annotations: { 'esw.io/store': store },
    },
    type: 'Opaque',
    data: { password: b64(`\${ref:${key}}`) },
  };
  return admissionReview('Secret', object, { name: 'app-secret', namespace: 'tenant', oldObject: null });
}

t.test('an answer larger than the bound is cut off, not retried, and refused naming the bound', async (t) => {
  const bundle = await createCertificates({ hosts: ['localhost', '127.0.0.1'] });
  const hostile = await hostileEndpoint(bundle);
  t.teardown(() => hostile.close());

  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (l: string) => lines.push(l) } });
  const metrics = createMetrics();
  const registry = new MemoryRegistry();
  loadIntoRegistry(
    registry,
    manifests(hostile.url, bundle.caCert).map((object, index) => ({ file: 'test', index, object })),
    logger,
  );
  // A deadline no loopback transfer of this size comes near: the bound must stop the read, not it.
  // The test CA stands for the public one a tenant's Key Vault look-alike would use, and the
  // challenge check off for its domain of its own (127.0.0.1 has no subdomain to match).
  const runtime = createRuntime(registry, registry, {
    logger,
    metrics,
    admissionDeadlineMs: 60_000,
    cacheTtlMs: 30_000,
    endpoints: { azureCa: bundle.caCert, azureDisableChallengeResourceVerification: true },
  });
  t.teardown(() => runtime.close());
  const server = await serveHttps(t, runtime, { bundle: bundle, logger, metrics });

  const refused = async (store: string, key: string, bound: RegExp) => {
    const before = hostile.reads;
    const res = await request(`https://127.0.0.1:${server.port}/mutate`, review(store, key), {
      ca: bundle.caCert,
    });
    t.equal(res.status, 200, `${store} ${key}: the server answered the review`);
    const answer = res.json<{ response: AdmissionResponse }>().response;
    t.equal(answer.allowed, false, 'refused');
    t.notOk(answer.patch, 'no patch');
    const message = answer.status?.message ?? '';
    t.match(message, bound, `names the bound: ${message}`);
    t.ok(message.includes(`key "${key}"`), 'names the reference');
    t.notOk(message.includes(CANARY), 'the value is not in the refusal');
    t.equal(hostile.reads - before, 1, 'read once: an answer over the bound is not retried');
  };

  await refused('own-vault', 'huge', /vault: .*answer larger than 8 MiB, the bound on one Vault answer/);
  // A gzip bomb: the bound counts what decompression makes, not what the wire carries.
  await refused('own-vault', 'zipped', /vault: .*answer larger than 8 MiB, the bound on one Vault answer/);
  // Key Vault's first request carries no credential: the endpoint needs none to answer it.
  await refused(
    'own-azure',
    'huge',
    /azurekv: .*answer larger than 8 MiB, the bound on one Key Vault answer/,
  );
  // The token request goes to the store's own authority (customCloudConfig), which answers big.
  // MSAL reports any failure to read its authority as one error of its own, so the refusal cannot
  // name the bound there; the read is bounded all the same (one read, cut off: below).
  await refused('own-cloud', 'authority', /azurekv: secret "authority": no credential available/);
  t.equal(hostile.completed, 0, 'every streamed answer was cut off before its end');
  t.notOk(
    lines.some((l) => l.includes(CANARY)),
    'the value is not in any log line',
  );
  t.notOk((await metrics.registry.metrics()).includes(CANARY), 'nor in the metrics');
});
