/**
 * A replica stops writing a shard at its renew deadline, counted from the start of its last
 * renewal answered in time, whatever its round of Lease coordination is waiting on: on the
 * API-server double, the clock stepped by hand, Lease requests held by the test (a replica cut
 * off from the API server, or answered late).
 */
import t, { type Test } from 'tap';
import { KubeApiServer } from '../fakes/kube-apiserver/index.ts';
import { introExternalSecret, Remote } from '../refresher/harness.ts';
import { held, shardReplica } from './helpers.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const SHARDS = 2;
const CANARY = 'canary-5f0d1b7e-takeover';

async function setup(t: Test) {
  const api = await KubeApiServer.start();
  t.teardown(() => api.close());
  let clock = Date.parse('2026-12-03T01:00:00Z');
  const now = () => clock;
  const remote = new Remote();
  remote.values.set('my-app/database-credentials', JSON.stringify({ username: 'app', password: CANARY }));
  const lines: string[] = [];
  const es = api.put(introExternalSecret()) as ReturnType<typeof introExternalSecret>;
  const replica = (identity: string) => {
    const r = shardReplica(api, { identity, remote, now, lines, shards: SHARDS });
    const { refresher } = r;
    refresher.upsertExternalSecret(es);
    t.teardown(() => refresher.stop());
    return r;
  };
  const secretWrites = () =>
    api.writes('secrets', 'create') + api.writes('secrets', 'update') + api.writes('secrets', 'patch');
  return {
    api,
    remote,
    lines,
    replica,
    secretWrites,
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

t.test(
  'a sync in flight past the renew deadline writes nothing, while the round hangs on a cut-off API server; the new owner writes it',
  async (t) => {
    const { api, remote, lines, replica, secretWrites, advance } = await setup(t);
    const a = replica('pod-a');
    await a.coordinator.tick();
    await a.coordinator.tick();
    t.same(a.coordinator.owned, [0, 1], 'pod-a owns every shard (its last renewal: now)');

    const provider = held();
    remote.gate = provider.promise;
    const sync = a.refresher.tick();
    // Contact lost: pod-a's next round waits on a list that never gets through.
    const cut = held();
    a.client.cut = cut.promise;
    advance(2_000);
    const round = a.coordinator.tick();
    advance(8_001);
    t.same(a.coordinator.owned, [0, 1], 'still owned by its count: the round has not judged');
    t.notOk(a.coordinator.mayWrite(0), 'but past the renew deadline (10 s) of its last renewal');
    provider.resolve();
    await sync;
    t.equal(secretWrites(), 0, 'the sync released past the deadline wrote no Secret');
    t.equal(api.get('secrets', 'default', 'database-credentials'), undefined);
    t.notOk(
      lines.some((l) => l.includes('sync failed')),
      'abandoned, not counted as a failure',
    );

    cut.reject(new Error('test: API server unreachable'));
    await round;
    t.same(a.coordinator.owned, [], 'the round, once it ends, drops the shards');

    // pod-b sees pod-a's Leases, takes them once they expire, and syncs the object.
    const b = replica('pod-b');
    await b.coordinator.tick();
    advance(15_101);
    await b.coordinator.tick();
    t.same(b.coordinator.owned, [0, 1], 'pod-b took the shards');
    await b.refresher.tick();
    t.equal(secretWrites(), 1, 'written once, by the new owner');
    const target = api.get('secrets', 'default', 'database-credentials') as { data?: Record<string, string> };
    t.equal(Buffer.from(target.data?.password ?? '', 'base64').toString(), CANARY);
    t.notOk(
      lines.some((l) => l.includes(CANARY)),
      'no value in any log line',
    );
  },
);

t.test('a renewal answered after the renew deadline does not count from its answer', async (t) => {
  const { replica, advance } = await setup(t);
  const a = replica('pod-a');
  await a.coordinator.tick();
  await a.coordinator.tick();
  t.same(a.coordinator.owned, [0, 1]);

  // The next renewal (due after half the renew deadline) is applied, answered 11 s later.
  const late = held();
  a.client.late = late.promise;
  advance(6_000);
  const round = a.coordinator.tick();
  await new Promise((r) => setImmediate(r));
  advance(11_000);
  late.resolve();
  await round;
  t.notOk(a.coordinator.mayWrite(0), 'not writable: its renew deadline from the start passed');
  t.same(a.coordinator.owned, [], 'dropped by the round that got the late answer');

  // Answered in time, a renewal counts from its start, not from its answer.
  a.client.late = undefined;
  advance(6_000);
  await a.coordinator.tick();
  t.same(a.coordinator.owned, [0, 1], 'renewed again at the next round');
  const again = held();
  a.client.late = again.promise;
  advance(6_000);
  const next = a.coordinator.tick();
  await new Promise((r) => setImmediate(r));
  advance(3_000);
  again.resolve();
  await next;
  t.ok(a.coordinator.mayWrite(0), 'answered 3 s after its start: writable');
  advance(7_000);
  t.ok(a.coordinator.mayWrite(0), '10 s after the start');
  advance(1);
  t.notOk(a.coordinator.mayWrite(0), 'and not a millisecond more, though answered 3 s later');
});
