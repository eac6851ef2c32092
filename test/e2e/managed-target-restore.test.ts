/**
 * A target Secret edited or deleted by hand is put back at once, long before its refresh: the
 * managed-Secret informer hands each change to the refresher (whose restore check reads the
 * event's Secret), while its cache keeps only identity and resourceVersion.
 */
import t from 'tap';
import { b64, startCluster, unb64, waitFor } from '../cluster-helpers.ts';

const CANARY = `CANARY-restore-${Math.random().toString(36).slice(2, 8)}`;

t.test('a hand edit and a deletion of the target are undone at once (1 h interval)', async (t) => {
  const { api, aws, startReplica } = await startCluster(t);
  aws.put('app/db', `{"password":"${CANARY}"}`);
  const { server } = await startReplica('esw-0', undefined, { cacheTtlMs: 0 });
  await waitFor('ready', () => server.readiness().ready || undefined);
  api.put({
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name: 'db', namespace: 'default' },
    spec: {
      refreshInterval: '1h',
      secretStoreRef: { name: 'aws-store', kind: 'SecretStore' },
      target: { name: 'db-target' },
      data: [{ secretKey: 'password', remoteRef: { key: 'app/db', property: 'password' } }],
    },
  });
  const target = () =>
    api.get('secrets', 'default', 'db-target') as { data?: Record<string, string> } | undefined;
  await waitFor('target written', () => (unb64(target()?.data?.password) === CANARY ? true : undefined));

  api.put({ ...(target() as object), data: { password: b64('tampered') } });
  await waitFor('hand edit undone', () => (unb64(target()?.data?.password) === CANARY ? true : undefined));
  t.pass('the edited target holds the provider value again');

  api.remove('secrets', 'default', 'db-target');
  await waitFor('deleted target recreated', () =>
    unb64(target()?.data?.password) === CANARY ? true : undefined,
  );
  t.pass('the deleted target is written again');
});
