/**
 * The refresher on its real Kubernetes port: ApiKubeWriter over @kubernetes/client-node against
 * the API-server double, the real StoreResolver and the `fake` provider. Writes, 409s, status
 * and Events are observed on the double, time through an injected clock.
 */
import t, { type Test } from 'tap';
import type { ExternalSecret, SecretStore } from '../../src/api/types.ts';
import type { KubeWriter } from '../../src/refresher/ports.ts';
import { type ApiRefresherOptions, apiRefresher } from './api-refresher.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const HOUR = 3_600_000;
const CANARY = `CANARY-${Math.random().toString(36).slice(2)}`;

/** The store without the key: the remote secret is gone. */
function emptyStore(rv: string): SecretStore {
  const s = store('', rv);
  return { ...s, spec: { provider: { fake: { data: [] } } } };
}

function store(password: string, rv: string): SecretStore {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind: 'SecretStore',
    metadata: {
      name: 'aws-secrets-manager-store',
      namespace: 'default',
      uid: 'store-uid',
      resourceVersion: rv,
    },
    spec: {
      provider: {
        fake: {
          data: [
            {
              key: 'my-app/database-credentials',
              value: JSON.stringify({ username: 'db_user', password }),
            },
          ],
        },
      },
    },
  };
}

function intro(target: Record<string, unknown> = {}): ExternalSecret {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name: 'database-credentials-secret', namespace: 'default' },
    spec: {
      refreshInterval: '1h',
      secretStoreRef: { name: 'aws-secrets-manager-store', kind: 'SecretStore' },
      target: { name: 'database-credentials', creationPolicy: 'Owner', ...target },
      data: [
        { secretKey: 'username', remoteRef: { key: 'my-app/database-credentials', property: 'username' } },
        { secretKey: 'password', remoteRef: { key: 'my-app/database-credentials', property: 'password' } },
      ],
    },
  };
}

async function setup(t: Test, target: Record<string, unknown> = {}, wrap?: ApiRefresherOptions['wrap']) {
  const { api, clock, registry, refresher, lines } = await apiRefresher(t, {
    start: '2026-11-28T10:00:00Z',
    store: store(CANARY, '1'),
    wrap,
  });
  const es = api.put(intro(target)) as ExternalSecret;
  refresher.upsertExternalSecret(es);
  refresher.start();
  const secret = () => api.get('secrets', 'default', 'database-credentials');
  const value = (k: string) =>
    Buffer.from(((secret()?.data ?? {}) as Record<string, string>)[k] ?? '', 'base64').toString();
  const status = () =>
    (api.get('externalsecrets', 'default', 'database-credentials-secret') as ExternalSecret | undefined)
      ?.status;
  const events = () =>
    api
      .list('events', 'default')
      .map((e) => (e as unknown as { reason: string }).reason)
      .sort();
  return { api, clock, registry, refresher, es, secret, value, status, events, lines };
}

t.test("the introduction's ExternalSecret over the wire: created, owned, Ready, Event", async (t) => {
  const h = await setup(t);
  await h.refresher.tick();
  t.equal(h.value('username'), 'db_user');
  t.equal(h.value('password'), CANARY);
  t.match(h.secret()?.metadata?.ownerReferences, [
    {
      kind: 'ExternalSecret',
      name: 'database-credentials-secret',
      uid: h.es.metadata?.uid,
      controller: true,
    },
  ]);
  t.match(h.status()?.conditions, [{ type: 'Ready', status: 'True', reason: 'SecretSynced' }]);
  t.ok(h.status()?.refreshTime);
  t.same(h.events(), ['Created']);
  t.equal(h.api.writes('secrets', 'create'), 1);

  // Deleting the ExternalSecret garbage-collects its Secret.
  h.api.remove('externalsecrets', 'default', 'database-credentials-secret');
  t.notOk(h.secret(), 'owned Secret collected');
});

t.test('unchanged: zero Secret writes over many cycles; changed: one update, 409 retried', async (t) => {
  const h = await setup(t);
  await h.refresher.tick();
  for (let i = 0; i < 6; i++) {
    h.clock.advance(HOUR);
    await h.refresher.tick();
  }
  t.equal(h.api.writes('secrets', 'update'), 0, 'six cycles, no update');
  t.equal(h.api.writes('secrets', 'create'), 1);

  h.registry.upsert(store('rotated', '2'));
  h.api.failNext({ verb: 'update', resource: 'secrets', code: 409, count: 2 });
  h.clock.advance(HOUR);
  await h.refresher.tick();
  t.equal(h.value('password'), 'rotated', 'the rotated value arrives after two 409s');
  t.equal(h.api.writes('secrets', 'update'), 1, 'exactly one successful update');
  t.same(h.events(), ['Created', 'Updated']);
  t.match(h.status()?.conditions, [{ status: 'True' }]);
});

t.test('a concurrent edit between our read and our write is not lost (409, re-read)', async (t) => {
  // Once armed, the next replace is preceded by another writer adding a key: our write then
  // carries a stale resourceVersion and the double answers 409.
  let armed = false;
  const h = await setup(t, { creationPolicy: 'Merge' }, (w, api) => ({
    ...bind(w),
    replaceSecret: async (ns, secret) => {
      if (armed) {
        armed = false;
        const current = api.get('secrets', ns, secret.metadata?.name ?? '');
        api.put({
          ...current,
          data: { ...(current?.data as object), late: Buffer.from('2').toString('base64') },
        });
      }
      return w.replaceSecret(ns, secret);
    },
  }));
  h.api.put({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'database-credentials', namespace: 'default' },
    data: { theirs: Buffer.from('1').toString('base64') },
  });
  await h.refresher.tick();
  t.equal(h.value('password'), CANARY);
  h.registry.upsert(store('rotated', '2'));
  armed = true;
  h.clock.advance(HOUR);
  await h.refresher.tick();
  t.equal(armed, false, 'the concurrent write happened');
  t.ok(
    h.api.requests({ verb: 'update', path: '/secrets/database-credentials' }).some((r) => r.status === 409),
    'our stale write got a 409',
  );
  t.equal(h.value('password'), 'rotated');
  t.equal(h.value('theirs'), '1');
  t.equal(h.value('late'), '2', 'the other writer’s key survived');
});

t.test('a target deleted between our read and our write is created again', async (t) => {
  let armed = false;
  const h = await setup(t, {}, (w, api) => ({
    ...bind(w),
    replaceSecret: async (ns, secret) => {
      if (armed) {
        armed = false;
        api.remove('secrets', ns, secret.metadata?.name ?? '');
      }
      return w.replaceSecret(ns, secret);
    },
  }));
  await h.refresher.tick();
  h.registry.upsert(store('rotated', '5'));
  armed = true;
  h.clock.advance(HOUR);
  await h.refresher.tick();
  t.equal(armed, false, 'the Secret was deleted under our write');
  t.equal(h.value('password'), 'rotated', 'recreated with the new value');
  t.match(h.status()?.conditions, [{ status: 'True', reason: 'SecretSynced' }]);
});

function bind(w: KubeWriter): KubeWriter {
  return {
    getSecret: (ns, name) => w.getSecret(ns, name),
    getConfigMap: (ns, name) => w.getConfigMap(ns, name),
    createSecret: (ns, s) => w.createSecret(ns, s),
    replaceSecret: (ns, s) => w.replaceSecret(ns, s),
    deleteSecret: (ns, name) => w.deleteSecret(ns, name),
    updateExternalSecretStatus: (es, st) => w.updateExternalSecretStatus(es, st),
    createEvent: (e) => w.createEvent(e),
  };
}

t.test('a tampered target is restored; deletionPolicy Delete deletes through the API', async (t) => {
  const h = await setup(t, { deletionPolicy: 'Delete' });
  await h.refresher.tick();
  const edited = h.api.put({
    ...h.secret(),
    data: {
      username: Buffer.from('x').toString('base64'),
      password: Buffer.from('hacked').toString('base64'),
    },
  });
  h.refresher.targetSecretChanged(edited as never, false);
  await h.refresher.tick();
  t.equal(h.value('password'), CANARY, 'restored');

  h.registry.upsert(emptyStore('3'));
  h.clock.advance(HOUR);
  await h.refresher.tick();
  t.notOk(h.secret(), 'deleted: the remote secret is gone');
  t.equal(h.api.writes('secrets', 'delete'), 1);
  t.match(h.status()?.conditions, [{ status: 'True', reason: 'SecretDeleted' }]);
});

t.test('no value in events, statuses or logs', async (t) => {
  const h = await setup(t);
  await h.refresher.tick();
  h.registry.upsert(emptyStore('4'));
  h.clock.advance(HOUR);
  await h.refresher.tick();
  t.match(h.status()?.conditions, [{ status: 'False', reason: 'SecretSyncedError' }]);
  t.equal(h.value('password'), CANARY, 'data intact after the failure');
  const visible = JSON.stringify([h.api.list('events', 'default'), h.status(), h.lines]);
  t.notMatch(visible, CANARY);
});
