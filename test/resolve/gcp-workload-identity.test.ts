/**
 * GCP workload identity end to end through the resolver: the real gcpsm provider, the real
 * google-auth-library external-account clients against the STS + IAM Credentials fake, and the
 * real SecretManagerServiceClient over TLS against the gRPC fake, which serves a secret only to
 * the access token of the principal allowed to read it. ServiceAccount tokens come from an
 * injected TokenRequest source (JWT-shaped, its signature a canary), ServiceAccounts from the
 * registry.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { KubeObject, StoreKind } from '../../src/api/types.ts';
import { createCertificates } from '../../src/server/certs.ts';
import { restoreEnv } from '../helpers/env.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

// grpc-js reads its default roots once, when it is loaded: the gRPC fake's CA must be in place
// before any module that loads it, so those are imported below.
const dir = await mkdtemp(join(tmpdir(), 'esw-gcp-wi-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const bundle = await createCertificates({ hosts: ['localhost', '127.0.0.1'] });
await writeFile(join(dir, 'ca.crt'), bundle.caCert);
process.env.GRPC_DEFAULT_SSL_ROOTS_FILE_PATH = join(dir, 'ca.crt');
delete process.env.GOOGLE_APPLICATION_CREDENTIALS;

const { validateObject } = await import('../../src/api/validate.ts');
const { createLogger } = await import('../../src/observability/logger.ts');
const { createProviders } = await import('../../src/providers/registry.ts');
const { MemoryRegistry } = await import('../../src/resolve/memory-registry.ts');
const { StoreResolver } = await import('../../src/resolve/resolver.ts');
const { GcpSecretManagerFake, GrpcCode } = await import('../fakes/gcp-secret-manager.ts');
const { GcpStsFake } = await import('../fakes/gcp-sts.ts');

const PROJECT = 'secrets-project';
const CLUSTER = { clusterProjectID: 'cluster-project', clusterLocation: 'europe-west1', clusterName: 'prod' };
const POOL = 'cluster-project.svc.id.goog';
const GKE_AUDIENCE = `identitynamespace:${POOL}:https://container.googleapis.com/v1/projects/cluster-project/locations/europe-west1/clusters/prod`;
const WIF_AUDIENCE =
  '//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/k8s/providers/prod';
const GSA = 'reader@secrets-project.iam.gserviceaccount.com';
const VALUE = `CANARY-value-${randomUUID()}`;
const TOKEN_CANARY = `CANARY-sa-token-${randomUUID()}`;
const AWS_SECRET = `CANARY-aws-${randomUUID()}`;

interface TokenCall {
  namespace: string;
  name: string;
  audiences?: string[];
  expirationSeconds?: number;
}

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

function serviceAccount(ns: string, name: string, annotations: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: ns, annotations } };
}

function gcpStore(kind: StoreKind, name: string, ns: string | undefined, gcpsm: Record<string, unknown>) {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind,
    metadata: { name, ...(ns ? { namespace: ns } : {}), uid: `uid-${name}`, generation: 1 },
    spec: { provider: { gcpsm: { projectID: PROJECT, ...gcpsm } } },
  } as KubeObject;
}

async function setup(t: Test, opts: { tokenError?: Error } = {}) {
  const sts = await GcpStsFake.start();
  t.teardown(() => sts.close());
  const gcp = new GcpSecretManagerFake();
  const { host, port } = await gcp.start({ tls: { cert: bundle.cert, key: bundle.key } });
  t.teardown(() => gcp.close());
  // Only the granted principal's access token reads a secret.
  const readers = new Set<string>();
  gcp.authorize = (authorization) => {
    const principal = sts.principalOf(authorization);
    if (!principal) return GrpcCode.UNAUTHENTICATED;
    return readers.has(principal) ? undefined : GrpcCode.PERMISSION_DENIED;
  };
  for (let i = 0; i < 5; i++) gcp.addSecret({ project: PROJECT, id: `db-${i}`, versions: [`${VALUE}-${i}`] });

  const tokenCalls: TokenCall[] = [];
  const registry = new MemoryRegistry();
  // ServiceAccounts, as the API server would answer them (src/kube/service-accounts.ts).
  const accounts = new Map<string, KubeObject>();
  const upsert = (obj: KubeObject) => {
    if (obj.kind === 'ServiceAccount') accounts.set(`${obj.metadata?.namespace}/${obj.metadata?.name}`, obj);
    else registry.upsert(obj);
  };
  const lines: string[] = [];
  const resolver = new StoreResolver({
    registry,
    secrets: registry,
    providers: createProviders(),
    logger: createLogger({ level: 'debug', destination: { write: (l: string) => lines.push(l) } }),
    maxAttempts: 1,
    // On this wall clock, a touched store's credentials are re-read however recently read.
    credentialsRereadMinMs: 0,
    serviceAccounts: async (ns, name) => {
      const sa = accounts.get(`${ns}/${name}`);
      return sa ? { annotations: sa.metadata?.annotations ?? {} } : undefined;
    },
    endpoints: { gcp: { host, port, insecure: false }, gcpSts: sts.tokenUrl, gcpIamCredentials: sts.url },
    serviceAccountToken: async (req) => {
      tokenCalls.push({ ...req });
      if (opts.tokenError) throw opts.tokenError;
      const claims = {
        sub: `system:serviceaccount:${req.namespace}:${req.name}`,
        aud: req.audiences ?? ['https://kubernetes.default.svc'],
        exp: Math.floor(Date.now() / 1000) + (req.expirationSeconds ?? 3600),
      };
      return `${b64url({ alg: 'RS256' })}.${b64url(claims)}.${TOKEN_CANARY}`;
    },
  });
  t.teardown(() => resolver.close());
  const leaks = () => {
    const text = lines.join('\n');
    for (const secret of [VALUE, TOKEN_CANARY, AWS_SECRET, ...sts.issued()]) {
      if (text.includes(secret)) return secret.slice(0, 20);
    }
    return undefined;
  };
  return { sts, gcp, readers, registry: { upsert }, resolver, tokenCalls, lines, leaks };
}

const read = (
  resolver: InstanceType<typeof StoreResolver>,
  kind: StoreKind,
  name: string,
  ns: string,
  key: string,
) => resolver.getValue({ kind, name }, ns, { key });

t.test(
  'workloadIdentity: TokenRequest -> STS -> impersonation of the annotated GSA, once for many reads',
  async (t) => {
    const { sts, readers, registry, resolver, tokenCalls, leaks } = await setup(t);
    sts.providers.set(GKE_AUDIENCE, POOL);
    sts.allowImpersonation(GSA, 'system:serviceaccount:team-a:app');
    readers.add(`gsa:${GSA}`);
    registry.upsert(serviceAccount('team-a', 'app', { 'iam.gke.io/gcp-service-account': GSA }));
    registry.upsert(
      gcpStore('SecretStore', 'gcp', 'team-a', {
        auth: { workloadIdentity: { serviceAccountRef: { name: 'app' }, ...CLUSTER } },
      }),
    );
    for (let round = 0; round < 3; round++) {
      const values = await Promise.all(
        [0, 1, 2, 3, 4].map((i) => read(resolver, 'SecretStore', 'gcp', 'team-a', `db-${i}`)),
      );
      t.same(
        values.map(String),
        [0, 1, 2, 3, 4].map((i) => `${VALUE}-${i}`),
      );
    }
    t.equal(tokenCalls.length, 1, 'one TokenRequest');
    t.same(tokenCalls[0], { namespace: 'team-a', name: 'app', audiences: [POOL], expirationSeconds: 900 });
    t.equal(sts.exchanges.length, 1, 'one token exchange');
    t.match(sts.exchanges[0], {
      audience: GKE_AUDIENCE,
      subjectTokenType: 'urn:ietf:params:oauth:token-type:jwt',
      sub: 'system:serviceaccount:team-a:app',
      aud: [POOL],
    });
    t.equal(sts.impersonations.length, 1, 'one impersonation');
    t.match(sts.impersonations[0], {
      email: GSA,
      principal: 'system:serviceaccount:team-a:app',
      scope: ['https://www.googleapis.com/auth/cloud-platform'],
    });
    t.equal(leaks(), undefined, 'no value or token in the logs');
  },
);

t.test('workloadIdentity without the annotation: the federated token itself reads', async (t) => {
  const { sts, readers, registry, resolver, tokenCalls } = await setup(t);
  sts.providers.set(GKE_AUDIENCE, POOL);
  readers.add('system:serviceaccount:team-b:direct');
  registry.upsert(serviceAccount('team-b', 'direct'));
  registry.upsert(
    gcpStore('SecretStore', 'gcp', 'team-b', {
      auth: {
        workloadIdentity: { serviceAccountRef: { name: 'direct', audiences: ['extra'] }, ...CLUSTER },
      },
    }),
  );
  t.equal(String(await read(resolver, 'SecretStore', 'gcp', 'team-b', 'db-1')), `${VALUE}-1`);
  t.same(tokenCalls[0]?.audiences, [POOL, 'extra'], 'the pool first, then serviceAccountRef.audiences');
  t.equal(sts.impersonations.length, 0, 'no impersonation');
});

t.test('a token inside the refresh window is exchanged again: cached until near expiry', async (t) => {
  const { sts, gcp, readers, registry, resolver, tokenCalls } = await setup(t);
  // google-auth-library refreshes five minutes before expiry: a 2-minute token is always due.
  sts.lifetimeSeconds = 120;
  sts.providers.set(GKE_AUDIENCE, POOL);
  readers.add('system:serviceaccount:team-a:app');
  registry.upsert(serviceAccount('team-a', 'app'));
  registry.upsert(
    gcpStore('SecretStore', 'gcp', 'team-a', {
      auth: { workloadIdentity: { serviceAccountRef: { name: 'app' }, ...CLUSTER } },
    }),
  );
  for (let i = 0; i < 3; i++) await read(resolver, 'SecretStore', 'gcp', 'team-a', `db-${i}`);
  t.equal(sts.exchanges.length, 3, 'one exchange per read');
  t.equal(tokenCalls.length, 3, 'a fresh ServiceAccount token for each');
  t.equal(gcp.calls.AccessSecretVersion, 3);
});

t.test(
  'workloadIdentityFederation with serviceAccountRef; gcpServiceAccountEmail wins over the annotation',
  async (t) => {
    const { sts, readers, registry, resolver, tokenCalls, leaks } = await setup(t);
    const other = 'other@secrets-project.iam.gserviceaccount.com';
    sts.providers.set(WIF_AUDIENCE, 'https://prod.example/k8s');
    sts.allowImpersonation(GSA, 'system:serviceaccount:ops:wif');
    sts.allowImpersonation(other, 'system:serviceaccount:ops:wif');
    readers.add(`gsa:${GSA}`);
    registry.upsert(serviceAccount('ops', 'wif', { 'iam.gke.io/gcp-service-account': other }));
    const wif = {
      audience: WIF_AUDIENCE,
      serviceAccountRef: { name: 'wif', namespace: 'ops', audiences: ['https://prod.example/k8s'] },
    };
    registry.upsert(
      gcpStore('ClusterSecretStore', 'explicit', undefined, {
        auth: { workloadIdentityFederation: { ...wif, gcpServiceAccountEmail: GSA } },
      }),
    );
    registry.upsert(
      gcpStore('ClusterSecretStore', 'annotated', undefined, { auth: { workloadIdentityFederation: wif } }),
    );
    t.equal(String(await read(resolver, 'ClusterSecretStore', 'explicit', 'any', 'db-2')), `${VALUE}-2`);
    t.same(tokenCalls[0], {
      namespace: 'ops',
      name: 'wif',
      audiences: ['https://prod.example/k8s'],
      expirationSeconds: 900,
    });
    t.match(sts.impersonations.at(-1), { email: GSA });
    // The annotated GSA may not read: the refusal is Secret Manager's, named, without details.
    await t.rejects(read(resolver, 'ClusterSecretStore', 'annotated', 'any', 'db-2'), {
      message: /gcpsm: secret "db-2": access denied \(PERMISSION_DENIED\)/,
    });
    t.match(sts.impersonations.at(-1), { email: other });
    t.equal(leaks(), undefined);
  },
);

t.test('workloadIdentityFederation with awsSecurityCredentials: a signed GetCallerIdentity', async (t) => {
  const { sts, readers, registry, resolver, tokenCalls, leaks } = await setup(t);
  sts.providers.set(WIF_AUDIENCE, '');
  sts.awsKeys.set('AKIDEXAMPLE', AWS_SECRET);
  readers.add('aws:AKIDEXAMPLE');
  registry.upsert({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'aws', namespace: 'team-a' },
    data: {
      aws_access_key_id: Buffer.from('AKIDEXAMPLE').toString('base64'),
      aws_secret_access_key: Buffer.from(AWS_SECRET).toString('base64'),
    },
  } as KubeObject);
  registry.upsert(
    gcpStore('SecretStore', 'aws', 'team-a', {
      auth: {
        workloadIdentityFederation: {
          audience: WIF_AUDIENCE,
          awsSecurityCredentials: { awsCredentialsSecretRef: { name: 'aws' }, region: 'eu-west-1' },
        },
      },
    }),
  );
  t.equal(String(await read(resolver, 'SecretStore', 'aws', 'team-a', 'db-3')), `${VALUE}-3`);
  t.match(sts.exchanges[0], {
    subjectTokenType: 'urn:ietf:params:aws:token-type:aws4_request',
    awsKeyId: 'AKIDEXAMPLE',
    awsRegion: 'eu-west-1',
  });
  t.notOk(sts.exchanges[0]?.refused, 'the SigV4 signature verified with the secret key');
  t.equal(tokenCalls.length, 0, 'no ServiceAccount token');
  t.equal(leaks(), undefined);
});

t.test('failures are named, in our words, without tokens or Google text', async (t) => {
  const { sts, gcp, readers, registry, resolver, leaks } = await setup(t);
  registry.upsert(serviceAccount('team-a', 'app', { 'iam.gke.io/gcp-service-account': GSA }));
  registry.upsert(serviceAccount('team-a', 'bad', { 'iam.gke.io/gcp-service-account': 'not an email' }));
  const wiStore = (name: string, sa: string, extra: Record<string, unknown> = CLUSTER) =>
    registry.upsert(
      gcpStore('SecretStore', name, 'team-a', {
        auth: { workloadIdentity: { serviceAccountRef: { name: sa }, ...extra } },
      }),
    );
  wiStore('gcp', 'app');
  // STS does not know the provider.
  await t.rejects(read(resolver, 'SecretStore', 'gcp', 'team-a', 'db-0'), {
    message: /auth\.workloadIdentity: token exchange \(Google STS\) refused \(HTTP 400\)/,
  });
  t.equal(sts.exchanges.length, 1, 'one exchange attempt for the refused read, before any gRPC call');
  t.equal(gcp.calls.AccessSecretVersion, 0);
  // STS accepts; the impersonation is not granted.
  sts.providers.set(GKE_AUDIENCE, POOL);
  wiStore('gcp2', 'app');
  await t.rejects(read(resolver, 'SecretStore', 'gcp2', 'team-a', 'db-0'), {
    message: /service account impersonation \(IAM Credentials generateAccessToken\) refused \(HTTP 403\)/,
  });
  // STS down.
  sts.fail = { path: 'token', status: 503, body: `{"error":"${TOKEN_CANARY}"}` };
  wiStore('gcp3', 'app');
  await t.rejects(read(resolver, 'SecretStore', 'gcp3', 'team-a', 'db-0'), {
    message: /token exchange \(Google STS\) failed \(HTTP 503\)/,
  });
  sts.fail = undefined;
  // No such ServiceAccount; an annotation that is not an email.
  wiStore('missing', 'nobody');
  await t.rejects(read(resolver, 'SecretStore', 'missing', 'team-a', 'db-0'), {
    message:
      /ServiceAccount "team-a\/nobody" \(spec\.provider\.gcpsm\.auth\.workloadIdentity\.serviceAccountRef\) not found/,
  });
  wiStore('bad', 'bad');
  await t.rejects(read(resolver, 'SecretStore', 'bad', 'team-a', 'db-0'), {
    message: /iam\.gke\.io\/gcp-service-account annotation is not a service account email/,
  });
  t.equal(readers.size, 0);
  t.equal(leaks(), undefined);
});

t.test('a TokenRequest refusal surfaces as such', async (t) => {
  const { sts, registry, resolver } = await setup(t, {
    tokenError: new Error(
      'serviceaccounts "app" is forbidden: User cannot create resource "serviceaccounts/token"',
    ),
  });
  sts.providers.set(GKE_AUDIENCE, POOL);
  registry.upsert(serviceAccount('team-a', 'app'));
  registry.upsert(
    gcpStore('SecretStore', 'gcp', 'team-a', {
      auth: { workloadIdentity: { serviceAccountRef: { name: 'app' }, ...CLUSTER } },
    }),
  );
  await t.rejects(read(resolver, 'SecretStore', 'gcp', 'team-a', 'db-0'), {
    message: /could not get a token for ServiceAccount "team-a\/app"/,
  });
  t.equal(sts.exchanges.length, 0);
});

t.test('a SecretStore only ever uses ServiceAccounts of its own namespace', async (t) => {
  const { sts, registry, resolver, tokenCalls } = await setup(t);
  sts.providers.set(GKE_AUDIENCE, POOL);
  registry.upsert(serviceAccount('kube-system', 'admin', { 'iam.gke.io/gcp-service-account': GSA }));
  const spec = {
    auth: {
      workloadIdentity: { serviceAccountRef: { name: 'admin', namespace: 'kube-system' }, ...CLUSTER },
    },
  };
  const ss = gcpStore('SecretStore', 'steal', 'team-a', spec);
  const admission = validateObject(ss);
  t.match(
    admission.errors.map((e) => `${e.field}: ${e.message}`).join('\n'),
    /workloadIdentity\.serviceAccountRef\.namespace: .*may only refer to its own namespace "team-a"/,
    'refused at admission',
  );
  registry.upsert(ss);
  await t.rejects(read(resolver, 'SecretStore', 'steal', 'team-a', 'db-0'), {
    message: /serviceAccountRef\.namespace "kube-system" is not allowed/,
  });
  const fed = gcpStore('SecretStore', 'steal-wif', 'team-a', {
    auth: {
      workloadIdentityFederation: {
        audience: WIF_AUDIENCE,
        serviceAccountRef: { name: 'admin', namespace: 'kube-system' },
      },
    },
  });
  t.ok(validateObject(fed).errors.some((e) => /serviceAccountRef\.namespace/.test(e.field)));
  registry.upsert(fed);
  await t.rejects(read(resolver, 'SecretStore', 'steal-wif', 'team-a', 'db-0'), {
    message: /serviceAccountRef\.namespace "kube-system" is not allowed/,
  });
  t.equal(tokenCalls.length, 0, 'no token was ever requested');
  // A ClusterSecretStore names the namespace, as ESO allows.
  t.same(
    validateObject(gcpStore('ClusterSecretStore', 'ok', undefined, spec)).errors,
    [],
    'a ClusterSecretStore may name it',
  );
});

t.test('admission: ESO rules for workloadIdentityFederation; credConfig refused', async (t) => {
  const errors = (wif: Record<string, unknown>) =>
    validateObject(
      gcpStore('SecretStore', 's', 'team-a', { auth: { workloadIdentityFederation: wif } }),
    ).errors.map((e) => `${e.field}: ${e.message}`);
  t.same(errors({ audience: WIF_AUDIENCE, serviceAccountRef: { name: 'a' } }), []);
  t.match(errors({ serviceAccountRef: { name: 'a' } }).join('\n'), /audience: Required value/);
  t.match(
    errors({
      audience: 'x',
      serviceAccountRef: { name: 'a' },
      awsSecurityCredentials: { awsCredentialsSecretRef: { name: 'b' }, region: 'us-east-1' },
    }).join('\n'),
    /exactly one of credConfig, serviceAccountRef or awsSecurityCredentials/,
  );
  t.match(
    errors({ credConfig: { name: 'cm', key: 'cred.json' } }).join('\n'),
    /credConfig: .*not supported by external-secrets-webhook.*never follows/,
  );
  t.match(
    errors({ audience: 'x', serviceAccountRef: { name: 'a' }, gcpServiceAccountEmail: 'a@b.example' }).join(
      '\n',
    ),
    /gcpServiceAccountEmail/,
  );
  const warned = validateObject(
    gcpStore('SecretStore', 's', 'team-a', {
      auth: {
        workloadIdentityFederation: {
          audience: 'x',
          serviceAccountRef: { name: 'a' },
          externalTokenEndpoint: 'https://x',
        },
      },
    }),
  );
  t.same(warned.errors, []);
  t.match(warned.warnings.join('\n'), /externalTokenEndpoint/);
});

t.test(
  'workloadIdentity without cluster fields: the GKE metadata server answers them, as in ESO',
  async (t) => {
    const { sts, readers, registry, resolver, tokenCalls, gcp } = await setup(t);
    const asked: string[] = [];
    const metadata = http.createServer((req, res) => {
      asked.push(req.url ?? '');
      const answers: Record<string, string> = {
        '/computeMetadata/v1/project/project-id': 'meta-project',
        '/computeMetadata/v1/instance/attributes/cluster-location': 'us-central1',
        '/computeMetadata/v1/instance/attributes/cluster-name': 'autopilot',
      };
      const answer = req.headers['metadata-flavor'] === 'Google' ? answers[req.url ?? ''] : undefined;
      res.writeHead(answer === undefined ? 404 : 200, {
        'metadata-flavor': 'Google',
        'content-type': 'text/plain',
      });
      res.end(answer ?? 'not found');
    });
    metadata.listen(0, '127.0.0.1');
    await once(metadata, 'listening');
    t.teardown(() => metadata.close());
    restoreEnv(t, ['GCE_METADATA_HOST']);
    process.env.GCE_METADATA_HOST = `127.0.0.1:${(metadata.address() as AddressInfo).port}`;
    const pool = 'meta-project.svc.id.goog';
    sts.providers.set(
      `identitynamespace:${pool}:https://container.googleapis.com/v1/projects/meta-project/locations/us-central1/clusters/autopilot`,
      pool,
    );
    readers.add('system:serviceaccount:team-a:app');
    gcp.addSecret({ project: 'meta-project', id: 'in-cluster-project', versions: ['found'] });
    registry.upsert(serviceAccount('team-a', 'app'));
    registry.upsert({
      apiVersion: 'external-secrets.io/v1',
      kind: 'SecretStore',
      metadata: { name: 'meta', namespace: 'team-a', uid: 'uid-meta', generation: 1 },
      spec: { provider: { gcpsm: { auth: { workloadIdentity: { serviceAccountRef: { name: 'app' } } } } } },
    } as KubeObject);
    t.equal(
      String(await read(resolver, 'SecretStore', 'meta', 'team-a', 'in-cluster-project')),
      'found',
      'without projectID: the cluster project',
    );
    t.same(tokenCalls[0]?.audiences, [pool]);
    t.same(asked.sort(), [
      '/computeMetadata/v1/instance/attributes/cluster-location',
      '/computeMetadata/v1/instance/attributes/cluster-name',
      '/computeMetadata/v1/project/project-id',
    ]);

    // No metadata server: the field to set, named.
    metadata.close();
    await once(metadata, 'close');
    registry.upsert(
      gcpStore('SecretStore', 'no-meta', 'team-a', {
        auth: {
          workloadIdentity: { serviceAccountRef: { name: 'app' }, clusterProjectID: 'p', clusterName: 'c' },
        },
      }),
    );
    await t.rejects(read(resolver, 'SecretStore', 'no-meta', 'team-a', 'db-0'), {
      message: /workloadIdentity\.clusterLocation is not set and the GKE metadata server did not answer it/,
    });
  },
);

t.test(
  'a changed iam.gke.io/gcp-service-account annotation rebuilds the client when its credentials are re-read',
  async (t) => {
    const { sts, readers, registry, resolver } = await setup(t);
    const other = 'other@secrets-project.iam.gserviceaccount.com';
    sts.providers.set(GKE_AUDIENCE, POOL);
    sts.allowImpersonation(GSA, 'system:serviceaccount:team-a:app');
    sts.allowImpersonation(other, 'system:serviceaccount:team-a:app');
    readers.add(`gsa:${GSA}`);
    readers.add(`gsa:${other}`);
    registry.upsert(serviceAccount('team-a', 'app', { 'iam.gke.io/gcp-service-account': GSA }));
    const store = gcpStore('SecretStore', 'gcp', 'team-a', {
      auth: { workloadIdentity: { serviceAccountRef: { name: 'app' }, ...CLUSTER } },
    });
    registry.upsert(store);
    // A touched store's next lookup waits for its client's credentials to be re-read.
    const touch = () => resolver.storeTouched(store);
    await read(resolver, 'SecretStore', 'gcp', 'team-a', 'db-0');
    touch();
    await read(resolver, 'SecretStore', 'gcp', 'team-a', 'db-1');
    t.equal(sts.impersonations.length, 1, 'unchanged: the client is kept');
    registry.upsert(serviceAccount('team-a', 'app', { 'iam.gke.io/gcp-service-account': other }));
    touch();
    await read(resolver, 'SecretStore', 'gcp', 'team-a', 'db-2');
    t.same(
      sts.impersonations.map((i) => i.email),
      [GSA, other],
      'the annotation changed: the next read impersonates the new account',
    );
    // The annotation removed: the federated token itself, from the next client on.
    registry.upsert(serviceAccount('team-a', 'app'));
    readers.add('system:serviceaccount:team-a:app');
    touch();
    await read(resolver, 'SecretStore', 'gcp', 'team-a', 'db-3');
    t.equal(sts.impersonations.length, 2, 'no impersonation any more');
  },
);
