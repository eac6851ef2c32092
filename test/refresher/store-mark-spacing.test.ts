/**
 * A store's own marks (`force-sync`, `esw.io/refresh-request`) are spaced per store
 * (docs/refresher.md, "A request across a handover"): marks inside the spacing after the last one
 * acted on are merged into one refresh at its end, never dropped; two stores do not share a
 * spacing; a mark past it is acted on at once; a deferred mark is still in the ask a shard gained
 * replays. All time is the injected clock; the loop is driven by `tick()`.
 */
import t from 'tap';
import type { ExternalSecret, KubeObject, SecretStore } from '../../src/api/types.ts';
import { shardOf } from '../../src/refresher/queue.ts';
import { STORE_MARK_SPACING_MS } from '../../src/refresher/refresher.ts';
import { formatRefreshRequest, REFRESH_REQUEST_ANNOTATION } from '../../src/refresher/triggers.ts';
import { harness, introExternalSecret, STORE, unb64 } from './harness.ts';

const DB = 'my-app/database-credentials';
const API = 'my-app/api-key';
const OTHER_KEY = 'other/key';
const OTHER: SecretStore = { ...STORE, metadata: { ...STORE.metadata, name: 'other', uid: 'other-uid' } };

const annotated = <T extends KubeObject>(o: T, annotations: Record<string, string>): T => ({
  ...o,
  metadata: { ...o.metadata, annotations: { ...o.metadata?.annotations, ...annotations } },
});
const esFor = (name: string, key: string, store = STORE.metadata?.name ?? ''): ExternalSecret =>
  introExternalSecret(
    {
      secretStoreRef: { name: store, kind: 'SecretStore' },
      target: { name: `${name}-target`, creationPolicy: 'Owner' },
      data: [{ secretKey: 'password', remoteRef: { key, property: 'password' } }],
    },
    name,
  );
const target = (h: ReturnType<typeof harness>, name: string) =>
  unb64(h.kube.secrets.get(`default/${name}`)?.data?.password);
const request = (h: ReturnType<typeof harness>, id: string, keys?: string[]) => ({
  [REFRESH_REQUEST_ANNOTATION]: formatRefreshRequest({ id, at: h.clock.now(), keys }),
});
const pw = (v: string) => `{"password":"${v}"}`;

async function counted(h: ReturnType<typeof harness>, metric: 'refreshTriggers' | 'refreshMarksDeferred') {
  return (await h.metrics[metric].get()).values.reduce((n, v) => n + v.value, 0);
}

t.test('marks inside the spacing: one refresh at its end, per store, the last never lost', async (t) => {
  // The loop's timer, on the same clock: `step` fires it when due, as the real one would.
  const wakes: number[] = [];
  let armed: { fn: () => void; at: number } | undefined;
  const h: ReturnType<typeof harness> = harness({
    setTimer: (fn, ms) => {
      const timer = { fn, at: h.clock.now() + ms };
      armed = timer;
      wakes.push(timer.at);
      return {
        cancel: () => {
          if (armed === timer) armed = undefined;
        },
      };
    },
  });
  const step = async () => {
    const due = armed && armed.at <= h.clock.now() ? armed : undefined;
    armed = undefined;
    due?.fn();
    await h.refresher.tick();
    await new Promise((resolve) => setImmediate(resolve));
  };
  h.registry.upsert(OTHER);
  for (const [k, v] of [
    [DB, 'one'],
    [API, 'a1'],
    [OTHER_KEY, 'o1'],
  ] as const)
    h.remote.values.set(k, pw(v));
  h.refresher.upsertStore(STORE);
  h.refresher.upsertStore(OTHER);
  h.refresher.upsertExternalSecret(esFor('db', DB));
  h.refresher.upsertExternalSecret(esFor('api', API));
  h.refresher.upsertExternalSecret(esFor('o', OTHER_KEY, 'other'));
  h.refresher.start();
  await step();
  t.equal(target(h, 'db-target'), 'one');

  // The first mark: acted on at once.
  h.clock.advance(1_000);
  h.remote.values.set(DB, pw('canary-two'));
  let store = annotated(STORE, request(h, 'r1', [DB]));
  h.refresher.upsertStore(store);
  await step();
  t.equal(target(h, 'db-target'), 'canary-two', 'the first mark: at once');
  const actedAt = h.clock.now();
  const calls = h.remote.calls;

  // Three more marks inside its spacing, the last for another key: nothing read yet.
  h.remote.values.set(DB, pw('canary-three'));
  h.remote.values.set(API, pw('canary-a2'));
  for (const [i, more] of [
    { 'force-sync': '1' },
    request(h, 'r2', [DB]),
    request(h, 'r3', [API]),
  ].entries()) {
    h.clock.advance(1_000);
    store = annotated(store, more);
    h.refresher.upsertStore(store);
    await step();
    t.equal(h.remote.calls, calls, `mark ${i + 2}, inside the spacing: nothing read`);
  }
  t.equal(await counted(h, 'refreshMarksDeferred'), 3, 'three marks deferred');
  t.equal(wakes.at(-1), actedAt + STORE_MARK_SPACING_MS, 'the loop wakes at its end');

  // Another store's mark meanwhile: its own spacing, acted on at once.
  h.remote.values.set(OTHER_KEY, pw('canary-o2'));
  h.refresher.upsertStore(annotated(OTHER, { 'force-sync': 'x' }));
  await step();
  t.equal(target(h, 'o-target'), 'canary-o2', 'two stores do not share a spacing');
  const afterOther = h.remote.calls;

  h.clock.advance(actedAt + STORE_MARK_SPACING_MS - 1 - h.clock.now());
  await step();
  t.equal(h.remote.calls, afterOther, 'a millisecond before its end: nothing');
  h.clock.advance(1);
  await step();
  t.equal(h.remote.calls - afterOther, 2, 'at its end: one refresh, one read per key of every mark');
  t.equal(target(h, 'db-target'), 'canary-three');
  t.equal(target(h, 'api-target'), 'canary-a2', 'the last mark honoured');
  t.equal(
    await counted(h, 'refreshTriggers'),
    3,
    'counted as one refresh (plus the first, and the other store)',
  );

  // Spent: the spacing's end does not fire again.
  const spent = h.remote.calls;
  h.clock.advance(STORE_MARK_SPACING_MS - 1);
  await step();
  t.equal(h.remote.calls, spent, 'nothing left to act on');

  // A mark past the spacing after the deferred refresh: at once.
  h.clock.advance(1);
  h.remote.values.set(DB, pw('canary-four'));
  h.refresher.upsertStore(annotated(store, request(h, 'r4', [DB])));
  await step();
  t.equal(target(h, 'db-target'), 'canary-four', 'past the spacing: at once');
  t.equal(await counted(h, 'refreshMarksDeferred'), 3);

  t.notOk(
    h.lines.some((l) => l.includes('canary')),
    'no value in a log line',
  );
});

t.test('a deferred mark is in the ask a shard gained replays', async (t) => {
  const h = harness({ shards: 2 });
  const mine = shardOf('default', 2);
  for (const [k, v] of [
    [DB, 'one'],
    [API, 'a1'],
  ] as const)
    h.remote.values.set(k, pw(v));
  h.refresher.upsertStore(STORE);
  const objects = [esFor('db', DB), esFor('api', API)];
  for (const es of objects) h.refresher.upsertExternalSecret(es);
  await h.refresher.setShards([0, 1]);
  await h.refresher.tick();
  // The echo of their status: synced now, so a shard gained keeps their rounds (only a replay
  // refreshes them).
  for (const es of objects)
    h.refresher.upsertExternalSecret({ ...es, status: h.kube.statuses.get(`default/${es.metadata?.name}`) });
  // The store's shard is handed over; this replica still refreshes the other one.
  await h.refresher.setShards([1 - mine]);

  h.clock.advance(1_000);
  h.remote.values.set(DB, pw('two'));
  h.remote.values.set(API, pw('a2'));
  let store = annotated(STORE, request(h, 'r1', [DB]));
  h.refresher.upsertStore(store);
  h.clock.advance(1_000);
  store = annotated(store, request(h, 'r2', [API]));
  h.refresher.upsertStore(store);
  t.equal(await counted(h, 'refreshMarksDeferred'), 1, 'the second mark deferred');

  // Taken back inside the spacing: the replay acts on both marks at once.
  const calls = h.remote.calls;
  await h.refresher.setShards([0, 1]);
  await h.refresher.tick();
  t.equal(target(h, 'db-target'), 'two');
  t.equal(target(h, 'api-target'), 'a2', 'the deferred mark replayed');
  t.equal(h.remote.calls - calls, 2, 'one read per key');
});
