/**
 * End to end, as a user installs and uses it: real `kubectl` talks to the API-server double,
 * whose admission chain calls this webhook over TLS verified with the caBundle of the webhook
 * configurations rendered from deploy/; the webhook runs in cluster mode (informers, leader
 * election, refresher) against the same double, with the real AWS SDK against the AWS fake.
 */
import t from 'tap';
import { startCluster, unb64, waitFor } from '../cluster-helpers.ts';
import { kubectlFor } from '../fakes/kubectl.ts';

const CANARY = `CANARY-e2e-${Math.random().toString(36).slice(2, 8)}`;

t.test('kubectl -> API server -> webhook -> AWS, and the refresher', async (t) => {
  // The API-server double with deploy/'s webhook configurations (caBundle filled in), the AWS
  // fake, the intro's SecretStore and its credentials; one replica in cluster mode.
  const { api, aws, startReplica } = await startCluster(t, { storeName: 'aws-secrets-manager-store' });
  aws.put('my-app/database-credentials', `{"username":"db_user","password":"${CANARY}"}`);
  const { server, lines, metrics } = await startReplica('esw-0', undefined, { cacheTtlMs: 1_000 });
  await waitFor('informers synced and ready', () => server.readiness().ready || undefined);

  const kubectl = await kubectlFor({ url: api.url, caPem: api.caPem }, { token: 'admin-token' });
  t.teardown(() => kubectl.close());

  t.test('kubectl apply of the placeholder Secret stores the values', async (t) => {
    const manifest = `apiVersion: v1
kind: Secret
metadata:
  name: database-credentials-inline
  namespace: default
  labels:
    esw.io/inject: "true"
  annotations:
    esw.io/store: aws-secrets-manager-store
stringData:
  username: \${ref:my-app/database-credentials#username}
  password: \${ref:my-app/database-credentials#password}
  url: postgres://\${ref:my-app/database-credentials#username}@db:5432/app
`;
    const res = await kubectl.run(['apply', '--validate=false', '-f', '-'], { stdin: manifest });
    t.equal(res.code, 0, res.stderr);
    const stored = api.get('secrets', 'default', 'database-credentials-inline') as {
      data: Record<string, string>;
      metadata: { annotations: Record<string, string> };
    };
    t.equal(unb64(stored.data.username), 'db_user');
    t.equal(unb64(stored.data.password), CANARY);
    t.equal(unb64(stored.data.url), 'postgres://db_user@db:5432/app');
    // kubectl's last-applied-configuration annotation keeps the manifest as written (references
    // only); the data the applications read holds no placeholder.
    t.notOk(JSON.stringify(stored.data).includes('${ref:'), 'the stored data holds no literal placeholder');
    t.ok(stored.metadata.annotations['esw.io/refs']);
  });

  t.test('a missing key refuses the Secret, naming the reference, not storing it', async (t) => {
    const manifest = `apiVersion: v1
kind: Secret
metadata: { name: broken, namespace: default, labels: { esw.io/inject: "true" }, annotations: { esw.io/store: aws-secrets-manager-store } }
stringData: { password: "\${ref:my-app/missing#password}" }
`;
    const res = await kubectl.run(['apply', '--validate=false', '-f', '-'], { stdin: manifest });
    t.not(res.code, 0);
    t.match(res.stderr, /denied the request/);
    t.match(res.stderr, /my-app\/missing/);
    t.notOk(api.get('secrets', 'default', 'broken'));
  });

  t.test('kubectl apply of an invalid ExternalSecret fails with the webhook message', async (t) => {
    const manifest = `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: invalid, namespace: default }
spec:
  refreshInterval: every hour
  secretStoreRef: { name: aws-secrets-manager-store, kind: SecretStore }
  target: { name: x, creationPolicy: Merge, deletionPolicy: Delete }
  data:
    - secretKey: a
      remoteRef: { key: "" }
`;
    const res = await kubectl.run(['apply', '--validate=false', '-f', '-'], { stdin: manifest });
    t.not(res.code, 0);
    // The refusal carries status.details.causes: kubectl lists one cause a line.
    t.match(res.stderr, /^The ExternalSecret "invalid" is invalid: ?\n/m);
    t.match(res.stderr, /^\* spec\.target\.deletionPolicy: Invalid value: "Delete"/m);
    t.match(res.stderr, /^\* spec\.refreshInterval: Invalid value: "every hour"/m);
    t.match(res.stderr, /^\* spec\.data\[0\]\.remoteRef\.key: Required value/m);
    t.notOk(api.get('externalsecrets', 'default', 'invalid'));
  });

  t.test(
    "the introduction's ExternalSecret gets its target from the refresher; a rotated value arrives",
    async (t) => {
      const intro = `apiVersion: external-secrets.io/v1beta1
kind: ExternalSecret
metadata:
  name: database-credentials-secret
  namespace: default
spec:
  refreshInterval: "1s"
  secretStoreRef:
    name: aws-secrets-manager-store
    key: aws-secrets-manager-store
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
`;
      const res = await kubectl.run(['apply', '--validate=false', '-f', '-'], { stdin: intro });
      t.equal(res.code, 0, res.stderr);
      t.match(res.stderr, /Warning/, 'unknown fields come back as warnings');
      const target = await waitFor(
        'target Secret',
        () =>
          api.get('secrets', 'default', 'database-credentials') as
            | {
                data: Record<string, string>;
                metadata: { ownerReferences?: { kind: string; controller?: boolean }[] };
              }
            | undefined,
      );
      t.equal(unb64(target.data.username), 'db_user');
      t.equal(unb64(target.data.password), CANARY);
      t.match(target.metadata.ownerReferences?.[0], { kind: 'ExternalSecret', controller: true });
      const es = await waitFor('Ready status', () => {
        const o = api.get('externalsecrets', 'default', 'database-credentials-secret') as
          | { status?: { conditions?: { type: string; status: string; reason?: string }[] } }
          | undefined;
        return o?.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True') ? o : undefined;
      });
      t.match(es.status?.conditions?.[0], { reason: 'SecretSynced' });

      aws.put('my-app/database-credentials', '{"username":"db_user","password":"rotated"}');
      await waitFor('rotated value', () => {
        const s = api.get('secrets', 'default', 'database-credentials') as
          | { data: Record<string, string> }
          | undefined;
        return unb64(s?.data.password) === 'rotated' || undefined;
      });
      t.pass('the rotated value reached the Secret');
      const writesBefore = api.writes('secrets', 'update');
      const callsBefore = aws.count('GetSecretValue') + aws.count('BatchGetSecretValue');
      await new Promise((r) => setTimeout(r, 2_500));
      t.equal(api.writes('secrets', 'update'), writesBefore, 'unchanged value: no Secret write');
      t.ok(
        aws.count('GetSecretValue') + aws.count('BatchGetSecretValue') > callsBefore,
        'the refresher kept polling',
      );

      const del = await kubectl.run(['delete', 'externalsecret', 'database-credentials-secret']);
      t.equal(del.code, 0, del.stderr);
      await waitFor('garbage collection of the target', () =>
        api.get('secrets', 'default', 'database-credentials') ? undefined : true,
      );
      t.pass('deleting the ExternalSecret garbage-collected its target');
    },
  );

  t.test('no secret value in logs, events or statuses', async (t) => {
    const events = api.list('events');
    const statuses = api.list('externalsecrets').map((o) => (o as { status?: unknown }).status);
    const metricsText = await metrics.registry.metrics();
    t.notOk(
      lines.some((l) => l.includes(CANARY)),
      'logs',
    );
    t.notOk(JSON.stringify(events).includes(CANARY), 'events');
    t.notOk(JSON.stringify(statuses).includes(CANARY), 'statuses');
    t.notOk(metricsText.includes(CANARY), 'metrics');
    t.ok(lines.length > 0);
  });
});
