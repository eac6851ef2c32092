/**
 * Two replicas (two cluster runtimes, different POD_NAME) on one API-server double with short
 * lease settings: exactly one refreshes; the leader killed mid-cycle (its runtime closed while
 * its syncs are in flight) hands over within the lease duration, and no target Secret is ever
 * seen half-written (both keys always from the same remote version).
 */
import t from 'tap';
import type { Metrics } from '../../src/observability/metrics.ts';
import { externalSecret, type Replica, startCluster, targetData, waitFor } from '../cluster-helpers.ts';

const COUNT = 20;
const LEASE_MS = 2_000;
const LEASE_ARGS = ['--lease-duration', '2s', '--renew-deadline', '1500ms', '--retry-period', '250ms'];

const creds = (i: number, v: number) => JSON.stringify({ username: `u${i}-v${v}`, password: `p${i}-v${v}` });

async function syncs(metrics: Metrics): Promise<number> {
  const m = await metrics.managedSyncs.get();
  return m.values.reduce((sum, v) => sum + v.value, 0);
}

t.test('one leader refreshes; killed mid-cycle it hands over with nothing half-written', async (t) => {
  const { api, aws, startReplica } = await startCluster(t);
  for (let i = 0; i < COUNT; i++) aws.put(`app/k-${i}`, creds(i, 1));
  const replicas = [await startReplica('esw-0', LEASE_ARGS), await startReplica('esw-1', LEASE_ARGS)];
  for (const r of replicas) await waitFor(`${r.podName} ready`, () => r.server.readiness().ready);
  for (let i = 0; i < COUNT; i++) api.put(externalSecret(`es-${i}`, `app/k-${i}`, '1s'));

  // Every sample of every target, from now on: both keys must come from one version.
  const torn: string[] = [];
  const sample = () => {
    for (let i = 0; i < COUNT; i++) {
      const d = targetData(api, `es-${i}`);
      if (!d) continue;
      const vu = /-v(\d+)$/.exec(d.username ?? '')?.[1];
      const vp = /-v(\d+)$/.exec(d.password ?? '')?.[1];
      if (vu === undefined || vu !== vp) torn.push(`es-${i}: ${JSON.stringify(Object.keys(d))} ${vu}/${vp}`);
    }
  };
  const allAt = (v: number) => {
    sample();
    for (let i = 0; i < COUNT; i++) if (targetData(api, `es-${i}`)?.password !== `p${i}-v${v}`) return false;
    return true;
  };
  await waitFor('every target at v1', () => allAt(1));

  const leaders = replicas.filter((r) => r.runtime.elector?.isLeader());
  t.equal(leaders.length, 1, 'exactly one leader');
  const leader = leaders[0] as Replica;
  const follower = replicas.find((r) => r !== leader) as Replica;
  // A target is complete before its sync has written its status and Event: wait for those.
  await waitFor('the leader to finish every sync', async () => (await syncs(leader.metrics)) >= COUNT);
  t.pass('the leader synced every ExternalSecret');
  t.equal(await syncs(follower.metrics), 0, 'the follower synced nothing');
  t.equal(api.writes('secrets', 'create'), COUNT + 0, 'each target created exactly once');

  // Mid-cycle: slow AWS answers keep the leader's syncs in flight when it is killed.
  aws.fault({ type: 'delay', ms: 300 });
  const calls = aws.count('GetSecretValue') + aws.count('BatchGetSecretValue');
  for (let i = 0; i < COUNT; i++) aws.put(`app/k-${i}`, creds(i, 2));
  await waitFor(
    'the leader fetching the new values',
    () => aws.count('GetSecretValue') + aws.count('BatchGetSecretValue') > calls,
  );
  const killed = leader.kill();
  aws.clearFaults();
  await waitFor(
    'the follower takes over within the lease duration',
    () => follower.runtime.elector?.isLeader(),
    LEASE_MS,
  );
  t.pass('handed over within the lease duration');
  await killed;
  await waitFor('every target at v2', () => allAt(2));
  t.ok((await syncs(follower.metrics)) > 0, 'the new leader refreshes');
  t.same(torn, [], 'no target was ever seen half-written');
  for (let i = 0; i < COUNT; i++) {
    t.same(targetData(api, `es-${i}`), { username: `u${i}-v2`, password: `p${i}-v2` }, `es-${i} complete`);
  }
  t.equal(api.writes('secrets', 'create'), COUNT, 'no target recreated by the new leader');
});
