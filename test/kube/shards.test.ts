/**
 * ShardCoordinator on the API-server double, the clock stepped by hand: shards are shared
 * ceil(N / live replicas) each, never owned twice, given back when a replica appears (only after
 * the refresher let go), taken over when a replica stops renewing — not before its Leases expire.
 */
import t, { type Test } from 'tap';
import { KubeClient } from '../../src/kube/client.ts';
import { LEASE_GROUP_LABEL, ShardCoordinator } from '../../src/kube/shards.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { KubeApiServer } from '../fakes/kube-apiserver/index.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const SHARDS = 8;

async function setup(t: Test) {
  const api = await KubeApiServer.start();
  t.teardown(() => api.close());
  const client = new KubeClient(api.kubeConfig());
  let clock = 1_000_000;
  const published = new Map<string, number[]>();
  const make = (identity: string, onShards?: (owned: number[]) => Promise<void> | void) => {
    const metrics = createMetrics();
    const c = new ShardCoordinator({
      client,
      namespace: 'esw',
      identity,
      shards: SHARDS,
      now: () => clock,
      metrics,
      onShards: (owned) => {
        published.set(identity, owned);
        return onShards?.(owned);
      },
    });
    return Object.assign(c, { metrics });
  };
  const holders = () => {
    const out: Record<number, string> = {};
    for (let i = 0; i < SHARDS; i++) {
      const l = api.get('leases', 'esw', `external-secrets-webhook-refresher-shard-${i}`) as
        | { spec?: { holderIdentity?: string } }
        | undefined;
      out[i] = l?.spec?.holderIdentity ?? '';
    }
    return out;
  };
  return {
    api,
    make,
    published,
    holders,
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

/** No shard owned by two coordinators, by their own account. */
function disjoint(t: Test, cs: ShardCoordinator[], what: string): void {
  const seen = new Map<number, string>();
  for (const c of cs) {
    for (const s of c.owned) {
      if (seen.has(s)) t.fail(`${what}: shard ${s} owned by ${seen.get(s)} and ${c.identity}`);
      seen.set(s, c.identity);
    }
  }
}

const union = (cs: ShardCoordinator[]) => cs.flatMap((c) => c.owned).sort((a, b) => a - b);
const ALL = Array.from({ length: SHARDS }, (_, i) => i);

t.test('one replica takes every shard after one round; its Leases are labelled', async (t) => {
  const { api, make, published } = await setup(t);
  const a = make('pod-a');
  await a.tick();
  t.same(a.owned, [], 'the first round only registers the replica');
  await a.tick();
  t.same(a.owned, ALL, 'alone, it owns every shard');
  t.same(published.get('pod-a'), ALL, 'and told the refresher');
  t.equal((await a.metrics.leader.get()).values[0]?.value, 1, 'esw_leader is 1 while it owns shards');
  const lease = api.get('leases', 'esw', 'external-secrets-webhook-refresher-shard-0') as {
    metadata: { labels: Record<string, string> };
    spec: { holderIdentity: string };
  };
  t.equal(lease.spec.holderIdentity, 'pod-a');
  t.equal(lease.metadata.labels[LEASE_GROUP_LABEL], 'external-secrets-webhook-refresher');
  t.ok(api.get('leases', 'esw', 'external-secrets-webhook-refresher-member-pod-a'), 'a membership Lease');
});

t.test('replicas share the shards ceil(N / live) each and never own one twice', async (t) => {
  const { make, holders, advance } = await setup(t);
  const a = make('pod-a');
  await a.tick();
  await a.tick();
  t.same(a.owned, ALL);

  const b = make('pod-b');
  const c = make('pod-c');
  const all = [a, b, c];
  for (let round = 0; round < 6; round++) {
    advance(2_000);
    for (const x of all) {
      await x.tick();
      disjoint(t, all, `round ${round} after ${x.identity}`);
    }
  }
  t.same(
    all.map((x) => x.owned.length).sort(),
    [2, 3, 3],
    'three replicas: at most ceil(8 / 3) = 3 shards each',
  );
  t.same(union(all), ALL, 'every shard owned');
  const h = holders();
  for (const x of all) for (const s of x.owned) t.equal(h[s], x.identity, `shard ${s}: the Lease agrees`);
});

t.test('a shard is given back only after the refresher let go of it', async (t) => {
  const { make, holders, advance } = await setup(t);
  let releaseWork: () => void = () => {};
  let holding = false;
  const a = make('pod-a', (owned) => {
    if (owned.length === SHARDS || !holding) return;
    return new Promise<void>((resolve) => {
      releaseWork = resolve;
    });
  });
  await a.tick();
  await a.tick();
  const b = make('pod-b');
  await b.tick();
  holding = true;
  advance(2_000);
  const giving = a.tick();
  // While pod-a's syncs of the given-back shards are in flight, their Leases stay pod-a's.
  await new Promise((r) => setTimeout(r, 200));
  t.same(
    Object.values(holders()).filter((h) => h === 'pod-a').length,
    SHARDS,
    'Leases still held while the work settles',
  );
  t.equal(a.owned.length, 4, 'but pod-a no longer counts them as its own');
  releaseWork();
  await giving;
  t.equal(Object.values(holders()).filter((h) => h === '').length, 4, 'then released');
  await b.tick();
  t.equal(b.owned.length, 4, 'and taken by the new replica at its next round');
});

t.test('a replica that stops renewing loses its shards after the lease duration, not before', async (t) => {
  const { make, advance } = await setup(t);
  const a = make('pod-a');
  const b = make('pod-b');
  for (let i = 0; i < 4; i++) {
    advance(2_000);
    await a.tick();
    await b.tick();
  }
  t.same(union([a, b]), ALL);
  const ofA = a.owned;
  t.equal(ofA.length, 4);
  // pod-a hangs (killed): only pod-b runs.
  for (let elapsed = 2_000; elapsed <= 14_000; elapsed += 2_000) {
    advance(2_000);
    await b.tick();
    t.equal(b.owned.length, 4, `${elapsed} ms after pod-a's last renewal: pod-a's shards not taken yet`);
  }
  advance(2_000);
  await b.tick();
  advance(2_000);
  await b.tick();
  t.same(b.owned, ALL, "pod-b took pod-a's shards once their Leases expired");

  // pod-a wakes up: it sees its shards held by pod-b and drops them at once.
  await a.tick();
  t.same(a.owned, [], 'the stalled replica lets go without writing');
  disjoint(t, [a, b], 'after the stall');
  // It is live again: pod-b gives half back, pod-a takes it.
  for (let i = 0; i < 3; i++) {
    advance(2_000);
    await b.tick();
    await a.tick();
    disjoint(t, [a, b], `rebalance round ${i}`);
  }
  t.same([a.owned.length, b.owned.length], [4, 4], 'shared again');
});

t.test(
  'stop() releases every shard and the membership: the others take them at their next round',
  async (t) => {
    const { api, make, advance } = await setup(t);
    const a = make('pod-a');
    const b = make('pod-b');
    for (let i = 0; i < 4; i++) {
      advance(2_000);
      await a.tick();
      await b.tick();
    }
    await a.stop();
    t.same(a.owned, []);
    t.equal(api.get('leases', 'esw', 'external-secrets-webhook-refresher-member-pod-a'), undefined);
    advance(2_000);
    await b.tick();
    t.same(b.owned, ALL, 'taken at the next retry, without waiting for the lease duration');
  },
);

t.test(
  'renewals are spaced, and a replica unable to renew drops its shards at the renew deadline',
  async (t) => {
    const { api, make, advance } = await setup(t);
    const a = make('pod-a');
    await a.tick();
    await a.tick();
    api.clearRequests();
    advance(2_000);
    await a.tick();
    const puts = () => api.requests().filter((r) => r.method === 'PUT').length;
    t.equal(puts(), 0, 'no write 2 s after a renewal (every half renew deadline)');
    advance(3_000);
    await a.tick();
    t.equal(puts(), SHARDS + 1, 'then every shard and the membership at once');
    api.failNext({ verb: '*', resource: 'leases', code: 500, count: 1_000 });
    for (let i = 0; i < 5; i++) {
      advance(2_000);
      await a.tick();
    }
    t.equal(a.owned.length, SHARDS, 'kept within the renew deadline');
    advance(2_000);
    await a.tick();
    t.same(a.owned, [], 'dropped past the renew deadline (10 s), before the Leases can expire (15 s)');
  },
);
