/**
 * A ConfigMap target (a generic target, `--generic-target-kinds ConfigMap`) edited while no
 * replica ran: the replica that starts next lists it as it is, never as a watch event, and its
 * ExternalSecret's status says it is up to date (Ready, synced at this version, 1 h interval).
 * Scheduled from that status, the object looks its target up in the managed-ConfigMap cache
 * (GenericTargets.state) and is restored at the first round (docs/refresher.md "Tampering");
 * before, it stayed edited for the interval. The whole cluster runtime against the API-server
 * double; waits poll for a state and only end a broken run.
 */
import t from 'tap';
import type { KubeObject } from '../../src/api/types.ts';
import { AWS_STORE, startCluster, waitFor } from '../cluster-helpers.ts';

const CANARY = `CANARY-generic-start-${Math.random().toString(36).slice(2, 8)}`;
const ARGS = ['--generic-target-kinds', 'ConfigMap'];

interface Status {
  syncedResourceVersion?: string;
  conditions?: { type: string; status: string }[];
}

const value = (api: { get(r: string, ns: string, n: string): unknown }) =>
  (api.get('configmaps', 'default', 'edited-cm') as { data?: { password?: string } } | undefined)?.data
    ?.password;

t.test('a ConfigMap target edited while no replica ran is restored when the next one starts', async (t) => {
  const { api, aws, startReplica } = await startCluster(t);
  aws.put('app/db', `{"password":"${CANARY}"}`);
  const first = await startReplica('esw-0', undefined, { args: ARGS });
  await waitFor('ready', () => first.server.readiness().ready || undefined);
  api.put({
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name: 'edited', namespace: 'default' },
    spec: {
      refreshInterval: '1h',
      secretStoreRef: AWS_STORE,
      target: { name: 'edited-cm', manifest: { apiVersion: 'v1', kind: 'ConfigMap' } },
      data: [{ secretKey: 'password', remoteRef: { key: 'app/db', property: 'password' } }],
    },
  } as KubeObject);
  await waitFor('target written', () => value(api) === CANARY || undefined);
  // The status the next replica schedules from: Ready, synced at this version.
  await waitFor('status written', () => {
    const status = (api.get('externalsecrets', 'default', 'edited') as { status?: Status } | undefined)
      ?.status;
    return (
      status?.syncedResourceVersion !== undefined &&
      status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
    );
  });
  await first.kill();

  // By hand, with no replica running.
  api.put({ ...(api.get('configmaps', 'default', 'edited-cm') as object), data: { password: 'tampered' } });
  t.equal(value(api), 'tampered', 'edited');

  const next = await startReplica('esw-1', undefined, { args: ARGS });
  await waitFor('edited target restored', () => value(api) === CANARY || undefined);
  t.pass('the edited ConfigMap holds the provider value again');
  t.notOk(
    [...first.lines, ...next.lines].some((l) => l.includes(CANARY)),
    'no value in any log line',
  );
});
