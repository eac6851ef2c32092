/**
 * A target edited or deleted while no replica watched it: the replica that starts (or gains its
 * shard) never sees the edit as an event, and the ExternalSecret's status says it is up to date.
 * Scheduled from its status, the object looks its target up in the managed-Secret cache
 * (KnownTargets.state, the cache filled as the informer fills it: managed label only, projected
 * with its data digest) and is restored at the first round if the target is edited, or absent
 * where that means deleted (Owner). Merge targets may carry no label, None and Orphan targets are
 * never restored, and an unlisted cache proves nothing: those keep their round. No timing.
 */
import t from 'tap';
import type { ExternalSecret, KubeObject, Secret } from '../../src/api/types.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { ES_HASH_ANNOTATION, MANAGED_LABEL } from '../../src/refresher/external-secret.ts';
import { KnownTargets } from '../../src/refresher/known-targets.ts';
import { Refresher } from '../../src/refresher/refresher.ts';
import { withDataDigest } from '../../src/refresher/secret-data.ts';
import { b64, harness, introExternalSecret, readyAtVersion, unb64 } from './harness.ts';

const DB = 'my-app/database-credentials';
const TARGET = 'default/database-credentials';
type Harness = ReturnType<typeof harness>;

/**
 * A replica started now: its managed-Secret cache listed from the cluster as it is (the managed
 * label's Secrets, kept through KnownTargets.keep), unless `listed` is false.
 */
function replica(h: Harness, listed = true): Refresher {
  const known = new KnownTargets();
  const cache = new Map<string, KubeObject>();
  known.attach({ get: (ns, name) => cache.get(`${ns ?? ''}/${name}`), healthy: () => false, listed, cache });
  if (listed) {
    for (const [key, s] of h.kube.secrets) {
      if (s.metadata?.labels?.[MANAGED_LABEL] !== 'true') continue;
      cache.set(key, known.keep(withDataDigest(structuredClone(s)) as KubeObject));
    }
  }
  return new Refresher({
    resolver: h.resolver,
    kube: h.kube,
    logger: silentLogger(),
    now: h.clock.now,
    targetState: (target) => known.state(target),
  });
}

/** Synced once by a first replica, which then went away: the status it wrote, Ready. */
async function syncedOnce(h: Harness, es: ExternalSecret): Promise<ExternalSecret> {
  h.refresher.upsertExternalSecret(es);
  h.refresher.start();
  await h.refresher.scheduled();
  t.equal(await h.refresher.tick(), 1, 'the first replica syncs it');
  await h.refresher.stop();
  return { ...es, status: h.kube.statuses.get('default/database-credentials-secret') };
}

/** A labelled target whose data no longer matches its data-hash: edited by hand. */
function editedTarget(h: Harness): void {
  h.kube.secrets.set(TARGET, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 'database-credentials',
      namespace: 'default',
      resourceVersion: '7',
      labels: { [MANAGED_LABEL]: 'true' },
      annotations: { [ES_HASH_ANNOTATION]: 'written' },
    },
    data: { password: b64('hacked') },
  } as Secret);
}

/** Started with `es` present: urgent (undefined) or at its round (a time to come). */
async function firstDue(r: Refresher, es: ExternalSecret): Promise<number | undefined> {
  r.upsertExternalSecret(es);
  r.start();
  await r.scheduled();
  return r.dueOf(es);
}

t.test('a target edited while no replica ran: restored at the first round', async (t) => {
  const h = harness();
  h.remote.values.set(DB, '{"username":"u","password":"CANARY-real"}');
  const echoed = await syncedOnce(h, introExternalSecret());
  h.kube.tamper('default', 'database-credentials', { password: b64('hacked') });
  const r = replica(h);
  t.equal(await firstDue(r, echoed), undefined, 'urgent, though its status says it is up to date');
  t.equal(await r.tick(), 1, 'one sync: the edited target');
  t.equal(unb64(h.kube.secrets.get(TARGET)?.data?.password), 'CANARY-real', 'restored');
  t.notOk(
    h.lines.some((l) => l.includes('CANARY')),
    'no value in any log line',
  );
  await r.stop();
});

t.test('a target as written keeps its round', async (t) => {
  const h = harness();
  h.remote.values.set(DB, '{"username":"u","password":"CANARY-real"}');
  const echoed = await syncedOnce(h, introExternalSecret());
  const writes = h.kube.secretWrites();
  const r = replica(h);
  t.ok(((await firstDue(r, echoed)) ?? 0) > h.clock.now(), 'at its round');
  t.equal(await r.tick(), 0, 'nothing synced');
  t.equal(h.kube.secretWrites(), writes, 'nothing written');
  await r.stop();
});

t.test('an Owner target deleted while no replica ran: created again at the first round', async (t) => {
  const h = harness();
  h.remote.values.set(DB, '{"username":"u","password":"CANARY-real"}');
  const echoed = await syncedOnce(h, introExternalSecret());
  h.kube.secrets.delete(TARGET);
  const r = replica(h);
  t.equal(await firstDue(r, echoed), undefined, 'urgent');
  t.equal(await r.tick(), 1, 'one sync');
  t.equal(unb64(h.kube.secrets.get(TARGET)?.data?.password), 'CANARY-real', 'created again');
  await r.stop();
});

t.test('what proves nothing, or is never restored, keeps its round', async (t) => {
  const cases: [string, NonNullable<ExternalSecret['spec']>['target'], 'edited' | 'absent', boolean][] = [
    [
      'Merge, absent (a Merge target may carry no label)',
      { name: 'database-credentials', creationPolicy: 'Merge' },
      'absent',
      true,
    ],
    [
      'CreateOrMerge, absent',
      { name: 'database-credentials', creationPolicy: 'CreateOrMerge' },
      'absent',
      true,
    ],
    ['Orphan, edited', { name: 'database-credentials', creationPolicy: 'Orphan' }, 'edited', true],
    ['Orphan, absent', { name: 'database-credentials', creationPolicy: 'Orphan' }, 'absent', true],
    ['None, edited', { name: 'database-credentials', creationPolicy: 'None' }, 'edited', true],
    [
      'Owner, edited, the cache not listed (unknown)',
      { name: 'database-credentials', creationPolicy: 'Owner' },
      'edited',
      false,
    ],
    [
      'Owner, absent, the cache not listed (unknown)',
      { name: 'database-credentials', creationPolicy: 'Owner' },
      'absent',
      false,
    ],
  ];
  for (const [name, target, found, listed] of cases) {
    const h = harness();
    if (found === 'edited') editedTarget(h);
    const es = readyAtVersion(h, introExternalSecret({ target }));
    const r = replica(h, listed);
    t.ok(((await firstDue(r, es)) ?? 0) > h.clock.now(), `${name}: at its round`);
    await r.stop();
  }
});

t.test('Merge, edited: restored as an update event would', async (t) => {
  const h = harness();
  editedTarget(h);
  const es = readyAtVersion(
    h,
    introExternalSecret({ target: { name: 'database-credentials', creationPolicy: 'Merge' } }),
  );
  const r = replica(h);
  t.equal(await firstDue(r, es), undefined, 'urgent');
  await r.stop();
});
