/**
 * Identity confinement through the real server over HTTPS (threat model: "a tenant borrows the
 * webhook's identity"). A tenant who may create a SecretStore in one namespace points it at a
 * listener of theirs and omits every credential:
 * - Vault `kubernetes` auth without secretRef/serviceAccountRef would POST this server's own
 *   ServiceAccount token (a canary here) to the tenant's `server`;
 * - AWS without `auth` would sign requests with this server's ambient AWS credentials (canary
 *   keys in the environment).
 * Both are refused at admission (/validate, the field and what to set instead) and at use
 * (/mutate, for stores that predate the webhook); the listener hears nothing. A
 * ClusterSecretStore, and a SecretStore in a namespace the admin allowed, may use them.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { mutateSecret } from '../../src/admission/mutate.ts';
import type { AdmissionResponse } from '../../src/admission/types.ts';
import { validateAdmission } from '../../src/admission/validate.ts';
import type { IdentityPolicy } from '../../src/api/identity.ts';
import type { KubeObject, SecretStore } from '../../src/api/types.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { createProviders } from '../../src/providers/registry.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { StoreResolver } from '../../src/resolve/resolver.ts';
import { createCertificates } from '../../src/server/certs.ts';
import { startServer } from '../../src/server/serve.ts';
import { AwsSecretsManagerFake } from '../fakes/aws-secrets-manager.ts';
import { VaultFake } from '../fakes/vault.ts';
import { admissionReview } from '../helpers/admission-review.ts';
import { request } from '../helpers/https.ts';
import { startListener } from './listener.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

/** This server's own ServiceAccount token (it can read every Secret in the cluster). */
const OWN_TOKEN = `CANARY-own-sa-token-${randomUUID()}`;
/** This server's ambient AWS credentials. */
const AMBIENT_KEY = `AKIACANARY${randomUUID().replace(/-/g, '').slice(0, 10).toUpperCase()}`;
const AMBIENT_SECRET = `CANARY-ambient-secret-${randomUUID()}`;
process.env.AWS_ACCESS_KEY_ID = AMBIENT_KEY;
process.env.AWS_SECRET_ACCESS_KEY = AMBIENT_SECRET;
delete process.env.AWS_PROFILE;

const POLICY: IdentityPolicy = { ambientNamespaces: ['platform-*'], gcpExternalAccount: false };

const b64 = (s: string) => Buffer.from(s).toString('base64');

function store(
  kind: 'SecretStore' | 'ClusterSecretStore',
  name: string,
  ns: string | undefined,
  provider: object,
) {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind,
    metadata: { name, ...(ns ? { namespace: ns } : {}), uid: `uid-${name}-${ns}`, generation: 1 },
    spec: { provider },
  } as SecretStore;
}

/** A tenant's CREATE, as the API server sends it. */
const TENANT = {
  userInfo: { username: 'tenant', groups: ['system:authenticated'] },
  oldObject: null,
  dryRun: false,
};

function storeReview(obj: SecretStore) {
  const ns = obj.metadata?.namespace;
  return admissionReview(obj.kind ?? '', obj, {
    ...TENANT,
    ...(obj.metadata?.name === undefined ? {} : { name: obj.metadata.name }),
    ...(ns ? { namespace: ns } : {}),
  });
}

function secretReview(ns: string, storeName: string, storeKind: string, key: string) {
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 'app',
      namespace: ns,
      labels: { 'esw.io/inject': 'true' },
      annotations: { 'esw.io/store': storeName, 'esw.io/store-kind': storeKind },
    },
    data: { password: b64(`\${ref:${key}#password}`) },
  };
  return admissionReview('Secret', secret, { ...TENANT, name: 'app', namespace: ns });
}

async function setup(t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'esw-identity-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const bundle = await createCertificates({ hosts: ['localhost', '127.0.0.1'] });
  const tls = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
  await writeFile(tls.certFile, bundle.cert);
  await writeFile(tls.keyFile, bundle.key);
  const ownTokenPath = join(dir, 'token');
  await writeFile(ownTokenPath, `${OWN_TOKEN}\n`);

  const listener = await startListener(t);
  const vault = new VaultFake();
  await vault.start();
  t.teardown(() => vault.close());
  // The legitimate Vault accepts this server's own token for role "webhook".
  vault.addKubernetesRole('webhook', OWN_TOKEN);
  vault.putKv2('secret', 'app', { password: 'from-vault' });
  const aws = await AwsSecretsManagerFake.start();
  t.teardown(() => aws.close());
  aws.put('app', JSON.stringify({ password: 'from-aws' }));

  const ownVault = (server: string) => ({
    vault: { server, path: 'secret', auth: { kubernetes: { role: 'webhook' } } },
  });
  const ambientAws = { aws: { service: 'SecretsManager', region: 'us-east-1' } };
  const stores = {
    tenantVault: store('SecretStore', 'vault', 'team-a', ownVault(listener.url)),
    tenantAws: store('SecretStore', 'aws', 'team-a', ambientAws),
    platformVault: store('SecretStore', 'vault', 'platform-ops', ownVault(vault.url)),
    platformAws: store('SecretStore', 'aws', 'platform-ops', ambientAws),
    clusterVault: store('ClusterSecretStore', 'cluster-vault', undefined, ownVault(vault.url)),
    clusterAws: store('ClusterSecretStore', 'cluster-aws', undefined, ambientAws),
  };
  const registry = new MemoryRegistry();
  // Stores written before this webhook ran (or while it was down): never admitted by it.
  for (const s of Object.values(stores)) registry.upsert(s as KubeObject);

  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (l: string) => lines.push(l) } });
  const metrics = createMetrics();
  const resolver = new StoreResolver({
    registry,
    secrets: registry,
    providers: createProviders(),
    logger,
    metrics,
    endpoints: { aws: aws.endpoint },
    maxAttempts: 1,
    identity: POLICY,
    ownTokenPath,
    // Named ServiceAccounts only; this server's own token is never a TokenRequest.
    serviceAccountToken: async (req) => (req.name ? `token-for-${req.name}` : OWN_TOKEN),
  });
  t.teardown(() => resolver.close());
  const server = await startServer(
    {
      validate: async (req) => validateAdmission(req, { registry, identity: POLICY }),
      mutate: (req) => mutateSecret(req, { resolver, logger, deadlineMs: 5_000 }),
      notReady: () => [],
    },
    { port: 0, host: '127.0.0.1', tls, logger, metrics, certPollMs: 60_000 },
  );
  t.teardown(() => server.shutdown('test teardown'));
  const post = async (path: string, body: unknown): Promise<AdmissionResponse> => {
    const res = await request(`https://127.0.0.1:${server.port}${path}`, body, { ca: bundle.caCert });
    t.equal(res.status, 200, `${path} answers 200`);
    const text = res.text;
    t.notMatch(text, OWN_TOKEN, 'the own token never appears in a response');
    t.notMatch(text, AMBIENT_SECRET, 'the ambient secret key never appears in a response');
    return res.json<{ response: AdmissionResponse }>().response;
  };
  const metricsText = async () => metrics.registry.metrics();
  return { post, listener, vault, aws, stores, lines, metricsText };
}

t.test('admission: a SecretStore that would borrow the webhook identity is refused', async (t) => {
  const { post, stores, listener } = await setup(t);
  const vault = await post('/validate', storeReview(stores.tenantVault));
  t.equal(vault.allowed, false);
  t.match(
    vault.status?.message,
    'spec.provider.vault.auth.kubernetes: Required value: a SecretStore must name secretRef or serviceAccountRef; otherwise this webhook would use its own ServiceAccount token, which only a ClusterSecretStore may use (or a SecretStore in a namespace a cluster admin lists in --allow-ambient-identity-namespaces)',
  );
  const aws = await post('/validate', storeReview(stores.tenantAws));
  t.equal(aws.allowed, false);
  t.match(
    aws.status?.message,
    'spec.provider.aws.auth: Required value: a SecretStore must name auth.secretRef or auth.jwt',
  );

  // Allowed: a ClusterSecretStore (cluster admins only), a namespace the admin listed.
  for (const s of [stores.platformVault, stores.platformAws, stores.clusterVault, stores.clusterAws]) {
    const r = await post('/validate', storeReview(s));
    t.equal(r.allowed, true, `${s.kind} ${s.metadata?.namespace ?? ''}/${s.metadata?.name}`);
  }
  t.same(listener.heard, [], 'admission contacts nobody');
});

t.test('at use: the canary ServiceAccount token never reaches the tenant listener', async (t) => {
  const { post, listener, lines, metricsText } = await setup(t);
  const r = await post('/mutate', secretReview('team-a', 'vault', 'SecretStore', 'app'));
  t.equal(r.allowed, false);
  t.equal(r.status?.code, 403);
  t.match(r.status?.message, /ESW_IDENTITY_FORBIDDEN/);
  t.match(r.status?.message, /spec\.provider\.vault\.auth\.kubernetes/);
  t.same(listener.heard, [], 'the listener heard nothing');
  t.notMatch(listener.text(), OWN_TOKEN);
  t.notMatch(lines.join('\n'), OWN_TOKEN, 'not in the log');
  t.notMatch(await metricsText(), OWN_TOKEN, 'not in the metrics');
});

t.test('at use: ambient AWS credentials are never used for a tenant store', async (t) => {
  const { post, aws, lines } = await setup(t);
  const r = await post('/mutate', secretReview('team-a', 'aws', 'SecretStore', 'app'));
  t.equal(r.allowed, false);
  t.equal(r.status?.code, 403);
  t.match(r.status?.message, /ESW_IDENTITY_FORBIDDEN.*spec\.provider\.aws\.auth/);
  t.same(aws.accessKeys, [], 'no request signed with the ambient key reached AWS');
  t.notMatch(lines.join('\n'), AMBIENT_SECRET);
});

t.test('allowed: ClusterSecretStores and namespaces the admin listed use the webhook identity', async (t) => {
  const { post, vault, aws, listener } = await setup(t);
  const decoded = async (ns: string, store: string, kind: string) => {
    const r = await post('/mutate', secretReview(ns, store, kind, 'app'));
    t.equal(r.allowed, true, `${kind} ${store} from ${ns}: ${r.status?.message ?? ''}`);
    const ops = JSON.parse(Buffer.from(r.patch ?? '', 'base64').toString('utf8')) as {
      path: string;
      value: unknown;
    }[];
    const data = ops.find((o) => o.path === '/data')?.value as Record<string, string> | undefined;
    const pw = ops.find((o) => o.path === '/data/password')?.value ?? data?.password;
    return Buffer.from(String(pw), 'base64').toString('utf8');
  };
  t.equal(await decoded('platform-ops', 'vault', 'SecretStore'), 'from-vault');
  t.equal(await decoded('team-a', 'cluster-vault', 'ClusterSecretStore'), 'from-vault');
  t.equal(vault.loginsByMount.get('kubernetes'), 2, 'each logged in with the own token');
  t.equal(await decoded('platform-ops', 'aws', 'SecretStore'), 'from-aws');
  t.equal(await decoded('team-a', 'cluster-aws', 'ClusterSecretStore'), 'from-aws');
  t.ok(aws.accessKeys.length >= 1 && aws.accessKeys.every((k) => k === AMBIENT_KEY), 'the ambient key');
  t.same(listener.heard, []);
});
