/**
 * ShardCoordinator with the watch of its group's Leases, on the API-server double, the clock
 * stepped by hand: a renewal is observed when the watch delivers it (not at the next poll), so a
 * killed replica's shards are taken at the lease duration after its last renewal; a renewal seen
 * through the watch postpones the takeover; a watch that fails leaves the poll to judge expiry;
 * two replicas racing for one shard: one wins. Steps of 5 s make every round renew every Lease
 * (renewals are spaced by half the renew deadline): a replica's last round then dates all of them.
 */
import t, { type Test } from 'tap';
import { KubeClient } from '../../src/kube/client.ts';
import { ShardCoordinator, TAKEOVER_MARGIN_MS } from '../../src/kube/shards.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { KubeApiServer } from '../fakes/kube-apiserver/index.ts';
import { until } from './helpers.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const SHARDS = 8;
const LEASE_MS = 15_000;
const ALL = Array.from({ length: SHARDS }, (_, i) => i);

async function setup(t: Test, shards = SHARDS) {
  const api = await KubeApiServer.start();
  t.teardown(() => api.close());
  const client = new KubeClient(api.kubeConfig());
  const clock = { now: 1_000_000 };
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', destination: { write: (l: string) => lines.push(l) } });
  const made: ShardCoordinator[] = [];
  t.teardown(() => Promise.all(made.map((c) => c.halt())));
  const make = (identity: string) => {
    const metrics = createMetrics();
    const c = new ShardCoordinator({
      client,
      namespace: 'esw',
      identity,
      shards,
      now: () => clock.now,
      metrics,
      logger,
      onShards: () => {},
    });
    made.push(c);
    return Object.assign(c, { metrics });
  };
  return { api, make, clock, lines };
}

/** Two watching replicas, rounds 5 s apart until they share the shards 4 / 4. */
async function shared(t: Test) {
  const s = await setup(t);
  const a = s.make('pod-a');
  const b = s.make('pod-b');
  await Promise.all([a.watchLeases(), b.watchLeases()]);
  for (let i = 0; i < 4; i++) {
    s.clock.now += 5_000;
    await a.tick();
    await b.tick();
  }
  t.same([a.owned.length, b.owned.length], [4, 4], 'shared 4 / 4');
  return { ...s, a, b };
}

t.test("a killed replica's shards are taken at the lease duration after its last renewal", async (t) => {
  const { a, b, clock } = await shared(t);
  // pod-a's last round renews all its Leases; pod-b sees it only through the watch.
  clock.now += 5_000;
  const last = clock.now;
  await a.tick();
  await a.halt();
  const expiry = last + LEASE_MS + TAKEOVER_MARGIN_MS;
  await until(() => b.takeoverAt === expiry, "pod-b observed pod-a's renewals when they were written");
  // pod-b's polls come later: they must not move the observed time.
  for (const at of [2_000, 7_000, 12_000]) {
    clock.now = last + at;
    await b.tick();
    t.equal(b.owned.length, 4, `${at} ms after pod-a's last renewal: not taken`);
  }
  t.equal(b.takeoverAt, expiry, 'the takeover is still due at the expiry observed by the watch');
  clock.now = last + LEASE_MS - 1;
  await b.tick();
  t.equal(b.owned.length, 4, 'not before the lease duration has passed');
  clock.now = expiry;
  await b.tick();
  t.same(b.owned, ALL, "pod-a's shards taken at observed renewal + lease duration (+ margin)");
  t.equal(b.takeoverAt, undefined, 'nothing else to take');
});

t.test('a renewal seen through the watch postpones the takeover', async (t) => {
  const { a, b, clock } = await shared(t);
  clock.now += 5_000;
  const first = clock.now;
  await a.tick();
  await until(() => b.takeoverAt === first + LEASE_MS + TAKEOVER_MARGIN_MS, 'first renewal observed');
  clock.now = first + 2_000;
  await b.tick();
  // pod-a renews once more, between pod-b's rounds, then is killed.
  clock.now = first + 5_000;
  await a.tick();
  await a.halt();
  const expiry = first + 5_000 + LEASE_MS + TAKEOVER_MARGIN_MS;
  await until(() => b.takeoverAt === expiry, 'the second renewal postponed the takeover');
  for (const at of [7_000, 12_000, LEASE_MS + TAKEOVER_MARGIN_MS]) {
    clock.now = first + at;
    await b.tick();
    t.equal(b.owned.length, 4, `${at} ms after the first renewal: not taken`);
  }
  clock.now = expiry;
  await b.tick();
  t.same(b.owned, ALL, 'taken at the lease duration after the second renewal');
});

t.test('a watch that fails leaves the poll to judge expiry, and says so', async (t) => {
  const { api, a, b, clock, lines } = await shared(t);
  // Watches end and every new one fails: the informer backs off, the rounds go on polling.
  api.failNext({ verb: 'watch', resource: 'leases', code: 500, count: 1_000 });
  api.dropWatches();
  await until(() => lines.some((l) => l.includes('lease watch down')), 'the watch failure is logged');
  t.equal(
    (await b.metrics.informerHealthy.get()).values.find((v) => v.labels.resource === 'leases')?.value,
    0,
    'esw_informer_healthy{resource="leases"} is 0',
  );
  clock.now += 5_000;
  const last = clock.now;
  await a.tick();
  await a.halt();
  // pod-b first sees the renewal at its next poll, 2 s later: expiry is judged from there.
  for (const at of [2_000, 7_000, 12_000, LEASE_MS + TAKEOVER_MARGIN_MS]) {
    clock.now = last + at;
    await b.tick();
    t.equal(b.owned.length, 4, `${at} ms after pod-a's last renewal: not taken`);
  }
  t.equal(b.takeoverAt, last + 2_000 + LEASE_MS + TAKEOVER_MARGIN_MS, 'due from the poll that saw it');
  clock.now = last + 2_000 + LEASE_MS + TAKEOVER_MARGIN_MS;
  await b.tick();
  t.same(b.owned, ALL, 'taken by the poll: coordination did not stall');
});

t.test('two replicas racing for one shard: exactly one wins, the other is told it lost', async (t) => {
  const { api, make, clock } = await setup(t, 1);
  const a = make('pod-a');
  const b = make('pod-b');
  await Promise.all([a.tick(), b.tick()]);
  clock.now += 2_000;
  const lost = await Promise.all([a.tick(), b.tick()]);
  const winners = [a, b].filter((c) => c.owns(0));
  t.equal(winners.length, 1, 'one owner');
  t.same(
    lost,
    [a, b].map((c) => !c.owns(0)),
    'the loser had a 409, the winner did not',
  );
  const lease = api.get('leases', 'esw', 'external-secrets-webhook-refresher-shard-0') as
    | { spec?: { holderIdentity?: string } }
    | undefined;
  const holder = lease?.spec?.holderIdentity;
  t.equal(holder, winners[0]?.identity, 'the Lease agrees');
  for (let i = 0; i < 4; i++) {
    clock.now += 2_000;
    await Promise.all([a.tick(), b.tick()]);
    t.same(
      [a, b].filter((c) => c.owns(0)).map((c) => c.identity),
      [holder],
      `round ${i}: still one owner, the same`,
    );
  }
});
