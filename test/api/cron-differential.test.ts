/**
 * Sync-window schedules against robfig/cron v3 (test/oracles/cron), the parser ESO uses: for
 * every schedule both accept or both refuse (with robfig's reason), and from each of a set of
 * instants both name the same next firing. Hand-written cases for every rule and corner, plus
 * 1,500 generated schedules (fixed seed). Time-zone prefixes are left out: robfig reads them
 * from the machine's zone database and the CRD's pattern never lets one through with five fields.
 */
import fc from 'fast-check';
import t from 'tap';
import { CronError, parseSchedule } from '../../src/api/cron.ts';
import { loadOracle } from '../oracles/oracle.ts';

const oracle = loadOracle('cron');

const HAND: string[] = [
  '0 22 * * *',
  '0 22 * * 1-5',
  '*/15 * * * *',
  '0 0 1 * *',
  '0 0 31 * *',
  '0 0 29 2 *',
  '0 0 30 2 *',
  '0 0 * * 0',
  '0 0 * * 7',
  '0 0 * * SUN',
  '0 0 * * mon-fri',
  '0 0 1 JAN *',
  '0 0 1 jan-mar/2 *',
  '0 0 */2 * 1',
  '0 0 1-31 * 1',
  '0 0 ? * 1',
  '0 0 1 * ?',
  '5/20 * * * *',
  '*-5 * * * *',
  '*/0 * * * *',
  '1-2-3 * * * *',
  '1/2/3 * * * *',
  ', * * * *',
  '1,,2 * * * *',
  '60 * * * *',
  '0 24 * * *',
  '0 0 0 * *',
  '0 0 * 13 *',
  '5-1 * * * *',
  '+5 * * * *',
  '05 * * * *',
  'a * * * *',
  '* * * *',
  '* * * * * *',
  '  0   0  *  *  * ',
  '0\t0 * * *',
  '*/99999999999 * * * *',
  '*/99999999999999999999 * * * *',
  '@yearly',
  '@annually',
  '@monthly',
  '@weekly',
  '@daily',
  '@midnight',
  '@hourly',
  '@every 1h',
  '@every 90m',
  '@every 1.5h',
  '@every 500ms',
  '@every -1h',
  '@every 1h30m10s',
  '@every',
  '@every ',
  '@every 1x',
  '@Daily',
  '@daily ',
  ' @daily',
  '@reboot',
  '',
  '0 0 L * *',
  '0 0 * * 1#2',
  '0 0 15W * *',
  'H * * * *',
];

/** Instants to ask for the next firing from: around month, year and leap-day boundaries. */
const INSTANTS = [
  '2026-06-01T20:00:00Z',
  '2026-06-01T21:59:59.500Z',
  '2026-06-01T22:00:00Z',
  '2026-12-31T23:59:59Z',
  '2027-02-28T12:00:00Z',
  '2028-02-28T23:59:00Z',
  '2024-01-31T00:00:30Z',
].map((s) => Date.parse(s));

const FIELDS = [
  { min: 0, max: 59, names: [] as string[] },
  { min: 0, max: 23, names: [] },
  { min: 1, max: 31, names: [] },
  { min: 1, max: 12, names: ['jan', 'FEB', 'Mar', 'dec'] },
  { min: 0, max: 6, names: ['sun', 'MON', 'Fri', 'sat'] },
];

function fieldArb(f: (typeof FIELDS)[number]): fc.Arbitrary<string> {
  const value = fc.oneof(
    { weight: 12, arbitrary: fc.integer({ min: f.min, max: f.max }).map(String) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: f.max + 3 }).map(String) },
    ...(f.names.length ? [{ weight: 2, arbitrary: fc.constantFrom(...f.names) }] : []),
  );
  const range = fc.oneof(
    { weight: 3, arbitrary: value },
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.integer({ min: f.min, max: f.max }), fc.integer({ min: f.min, max: f.max }))
        .map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
    },
    { weight: 1, arbitrary: fc.tuple(value, value).map(([a, b]) => `${a}-${b}`) },
    { weight: 3, arbitrary: fc.constantFrom('*', '?') },
  );
  const stepped = fc.oneof(
    { weight: 4, arbitrary: range },
    { weight: 2, arbitrary: fc.tuple(range, fc.integer({ min: 0, max: 25 })).map(([r, s]) => `${r}/${s}`) },
  );
  return fc.array(stepped, { minLength: 1, maxLength: 3 }).map((parts) => parts.join(','));
}

const scheduleArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 9, arbitrary: fc.tuple(...FIELDS.map(fieldArb)).map((fields) => fields.join(' ')) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 0, max: 5000 }), fc.constantFrom('s', 'm', 'h', 'ms'))
      .map(([n, u]) => `@every ${n}${u}`),
  },
);

const GENERATED = fc.sample(scheduleArb, { numRuns: 1500, seed: 20261202 });

interface GoResult {
  error?: string;
  next?: (number | null)[];
}

t.test(
  'schedules match robfig/cron: acceptance, reasons and next firings',
  { skip: oracle.skip ?? false },
  (t) => {
    const specs = [...HAND, ...GENERATED];
    const times = INSTANTS.map((ms) => Math.floor(ms / 1000));
    const results = oracle.run!(specs.map((spec) => ({ spec, times }))) as GoResult[];
    const mismatches: string[] = [];
    let accepted = 0;
    specs.forEach((spec, i) => {
      const go = results[i] as GoResult;
      let ours: ReturnType<typeof parseSchedule> | undefined;
      let refused: string | undefined;
      try {
        ours = parseSchedule(spec);
      } catch (err) {
        if (!(err instanceof CronError)) throw err;
        refused = err.message;
      }
      if (go.error !== undefined || refused !== undefined) {
        // robfig's duration errors quote Go's ParseDuration text; ours names the descriptor only.
        const same =
          go.error === refused ||
          (go.error?.startsWith('failed to parse duration') &&
            refused?.startsWith('failed to parse duration'));
        if (!same)
          mismatches.push(`${JSON.stringify(spec)}: Go ${go.error ?? 'parses'}, ours ${refused ?? 'parses'}`);
        return;
      }
      accepted++;
      INSTANTS.forEach((ms, j) => {
        const mine = ours!.next(ms);
        const theirs = go.next?.[j] ?? null;
        const got = mine === undefined ? null : mine / 1000;
        if (got !== theirs) {
          mismatches.push(
            `${JSON.stringify(spec)} after ${new Date(ms).toISOString()}: Go ${theirs}, ours ${got}`,
          );
        }
      });
    });
    t.same(mismatches.slice(0, 20), [], `${mismatches.length} differences`);
    t.ok(accepted > 300, `enough accepted schedules compared (${accepted})`);
    t.ok(specs.length - accepted > 100, `enough refused schedules compared (${specs.length - accepted})`);
    t.end();
  },
);
