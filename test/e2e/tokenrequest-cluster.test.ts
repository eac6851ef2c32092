/**
 * ServiceAccount tokens through TokenRequest on the cluster double, as a tenant would use them
 * with `kubectl apply`: Vault `kubernetes` auth with `serviceAccountRef` (ESO's manifest).
 * - The store is admitted, the ExternalSecret syncs, and Vault's login receives a token the
 *   API server issued for that ServiceAccount (the Vault fake verifies it as Vault's
 *   TokenReview would).
 * - Two stores naming the same ServiceAccount and many syncs cost one TokenRequest.
 * - A SecretStore naming a ServiceAccount of another namespace is refused at admission.
 * - An RBAC refusal of the TokenRequest surfaces as Ready=False saying which grant is missing.
 * - Azure `WorkloadIdentity` with `serviceAccountRef`: client and tenant IDs from the
 *   ServiceAccount's annotations, the token (audience api://AzureADTokenExchange) exchanged by
 *   the real ClientAssertionCredential at the fake Entra ID, which trusts that subject only.
 * - No token ever reaches a log line, an Event, a status or a metric.
 */
import t from 'tap';
import { startCluster, waitFor } from '../cluster-helpers.ts';
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
