/**
 * StoreStatus on an injected clock (the cluster double test is test/e2e/store-status.test.ts):
 * one check per store version, the periodic re-check (spec.refreshInterval, default 5 min), no
 * write when the verdict is unchanged, lastTransitionTime kept while the status holds, an Event
 * on each change of verdict, ESO's reasons per stage, bounded concurrency, other classes never
 * checked, and nothing while not leading.
 */
import t from 'tap';
import type { SecretStore } from '../../src/api/types.ts';
import { EswError } from '../../src/errors.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { ProviderError } from '../../src/providers/types.ts';
import type { KubeEvent } from '../../src/refresher/ports.ts';
import {
  DEFAULT_STORE_INTERVAL_MS,
  nextCheck,
  type StoreCheck,
  StoreStatus,
  type StoreStatusBody,
} from '../../src/refresher/store-status.ts';

const logger = createLogger({ level: 'silent' });

function setup(check: StoreCheck, concurrency?: number) {
  const clock = { now: Date.parse('2026-01-01T00:00:00Z') };
  const patches: { store: string; status: StoreStatusBody }[] = [];
  const events: KubeEvent[] = [];
  const ss = new StoreStatus({
    validate: check,
    kube: {
      async patchStoreStatus(store, status) {
        patches.push({ store: store.metadata?.name ?? '', status });
        // The informer hands the written status back.
        store.status = status as Record<string, unknown>;
      },
      async createEvent(e) {
        events.push(e);
      },
    },
    logger,
    controllerClass: 'default',
    now: () => clock.now,
    ...(concurrency ? { concurrency } : {}),
  });
  return { ss, clock, patches, events };
}

const store = (name: string, spec: SecretStore['spec'] = {}, generation = 1): SecretStore => ({
  apiVersion: 'external-secrets.io/v1',
  kind: 'SecretStore',
  metadata: { name, namespace: 'default', uid: `uid-${name}`, generation },
  spec: { provider: { fake: { data: [] } }, ...spec },
});

t.test('one check per version, periodic re-checks, no write when unchanged', async (t) => {
  let checks = 0;
  const { ss, clock, patches, events } = setup(async () => {
    checks++;
    return undefined;
  });
  const s = store('a');
  ss.upsert(s);
  t.equal(await ss.tick(), 0, 'not leading: nothing');
  ss.start();
  t.equal(await ss.tick(), 1);
  t.equal(checks, 1);
  t.equal(patches.length, 1);
  t.match(patches[0]?.status, {
    capabilities: 'ReadOnly',
    conditions: [{ type: 'Ready', status: 'True', reason: 'Valid', message: 'store validated' }],
  });
  t.equal(events.length, 1);
  t.match(events[0], { type: 'Normal', reason: 'Valid' });

  // The echo of our own write (same generation): nothing.
  ss.upsert({ ...s });
  t.equal(await ss.tick(), 0);
  const due = ss.dueOf(s) ?? 0;
  t.equal(due, nextCheck('SecretStore/default/a', clock.now, DEFAULT_STORE_INTERVAL_MS), 'on its slot');
  t.ok(due - clock.now >= DEFAULT_STORE_INTERVAL_MS / 2 && due - clock.now < 1.5 * DEFAULT_STORE_INTERVAL_MS);

  clock.now = due - 1;
  t.equal(await ss.tick(), 0, 'not before its slot');
  clock.now = due;
  t.equal(await ss.tick(), 1, 'checked again after the interval');
  t.equal(patches.length, 1, 'same verdict: no write');
  t.equal(events.length, 1, 'and no Event');

  // spec.refreshInterval (seconds; an int-or-string).
  const fast = store('fast', { refreshInterval: '30' as unknown as number });
  ss.upsert(fast);
  await ss.tick();
  t.equal(ss.dueOf(fast), nextCheck('SecretStore/default/fast', clock.now, 30_000));
});

t.test('1,000 stores checked together at a start are checked again spread over the interval', async (t) => {
  const checked = new Map<string, number[]>();
  const { ss, clock } = setup(async (st) => {
    const name = st.metadata?.name ?? '';
    checked.set(name, [...(checked.get(name) ?? []), clock.now]);
    return undefined;
  });
  for (let i = 0; i < 1000; i++) ss.upsert(store(`s-${i}`));
  ss.start();
  const start = clock.now;
  t.equal(await ss.tick(), 1000, 'a new leader checks every store at once');
  // The next checks, by tenth of the interval after the first half: before, every store was
  // due again in the same millisecond.
  const bins = new Array<number>(10).fill(0);
  let outside = 0;
  for (let i = 0; i < 1000; i++) {
    const after = (ss.dueOf(store(`s-${i}`)) ?? 0) - start - DEFAULT_STORE_INTERVAL_MS / 2;
    const bin = Math.floor(after / (DEFAULT_STORE_INTERVAL_MS / 10));
    if (bin < 0 || bin > 9) outside++;
    else bins[bin] = (bins[bin] ?? 0) + 1;
  }
  t.equal(outside, 0, 'every next check between half and one and a half intervals away');
  t.ok(Math.max(...bins) <= 200, `at most twice the mean in a tenth of the interval: ${bins.join(' ')}`);
  // Then 25 minutes in 10 s steps: one check per store per interval, never two within half of one.
  for (let step = 0; step < 150; step++) {
    clock.now += 10_000;
    await ss.tick();
  }
  let most = 0;
  for (const times of checked.values()) {
    most = Math.max(most, times.length);
    for (let j = 1; j < times.length; j++)
      if ((times[j] ?? 0) - (times[j - 1] ?? 0) < DEFAULT_STORE_INTERVAL_MS / 2)
        t.fail('two checks too close');
  }
  t.ok(most <= 6, `25 minutes: at most 6 checks of a store (5 a 5-minute interval + the start), saw ${most}`);
});

t.test('reasons per stage; lastTransitionTime moves with the status only', async (t) => {
  let answer: Awaited<ReturnType<StoreCheck>>;
  const { ss, clock, patches, events } = setup(async () => answer);
  const s = store('a');
  answer = { stage: 'client', error: new EswError('ESW_CREDENTIALS', 'Secret "default/creds" not found') };
  ss.upsert(s);
  ss.start();
  await ss.tick();
  t.match(patches.at(-1)?.status.conditions?.[0], {
    status: 'False',
    reason: 'InvalidProviderConfig',
    message: 'unable to create client: Secret "default/creds" not found',
  });
  t.equal(patches.at(-1)?.status.capabilities, undefined, 'no capabilities before it is valid');
  const first = patches.at(-1)?.status.conditions?.[0]?.lastTransitionTime;

  clock.now += 1000;
  answer = {
    stage: 'probe',
    error: new EswError('ESW_PROVIDER_UNAVAILABLE', 'SecretStore "default/a": provider unavailable', {
      cause: new ProviderError('Unavailable', 'connection refused'),
    }),
  };
  ss.upsert({ ...store('a', {}, 2), status: patches.at(-1)?.status as Record<string, unknown> });
  await ss.tick();
  const transient = patches.at(-1)?.status.conditions?.[0];
  t.match(transient, { status: 'False', reason: 'ValidationFailed' });
  t.match(transient?.message, /^unable to validate store: /);
  t.equal(transient?.lastTransitionTime, first, 'still False: the transition time stays');
  t.equal(events.length, 2, 'a new reason: an Event');
  t.equal(events.at(-1)?.type, 'Warning');

  clock.now += 1000;
  answer = {
    stage: 'probe',
    error: new EswError('ESW_PROVIDER_FORBIDDEN', 'SecretStore "default/a": access denied', {
      cause: new ProviderError('Forbidden', 'permission denied'),
    }),
  };
  ss.upsert({ ...store('a', {}, 3), status: patches.at(-1)?.status as Record<string, unknown> });
  await ss.tick();
  t.match(patches.at(-1)?.status.conditions?.[0], { status: 'False', reason: 'InvalidProviderConfig' });

  clock.now += 1000;
  answer = undefined;
  ss.upsert({ ...store('a', {}, 4), status: patches.at(-1)?.status as Record<string, unknown> });
  await ss.tick();
  const valid = patches.at(-1)?.status.conditions?.[0];
  t.match(valid, { status: 'True', reason: 'Valid' });
  t.not(valid?.lastTransitionTime, first, 'True now: a new transition time');
});

t.test('bounded concurrency; other classes never checked; stop ends the pass', async (t) => {
  let running = 0;
  let peak = 0;
  const { ss, patches } = setup(async () => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setImmediate(r));
    running--;
    return undefined;
  }, 3);
  for (let i = 0; i < 12; i++) ss.upsert(store(`s${i}`));
  ss.upsert(store('theirs', { controller: 'eso' }));
  ss.start();
  t.equal(await ss.tick(), 12);
  t.ok(peak <= 3, `at most 3 at once (saw ${peak})`);
  t.notOk(
    patches.some((p) => p.store === 'theirs'),
    'another class: no status',
  );
  t.equal(ss.dueOf(store('theirs', { controller: 'eso' })), undefined, 'not even tracked');
  await ss.stop();
  ss.upsert(store('late'));
  t.equal(await ss.tick(), 0, 'stopped: nothing');
});
