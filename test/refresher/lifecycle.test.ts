/**
 * Lifecycle edges. Leadership lost mid-sync abandons the write — and the object is not
 * forgotten: when this replica leads again, the abandoned sync (and the round's items not yet
 * started) run first. A shard given up mid-sync is the next owner's: nothing of it stays queued
 * here. An ExternalSecret being deleted is no longer synced.
 */
import t from 'tap';
import { shardOf } from '../../src/refresher/queue.ts';
import { harness, holdSyncs, introExternalSecret, unb64 } from './harness.ts';

const DB = 'my-app/database-credentials';

t.test('a sync abandoned by stop() runs again after the next start()', async (t) => {
  const h = harness();
  h.remote.values.set(DB, '{"username":"u","password":"CANARY-lead"}');
  const hold = holdSyncs(h);
  const es = introExternalSecret();
  h.refresher.upsertExternalSecret(es);
  h.refresher.start();
  const cycle = h.refresher.tick();
  t.equal(await hold.inFlight(), 1, 'the sync is in flight');
  const stopped = h.refresher.stop();
  hold.open();
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

t.test('stop(): the objects of the round not yet started stay queued', async (t) => {
  const h = harness({ concurrency: 1 });
  h.remote.values.set(DB, '{"username":"u","password":"p"}');
  const hold = holdSyncs(h);
  const first = introExternalSecret({}, 'first');
  const second = introExternalSecret({ target: { name: 'second', creationPolicy: 'Owner' } }, 'second');
  h.refresher.upsertExternalSecret(first);
  h.refresher.upsertExternalSecret(second);
  h.refresher.start();
  const cycle = h.refresher.tick();
  t.equal(await hold.inFlight(), 1, 'one sync in flight, the other waiting in the round');
  const stopped = h.refresher.stop();
  hold.open();
  await cycle;
  await stopped;
  t.equal(h.refresher.queueDepth, 2, 'both still queued: the abandoned one and the one not started');
  h.refresher.start();
  t.equal(await h.refresher.tick(), 2, 'both synced once started again');
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

t.test('a sync abandoned because its shard was given up is not queued again', async (t) => {
  const h = harness({ shards: 2 });
  const mine = shardOf('default', 2);
  h.remote.values.set(DB, '{"username":"u","password":"CANARY-shard"}');
  const hold = holdSyncs(h);
  const es = introExternalSecret();
  h.refresher.upsertExternalSecret(es);
  await h.refresher.setShards([0, 1]);
  const cycle = h.refresher.tick();
  t.equal(await hold.inFlight(), 1, 'the sync is in flight');
  // The shard goes to another replica; this one keeps the other shard, so its loop goes on.
  const given = h.refresher.setShards([1 - mine]);
  hold.open();
  await given;
  // Settled, before the loop's next round could pop anything.
  t.equal(h.refresher.queueDepth, 0, 'the abandoned sync is not in the queue of a shard given up');
  t.equal(h.refresher.dueOf(es), undefined);
  await cycle;
  t.equal(h.kube.writes.status, 0, 'nothing written');
  t.equal(await gauge(h, 'refresherQueueDepth'), 0, 'the queue depth counts only owned work');

  // Given up entirely (the loop stops): nothing of the shard stays queued either.
  await h.refresher.setShards([0, 1]);
  hold.close();
  const again = h.refresher.tick();
  t.equal(await hold.inFlight(), 1, 'its new sync is in flight');
  const none = h.refresher.setShards([]);
  hold.open();
  await none;
  await again;
  t.equal(h.refresher.queueDepth, 0, 'nothing queued on a replica that owns nothing');

  // Taken back: scheduled from its status as any object of a gained shard, and synced.
  await h.refresher.setShards([mine]);
  t.equal(await h.refresher.tick(), 1, 'synced once owned again');
  t.equal(unb64(h.kube.secrets.get('default/database-credentials')?.data?.password), 'CANARY-shard');
});

async function gauge(h: ReturnType<typeof harness>, name: 'refresherQueueDepth'): Promise<number> {
  return (await h.metrics[name].get()).values.reduce((n, v) => n + v.value, 0);
}
