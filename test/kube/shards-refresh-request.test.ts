/**
 * A refresh request recorded on a store (`esw.io/refresh-request`: POST /refresh, an Event Grid
 * delivery or a change event taken by a follower, a sharded change feed) is acted on by the owner
 * of the dependents — once, and at least once across a shard handover: on the API-server double,
 * two replicas, the clock stepped by hand, the first holder's list of Leases held by the test (a
 * replica cut off from the API server). The store's informer is played by the test: each replica
 * is handed the store as the double holds it.
 */
import t, { type Test } from 'tap';
import type { ExternalSecret, SecretStore } from '../../src/api/types.ts';
import type { ShardCoordinator } from '../../src/kube/shards.ts';
import { formatRefreshRequest, REFRESH_REQUEST_ANNOTATION } from '../../src/refresher/triggers.ts';
import { KubeApiServer } from '../fakes/kube-apiserver/index.ts';
import { introExternalSecret, Remote, STORE } from '../refresher/harness.ts';
import { type HeldClient, held, shardReplica } from './helpers.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const SHARDS = 2;
const KEY = 'my-app/database-credentials';
const CANARY = 'canary-8c41e2d9-handover';
const ROTATED = 'canary-3b7f90aa-rotated';
/** The window a gained shard replays requests from, shorter than the default to keep steps few. */
const REPLAY_MS = 60_000;

async function setup(t: Test) {
  const api = await KubeApiServer.start();
  t.teardown(() => api.close());
  let clock = Date.parse('2026-12-03T01:00:00Z');
  const now = () => clock;
  const remote = new Remote();
  remote.values.set(KEY, JSON.stringify({ username: 'app', password: CANARY }));
  const lines: string[] = [];
  const name = introExternalSecret().metadata?.name ?? '';
  api.put(STORE);
  api.put(introExternalSecret());
  const store = () => api.get('secretstores', 'default', STORE.metadata?.name ?? '') as SecretStore;
  const es = () => api.get('externalsecrets', 'default', name) as ExternalSecret;
  const replicas: ReturnType<typeof build>[] = [];
  const build = (identity: string) => {
    const r = shardReplica(api, { identity, remote, now, lines, shards: SHARDS, requestReplayMs: REPLAY_MS });
    const { refresher } = r;
    // What its informers hold when it starts.
    refresher.upsertStore(store());
    refresher.upsertExternalSecret(es());
    t.teardown(() => refresher.stop());
    return r;
  };
  const replica = (identity: string) => {
    const r = build(identity);
    replicas.push(r);
    return r;
  };
  /** The store and the ExternalSecret as the double holds them, to every replica's informers. */
  const informers = () => {
    for (const r of replicas) {
      r.refresher.upsertStore(store());
      r.refresher.upsertExternalSecret(es());
    }
  };
  /** A request for KEY recorded on the store (a merge patch of the annotation, as recordRequest). */
  const request = (id: string) => {
    const s = store();
    const annotation = formatRefreshRequest({ id, at: clock, keys: [KEY], source: 'feed' });
    api.put({ ...s, metadata: { ...s.metadata, annotations: { [REFRESH_REQUEST_ANNOTATION]: annotation } } });
    informers();
  };
  const secretWrites = () =>
    api.writes('secrets', 'create') + api.writes('secrets', 'update') + api.writes('secrets', 'patch');
  const password = () => {
    const s = api.get('secrets', 'default', 'database-credentials') as { data?: Record<string, string> };
    return Buffer.from(s?.data?.password ?? '', 'base64').toString();
  };
  /** The key rotated a second on (after the values cached at the first sync). */
  const rotate = () => {
    clock += 1_000;
    remote.values.set(KEY, JSON.stringify({ username: 'app', password: ROTATED }));
  };
  return {
    api,
    remote,
    lines,
    replica,
    informers,
    request,
    secretWrites,
    password,
    rotate,
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

/** pod-a takes both shards and syncs the ExternalSecret once; every replica sees its status. */
async function firstOwner(s: Awaited<ReturnType<typeof setup>>, t: Test) {
  const a = s.replica('pod-a');
  await a.coordinator.tick();
  await a.coordinator.tick();
  t.same(a.coordinator.owned, [0, 1], 'pod-a owns every shard');
  await a.refresher.tick();
  t.equal(s.password(), CANARY, 'synced by pod-a');
  s.informers();
  return a;
}

/**
 * pod-a loses contact: its next round waits on a list that does not get through while the clock
 * passes its renew deadline; `during` runs then; the round ends and drops the shards.
 */
async function cutOff(
  s: Awaited<ReturnType<typeof setup>>,
  a: { client: HeldClient; coordinator: ShardCoordinator },
  t: Test,
  during: () => Promise<void>,
) {
  const cut = held();
  a.client.cut = cut.promise;
  s.advance(2_000);
  const round = a.coordinator.tick();
  s.advance(8_001);
  t.notOk(a.coordinator.mayWrite(0), 'pod-a is past its renew deadline');
  await during();
  cut.reject(new Error('test: API server unreachable'));
  await round;
  a.client.cut = undefined;
  t.same(a.coordinator.owned, [], 'the round, once it ends, drops the shards');
}

/** pod-b takes the shards pod-a no longer renews. */
async function takeOver(s: Awaited<ReturnType<typeof setup>>, b: { coordinator: ShardCoordinator }, t: Test) {
  await b.coordinator.tick();
  s.advance(15_101);
  await b.coordinator.tick();
  t.same(b.coordinator.owned, [0, 1], 'pod-b took the shards');
}

t.test(
  'a request recorded while the owner is past its renew deadline is acted on by the new owner',
  async (t) => {
    const s = await setup(t);
    const a = await firstOwner(s, t);
    const b = s.replica('pod-b');
    s.rotate();
    await cutOff(s, a, t, async () => {
      s.request('r1');
      await a.refresher.tick();
      t.equal(s.secretWrites(), 1, 'pod-a, past its deadline, wrote nothing');
    });
    const calls = s.remote.calls;
    await takeOver(s, b, t);
    await b.refresher.tick();
    t.equal(s.password(), ROTATED, 'pod-b refreshed the dependent with the rotated value');
    t.equal(s.secretWrites(), 2, 'written once, by the new owner');
    t.equal(s.remote.calls, calls + 1, 'one provider read');
    t.ok(
      s.lines.some((l) => l.includes('store refresh request replayed for the shards gained')),
      'the replay is logged',
    );
    t.notOk(
      s.lines.some((l) => l.includes(CANARY) || l.includes(ROTATED)),
      'no value in any log line',
    );
  },
);

t.test(
  'a request the owner scheduled but had not run when it lost the shard is acted on by the new owner',
  async (t) => {
    const s = await setup(t);
    const a = await firstOwner(s, t);
    s.rotate();
    s.request('r1');
    t.ok(a.refresher.queueDepth > 0, 'scheduled by pod-a, not yet run');
    // pod-b starts after the request: its first sight of the store already holds it.
    const b = s.replica('pod-b');
    await cutOff(s, a, t, async () => {
      await a.refresher.tick();
      t.equal(s.secretWrites(), 1, 'pod-a, past its deadline, wrote nothing');
    });
    await takeOver(s, b, t);
    await b.refresher.tick();
    t.equal(s.password(), ROTATED, 'pod-b refreshed the dependent');
    t.equal(s.secretWrites(), 2);
  },
);

t.test('in the normal case the owner acts once and the other replica not at all', async (t) => {
  const s = await setup(t);
  const a = await firstOwner(s, t);
  const b = s.replica('pod-b');
  await b.coordinator.tick();
  t.same(b.coordinator.owned, [], 'pod-b owns nothing');
  s.rotate();
  const calls = s.remote.calls;
  s.request('r1');
  await a.refresher.tick();
  await b.refresher.tick();
  t.equal(s.password(), ROTATED);
  t.equal(s.secretWrites(), 2, 'written once');
  t.equal(s.remote.calls, calls + 1, 'one provider read');
  s.informers();
  await a.refresher.tick();
  await b.refresher.tick();
  t.equal(s.remote.calls, calls + 1, 'the same request seen again (a resync) is not acted on again');
});

t.test(
  'a request handled before a handover is not redone after it once older than the window; within it, once',
  async (t) => {
    const s = await setup(t);
    const a = await firstOwner(s, t);
    const b = s.replica('pod-b');
    s.rotate();
    s.request('r1');
    await a.refresher.tick();
    t.equal(s.password(), ROTATED, 'handled by pod-a');
    s.informers();
    const calls = s.remote.calls;
    const writes = s.secretWrites();

    // Within the window: pod-b cannot tell it was handled, and refreshes it again (one read, no write).
    await cutOff(s, a, t, async () => {});
    await takeOver(s, b, t);
    await b.refresher.tick();
    t.equal(s.remote.calls, calls + 1, 'one duplicate read of the key');
    t.equal(s.secretWrites(), writes, 'nothing written: the value is unchanged');

    // pod-b hands the shards back to pod-a once the request is older than the window: not redone.
    s.informers();
    s.advance(REPLAY_MS);
    await b.coordinator.stop();
    await a.coordinator.tick();
    t.same(a.coordinator.owned, [0, 1], 'pod-a took them back');
    await a.refresher.tick();
    t.equal(s.remote.calls, calls + 1, 'no read: the request is past the window');
    t.equal(s.secretWrites(), writes);
  },
);
