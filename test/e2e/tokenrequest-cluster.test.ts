/**
 * ServiceAccount tokens through TokenRequest on the cluster double, as a tenant would use them
 * with `kubectl apply`: Vault `kubernetes` auth with `serviceAccountRef` (ESO's manifest).
 * - The store is admitted, the ExternalSecret syncs, and Vault's login receives a token the
 *   API server issued for that ServiceAccount (the Vault fake verifies it as Vault's
 *   TokenReview would).
 * - Two stores naming the same ServiceAccount and many syncs cost one TokenRequest; a
 *   ClusterSecretStore naming that ServiceAccount's namespace (ESO's rule) shares the token.
 * - A SecretStore naming a ServiceAccount of another namespace is refused at admission.
 * - An RBAC refusal of the TokenRequest surfaces as Ready=False saying which grant is missing.
 * - Azure `WorkloadIdentity` with `serviceAccountRef`: client and tenant IDs from the
 *   ServiceAccount's annotations, the token (audience api://AzureADTokenExchange) exchanged by
 *   the real ClientAssertionCredential at the fake Entra ID, which trusts that subject only.
 * - AWS per-store IRSA (`auth.jwt.serviceAccountRef`, ESO's documented SecretStore) with the
 *   introduction's ExternalSecret, for Secrets Manager and Parameter Store: the role from the
 *   ServiceAccount's `eks.amazonaws.com/role-arn`, the token (audience sts.amazonaws.com)
 *   verified by the STS fake, one TokenRequest and one exchange for many syncs; the
 *   introduction's store as written (`auth.jwt` without a ServiceAccount: the pod's own IRSA)
 *   refused at `kubectl apply`, saying what to set.
 * - No token ever reaches a log line, an Event, a status or a metric.
 */
import t from 'tap';
import { startCluster, waitFor } from '../cluster-helpers.ts';
import { AwsSsmFake } from '../fakes/aws-ssm.ts';
import { AwsStsFake } from '../fakes/aws-sts.ts';
import { AZURE_FAKE_TENANT, AzureKeyVaultFake } from '../fakes/azure-keyvault.ts';
import { kubectlFor } from '../fakes/kubectl.ts';
import { VaultFake } from '../fakes/vault.ts';

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

const readyOf = (o: unknown): Condition | undefined =>
  (o as { status?: { conditions?: Condition[] } } | undefined)?.status?.conditions?.find(
    (c) => c.type === 'Ready',
  );

t.test('Vault kubernetes auth with serviceAccountRef through TokenRequest', async (t) => {
  const { api, startReplica } = await startCluster(t);
  const vault = new VaultFake();
  await vault.start();
  t.teardown(() => vault.close());
  const presented: string[] = [];
  vault.addKubernetesRole('app', (jwt) => {
    presented.push(jwt);
    return api.verifyToken(jwt)?.sub === 'system:serviceaccount:team-a:vault-auth';
  });
  vault.putKv2('secret', 'app/db', { password: 'from-vault' });
  for (const ns of ['team-a', 'team-b']) {
    api.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    api.put({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'vault-auth', namespace: ns } });
  }
  const { server, lines, metrics } = await startReplica('esw-0', undefined, { cacheTtlMs: 0 });
  await waitFor('ready', () => server.readiness().ready || undefined);
  const kubectl = await kubectlFor({ url: api.url, caPem: api.caPem }, { token: 'admin-token' });
  t.teardown(() => kubectl.close());

  const store = (ns: string, name: string, saNamespace?: string) => `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: ${name}, namespace: ${ns} }
spec:
  provider:
    vault:
      server: ${vault.url}
      path: secret
      version: v2
      auth:
        kubernetes:
          mountPath: kubernetes
          role: app
          serviceAccountRef:
            name: vault-auth${saNamespace ? `\n            namespace: ${saNamespace}` : ''}
`;
  const es = (ns: string, name: string, storeName: string) => `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: ${name}, namespace: ${ns} }
spec:
  refreshInterval: 1s
  secretStoreRef: { name: ${storeName}, kind: SecretStore }
  target: { name: ${name}-target }
  data:
    - secretKey: password
      remoteRef: { key: app/db, property: password }
`;
  for (const doc of [
    store('team-a', 'vault'),
    store('team-a', 'vault-2'),
    es('team-a', 'db', 'vault'),
    es('team-a', 'db-2', 'vault-2'),
  ]) {
    const r = await kubectl.run(['apply', '--validate=false', '-f', '-'], { stdin: doc });
    t.equal(r.code, 0, r.stderr);
  }
  for (const name of ['db', 'db-2']) {
    const target = await waitFor(`${name} synced`, () => api.get('secrets', 'team-a', `${name}-target`));
    t.equal(
      Buffer.from(String((target.data as Record<string, string>).password), 'base64').toString(),
      'from-vault',
    );
  }
  // More syncs (refreshInterval 1s): still one token for both stores.
  const reads = vault.counts.reads;
  await waitFor('more syncs', () => vault.counts.reads >= reads + 4);
  t.equal(
    api.tokenRequests({ namespace: 'team-a' }).length,
    1,
    'one TokenRequest for two stores and many syncs',
  );
  t.same(api.tokenRequests()[0], {
    namespace: 'team-a',
    name: 'vault-auth',
    audiences: ['https://kubernetes.default.svc.cluster.local'],
    expirationSeconds: 600,
    user: 'system:serviceaccount:external-secrets-webhook:external-secrets-webhook',
  });
  t.ok(presented.length >= 1 && presented.every((p) => api.verifyToken(p)), 'Vault got API-server tokens');

  // A ClusterSecretStore names the ServiceAccount's namespace (ESO's rule); an ExternalSecret of
  // another namespace uses it, and the token is the one already cached for that account.
  const css = await kubectl.run(['apply', '--validate=false', '-f', '-'], {
    stdin: `${store('team-a', 'vault-cluster', 'team-a')
      .replace('kind: SecretStore', 'kind: ClusterSecretStore')
      .replace(
        'metadata: { name: vault-cluster, namespace: team-a }',
        'metadata: { name: vault-cluster }',
      )}---
${es('default', 'db-css', 'vault-cluster').replace('kind: SecretStore', 'kind: ClusterSecretStore')}`,
  });
  t.equal(css.code, 0, css.stderr);
  const viaCss = await waitFor('db-css synced', () => api.get('secrets', 'default', 'db-css-target'));
  t.equal(
    Buffer.from(String((viaCss.data as Record<string, string>).password), 'base64').toString(),
    'from-vault',
  );
  t.equal(
    api.tokenRequests({ namespace: 'team-a' }).length,
    1,
    'the ClusterSecretStore shares the cached token',
  );

  // Another namespace's ServiceAccount: refused at admission.
  const cross = await kubectl.run(['apply', '--validate=false', '-f', '-'], {
    stdin: store('team-a', 'vault-x', 'team-b'),
  });
  t.not(cross.code, 0);
  t.match(
    cross.stderr,
    'spec.provider.vault.auth.kubernetes.serviceAccountRef.namespace: Forbidden: a SecretStore may only refer to its own namespace "team-a", not "team-b"',
  );
  t.notOk(api.get('secretstores', 'team-a', 'vault-x'));

  // RBAC refuses the token: Ready=False in clear words, nothing written.
  api.forbid({ verb: 'create', resource: 'serviceaccounts/token', namespace: 'team-b' });
  for (const doc of [store('team-b', 'vault'), es('team-b', 'db', 'vault')]) {
    const r = await kubectl.run(['apply', '--validate=false', '-f', '-'], { stdin: doc });
    t.equal(r.code, 0, r.stderr);
  }
  const refused = await waitFor('team-b Ready=False', () => {
    const c = readyOf(api.get('externalsecrets', 'team-b', 'db'));
    return c?.status === 'False' ? c : undefined;
  });
  t.match(
    refused.message,
    /TokenRequest for ServiceAccount "team-b\/vault-auth": forbidden by the API server \(403\)/,
  );
  t.match(refused.message, /needs "create" on "serviceaccounts\/token"/);
  t.notOk(api.get('secrets', 'team-b', 'db-target'));

  const everything = [
    lines.join('\n'),
    JSON.stringify(api.list('events')),
    JSON.stringify(api.list('externalsecrets')),
    JSON.stringify(api.list('secretstores')),
    await metrics.registry.metrics(),
  ].join('\n');
  for (const token of new Set(presented)) {
    for (const part of token.split('.')) t.notOk(everything.includes(part), 'no token part anywhere');
  }
});

t.test('Azure WorkloadIdentity with serviceAccountRef: annotations and a TokenRequest token', async (t) => {
  const { api, startReplica } = await startCluster(t);
  const azure = await AzureKeyVaultFake.start();
  t.teardown(() => azure.close());
  azure.put('db', 'from-azure');
  const assertions: string[] = [];
  azure.federated.set('wi-client', (assertion) => {
    assertions.push(assertion);
    return (
      api.verifyToken(assertion, 'api://AzureADTokenExchange')?.sub ===
      'system:serviceaccount:team-a:workload'
    );
  });
  api.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a' } });
  api.put({
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: {
      name: 'workload',
      namespace: 'team-a',
      annotations: {
        'azure.workload.identity/client-id': 'wi-client',
        'azure.workload.identity/tenant-id': AZURE_FAKE_TENANT,
      },
    },
  });
  api.put({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'plain', namespace: 'team-a' } });
  const { server, lines, metrics } = await startReplica('esw-0', undefined, {
    cacheTtlMs: 0,
    endpoints: {
      azureCa: azure.ca,
      azureDisableChallengeResourceVerification: true,
      azureAuthorityHost: azure.url,
    },
  });
  await waitFor('ready', () => server.readiness().ready || undefined);
  const kubectl = await kubectlFor({ url: api.url, caPem: api.caPem }, { token: 'admin-token' });
  t.teardown(() => kubectl.close());

  const store = (name: string, sa: string) => `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: ${name}, namespace: team-a }
spec:
  provider:
    azurekv:
      authType: WorkloadIdentity
      vaultUrl: ${azure.url}
      serviceAccountRef:
        name: ${sa}
`;
  const es = (name: string, storeName: string) => `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: ${name}, namespace: team-a }
spec:
  refreshInterval: 1s
  secretStoreRef: { name: ${storeName}, kind: SecretStore }
  target: { name: ${name}-target }
  data:
    - secretKey: password
      remoteRef: { key: db }
`;
  for (const doc of [
    store('azure', 'workload'),
    es('db', 'azure'),
    store('no-ids', 'plain'),
    es('no-ids', 'no-ids'),
  ]) {
    const r = await kubectl.run(['apply', '--validate=false', '-f', '-'], { stdin: doc });
    t.equal(r.code, 0, r.stderr);
  }
  const target = await waitFor('synced', () => api.get('secrets', 'team-a', 'db-target'));
  t.equal(
    Buffer.from(String((target.data as Record<string, string>).password), 'base64').toString(),
    'from-azure',
  );
  t.match(azure.tokenRequests.at(-1), { tenant: AZURE_FAKE_TENANT, clientId: 'wi-client', assertion: true });
  const gets = azure.count('GetSecret');
  await waitFor('more syncs', () => azure.count('GetSecret') >= gets + 3);
  t.same(
    api.tokenRequests({ name: 'workload' }).map((r) => r.audiences),
    [['api://AzureADTokenExchange']],
    'one TokenRequest, for the Entra exchange audience',
  );

  // A ServiceAccount without the annotations: Ready=False naming what to set.
  const missing = await waitFor('no-ids Ready=False', () => {
    const c = readyOf(api.get('externalsecrets', 'team-a', 'no-ids'));
    return c?.status === 'False' ? c : undefined;
  });
  t.match(
    missing.message,
    /needs a client ID: set authSecretRef.clientId or the ServiceAccount annotation azure.workload.identity\/client-id/,
  );

  const everything = [
    lines.join('\n'),
    JSON.stringify(api.list('events')),
    JSON.stringify(api.list('externalsecrets')),
    await metrics.registry.metrics(),
  ].join('\n');
  t.ok(assertions.length >= 1);
  for (const token of new Set(assertions)) {
    for (const part of token.split('.')) t.notOk(everything.includes(part), 'no token part anywhere');
  }
});

t.test(
  'AWS per-store IRSA: the introduction ExternalSecret syncs through TokenRequest and STS',
  async (t) => {
    const { api, aws, startReplica } = await startCluster(t, { storeName: 'unused' });
    // Only this test's stores: the helper's static-key store would sign with its own key.
    api.remove('secretstores', 'default', 'unused');
    const [sts, ssm] = await Promise.all([AwsStsFake.start(), AwsSsmFake.start()]);
    t.teardown(() => Promise.all([sts.close(), ssm.close()]));
    const stsTokens: string[] = [];
    sts.tokenVerifier = (token) => {
      stsTokens.push(token);
      return api.verifyToken(token, 'sts.amazonaws.com')?.sub === 'system:serviceaccount:default:my-app';
    };
    aws.put('my-app/database-credentials', JSON.stringify({ username: 'admin', password: 'from-aws' }));
    ssm.put('/my-app/api-key', 'from-ssm', { type: 'SecureString' });
    api.put({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: {
        name: 'my-app',
        namespace: 'default',
        annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/my-app' },
      },
    });
    const { server, lines, metrics } = await startReplica('esw-0', undefined, {
      cacheTtlMs: 0,
      endpoints: { awsSts: sts.endpoint, awsSsm: ssm.endpoint },
    });
    await waitFor('ready', () => server.readiness().ready || undefined);
    const kubectl = await kubectlFor({ url: api.url, caPem: api.caPem }, { token: 'admin-token' });
    t.teardown(() => kubectl.close());
    const apply = (doc: string) => kubectl.run(['apply', '--validate=false', '-f', '-'], { stdin: doc });

    // The introduction's SecretStore as written: the pod's own IRSA, refused with what to set.
    const intro = await apply(`apiVersion: external-secrets.io/v1beta1
kind: SecretStore
metadata:
  name: aws-secrets-manager-store
  namespace: default
spec:
  provider:
    aws:
      service: SecretsManager
      region: us-east-1
      auth:
        jwt:
          serviceAccountToken: "" # This will be populated by the SA of the running pod
`);
    t.not(intro.code, 0);
    t.match(
      intro.stderr,
      'spec.provider.aws.auth.jwt.serviceAccountRef: Required value: a SecretStore must name auth.jwt.serviceAccountRef (or auth.secretRef)',
    );

    // ESO's per-store IRSA SecretStore under the introduction's name, then its ExternalSecret.
    for (const [name, service] of [
      ['aws-secrets-manager-store', 'SecretsManager'],
      ['aws-parameter-store', 'ParameterStore'],
    ]) {
      const r = await apply(`apiVersion: external-secrets.io/v1
kind: SecretStore
metadata:
  name: ${name}
  namespace: default
spec:
  provider:
    aws:
      service: ${service}
      region: us-east-1
      auth:
        jwt:
          serviceAccountRef:
            name: my-app
`);
      t.equal(r.code, 0, r.stderr);
    }
    const es = await apply(`apiVersion: external-secrets.io/v1beta1
kind: ExternalSecret
metadata:
  name: database-credentials-secret
  namespace: default
spec:
  refreshInterval: "1s"
  secretStoreRef:
    name: aws-secrets-manager-store
  target:
    name: database-credentials
    creationPolicy: Owner
  data:
    - secretKey: username
      remoteRef:
        key: my-app/database-credentials
        property: username
    - secretKey: password
      remoteRef:
        key: my-app/database-credentials
        property: password
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: api-key
  namespace: default
spec:
  refreshInterval: 1s
  secretStoreRef: { name: aws-parameter-store, kind: SecretStore }
  target: { name: api-key }
  data:
    - secretKey: key
      remoteRef: { key: /my-app/api-key }
`);
    t.equal(es.code, 0, es.stderr);
    const db = await waitFor('database-credentials', () =>
      api.get('secrets', 'default', 'database-credentials'),
    );
    const decoded = (o: unknown, k: string) =>
      Buffer.from(String((o as { data: Record<string, string> }).data[k]), 'base64').toString();
    t.equal(decoded(db, 'username'), 'admin');
    t.equal(decoded(db, 'password'), 'from-aws');
    const key = await waitFor('api-key', () => api.get('secrets', 'default', 'api-key'));
    t.equal(decoded(key, 'key'), 'from-ssm');

    const before = aws.accessKeys.length + ssm.accessKeys.length;
    await waitFor('more syncs', () => aws.accessKeys.length + ssm.accessKeys.length >= before + 6);
    t.same(
      api
        .tokenRequests({ namespace: 'default', name: 'my-app' })
        .map((r) => [r.audiences, r.expirationSeconds]),
      [[['sts.amazonaws.com'], 600]],
      'one TokenRequest (audience sts.amazonaws.com, 600 s) for both stores and every sync',
    );
    t.equal(sts.count('AssumeRoleWithWebIdentity'), 2, 'one exchange per store client, then reused');
    t.match(sts.webIdentities, [
      {
        roleArn: 'arn:aws:iam::123456789012:role/my-app',
        sessionName: 'external-secrets-provider-aws',
        signed: false,
      },
      {
        roleArn: 'arn:aws:iam::123456789012:role/my-app',
        sessionName: 'external-secrets-provider-aws',
        signed: false,
      },
    ]);
    t.ok(
      [...aws.accessKeys, ...ssm.accessKeys].every((k) => k.startsWith('ASIASTS')),
      'every read signed with the web-identity session',
    );

    const everything = [
      lines.join('\n'),
      JSON.stringify(api.list('events')),
      JSON.stringify(api.list('externalsecrets')),
      JSON.stringify(api.list('secretstores')),
      await metrics.registry.metrics(),
    ].join('\n');
    t.ok(stsTokens.length >= 1);
    for (const token of new Set(stsTokens)) {
      for (const part of token.split('.')) t.notOk(everything.includes(part), 'no token part anywhere');
    }
    t.notMatch(everything, /sts-secret-|sts-session-/, 'no STS secret key or session token anywhere');
  },
);
