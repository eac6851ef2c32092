/**
 * The refresher shares the event loop with admission: a large round is prepared in slices of
 * REFRESH_SLICE objects with a turn of the loop in between, so a request that arrived meanwhile
 * is answered before the rest of the round (bench/RESULTS.md, "Admission under refresh"). No
 * timing: a probe scheduled with setImmediate when the round's first lookup starts must run
 * before the round's last lookup starts.
 */
import t from 'tap';
import { REFRESH_SLICE } from '../../src/refresher/refresher.ts';
import { harness, introExternalSecret, STORE } from './harness.ts';

t.test('a round of 200 objects lets the loop turn between slices of its lookups', async (t) => {
  const h = harness({ roundSize: 200 });
  const n = 200;
  for (let i = 0; i < n; i++) {
    h.remote.values.set(`key-${i}`, `{"v":"${i}"}`);
    h.refresher.upsertExternalSecret(
      introExternalSecret(
        {
          target: { name: `target-${i}` },
          data: [{ secretKey: 'v', remoteRef: { key: `key-${i}`, property: 'v' } }],
        },
        `es-${i}`,
      ),
    );
  }
  const order: string[] = [];
  const getValue = h.resolver.getValue.bind(h.resolver);
  // The round's prefetch asks for raw keys (the syncs after it ask for properties).
  h.resolver.getValue = (...args: Parameters<typeof getValue>) => {
    if (args[2].property === undefined) {
      if (order.length === 0) setImmediate(() => order.push('probe'));
      order.push(args[2].key ?? '');
    }
    return getValue(...args);
  };
  h.refresher.start();
  await h.refresher.tick();

  const probe = order.indexOf('probe');
  t.ok(probe > 0, 'the probe ran');
  t.ok(probe <= REFRESH_SLICE, `it ran after at most one slice of lookups (${probe})`);
  t.ok(probe < n, `before the round's last lookup started (${probe} of ${n})`);
  t.equal(h.kube.secrets.size, n, 'every object of the round synced');
  await h.refresher.stop();
});

t.test('rounds after the first start on a new turn of the loop', async (t) => {
  const h = harness({ roundSize: 10 });
  // Three stores of ten objects: a store's new objects are taken together, so three rounds.
  for (let s = 0; s < 3; s++)
    h.registry.upsert({ ...STORE, metadata: { ...STORE.metadata, name: `store-${s}`, uid: `store-${s}` } });
  for (let i = 0; i < 30; i++) {
    h.remote.values.set(`key-${i}`, `{"v":"${i}"}`);
    h.refresher.upsertExternalSecret(
      introExternalSecret(
        {
          secretStoreRef: { name: `store-${i % 3}`, kind: 'SecretStore' },
          target: { name: `target-${i}` },
          data: [{ secretKey: 'v', remoteRef: { key: `key-${i}`, property: 'v' } }],
        },
        `es-${i}`,
      ),
    );
  }
  let turns = 0;
  let probing = true;
  const probe = () => {
    turns++;
    if (probing) setImmediate(probe);
  };
  setImmediate(probe);
  const seen: number[] = [];
  const getValue = h.resolver.getValue.bind(h.resolver);
  h.resolver.getValue = (...args: Parameters<typeof getValue>) => {
    if (args[2].property === undefined) seen.push(turns);
    return getValue(...args);
  };
  h.refresher.start();
  await h.refresher.tick();
  probing = false;
  t.equal(h.kube.secrets.size, 30, 'every object synced');
  t.equal(seen.length, 30, 'one prefetch lookup per object');
  t.equal(new Set(seen).size, 3, 'each round on its own turn of the loop');
  await h.refresher.stop();
});
