/**
 * GCP workload identity on the cluster double, as a tenant would use it with `kubectl apply`:
 * ESO's GKE Workload Identity SecretStore (`auth.workloadIdentity.serviceAccountRef`, the
 * ServiceAccount annotated with `iam.gke.io/gcp-service-account`) and an ExternalSecret.
 * - The API server issues the ServiceAccount token (TokenRequest, audience the identity
 *   namespace); the STS fake verifies its signature with the double's keys, as Google does
 *   with the cluster's OIDC keys; IAM Credentials impersonates the annotated GCP service
 *   account; Secret Manager (gRPC over TLS) serves only that account's access token.
 * - Many syncs cost one TokenRequest, one exchange and one impersonation.
 * - ESO's workloadIdentityFederation example as a ClusterSecretStore (serviceAccountRef with its
 *   namespace and audiences, gcpServiceAccountEmail) syncs an ExternalSecret of another namespace.
 * - A SecretStore naming another namespace's ServiceAccount is refused at admission.
 * - No token reaches a log line, an Event, a status or a metric.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createCertificates } from '../../src/server/certs.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

// grpc-js reads its default roots once, when it is loaded: the gRPC fake's CA must be in place
// before any module that loads it, so those are imported below.
const dir = await mkdtemp(join(tmpdir(), 'esw-gcp-wi-cluster-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const bundle = await createCertificates({ hosts: ['localhost', '127.0.0.1'] });
await writeFile(join(dir, 'ca.crt'), bundle.caCert);
process.env.GRPC_DEFAULT_SSL_ROOTS_FILE_PATH = join(dir, 'ca.crt');
delete process.env.GOOGLE_APPLICATION_CREDENTIALS;

const { startCluster, waitFor } = await import('../cluster-helpers.ts');
const { kubectlFor } = await import('../fakes/kubectl.ts');
const { GcpSecretManagerFake, GrpcCode } = await import('../fakes/gcp-secret-manager.ts');
const { GcpStsFake } = await import('../fakes/gcp-sts.ts');

const POOL = 'cluster-project.svc.id.goog';
const GKE_AUDIENCE = `identitynamespace:${POOL}:https://container.googleapis.com/v1/projects/cluster-project/locations/europe-west1/clusters/prod`;
const GSA = 'app-reader@secrets-project.iam.gserviceaccount.com';

t.test('GKE workload identity of a named ServiceAccount, through TokenRequest', async (t) => {
  const { api, startReplica } = await startCluster(t);
  const sts = await GcpStsFake.start();
  t.teardown(() => sts.close());
  sts.providers.set(GKE_AUDIENCE, POOL);
  sts.verify = (jwt, audience) => api.verifyToken(jwt, audience) !== undefined;
  sts.allowImpersonation(GSA, 'system:serviceaccount:team-a:app');
  const gcp = new GcpSecretManagerFake();
  const { host, port } = await gcp.start({ tls: { cert: bundle.cert, key: bundle.key } });
  t.teardown(() => gcp.close());
  gcp.authorize = (authorization) =>
    sts.principalOf(authorization) === `gsa:${GSA}` ? undefined : GrpcCode.PERMISSION_DENIED;
  gcp.addSecret({
    project: 'secrets-project',
    id: 'db',
    versions: [JSON.stringify({ password: 'from-gcp' })],
  });

  for (const ns of ['team-a', 'team-b']) {
    api.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    api.put({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'app', namespace: ns, annotations: { 'iam.gke.io/gcp-service-account': GSA } },
    });
  }
  const { server, lines, metrics } = await startReplica('esw-0', undefined, {
    cacheTtlMs: 0,
    endpoints: { gcp: { host, port, insecure: false }, gcpSts: sts.tokenUrl, gcpIamCredentials: sts.url },
  });
  await waitFor('ready', () => server.readiness().ready || undefined);
  const kubectl = await kubectlFor({ url: api.url, caPem: api.caPem }, { token: 'admin-token' });
  t.teardown(() => kubectl.close());

  const store = (ns: string, name: string, saNamespace?: string) => `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: ${name}, namespace: ${ns} }
spec:
  provider:
    gcpsm:
      projectID: secrets-project
      auth:
        workloadIdentity:
          clusterLocation: europe-west1
          clusterName: prod
          clusterProjectID: cluster-project
          serviceAccountRef:
            name: app${saNamespace ? `\n            namespace: ${saNamespace}` : ''}
`;
  const es = `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: db, namespace: team-a }
spec:
  refreshInterval: 1s
  secretStoreRef: { name: gcp, kind: SecretStore }
  target: { name: db-target }
  data:
    - secretKey: password
      remoteRef: { key: db, property: password }
`;
  for (const doc of [store('team-a', 'gcp'), es]) {
    const r = await kubectl.run(['apply', '--validate=false', '-f', '-'], { stdin: doc });
    t.equal(r.code, 0, r.stderr);
  }
  const target = await waitFor('db synced', () => api.get('secrets', 'team-a', 'db-target'));
  t.equal(
    Buffer.from(String((target.data as Record<string, string>).password), 'base64').toString(),
    'from-gcp',
  );
  // More syncs (refreshInterval 1s, no value cache): one token, one exchange, one impersonation.
  const reads = gcp.calls.AccessSecretVersion;
  await waitFor('more syncs', () => gcp.calls.AccessSecretVersion >= reads + 3 || undefined);
  t.same(
    api.tokenRequests({ namespace: 'team-a' }).map((r) => [r.name, r.audiences, r.expirationSeconds]),
    [['app', [POOL], 900]],
    'one TokenRequest, for the identity namespace',
  );
  t.equal(sts.exchanges.length, 1, 'one exchange');
  t.match(sts.exchanges[0], { audience: GKE_AUDIENCE, sub: 'system:serviceaccount:team-a:app' });
  t.notOk(sts.exchanges[0]?.refused, 'the API server token verified');
  t.equal(sts.impersonations.length, 1, 'one impersonation');

  // Another namespace's ServiceAccount: refused at admission.
  const cross = await kubectl.run(['apply', '--validate=false', '-f', '-'], {
    stdin: store('team-a', 'gcp-x', 'team-b'),
  });
  t.not(cross.code, 0);
  t.match(
    cross.stderr,
    'spec.provider.gcpsm.auth.workloadIdentity.serviceAccountRef.namespace: Forbidden: a SecretStore may only refer to its own namespace "team-a", not "team-b"',
  );
  t.notOk(api.get('secretstores', 'team-a', 'gcp-x'));

  // ESO's workloadIdentityFederation example as a ClusterSecretStore: the ServiceAccount's
  // namespace named, the API server's token with the provider's audience, gcpServiceAccountEmail.
  const wifAudience =
    '//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/k8s/providers/prod';
  sts.providers.set(wifAudience, 'https://prod.example/k8s');
  sts.allowImpersonation(GSA, 'system:serviceaccount:team-b:app');
  const css = `apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: { name: gcp-wif }
spec:
  provider:
    gcpsm:
      projectID: secrets-project
      auth:
        workloadIdentityFederation:
          audience: ${wifAudience}
          gcpServiceAccountEmail: ${GSA}
          serviceAccountRef:
            name: app
            namespace: team-b
            audiences: [https://prod.example/k8s]
`;
  const wifEs = `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: db-wif, namespace: team-a }
spec:
  refreshInterval: 1h
  secretStoreRef: { name: gcp-wif, kind: ClusterSecretStore }
  target: { name: db-wif-target }
  data:
    - secretKey: password
      remoteRef: { key: db, property: password }
`;
  for (const doc of [css, wifEs]) {
    const r = await kubectl.run(['apply', '--validate=false', '-f', '-'], { stdin: doc });
    t.equal(r.code, 0, r.stderr);
  }
  const wifTarget = await waitFor('db-wif synced', () => api.get('secrets', 'team-a', 'db-wif-target'));
  t.equal(
    Buffer.from(String((wifTarget.data as Record<string, string>).password), 'base64').toString(),
    'from-gcp',
  );
  t.same(
    api.tokenRequests({ namespace: 'team-b' }).map((r) => [r.name, r.audiences, r.expirationSeconds]),
    [['app', ['https://prod.example/k8s'], 900]],
  );
  t.match(sts.exchanges.at(-1), { audience: wifAudience, sub: 'system:serviceaccount:team-b:app' });
  t.notOk(sts.exchanges.at(-1)?.refused);

  const everything = [
    lines.join('\n'),
    JSON.stringify(api.list('events')),
    JSON.stringify(api.list('externalsecrets')),
    JSON.stringify(api.list('secretstores')),
    await metrics.registry.metrics(),
  ].join('\n');
  for (const token of sts.issued()) t.notOk(everything.includes(token), 'no access token anywhere');
  t.notOk(everything.includes('from-gcp'), 'no value anywhere');
});
