/**
 * A target Secret edited or deleted by hand is put back at once, long before its refresh: the
 * managed-Secret informer hands each change to the refresher (whose restore check reads the
 * event's Secret), while its cache keeps identity, resourceVersion and the fingerprint of the
 * sync that left that version (src/refresher/known-targets.ts: a routine sync of a target at
 * that version reads nothing; test/refresher/known-targets.test.ts).
 */
import t from 'tap';
import {
  AWS_STORE,
  b64,
  password,
  passwordExternalSecret,
  startCluster,
  waitFor,
} from '../cluster-helpers.ts';

const CANARY = `CANARY-restore-${Math.random().toString(36).slice(2, 8)}`;

t.test('a hand edit and a deletion of the target are undone at once (1 h interval)', async (t) => {
  const { api, aws, startReplica } = await startCluster(t);
  aws.put('app/db', `{"password":"${CANARY}"}`);
  const { server } = await startReplica('esw-0', undefined, { cacheTtlMs: 0 });
  await waitFor('ready', () => server.readiness().ready || undefined);
  api.put(passwordExternalSecret('db', 'default', AWS_STORE, { key: 'app/db', property: 'password' }));
  const restored = () => (password(api, 'default', 'db-target') === CANARY ? true : undefined);
  await waitFor('target written', restored);

  api.put({ ...(api.get('secrets', 'default', 'db-target') as object), data: { password: b64('tampered') } });
  await waitFor('hand edit undone', restored);
  t.pass('the edited target holds the provider value again');

  api.remove('secrets', 'default', 'db-target');
  await waitFor('deleted target recreated', restored);
  t.pass('the deleted target is written again');
});
