/**
 * syncWindows in the refresher: periodic refreshes run only when the windows allow them and a
 * blocked one is deferred to the moment they do (no polling, no provider call meanwhile); a new
 * object, a spec change, a force-sync and a restored target are never held back (ESO's rule:
 * windows gate periodic refreshes only). The harness clock starts on Saturday 2026-11-28 10:00 UTC.
 */
import t from 'tap';
import type { ExternalSecret } from '../../src/api/types.ts';
import { ProviderError } from '../../src/providers/types.ts';
import { b64, harness, introExternalSecret, unb64 } from './harness.ts';

const DB = 'my-app/database-credentials';
const HOUR = 3_600_000;
const TARGET = 'default/database-credentials';
const at = (iso: string) => Date.parse(iso);

function setup(
  syncWindows: ExternalSecret['spec'] extends infer S
    ? S extends { syncWindows?: infer W }
      ? W
      : never
    : never,
  over = {},
) {
  const h = harness();
  h.remote.values.set(DB, '{"username":"u","password":"1"}');
  const es = introExternalSecret({ syncWindows, ...over });
  h.refresher.upsertExternalSecret(es);
  h.refresher.start();
  return { h, es };
}

const password = (h: ReturnType<typeof harness>) => unb64(h.kube.secrets.get(TARGET)?.data?.password);
const setValue = (h: ReturnType<typeof harness>, p: string) =>
  h.remote.values.set(DB, JSON.stringify({ username: 'u', password: p }));

t.test('allow: refreshes wait for the nightly window, then run inside it', async (t) => {
  const { h, es } = setup({ kind: 'allow', windows: [{ schedule: '0 22 * * *', duration: '2h' }] });
  t.equal(await h.refresher.tick(), 1, 'the first sync is not held (ESO: windows gate periodic refreshes)');
  t.equal(password(h), '1');

  setValue(h, '2');
  h.clock.advance(2 * HOUR);
  const calls = h.remote.calls;
  t.equal(await h.refresher.tick(), 0, 'the hourly refresh at noon is held');
  t.equal(h.remote.calls, calls, 'no provider call while the window is closed');
  t.equal(password(h), '1');
  t.equal(h.refresher.dueOf(es), at('2026-11-28T22:00:00Z'), 'deferred to the window opening, not polled');
  t.match(h.lines.join('\n'), /periodic refresh deferred by syncWindows/);

  h.clock.advance(at('2026-11-28T22:00:00Z') - h.clock.now());
  t.equal(await h.refresher.tick(), 1, 'refreshed when the window opens');
  t.equal(password(h), '2');

  // Within the window the hourly cadence resumes; after it closes, the next refresh waits a day.
  setValue(h, '3');
  h.clock.advance(HOUR + 60_000);
  await h.refresher.tick();
  t.equal(password(h), '3', 'refreshed again inside the window (22:00-00:00)');
  h.clock.advance(2 * HOUR);
  await h.refresher.tick();
  t.equal(h.refresher.dueOf(es), at('2026-11-29T22:00:00Z'), 'after the window: the next evening');
});

t.test('deny: no refresh during the deny window; the first one after it closes', async (t) => {
  const { h, es } = setup({ kind: 'deny', windows: [{ schedule: '0 9 * * *', duration: '8h' }] });
  // 10:00 is inside the deny window (09:00-17:00); a first sync still runs.
  t.equal(await h.refresher.tick(), 1, 'the first sync runs inside a deny window');
  setValue(h, '2');
  h.clock.advance(2 * HOUR);
  t.equal(await h.refresher.tick(), 0, 'held during the deny window');
  t.equal(password(h), '1');
  t.equal(
    h.refresher.dueOf(es),
    at('2026-11-28T17:00:01Z'),
    'a second after the window closes (both ends are in it)',
  );
  h.clock.advance(at('2026-11-28T17:00:01Z') - h.clock.now());
  t.equal(await h.refresher.tick(), 1);
  t.equal(password(h), '2');
});

t.test('changes are never held: spec change, force-sync, restored target', async (t) => {
  const { h, es } = setup({ kind: 'allow', windows: [{ schedule: '0 22 * * *', duration: '2h' }] });
  await h.refresher.tick();
  h.clock.advance(2 * HOUR);
  await h.refresher.tick();
  t.equal(h.refresher.dueOf(es), at('2026-11-28T22:00:00Z'), 'the periodic refresh is deferred');

  setValue(h, '2');
  h.clock.advance(60_000); // past the value cache's 30 s: each sync below reads the provider
  const forced: ExternalSecret = {
    ...es,
    metadata: { ...es.metadata, resourceVersion: '11', annotations: { 'force-sync': '1764324000' } },
  };
  h.refresher.upsertExternalSecret(forced);
  t.equal(await h.refresher.tick(), 1, 'force-sync syncs at once');
  t.equal(password(h), '2');

  setValue(h, '3');
  h.clock.advance(60_000);
  const v2: ExternalSecret = {
    ...forced,
    metadata: { ...forced.metadata, resourceVersion: '12', generation: 2 },
    spec: { ...forced.spec, refreshInterval: '30m' },
  };
  h.refresher.upsertExternalSecret(v2);
  t.equal(await h.refresher.tick(), 1, 'a spec change syncs at once');
  t.equal(password(h), '3');

  const edited = h.kube.tamper('default', 'database-credentials', { password: b64('hacked') });
  h.refresher.targetSecretChanged(edited, false);
  t.equal(await h.refresher.tick(), 1, 'an edited target is restored at once');
  t.equal(password(h), '3');

  h.clock.advance(HOUR);
  t.equal(await h.refresher.tick(), 0, 'and periodic refreshes are held again');
});

t.test('a failed periodic refresh retries only when the window allows', async (t) => {
  const { h, es } = setup({ kind: 'allow', windows: [{ schedule: '0 10 * * *', duration: '90m' }] });
  await h.refresher.tick();
  h.remote.fault = new ProviderError('Unavailable', 'test: provider down');
  const before = h.remote.calls;
  h.clock.advance(HOUR + 20 * 60_000);
  // 11:20: the hourly refresh (if its slot has come) fails inside the window; its retries keep to
  // the window: by 11:30 it closes and the retry is deferred to tomorrow's 10:00.
  for (let i = 0; i < 20 && h.clock.now() < at('2026-11-28T11:31:00Z'); i++) {
    await h.refresher.tick();
    h.clock.advance(60_000);
  }
  t.ok(h.remote.calls > before + 1, 'the refresh failed and was retried inside the window');
  // Whenever the backoff brings the retry due after the window closed, it is deferred.
  h.clock.advance(at('2026-11-28T12:00:00Z') - h.clock.now());
  const calls = h.remote.calls;
  await h.refresher.tick();
  t.equal(h.remote.calls, calls, 'no attempt outside the window');
  t.equal(h.refresher.dueOf(es), at('2026-11-29T10:00:00Z'), 'the next attempt is at the next opening');
});

t.test('windows do not apply to other refresh policies', async (t) => {
  const { h } = setup(
    { kind: 'allow', windows: [{ schedule: '0 22 * * *', duration: '2h' }] },
    { refreshPolicy: 'OnChange' },
  );
  t.equal(await h.refresher.tick(), 1);
  h.clock.advance(5 * HOUR);
  t.equal(await h.refresher.tick(), 0, 'OnChange never refreshes on a timer, windows or not');
});
