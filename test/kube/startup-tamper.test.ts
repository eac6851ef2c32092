/**
 * A target Secret edited, and another deleted, while no replica ran: the replica that starts next
 * never sees either as a watch event (its informers list them as they are), and both
 * ExternalSecrets' status says they are up to date (Ready, synced at this version, 1 h interval).
 * Scheduled from that status, each looks its target up in the managed-Secret cache and is
 * restored at the first round (src/refresher/known-targets.ts `state`, docs/refresher.md
 * "Tampering"); before, they stayed edited and deleted for the interval. The whole cluster
 * runtime against the API-server double; waits poll for a state and only end a broken run.
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

const CANARY = `CANARY-startup-${Math.random().toString(36).slice(2, 8)}`;

interface Status {
  syncedResourceVersion?: string;
  conditions?: { type: string; status: string }[];
}

t.test('a target edited or deleted while no replica ran is restored when the next one starts', async (t) => {
  const { api, aws, startReplica } = await startCluster(t);
  aws.put('app/db', `{"password":"${CANARY}"}`);
  const first = await startReplica('esw-0');
  await waitFor('ready', () => first.server.readiness().ready || undefined);
  for (const name of ['edited', 'deleted']) {
    api.put(passwordExternalSecret(name, 'default', AWS_STORE, { key: 'app/db', property: 'password' }));
  }
  for (const name of ['edited', 'deleted']) {
    await waitFor(`${name}: target written`, () => password(api, 'default', `${name}-target`) === CANARY);
    // The status the next replica schedules from: Ready, synced at this version.
    await waitFor(`${name}: status written`, () => {
      const status = (api.get('externalsecrets', 'default', name) as { status?: Status } | undefined)?.status;
      return (
        status?.syncedResourceVersion !== undefined &&
        status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
      );
    });
  }
  await first.kill();

  // By hand, with no replica running.
  api.put({
    ...(api.get('secrets', 'default', 'edited-target') as object),
    data: { password: b64('tampered') },
  });
  api.remove('secrets', 'default', 'deleted-target');

  const next = await startReplica('esw-1');
  await waitFor('edited target restored', () => password(api, 'default', 'edited-target') === CANARY);
  t.pass('the edited target holds the provider value again');
  await waitFor('deleted target created again', () => password(api, 'default', 'deleted-target') === CANARY);
  t.pass('the deleted target is written again');
  t.notOk(
    [...first.lines, ...next.lines].some((l) => l.includes(CANARY)),
    'no value in any log line',
  );
});
