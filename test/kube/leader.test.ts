import t, { type Test } from 'tap';
import { KubeClient } from '../../src/kube/client.ts';
import { LeaderElector } from '../../src/kube/leader.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { KubeApiServer } from '../fakes/kube-apiserver/index.ts';
import { until } from './helpers.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

async function setup(t: Test) {
  const api = await KubeApiServer.start();
  t.teardown(() => api.close());
  const client = new KubeClient(api.kubeConfig());
  let clock = 1_000_000;
  const events: string[] = [];
  const make = (identity: string) =>
    new LeaderElector({
      client,
      namespace: 'esw',
      identity,
      now: () => clock,
      onStartedLeading: () => events.push(`${identity} started`),
      onStoppedLeading: () => events.push(`${identity} stopped`),
    });
  return {
    api,
    make,
    events,
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

t.test('two electors: exactly one leads; renewals keep it; a released lease is taken at once', async (t) => {
  const { api, make, events, advance } = await setup(t);
  const a = make('pod-a');
  const b = make('pod-b');
  await a.tick();
  await b.tick();
  t.equal(a.isLeader(), true);
  t.equal(b.isLeader(), false);
  for (let i = 0; i < 10; i++) {
    advance(2_000);
    await b.tick();
    await a.tick();
    t.equal([a, b].filter((e) => e.isLeader()).length, 1, `round ${i}: exactly one leader`);
  }
  t.equal(a.isLeader(), true, 'the holder keeps renewing');
  const leaseSpec = () =>
    (api.get('leases', 'esw', 'external-secrets-webhook-refresher')?.spec ?? {}) as {
      holderIdentity?: string;
      renewTime?: string;
    };
  t.match(leaseSpec(), { holderIdentity: 'pod-a', leaseDurationSeconds: 15, leaseTransitions: 0 });
  t.match(String(leaseSpec().renewTime), /\.\d{6}Z$/, 'renewTime is a MicroTime');

  await a.stop();
  t.equal(a.isLeader(), false);
  t.equal(leaseSpec().holderIdentity, '');
  advance(2_000);
  await b.tick();
  t.equal(
    b.isLeader(),
    true,
    'the standby takes a released lease at its next retry, not after the lease duration',
  );
  t.same(events, ['pod-a started', 'pod-a stopped', 'pod-b started']);
});

t.test('a holder that stops renewing loses the lease after the lease duration and steps down', async (t) => {
  const { make, events, advance } = await setup(t);
  const a = make('pod-a');
  const b = make('pod-b');
  await a.tick();
  await b.tick();
  // pod-a hangs: only pod-b ticks. Before the lease duration has passed it must not take over.
  for (let elapsed = 2_000; elapsed <= 14_000; elapsed += 2_000) {
    advance(2_000);
    await b.tick();
    t.equal(b.isLeader(), false, `not expired after ${elapsed} ms`);
  }
  advance(2_000);
  await b.tick();
  t.equal(b.isLeader(), true, 'expired after 16 s: taken over');
  // pod-a wakes up: its renewal fails (held by pod-b) and it is past the renew deadline.
  await a.tick();
  t.equal(a.isLeader(), false, 'the old leader steps down');
  t.same(events, ['pod-a started', 'pod-b started', 'pod-a stopped']);
});

t.test('renewal failures: leadership kept within the renew deadline, given up beyond it', async (t) => {
  const { api, make, events, advance } = await setup(t);
  const a = make('pod-a');
  await a.tick();
  api.failNext({ verb: 'update', resource: 'leases', code: 500, count: 100 });
  advance(2_000);
  await a.tick();
  advance(8_000);
  await a.tick();
  t.equal(a.isLeader(), true, '10 s without a renewal: still within the deadline');
  advance(1);
  await a.tick();
  t.equal(a.isLeader(), false, 'beyond the deadline: stopped leading');
  t.same(events, ['pod-a started', 'pod-a stopped']);
});

t.test(
  'conflicting writes: two electors racing for a free lease, one wins (409 for the other)',
  async (t) => {
    const { make } = await setup(t);
    const electors = ['p1', 'p2', 'p3', 'p4'].map(make);
    await Promise.all(electors.map((e) => e.tick()));
    t.equal(electors.filter((e) => e.isLeader()).length, 1);
  },
);

t.test('running loops with short durations: stop() hands over within the lease duration', async (t) => {
  const api = await KubeApiServer.start();
  t.teardown(() => api.close());
  const client = new KubeClient(api.kubeConfig());
  const metricsA = createMetrics();
  const opts = {
    client,
    namespace: 'esw',
    // Long enough that no stall of a loaded machine lets the lease lapse while pod-b stands by;
    // the handover below is by release, which does not wait for the lease to expire.
    leaseDurationMs: 30_000,
    renewDeadlineMs: 20_000,
    retryPeriodMs: 50,
  };
  const a = new LeaderElector({ ...opts, identity: 'pod-a', metrics: metricsA });
  const b = new LeaderElector({ ...opts, identity: 'pod-b' });
  t.teardown(async () => {
    await a.stop();
    await b.stop();
  });
  a.start();
  await until(() => a.isLeader(), 'pod-a leads');
  b.start();
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 60));
    t.equal(b.isLeader(), false, 'pod-b stands by');
  }
  t.equal((await metricsA.leader.get()).values[0]?.value, 1, 'esw_leader 1 on the leader');
  await a.stop();
  t.equal((await metricsA.leader.get()).values[0]?.value, 0);
  // Released: pod-b takes over at its next retry period, long before the lease would expire.
  await until(() => b.isLeader(), 'pod-b takes over');
  t.equal(a.isLeader(), false);
});
