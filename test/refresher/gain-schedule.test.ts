/**
 * A gain (`start()`, `setShards()`) schedules its objects from their status a slice a turn of the
 * event loop, after the call has returned (docs/refresher.md, "Sharing the event loop with
 * admission"); `scheduled()` says when it is done. Every object of a gained shard is scheduled
 * once, none of a shard given up before its slice ran, and a stop() mid-way leaves nothing
 * running. A target edited by hand is restored by whoever owns it next, even when the status says
 * it is up to date: the restore its owner had in flight is abandoned by the handover. Injected
 * clock, turns of the loop counted, no timing.
 */
import t from 'tap';
import type { ExternalSecret } from '../../src/api/types.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { ES_HASH_ANNOTATION } from '../../src/refresher/external-secret.ts';
import { shardOf } from '../../src/refresher/queue.ts';
import { Refresher, SCHEDULE_SLICE } from '../../src/refresher/refresher.ts';
import { b64, harness, holdSyncs, introExternalSecret, readyAtVersion, STORE, unb64 } from './harness.ts';

const DB = 'my-app/database-credentials';
const SHARDS = 2;
const MINE = shardOf('team-a', SHARDS);
const OTHER = 1 - MINE;
const OTHER_NS = ['team-b', 'team-c', 'team-d', 'team-e'].find(
  (ns) => shardOf(ns, SHARDS) === OTHER,
) as string;
const N = 3 * SCHEDULE_SLICE + 1;

/** The i-th ExternalSecret of `namespace`, synced a minute ago at this version: it keeps its round. */
function synced(h: ReturnType<typeof harness>, namespace: string, i: number): ExternalSecret {
  const base = introExternalSecret({ target: { name: `t-${i}`, creationPolicy: 'Owner' } }, `es-${i}`);
  return readyAtVersion(h, { ...base, metadata: { ...base.metadata, namespace, uid: `${namespace}-${i}` } });
}

function objects(h: ReturnType<typeof harness>, namespace: string, n: number): ExternalSecret[] {
  const list = Array.from({ length: n }, (_, i) => synced(h, namespace, i));
  for (const es of list) h.refresher.upsertExternalSecret(es);
  return list;
}

/** The queue depth after each turn of the loop until `scheduled()` resolves. */
async function turns(r: Refresher): Promise<number[]> {
  let done = false;
  void r.scheduled().then(() => {
    done = true;
  });
  const depths: number[] = [];
  while (!done) {
    await new Promise((resolve) => setImmediate(resolve));
    depths.push(r.queueDepth);
  }
  return depths;
}

const now = (h: ReturnType<typeof harness>) => h.clock.now();

t.test('a gain schedules a slice a turn, after the call, every object once at its round', async (t) => {
  for (const [name, shards, gain] of [
    ['start()', 1, (r: Refresher) => r.start()],
    ['setShards()', SHARDS, (r: Refresher) => void r.setShards([0, 1])],
  ] as const) {
    const h = harness({ shards });
    const list = objects(h, 'team-a', N);
    gain(h.refresher);
    t.equal(h.refresher.queueDepth, 0, `${name}: nothing scheduled in the call's own stretch`);
    const depths = await turns(h.refresher);
    const steps = depths.map((d, i) => d - (depths[i - 1] ?? 0));
    t.ok(
      steps.every((s) => s <= SCHEDULE_SLICE),
      `${name}: at most a slice a turn (${Math.max(...steps)})`,
    );
    t.ok(depths.length >= 3, `${name}: the loop turned between slices (${depths.length} turns)`);
    t.equal(h.refresher.queueDepth, N, `${name}: every object queued once`);
    t.ok(
      list.every((es) => (h.refresher.dueOf(es) ?? 0) > now(h)),
      `${name}: each at its round (synced a minute ago: none urgent)`,
    );
  }
});

t.test('a shard given up before its slices ran gets nothing more; the kept one all', async (t) => {
  const h = harness({ shards: SHARDS });
  const lost = objects(h, 'team-a', N);
  const kept = objects(h, OTHER_NS, N);
  const gained = h.refresher.setShards([0, 1]);
  await new Promise((resolve) => setImmediate(resolve));
  t.ok(h.refresher.queueDepth < 2 * N, `still scheduling after a turn (${h.refresher.queueDepth} queued)`);
  await h.refresher.setShards([OTHER]);
  await gained;
  await h.refresher.scheduled();
  t.equal(lost.filter((es) => h.refresher.dueOf(es) !== undefined).length, 0, 'nothing of the lost shard');
  t.equal(h.refresher.queueDepth, N, 'only the kept shard queued');
  t.ok(
    kept.every((es) => h.refresher.dueOf(es) !== undefined),
    'every object of the kept shard',
  );
});

t.test(
  'stop() while a gain schedules: nothing left running; the next start() schedules the rest',
  async (t) => {
    let armed = 0;
    const h = harness({
      setTimer: () => {
        armed++;
        return { cancel: () => armed-- };
      },
    });
    objects(h, 'team-a', N);
    h.refresher.start();
    await new Promise((resolve) => setImmediate(resolve));
    const partial = h.refresher.queueDepth;
    t.ok(partial > 0 && partial < N, `stopped mid-way (${partial} queued)`);
    await h.refresher.stop();
    t.notOk(process.getActiveResourcesInfo().includes('Immediate'), 'no turn of the loop asked for');
    t.equal(armed, 0, 'no timer armed');
    await new Promise((resolve) => setImmediate(resolve));
    t.equal(h.refresher.queueDepth, partial, 'what was queued stays queued, nothing more');
    h.refresher.start();
    await h.refresher.scheduled();
    t.equal(h.refresher.queueDepth, N, 'the next start() schedules the rest');
    await h.refresher.stop();
  },
);

t.test('an update while a gain is still scheduling: its status decides, as the slice would', async (t) => {
  const h = harness();
  const list = objects(h, 'team-a', N);
  const last = list.at(-1) as ExternalSecret;
  const changed = list.at(-2) as ExternalSecret;
  h.refresher.start();
  // Before the gain has reached them: the echo of a status write (a new resourceVersion, nothing
  // else), and a new generation.
  const echo = { ...last, metadata: { ...last.metadata, resourceVersion: '11' } };
  h.refresher.upsertExternalSecret(echo);
  h.refresher.upsertExternalSecret({ ...changed, metadata: { ...changed.metadata, generation: 2 } });
  await h.refresher.scheduled();
  t.ok((h.refresher.dueOf(echo) ?? 0) > now(h), 'synced at this version: at its round, not urgent');
  t.equal(h.refresher.dueOf(changed), undefined, 'a new generation: urgent');
  t.equal(h.refresher.queueDepth, N, 'each once');
  await h.refresher.stop();
});

t.test('a target edited while a gain is still scheduling is restored at once', async (t) => {
  const h = harness();
  h.registry.upsert({ ...STORE, metadata: { ...STORE.metadata, namespace: 'team-a' } });
  h.remote.values.set(DB, '{"username":"u","password":"CANARY-real"}');
  const last = objects(h, 'team-a', N).at(-1) as ExternalSecret;
  h.refresher.start();
  // Seen before the gain has reached the object (no last sync of it known here yet).
  h.refresher.targetSecretChanged(
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `t-${N - 1}`, namespace: 'team-a', annotations: { [ES_HASH_ANNOTATION]: 'written' } },
      data: { password: b64('hacked') },
    },
    false,
  );
  await h.refresher.scheduled();
  t.equal(h.refresher.dueOf(last), undefined, 'urgent, not at its round');
  t.equal(h.refresher.queueDepth, N);
  t.equal(await h.refresher.tick(), 1, 'one sync: the edited target');
  t.equal(unb64(h.kube.secrets.get(`team-a/t-${N - 1}`)?.data?.password), 'CANARY-real');
  await h.refresher.stop();
});

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
  await b.scheduled();
  t.equal(b.dueOf(echoed), undefined, 'B: urgent, though its status says it is up to date');
  t.equal(await b.tick(), 1, 'B restores it at its first round');
  t.equal(unb64(h.kube.secrets.get('default/database-credentials')?.data?.password), 'CANARY-real');
  // Restored: a later gain keeps its round again.
  b.targetSecretChanged(h.kube.secrets.get('default/database-credentials') ?? {}, false);
  await b.setShards([]);
  await b.setShards([0, 1]);
  await b.scheduled();
  t.ok((b.dueOf(echoed) ?? 0) > h.clock.now(), 'seen intact: at its round');
  t.notOk(
    h.lines.some((l) => l.includes('CANARY')),
    'no value in any log line',
  );
  await b.setShards([]);
  await h.refresher.setShards([]);
});
