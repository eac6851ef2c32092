import t from 'tap';
import { MAX_REFERENCES } from '../../src/admission/mutate.ts';
import type { AdmissionResponse } from '../../src/admission/types.ts';
import type { KubeObject, Secret } from '../../src/api/types.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { createRuntime, loadIntoRegistry } from '../../src/runtime.ts';
import { createCertificates } from '../../src/server/certs.ts';
import { VaultFake } from '../fakes/vault.ts';
import { admissionReview } from '../helpers/admission-review.ts';
import { request } from '../helpers/https.ts';
import { serveHttps } from '../helpers/serve-https.ts';
import { secret, store } from '../resolve/fixtures.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function manifests(vaultUrl: string): KubeObject[] {
  return [
    secret('tenant', 'vault-token', { token: 'tenant-token' }),
    store('SecretStore', 'vault', 'tenant', {
      vault: {
        server: vaultUrl,
        path: 'secret',
        version: 'v2',
        auth: { tokenSecretRef: { name: 'vault-token', key: 'token' } },
      },
    }) as KubeObject,
  ];
}

/** A placeholder Secret whose one key holds `refs`, separated by commas. */
function review(refs: string[]): Record<string, unknown> {
  const object: Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 'app-secret',
      namespace: 'tenant',
      labels: { 'esw.io/inject': 'true' },
      annotations: { 'esw.io/store': 'vault' },
    },
    type: 'Opaque',
    data: { config: b64(refs.map((r) => `\${ref:${r}}`).join(',')) },
  };
  return admissionReview('Secret', object, { name: 'app-secret', namespace: 'tenant', oldObject: null });
}

t.test(
  'a Secret at the reference bound is filled; one past it is refused before any provider call',
  async (t) => {
    const vault = new VaultFake();
    const vaultUrl = await vault.start();
    t.teardown(() => vault.close());
    vault.addToken('tenant-token');
    const wide = Object.fromEntries(Array.from({ length: MAX_REFERENCES }, (_, i) => [`p${i}`, `v${i}`]));
    vault.putKv2('secret', 'wide', wide);

    const bundle = await createCertificates({ hosts: ['localhost', '127.0.0.1'] });
    const logger = createLogger({ level: 'warn', destination: { write: () => {} } });
    const metrics = createMetrics();
    const registry = new MemoryRegistry();
    loadIntoRegistry(
      registry,
      manifests(vaultUrl).map((object, index) => ({ file: 'test', index, object })),
      logger,
    );
    const runtime = createRuntime(registry, registry, {
      logger,
      metrics,
      admissionDeadlineMs: 30_000,
      cacheTtlMs: 30_000,
    });
    t.teardown(() => runtime.close());
    const server = await serveHttps(t, runtime, { bundle: bundle, logger, metrics });
    const mutate = async (refs: string[]) => {
      const res = await request(`https://127.0.0.1:${server.port}/mutate`, review(refs), {
        ca: bundle.caCert,
      });
      t.equal(res.status, 200, 'the server answered the review');
      return res.json<{ response: AdmissionResponse }>().response;
    };

    // At the bound: MAX_REFERENCES properties of one key, one read.
    const filled = await mutate(Array.from({ length: MAX_REFERENCES }, (_, i) => `wide#p${i}`));
    t.equal(
      filled.allowed,
      true,
      `${MAX_REFERENCES} distinct references are served (${filled.status?.message ?? ''})`,
    );
    t.equal(vault.counts.reads, 1, 'one read for the one key');

    // Past it: MAX_REFERENCES + 1 distinct keys, which would each be a read.
    const refused = await mutate(Array.from({ length: MAX_REFERENCES + 1 }, (_, i) => `key-${i}`));
    t.equal(refused.allowed, false, 'refused');
    t.equal(refused.status?.code, 422);
    t.match(
      refused.status?.message ?? '',
      `names ${MAX_REFERENCES + 1} distinct references, more than ${MAX_REFERENCES}`,
      'names the count and the bound',
    );
    t.equal(vault.counts.reads, 1, 'no provider call for the refused Secret');
  },
);
