/**
 * Credential JSON is data, never a program (threat model: "a credential Secret that reads
 * files"). A tenant's gcpsm credential Secret holds an `external_account` JSON whose
 * `credential_source.file` names a local file (a canary here) and whose `token_url` is the
 * tenant's listener, or whose `credential_source.url` is the listener: google-auth-library's
 * fromJSON would read the file and POST it to the listener, or fetch the URL. Through the real
 * server over HTTPS, the store is refused and the listener hears nothing — also when the
 * cluster admin allows external accounts. A `service_account` key works, built field by field:
 * the gRPC fake (TLS, so the auth client runs) receives a self-signed JWT from that key, and a
 * `token_uri` pointing elsewhere is refused.
 */
import { generateKeyPairSync, randomUUID, verify } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { KubeObject } from '../../src/api/types.ts';
import { createCertificates } from '../../src/server/certs.ts';
import { admissionReview } from '../helpers/admission-review.ts';
import { startListener } from './listener.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

// grpc-js reads its default roots once, when it is loaded: the gRPC fake's CA must be in place
// before any module that loads it, so those are imported below.
const dir = await mkdtemp(join(tmpdir(), 'esw-gcp-json-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const bundle = await createCertificates({ hosts: ['localhost', '127.0.0.1'] });
await writeFile(join(dir, 'ca.crt'), bundle.caCert);
process.env.GRPC_DEFAULT_SSL_ROOTS_FILE_PATH = join(dir, 'ca.crt');
// No ambient Google identity on the test machine either.
delete process.env.GOOGLE_APPLICATION_CREDENTIALS;

const { mutateSecret } = await import('../../src/admission/mutate.ts');
const { createLogger } = await import('../../src/observability/logger.ts');
const { createMetrics } = await import('../../src/observability/metrics.ts');
const { createProviders } = await import('../../src/providers/registry.ts');
const { MemoryRegistry } = await import('../../src/resolve/memory-registry.ts');
const { StoreResolver } = await import('../../src/resolve/resolver.ts');
const { startServer } = await import('../../src/server/serve.ts');
const { GcpSecretManagerFake } = await import('../fakes/gcp-secret-manager.ts');
const { request } = await import('../helpers/https.ts');

/** The content of a file on the webhook's disk (in real life: its ServiceAccount token). */
const FILE_CANARY = `CANARY-file-${randomUUID()}`;
const PROJECT = 'tenant-project';

const b64 = (s: string) => Buffer.from(s).toString('base64');

async function setup(t: Test, allowExternalAccount: boolean) {
  const listener = await startListener(t);
  const localFile = join(dir, `local-${randomUUID()}`);
  await writeFile(localFile, FILE_CANARY);
  const gcp = new GcpSecretManagerFake();
  const { host, port } = await gcp.start({ tls: { cert: bundle.cert, key: bundle.key } });
  t.teardown(() => gcp.close());
  gcp.addSecret({ project: PROJECT, id: 'db', versions: [JSON.stringify({ password: 'from-gcp' })] });

  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const saKey = {
    type: 'service_account',
    project_id: PROJECT,
    private_key_id: 'k1',
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: 'reader@tenant-project.iam.gserviceaccount.com',
    token_uri: 'https://oauth2.googleapis.com/token',
  };
  const externalAccount = {
    type: 'external_account',
    audience: '//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/k',
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    token_url: `${listener.url}/token`,
  };
  const credentials: Record<string, unknown> = {
    'file-source': { ...externalAccount, credential_source: { file: localFile } },
    'url-source': { ...externalAccount, credential_source: { url: `${listener.url}/subject-token` } },
    'executable-source': {
      ...externalAccount,
      credential_source: { executable: { command: `/bin/sh -c "cat ${localFile}"` } },
    },
    'aws-source': {
      ...externalAccount,
      credential_source: {
        environment_id: 'aws1',
        region_url: `${listener.url}/region`,
        url: `${listener.url}/creds`,
      },
    },
    'sa-token-uri': { ...saKey, token_uri: `${listener.url}/token` },
    'sa-universe': { ...saKey, universe_domain: 'attacker.example' },
    impersonated: { type: 'impersonated_service_account', source_credentials: { type: 'external_account' } },
    'service-account': saKey,
  };
  const registry = new MemoryRegistry();
  registry.upsert({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'gcp-credentials', namespace: 'team-a' },
    data: Object.fromEntries(Object.entries(credentials).map(([k, v]) => [k, b64(JSON.stringify(v))])),
  } as KubeObject);
  for (const key of Object.keys(credentials)) {
    registry.upsert({
      apiVersion: 'external-secrets.io/v1',
      kind: 'SecretStore',
      metadata: { name: key, namespace: 'team-a', uid: `uid-${key}`, generation: 1 },
      spec: {
        provider: {
          gcpsm: {
            projectID: PROJECT,
            auth: { secretRef: { secretAccessKeySecretRef: { name: 'gcp-credentials', key } } },
          },
        },
      },
    } as KubeObject);
  }
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (l: string) => lines.push(l) } });
  const metrics = createMetrics();
  const resolver = new StoreResolver({
    registry,
    secrets: registry,
    providers: createProviders(),
    logger,
    metrics,
    maxAttempts: 1,
    // TLS to the fake: the auth client runs, as against Google.
    endpoints: { gcp: { host, port, insecure: false } },
    identity: { ambientNamespaces: [], gcpExternalAccount: allowExternalAccount },
  });
  t.teardown(() => resolver.close());
  const tls = {
    certFile: join(dir, `tls-${randomUUID()}.crt`),
    keyFile: join(dir, `tls-${randomUUID()}.key`),
  };
  await writeFile(tls.certFile, bundle.cert);
  await writeFile(tls.keyFile, bundle.key);
  const server = await startServer(
    {
      validate: async () => ({ allowed: true }),
      mutate: (req) => mutateSecret(req, { resolver, logger, deadlineMs: 5_000 }),
      notReady: () => [],
    },
    { port: 0, host: '127.0.0.1', tls, logger, metrics, certPollMs: 60_000 },
  );
  t.teardown(() => server.shutdown('test teardown'));
  const mutate = async (storeName: string) => {
    const secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 'app',
        namespace: 'team-a',
        labels: { 'esw.io/inject': 'true' },
        annotations: { 'esw.io/store': storeName },
      },
      data: { password: b64('${ref:db#password}') },
    };
    const review = admissionReview('Secret', secret, {
      name: 'app',
      namespace: 'team-a',
      userInfo: { username: 'tenant', groups: ['system:authenticated'] },
      oldObject: null,
      dryRun: false,
    });
    const res = await request(`https://127.0.0.1:${server.port}/mutate`, review, { ca: bundle.caCert });
    t.equal(res.status, 200);
    t.notMatch(res.text, FILE_CANARY);
    return res.json<{
      response: { allowed: boolean; patch?: string; status?: { code?: number; message?: string } };
    }>().response;
  };
  return { mutate, listener, gcp, lines, publicKey, saKey };
}

for (const allowed of [false, true]) {
  t.test(`external_account sources are never followed (external accounts allowed: ${allowed})`, async (t) => {
    const { mutate, listener, gcp, lines } = await setup(t, allowed);
    for (const store of ['file-source', 'url-source', 'executable-source', 'aws-source']) {
      const r = await mutate(store);
      t.equal(r.allowed, false, store);
      t.equal(r.status?.code, 422, `${store}: refused as an invalid store`);
      t.match(
        r.status?.message,
        allowed ? /"credential_source\.[a-z_]+" is not allowed/ : /needs a cluster admin to allow it/,
        store,
      );
    }
    t.same(listener.heard, [], 'the listener heard nothing: no file sent, no URL fetched');
    t.equal(gcp.calls.AccessSecretVersion, 0);
    t.notMatch(lines.join('\n'), FILE_CANARY);
  });
}

t.test(
  'a service_account key works, built from its fields; other types and endpoints are refused',
  async (t) => {
    const { mutate, listener, gcp, publicKey, saKey } = await setup(t, true);
    const r = await mutate('service-account');
    t.equal(r.allowed, true, r.status?.message ?? '');
    const ops = JSON.parse(Buffer.from(r.patch ?? '', 'base64').toString('utf8')) as {
      path: string;
      value: string;
    }[];
    t.equal(
      Buffer.from(ops.find((o) => o.path === '/data/password')?.value ?? '', 'base64').toString(),
      'from-gcp',
    );
    // The gRPC call carried a JWT signed by the tenant's key for the cloud-platform scope, and no
    // token endpoint was called to get it.
    const auth = gcp.authorizations.at(-1) ?? '';
    const [header, payload, signature] = auth.replace(/^Bearer /, '').split('.');
    t.ok(
      verify(
        'RSA-SHA256',
        Buffer.from(`${header}.${payload}`),
        publicKey,
        Buffer.from(signature ?? '', 'base64url'),
      ),
      'signed by the key in the Secret',
    );
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as Record<string, unknown>;
    t.equal(claims.iss, saKey.client_email);
    t.match(String(claims.scope), 'https://www.googleapis.com/auth/cloud-platform');

    for (const [store, why] of [
      ['sa-token-uri', /"token_uri" must be Google's token endpoint/],
      ['sa-universe', /"universe_domain" must be "googleapis.com"/],
      ['impersonated', /credential type "impersonated_service_account" is not accepted/],
    ] as const) {
      const refused = await mutate(store);
      t.equal(refused.allowed, false, store);
      t.match(refused.status?.message, why, store);
    }
    t.same(listener.heard, []);
  },
);
