/**
 * A rotated credential Secret reaches the provider client without a restart: cluster mode
 * re-reads the credential Secrets of live clients every `--credentials-recheck` and rebuilds the
 * clients whose Secret changed. Real AWS SDK against the AWS fake, which records the access key
 * id each request was signed with.
 */
import t, { type Test } from 'tap';
import { b64, externalSecret, startCluster, targetData, waitFor } from '../cluster-helpers.ts';

const LEASE_ARGS = ['--lease-duration', '3s', '--renew-deadline', '2s', '--retry-period', '500ms'];
const OLD_SECRET_KEY = 'wJalrXUtnFEMI';
const NEW_SECRET_KEY = 'CANARY-rotated-secret-key-9d1';

/** Requests are signed with the rotated key, the client was rebuilt, and no key reached the logs. */
async function rotatedKeyInUse(t: Test, aws: { accessKeys: string[] }, replica: { lines: string[] }) {
  await waitFor(
    'a request signed with the rotated key',
    () => aws.accessKeys.at(-1) === 'AKIDROTATED',
    20_000,
  );
  const logs = replica.lines.join('\n');
  t.match(logs, /credential Secret changed: rebuilding the client/);
  t.notOk(logs.includes(NEW_SECRET_KEY) || logs.includes(OLD_SECRET_KEY), 'no credential in the logs');
}

t.test('a rotated AWS access key is used from the next refresh on, and never logged', async (t) => {
  const { api, aws, startReplica } = await startCluster(t);
  aws.put('app/db', JSON.stringify({ username: 'u', password: 'p1' }));
  const replica = await startReplica('esw-0', ['--credentials-recheck', '200ms', ...LEASE_ARGS]);
  await waitFor('ready', () => replica.server.readiness().ready);
  api.put(externalSecret('es', 'app/db', '1s'));
  await waitFor('the target', () => targetData(api, 'es')?.password === 'p1');
  t.ok(aws.accessKeys.includes('AKIDEXAMPLE'), 'signed with the first access key');
  t.notOk(aws.accessKeys.includes('AKIDROTATED'));

  api.put({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'aws-credentials', namespace: 'default' },
    data: { 'access-key': b64('AKIDROTATED'), 'secret-access-key': b64(NEW_SECRET_KEY) },
  });
  await waitFor(
    'a request signed with the rotated key',
    () => aws.accessKeys.at(-1) === 'AKIDROTATED',
    20_000,
  );
  const from = aws.accessKeys.lastIndexOf('AKIDEXAMPLE');
  aws.put('app/db', JSON.stringify({ username: 'u', password: 'p2' }));
  await waitFor('the rotated value', () => targetData(api, 'es')?.password === 'p2');
  t.same(
    aws.accessKeys.slice(aws.accessKeys.indexOf('AKIDROTATED')).filter((k) => k !== 'AKIDROTATED'),
    [],
    'after the switch, no request is signed with the old key',
  );
  t.ok(from >= 0);
  const logs = replica.lines.join('\n');
  t.match(logs, /credential Secret changed: rebuilding the client/);
  t.notOk(logs.includes(NEW_SECRET_KEY) || logs.includes(OLD_SECRET_KEY), 'no credential in the logs');
});

t.test(
  'with no period, annotating the store after a rotation (as POST /refresh does) switches keys',
  async (t) => {
    const { api, aws, startReplica } = await startCluster(t);
    aws.put('app/db', JSON.stringify({ username: 'u', password: 'p1' }));
    const replica = await startReplica('esw-0', ['--credentials-recheck', '0s', ...LEASE_ARGS]);
    await waitFor('ready', () => replica.server.readiness().ready);
    api.put(externalSecret('es', 'app/db', '1s'));
    await waitFor('the target', () => targetData(api, 'es')?.password === 'p1');

    api.put({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'aws-credentials', namespace: 'default' },
      data: { 'access-key': b64('AKIDROTATED'), 'secret-access-key': b64(NEW_SECRET_KEY) },
    });
    const store = api.get('secretstores', 'default', 'aws-store');
    if (!store) throw new Error('no store');
    // Metadata only: the spec and generation stay, so only the annotation can switch the client.
    api.put({
      ...store,
      metadata: {
        ...store.metadata,
        annotations: { ...store.metadata?.annotations, 'ops.example/rotated': '1' },
      },
    });
    await rotatedKeyInUse(t, aws, replica);
  },
);

t.test(
  'with no period, a credential Secret the informers hold (another store syncs it) switches keys when it changes',
  async (t) => {
    const { api, aws, startReplica } = await startCluster(t);
    const credentials = (accessKey: string, secretKey: string) => ({
      apiVersion: 'v1',
      kind: 'Secret',
      // The label of an ExternalSecret's target: what the managed-Secret informer lists.
      metadata: {
        name: 'aws-credentials',
        namespace: 'default',
        labels: { 'reconcile.external-secrets.io/managed': 'true' },
      },
      data: { 'access-key': b64(accessKey), 'secret-access-key': b64(secretKey) },
    });
    api.put(credentials('AKIDEXAMPLE', OLD_SECRET_KEY));
    aws.put('app/db', JSON.stringify({ username: 'u', password: 'p1' }));
    const replica = await startReplica('esw-0', ['--credentials-recheck', '0s', ...LEASE_ARGS]);
    await waitFor('ready', () => replica.server.readiness().ready);
    api.put(externalSecret('es', 'app/db', '1s'));
    await waitFor('the target', () => targetData(api, 'es')?.password === 'p1');

    api.put(credentials('AKIDROTATED', NEW_SECRET_KEY)); // no annotation, no refusal, no period
    await rotatedKeyInUse(t, aws, replica);
  },
);
