/**
 * deletionPolicy as ESO applies it: a missing remote secret is skipped entry by entry (Delete,
 * Merge) and only when nothing is left does Delete remove the Secret — and only a Secret this
 * ExternalSecret owns. Merge removes exactly the keys this ExternalSecret wrote.
 */
import t from 'tap';
import { b64, harness, introExternalSecret, unb64 } from './harness.ts';

const HOUR = 3_600_000;
const ES = 'default/database-credentials-secret';
const TARGET = 'default/database-credentials';

function twoKeys(deletionPolicy: 'Delete' | 'Merge' | 'Retain', creationPolicy = 'Owner') {
  return introExternalSecret({
    target: {
      name: 'database-credentials',
      creationPolicy: creationPolicy as 'Owner',
      deletionPolicy,
    },
    data: [
      { secretKey: 'username', remoteRef: { key: 'app/user', property: 'v' } },
      { secretKey: 'password', remoteRef: { key: 'app/pass', property: 'v' } },
    ],
  });
}

t.test('Delete: one remote secret gone keeps the Secret with the other key', async (t) => {
  const h = harness();
  h.remote.values.set('app/user', '{"v":"u"}');
  h.remote.values.set('app/pass', '{"v":"CANARY-del-1"}');
  h.refresher.upsertExternalSecret(twoKeys('Delete'));
  h.refresher.start();
  await h.refresher.tick();
  t.equal(unb64(h.kube.secrets.get(TARGET)?.data?.password), 'CANARY-del-1');

  h.remote.values.delete('app/pass');
  h.clock.advance(HOUR);
  await h.refresher.tick();
  const s = h.kube.secrets.get(TARGET);
  t.ok(s, 'the Secret is not deleted while a remote secret remains');
  t.same(Object.keys(s?.data ?? {}), ['username'], 'the gone key is removed');
  t.match(h.kube.statuses.get(ES)?.conditions?.[0], { status: 'True', reason: 'SecretSynced' });
  const deleted = h.kube.events.filter((e) => e.reason === 'Deleted');
  t.same(
    deleted.map((e) => e.message),
    ['secret does not exist at provider using .data[1] key=app/pass'],
  );
  t.notMatch(JSON.stringify(h.kube.events), /CANARY/);

  h.remote.values.delete('app/user');
  h.clock.advance(HOUR);
  await h.refresher.tick();
  t.notOk(h.kube.secrets.get(TARGET), 'nothing left at the provider: the Secret is deleted');
  t.match(h.kube.statuses.get(ES)?.conditions?.[0], { status: 'True', reason: 'SecretDeleted' });

  // Still gone next cycle: no error, no further write.
  const writes = h.kube.secretWrites();
  h.clock.advance(HOUR);
  await h.refresher.tick();
  t.equal(h.kube.secretWrites(), writes);
  t.match(h.kube.statuses.get(ES)?.conditions?.[0], { status: 'True', reason: 'SecretDeleted' });
  await h.refresher.stop();
});

t.test('Delete never removes a Secret this ExternalSecret does not own', async (t) => {
  t.test('creationPolicy Orphan', async (t) => {
    const h = harness();
    h.remote.values.set('app/user', '{"v":"u"}');
    h.remote.values.set('app/pass', '{"v":"p"}');
    h.refresher.upsertExternalSecret(twoKeys('Delete', 'Orphan'));
    h.refresher.start();
    await h.refresher.tick();
    h.remote.values.clear();
    h.clock.advance(HOUR);
    await h.refresher.tick();
    t.equal(unb64(h.kube.secrets.get(TARGET)?.data?.password), 'p', 'kept, data intact');
    t.match(h.kube.statuses.get(ES)?.conditions?.[0], {
      status: 'False',
      reason: 'SecretSyncedError',
      message: /creationPolicy Orphan does not own/,
    });
    await h.refresher.stop();
  });
  t.test('a Secret without our controller reference', async (t) => {
    const h = harness();
    await h.kube.createSecret('default', {
      metadata: { name: 'database-credentials' },
      data: { mine: b64('hand-made') },
    });
    h.refresher.upsertExternalSecret(twoKeys('Delete'));
    h.refresher.start();
    await h.refresher.tick();
    t.equal(unb64(h.kube.secrets.get(TARGET)?.data?.mine), 'hand-made', 'not deleted');
    t.equal(h.kube.writes.delete, 0);
    t.match(h.kube.statuses.get(ES)?.conditions?.[0], {
      status: 'False',
      message: /not controlled by this ExternalSecret/,
    });
    await h.refresher.stop();
  });
});

t.test('Retain: a missing remote secret is an error and the data stays', async (t) => {
  const h = harness();
  h.remote.values.set('app/user', '{"v":"u"}');
  h.remote.values.set('app/pass', '{"v":"p"}');
  h.refresher.upsertExternalSecret(twoKeys('Retain'));
  h.refresher.start();
  await h.refresher.tick();
  h.remote.values.delete('app/pass');
  h.clock.advance(HOUR);
  await h.refresher.tick();
  t.same(
    Object.keys(h.kube.secrets.get(TARGET)?.data ?? {}).sort(),
    ['password', 'username'],
    'nothing removed',
  );
  t.match(h.kube.statuses.get(ES)?.conditions?.[0], { status: 'False', reason: 'SecretSyncedError' });
  await h.refresher.stop();
});

t.test('Merge into a foreign Secret: only the keys this ExternalSecret wrote come and go', async (t) => {
  const h = harness();
  await h.kube.createSecret('default', {
    metadata: { name: 'database-credentials' },
    data: { other: b64('theirs') },
  });
  h.remote.values.set('app/json', '{"a":"1","b":"2"}');
  const es = introExternalSecret({
    target: { name: 'database-credentials', creationPolicy: 'Merge', deletionPolicy: 'Merge' },
    data: [],
    dataFrom: [{ extract: { key: 'app/json' } }],
  });
  h.refresher.upsertExternalSecret(es);
  h.refresher.start();
  await h.refresher.tick();
  t.same(Object.keys(h.kube.secrets.get(TARGET)?.data ?? {}).sort(), ['a', 'b', 'other']);
  t.notOk(h.kube.secrets.get(TARGET)?.metadata?.ownerReferences, 'Merge never takes ownership');

  h.remote.values.set('app/json', '{"a":"1"}');
  h.clock.advance(HOUR);
  await h.refresher.tick();
  t.same(
    Object.keys(h.kube.secrets.get(TARGET)?.data ?? {}).sort(),
    ['a', 'other'],
    'a property removed at the provider leaves the Secret',
  );

  h.remote.values.delete('app/json');
  h.clock.advance(HOUR);
  await h.refresher.tick();
  const s = h.kube.secrets.get(TARGET);
  t.same(Object.keys(s?.data ?? {}), ['other'], 'the remote secret gone: our keys go, theirs stay');
  t.equal(unb64(s?.data?.other), 'theirs');
  t.match(h.kube.statuses.get(ES)?.conditions?.[0], { status: 'True' });

  // Nothing changes any more: zero writes.
  const writes = h.kube.secretWrites();
  h.clock.advance(HOUR);
  await h.refresher.tick();
  t.equal(h.kube.secretWrites(), writes);
  await h.refresher.stop();
});

t.test('Merge deletion with creationPolicy Owner empties the owned Secret', async (t) => {
  const h = harness();
  h.remote.values.set('app/user', '{"v":"u"}');
  h.remote.values.set('app/pass', '{"v":"p"}');
  h.refresher.upsertExternalSecret(twoKeys('Merge'));
  h.refresher.start();
  await h.refresher.tick();
  h.remote.values.clear();
  h.clock.advance(HOUR);
  await h.refresher.tick();
  const s = h.kube.secrets.get(TARGET);
  t.ok(s, 'the Secret stays');
  t.same(s?.data ?? {}, {}, 'its managed keys are gone');
  await h.refresher.stop();
});
