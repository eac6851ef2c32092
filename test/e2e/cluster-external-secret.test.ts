/**
 * ClusterExternalSecret on the cluster double, through the real cluster runtime (informers,
 * leader, admission over HTTPS): fan-out to the namespaces chosen by names and selectors, with
 * externalSecretName and externalSecretMetadata; the created ExternalSecrets sync like any other;
 * a namespace that starts or stops matching gains or loses its ExternalSecret; an ExternalSecret
 * of that name it does not own is never overwritten (ESO's "already exists"); status as ESO's;
 * one that reads a ClusterSecretStore of another controller class is left alone; an invalid one
 * is refused at admission.
 */
import t from 'tap';
import type { ExternalSecret, KubeObject } from '../../src/api/types.ts';
import { startCluster, unb64, waitFor } from '../cluster-helpers.ts';
import type { KubeApiServer } from '../fakes/kube-apiserver/index.ts';
import { request } from '../helpers/https.ts';

const CES_PATH = '/apis/external-secrets.io/v1/clusterexternalsecrets';

async function create(api: KubeApiServer, path: string, body: object) {
  const res = await request(`${api.url}${path}`, body, {
    ca: api.caPem,
    headers: { authorization: 'Bearer admin-token' },
  });
  return { status: res.status, body: res.json<{ message?: string }>() };
}

function namespace(api: KubeApiServer, name: string, labels: Record<string, string>) {
  api.put({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { ...labels, 'kubernetes.io/metadata.name': name } },
  });
}

interface CesStatus {
  externalSecretName?: string;
  provisionedNamespaces?: string[];
  failedNamespaces?: { namespace: string; reason?: string }[];
  conditions?: { type: string; status: string; message?: string }[];
}

const statusOf = (api: KubeApiServer, name: string) =>
  (api.get('clusterexternalsecrets', undefined, name) as { status?: CesStatus } | undefined)?.status;

const es = (api: KubeApiServer, ns: string, name: string) =>
  api.get('externalsecrets', ns, name) as ExternalSecret | undefined;

const cesBody = (name: string, store: string, spec: Record<string, unknown> = {}) => ({
  apiVersion: 'external-secrets.io/v1',
  kind: 'ClusterExternalSecret',
  metadata: { name },
  spec: {
    externalSecretSpec: {
      secretStoreRef: { name: store, kind: 'ClusterSecretStore' },
      refreshInterval: '1h',
      target: { name: 'db-secret' },
      data: [{ secretKey: 'password', remoteRef: { key: 'db' } }],
    },
    ...spec,
  },
});

t.test('ClusterExternalSecret fan-out, label changes, collisions, status, other class', async (t) => {
  const cluster = await startCluster(t);
  const { api } = cluster;
  namespace(api, 'team-a', { team: 'a' });
  namespace(api, 'team-b', { team: 'b' });
  namespace(api, 'listed', {});
  api.put({
    apiVersion: 'external-secrets.io/v1',
    kind: 'ClusterSecretStore',
    metadata: { name: 'fake' },
    spec: { provider: { fake: { data: [{ key: 'db', value: 's3cret' }] } } },
  });
  api.put({
    apiVersion: 'external-secrets.io/v1',
    kind: 'ClusterSecretStore',
    metadata: { name: 'theirs' },
    spec: { controller: 'someone-else', provider: { fake: { data: [{ key: 'db', value: 'x' }] } } },
  });
  // team-b already has an ExternalSecret of the name the ClusterExternalSecret will use.
  api.put({
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name: 'db-es', namespace: 'team-b' },
    spec: {
      secretStoreRef: { name: 'fake', kind: 'ClusterSecretStore' },
      refreshInterval: '1h',
      target: { name: 'mine' },
      data: [{ secretKey: 'mine', remoteRef: { key: 'db' } }],
    },
  });
  await cluster.startReplica('pod-a');

  // Refused at admission like any other kind: every error, field-pathed.
  const bad = await create(api, CES_PATH, {
    ...cesBody('bad', 'fake', { refreshTime: 'soon' }),
    spec: {
      ...cesBody('bad', 'fake').spec,
      refreshTime: 'soon',
      externalSecretSpec: { ...cesBody('bad', 'fake').spec.externalSecretSpec, refreshInterval: '1 hour' },
    },
  });
  t.equal(bad.status, 422, 'an invalid ClusterExternalSecret is refused');
  t.match(bad.body.message, /spec\.refreshTime/);
  t.match(bad.body.message, /spec\.externalSecretSpec\.refreshInterval/);

  const created = await create(
    api,
    CES_PATH,
    cesBody('db', 'fake', {
      externalSecretName: 'db-es',
      externalSecretMetadata: { labels: { owner: 'platform' }, annotations: { note: 'fanned out' } },
      namespaceSelectors: [{ matchLabels: { team: 'a' } }],
      namespaces: ['listed'],
      refreshTime: '1h',
    }),
  );
  t.equal(created.status, 201, created.body.message ?? '');

  const ready = await waitFor('db provisioned', () => {
    const s = statusOf(api, 'db');
    return s?.provisionedNamespaces?.length === 2 && s;
  });
  t.same(ready.provisionedNamespaces, ['listed', 'team-a'], 'sorted, names and selectors');
  t.same(ready.failedNamespaces ?? [], []);
  t.equal(ready.externalSecretName, 'db-es');
  t.same(ready.conditions, [{ type: 'Ready', status: 'True' }]);

  const a = es(api, 'team-a', 'db-es');
  t.ok(a, 'ExternalSecret created in team-a');
  t.equal(a?.metadata?.labels?.owner, 'platform');
  t.equal(a?.metadata?.annotations?.note, 'fanned out');
  t.match(a?.metadata?.ownerReferences, [
    { kind: 'ClusterExternalSecret', name: 'db', controller: true, blockOwnerDeletion: true },
  ]);
  t.match(a?.spec, { secretStoreRef: { name: 'fake' }, target: { name: 'db-secret' } });
  t.notOk(es(api, 'default', 'db-es'), 'an unselected namespace gets nothing');

  // The created ExternalSecrets sync like any other.
  const secret = await waitFor('team-a target synced', () => api.get('secrets', 'team-a', 'db-secret'));
  t.equal(unb64((secret as { data?: Record<string, string> }).data?.password), 's3cret');

  // team-b starts matching: its ExternalSecret is not ours, so it fails and stays untouched.
  const before = es(api, 'team-b', 'db-es');
  namespace(api, 'team-b', { team: 'a' });
  const collided = await waitFor('team-b failed', () => {
    const s = statusOf(api, 'db');
    return (s?.failedNamespaces?.length ?? 0) > 0 && s;
  });
  t.same(collided.failedNamespaces, [
    { namespace: 'team-b', reason: 'external secret already exists in namespace' },
  ]);
  t.same(collided.conditions, [{ type: 'Ready', status: 'False', message: 'one or more namespaces failed' }]);
  t.same(collided.provisionedNamespaces, ['listed', 'team-a']);
  t.equal(
    es(api, 'team-b', 'db-es')?.metadata?.resourceVersion,
    before?.metadata?.resourceVersion,
    'the ExternalSecret it does not own is not written',
  );

  // team-a stops matching: the ExternalSecret created there goes; team-b back out of the selection.
  namespace(api, 'team-a', { team: 'z' });
  namespace(api, 'team-b', { team: 'b' });
  const moved = await waitFor('team-a removed', () => {
    const s = statusOf(api, 'db');
    return s?.provisionedNamespaces?.length === 1 && !s.failedNamespaces?.length && s;
  });
  t.same(moved.provisionedNamespaces, ['listed']);
  t.same(moved.conditions, [{ type: 'Ready', status: 'True' }]);
  await waitFor('team-a ExternalSecret deleted', () => !es(api, 'team-a', 'db-es'));
  t.ok(es(api, 'team-b', 'db-es'), 'the one it does not own is never deleted');

  // An ExternalSecret it owns, edited by hand, is put back.
  const listed = es(api, 'listed', 'db-es') as ExternalSecret;
  api.put({ ...listed, spec: { ...listed.spec, refreshInterval: '5m' } } as KubeObject);
  await waitFor('hand edit undone', () => es(api, 'listed', 'db-es')?.spec?.refreshInterval === '1h');

  // A steady state writes nothing more: a new namespace makes every ClusterExternalSecret look
  // again. The marker selects that namespace, so once it is provisioned the leader has seen the
  // namespace and passed over "db" too.
  const writes = api.writes('externalsecrets', 'update') + api.writes('externalsecrets', 'create');
  const statusWrites = api.writes('clusterexternalsecrets/status', 'patch');
  namespace(api, 'unrelated', { team: 'q' });
  await create(api, CES_PATH, cesBody('marker', 'fake', { namespaces: ['unrelated'] }));
  await waitFor('marker provisioned', () => statusOf(api, 'marker')?.provisionedNamespaces?.length === 1);
  t.equal(
    api.writes('externalsecrets', 'update') + api.writes('externalsecrets', 'create'),
    writes + 1,
    'only the marker wrote an ExternalSecret',
  );
  t.equal(api.writes('clusterexternalsecrets/status', 'patch'), statusWrites + 1, 'and its status only');

  // Another controller class: never fanned out, no status.
  const theirs = await create(api, CES_PATH, {
    ...cesBody('theirs', 'theirs', { namespaceSelectors: [{}] }),
  });
  t.equal(theirs.status, 201, theirs.body.message ?? '');
  // A second one of ours after it, to know the leader has looked at both.
  await create(api, CES_PATH, cesBody('marker-2', 'fake', { namespaces: ['listed'] }));
  await waitFor('marker-2 provisioned', () => statusOf(api, 'marker-2')?.provisionedNamespaces?.length === 1);
  t.equal(statusOf(api, 'theirs'), undefined, 'no status on another class');
  t.notOk(es(api, 'team-a', 'theirs'), 'nothing created for another class');

  // Deleting the ClusterExternalSecret removes what it created (ownerReferences).
  api.remove('clusterexternalsecrets', undefined, 'db');
  await waitFor('owned ExternalSecrets collected', () => !es(api, 'listed', 'db-es'));
  t.ok(es(api, 'team-b', 'db-es'), 'the foreign one stays');
});
