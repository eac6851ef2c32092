import { Watch } from '@kubernetes/client-node';
import t from 'tap';
import { KubeClient } from '../../src/kube/client.ts';
import { ApiSecretReader } from '../../src/kube/secret-reader.ts';
import { KubeApiServer } from '../fakes/kube-apiserver/index.ts';
import { generated, until } from './helpers.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

t.test(
  'deleting an owner garbage-collects its dependents (watch sees DELETED); Orphan keeps them',
  async (t) => {
    const api = await KubeApiServer.start();
    t.teardown(() => api.close());
    const client = new KubeClient(api.kubeConfig());
    const es = (name: string) =>
      generated(client).custom.createNamespacedCustomObject({
        group: 'external-secrets.io',
        version: 'v1',
        namespace: 'app',
        plural: 'externalsecrets',
        body: { apiVersion: 'external-secrets.io/v1', kind: 'ExternalSecret', metadata: { name }, spec: {} },
      }) as Promise<{ metadata: { uid: string; name: string } }>;
    const owner = (o: { metadata: { uid: string; name: string } }) => ({
      apiVersion: 'external-secrets.io/v1',
      kind: 'ExternalSecret',
      name: o.metadata.name,
      uid: o.metadata.uid,
      controller: true,
    });
    const a = await es('a');
    const b = await es('b');
    const c = await es('c');
    await client.createSecret('app', { metadata: { name: 'owned-by-a', ownerReferences: [owner(a)] } });
    await client.createSecret('app', {
      metadata: { name: 'owned-by-a-and-b', ownerReferences: [owner(a), owner(b)] },
    });
    await client.createSecret('app', { metadata: { name: 'owned-by-c', ownerReferences: [owner(c)] } });
    await client.createSecret('app', { metadata: { name: 'unowned' } });

    const deleted: string[] = [];
    const ctl = await new Watch(api.kubeConfig()).watch(
      '/api/v1/namespaces/app/secrets',
      { resourceVersion: api.resourceVersion },
      (type, obj) => {
        if (type === 'DELETED') deleted.push(obj.metadata.name);
      },
      () => {},
    );
    t.teardown(() => ctl.abort());

    await generated(client).custom.deleteNamespacedCustomObject({
      group: 'external-secrets.io',
      version: 'v1',
      namespace: 'app',
      plural: 'externalsecrets',
      name: 'a',
    });
    await until(() => deleted.length === 1, 'one dependent deleted');
    t.same(deleted, ['owned-by-a']);
    t.ok(api.get('secrets', 'app', 'owned-by-a-and-b'), 'a dependent with a remaining owner stays');

    await generated(client).custom.deleteNamespacedCustomObject({
      group: 'external-secrets.io',
      version: 'v1',
      namespace: 'app',
      plural: 'externalsecrets',
      name: 'b',
    });
    await until(() => deleted.length === 2, 'the last owner gone');
    t.same(deleted, ['owned-by-a', 'owned-by-a-and-b']);

    await generated(client).custom.deleteNamespacedCustomObject({
      group: 'external-secrets.io',
      version: 'v1',
      namespace: 'app',
      plural: 'externalsecrets',
      name: 'c',
      propagationPolicy: 'Orphan',
    });
    t.ok(api.get('secrets', 'app', 'owned-by-c'), 'propagationPolicy Orphan keeps dependents');
    t.ok(api.get('secrets', 'app', 'unowned'));
    t.equal(deleted.length, 2);
  },
);

t.test('ApiSecretReader: one GET per TTL window, undefined for a missing Secret', async (t) => {
  const api = await KubeApiServer.start();
  t.teardown(() => api.close());
  const client = new KubeClient(api.kubeConfig());
  let gets = 0;
  const counting = {
    getSecret: (ns: string, name: string) => {
      gets++;
      return client.getSecret(ns, name);
    },
  };
  let clock = 0;
  const reader = new ApiSecretReader(counting, { ttlMs: 10_000, now: () => clock });
  api.put({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'creds', namespace: 'app' },
    data: { k: 'djE=' },
  });
  const burst = await Promise.all([1, 2, 3].map(() => reader.readSecret('app', 'creds')));
  t.equal(gets, 1, 'a burst costs one GET');
  t.equal(burst[2]?.data?.k, 'djE=');
  await reader.readSecret('app', 'creds', { fresh: true });
  t.equal(gets, 2, 'a fresh read (the credential re-check) bypasses the cache');
  await reader.readSecret('app', 'creds');
  t.equal(gets, 2, 'and refills it');
  api.put({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'creds', namespace: 'app' },
    data: { k: 'djI=' },
  });
  clock += 9_999;
  t.equal((await reader.readSecret('app', 'creds'))?.data?.k, 'djE=', 'cached within the TTL');
  clock += 2;
  t.equal((await reader.readSecret('app', 'creds'))?.data?.k, 'djI=', 'read again after the TTL');
  t.equal(await reader.readSecret('app', 'missing'), undefined);
  api.failNext({ verb: 'get', resource: 'secrets', code: 500 });
  await t.rejects(reader.readSecret('app', 'other'), { code: 'ESW_KUBE' });
  api.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'other', namespace: 'app' } });
  t.ok(await reader.readSecret('app', 'other'), 'a failed read is not cached');
});
