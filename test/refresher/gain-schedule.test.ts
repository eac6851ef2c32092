/**
 * A target edited by hand is restored by whoever owns its ExternalSecret next, even when the
 * status says it is up to date: the restore its owner had in flight is abandoned by the handover
 * (docs/refresher.md, "Shards"). Injected clock, no timing.
 */
import t from 'tap';
import type { ExternalSecret } from '../../src/api/types.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { shardOf } from '../../src/refresher/queue.ts';
import { Refresher } from '../../src/refresher/refresher.ts';
import { b64, harness, holdSyncs, introExternalSecret, unb64 } from './harness.ts';

const DB = 'my-app/database-credentials';
const SHARDS = 2;

t.test('a restore abandoned by a handover: the new owner restores the target at once', async (t) => {
  const h = harness({ shards: SHARDS });
  const mine = shardOf('default', SHARDS);
  // Two replicas on one cluster: A (the harness's refresher) and B.
  const b = new Refresher({
    resolver: h.resolver,
    kube: h.kube,
    logger: silentLogger(),
    now: h.clock.now,
    shards: SHARDS,
  });
  h.remote.values.set(DB, '{"username":"u","password":"CANARY-real"}');
  const es = introExternalSecret();
  h.refresher.upsertExternalSecret(es);
  await h.refresher.setShards([0, 1]);
  t.equal(await h.refresher.tick(), 1, 'A syncs it');
  // Both informers see the status A wrote.
  const echoed: ExternalSecret = {
    ...es,
    status: h.kube.statuses.get('default/database-credentials-secret'),
  };
  h.refresher.upsertExternalSecret(echoed);
  b.upsertExternalSecret(echoed);
  await b.setShards([1 - mine]);

  // Edited by hand: both replicas see it; A's restore is held at its read of the target.
  const hold = holdSyncs(h);
  const edited = h.kube.tamper('default', 'database-credentials', { password: b64('hacked') });
  h.refresher.targetSecretChanged(edited, false);
  b.targetSecretChanged(edited, false);
  const cycle = h.refresher.tick();
  t.equal(await hold.inFlight(), 1, "A's restore is in flight");
  const given = h.refresher.setShards([1 - mine]);
  hold.open();
  await given;
  await cycle;
  t.equal(unb64(h.kube.secrets.get('default/database-credentials')?.data?.password), 'hacked', 'abandoned');

  await b.setShards([0, 1]);
  t.equal(b.dueOf(echoed), undefined, 'B: urgent, though its status says it is up to date');
  t.equal(await b.tick(), 1, 'B restores it at its first round');
  t.equal(unb64(h.kube.secrets.get('default/database-credentials')?.data?.password), 'CANARY-real');
  // Restored: a later gain keeps its round again.
  b.targetSecretChanged(h.kube.secrets.get('default/database-credentials') ?? {}, false);
  await b.setShards([]);
  await b.setShards([0, 1]);
  t.ok((b.dueOf(echoed) ?? 0) > h.clock.now(), 'seen intact: at its round');
  t.notOk(
    h.lines.some((l) => l.includes('CANARY')),
    'no value in any log line',
  );
  await b.setShards([]);
  await h.refresher.setShards([]);
});
