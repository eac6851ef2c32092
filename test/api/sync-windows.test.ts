/**
 * syncWindows semantics (src/api/sync-windows.ts): ESO's own cases (a daily 22:00 window of two
 * hours, both ends included; allow/deny; invalid schedules never open; unknown kind permits) and
 * the deferral this webhook adds (when a blocked refresh may run), plus admission messages.
 */
import t from 'tap';
import { compileSyncWindows } from '../../src/api/sync-windows.ts';
import { validateObject } from '../../src/api/validate.ts';

const at = (iso: string) => Date.parse(iso);
const open = at('2026-06-01T22:00:00Z');
const close = at('2026-06-02T00:00:00Z');
const valid = { schedule: '0 22 * * *', duration: '2h' };
const invalid = { schedule: 'not-a-cron', duration: '2h' };

t.test('a window is open from its firing to firing + duration, both included (ESO)', (t) => {
  const sw = compileSyncWindows({ kind: 'allow', windows: [valid] });
  t.ok(sw);
  const cases: [number, boolean, string][] = [
    [open, true, 'at window open (inclusive)'],
    [open + 30 * 60_000, true, 'inside window'],
    [close, true, 'at window close (inclusive)'],
    [close + 1000, false, 'one second past window close'],
    [open - 3_600_000, false, 'one hour before window opens'],
    [open + 5 * 3_600_000, false, 'between two consecutive occurrences'],
    [open + 24 * 3_600_000 + 30 * 60_000, true, 'inside the second occurrence (next day)'],
    [close + 999, true, 'within the closing second (whole seconds, as Go truncates)'],
  ];
  for (const [ms, want, name] of cases) t.equal(sw?.allowed(ms), want, name);
  t.end();
});

t.test('allow / deny / invalid / unknown kind (ESO)', (t) => {
  const inWindow = at('2026-06-01T23:00:00Z');
  const outWindow = at('2026-06-01T20:00:00Z');
  t.equal(compileSyncWindows(undefined), undefined, 'no syncWindows: always permitted');
  t.equal(compileSyncWindows({ kind: 'allow', windows: [] }), undefined, 'empty windows: always permitted');
  t.equal(
    compileSyncWindows({ kind: 'unknown', windows: [valid] }),
    undefined,
    'unknown kind: always permitted',
  );
  const allow = compileSyncWindows({ kind: 'allow', windows: [valid] });
  t.equal(allow?.allowed(inWindow), true, 'allow: inside permits');
  t.equal(allow?.allowed(outWindow), false, 'allow: outside blocks');
  const deny = compileSyncWindows({ kind: 'deny', windows: [valid] });
  t.equal(deny?.allowed(inWindow), false, 'deny: inside blocks');
  t.equal(deny?.allowed(outWindow), true, 'deny: outside permits');
  t.equal(
    compileSyncWindows({ kind: 'allow', windows: [invalid] })?.allowed(inWindow),
    false,
    'allow with only an invalid schedule blocks (no window is active)',
  );
  t.equal(
    compileSyncWindows({ kind: 'deny', windows: [invalid] })?.allowed(inWindow),
    true,
    'deny with only an invalid schedule permits',
  );
  t.equal(
    compileSyncWindows({ kind: 'allow', windows: [invalid, valid] })?.allowed(inWindow),
    true,
    'allow: one invalid + one valid active window permits',
  );
  t.end();
});

t.test('nextAllowed: when a blocked periodic refresh may run', (t) => {
  const allow = compileSyncWindows({
    kind: 'allow',
    windows: [valid, { schedule: '30 6 * * 1-5', duration: '15m' }],
  });
  t.equal(allow?.nextAllowed(at('2026-06-01T23:00:00Z')), at('2026-06-01T23:00:00Z'), 'allowed now: now');
  t.equal(
    allow?.nextAllowed(at('2026-06-02T01:00:00Z')),
    at('2026-06-02T06:30:00Z'),
    'the earliest opening among the windows (Tuesday 06:30 before 22:00)',
  );
  t.equal(
    allow?.nextAllowed(at('2026-06-06T01:00:00Z')),
    at('2026-06-06T22:00:00Z'),
    'Saturday: the weekday window does not open, the daily one does',
  );
  t.equal(
    compileSyncWindows({ kind: 'allow', windows: [invalid] })?.nextAllowed(open),
    undefined,
    'an allow list that never opens: no time',
  );
  t.equal(
    compileSyncWindows({ kind: 'allow', windows: [{ schedule: '0 0 30 2 *', duration: '1h' }] })?.nextAllowed(
      open,
    ),
    undefined,
    'a schedule that never fires (30 February): no time',
  );

  const deny = compileSyncWindows({
    kind: 'deny',
    windows: [valid, { schedule: '0 23 * * *', duration: '3h' }],
  });
  t.equal(
    deny?.nextAllowed(at('2026-06-01T22:30:00Z')),
    at('2026-06-02T02:00:01Z'),
    'overlapping deny windows: a second after the last one closes',
  );
  t.equal(deny?.nextAllowed(at('2026-06-01T12:00:00Z')), at('2026-06-01T12:00:00Z'), 'outside: now');
  const always = compileSyncWindows({ kind: 'deny', windows: [{ schedule: '* * * * *', duration: '5m' }] });
  t.equal(always?.allowed(at('2026-06-01T12:00:00Z')), false, 'a deny window open every minute blocks');
  t.equal(
    always?.nextAllowed(at('2026-06-01T12:00:00Z')),
    undefined,
    'and never ends: no time (bounded search)',
  );
  t.end();
});

t.test('@every windows behave as robfig fires them: relative to the instant asked about', (t) => {
  // ESO asks for the first firing after (now - duration - 1s): `@every` fires `delay` later, so
  // the window is open at every instant when delay <= duration + 1s and never otherwise.
  t.equal(
    compileSyncWindows({ kind: 'allow', windows: [{ schedule: '@every 1h', duration: '2h' }] })?.allowed(
      open,
    ),
    true,
  );
  t.equal(
    compileSyncWindows({ kind: 'allow', windows: [{ schedule: '@every 3h', duration: '2h' }] })?.allowed(
      open,
    ),
    false,
  );
  t.end();
});

function es(syncWindows: unknown, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name: 'db', namespace: 'team-a' },
    spec: {
      secretStoreRef: { name: 'aws', kind: 'SecretStore' },
      target: { name: 'db' },
      data: [{ secretKey: 'password', remoteRef: { key: 'prod/db', property: 'password' } }],
      syncWindows,
      ...extra,
    },
  };
}

t.test('admission: ESO 2.9 examples validate; what robfig refuses is refused on its field', (t) => {
  const ok = validateObject(
    es({
      kind: 'allow',
      windows: [
        { schedule: '0 22 * * 1-5', duration: '8h' },
        { schedule: '@daily', duration: '1h' },
        { schedule: '@every 6h', duration: '30m' },
      ],
    }),
  );
  t.same(ok.errors, [], 'documented shapes are valid');
  t.same(ok.warnings, []);

  const bad = validateObject(
    es({
      kind: 'deny',
      windows: [
        { schedule: '0 0 * * 7', duration: '1h' },
        { schedule: '0 0 * * *', duration: 'one hour' },
        { schedule: '0 0 * * *', duration: '0s' },
      ],
    }),
  );
  t.same(
    bad.errors.map((e) => `${e.field}: ${e.message}`),
    [
      'spec.syncWindows.windows[0].schedule: Invalid value: "0 0 * * 7": not a cron schedule: end of range (7) above maximum (6): 7',
      'spec.syncWindows.windows[1].duration: Invalid value: "one hour": must be a Go duration such as "8h" or "30m"',
    ],
  );
  t.match(bad.warnings, [/windows\[2\]\.duration 0s is not positive/]);

  const policy = validateObject(
    es({ kind: 'allow', windows: [{ schedule: '@daily', duration: '1h' }] }, { refreshPolicy: 'OnChange' }),
  );
  t.same(policy.errors, []);
  t.match(policy.warnings, [/only gate periodic refreshes; with refreshPolicy "OnChange"/]);

  const many = validateObject(
    es({
      kind: 'allow',
      windows: Array.from({ length: 65 }, () => ({ schedule: '@daily', duration: '1h' })),
    }),
  );
  t.match(
    many.errors.map((e) => `${e.field}: ${e.message}`),
    ['spec.syncWindows.windows: Too many: 65: must have at most 64 items'],
  );
  t.end();
});
