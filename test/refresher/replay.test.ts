/**
 * A shard gain's replay (docs/refresher.md, "A request across a handover") reaches every
 * dependent of each store with a recent ask in the shards gained — by any store reference of an
 * ExternalSecret, placeholder Secrets too, the ask's keys honoured — and nothing else: not
 * another store's dependents, not an object moved to another store or deleted since, not the
 * shards kept. Objects are found through the refresher's index of dependents by store, not a
 * walk over every object; these cases hold it to what the walk did. A replay larger than a slice
 * schedules one slice per turn of the event loop. Injected clock, no timing.
 */
import fjp from 'fast-json-patch';
import t from 'tap';
import { mutateSecret } from '../../src/admission/mutate.ts';
import type { ExternalSecret, KubeObject, Secret, SecretStore } from '../../src/api/types.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { esoResourceVersion } from '../../src/refresher/external-secret.ts';
import { PlaceholderRefresh } from '../../src/refresher/placeholder.ts';
import { shardOf } from '../../src/refresher/queue.ts';
import { REPLAY_SLICE, Refresher } from '../../src/refresher/refresher.ts';
import { formatRefreshRequest, REFRESH_REQUEST_ANNOTATION } from '../../src/refresher/triggers.ts';
import { harness, introExternalSecret, STORE } from './harness.ts';

const SHARDS = 2;
// team-a and team-c share a shard with each other; team-b is in the other one.
const MINE = shardOf('team-a', SHARDS);

const store = (namespace: string, name: string): SecretStore => ({
  ...STORE,
  metadata: { name, namespace, uid: `${namespace}-${name}`, resourceVersion: '1' },
});
const CLUSTER: SecretStore = {
  apiVersion: 'external-secrets.io/v1',
  kind: 'ClusterSecretStore',
  metadata: { name: 'shared', uid: 'shared', resourceVersion: '1' },
  spec: STORE.spec,
};
const annotated = <T extends KubeObject>(o: T, annotations: Record<string, string>): T => ({
  ...o,
  metadata: { ...o.metadata, annotations: { ...o.metadata?.annotations, ...annotations } },
});

function es(
  namespace: string,
  name: string,
  storeRef: { name: string; kind?: 'SecretStore' | 'ClusterSecretStore' },
  key: string,
  data: NonNullable<ExternalSecret['spec']>['data'] = [],
): ExternalSecret {
  const base = introExternalSecret(
    {
      secretStoreRef: { kind: 'SecretStore', ...storeRef },
      target: { name, creationPolicy: 'Owner' },
      data: [{ secretKey: 'password', remoteRef: { key, property: 'password' } }, ...data],
    },
    name,
  );
  return { ...base, metadata: { ...base.metadata, namespace, uid: `${namespace}-${name}` } };
}

async function placeholder(
  h: ReturnType<typeof harness>,
  namespace: string,
  name: string,
  storeName: string,
) {
  const object: Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      namespace,
      labels: { 'esw.io/inject': 'true' },
      annotations: { 'esw.io/store': storeName, 'esw.io/refresh-interval': '1h' },
    },
    data: { password: Buffer.from('${ref:k1#password}').toString('base64') },
  };
  const result = await mutateSecret(
    {
      uid: 'u',
      kind: { group: '', version: 'v1', kind: 'Secret' },
      resource: { group: '', version: 'v1', resource: 'secrets' },
      operation: 'CREATE',
      namespace,
      object,
    },
    { resolver: h.resolver, logger: silentLogger() },
  );
  if (!result.patch) throw new Error(`not mutated: ${JSON.stringify(result.status)}`);
  const ops = JSON.parse(Buffer.from(result.patch, 'base64').toString('utf8'));
  return h.kube.createSecret(namespace, fjp.applyPatch(structuredClone(object), ops).newDocument as Secret);
}

t.test("a shard gain replays each asked store's dependents, and only those", async (t) => {
  const h = harness();
  const r = new Refresher({
    resolver: h.resolver,
    kube: h.kube,
    logger: silentLogger(),
    metrics: h.metrics,
    now: h.clock.now,
    shards: SHARDS,
    placeholders: new PlaceholderRefresh(h.resolver, silentLogger()),
  });
  t.equal(shardOf('team-c', SHARDS), MINE);
  t.not(shardOf('team-b', SHARDS), MINE);
  for (const key of ['k1', 'k2', 'k3']) h.remote.values.set(key, '{"password":"v"}');
  const stores = [store('team-a', 'a'), store('team-a', 'unasked'), store('team-c', 'c'), CLUSTER];
  for (const s of stores) {
    h.registry.upsert(s);
    r.upsertStore(s);
  }
  const objects = [
    // team-a/a is asked for k1: its readers of k1, by the default store or a data entry's own.
    es('team-a', 'a-k1', { name: 'a' }, 'k1'),
    es('team-a', 'a-k2', { name: 'a' }, 'k2'),
    es('team-a', 'via-entry', { name: 'unasked' }, 'k3', [
      {
        secretKey: 'x',
        remoteRef: { key: 'k1', property: 'password' },
        sourceRef: { storeRef: { name: 'a' } },
      },
    ]),
    es('team-a', 'unasked', { name: 'unasked' }, 'k1'),
    // team-c/c is asked whole; `moved` reads it at first, then the unasked store.
    es('team-c', 'c-all', { name: 'c' }, 'k2'),
    es('team-c', 'moved', { name: 'c' }, 'k1'),
    es('team-c', 'deleted', { name: 'c' }, 'k1'),
    // The ClusterSecretStore is asked whole: its readers in the gained shard, not in the kept one.
    es('team-a', 'cluster-mine', { name: 'shared', kind: 'ClusterSecretStore' }, 'k3'),
    es('team-b', 'cluster-kept', { name: 'shared', kind: 'ClusterSecretStore' }, 'k3'),
  ];
  for (const o of objects) r.upsertExternalSecret(o);
  const phC = await placeholder(h, 'team-c', 'ph-c', 'c');
  const phUnasked = await placeholder(h, 'team-a', 'ph-unasked', 'unasked');
  r.upsertPlaceholder(phC);
  r.upsertPlaceholder(phUnasked);
  await r.setShards([0, 1]);
  await r.tick();
  // Their status echoed: synced now, so a gain keeps their rounds and only the replay syncs them.
  for (const o of objects)
    r.upsertExternalSecret({
      ...o,
      status: h.kube.statuses.get(`${o.metadata?.namespace}/${o.metadata?.name}`),
    });
  for (const o of [phC, phUnasked]) {
    const stored = h.kube.secrets.get(`${o.metadata?.namespace}/${o.metadata?.name}`);
    if (stored) r.upsertPlaceholder(stored);
  }

  // The shard goes away; the asks are made while this replica holds only the other one.
  await r.setShards([1 - MINE]);
  h.clock.advance(1_000);
  const request = formatRefreshRequest({ id: 'r1', at: h.clock.now(), keys: ['k1'] });
  r.upsertStore(annotated(stores[0] as SecretStore, { [REFRESH_REQUEST_ANNOTATION]: request }));
  r.upsertStore(annotated(stores[2] as SecretStore, { 'force-sync': '1' }));
  r.upsertStore(annotated(CLUSTER, { 'force-sync': '1' }));
  await r.tick(); // the kept shard's reader of the ClusterSecretStore, acted on at the ask
  r.upsertExternalSecret({
    ...es('team-c', 'moved', { name: 'unasked' }, 'k1'),
    status: h.kube.statuses.get('team-c/moved'),
  });
  r.deleteExternalSecret(objects[6] as ExternalSecret);

  // Gained back: the replay, and nothing else, syncs.
  h.clock.advance(1_000);
  const statusWrites = new Set<string>();
  const write = h.kube.updateExternalSecretStatus.bind(h.kube);
  h.kube.updateExternalSecretStatus = async (o, status) => {
    statusWrites.add(`${o.metadata?.namespace}/${o.metadata?.name}`);
    return write(o, status);
  };
  await r.setShards([0, 1]);
  await r.tick();
  t.same(
    [...statusWrites].sort(),
    ['team-a/a-k1', 'team-a/cluster-mine', 'team-a/via-entry', 'team-c/c-all'],
    'every ExternalSecret of an asked store in the gained shard, by any of its references; no other',
  );
  t.equal(
    (await h.metrics.refreshTriggeredObjects.get()).values.reduce((n, v) => n + v.value, 0),
    // at the asks: the kept shard's reader of the ClusterSecretStore; at the gain: the four
    // ExternalSecrets above and the placeholder of team-c/c
    1 + 5,
    'objects scheduled: the replayed dependents, placeholder included',
  );
  await r.stop();
});

t.test('a replay larger than a slice lets the event loop turn between slices', async (t) => {
  const h = harness({ shards: SHARDS });
  const n = 3 * REPLAY_SLICE + 1;
  const asked = store('team-a', 'a');
  h.registry.upsert(asked);
  h.refresher.upsertStore(asked);
  const objects: ExternalSecret[] = [];
  for (let i = 0; i < n; i++) {
    const o = es('team-a', `es-${i}`, { name: 'a' }, 'k1');
    // Synced a minute ago at this version: a gain keeps its round, only the replay makes it urgent.
    o.status = {
      refreshTime: new Date(h.clock.now() - 60_000).toISOString(),
      syncedResourceVersion: esoResourceVersion(o),
      conditions: [{ type: 'Ready', status: 'True', reason: 'SecretSynced' }],
    };
    objects.push(o);
    h.refresher.upsertExternalSecret(o);
  }
  await h.refresher.setShards([1 - MINE]);
  h.refresher.upsertStore(annotated(asked, { 'force-sync': '1' }));
  t.equal(h.refresher.queueDepth, 0, 'asked while the shard is elsewhere: nothing scheduled here');
  // Queued urgent, with no due time: the replay's (a gain keeps each object's round).
  const urgent = () =>
    h.refresher.queueDepth - objects.filter((o) => h.refresher.dueOf(o) !== undefined).length;

  const gained = h.refresher.setShards([0, 1]);
  t.equal(urgent(), 0, 'the gain itself schedules no replay in its own stretch');
  const seen: number[] = [];
  let done = false;
  void h.refresher.scheduled().then(() => {
    done = true;
  });
  while (!done) {
    await new Promise((resolve) => setImmediate(resolve));
    seen.push(urgent());
  }
  await gained;
  // The gain's objects are scheduled first (a slice a turn too), then the replay.
  const replaying = seen.filter((u) => u > 0);
  t.ok(
    replaying[0] !== undefined && replaying[0] <= REPLAY_SLICE,
    `one slice a turn (${replaying[0]} in the first)`,
  );
  t.ok(replaying.length >= 3, `the loop turned between slices (${replaying.length} turns replaying)`);
  t.equal(urgent(), n, 'every dependent replayed in the end');
});
