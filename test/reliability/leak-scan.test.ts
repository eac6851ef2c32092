/**
 * Leak scan across every provider: canary values (and canary credentials) in the AWS, Vault,
 * GCP, Azure and fake providers (Vault also behind userpass, ldap, jwt and iam logins whose
 * passwords, JWTs and AWS secret keys are canaries, right and wrong; GCP also behind workload
 * identity and federation, whose ServiceAccount tokens, AWS keys, STS answers and access tokens
 * are canaries, a refused exchange among them; Vault kubernetes auth, Azure workload identity and
 * AWS per-store IRSA behind a ServiceAccount token whose signature is a canary), driven through admission (fills and refusals), refresh (syncs,
 * template and property errors, `templateFrom` literals that render invalid YAML, API-server
 * refusals whose Status message echoes a value) and provider errors whose bodies carry a canary
 * (identifier-shaped too, where a body's error code is read). None may appear in a log line
 * (debug level), an Event, a status, an annotation or label of a written Secret, the metrics text,
 * or a refusal message or warning — only in Secret data, where it belongs.
 */
import { randomUUID } from 'node:crypto';
import { ApiException } from '@kubernetes/client-node';
import jsonpatch from 'fast-json-patch';
import t from 'tap';
import type { AdmissionRequest, AdmissionResult } from '../../src/admission/types.ts';
import type { ExternalSecret, KubeObject, Secret } from '../../src/api/types.ts';
import { toKubeError } from '../../src/kube/client.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { Refresher } from '../../src/refresher/refresher.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { createRuntime } from '../../src/runtime.ts';
import { createCertificates } from '../../src/server/certs.ts';
import { AwsSecretsManagerFake } from '../fakes/aws-secrets-manager.ts';
import { AwsStsFake } from '../fakes/aws-sts.ts';
import { AZURE_FAKE_TENANT, AzureKeyVaultFake } from '../fakes/azure-keyvault.ts';
import { GcpSecretManagerFake, GrpcCode } from '../fakes/gcp-secret-manager.ts';
import { GcpStsFake } from '../fakes/gcp-sts.ts';
import { VaultFake } from '../fakes/vault.ts';
import { MemoryKube } from '../refresher/memory-kube.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const RUN = randomUUID().slice(0, 8);
const canary = (what: string) => `CANARY-${what}-${RUN}`;
/** Every canary planted, values and credentials alike. */
const PLANTED: string[] = [];
const plant = (what: string) => {
  const c = canary(what);
  PLANTED.push(c);
  return c;
};
/** Each fails on a plain-text canary value; an error quoting its input would leak it. */
const HOSTILE_TEMPLATES = {
  json: '{{ .plain | mustFromJson | toJson }}',
  yaml: '{{ (fromYaml .plain).x.y }}',
  printf: '{{ printf "%s" .plain.x }}',
  range: '{{ range $k, $v := .plain }}{{ $v }}{{ end }}',
};
/** Identifier-shaped (no '-'): what an SDK may report as an error code or name from a body. */
const plantId = (what: string) => {
  const c = `Canary${what}${RUN}`;
  PLANTED.push(c);
  return c;
};
const b64 = (s: string) => Buffer.from(s).toString('base64');

/**
 * The refresher's Kubernetes port as the real client behaves when the API server refuses a
 * target: a 422 whose Status message and causes quote the value (as for an invalid label value),
 * turned into an error by the client's own toKubeError.
 */
class RefusingKube extends MemoryKube {
  readonly #echo: string;
  constructor(echo: string) {
    super();
    this.#echo = echo;
  }
  override async createSecret(ns: string, secret: Secret): Promise<Secret> {
    const name = secret.metadata?.name ?? '';
    if (!name.startsWith('refused-')) return super.createSecret(ns, secret);
    const status = {
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      message: `Secret "${name}" is invalid: metadata.labels: Invalid value: "${this.#echo}": a valid label must be…`,
      reason: 'Invalid',
      details: {
        name,
        kind: 'secrets',
        causes: [
          {
            reason: 'FieldValueInvalid',
            message: `Invalid value: "${this.#echo}"`,
            field: 'metadata.labels',
          },
        ],
      },
      code: 422,
    };
    throw toKubeError(
      new ApiException(422, 'Unprocessable Entity', status, {}),
      `create secret ${ns}/${name}`,
    );
  }
}

function secretObject(name: string, data: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: 'default' },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
  } as KubeObject;
}

function storeObject(name: string, provider: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind: 'SecretStore',
    metadata: { name, namespace: 'default', uid: `uid-${name}`, generation: 1 },
    spec: { provider },
  } as KubeObject;
}

function placeholder(store: string, data: Record<string, string>): AdmissionRequest & { object: Secret } {
  const object: Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 'leak',
      namespace: 'default',
      labels: { 'esw.io/inject': 'true' },
      annotations: { 'esw.io/store': store },
    },
    type: 'Opaque',
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
  };
  return {
    uid: randomUUID(),
    kind: { group: '', version: 'v1', kind: 'Secret' },
    resource: { group: '', version: 'v1', resource: 'secrets' },
    name: 'leak',
    namespace: 'default',
    operation: 'CREATE',
    object,
    oldObject: null,
    dryRun: false,
  };
}

function externalSecret(
  name: string,
  store: string,
  data: { secretKey: string; key: string; property?: string }[],
  template?: Record<string, string>,
): ExternalSecret {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name, namespace: 'default', uid: `uid-${name}`, generation: 1 },
    spec: {
      refreshInterval: '1h',
      secretStoreRef: { name: store, kind: 'SecretStore' },
      target: {
        name: `${name}-target`,
        ...(template ? { template: { engineVersion: 'v2', data: template } } : {}),
      },
      data: data.map((d) => ({
        secretKey: d.secretKey,
        remoteRef: { key: d.key, ...(d.property ? { property: d.property } : {}) },
      })),
    },
  };
}

t.test('no canary outside Secret data, across every provider and every path', async (t) => {
  // ---- providers, each holding canary values and behind canary credentials
  const aws = await AwsSecretsManagerFake.start();
  t.teardown(() => aws.close());
  const vault = new VaultFake();
  const vaultUrl = await vault.start();
  t.teardown(() => vault.close());
  // GCP over TLS (endpoint `ca`): the workload identity stores' access tokens travel on it.
  const gcpTls = await createCertificates({ hosts: ['127.0.0.1'] });
  const gcp = new GcpSecretManagerFake();
  const gcpAddr = await gcp.start({ tls: { cert: gcpTls.cert, key: gcpTls.key } });
  t.teardown(() => gcp.close());
  const sts = await GcpStsFake.start();
  t.teardown(() => sts.close());
  const gkeAudience =
    'identitynamespace:cluster.svc.id.goog:https://container.googleapis.com/v1/projects/cluster/locations/l/clusters/c';
  const wifAudience = '//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/k';
  const gsa = 'reader@proj.iam.gserviceaccount.com';
  sts.providers.set(gkeAudience, 'cluster.svc.id.goog');
  sts.providers.set(wifAudience, '');
  sts.allowImpersonation(gsa, 'system:serviceaccount:default:gcp-wi');
  sts.awsKeys.set('AKIDGCPWIF', plant('gcp-wif-aws-secret-key'));
  sts.tokenPrefix = plant('gcp-access-token');
  sts.refusalDetail = plant('gcp-sts-refusal');
  const saTokenCanary = plant('gcp-sa-token-signature');
  const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const azure = await AzureKeyVaultFake.start();
  t.teardown(() => azure.close());
  // ServiceAccount tokens (TokenRequest) for Vault kubernetes auth, Azure workload identity and
  // AWS per-store IRSA: each trusts the token only with the canary signature.
  const awsSts = await AwsStsFake.start();
  t.teardown(() => awsSts.close());
  awsSts.tokenVerifier = (token) => token.endsWith(saTokenCanary);
  vault.addKubernetesRole('sa', (jwt) => jwt.endsWith(saTokenCanary));
  azure.federated.set('wi-client', (assertion) => assertion.endsWith(saTokenCanary));

  const awsKey = plant('aws-secret-access-key');
  const vaultToken = plant('vault-token');
  const azureClientSecret = plant('azure-client-secret');
  vault.addToken(vaultToken);
  azure.clients.set('client-guid', azureClientSecret);
  // Vault logins whose credentials are canaries: userpass, ldap, jwt and aws (iam) — each also
  // with a wrong credential (a canary too), whose refused login must not quote it.
  const vaultPassword = plant('vault-password');
  const vaultJwt = plant('vault-jwt');
  const vaultAwsSecret = plant('vault-aws-secret-key');
  vault.addPasswordUser('app', vaultPassword);
  vault.addPasswordUser('app', vaultPassword, 'ldap');
  vault.addJwtRole('app', vaultJwt);
  vault.addAwsRole('app', { accessKeyId: 'AKIDVAULT', secretAccessKey: vaultAwsSecret });
  const vaultLogins: Record<string, Record<string, unknown>> = {
    'vault-userpass': { userPass: { username: 'app', secretRef: { name: 'vault-login', key: 'password' } } },
    'vault-ldap': { ldap: { username: 'app', secretRef: { name: 'vault-login', key: 'password' } } },
    'vault-jwt': { jwt: { role: 'app', secretRef: { name: 'vault-login', key: 'jwt' } } },
    'vault-iam': {
      iam: {
        vaultRole: 'app',
        secretRef: {
          accessKeyIDSecretRef: { name: 'vault-login', key: 'aws-id' },
          secretAccessKeySecretRef: { name: 'vault-login', key: 'aws-secret' },
        },
      },
    },
  };
  const loginSecret = (name: string, suffix: string) =>
    secretObject(name, {
      password: suffix ? plant(`vault-password${suffix}`) : vaultPassword,
      jwt: suffix ? plant(`vault-jwt${suffix}`) : vaultJwt,
      'aws-id': 'AKIDVAULT',
      'aws-secret': suffix ? plant(`vault-aws-secret-key${suffix}`) : vaultAwsSecret,
    });

  const value = (p: string) => JSON.stringify({ username: `user-${p}`, password: plant(`${p}-password`) });
  const plain = (p: string) => plant(`${p}-plain`);
  aws.put('app/db', value('aws'));
  aws.put('app/plain', plain('aws'));
  vault.putKv2('secret', 'app/db', JSON.parse(value('vault')) as Record<string, unknown>);
  vault.putKv2('secret', 'app/plain', { value: plain('vault') });
  gcp.addSecret({ project: 'proj', id: 'app-db', versions: [value('gcp')] });
  gcp.addSecret({ project: 'proj', id: 'app-plain', versions: [plain('gcp')] });
  azure.put('app-db', value('azure'));
  azure.put('app-plain', plain('azure'));
  const fakeData = [
    { key: 'app-db', value: value('fake') },
    { key: 'app-plain', value: plain('fake') },
  ];

  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (l: string) => lines.push(l) } });
  const metrics = createMetrics();
  const registry = new MemoryRegistry();
  for (const o of [
    secretObject('aws-creds', { id: 'AKIDEXAMPLE', key: awsKey }),
    secretObject('vault-token', { token: vaultToken }),
    secretObject('azure-creds', { 'client-id': 'client-guid', 'client-secret': azureClientSecret }),
    storeObject('aws', {
      aws: {
        service: 'SecretsManager',
        region: 'us-east-1',
        auth: {
          secretRef: {
            accessKeyIDSecretRef: { name: 'aws-creds', key: 'id' },
            secretAccessKeySecretRef: { name: 'aws-creds', key: 'key' },
          },
        },
      },
    }),
    storeObject('vault', {
      vault: {
        server: vaultUrl,
        path: 'secret',
        version: 'v2',
        auth: { tokenSecretRef: { name: 'vault-token', key: 'token' } },
      },
    }),
    loginSecret('vault-login', ''),
    loginSecret('vault-login-wrong', '-wrong'),
    ...Object.entries(vaultLogins).flatMap(([name, auth]) => [
      storeObject(name, { vault: { server: vaultUrl, path: 'secret', auth } }),
      storeObject(`${name}-wrong`, {
        vault: {
          server: vaultUrl,
          path: 'secret',
          auth: JSON.parse(JSON.stringify(auth).replaceAll('"vault-login"', '"vault-login-wrong"')),
        },
      }),
    ]),
    storeObject('gcp', { gcpsm: { projectID: 'proj' } }),
    storeObject('gcp-wi', {
      gcpsm: {
        projectID: 'proj',
        auth: {
          workloadIdentity: {
            serviceAccountRef: { name: 'gcp-wi' },
            clusterProjectID: 'cluster',
            clusterLocation: 'l',
            clusterName: 'c',
          },
        },
      },
    }),
    storeObject('gcp-wi-wrong', {
      gcpsm: {
        projectID: 'proj',
        auth: {
          workloadIdentity: {
            serviceAccountRef: { name: 'gcp-wi' },
            clusterProjectID: 'cluster',
            clusterLocation: 'l',
            clusterName: 'other',
          },
        },
      },
    }),
    secretObject('gcp-wif-aws', {
      aws_access_key_id: 'AKIDGCPWIF',
      aws_secret_access_key: sts.awsKeys.get('AKIDGCPWIF') ?? '',
    }),
    storeObject('gcp-wif-aws', {
      gcpsm: {
        projectID: 'proj',
        auth: {
          workloadIdentityFederation: {
            audience: wifAudience,
            awsSecurityCredentials: { awsCredentialsSecretRef: { name: 'gcp-wif-aws' }, region: 'eu-west-1' },
          },
        },
      },
    }),
    storeObject('vault-k8s', {
      vault: {
        server: vaultUrl,
        path: 'secret',
        auth: { kubernetes: { role: 'sa', serviceAccountRef: { name: 'vault-k8s' } } },
      },
    }),
    storeObject('azure-wi', {
      azurekv: { vaultUrl: azure.url, authType: 'WorkloadIdentity', serviceAccountRef: { name: 'azure-wi' } },
    }),
    storeObject('aws-irsa', {
      aws: {
        service: 'SecretsManager',
        region: 'us-east-1',
        auth: { jwt: { serviceAccountRef: { name: 'aws-irsa' } } },
      },
    }),
    storeObject('azure', {
      azurekv: {
        vaultUrl: azure.url,
        tenantId: AZURE_FAKE_TENANT,
        authType: 'ServicePrincipal',
        authSecretRef: {
          clientId: { name: 'azure-creds', key: 'client-id' },
          clientSecret: { name: 'azure-creds', key: 'client-secret' },
        },
      },
    }),
    storeObject('fake', { fake: { data: fakeData } }),
  ]) {
    registry.upsert(o);
  }
  const SERVICE_ACCOUNTS: Record<string, Record<string, string>> = {
    'gcp-wi': { 'iam.gke.io/gcp-service-account': gsa },
    'vault-k8s': {},
    'azure-wi': {
      'azure.workload.identity/client-id': 'wi-client',
      'azure.workload.identity/tenant-id': AZURE_FAKE_TENANT,
    },
    'aws-irsa': { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/irsa' },
  };
  const runtime = createRuntime(registry, registry, {
    logger,
    metrics,
    admissionDeadlineMs: 60_000, // not a deadline test: a loaded machine (SDKs load on first use) must not turn a fill into a refusal
    cacheTtlMs: 30_000,
    endpoints: {
      aws: aws.endpoint,
      awsSts: awsSts.endpoint,
      gcp: { host: gcpAddr.host, port: gcpAddr.port, insecure: false, ca: gcpTls.caCert },
      gcpSts: sts.tokenUrl,
      gcpIamCredentials: sts.url,
      azureCa: azure.ca,
      azureDisableChallengeResourceVerification: true,
      azureAuthorityHost: azure.url,
    },
    // The GCP store reads through the fake's insecure channel with no key: as this server's own
    // identity, which only a namespace the admin allowed may use.
    identity: { ambientNamespaces: ['default'], gcpExternalAccount: false },
    serviceAccountToken: async (req) =>
      `${b64url({ alg: 'RS256' })}.${b64url({ sub: `system:serviceaccount:${req.namespace}:${req.name}`, aud: req.audiences })}.${saTokenCanary}`,
    serviceAccounts: async (ns, name) => {
      const annotations = ns === 'default' ? SERVICE_ACCOUNTS[name] : undefined;
      return annotations ? { annotations } : undefined;
    },
  });
  t.teardown(() => runtime.close());

  const keys: Record<string, { db: string; plain: string; plainProp?: string }> = {
    aws: { db: 'app/db', plain: 'app/plain' },
    vault: { db: 'app/db', plain: 'app/plain', plainProp: 'value' },
    ...Object.fromEntries(
      Object.keys(vaultLogins).map((name) => [
        name,
        { db: 'app/db', plain: 'app/plain', plainProp: 'value' },
      ]),
    ),
    gcp: { db: 'app-db', plain: 'app-plain' },
    'gcp-wi': { db: 'app-db', plain: 'app-plain' },
    'gcp-wif-aws': { db: 'app-db', plain: 'app-plain' },
    azure: { db: 'app-db', plain: 'app-plain' },
    'vault-k8s': { db: 'app/db', plain: 'app/plain', plainProp: 'value' },
    'azure-wi': { db: 'app-db', plain: 'app-plain' },
    'aws-irsa': { db: 'app/db', plain: 'app/plain' },
    fake: { db: 'app-db', plain: 'app-plain' },
  };

  // ---- admission: fills and refusals
  const results: AdmissionResult[] = [];
  const filledMeta: unknown[] = [];
  for (const [store, k] of Object.entries(keys)) {
    const ok = placeholder(store, {
      password: `\${ref:${k.db}#password}`,
      dsn: `u=\${ref:${k.db}#username};p=\${ref:${k.db}#password}`,
    });
    const filled = await runtime.mutate(ok);
    t.equal(filled.allowed, true, `${store}: filled (${filled.status?.message})`);
    const ops = JSON.parse(
      Buffer.from(filled.patch ?? 'W10=', 'base64').toString('utf8'),
    ) as jsonpatch.Operation[];
    const out = jsonpatch.applyPatch(structuredClone(ok.object), ops, true, false).newDocument as Secret;
    t.ok(
      Buffer.from(out.data?.password ?? '', 'base64')
        .toString()
        .startsWith('CANARY-'),
      `${store}: the canary is in data, where it belongs`,
    );
    filledMeta.push(out.metadata, out.type);
    results.push({ ...filled, patch: undefined });

    const refusals = [
      // a property that does not exist in a JSON value holding a canary
      placeholder(store, { x: `\${ref:${k.db}#nothere}` }),
      // a property of a value that is not JSON (the value is a canary)
      placeholder(store, { x: `\${ref:${k.plain}#${k.plainProp ? `${k.plainProp}.deeper` : 'prop'}}` }),
      // a key that does not exist
      placeholder(store, { x: `\${ref:${k.db}-absent}` }),
    ];
    for (const r of refusals) {
      const res = await runtime.mutate(r);
      t.equal(res.allowed, false, `${store}: refused (${res.status?.message})`);
      results.push(res);
    }
  }

  // ---- provider errors whose bodies carry a canary
  vault.fault('secret/data/app/broken', { status: 500, body: { errors: [plant('vault-error-body')] } });
  gcp.setFault('app-broken', { code: GrpcCode.INTERNAL, details: plant('gcp-error-details') });
  azure.fault({ type: 'error', status: 500, code: plant('azure-error-code') }, { name: 'app-broken' });
  azure.fault({ type: 'error', status: 400, code: plantId('AzureCode') }, { name: 'app-broken-id' });
  aws.fault(
    { type: 'error', status: 400, errorType: plantId('AwsType'), message: plant('aws-error-message') },
    { key: 'app/broken' },
  );
  for (const name of Object.keys(vaultLogins)) {
    const res = await runtime.mutate(placeholder(`${name}-wrong`, { x: '${ref:app/db#password}' }));
    t.equal(res.allowed, false, `${name}: a refused login refuses the fill (${res.status?.message})`);
    results.push(res);
  }
  for (const [store, key] of [
    ['vault', 'app/broken'],
    ['gcp', 'app-broken'],
    ['azure', 'app-broken'],
    ['azure', 'app-broken-id'],
    ['aws', 'app/broken'],
  ] as const) {
    const res = await runtime.mutate(placeholder(store, { x: `\${ref:${key}}` }));
    t.equal(res.allowed, false, `${store}: provider error refused (${res.status?.message})`);
    results.push(res);
  }

  // ---- refresh: syncs, property and template errors, provider errors
  const kube = new RefusingKube(plant('api-server-echo'));
  const refresher = new Refresher({ resolver: runtime.resolver, kube, logger, metrics });
  t.teardown(() => refresher.stop());
  for (const [store, k] of Object.entries(keys)) {
    refresher.upsertExternalSecret(
      externalSecret(`${store}-ok`, store, [
        { secretKey: 'username', key: k.db, property: 'username' },
        { secretKey: 'password', key: k.db, property: 'password' },
      ]),
    );
    refresher.upsertExternalSecret(
      externalSecret(`${store}-missing-property`, store, [
        { secretKey: 'x', key: k.db, property: 'nothere' },
      ]),
    );
    // Templates that fail on a canary value: their errors must not quote it.
    for (const [name, text] of Object.entries(HOSTILE_TEMPLATES)) {
      refresher.upsertExternalSecret(
        externalSecret(
          `${store}-template-${name}`,
          store,
          [{ secretKey: 'plain', key: k.plain, ...(k.plainProp ? { property: k.plainProp } : {}) }],
          { out: text },
        ),
      );
    }
  }
  for (const name of Object.keys(vaultLogins)) {
    refresher.upsertExternalSecret(
      externalSecret(`${name}-wrong`, `${name}-wrong`, [
        { secretKey: 'x', key: 'app/db', property: 'password' },
      ]),
    );
  }
  refresher.upsertExternalSecret(
    externalSecret('gcp-wi-wrong', 'gcp-wi-wrong', [{ secretKey: 'x', key: 'app-db', property: 'password' }]),
  );
  for (const store of ['vault', 'gcp', 'azure', 'aws']) {
    refresher.upsertExternalSecret(
      externalSecret(`${store}-broken`, store, [
        { secretKey: 'x', key: store === 'vault' || store === 'aws' ? 'app/broken' : 'app-broken' },
      ]),
    );
  }
  // templateFrom literals rendering invalid YAML around a value (the parser quotes the text), and
  // a target the API server refuses with a Status that echoes a value.
  const yamlValues = { at: `@${plant('yaml-at')}`, colon: `x: ${plant('yaml-colon')}` };
  registry.upsert(
    storeObject('yaml', {
      fake: {
        data: [
          { key: 'at', value: yamlValues.at },
          { key: 'colon', value: yamlValues.colon },
        ],
      },
    }),
  );
  for (const key of Object.keys(yamlValues)) {
    const yamlEs = externalSecret(`yaml-${key}`, 'yaml', [{ secretKey: 'v', key }]);
    (yamlEs.spec as { target: Record<string, unknown> }).target.template = {
      engineVersion: 'v2',
      templateFrom: [{ literal: 'password: {{ .v }}\n' }],
    };
    refresher.upsertExternalSecret(yamlEs);
  }
  const refusedEs = externalSecret('refused', 'fake', [{ secretKey: 'x', key: 'app-plain' }]);
  (refusedEs.spec as { target: Record<string, unknown> }).target.name = 'refused-target';
  refresher.upsertExternalSecret(refusedEs);
  refresher.start();
  await refresher.tick();
  await refresher.tick();
  for (const store of Object.keys(keys)) {
    const target = kube.secrets.get(`default/${store}-ok-target`);
    t.ok(
      Buffer.from(target?.data?.password ?? '', 'base64')
        .toString()
        .startsWith('CANARY-'),
      `${store}: the refresher wrote the value`,
    );
    t.match(kube.statuses.get(`default/${store}-missing-property`)?.conditions?.[0], { status: 'False' });
    for (const name of Object.keys(HOSTILE_TEMPLATES)) {
      const c = kube.statuses.get(`default/${store}-template-${name}`)?.conditions?.[0];
      t.match(c, { status: 'False' }, `${store} ${name}: the template failed on the value (${c?.message})`);
    }
  }

  for (const name of Object.keys(vaultLogins)) {
    t.match(
      kube.statuses.get(`default/${name}-wrong`)?.conditions?.[0],
      { status: 'False', message: /login with .* rejected \(HTTP 400\)/ },
      `${name}: a refused login is Ready=False, naming the login`,
    );
  }
  t.match(
    kube.statuses.get('default/gcp-wi-wrong')?.conditions?.[0],
    {
      status: 'False',
      message: /auth\.workloadIdentity: token exchange \(Google STS\) refused \(HTTP 400\)/,
    },
    'a refused token exchange is Ready=False, in our words',
  );
  t.ok(
    sts.exchanges.some((e) => e.refused) && sts.impersonations.length > 0,
    'exchanges refused and granted',
  );
  for (const key of Object.keys(yamlValues)) {
    const c = kube.statuses.get(`default/yaml-${key}`)?.conditions?.[0];
    t.match(
      c,
      {
        status: 'False',
        message:
          /templateFrom\[0\]\.literal: the rendered template is not valid YAML at line 1, column \d+ \([A-Z_]+\)$/,
      },
      `yaml-${key}: reported with position and code`,
    );
  }
  t.match(
    kube.statuses.get('default/refused')?.conditions?.[0],
    {
      status: 'False',
      message:
        'create secret default/refused-target: API server refused the request: 422 Invalid (field metadata.labels)',
    },
    'the API server refusal: code, reason and field',
  );

  // ---- the scan
  const written = [...kube.secrets.values()].map((s) => ({ ...s, data: undefined }));
  const surfaces: Record<string, string> = {
    logs: lines.join('\n'),
    events: JSON.stringify(kube.events),
    statuses: JSON.stringify([...kube.statuses.entries()]),
    'written Secrets (all but data)': JSON.stringify(written),
    'admission: refusal messages, warnings and filled metadata': JSON.stringify({ results, filledMeta }),
    metrics: await metrics.registry.metrics(),
  };
  t.ok(lines.length > 20, `logs were captured (${lines.length} lines)`);
  t.ok(kube.events.length > 0 && kube.statuses.size > 0, 'events and statuses were written');
  for (const [surface, text] of Object.entries(surfaces)) {
    const leaked = PLANTED.filter((c) => text.includes(c));
    t.same(leaked, [], `${surface}: no canary`);
    t.notOk(text.includes('CANARY-'), `${surface}: not even an unlisted canary`);
  }
  t.ok(PLANTED.length >= 21, `${PLANTED.length} canaries planted`);
});
