/**
 * Vault auth methods and client options end to end on the cluster double, as an ESO user writes
 * them: a SecretStore over HTTPS whose CA comes from a ConfigMap (`caProvider` type ConfigMap,
 * read through the cluster's cached reader), logging in with `userPass` in another namespace
 * than the reads (`auth.namespace`), custom `headers` — applied through the API server's
 * admission chain, validated Ready, and an ExternalSecret synced by the refresher. A store whose
 * password is wrong is Ready=False naming the login, never the password (a canary). A `jwt`
 * store with `kubernetesServiceAccountToken` logs in with a token the API server issued for its
 * ServiceAccount (ESO's audiences: the ServiceAccount's, then "vault").
 */
import { randomUUID } from 'node:crypto';
import { CustomObjectsApi } from '@kubernetes/client-node';
import t from 'tap';
import type { Condition } from '../../src/api/types.ts';
import { createCertificates } from '../../src/server/certs.ts';
import { b64, startCluster, targetData, waitFor } from '../cluster-helpers.ts';
import { VaultFake } from '../fakes/vault.ts';

const CANARY = `CANARY-${randomUUID()}`;

function vaultStore(name: string, server: string, passwordSecret: string) {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind: 'SecretStore',
    metadata: { name, namespace: 'default' },
    spec: {
      provider: {
        vault: {
          server,
          path: 'secret',
          version: 'v2',
          namespace: 'admin/team-a',
          caProvider: { type: 'ConfigMap', name: 'vault-ca', key: 'ca.crt' },
          headers: { 'X-Team': 'team-a' },
          auth: {
            namespace: 'admin',
            userPass: {
              path: 'userpass',
              username: 'app',
              secretRef: { name: passwordSecret, key: 'password' },
            },
          },
        },
      },
    },
  };
}

function ready(obj: unknown): Condition | undefined {
  return (obj as { status?: { conditions?: Condition[] } } | undefined)?.status?.conditions?.find(
    (c) => c.type === 'Ready',
  );
}

t.test('a userPass store with a ConfigMap CA, auth.namespace and headers syncs on the cluster', async (t) => {
  const { api, startReplica } = await startCluster(t);
  const certs = await createCertificates({ hosts: ['127.0.0.1'] });
  const vault = new VaultFake({ tls: { cert: certs.cert, key: certs.key } });
  const url = await vault.start();
  t.teardown(() => vault.close());
  const password = `pw-${CANARY}`;
  vault.addPasswordUser('app', password);
  vault.putKv2('secret', 'payments/db', { user: 'app', password: CANARY });

  api.put({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'vault-ca', namespace: 'default' },
    data: { 'ca.crt': certs.caCert },
  });
  api.put({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'vault-userpass', namespace: 'default' },
    data: { password: b64(password) },
  });
  api.put({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'vault-wrong', namespace: 'default' },
    data: { password: b64(`wrong-${CANARY}`) },
  });

  const { server, lines, metrics } = await startReplica('esw-0');
  await waitFor('replica ready', () => server.readiness().ready || undefined);
  const custom = api.kubeConfig({ token: 'admin-token' }).makeApiClient(CustomObjectsApi);
  const create = (plural: string, body: Record<string, unknown>) =>
    custom.createNamespacedCustomObject({
      group: 'external-secrets.io',
      version: 'v1',
      namespace: 'default',
      plural,
      body,
    });
  await create('secretstores', vaultStore('vault', url, 'vault-userpass'));
  await create('secretstores', vaultStore('vault-wrong', url, 'vault-wrong'));
  await create('externalsecrets', {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name: 'db', namespace: 'default' },
    spec: {
      refreshInterval: '1h',
      secretStoreRef: { name: 'vault', kind: 'SecretStore' },
      target: { name: 'db-target', creationPolicy: 'Owner' },
      data: [{ secretKey: 'password', remoteRef: { key: 'payments/db', property: 'password' } }],
    },
  });

  const data = await waitFor('db synced', () => targetData(api, 'db'));
  t.same(data, { password: CANARY }, 'synced through the userPass login over the ConfigMap CA');
  const storeReady = await waitFor('vault Ready', () => ready(api.get('secretstores', 'default', 'vault')));
  t.match(storeReady, { status: 'True', reason: 'Valid' });
  const wrong = await waitFor('vault-wrong condition', () =>
    ready(api.get('secretstores', 'default', 'vault-wrong')),
  );
  t.match(wrong, { status: 'False', reason: 'InvalidProviderConfig' });
  t.match(wrong?.message, /login with userpass at auth\/userpass: rejected \(HTTP 400\)/);

  const logins = vault.loginBodies.filter((l) => l.path === 'auth/userpass/login/app');
  t.ok(logins.length >= 1, 'logged in with userpass');
  const loginIdx = vault.requests.indexOf('POST /v1/auth/userpass/login/app');
  t.equal(vault.namespaces[loginIdx], 'admin', 'the login in auth.namespace');
  const readIdx = vault.requests.indexOf('GET /v1/secret/data/payments/db');
  t.equal(vault.namespaces[readIdx], 'admin/team-a', 'the read in the store namespace');
  t.ok(
    vault.headers.every((h) => h['x-team'] === 'team-a'),
    'the custom header on every request',
  );

  const surfaces = [lines.join('\n'), JSON.stringify(api.list('events')), await metrics.registry.metrics()];
  for (const s of surfaces) t.notOk(s.includes(CANARY), 'no canary in logs, events or metrics');
  t.notOk(
    JSON.stringify(api.get('secretstores', 'default', 'vault-wrong')).includes(CANARY),
    'nor in status',
  );
});

t.test('jwt with kubernetesServiceAccountToken: a TokenRequest token with ESO audiences', async (t) => {
  const { api, startReplica } = await startCluster(t);
  const vault = new VaultFake();
  const url = await vault.start();
  t.teardown(() => vault.close());
  const claims: unknown[] = [];
  vault.addJwtRole('app', (jwt) => {
    const c = api.verifyToken(jwt, 'vault');
    claims.push(c && { sub: c.sub, aud: c.aud });
    return c?.sub === 'system:serviceaccount:default:vault-jwt';
  });
  vault.putKv2('secret', 'app/db', { password: 'from-vault' });
  api.put({
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: 'vault-jwt', namespace: 'default' },
  });
  const { server, lines } = await startReplica('esw-0');
  await waitFor('replica ready', () => server.readiness().ready || undefined);
  const custom = api.kubeConfig({ token: 'admin-token' }).makeApiClient(CustomObjectsApi);
  const create = (plural: string, body: Record<string, unknown>) =>
    custom.createNamespacedCustomObject({
      group: 'external-secrets.io',
      version: 'v1',
      namespace: 'default',
      plural,
      body,
    });
  await create('secretstores', {
    apiVersion: 'external-secrets.io/v1',
    kind: 'SecretStore',
    metadata: { name: 'vault-jwt', namespace: 'default' },
    spec: {
      provider: {
        vault: {
          server: url,
          path: 'secret',
          auth: {
            jwt: {
              path: 'jwt',
              role: 'app',
              kubernetesServiceAccountToken: {
                serviceAccountRef: { name: 'vault-jwt', audiences: ['sts.example'] },
              },
            },
          },
        },
      },
    },
  });
  await create('externalsecrets', {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name: 'jwt-db', namespace: 'default' },
    spec: {
      refreshInterval: '1h',
      secretStoreRef: { name: 'vault-jwt', kind: 'SecretStore' },
      target: { name: 'jwt-db-target', creationPolicy: 'Owner' },
      data: [{ secretKey: 'password', remoteRef: { key: 'app/db', property: 'password' } }],
    },
  });
  t.same(await waitFor('jwt-db synced', () => targetData(api, 'jwt-db')), { password: 'from-vault' });
  t.match(claims[0], { sub: 'system:serviceaccount:default:vault-jwt', aud: ['sts.example', 'vault'] });
  const token = vault.loginBodies.find((l) => l.path === 'auth/jwt/login')?.body.jwt as string;
  const signature = token.split('.')[2] ?? '';
  t.ok(signature.length > 10 && !lines.join('\n').includes(signature), 'no token in the logs');
});
