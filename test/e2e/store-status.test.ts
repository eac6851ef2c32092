/**
 * Store status on the cluster double, through the real cluster runtime: the leader validates
 * every SecretStore and ClusterSecretStore of its class with one cheap provider call and writes
 * `status.conditions` (Ready, ESO's reasons) and `status.capabilities`:
 * - valid stores (AWS, Vault, fake, a ClusterSecretStore): Ready True, `Valid`, `store validated`;
 * - refused credentials (AWS UnrecognizedClientException, a Vault token lookup-self refused) and
 *   a missing credential Secret: Ready False, `InvalidProviderConfig`, a message naming the
 *   store and the failure — never the credentials (canaries);
 * - an unreachable provider: Ready False, `ValidationFailed`;
 * - a spec change is validated again at once; a periodic re-check that finds nothing new writes
 *   nothing; a store of another controller class is never touched.
 */
import t from 'tap';
import type { Condition, KubeObject, SecretStore } from '../../src/api/types.ts';
import { b64, startCluster, waitFor } from '../cluster-helpers.ts';
import type { KubeApiServer } from '../fakes/kube-apiserver/index.ts';
import { VaultFake } from '../fakes/vault.ts';

const CANARY = `CANARY-store-${Math.random().toString(36).slice(2, 8)}`;

interface StoreStatusBody {
  conditions?: Condition[];
  capabilities?: string;
}

function statusOf(api: KubeApiServer, resource: string, name: string, ns?: string) {
  const obj = api.get(resource, ns, name) as (KubeObject & { status?: StoreStatusBody }) | undefined;
  return obj?.status;
}

function ready(api: KubeApiServer, resource: string, name: string, ns?: string): Condition | undefined {
  return statusOf(api, resource, name, ns)?.conditions?.find((c) => c.type === 'Ready');
}

const awsStore = (name: string, secret: string, extra: Record<string, unknown> = {}): SecretStore => ({
  apiVersion: 'external-secrets.io/v1',
  kind: 'SecretStore',
  metadata: { name, namespace: 'default' },
  spec: {
    ...extra,
    provider: {
      aws: {
        service: 'SecretsManager',
        region: 'us-east-1',
        auth: {
          secretRef: {
            accessKeyIDSecretRef: { name: secret, key: 'access-key' },
            secretAccessKeySecretRef: { name: secret, key: 'secret-access-key' },
          },
        },
      },
    },
  },
});

const vaultStore = (name: string, server: string): SecretStore => ({
  apiVersion: 'external-secrets.io/v1',
  kind: 'SecretStore',
  metadata: { name, namespace: 'default' },
  spec: {
    provider: {
      vault: {
        server,
        path: 'secret',
        version: 'v2',
        auth: { tokenSecretRef: { name: 'vault-token', key: 'token' } },
      },
    },
  },
});

t.test('store status: Ready, reasons, capabilities, re-validation, other class', async (t) => {
  const cluster = await startCluster(t);
  const { api, aws } = cluster;
  const vault = new VaultFake();
  const vaultUrl = await vault.start();
  t.teardown(() => vault.close());
  vault.addToken('good-token');

  api.put({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'vault-token', namespace: 'default' },
    data: { token: b64('good-token') },
  });
  api.put({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'vault-bad-token', namespace: 'default' },
    data: { token: b64(CANARY) },
  });
  api.put(vaultStore('vault-ok', vaultUrl));
  api.put({
    apiVersion: 'external-secrets.io/v1',
    kind: 'ClusterSecretStore',
    metadata: { name: 'fake-cluster' },
    spec: { provider: { fake: { data: [{ key: 'k', value: CANARY }] } } },
  });
  api.put({ ...awsStore('aws-no-secret', 'missing-credentials') });
  api.put({
    ...awsStore('other-class', 'aws-credentials', { controller: 'someone-else' }),
  });
  // Nothing listens here: connection refused.
  api.put(vaultStore('vault-down', 'http://127.0.0.1:1'));

  await cluster.startReplica('pod-a');

  const valid = await waitFor('aws-store Ready', () => {
    const c = ready(api, 'secretstores', 'aws-store', 'default');
    return c?.status === 'True' && c;
  });
  t.match(valid, { type: 'Ready', status: 'True', reason: 'Valid', message: 'store validated' });
  t.match(valid.lastTransitionTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'RFC 3339 time');
  t.equal(statusOf(api, 'secretstores', 'aws-store', 'default')?.capabilities, 'ReadOnly');
  t.ok((aws.calls.get('ListSecrets') ?? 0) >= 1, 'AWS: validated with a ListSecrets of one item');

  const vaultOk = await waitFor('vault-ok Ready', () => ready(api, 'secretstores', 'vault-ok', 'default'));
  t.match(vaultOk, { status: 'True', reason: 'Valid' });
  t.ok(vault.counts.lookups >= 1, 'Vault: validated with auth/token/lookup-self');

  const fake = await waitFor('fake-cluster Ready', () => ready(api, 'clustersecretstores', 'fake-cluster'));
  t.match(fake, { status: 'True', reason: 'Valid' }, 'the fake provider is always valid');
  t.equal(statusOf(api, 'clustersecretstores', 'fake-cluster')?.capabilities, 'ReadOnly');

  const noSecret = await waitFor('aws-no-secret condition', () =>
    ready(api, 'secretstores', 'aws-no-secret', 'default'),
  );
  t.match(noSecret, { status: 'False', reason: 'InvalidProviderConfig' });
  t.match(noSecret.message, /^unable to create client: /);
  t.match(noSecret.message, /missing-credentials/, 'names the credential Secret');
  t.equal(statusOf(api, 'secretstores', 'aws-no-secret', 'default')?.capabilities, undefined);

  const down = await waitFor('vault-down condition', () =>
    ready(api, 'secretstores', 'vault-down', 'default'),
  );
  t.match(down, { status: 'False', reason: 'ValidationFailed' }, 'unreachable: a transient failure');
  t.match(down.message, /^unable to validate store: /);
  t.match(down.message, /SecretStore "default\/vault-down"/);

  // Refused credentials, AWS: the access keys are not accepted.
  api.put({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'aws-bad-credentials', namespace: 'default' },
    data: { 'access-key': b64('AKIDBAD'), 'secret-access-key': b64(CANARY) },
  });
  aws.fault(
    { type: 'error', status: 400, errorType: 'UnrecognizedClientException', message: `bad token ${CANARY}` },
    { op: 'ListSecrets', count: 1 },
  );
  api.put(awsStore('aws-bad', 'aws-bad-credentials'));
  const bad = await waitFor('aws-bad condition', () => ready(api, 'secretstores', 'aws-bad', 'default'));
  t.match(bad, { status: 'False', reason: 'InvalidProviderConfig' });
  t.match(bad.message, /^unable to validate store: SecretStore "default\/aws-bad": access denied: /);
  t.match(bad.message, /UnrecognizedClientException/);

  // Refused credentials, Vault: lookup-self answers 403.
  const vaultBad = vaultStore('vault-bad', vaultUrl);
  (vaultBad.spec?.provider?.vault as { auth: unknown }).auth = {
    tokenSecretRef: { name: 'vault-bad-token', key: 'token' },
  };
  api.put(vaultBad);
  const vb = await waitFor('vault-bad condition', () => ready(api, 'secretstores', 'vault-bad', 'default'));
  t.match(vb, { status: 'False', reason: 'InvalidProviderConfig' });
  t.match(vb.message, /permission denied/);

  // No credential, no fault text ever reaches a status.
  for (const s of api.list('secretstores')) t.notMatch(JSON.stringify(s.status ?? {}), CANARY);
  for (const s of api.list('clustersecretstores')) t.notMatch(JSON.stringify(s.status ?? {}), CANARY);

  // A spec change is validated at once: the store now names good credentials.
  const writesBefore = api.writes('secretstores/status', 'patch');
  const fixed = awsStore('aws-bad', 'aws-credentials');
  const stored = api.get('secretstores', 'default', 'aws-bad') as KubeObject;
  api.put({ ...fixed, metadata: { ...stored.metadata }, status: (stored as { status?: unknown }).status });
  const healed = await waitFor('aws-bad Ready after the fix', () => {
    const c = ready(api, 'secretstores', 'aws-bad', 'default');
    return c?.status === 'True' && c;
  });
  t.match(healed, { reason: 'Valid', message: 'store validated' });
  t.ok(api.writes('secretstores/status', 'patch') > writesBefore, 'written once more');

  // Periodic re-validation (spec.refreshInterval: 1 s) that finds nothing new writes nothing.
  const stable = awsStore('aws-periodic', 'aws-credentials', { refreshInterval: 1 });
  api.put(stable);
  await waitFor('aws-periodic Ready', () => ready(api, 'secretstores', 'aws-periodic', 'default'));
  const patches = api.writes('secretstores/status', 'patch');
  const lists = aws.calls.get('ListSecrets') ?? 0;
  await waitFor('two more validations', () => (aws.calls.get('ListSecrets') ?? 0) >= lists + 2);
  t.equal(api.writes('secretstores/status', 'patch'), patches, 'unchanged verdict: no status write');

  // Another controller's store: never validated, never written.
  t.equal(statusOf(api, 'secretstores', 'other-class', 'default'), undefined, 'other class untouched');
  t.notOk(
    api.requests({ method: 'PATCH' }).some((r) => r.path.includes('/secretstores/other-class')),
    'no request for it',
  );
});
