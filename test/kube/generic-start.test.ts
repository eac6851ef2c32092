/**
 * A ConfigMap target and a custom-resource one (generic targets, `--generic-target-kinds`) edited
 * while no replica ran: the replica that starts next lists them as they are, never as a watch
 * event, and their ExternalSecrets' status says they are up to date (Ready, synced at this
 * version, 1 h interval). Scheduled from that status, each object looks its target up in its
 * kind's managed cache (GenericTargets.state), the custom kind's once its informer has listed
 * after discovery, and is restored at once (docs/refresher.md "Tampering"); before, they stayed
 * edited for the interval. The whole cluster runtime against the API-server
 * double; waits poll for a state and only end a broken run.
 */
import t from 'tap';
import type { KubeObject } from '../../src/api/types.ts';
import { AWS_STORE, startCluster, waitFor } from '../cluster-helpers.ts';

const CANARY = `CANARY-generic-start-${Math.random().toString(36).slice(2, 8)}`;
const ARGS = ['--generic-target-kinds', 'ConfigMap,example.com/v1/Database'];

interface Status {
  syncedResourceVersion?: string;
  conditions?: { type: string; status: string }[];
}

type Api = { get(r: string, ns: string, n: string): unknown };
const value = (api: Api) =>
  (api.get('configmaps', 'default', 'edited-cm') as { data?: { password?: string } } | undefined)?.data
    ?.password;
const dbValue = (api: Api) =>
  (api.get('databases', 'default', 'edited-db') as { spec?: { data?: { password?: string } } } | undefined)
    ?.spec?.data?.password;

/** An ExternalSecret writing its `password` to `target` of kind `manifest`, 1 h interval. */
const externalSecret = (name: string, target: string, manifest: { apiVersion: string; kind: string }) =>
  ({
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name, namespace: 'default' },
    spec: {
      refreshInterval: '1h',
      secretStoreRef: AWS_STORE,
      target: { name: target, manifest },
      data: [{ secretKey: 'password', remoteRef: { key: 'app/db', property: 'password' } }],
    },
  }) as KubeObject;

async function readyAtThisVersion(api: Api, name: string): Promise<void> {
  await waitFor(`${name}: status written`, () => {
    const status = (api.get('externalsecrets', 'default', name) as { status?: Status } | undefined)?.status;
    return (
      status?.syncedResourceVersion !== undefined &&
      status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
    );
  });
}

t.test(
  'a ConfigMap and a Database target edited while no replica ran are restored when the next one starts',
  async (t) => {
    const { api, aws, startReplica } = await startCluster(t);
    aws.put('app/db', `{"password":"${CANARY}"}`);
    const first = await startReplica('esw-0', undefined, { args: ARGS });
    await waitFor('ready', () => first.server.readiness().ready || undefined);
    api.put(externalSecret('edited', 'edited-cm', { apiVersion: 'v1', kind: 'ConfigMap' }));
    api.put(
      externalSecret('edited-database', 'edited-db', { apiVersion: 'example.com/v1', kind: 'Database' }),
    );
    await waitFor('ConfigMap written', () => value(api) === CANARY || undefined);
    await waitFor('Database written', () => dbValue(api) === CANARY || undefined);
    // The status the next replica schedules from: Ready, synced at this version.
    await readyAtThisVersion(api, 'edited');
    await readyAtThisVersion(api, 'edited-database');
    await first.kill();

    // By hand, with no replica running.
    api.put({ ...(api.get('configmaps', 'default', 'edited-cm') as object), data: { password: 'tampered' } });
    t.equal(value(api), 'tampered', 'edited');
    const db = api.get('databases', 'default', 'edited-db') as { spec?: object };
    api.put({ ...db, spec: { ...db.spec, data: { password: 'tampered' } } } as KubeObject);
    t.equal(dbValue(api), 'tampered', 'the Database edited');

    // The Database informer's list held (sent, not answered): it lists after the start, as one
    // whose discovery is slow would.
    const release = api.hold('databases');
    const next = await startReplica('esw-1', undefined, { args: ARGS });
    await waitFor('edited target restored', () => value(api) === CANARY || undefined);
    t.pass('the edited ConfigMap holds the provider value again');
    t.equal(dbValue(api), 'tampered', 'the Database: its kind not listed, its round kept (unknown)');
    release();
    // Its informer's first list shows it edited: restored then (targetKindListed).
    await waitFor('edited Database restored', () => dbValue(api) === CANARY || undefined);
    t.pass('the edited Database holds the provider value again');
    t.notOk(
      [...first.lines, ...next.lines].some((l) => l.includes(CANARY)),
      'no value in any log line',
    );
  },
);
