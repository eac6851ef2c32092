/**
 * The refresher shares the event loop with admission: a large round is prepared in slices of
 * REFRESH_SLICE objects with a turn of the loop in between, so a request that arrived meanwhile
 * is answered before the rest of the round (bench/RESULTS.md, "Admission under refresh"). No
 * timing: a probe scheduled with setImmediate when the round's first lookup starts must run
 * before the round's last lookup starts.
 */
import t from 'tap';
import { REFRESH_SLICE, SYNC_STEPS_PER_TURN, TurnGate } from '../../src/refresher/refresher.ts';
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

/** Counts turns of the event loop: a probe re-armed with setImmediate on every turn. */
function turnCounter() {
  const c = { turns: 0, on: true };
  const probe = () => {
    c.turns++;
    if (c.on) setImmediate(probe);
  };
  setImmediate(probe);
  return c;
}

t.test('a TurnGate lets at most its number of passes through per turn, in order', async (t) => {
  const c = turnCounter();
  const gate = new TurnGate(4);
  const passed: { i: number; turn: number }[] = [];
  const all: Promise<void>[] = [];
  for (let i = 0; i < 18; i++) {
    const wait = gate.pass();
    if (wait === undefined) passed.push({ i, turn: c.turns });
    else all.push(wait.then(() => void passed.push({ i, turn: c.turns })));
  }
  t.equal(gate.waiting, 14, 'four passed at once, the others wait');
  await Promise.all(all);
  c.on = false;
  t.same(
    passed.map((p) => p.i),
    Array.from({ length: 18 }, (_, i) => i),
    'in order',
  );
  const perTurn = new Map<number, number>();
  for (const p of passed) perTurn.set(p.turn, (perTurn.get(p.turn) ?? 0) + 1);
  t.same([...perTurn.values()], [4, 4, 4, 4, 2], 'four a turn, each group on its own turn');
  t.equal(gate.waiting, 0);
});

t.test(
  'syncs continue after their API answers at most SYNC_STEPS_PER_TURN per turn of the loop',
  async (t) => {
    const h = harness({ roundSize: 200, concurrency: 16 });
    const n = 60;
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
    // The memory API server answers at once (no I/O): without the gate all sixteen syncs in flight
    // would run each of their steps in the same turn.
    const c = turnCounter();
    const callsPerTurn = new Map<number, number>();
    const count = () => callsPerTurn.set(c.turns, (callsPerTurn.get(c.turns) ?? 0) + 1);
    for (const m of ['getSecret', 'createSecret', 'replaceSecret', 'updateExternalSecretStatus'] as const) {
      const f = (h.kube[m] as (...a: unknown[]) => Promise<unknown>).bind(h.kube);
      (h.kube as unknown as Record<string, unknown>)[m] = (...a: unknown[]) => {
        count();
        return f(...a);
      };
    }
    h.refresher.start();
    await h.refresher.tick();
    c.on = false;
    t.equal(h.kube.secrets.size, n, 'every object synced');
    const most = Math.max(...callsPerTurn.values());
    t.ok(most <= SYNC_STEPS_PER_TURN, `at most ${SYNC_STEPS_PER_TURN} API calls a turn (${most})`);
    t.ok(callsPerTurn.size >= (3 * n) / SYNC_STEPS_PER_TURN, `spread over ${callsPerTurn.size} turns`);
    await h.refresher.stop();
  },
);
