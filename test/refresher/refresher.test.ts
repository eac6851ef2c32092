import t from 'tap';
import { ProviderError } from '../../src/providers/types.ts';
import { esoResourceVersion } from '../../src/refresher/external-secret.ts';
import { b64, harness, introExternalSecret, unb64 } from './harness.ts';

const DB = 'my-app/database-credentials';
const HOUR = 3_600_000;

t.test("the introduction's ExternalSecret creates database-credentials, owned and Ready", async (t) => {
  const h = harness();
  h.remote.values.set(DB, '{"username":"db_user","password":"supersecretpassword"}');
  const es = introExternalSecret();
  h.refresher.upsertExternalSecret(es);
  h.refresher.start();
  t.equal(await h.refresher.tick(), 1);
  const secret = h.kube.secrets.get('default/database-credentials');
  t.ok(secret, 'the target Secret exists');
  t.equal(unb64(secret?.data?.username), 'db_user');
  t.equal(unb64(secret?.data?.password), 'supersecretpassword');
  t.same(secret?.metadata?.ownerReferences, [
    {
      apiVersion: 'external-secrets.io/v1',
      kind: 'ExternalSecret',
      name: es.metadata?.name,
      uid: es.metadata?.uid,
      controller: true,
      blockOwnerDeletion: true,
    },
  ]);
  t.equal(secret?.metadata?.labels?.['reconcile.external-secrets.io/managed'], 'true');
  t.ok(secret?.metadata?.annotations?.['reconcile.external-secrets.io/data-hash']);
  const status = h.kube.statuses.get('default/database-credentials-secret');
  t.match(status?.conditions?.[0], { type: 'Ready', status: 'True', reason: 'SecretSynced' });
  t.ok(status?.refreshTime);
  t.match(status?.syncedResourceVersion, /^1-/);
  t.same(
    h.kube.events.map((e) => e.reason),
    ['Created'],
  );
  t.equal(h.remote.calls, 1, 'two properties of one key: one provider call');
  await h.refresher.stop();
});

t.test('a changed value arrives within one interval; an unchanged one costs zero writes', async (t) => {
  const h = harness();
  h.remote.values.set(DB, '{"username":"u","password":"one"}');
  h.refresher.upsertExternalSecret(introExternalSecret());
  h.refresher.start();
  await h.refresher.tick();
  const writes = h.kube.secretWrites();
  t.equal(writes, 1);
  for (let cycle = 0; cycle < 10; cycle++) {
    h.clock.advance(HOUR);
    await h.refresher.tick();
  }
  t.equal(h.kube.secretWrites(), writes, 'ten cycles without a change: no Secret write');
  t.equal(h.remote.calls, 11, 'one provider call per cycle');
  h.remote.values.set(DB, '{"username":"u","password":"two"}');
  h.clock.advance(HOUR);
  await h.refresher.tick();
  t.equal(unb64(h.kube.secrets.get('default/database-credentials')?.data?.password), 'two');
  t.equal(h.kube.secretWrites(), writes + 1);
  t.same(
    h.kube.events.map((e) => e.reason),
    ['Created', 'Updated'],
  );
  await h.refresher.stop();
});

t.test('1,000 ExternalSecrets over 100 remote keys: at most 100 provider calls a cycle', async (t) => {
  const h = harness({ concurrency: 16 });
  for (let k = 0; k < 100; k++) h.remote.values.set(`key-${k}`, `{"v":"${k}"}`);
  for (let i = 0; i < 1000; i++) {
    h.refresher.upsertExternalSecret(
      introExternalSecret(
        {
          target: { name: `target-${i}` },
          data: [{ secretKey: 'v', remoteRef: { key: `key-${i % 100}`, property: 'v' } }],
        },
        `es-${i}`,
      ),
    );
  }
  h.refresher.start();
  await h.refresher.tick();
  t.equal(h.kube.secrets.size, 1000);
  t.ok(h.remote.calls <= 100, `first sync: ${h.remote.calls} calls`);
  h.remote.calls = 0;
  // One full interval later every object has come due once, on its key's slot.
  for (let step = 0; step < 60; step++) {
    h.clock.advance(HOUR / 60);
    await h.refresher.tick();
  }
  t.ok(h.remote.calls <= 100, `one refresh cycle: ${h.remote.calls} calls for 1,000 ExternalSecrets`);
  t.ok(h.remote.calls >= 100, 'every key was refreshed');
  t.equal(h.kube.secretWrites(), 1000, 'nothing changed: no writes in the cycle');
  await h.refresher.stop();
});

t.test('provider outage: data intact, Ready=False, growing capped backoff, recovery', async (t) => {
  const h = harness();
  h.remote.values.set(DB, '{"username":"u","password":"kept"}');
  const es = introExternalSecret();
  h.refresher.upsertExternalSecret(es);
  h.refresher.start();
  await h.refresher.tick();
  h.remote.fault = new ProviderError('Unavailable', 'test: provider down');
  h.clock.advance(HOUR);
  const delays: number[] = [];
  for (let i = 0; i < 10; i++) {
    await h.refresher.tick();
    const due = h.refresher.dueOf(es) as number;
    delays.push(due - h.clock.now());
    h.clock.advance(due - h.clock.now());
  }
  t.same(delays.slice(0, 5), [2000, 4000, 8000, 16000, 32000], 'exponential backoff');
  t.equal(Math.max(...delays), 300_000, 'capped at five minutes');
  t.equal(unb64(h.kube.secrets.get('default/database-credentials')?.data?.password), 'kept', 'data intact');
  t.match(h.kube.statuses.get('default/database-credentials-secret')?.conditions?.[0], {
    status: 'False',
    reason: 'SecretSyncedError',
  });
  t.ok(h.kube.events.some((e) => e.reason === 'UpdateFailed' && e.type === 'Warning'));
  h.remote.fault = undefined;
  h.remote.values.set(DB, '{"username":"u","password":"back"}');
  await h.refresher.tick();
  t.match(h.kube.statuses.get('default/database-credentials-secret')?.conditions?.[0], { status: 'True' });
  t.equal(unb64(h.kube.secrets.get('default/database-credentials')?.data?.password), 'back');
  const next = (h.refresher.dueOf(es) as number) - h.clock.now();
  t.ok(next > 0 && next <= HOUR, 'back on its hourly slot, no more backoff');
  await h.refresher.stop();
});

t.test('Retry-After from a throttling provider is honoured', async (t) => {
  const h = harness();
  h.remote.fault = new ProviderError('Throttled', 'test: slow down', { retryAfterSeconds: 60 });
  const es = introExternalSecret();
  h.refresher.upsertExternalSecret(es);
  h.refresher.start();
  await h.refresher.tick();
  t.equal((h.refresher.dueOf(es) as number) - h.clock.now(), 60_000);
  await h.refresher.stop();
});

t.test('creation policies', async (t) => {
  const values = '{"username":"u","password":"p"}';
  t.test('Orphan: no owner reference', async (t) => {
    const h = harness();
    h.remote.values.set(DB, values);
    h.refresher.upsertExternalSecret(
      introExternalSecret({ target: { name: 'database-credentials', creationPolicy: 'Orphan' } }),
    );
    h.refresher.start();
    await h.refresher.tick();
    t.notOk(h.kube.secrets.get('default/database-credentials')?.metadata?.ownerReferences);
  });
  t.test('Merge: needs an existing Secret and keeps its other keys', async (t) => {
    const h = harness();
    h.remote.values.set(DB, values);
    h.refresher.upsertExternalSecret(
      introExternalSecret({ target: { name: 'database-credentials', creationPolicy: 'Merge' } }),
    );
    h.refresher.start();
    await h.refresher.tick();
    t.equal(h.kube.secrets.size, 0, 'nothing created');
    t.match(h.kube.statuses.get('default/database-credentials-secret')?.conditions?.[0], {
      status: 'False',
      message: /does not exist/,
    });
    await h.kube.createSecret('default', {
      metadata: { name: 'database-credentials' },
      data: { other: b64('x') },
    });
    h.clock.advance(2_000);
    await h.refresher.tick();
    const s = h.kube.secrets.get('default/database-credentials');
    t.same(Object.keys(s?.data ?? {}).sort(), ['other', 'password', 'username']);
    t.notOk(s?.metadata?.ownerReferences);
  });
  t.test('None: nothing written, still Ready', async (t) => {
    const h = harness();
    h.remote.values.set(DB, values);
    h.refresher.upsertExternalSecret(
      introExternalSecret({ target: { name: 'database-credentials', creationPolicy: 'None' } }),
    );
    h.refresher.start();
    await h.refresher.tick();
    t.equal(h.kube.secretWrites(), 0);
    t.match(h.kube.statuses.get('default/database-credentials-secret')?.conditions?.[0], { status: 'True' });
  });
  t.test('CreateOrMerge: creates, then merges', async (t) => {
    const h = harness();
    h.remote.values.set(DB, values);
    h.refresher.upsertExternalSecret(
      introExternalSecret({ target: { name: 'database-credentials', creationPolicy: 'CreateOrMerge' } }),
    );
    h.refresher.start();
    await h.refresher.tick();
    t.equal(unb64(h.kube.secrets.get('default/database-credentials')?.data?.username), 'u');
  });
  t.test('privileged target types are refused', async (t) => {
    const h = harness();
    h.remote.values.set(DB, values);
    h.refresher.upsertExternalSecret(
      introExternalSecret({
        target: { name: 'database-credentials', template: { type: 'kubernetes.io/service-account-token' } },
      }),
    );
    h.refresher.start();
    await h.refresher.tick();
    t.equal(h.kube.secrets.size, 0);
    t.match(h.kube.statuses.get('default/database-credentials-secret')?.conditions?.[0], {
      status: 'False',
      message: /may not be managed/,
    });
  });
});

t.test('deletion policies when the remote secret is gone', async (t) => {
  for (const [policy, expect] of [
    ['Retain', 'kept'],
    ['Delete', 'deleted'],
    ['Merge', 'keys removed'],
  ] as const) {
    t.test(policy, async (t) => {
      const h = harness();
      h.remote.values.set(DB, '{"username":"u","password":"p"}');
      const es = introExternalSecret({
        target: {
          name: 'database-credentials',
          creationPolicy: policy === 'Merge' ? 'Merge' : 'Owner',
          deletionPolicy: policy,
        },
      });
      if (policy === 'Merge')
        await h.kube.createSecret('default', {
          metadata: { name: 'database-credentials' },
          data: { other: b64('x') },
        });
      h.refresher.upsertExternalSecret(es);
      h.refresher.start();
      await h.refresher.tick();
      h.remote.values.delete(DB);
      h.clock.advance(HOUR);
      await h.refresher.tick();
      const s = h.kube.secrets.get('default/database-credentials');
      if (expect === 'kept') {
        t.equal(unb64(s?.data?.password), 'p');
        t.match(h.kube.statuses.get('default/database-credentials-secret')?.conditions?.[0], {
          status: 'False',
        });
      } else if (expect === 'deleted') {
        t.notOk(s);
      } else {
        t.same(Object.keys(s?.data ?? {}), ['other']);
      }
    });
  }
});

t.test('refresh policies and force-sync', async (t) => {
  for (const policy of ['CreatedOnce', 'OnChange'] as const) {
    t.test(policy, async (t) => {
      const h = harness();
      h.remote.values.set(DB, '{"username":"u","password":"1"}');
      const es = introExternalSecret({ refreshPolicy: policy });
      h.refresher.upsertExternalSecret(es);
      h.refresher.start();
      await h.refresher.tick();
      t.equal(h.refresher.dueOf(es), undefined, 'not scheduled again');
      h.remote.values.set(DB, '{"username":"u","password":"2"}');
      h.clock.advance(HOUR * 3);
      t.equal(await h.refresher.tick(), 0);
      if (policy === 'OnChange') {
        h.refresher.upsertExternalSecret({ ...es, metadata: { ...es.metadata, generation: 2 } });
        await h.refresher.tick();
        t.equal(
          unb64(h.kube.secrets.get('default/database-credentials')?.data?.password),
          '2',
          'a spec change syncs',
        );
      }
    });
  }
  t.test('refreshInterval 0 syncs once; force-sync syncs OnChange objects again', async (t) => {
    const h = harness();
    h.remote.values.set(DB, '{"username":"u","password":"1"}');
    const es = introExternalSecret({ refreshInterval: '0', refreshPolicy: 'OnChange' });
    h.refresher.upsertExternalSecret(es);
    h.refresher.start();
    await h.refresher.tick();
    h.remote.values.set(DB, '{"username":"u","password":"2"}');
    h.clock.advance(HOUR);
    t.equal(await h.refresher.tick(), 0);
    h.refresher.upsertExternalSecret({
      ...es,
      metadata: { ...es.metadata, annotations: { 'force-sync': '1' } },
    });
    await h.refresher.tick();
    t.equal(unb64(h.kube.secrets.get('default/database-credentials')?.data?.password), '2');
  });
});

t.test('a tampered or deleted target is restored at once', async (t) => {
  const h = harness();
  h.remote.values.set(DB, '{"username":"u","password":"real"}');
  h.refresher.upsertExternalSecret(introExternalSecret());
  h.refresher.start();
  await h.refresher.tick();
  const edited = h.kube.tamper('default', 'database-credentials', { password: b64('hacked') });
  h.refresher.targetSecretChanged(edited, false);
  await h.refresher.tick();
  t.equal(unb64(h.kube.secrets.get('default/database-credentials')?.data?.password), 'real');
  const gone = h.kube.secrets.get('default/database-credentials');
  await h.kube.deleteSecret('default', 'database-credentials');
  h.refresher.targetSecretChanged(gone ?? {}, true);
  await h.refresher.tick();
  t.equal(unb64(h.kube.secrets.get('default/database-credentials')?.data?.password), 'real', 'recreated');
  // Our own write coming back through the informer is a no-op.
  const before = h.kube.secretWrites();
  h.refresher.targetSecretChanged(h.kube.secrets.get('default/database-credentials') ?? {}, false);
  await h.refresher.tick();
  t.equal(h.kube.secretWrites(), before);
});

t.test('a 409 is retried without losing the update', async (t) => {
  const h = harness();
  h.remote.values.set(DB, '{"username":"u","password":"1"}');
  h.refresher.upsertExternalSecret(introExternalSecret());
  h.refresher.start();
  await h.refresher.tick();
  h.remote.values.set(DB, '{"username":"u","password":"2"}');
  h.kube.conflictsLeft = 2;
  h.clock.advance(HOUR);
  await h.refresher.tick();
  t.equal(unb64(h.kube.secrets.get('default/database-credentials')?.data?.password), '2');
});

t.test('losing leadership mid-sync writes nothing more', async (t) => {
  const h = harness();
  h.remote.values.set(DB, '{"username":"u","password":"1"}');
  let release: () => void = () => undefined;
  h.remote.gate = new Promise<void>((r) => {
    release = r;
  });
  h.refresher.upsertExternalSecret(introExternalSecret());
  h.refresher.start();
  const cycle = h.refresher.tick();
  await new Promise((r) => setImmediate(r));
  const stopped = h.refresher.stop();
  release();
  await cycle;
  await stopped;
  t.equal(h.kube.secretWrites(), 0, 'no Secret half-written by a former leader');
  t.equal(h.kube.writes.status, 0);
  t.equal(h.refresher.running, false);
});

t.test('templates shape the target', async (t) => {
  const h = harness();
  h.remote.values.set(DB, '{"username":"db_user","password":"pw"}');
  h.refresher.upsertExternalSecret(
    introExternalSecret({
      target: {
        name: 'database-credentials',
        template: {
          type: 'kubernetes.io/basic-auth',
          metadata: { labels: { app: 'db' } },
          data: { url: 'postgres://{{ .username }}:{{ .password }}@db:5432/app' },
        },
      },
    }),
  );
  h.refresher.start();
  await h.refresher.tick();
  const s = h.kube.secrets.get('default/database-credentials');
  t.equal(s?.type, 'kubernetes.io/basic-auth');
  t.equal(s?.metadata?.labels?.app, 'db');
  t.same(Object.keys(s?.data ?? {}), ['url']);
  t.equal(unb64(s?.data?.url), 'postgres://db_user:pw@db:5432/app');
});

t.test('after a restart, recently synced objects keep their round', async (t) => {
  const h = harness();
  h.remote.values.set(DB, '{"username":"u","password":"1"}');
  // Two objects of one round, synced 10 and 11 minutes ago (a round's syncs spread over seconds).
  const synced = (name: string, minutesAgo: number) => {
    const es = introExternalSecret({}, name);
    es.status = {
      refreshTime: new Date(h.clock.now() - minutesAgo * 60_000).toISOString(),
      syncedResourceVersion: esoResourceVersion(es),
      conditions: [{ type: 'Ready', status: 'True', reason: 'SecretSynced' }],
    };
    return es;
  };
  const a = synced('a', 10);
  const b = synced('b', 11);
  h.refresher.upsertExternalSecret(a);
  h.refresher.upsertExternalSecret(b);
  h.refresher.start();
  t.equal(await h.refresher.tick(), 0, 'not synced again at start');
  const due = h.refresher.dueOf(a) ?? 0;
  t.equal(h.refresher.dueOf(b), due, 'both keep one round: one provider call for both');
  const refreshed = h.clock.now() - 10 * 60_000;
  t.ok(
    due >= refreshed + HOUR / 2 && due <= refreshed + 1.5 * HOUR,
    'about one interval after the last sync',
  );
  t.equal(h.remote.calls, 0);
});

t.test('no value reaches a log line, event or status', async (t) => {
  const h = harness();
  const CANARY = 'CANARY-refresher-5d1';
  h.remote.values.set(DB, `{"username":"u","password":"${CANARY}"}`);
  h.refresher.upsertExternalSecret(introExternalSecret());
  h.refresher.upsertExternalSecret(
    introExternalSecret(
      { data: [{ secretKey: 'x', remoteRef: { key: DB, property: 'password.nope' } }] },
      'broken',
    ),
  );
  h.refresher.start();
  await h.refresher.tick();
  h.remote.fault = new ProviderError('Unavailable', 'test: down');
  h.clock.advance(HOUR);
  await h.refresher.tick();
  const everything = JSON.stringify([
    h.lines,
    h.kube.events,
    [...h.kube.statuses.values()],
    await h.metrics.registry.metrics(),
  ]);
  t.notOk(everything.includes(CANARY));
  t.ok(h.lines.length > 0);
});
