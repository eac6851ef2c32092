/**
 * The GCP change feed (src/providers/gcpsm/change-feed.ts): which Secret Manager notifications
 * count and for which key, the subscription form, and the streaming-pull receiver — the real
 * `@google-cloud/pubsub` client against the wire-level Pub/Sub fake (test/fakes/gcp-pubsub.ts):
 * delivery, acknowledgement, flow control, duplicates, and each way a stream fails, reported in
 * our words (the server's status details never reach a message).
 */
import t, { type Test } from 'tap';
import { feedAddressProblem } from '../../src/feeds/addresses.ts';
import type { ChangeFeedReceiver, FeedEvent } from '../../src/feeds/types.ts';
import {
  gcpEventKeys,
  MAX_OUTSTANDING,
  pubsubReceiver,
  subscriptionProject,
} from '../../src/providers/gcpsm/change-feed.ts';
import { waitFor } from '../cluster-helpers.ts';
import { GcpPubSubFake, GrpcCode } from '../fakes/gcp-pubsub.ts';

const CANARY = `CANARY-pubsub-${Math.random().toString(36).slice(2, 8)}`;
const SUB = 'projects/feeds-project/subscriptions/esw-changes';
const STORE = { projectID: 'my-project' };

t.test('which notifications count, and for which key', async (t) => {
  const ev = (eventType: string, secretId = 'projects/my-project/secrets/db') =>
    gcpEventKeys({ eventType, secretId, dataFormat: 'JSON_API_V1' }, STORE);
  for (const type of [
    'SECRET_VERSION_ADD',
    'SECRET_VERSION_ENABLE',
    'SECRET_VERSION_DISABLE',
    'SECRET_VERSION_DESTROY',
    'SECRET_VERSION_DESTROY_SCHEDULED',
    'SECRET_UPDATE',
    'SECRET_CREATE',
    'SECRET_DELETE',
  ])
    t.same(ev(type), { keys: ['db'], unreadable: false }, type);
  // A rotation is announced (the new version comes as SECRET_VERSION_ADD); a topic test message.
  t.same(ev('SECRET_ROTATE'), { keys: [], unreadable: false });
  t.same(ev('TOPIC_CONFIGURED'), { keys: [], unreadable: false });
  // Project numbers (resource names often carry them) are taken as the store's project.
  t.same(ev('SECRET_VERSION_ADD', 'projects/123456789012/secrets/db'), { keys: ['db'], unreadable: false });
  // Another project, or a regional secret for a global store: not this store's key.
  t.same(ev('SECRET_VERSION_ADD', 'projects/other-project/secrets/db'), { keys: [], unreadable: false });
  t.same(ev('SECRET_VERSION_ADD', 'projects/my-project/locations/europe-west1/secrets/db'), {
    keys: [],
    unreadable: false,
  });
  t.same(
    gcpEventKeys(
      { eventType: 'SECRET_VERSION_ADD', secretId: 'projects/my-project/locations/europe-west1/secrets/db' },
      { projectID: 'my-project', location: 'europe-west1' },
    ),
    { keys: ['db'], unreadable: false },
  );
  // Not a Secret Manager notification.
  t.same(gcpEventKeys(undefined, STORE), { keys: [], unreadable: true });
  t.same(gcpEventKeys({ foo: 'bar' }, STORE), { keys: [], unreadable: true });
  t.same(ev('SECRET_VERSION_ADD', 'db'), { keys: [], unreadable: true });
  t.same(ev('SECRET_VERSION_ADD', `projects/my-project/secrets/${'a'.repeat(600)}`), {
    keys: [],
    unreadable: true,
  });
  t.same(ev('X'.repeat(100)), { keys: [], unreadable: true });
});

t.test('subscription addresses', async (t) => {
  t.equal(subscriptionProject(SUB), 'feeds-project');
  t.equal(
    subscriptionProject('projects/example.com:my-project/subscriptions/a.b~c+d%e'),
    'example.com:my-project',
  );
  for (const bad of [
    'esw-changes',
    'projects/p/subscriptions/esw-changes', // project id too short
    'projects/feeds-project/topics/esw-changes',
    'https://pubsub.googleapis.com/v1/projects/feeds-project/subscriptions/esw-changes',
    'projects/feeds-project/subscriptions/goog-sub',
    'projects/feeds-project/subscriptions/esw changes',
    `projects/feeds-project/subscriptions/${'a'.repeat(256)}`,
    '//evil.example.com/projects/feeds-project/subscriptions/esw-changes',
  ]) {
    t.throws(() => subscriptionProject(bad), /esw\.io\/change-feed.*not a Pub\/Sub subscription/, bad);
    t.match(feedAddressProblem('gcpsm', bad), /must be (a Pub\/Sub subscription|at most)/, bad);
  }
  t.equal(feedAddressProblem('gcpsm', SUB), undefined);
  t.match(feedAddressProblem('aws', SUB), /SQS queue URL/);
  t.equal(feedAddressProblem('vault', SUB), undefined, 'not checked here: no feed at run time');
  t.match(feedAddressProblem('gcpsm', 'x'.repeat(2000)), /at most 1024/);
});

t.test('the streaming-pull receiver against the Pub/Sub fake', async (t) => {
  const fake = new GcpPubSubFake();
  await fake.start();
  t.teardown(() => fake.close());
  fake.createSubscription(SUB);
  /** A receiver closed at the end of test `tt` (Pub/Sub shares a subscription's messages out). */
  const open = (tt: Test, subscription = SUB): ChangeFeedReceiver => {
    const r = pubsubReceiver({
      subscription,
      authClient: undefined,
      override: fake.endpoint,
      store: async () => STORE,
      receiveWaitMs: 200,
    });
    tt.teardown(() => r.close());
    return r;
  };
  const signal = new AbortController().signal;
  const note = (eventType: string, name: string) => ({
    attributes: { eventType, secretId: `projects/my-project/secrets/${name}`, dataFormat: 'JSON_API_V1' },
    data: JSON.stringify({ name: `projects/my-project/secrets/${name}`, labels: { canary: CANARY } }),
  });
  /** Receives until `n` events came (bounded). */
  const collect = async (r: ChangeFeedReceiver, n: number): Promise<FeedEvent[]> => {
    const out: FeedEvent[] = [];
    for (let i = 0; i < 200 && out.length < n; i++) {
      const events = await r.receive(signal);
      out.push(...events);
      await r.ack(
        events.map((e) => e.handle),
        signal,
      );
    }
    return out;
  };
  /** Repeats `step` until it throws (bounded); the error, or undefined if it never did. */
  const firstError = async (step: () => Promise<unknown>): Promise<Error | undefined> => {
    for (let i = 0; i < 200; i++) {
      try {
        await step();
      } catch (e: unknown) {
        return e as Error;
      }
    }
    return undefined;
  };

  t.test('messages delivered, read and acknowledged; flow control asked for', async (t) => {
    const r = open(t);
    t.same(await r.receive(signal), [], 'nothing yet');
    fake.publish(SUB, note('SECRET_VERSION_ADD', 'db'), note('SECRET_ROTATE', 'db'), { attributes: {} });
    const events = await collect(r, 3);
    t.same(
      events.map(({ keys, unreadable }) => ({ keys, unreadable })),
      [
        { keys: ['db'], unreadable: false },
        { keys: [], unreadable: false },
        { keys: [], unreadable: true },
      ],
    );
    await waitFor('acknowledged', () => fake.acked.get(SUB) === 3);
    t.equal(fake.depth(SUB), 0);
    t.equal(fake.lastFlowControl?.maxOutstandingMessages, MAX_OUTSTANDING);
    t.ok((fake.lastFlowControl?.maxOutstandingBytes ?? 0) > 0);
    t.equal(fake.openStreams, 1, 'one stream');
  });

  t.test('a duplicate is delivered again and read again', async (t) => {
    const r = open(t);
    const [id] = fake.publish(SUB, note('SECRET_VERSION_ADD', 'dup'));
    const first = await collect(r, 1);
    t.same(first[0]?.keys, ['dup']);
    await waitFor('acknowledged', () => fake.depth(SUB) === 0);
    fake.duplicate(SUB, id as string);
    const again = await collect(r, 1);
    t.same(again[0]?.keys, ['dup']);
    await waitFor('both acknowledged', () => fake.depth(SUB) === 0);
  });

  t.test('unacknowledged messages come back after the receiver closes', async (t) => {
    const r = open(t);
    fake.publish(SUB, note('SECRET_VERSION_ADD', 'held'));
    let got: FeedEvent[] = [];
    for (let i = 0; i < 200 && got.length === 0; i++) got = await r.receive(signal);
    t.same(got[0]?.keys, ['held']);
    r.close();
    const r2 = open(t);
    const back = await collect(r2, 1);
    t.same(back[0]?.keys, ['held'], 'redelivered to the next consumer');
    await waitFor('acknowledged', () => fake.depth(SUB) === 0);
  });

  for (const [code, words] of [
    [GrpcCode.PERMISSION_DENIED, /access denied \(PERMISSION_DENIED\)$/],
    [GrpcCode.NOT_FOUND, /not found \(NOT_FOUND\)$/],
    [GrpcCode.UNAVAILABLE, /service unavailable \(UNAVAILABLE\)$/],
  ] as const) {
    t.test(`a stream failing with ${GrpcCode[code]} is an error in our words, then recovers`, async (t) => {
      const r = open(t);
      t.same(await r.receive(signal), []);
      fake.fail(code, `details with ${CANARY}`);
      const err = await firstError(() => r.receive(signal));
      t.match(String(err?.message), words);
      t.match(
        (err as Error).message,
        /^gcpsm: Pub\/Sub subscription projects\/feeds-project\/subscriptions\/esw-changes: /,
      );
      t.notOk((err as Error).message.includes(CANARY), 'the server details stay out');
      r.close();
      fake.recover();
      const r2 = open(t);
      fake.publish(SUB, note('SECRET_VERSION_ADD', 'after'));
      const events = await collect(r2, 1);
      t.same(events[0]?.keys, ['after']);
      await waitFor('acknowledged', () => fake.depth(SUB) === 0);
    });
  }

  t.test('acknowledgements refused: an error at the next receive', async (t) => {
    const r = open(t);
    fake.ackFault = GrpcCode.PERMISSION_DENIED;
    t.teardown(() => {
      fake.ackFault = undefined;
    });
    fake.publish(SUB, note('SECRET_VERSION_ADD', 'unacked'));
    const err = await firstError(async () => {
      const events = await r.receive(signal);
      await r.ack(
        events.map((e) => e.handle),
        signal,
      );
    });
    t.match(String(err?.message), /esw-changes: access denied \(PERMISSION_DENIED\)$/);
    t.ok(fake.depth(SUB) >= 1, 'the message stays for the next consumer');
    r.close();
    fake.ackFault = undefined;
    const r2 = open(t);
    const back = await collect(r2, 1);
    t.same(back[0]?.keys, ['unacked']);
    await waitFor('acknowledged', () => fake.depth(SUB) === 0);
  });

  t.test('a subscription that does not exist', async (t) => {
    const r = open(t, 'projects/feeds-project/subscriptions/missing');
    const err = await firstError(() => r.receive(signal));
    t.match(String(err?.message), /subscriptions\/missing: not found \(NOT_FOUND\)$/);
  });
});
