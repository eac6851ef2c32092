/**
 * Lifecycle edges. Leadership lost mid-sync abandons the write — and the object is not
 * forgotten: when this replica leads again, the abandoned sync runs first. An ExternalSecret
 * being deleted is no longer synced.
 */
import t from 'tap';
import { harness, introExternalSecret, unb64 } from './harness.ts';

const DB = 'my-app/database-credentials';

t.test('a sync abandoned by stop() runs again after the next start()', async (t) => {
  const h = harness();
  h.remote.values.set(DB, '{"username":"u","password":"CANARY-lead"}');
  // Hold the sync itself (past the round's prefetch) at its read of the target Secret.
  let release: () => void = () => undefined;
  let gate: Promise<void> | undefined = new Promise<void>((r) => {
    release = r;
  });
  let reads = 0;
  const read = h.kube.getSecret.bind(h.kube);
  h.kube.getSecret = async (ns, name) => {
    reads++;
    if (gate) await gate;
    return read(ns, name);
  };
  const es = introExternalSecret();
  h.refresher.upsertExternalSecret(es);
  h.refresher.start();
  const cycle = h.refresher.tick();
  for (let i = 0; i < 100 && reads === 0; i++) await new Promise((r) => setImmediate(r));
  t.equal(reads, 1, 'the sync is in flight');
  const stopped = h.refresher.stop();
  gate = undefined;
  release();
  await cycle;
  await stopped;
  t.equal(h.kube.secretWrites(), 0, 'nothing written while not leading');
  t.equal(h.kube.writes.status, 0, 'no status either');
  t.same(h.kube.events, [], 'and no Event');
  t.not(h.refresher.dueOf(es), undefined, 'the abandoned object is still scheduled');

  h.clock.advance(30_000);
  h.refresher.start();
  t.equal(await h.refresher.tick(), 1, 'synced again once leading');
  t.equal(unb64(h.kube.secrets.get('default/database-credentials')?.data?.password), 'CANARY-lead');
  t.match(h.kube.statuses.get('default/database-credentials-secret')?.conditions?.[0], {
    status: 'True',
  });
  await h.refresher.stop();
});

t.test('an ExternalSecret being deleted is left alone: its collected target is not recreated', async (t) => {
  const h = harness();
  h.remote.values.set(DB, '{"username":"u","password":"p"}');
  const es = introExternalSecret();
  h.refresher.upsertExternalSecret(es);
  h.refresher.start();
  await h.refresher.tick();
  const deleting = {
    ...es,
    metadata: {
      ...es.metadata,
      deletionTimestamp: '2026-11-28T10:00:05Z',
      finalizers: ['foregroundDeletion'],
    },
  };
  h.refresher.upsertExternalSecret(deleting);
  const target = h.kube.secrets.get('default/database-credentials');
  await h.kube.deleteSecret('default', 'database-credentials');
  h.refresher.targetSecretChanged(target ?? {}, true);
  await h.refresher.tick();
  h.clock.advance(3_600_000);
  await h.refresher.tick();
  t.notOk(h.kube.secrets.get('default/database-credentials'), 'not recreated');
  t.equal(h.kube.writes.create, 1, 'only the first creation');
  await h.refresher.stop();
});
