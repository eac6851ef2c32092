/**
 * Identity confinement on the cluster double, as a tenant would try it: real `kubectl apply`
 * through the API-server double's admission chain to this webhook (cluster mode, refresher on).
 * - A SecretStore that would borrow the webhook's identity is denied at `kubectl apply`, with
 *   the field and what to set; allowed in a namespace the admin listed.
 * - Stores written before the webhook ran (put directly, no admission) are refused at use: the
 *   ExternalSecret goes Ready=False naming ESW_IDENTITY_FORBIDDEN, the tenant's listener hears
 *   nothing and the ambient AWS key signs nothing.
 * - A gcpsm credential Secret holding an external_account with a file or URL source: refused,
 *   nothing read or fetched.
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { b64, startCluster, waitFor } from '../cluster-helpers.ts';
import { kubectlFor } from '../fakes/kubectl.ts';
import { startListener } from './listener.ts';

const AMBIENT_KEY = 'AKIAAMBIENTCANARY001';
const AMBIENT_SECRET = `CANARY-ambient-${randomUUID()}`;
process.env.AWS_ACCESS_KEY_ID = AMBIENT_KEY;
process.env.AWS_SECRET_ACCESS_KEY = AMBIENT_SECRET;
delete process.env.AWS_PROFILE;
const FILE_CANARY = `CANARY-file-${randomUUID()}`;

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

t.test('kubectl, the API-server double and the refresher refuse borrowed identities', async (t) => {
  const { api, aws, dir, startReplica } = await startCluster(t);
  const listener = await startListener(t);
  for (const ns of ['team-a', 'platform-ops']) {
    api.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  }
  aws.put('app', JSON.stringify({ password: 'from-aws' }));
  const { server, lines } = await startReplica('esw-0', undefined, {
    cacheTtlMs: 0,
    args: ['--allow-ambient-identity-namespaces', 'platform-*'],
  });
  await waitFor('ready', () => server.readiness().ready || undefined);
  const kubectl = await kubectlFor({ url: api.url, caPem: api.caPem }, { token: 'admin-token' });
  t.teardown(() => kubectl.close());

  const vaultStore = (ns: string, name: string) => `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: ${name}, namespace: ${ns} }
spec:
  provider:
    vault:
      server: ${listener.url}
      path: secret
      auth:
        kubernetes:
          role: anything
`;
  const denied = await kubectl.run(['apply', '--validate=false', '-f', '-'], {
    stdin: vaultStore('team-a', 'vault'),
  });
  t.not(denied.code, 0);
  t.match(
    denied.stderr,
    'spec.provider.vault.auth.kubernetes: Required value: a SecretStore must name secretRef or serviceAccountRef',
  );
  t.notOk(api.get('secretstores', 'team-a', 'vault'), 'not stored');
  const allowed = await kubectl.run(['apply', '--validate=false', '-f', '-'], {
    stdin: vaultStore('platform-ops', 'vault'),
  });
  t.equal(allowed.code, 0, allowed.stderr);

  // Stores that predate the webhook: written without admission.
  const localFile = join(dir, 'node-local-file');
  await writeFile(localFile, FILE_CANARY);
  api.put({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'gcp-credentials', namespace: 'team-a' },
    data: {
      file: b64(
        JSON.stringify({
          type: 'external_account',
          audience: 'aud',
          token_url: `${listener.url}/token`,
          credential_source: { file: localFile },
        }),
      ),
      url: b64(
        JSON.stringify({
          type: 'external_account',
          audience: 'aud',
          token_url: `${listener.url}/token`,
          credential_source: { url: `${listener.url}/subject` },
        }),
      ),
    },
  });
  const old: [string, object][] = [
    [
      'vault-old',
      { vault: { server: listener.url, path: 'secret', auth: { kubernetes: { role: 'anything' } } } },
    ],
    ['aws-old', { aws: { service: 'SecretsManager', region: 'us-east-1' } }],
    ...['file', 'url'].map((key): [string, object] => [
      `gcp-${key}`,
      {
        gcpsm: {
          projectID: 'p',
          auth: { secretRef: { secretAccessKeySecretRef: { name: 'gcp-credentials', key } } },
        },
      },
    ]),
  ];
  for (const [name, provider] of old) {
    api.put({
      apiVersion: 'external-secrets.io/v1',
      kind: 'SecretStore',
      metadata: { name, namespace: 'team-a' },
      spec: { provider },
    });
    api.put({
      apiVersion: 'external-secrets.io/v1',
      kind: 'ExternalSecret',
      metadata: { name, namespace: 'team-a' },
      spec: {
        refreshInterval: '1h',
        secretStoreRef: { name, kind: 'SecretStore' },
        target: { name: `${name}-target` },
        data: [{ secretKey: 'password', remoteRef: { key: 'app', property: 'password' } }],
      },
    });
  }
  for (const [name] of old) {
    const ready = await waitFor(`${name} Ready=False`, () => {
      const es = api.get('externalsecrets', 'team-a', name) as
        | { status?: { conditions?: Condition[] } }
        | undefined;
      return es?.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'False');
    });
    t.match(
      ready.message,
      name.startsWith('gcp') ? /credential_source|external_account/ : /this webhook would use its own/,
      `${name}: ${ready.message}`,
    );
    t.notOk(api.get('secrets', 'team-a', `${name}-target`), `${name}: no target written`);
  }
  t.same(listener.heard, [], 'the listener heard nothing');
  t.notOk(aws.accessKeys.includes(AMBIENT_KEY), 'the ambient AWS key signed nothing');
  const everything = `${lines.join('\n')}${JSON.stringify(api.list('events'))}${JSON.stringify(api.list('externalsecrets'))}`;
  t.notMatch(everything, FILE_CANARY);
  t.notMatch(everything, AMBIENT_SECRET);
});
