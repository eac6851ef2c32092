/**
 * refreshPolicy and refreshInterval exactly as ESO's shouldRefresh / isSecretValid gate:
 * CreatedOnce never syncs again once synced (not on a spec, label or force-sync change), only a
 * missing or edited target is restored; OnChange syncs on a change of spec, labels or
 * annotations; Periodic with refreshInterval 0 syncs once and never again, not even on a change;
 * an Orphan target is never restored. The resource version is ESO's, byte for byte.
 */
import { createHash } from 'node:crypto';
import t from 'tap';
import type { ExternalSecret } from '../../src/api/types.ts';
import {
  esoResourceVersion,
  isTargetValid,
  needsRefresh,
  shouldRefresh,
} from '../../src/refresher/external-secret.ts';
import { b64, harness, introExternalSecret, unb64 } from './harness.ts';

const DB = 'my-app/database-credentials';
const HOUR = 3_600_000;
const TARGET = 'default/database-credentials';

function setup(over: Partial<ExternalSecret['spec']>) {
  const h = harness();
  h.remote.values.set(DB, '{"username":"u","password":"1"}');
  const es = introExternalSecret(over);
  h.refresher.upsertExternalSecret(es);
  h.refresher.start();
  return { h, es };
}

/** A new version of `es` as the informer delivers it. */
function changed(es: ExternalSecret, meta: Partial<NonNullable<ExternalSecret['metadata']>>): ExternalSecret {
  return { ...es, metadata: { ...es.metadata, resourceVersion: `${Math.random()}`, ...meta } };
}

const password = (h: ReturnType<typeof harness>) => unb64(h.kube.secrets.get(TARGET)?.data?.password);

t.test('CreatedOnce: never synced again after the target exists, even when the spec changes', async (t) => {
  const { h, es } = setup({ refreshPolicy: 'CreatedOnce' });
  t.equal(await h.refresher.tick(), 1, 'created');
  t.equal(password(h), '1');
  h.remote.values.set(DB, '{"username":"u","password":"2"}');
  const calls = h.remote.calls;
  const writes = { ...h.kube.writes };
  const events = h.kube.events.length;
  // A spec change (new generation), a label change and a force-sync: ESO syncs none of them.
  const v2 = changed(es, {
    generation: 2,
    labels: { team: 'a' },
    annotations: { 'force-sync': '1700000000' },
  });
  v2.spec = { ...es.spec, data: [{ secretKey: 'password', remoteRef: { key: DB, property: 'password' } }] };
  h.refresher.upsertExternalSecret(v2);
  await h.refresher.tick();
  h.clock.advance(HOUR * 5);
  await h.refresher.tick();
  t.equal(password(h), '1', 'the target keeps its first value');
  t.equal(h.remote.calls, calls, 'no provider call');
  t.same(h.kube.writes, writes, 'no Secret write and no status write');
  t.equal(h.kube.events.length, events, 'no Event');

  t.test('a deleted target is created again (ESO: the target is not valid)', async (t) => {
    await h.kube.deleteSecret('default', 'database-credentials');
    h.refresher.targetSecretChanged(
      { metadata: { namespace: 'default', name: 'database-credentials' } },
      true,
    );
    await h.refresher.tick();
    t.equal(password(h), '2', 'recreated with the current value');
  });
  t.test('an edited target is restored', async (t) => {
    const edited = h.kube.tamper('default', 'database-credentials', { password: b64('hacked') });
    h.refresher.targetSecretChanged(edited, false);
    await h.refresher.tick();
    t.equal(password(h), '2');
  });
});

t.test('CreatedOnce with creationPolicy Orphan: a deleted target stays deleted', async (t) => {
  const { h } = setup({
    refreshPolicy: 'CreatedOnce',
    target: { name: 'database-credentials', creationPolicy: 'Orphan' },
  });
  await h.refresher.tick();
  const gone = h.kube.secrets.get(TARGET);
  await h.kube.deleteSecret('default', 'database-credentials');
  h.refresher.targetSecretChanged(gone ?? {}, true);
  await h.refresher.tick();
  h.clock.advance(HOUR * 2);
  await h.refresher.tick();
  t.notOk(h.kube.secrets.get(TARGET), 'an Orphan target is never restored');
  t.equal(h.kube.writes.create, 1);
});

t.test('OnChange: syncs on a change of spec, labels or annotations, never on a timer', async (t) => {
  const { h, es } = setup({ refreshPolicy: 'OnChange' });
  await h.refresher.tick();
  h.remote.values.set(DB, '{"username":"u","password":"2"}');
  h.clock.advance(HOUR * 3);
  t.equal(await h.refresher.tick(), 0, 'no periodic refresh');
  t.equal(password(h), '1');
  // The echo of our own status write: same generation, labels and annotations.
  h.refresher.upsertExternalSecret(changed(es, {}));
  t.equal(await h.refresher.tick(), 0, 'a status echo is no change');
  h.refresher.upsertExternalSecret(changed(es, { labels: { team: 'b' } }));
  await h.refresher.tick();
  t.equal(password(h), '2', 'a label change syncs (ESO hashes labels and annotations)');
  h.remote.values.set(DB, '{"username":"u","password":"3"}');
  h.clock.advance(40_000); // past the value cache
  h.refresher.upsertExternalSecret(
    changed(es, { labels: { team: 'b' }, annotations: { 'force-sync': 'x' } }),
  );
  await h.refresher.tick();
  t.equal(password(h), '3', 'force-sync syncs');
  h.remote.values.set(DB, '{"username":"u","password":"4"}');
  h.clock.advance(40_000);
  h.refresher.upsertExternalSecret(
    changed(es, { generation: 2, labels: { team: 'b' }, annotations: { 'force-sync': 'x' } }),
  );
  await h.refresher.tick();
  t.equal(password(h), '4', 'a spec change syncs');
});

t.test(
  'Periodic with refreshInterval 0: once, and never again — not on a change, not on force-sync',
  async (t) => {
    const { h, es } = setup({ refreshInterval: '0' });
    await h.refresher.tick();
    h.remote.values.set(DB, '{"username":"u","password":"2"}');
    const calls = h.remote.calls;
    const statuses = h.kube.writes.status;
    h.refresher.upsertExternalSecret(changed(es, { generation: 2, annotations: { 'force-sync': '1' } }));
    await h.refresher.tick();
    h.clock.advance(HOUR * 10);
    await h.refresher.tick();
    t.equal(password(h), '1');
    t.equal(h.remote.calls, calls, 'no provider call');
    t.equal(h.kube.writes.status, statuses, 'no status write');
    const gone = h.kube.secrets.get(TARGET);
    await h.kube.deleteSecret('default', 'database-credentials');
    h.refresher.targetSecretChanged(gone ?? {}, true);
    await h.refresher.tick();
    t.equal(password(h), '2', 'a deleted target is still restored');
  },
);

t.test('Periodic: a label change syncs at once, and the interval keeps going', async (t) => {
  const { h, es } = setup({});
  await h.refresher.tick();
  h.remote.values.set(DB, '{"username":"u","password":"2"}');
  h.clock.advance(40_000); // past the value cache
  h.refresher.upsertExternalSecret(changed(es, { labels: { x: 'y' } }));
  await h.refresher.tick();
  t.equal(password(h), '2');
  h.remote.values.set(DB, '{"username":"u","password":"3"}');
  h.clock.advance(HOUR * 2);
  await h.refresher.tick();
  t.equal(password(h), '3', 'refreshed on its interval');
});

t.test('after a restart, a CreatedOnce object changed while down is not synced again', async (t) => {
  const h = harness();
  h.remote.values.set(DB, '{"username":"u","password":"1"}');
  const es = introExternalSecret({ refreshPolicy: 'CreatedOnce' });
  h.refresher.upsertExternalSecret(es);
  h.refresher.start();
  await h.refresher.tick();
  const status = h.kube.statuses.get('default/database-credentials-secret');
  await h.refresher.stop();

  // A new process: the object now has generation 2 and the status the first one wrote.
  const h2 = harness();
  h2.remote.values.set(DB, '{"username":"u","password":"2"}');
  for (const [k, v] of h.kube.secrets) h2.kube.secrets.set(k, v);
  const later = changed(es, { generation: 2 });
  later.status = status;
  h2.refresher.upsertExternalSecret(later);
  h2.refresher.start();
  await h2.refresher.tick();
  t.equal(h2.remote.calls, 0, 'no provider call');
  t.equal(h2.kube.secretWrites(), 0, 'no write');
  t.equal(h2.kube.writes.status, 0, 'no status write');
  t.equal(password(h2), '1');
});

t.test('the gate, function by function', async (t) => {
  const es = introExternalSecret({ refreshPolicy: 'OnChange' });
  const rv = esoResourceVersion(es);
  const now = Date.parse('2026-11-28T10:00:00Z');
  t.equal(needsRefresh(es, null), true, 'never synced');
  t.equal(needsRefresh(es, { resourceVersion: rv, refreshTime: now }), false);
  t.equal(needsRefresh(es, { resourceVersion: 'other', refreshTime: now }), true);
  const periodic = introExternalSecret({ refreshInterval: '1h' });
  const prv = esoResourceVersion(periodic);
  t.equal(shouldRefresh(periodic, { resourceVersion: prv, refreshTime: now - 10 }, now), false);
  t.equal(shouldRefresh(periodic, { resourceVersion: prv, refreshTime: now - HOUR - 1 }, now), true);
  t.equal(
    shouldRefresh(periodic, { resourceVersion: prv, refreshTime: now + 1000 }, now),
    true,
    'in the future',
  );
  t.equal(shouldRefresh(periodic, { resourceVersion: 'x', refreshTime: now }, now), true, 'changed');
  const zero = introExternalSecret({ refreshInterval: '0s' });
  t.equal(
    shouldRefresh(zero, { resourceVersion: 'x', refreshTime: 0 }, now),
    false,
    'interval 0 once synced',
  );
  t.equal(shouldRefresh(zero, null, now), true);

  const owned = { metadata: { labels: {}, annotations: {} }, data: { a: b64('1') } };
  t.equal(isTargetValid(es, undefined), false, 'missing');
  t.equal(isTargetValid(es, owned), false, 'no managed label, no hash');
  t.equal(
    isTargetValid(introExternalSecret({ target: { creationPolicy: 'Orphan' } }), undefined),
    true,
    'Orphan is always valid',
  );
});

t.test("the resource version is ESO's: sha3-224 of Go's %+v of the labels and annotations", async (t) => {
  const es: ExternalSecret = {
    metadata: { generation: 3, labels: { b: '2', a: '1' }, annotations: { 'force-sync': '17' } },
  };
  // What Go's fmt.Sprintf("%+v", struct{annotations, labels map[string]string}) prints.
  const text = '{annotations:map[force-sync:17] labels:map[a:1 b:2]}';
  t.equal(esoResourceVersion(es), `3-${createHash('sha3-224').update(text).digest('hex')}`);
  t.equal(
    esoResourceVersion({ metadata: {} }),
    `0-${createHash('sha3-224').update('{annotations:map[] labels:map[]}').digest('hex')}`,
  );
});
