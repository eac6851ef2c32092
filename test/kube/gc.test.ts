/**
 * Owner-reference garbage collection in the API-server double, driven with the real
 * @kubernetes/client-node: dependents go when their last owner goes (down a chain of owners),
 * a dependent with an owner left only loses the dangling reference, `propagationPolicy: Orphan`
 * keeps dependents and strips the reference, and watchers see every collection as DELETED.
 */
import { CoreV1Api, CustomObjectsApi, type V1OwnerReference, Watch } from '@kubernetes/client-node';
import t from 'tap';
import { KubeApiServer } from '../fakes/kube-apiserver/index.ts';
import { until } from './helpers.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

t.test('deleting an owner collects its dependents, and only those whose owners are all gone', async (t) => {
  const api = await KubeApiServer.start();
  t.teardown(() => api.close());
  const kc = api.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const ns = 'team';

  const es = async (name: string) =>
    (await custom.createNamespacedCustomObject({
      group: 'external-secrets.io',
      version: 'v1',
      namespace: ns,
      plural: 'externalsecrets',
      body: {
        apiVersion: 'external-secrets.io/v1',
        kind: 'ExternalSecret',
        metadata: { name },
        spec: { secretStoreRef: { name: 'st' } },
      },
    })) as { metadata: { uid: string; name: string } };
  const ref = (o: { metadata: { uid: string; name: string } }, controller = true): V1OwnerReference => ({
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    name: o.metadata.name,
    uid: o.metadata.uid,
    controller,
    blockOwnerDeletion: true,
  });
  const first = await es('first');
  const second = await es('second');
  const owned = await core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: 'owned', ownerReferences: [ref(first)] }, data: { a: 'YQ==' } },
  });
  // A chain: a ConfigMap owned by the owned Secret.
  await core.createNamespacedConfigMap({
    namespace: ns,
    body: {
      metadata: {
        name: 'grandchild',
        ownerReferences: [
          { apiVersion: 'v1', kind: 'Secret', name: 'owned', uid: owned.metadata?.uid ?? '' },
        ],
      },
      data: { x: 'y' },
    },
  });
  await core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: 'shared', ownerReferences: [ref(first), ref(second, false)] } },
  });
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'unowned' } } });

  const start = api.resourceVersion;
  const seen: string[] = [];
  const ctl = await new Watch(kc).watch(
    `/api/v1/namespaces/${ns}/secrets`,
    { resourceVersion: start },
    (type, obj) => seen.push(`${type} ${obj.metadata.name}`),
    () => {},
  );
  t.teardown(() => ctl.abort());

  await custom.deleteNamespacedCustomObject({
    group: 'external-secrets.io',
    version: 'v1',
    namespace: ns,
    plural: 'externalsecrets',
    name: 'first',
  });
  t.equal(api.get('secrets', ns, 'owned'), undefined, 'the dependent is collected');
  t.equal(api.get('configmaps', ns, 'grandchild'), undefined, 'and its own dependent, down the chain');
  const shared = api.get('secrets', ns, 'shared');
  t.ok(shared, 'a dependent with an owner left stays');
  t.same(
    shared?.metadata?.ownerReferences?.map((r) => r.name),
    ['second'],
    'only the dangling reference is removed',
  );
  t.ok(api.get('secrets', ns, 'unowned'), 'unrelated objects stay');
  await until(() => seen.length === 2, 'watch events for the collection');
  t.same(seen, ['DELETED owned', 'MODIFIED shared'], 'watchers see the collection');

  // Orphan: the dependent stays and its reference to the deleted owner is dropped.
  await custom.deleteNamespacedCustomObject({
    group: 'external-secrets.io',
    version: 'v1',
    namespace: ns,
    plural: 'externalsecrets',
    name: 'second',
    propagationPolicy: 'Orphan',
  });
  const orphan = api.get('secrets', ns, 'shared');
  t.ok(orphan, 'Orphan keeps the dependent');
  t.equal(orphan?.metadata?.ownerReferences, undefined, 'with no reference left to the deleted owner');
  // A later collection run must not take the orphan for garbage.
  await core.deleteNamespacedSecret({ namespace: ns, name: 'unowned' });
  t.ok(api.get('secrets', ns, 'shared'), 'an orphan survives later collections');
});

t.test(
  'remove() (test control) collects too; an owner that never existed leaves nothing behind',
  async (t) => {
    const api = await KubeApiServer.start();
    t.teardown(() => api.close());
    const owner = api.put({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'owner', namespace: 'a' },
    });
    api.put({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 'dep',
        namespace: 'a',
        ownerReferences: [
          { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata?.uid ?? '' },
        ],
      },
    });
    api.put({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 'dangling',
        namespace: 'a',
        ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'ghost', uid: 'no-such-uid' }],
      },
    });
    t.ok(api.get('secrets', 'a', 'dep'));
    t.equal(api.remove('configmaps', 'a', 'owner'), true);
    t.equal(api.get('secrets', 'a', 'dep'), undefined, 'collected after remove()');
    t.equal(
      api.get('secrets', 'a', 'dangling'),
      undefined,
      'an object whose owners are all absent is collected',
    );
    t.equal(api.remove('configmaps', 'a', 'owner'), false, 'false when already gone');
  },
);

t.test('finalizers hold a deletion; Foreground deletes the dependents first', async (t) => {
  const api = await KubeApiServer.start({ now: () => new Date('2030-05-06T07:08:09Z') });
  t.teardown(() => api.close());
  const kc = api.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const createEs = async (name: string, finalizers?: string[]) =>
    (await custom.createNamespacedCustomObject({
      group: 'external-secrets.io',
      version: 'v1',
      namespace: 'ns',
      plural: 'externalsecrets',
      body: {
        apiVersion: 'external-secrets.io/v1',
        kind: 'ExternalSecret',
        metadata: { name, ...(finalizers ? { finalizers } : {}) },
        spec: {},
      },
    })) as { metadata: { uid: string; name: string } };
  const depend = (name: string, owner: { metadata: { uid: string; name: string } }) =>
    core.createNamespacedSecret({
      namespace: 'ns',
      body: {
        metadata: {
          name,
          ownerReferences: [
            {
              apiVersion: 'external-secrets.io/v1',
              kind: 'ExternalSecret',
              name: owner.metadata.name,
              uid: owner.metadata.uid,
            },
          ],
        },
      },
    });
  const del = (name: string, propagationPolicy?: string) =>
    custom.deleteNamespacedCustomObject({
      group: 'external-secrets.io',
      version: 'v1',
      namespace: 'ns',
      plural: 'externalsecrets',
      name,
      ...(propagationPolicy ? { propagationPolicy } : {}),
    });

  const held = await createEs('held', ['example.com/cleanup']);
  await depend('held-target', held);
  await del('held');
  const marked = api.get('externalsecrets', 'ns', 'held');
  t.equal(marked?.metadata?.deletionTimestamp, '2030-05-06T07:08:09Z', 'marked, not deleted');
  t.ok(api.get('secrets', 'ns', 'held-target'), 'its dependent waits with it');
  await custom.patchNamespacedCustomObject({
    group: 'external-secrets.io',
    version: 'v1',
    namespace: 'ns',
    plural: 'externalsecrets',
    name: 'held',
    body: [{ op: 'remove', path: '/metadata/finalizers' }],
  });
  t.equal(api.get('externalsecrets', 'ns', 'held'), undefined, 'gone once the last finalizer is removed');
  t.equal(api.get('secrets', 'ns', 'held-target'), undefined, 'and its dependent collected');

  const fg = await createEs('fg');
  await depend('fg-target', fg);
  const start = api.resourceVersion;
  const seen: string[] = [];
  const ctl = await new Watch(kc).watch(
    '/apis/external-secrets.io/v1/namespaces/ns/externalsecrets',
    { resourceVersion: start },
    (type, obj) => seen.push(`${type} ${obj.metadata.name} ${obj.metadata.finalizers?.join(',') ?? ''}`),
    () => {},
  );
  t.teardown(() => ctl.abort());
  await del('fg', 'Foreground');
  t.equal(api.get('secrets', 'ns', 'fg-target'), undefined, 'dependent deleted');
  t.equal(api.get('externalsecrets', 'ns', 'fg'), undefined, 'then the owner');
  await until(() => seen.length === 2, 'owner events');
  t.same(
    seen,
    ['MODIFIED fg foregroundDeletion', 'DELETED fg foregroundDeletion'],
    'marked first, deleted last',
  );
});
