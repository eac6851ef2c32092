/**
 * Built-in certificate mode (the chart's default) awaits the certificate bootstrap after the
 * informers have started: ExternalSecrets listed in between must still reach the refresher.
 * Before the fix every ExternalSecret present at start-up was never synced in this mode (the
 * list finished before the refresher's handlers existed); files mode was not affected.
 */
import t from 'tap';
import { externalSecret, startCluster, targetData, waitFor } from '../cluster-helpers.ts';

t.test('built-in certificates: the ExternalSecrets present at start-up are synced', async (t) => {
  const { api, aws, startReplica } = await startCluster(t);
  aws.put('app/x', JSON.stringify({ username: 'u', password: 'p' }));
  for (let i = 0; i < 5; i++) api.put(externalSecret(`pre-${i}`, 'app/x', '1h'));
  const replica = await startReplica('esw-0', undefined, { args: ['--cert-mode', 'builtin'] });
  await waitFor('ready', () => replica.server.readiness().ready || undefined);
  await waitFor('every target', () => [0, 1, 2, 3, 4].every((i) => targetData(api, `pre-${i}`)) || undefined);
  t.same(targetData(api, 'pre-0'), { username: 'u', password: 'p' });
});
