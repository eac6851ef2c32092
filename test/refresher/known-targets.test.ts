/**
 * A refresh that changes nothing reads no target (src/refresher/known-targets.ts): the refresher
 * on its real Kubernetes port (ApiKubeWriter) against the API-server double, with the
 * managed-Secret informer of cluster mode (data dropped, its hash kept; the cache keeping
 * identity, resourceVersion and the sync's fingerprint). Time is an injected clock; the only
 * waits are for the informer to hold the version the double holds (an event, not a delay).
 *
 * The other half: whatever gives the target a new version — an edit that keeps data and hash
 * consistent (so the restore trigger does not fire), an owner reference removed — is read and
 * undone at the next refresh, as before.
 */
import t, { type Test } from 'tap';
import type { ExternalSecret, KubeObject, Secret, SecretStore } from '../../src/api/types.ts';
import { Informer, MANAGED_LABEL, slim } from '../../src/kube/informer.ts';
import { type Desired, targetFingerprint } from '../../src/refresher/external-secret.ts';
import { KnownTargets } from '../../src/refresher/known-targets.ts';
import { ES_HASH_ANNOTATION, esoDataHash, withDataDigest } from '../../src/refresher/secret-data.ts';
import { until } from '../kube/helpers.ts';
import { apiRefresher } from './api-refresher.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const HOUR = 3_600_000;
const CANARY = `CANARY-known-${Math.random().toString(36).slice(2)}`;
const TARGET = 'database-credentials';

function store(password: string, rv: string): SecretStore {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind: 'SecretStore',
    metadata: { name: 'store', namespace: 'default', uid: 'store-uid', resourceVersion: rv },
    spec: { provider: { fake: { data: [{ key: 'app/db', value: JSON.stringify({ password }) }] } } },
  };
}

const externalSecret: ExternalSecret = {
  apiVersion: 'external-secrets.io/v1',
  kind: 'ExternalSecret',
  metadata: { name: 'db', namespace: 'default', labels: { team: 'payments' } },
  spec: {
    refreshInterval: '1h',
    secretStoreRef: { name: 'store', kind: 'SecretStore' },
    target: { name: TARGET },
    data: [{ secretKey: 'password', remoteRef: { key: 'app/db', property: 'password' } }],
  },
};

async function setup(t: Test) {
  // The managed-Secret informer as cluster mode builds it (src/cluster.ts, src/kube/informer.ts).
  const known = new KnownTargets();
  const { api, clock, registry, refresher, lines } = await apiRefresher(t, {
    start: '2026-12-02T10:00:00Z',
    store: store(CANARY, '1'),
    known,
  });
  const informer = new Informer<Secret>(api.kubeConfig(), {
    path: '/api/v1/secrets',
    apiVersion: 'v1',
    kind: 'Secret',
    labelSelector: `${MANAGED_LABEL}=true`,
    transform: (obj) => withDataDigest(slim(obj) as Secret) as KubeObject,
    keep: known.keep,
  });
  known.attach(informer);
  t.teardown(() => informer.stop());
  informer.on('update', (s) => refresher.targetSecretChanged(s, false));
  informer.on('delete', (s) => refresher.targetSecretChanged(s, true));
  informer.start();
  await informer.synced;
  await until(() => informer.healthy(), 'informer watching');
  refresher.upsertExternalSecret(api.put(externalSecret) as ExternalSecret);
  refresher.start();

  const secret = () => api.get('secrets', 'default', TARGET) as Secret | undefined;
  const password = () => Buffer.from(secret()?.data?.password ?? '', 'base64').toString();
  const gets = () => api.requests({ verb: 'get', path: `/secrets/${TARGET}` }).length;
  /** The informer holds the version of the target the double holds (its watch event came). */
  const caughtUp = () =>
    until(
      () =>
        informer.get('default', TARGET)?.metadata?.resourceVersion === secret()?.metadata?.resourceVersion,
      'informer caught up with the target',
    );
  /** One refresh cycle, once the informer has seen every change made before it. */
  const cycle = async () => {
    await caughtUp();
    clock.advance(HOUR);
    await refresher.tick();
  };
  return { api, clock, registry, informer, known, refresher, secret, password, gets, caughtUp, cycle, lines };
}

t.test(
  'the cache tells a target as written from one edited or deleted (what a start or gain reads)',
  async (t) => {
    const h = await setup(t);
    const key = `default/${TARGET}`;
    await h.refresher.tick();
    await h.caughtUp();
    t.equal(h.known.state(key), 'intact', 'as the sync wrote it');
    h.api.put({ ...(h.secret() as Secret), data: { password: Buffer.from('tampered').toString('base64') } });
    await h.caughtUp();
    t.equal(h.known.state(key), 'edited', 'its data no longer matches its data-hash');
    h.api.remove('secrets', 'default', TARGET);
    await until(() => h.informer.get('default', TARGET) === undefined, 'informer saw the deletion');
    t.equal(h.known.state(key), 'absent');
    t.equal(new KnownTargets().state(key), 'unknown', 'no cache listed: unknown');
  },
);

t.test('an unchanged target costs no GET a cycle; a changed value is still written', async (t) => {
  const h = await setup(t);
  await h.refresher.tick();
  t.equal(h.password(), CANARY, 'first sync: written');
  const getsAfterFirst = h.gets();
  const statusWrites = () => h.api.writes('externalsecrets/status', 'patch');
  const statusBefore = statusWrites();
  for (let i = 0; i < 3; i++) await h.cycle();
  t.equal(h.gets() - getsAfterFirst, 0, 'three idle cycles: no GET of the target');
  t.equal(h.api.writes('secrets', 'update'), 0, 'and no write');
  t.equal(statusWrites() - statusBefore, 3, 'each cycle still refreshed the status (refreshTime)');

  // A new value at the provider: another fingerprint, the cache vouches for nothing.
  h.registry.upsert(store('rotated', '2'));
  await h.cycle();
  t.equal(h.password(), 'rotated', 'the rotated value is written');
  t.equal(h.api.writes('secrets', 'update'), 1);
  const getsAfterRotation = h.gets();
  await h.cycle();
  t.equal(h.gets() - getsAfterRotation, 0, 'the version just written is known: no GET the next cycle');
});

t.test('an edit that keeps data and hash consistent is undone at the next refresh', async (t) => {
  const h = await setup(t);
  await h.refresher.tick();
  await h.cycle();
  const before = h.gets();
  // Another writer replaces the value and sets the matching hash: the informer's restore check
  // sees an intact Secret (no urgent re-sync); only the new resourceVersion tells.
  const forged = new Map([['password', Buffer.from('forged')]]);
  const current = h.secret() as Secret;
  h.api.put({
    ...current,
    data: { password: Buffer.from('forged').toString('base64') },
    metadata: {
      ...current.metadata,
      annotations: { ...current.metadata?.annotations, [ES_HASH_ANNOTATION]: esoDataHash(forged) },
    },
  });
  await h.caughtUp();
  await h.refresher.tick();
  t.equal(h.password(), 'forged', 'not urgent: the data matches its hash');
  await h.cycle();
  t.equal(h.password(), CANARY, 'the next refresh read the target and wrote the provider value back');
  t.ok(h.gets() > before, 'it read the target');

  // Our owner reference removed (data untouched): put back at the next refresh.
  const owned = h.secret() as Secret;
  h.api.put({ ...owned, metadata: { ...owned.metadata, ownerReferences: [] } });
  await h.cycle();
  t.match(h.secret()?.metadata?.ownerReferences, [{ kind: 'ExternalSecret', name: 'db', controller: true }]);

  // Deleted: the restore trigger recreates it at once, as before.
  h.api.remove('secrets', 'default', TARGET);
  await until(() => h.informer.get('default', TARGET) === undefined, 'informer saw the deletion');
  await h.refresher.tick();
  t.equal(h.password(), CANARY, 'the deleted target is written again');
  t.notOk(
    h.lines.some((l) => l.includes(CANARY) || l.includes('forged')),
    'no value in the logs',
  );
});

t.test('while the informer is not watching, every sync reads its target', async (t) => {
  const h = await setup(t);
  await h.refresher.tick();
  await h.cycle();
  await h.informer.stop();
  // An edit the stopped informer never sees: its cache still holds the version we left.
  h.api.put({ ...(h.secret() as Secret), data: { password: Buffer.from('edited').toString('base64') } });
  const before = h.gets();
  h.clock.advance(HOUR);
  await h.refresher.tick();
  t.equal(h.gets() - before, 1, 'the refresh read the target');
  t.equal(h.password(), CANARY, 'and undid the edit');
});

t.test('the fingerprint covers what a write depends on besides the stored Secret', async (t) => {
  const desired = (over: Partial<Desired> = {}): Desired => ({
    type: undefined,
    data: new Map([['a', Buffer.from('bc')]]),
    labels: { team: 'payments' },
    annotations: {},
    ...over,
  });
  const base = targetFingerprint(externalSecret, desired());
  t.equal(targetFingerprint(structuredClone(externalSecret), desired()), base, 'equal inputs, equal prints');
  const differs = (what: string, es: ExternalSecret, d: Desired) =>
    t.not(targetFingerprint(es, d), base, what);
  differs('a key boundary moved', externalSecret, desired({ data: new Map([['ab', Buffer.from('c')]]) }));
  differs('a value', externalSecret, desired({ data: new Map([['a', Buffer.from('bd')]]) }));
  differs('the type', externalSecret, desired({ type: 'kubernetes.io/tls' }));
  differs('a label', externalSecret, desired({ labels: { team: 'billing' } }));
  differs('an annotation', externalSecret, desired({ annotations: { note: 'x' } }));
  const target = (over: Record<string, unknown>) => ({
    ...externalSecret,
    spec: { ...externalSecret.spec, target: { ...externalSecret.spec?.target, ...over } },
  });
  differs('the creation policy', target({ creationPolicy: 'Merge' }), desired());
  differs('immutable', target({ immutable: true }), desired());
  differs(
    'the owner (a new ExternalSecret of the same name)',
    { ...externalSecret, metadata: { ...externalSecret.metadata, uid: 'another' } },
    desired(),
  );
});
