/**
 * Sprig's date functions (date.go) and Go's `time.Time` as templates see it: `now`, `date`,
 * `dateInZone`, `htmlDate`, `dateModify`, `ago`, `duration`, `durationRound`, `toDate`,
 * `unixEpoch` and their aliases, with Go's layouts (reference time "Mon Jan 2 15:04:05 MST
 * 2006"), Go's quirks kept (`date` of a string formats *now*; `duration 60` is "0s" because 60
 * is an `int`, not an `int64`), and the time's methods a template can call (`.Unix`, `.Format`,
 * `.Add`, `.Year`…). The clock is the render's injected `now`; "Local" is UTC, as in ESO's
 * container.
 */

import { formatValue } from '../fmt.ts';
import { formatBound, formatTime, parseTime, timeString } from '../time/format.ts';
import {
  durationRound,
  durationString,
  GoTime,
  loadLocation,
  MAX_DURATION,
  MIN_DURATION,
  parseDuration,
  SECOND,
  UTC,
} from '../time/time.ts';
import { byteLength, GoInt, type GoMethod, GoStruct, int, type ParamType, type Value } from '../values.ts';
import { type CallContext, FuncError, type FuncMap, fn } from './types.ts';

const i64 = (n: bigint) => BigInt.asIntN(64, n);

/** A Go time.Time value with its methods. */
export function timeValue(t: GoTime): GoStruct {
  return new GoStruct({
    type: 'time.Time',
    print: () => timeString(t),
    methods: TIME_METHODS,
    host: { time: t, json: () => timeJson(t) },
  });
}

/** The GoTime inside a time.Time value. */
export function hostTime(v: Value): GoTime {
  return ((v as GoStruct).host as { time: GoTime }).time;
}

/** Time.MarshalJSON (what toJson and toYaml print): RFC 3339 with nanoseconds. */
function timeJson(t: GoTime): string {
  const y = t.date().year;
  if (y < 0 || y >= 10000) {
    throw new FuncError(
      'json: error calling MarshalJSON for type time.Time: Time.MarshalJSON: year outside of range [0,9999]',
    );
  }
  return formatTime(t, '2006-01-02T15:04:05.999999999Z07:00');
}

function format(t: GoTime, layout: string, ctx: CallContext): string {
  ctx.budget.checkValue(formatBound(byteLength(layout)), ctx.where);
  return formatTime(t, layout);
}

const method = (params: ParamType[], call: GoMethod['call']): GoMethod => ({ params, call });
const dur = (d: bigint) => new GoInt(d, 'time.Duration');

const TIME_METHODS = new Map<string, GoMethod>(
  Object.entries({
    Format: method(['string'], ([l], ctx) => format(hostOf(ctx), l as string, ctx)),
    String: method([], (_a, ctx) => timeString(hostOf(ctx))),
    Unix: method([], (_a, ctx) => int(hostOf(ctx).unixSec(), 'int64')),
    UnixMilli: method([], (_a, ctx) => {
      const t = hostOf(ctx);
      return int(i64(t.unixSec() * 1000n + BigInt(Math.trunc(t.nsec / 1e6))), 'int64');
    }),
    UnixMicro: method([], (_a, ctx) => {
      const t = hostOf(ctx);
      return int(i64(t.unixSec() * 1_000_000n + BigInt(Math.trunc(t.nsec / 1e3))), 'int64');
    }),
    UnixNano: method([], (_a, ctx) => {
      const t = hostOf(ctx);
      return int(i64(t.unixSec() * SECOND + BigInt(t.nsec)), 'int64');
    }),
    Year: method([], (_a, ctx) => int(hostOf(ctx).date().year)),
    Month: method([], (_a, ctx) => int(hostOf(ctx).date().month, 'time.Month')),
    Day: method([], (_a, ctx) => int(hostOf(ctx).date().day)),
    YearDay: method([], (_a, ctx) => int(hostOf(ctx).date().yday + 1)),
    Weekday: method([], (_a, ctx) => int(hostOf(ctx).weekday(), 'time.Weekday')),
    Hour: method([], (_a, ctx) => int(hostOf(ctx).clock().hour)),
    Minute: method([], (_a, ctx) => int(hostOf(ctx).clock().min)),
    Second: method([], (_a, ctx) => int(hostOf(ctx).clock().sec)),
    Nanosecond: method([], (_a, ctx) => int(hostOf(ctx).nsec)),
    IsZero: method([], (_a, ctx) => hostOf(ctx).isZero()),
    IsDST: method([], (_a, ctx) => {
      const t = hostOf(ctx);
      return t.loc === UTC ? false : t.loc.lookup(t.unixSec()).isDST;
    }),
    UTC: method([], (_a, ctx) => timeValue(hostOf(ctx).in(UTC))),
    Local: method([], (_a, ctx) => timeValue(hostOf(ctx).in(UTC))),
    Add: method(['duration'], ([d], ctx) => timeValue(hostOf(ctx).add((d as GoInt).v))),
    AddDate: method(['int', 'int', 'int'], ([y, m, d], ctx) =>
      timeValue(hostOf(ctx).addDate((y as GoInt).v, (m as GoInt).v, (d as GoInt).v)),
    ),
    Sub: method(['time'], ([u], ctx) => dur(hostOf(ctx).sub(hostTime(u ?? null)))),
    Before: method(['time'], ([u], ctx) => hostOf(ctx).before(hostTime(u ?? null))),
    After: method(['time'], ([u], ctx) => hostOf(ctx).after(hostTime(u ?? null))),
    Equal: method(['time'], ([u], ctx) => hostOf(ctx).equal(hostTime(u ?? null))),
    Truncate: method(['duration'], ([d], ctx) => timeValue(hostOf(ctx).truncate((d as GoInt).v))),
    Round: method(['duration'], ([d], ctx) => timeValue(hostOf(ctx).round((d as GoInt).v))),
  }),
);

const namedString = (ctx: CallContext) => formatValue(ctx.receiver ?? null);
const durOf = (ctx: CallContext) => (ctx.receiver as GoInt).v;
const DURATION_METHODS = new Map<string, GoMethod>(
  Object.entries({
    String: method([], (_a, ctx) => namedString(ctx)),
    Hours: method([], (_a, ctx) => fracOf(durOf(ctx), 3600n * SECOND)),
    Minutes: method([], (_a, ctx) => fracOf(durOf(ctx), 60n * SECOND)),
    Seconds: method([], (_a, ctx) => fracOf(durOf(ctx), SECOND)),
    Milliseconds: method([], (_a, ctx) => int(durOf(ctx) / 1_000_000n, 'int64')),
    Microseconds: method([], (_a, ctx) => int(durOf(ctx) / 1000n, 'int64')),
    Nanoseconds: method([], (_a, ctx) => int(durOf(ctx), 'int64')),
    Round: method(['duration'], ([m], ctx) => dur(durationRound(durOf(ctx), (m as GoInt).v))),
    Truncate: method(['duration'], ([m], ctx) => {
      const d = durOf(ctx);
      const n = (m as GoInt).v;
      return dur(n <= 0n ? d : d - (d % n));
    }),
    Abs: method([], (_a, ctx) => {
      const d = durOf(ctx);
      return dur(d >= 0n ? d : d === MIN_DURATION ? MAX_DURATION : -d);
    }),
  }),
);

/** Duration.Hours() and friends: whole units plus the fraction, as float64 (Go's arithmetic). */
function fracOf(d: bigint, unit: bigint): number {
  const whole = d / unit;
  const rest = d % unit;
  return Number(whole) + Number(rest) / Number(unit);
}

/** Methods of Go's named integer types (`now.Month.String`, `(now.Sub $t).Hours`). */
export const INT_METHODS: Partial<Record<GoInt['type'], Map<string, GoMethod>>> = {
  'time.Month': new Map([['String', method([], (_a, ctx) => namedString(ctx))]]),
  'time.Weekday': new Map([['String', method([], (_a, ctx) => namedString(ctx))]]),
  'time.Duration': DURATION_METHODS,
};

/** The receiver of a time method (the executor passes it as `ctx.receiver`). */
function hostOf(ctx: CallContext): GoTime {
  return hostTime(ctx.receiver ?? null);
}

function nowTime(ctx: CallContext): GoTime {
  return GoTime.fromDate(ctx.env.now());
}

/** The `date interface{}` argument of date/dateInZone/htmlDate: a time, or Unix seconds. */
function asTime(v: Value, ctx: CallContext, int32Too: boolean): GoTime {
  if (v instanceof GoStruct && v.type === 'time.Time') return hostTime(v);
  if (v instanceof GoInt && (v.type === 'int' || v.type === 'int64' || (int32Too && v.type === 'int32'))) {
    return GoTime.unix(v.v);
  }
  return nowTime(ctx);
}

function dateInZone(layout: string, date: Value, zone: string, ctx: CallContext): string {
  const t = asTime(date, ctx, true);
  const loc = loadLocation(zone) ?? UTC;
  return format(t.in(loc), layout, ctx);
}

/** strconv.ParseInt(s, 10, 64) as sprig's `duration` uses it: errors give 0, range errors clamp. */
function parseInt10(s: string): bigint {
  let t = s;
  let neg = false;
  if (t[0] === '+' || t[0] === '-') {
    neg = t[0] === '-';
    t = t.slice(1);
  }
  if (t === '') return 0n;
  let n = 0n;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c < 48 || c > 57) return 0n;
    // Past int64 the value only clamps; stop accumulating (a 1 MiB digit string stays cheap).
    if (n <= 1n << 64n) n = n * 10n + BigInt(c - 48);
  }
  // biome-ignore lint/complexity/useMathMinMax: bigints (Math.max does not take them)
  if (neg) return -n < MIN_DURATION ? MIN_DURATION : -n;
  return n > MAX_DURATION ? MAX_DURATION : n;
}

function roundedDuration(v: Value, ctx: CallContext): string {
  let d = 0n;
  if (typeof v === 'string') d = parseDuration(v) ?? 0n;
  else if (v instanceof GoInt && v.type === 'int64') d = v.v;
  else if (v instanceof GoStruct && v.type === 'time.Time') d = nowTime(ctx).sub(hostTime(v));
  let u = BigInt.asUintN(64, d);
  if (d < 0n) u = BigInt.asUintN(64, -u);
  const HOUR = 3600n * SECOND;
  const units: [bigint, string][] = [
    [HOUR * 24n * 365n, 'y'],
    [HOUR * 24n * 30n, 'mo'],
    [HOUR * 24n, 'd'],
    [HOUR, 'h'],
    [60n * SECOND, 'm'],
    [SECOND, 's'],
  ];
  for (const [size, suffix] of units) if (u > size) return `${u / size}${suffix}`;
  return '0s';
}

export function sprigDate(): FuncMap {
  const m: FuncMap = new Map();
  m.set(
    'now',
    fn([], (_a, ctx) => timeValue(nowTime(ctx))),
  );
  const date = fn(['string', 'any'], ([f, d], ctx) => dateInZone(f as string, d ?? null, 'Local', ctx));
  m.set('date', date);
  const inZone = fn(['string', 'any', 'string'], ([f, d, z], ctx) =>
    dateInZone(f as string, d ?? null, z as string, ctx),
  );
  m.set('dateInZone', inZone);
  m.set('date_in_zone', inZone);
  m.set(
    'htmlDate',
    fn(['any'], ([d], ctx) => dateInZone('2006-01-02', d ?? null, 'Local', ctx)),
  );
  m.set(
    'htmlDateInZone',
    fn(['any', 'string'], ([d, z], ctx) => dateInZone('2006-01-02', d ?? null, z as string, ctx)),
  );
  const modify = fn(['string', 'time'], ([f, d]) => {
    const delta = parseDuration(f as string);
    const t = hostTime(d ?? null);
    return timeValue(delta === undefined ? t : t.add(delta));
  });
  m.set('dateModify', modify);
  m.set('date_modify', modify);
  const mustModify = fn(['string', 'time'], ([f, d]) => {
    const delta = parseDuration(f as string);
    if (delta === undefined) throw new FuncError('time: invalid duration');
    return timeValue(hostTime(d ?? null).add(delta));
  });
  m.set('mustDateModify', mustModify);
  m.set('must_date_modify', mustModify);
  m.set(
    'ago',
    fn(['any'], ([d], ctx) => {
      const t = asTime(d ?? null, ctx, false);
      return durationString(durationRound(nowTime(ctx).sub(t), SECOND));
    }),
  );
  m.set(
    'duration',
    fn(['any'], ([v]) => {
      let n = 0n;
      if (typeof v === 'string') n = parseInt10(v);
      else if (v instanceof GoInt && v.type === 'int64') n = v.v;
      return durationString(i64(n * SECOND));
    }),
  );
  m.set(
    'durationRound',
    fn(['any'], ([v], ctx) => roundedDuration(v ?? null, ctx)),
  );
  m.set(
    'toDate',
    fn(['string', 'string'], ([f, s]) =>
      timeValue(parseTime(f as string, s as string, UTC) ?? GoTime.zero()),
    ),
  );
  m.set(
    'mustToDate',
    fn(['string', 'string'], ([f, s]) => {
      const t = parseTime(f as string, s as string, UTC);
      // Go's message quotes the value; ours says only that it did not parse.
      if (t === undefined) throw new FuncError('parsing time: the value does not match the layout');
      return timeValue(t);
    }),
  );
  m.set(
    'unixEpoch',
    fn(['time'], ([d]) =>
      hostTime(d ?? null)
        .unixSec()
        .toString(),
    ),
  );
  return m;
}
