/**
 * A leader that stalls past the lease duration finds the lease taken: it stops leading at its
 * next round, not at the renew deadline, so two refreshers never run side by side.
 */
import t from 'tap';
import { KubeClient } from '../../src/kube/client.ts';
import { LeaderElector } from '../../src/kube/leader.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { KubeApiServer } from '../fakes/kube-apiserver/index.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

t.test('a stalled leader steps down as soon as it reads another holder', async (t) => {
  const api = await KubeApiServer.start();
  t.teardown(() => api.close());
  const client = new KubeClient(api.kubeConfig());
  const holder = () =>
    (api.get('leases', 'esw', 'external-secrets-webhook-refresher')?.spec as { holderIdentity?: string })
      ?.holderIdentity;
  // Each replica has its own clock; only b's moves, as if a were frozen (a long pause).
  let clockA = 1_000_000;
  let clockB = 5_000_000;
  const events: string[] = [];
  const metricsA = createMetrics();
  const make = (identity: string, now: () => number, metrics = createMetrics()) =>
    new LeaderElector({
      client,
      namespace: 'esw',
      identity,
      now,
      metrics,
      onStartedLeading: () => events.push(`${identity} started`),
      onStoppedLeading: () => events.push(`${identity} stopped`),
    });
  const a = make('pod-a', () => clockA, metricsA);
  const b = make('pod-b', () => clockB);
  await a.tick();
  await b.tick();
  t.same(events, ['pod-a started']);
  // b sees a's record unchanged for longer than the lease duration (15 s) and takes over.
  clockB += 16_000;
  await b.tick();
  t.ok(b.isLeader());
  t.equal(holder(), 'pod-b');
  // a wakes up 2 s later on its own clock: well within its 10 s renew deadline.
  clockA += 2_000;
  await a.tick();
  t.notOk(a.isLeader(), 'a stops at once');
  t.same(events, ['pod-a started', 'pod-b started', 'pod-a stopped']);
  t.equal((await metricsA.leader.get()).values[0]?.value, 0, 'esw_leader is 0 on a');
  t.equal(holder(), 'pod-b', 'a did not write the lease back');
});
