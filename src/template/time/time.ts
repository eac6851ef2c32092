/**
 * Go's `time.Time` and `time.Duration` (Go's time/time.go), for sprig's date functions: an
 * instant (internal seconds since year 1, as int64, plus nanoseconds) with a location, and the
 * same calendar arithmetic Go does — including its 64-bit wrap-around at absurd dates, so that
 * any integer a template passes gives Go's answer. A time has no monotonic reading (Go's `now`
 * prints one, `m=+0.0001`; ours does not).
 */
import { absYearDay, daysSinceEpoch, isLeap, type Location, loadLocation, UTC } from './zoneinfo.ts';

export const SECOND = 1_000_000_000n;
export const MIN_DURATION = -(1n << 63n);
export const MAX_DURATION = (1n << 63n) - 1n;

const UNIX_TO_INTERNAL = 62135596800n;
const INTERNAL_TO_UNIX = -UNIX_TO_INTERNAL;
const ABSOLUTE_TO_INTERNAL = -9223371966579724800n;
const INTERNAL_TO_ABSOLUTE = -ABSOLUTE_TO_INTERNAL;
const DAYS_BEFORE = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];

const i64 = (n: bigint) => BigInt.asIntN(64, n);
const u64 = (n: bigint) => BigInt.asUintN(64, n);

export const MONTH_NAMES = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
export const DAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** time.Month.String(): out-of-range months print as `%!Month(13)`. */
export function monthString(m: bigint): string {
  return m >= 1n && m <= 12n ? (MONTH_NAMES[Number(m) - 1] as string) : `%!Month(${m})`;
}

export function weekdayString(d: bigint): string {
  return d >= 0n && d <= 6n ? (DAY_NAMES[Number(d)] as string) : `%!Weekday(${d})`;
}

export interface DateParts {
  year: number;
  month: number;
  day: number;
  yday: number;
}

export class GoTime {
  /** Seconds since January 1, year 1 UTC (Go's internal `sec()`), int64. */
  readonly sec: bigint;
  /** Nanoseconds within the second, 0..999,999,999. */
  readonly nsec: number;
  /** The location; UTC is `UTC` itself (Go stores nil). */
  readonly loc: Location;

  constructor(sec: bigint, nsec: number, loc: Location = UTC) {
    this.sec = i64(sec);
    this.nsec = nsec;
    this.loc = loc;
  }

  static zero(): GoTime {
    return new GoTime(0n, 0, UTC);
  }

  /** time.Unix(sec, nsec) (in Local, which is UTC here). */
  static unix(sec: bigint, nsec = 0n): GoTime {
    let s = sec;
    let n = nsec;
    if (n < 0n || n >= SECOND) {
      const q = n / SECOND;
      s = i64(s + q);
      n -= q * SECOND;
      if (n < 0n) {
        n += SECOND;
        s = i64(s - 1n);
      }
    }
    return new GoTime(i64(s + UNIX_TO_INTERNAL), Number(n), UTC);
  }

  /** A JavaScript Date as a Go time (millisecond precision), in UTC. */
  static fromDate(d: Date): GoTime {
    const ms = BigInt(d.getTime());
    let s = ms / 1000n;
    let rem = ms % 1000n;
    if (rem < 0n) {
      rem += 1000n;
      s -= 1n;
    }
    return GoTime.unix(s, rem * 1_000_000n);
  }

  unixSec(): bigint {
    return i64(this.sec + INTERNAL_TO_UNIX);
  }

  in(loc: Location): GoTime {
    return new GoTime(this.sec, this.nsec, loc);
  }

  /** Zone name, offset and the absolute seconds Go's calendar functions start from. */
  locabs(): { name: string; offset: number; abs: bigint } {
    const unix = this.unixSec();
    if (this.loc === UTC)
      return { name: 'UTC', offset: 0, abs: u64(unix + UNIX_TO_INTERNAL + INTERNAL_TO_ABSOLUTE) };
    const z = this.loc.lookup(unix);
    return {
      name: z.name,
      offset: z.offset,
      abs: u64(i64(unix + BigInt(z.offset)) + UNIX_TO_INTERNAL + INTERNAL_TO_ABSOLUTE),
    };
  }

  date(): DateParts {
    return absDate(this.locabs().abs);
  }

  clock(): { hour: number; min: number; sec: number } {
    return absClock(this.locabs().abs);
  }

  weekday(): number {
    return absWeekday(this.locabs().abs);
  }

  isZero(): boolean {
    return this.sec === 0n && this.nsec === 0;
  }

  equal(u: GoTime): boolean {
    return this.sec === u.sec && this.nsec === u.nsec;
  }

  before(u: GoTime): boolean {
    return this.sec < u.sec || (this.sec === u.sec && this.nsec < u.nsec);
  }

  after(u: GoTime): boolean {
    return this.sec > u.sec || (this.sec === u.sec && this.nsec > u.nsec);
  }

  /** Time.Add (Duration in nanoseconds). */
  add(d: bigint): GoTime {
    let dsec = d / SECOND;
    let nsec = this.nsec + Number(d % SECOND);
    if (nsec >= 1e9) {
      dsec++;
      nsec -= 1e9;
    } else if (nsec < 0) {
      dsec--;
      nsec += 1e9;
    }
    // addSec saturates instead of wrapping.
    const sum = i64(this.sec + dsec);
    const sec = sum > this.sec === dsec > 0n ? sum : dsec > 0n ? MAX_DURATION : -MAX_DURATION;
    return new GoTime(sec, nsec, this.loc);
  }

  /** Time.Sub: the duration t-u, clamped to Duration's range. */
  sub(u: GoTime): bigint {
    const d = i64(i64(i64(this.sec - u.sec) * SECOND) + BigInt(this.nsec - u.nsec));
    if (u.add(d).equal(this)) return d;
    return this.before(u) ? MIN_DURATION : MAX_DURATION;
  }

  addDate(years: bigint, months: bigint, days: bigint): GoTime {
    const { year, month, day } = this.date();
    const { hour, min, sec } = this.clock();
    return goDate(
      i64(BigInt(year) + years),
      i64(BigInt(month) + months),
      i64(BigInt(day) + days),
      BigInt(hour),
      BigInt(min),
      BigInt(sec),
      BigInt(this.nsec),
      this.loc,
    );
  }

  /** Time.Truncate / Time.Round (since the zero time; d <= 0 leaves t unchanged). */
  truncate(d: bigint): GoTime {
    if (d <= 0n) return this;
    return this.add(-this.mod(d));
  }

  round(d: bigint): GoTime {
    if (d <= 0n) return this;
    const r = this.mod(d);
    if (u64(r) + u64(r) < u64(d)) return this.add(-r);
    return this.add(d - r);
  }

  /** Go's div(t, d) remainder, for d > 0 (exact with bigints). */
  private mod(d: bigint): bigint {
    let sec = this.sec;
    let nsec = BigInt(this.nsec);
    let neg = false;
    if (sec < 0n) {
      neg = true;
      sec = -sec;
      nsec = -nsec;
      if (nsec < 0n) {
        nsec += SECOND;
        sec--;
      }
    }
    const total = sec * SECOND + nsec;
    let r = total % d;
    if (neg && r !== 0n) r = d - r;
    return r;
  }
}

export function absDate(abs: bigint): DateParts {
  const { year: y, yday } = absYearDay(abs);
  const year = Number(y);
  let day = yday;
  if (isLeap(y)) {
    if (day > 31 + 29 - 1) day--;
    else if (day === 31 + 29 - 1) return { year, month: 2, day: 29, yday };
  }
  let month = Math.trunc(day / 31);
  const end = DAYS_BEFORE[month + 1] as number;
  let begin: number;
  if (day >= end) {
    month++;
    begin = end;
  } else begin = DAYS_BEFORE[month] as number;
  month++;
  return { year, month, day: day - begin + 1, yday };
}

export function absClock(abs: bigint): { hour: number; min: number; sec: number } {
  let sec = Number(abs % 86400n);
  const hour = Math.trunc(sec / 3600);
  sec -= hour * 3600;
  const min = Math.trunc(sec / 60);
  return { hour, min, sec: sec - min * 60 };
}

export function absWeekday(abs: bigint): number {
  const sec = (abs + 86400n) % (7n * 86400n);
  return Number(sec / 86400n);
}

function norm(hi: bigint, lo: bigint, base: bigint): [bigint, bigint] {
  let h = hi;
  let l = lo;
  if (l < 0n) {
    const n = (-l - 1n) / base + 1n;
    h = i64(h - n);
    l = i64(l + n * base);
  }
  if (l >= base) {
    const n = l / base;
    h = i64(h + n);
    l = i64(l - n * base);
  }
  return [h, l];
}

/** time.Date: normalises out-of-range fields, then finds the zone offset in effect. */
export function goDate(
  year0: bigint,
  month0: bigint,
  day0: bigint,
  hour0: bigint,
  min0: bigint,
  sec0: bigint,
  nsec0: bigint,
  loc: Location,
): GoTime {
  const [year, m] = norm(year0, month0 - 1n, 12n);
  const month = Number(m) + 1;
  const [sec1, nsec] = norm(sec0, nsec0, SECOND);
  const [min1, sec] = norm(min0, sec1, 60n);
  const [hour1, min] = norm(hour0, min1, 60n);
  const [day, hour] = norm(day0, hour1, 24n);
  let d = daysSinceEpoch(year);
  d += BigInt(DAYS_BEFORE[month - 1] as number);
  if (isLeap(year) && month >= 3) d++;
  d = u64(d + u64(day - 1n));
  const abs = u64(d * 86400n + u64(hour * 3600n + min * 60n + sec));
  let unix = i64(i64(abs) + ABSOLUTE_TO_INTERNAL + INTERNAL_TO_UNIX);
  if (loc !== UTC) {
    const z = loc.lookup(unix);
    let offset = z.offset;
    if (offset !== 0) {
      const utc = unix - BigInt(offset);
      if (utc < z.start || utc >= z.end) offset = loc.lookup(utc).offset;
      unix = i64(unix - BigInt(offset));
    }
  }
  return new GoTime(i64(unix + UNIX_TO_INTERNAL), Number(nsec), loc);
}

// ------------------------------------------------------------------ Duration

/** Duration.String: "72h3m0.5s", "1.5ms", "0s". */
export function durationString(d: bigint): string {
  let u = u64(d);
  const neg = d < 0n;
  if (neg) u = u64(-u);
  const frac = (v: bigint, prec: number): [string, bigint] => {
    let out = '';
    let print = false;
    let x = v;
    for (let i = 0; i < prec; i++) {
      const digit = x % 10n;
      print = print || digit !== 0n;
      if (print) out = digit.toString() + out;
      x /= 10n;
    }
    return [print ? `.${out}` : '', x];
  };
  let out: string;
  if (u < SECOND) {
    if (u === 0n) return '0s';
    let unit: string;
    let prec: number;
    if (u < 1000n) {
      prec = 0;
      unit = 'ns';
    } else if (u < 1_000_000n) {
      prec = 3;
      unit = 'µs';
    } else {
      prec = 6;
      unit = 'ms';
    }
    const [f, rest] = frac(u, prec);
    out = `${rest}${f}${unit}`;
  } else {
    const [f, secs] = frac(u, 9);
    out = `${secs % 60n}${f}s`;
    let mins = secs / 60n;
    if (mins > 0n) {
      out = `${mins % 60n}m${out}`;
      const hours = mins / 60n;
      mins = hours;
      if (hours > 0n) out = `${hours}h${out}`;
    }
  }
  return neg ? `-${out}` : out;
}

/** Duration.Round. */
export function durationRound(d: bigint, m: bigint): bigint {
  if (m <= 0n) return d;
  let r = d % m;
  if (d < 0n) {
    r = -r;
    if (u64(r) + u64(r) < u64(m)) return d + r;
    const d1 = i64(d - m + r);
    return d1 < d ? d1 : MIN_DURATION;
  }
  if (u64(r) + u64(r) < u64(m)) return d - r;
  const d1 = i64(d + m - r);
  return d1 > d ? d1 : MAX_DURATION;
}

const UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1000n,
  µs: 1000n,
  μs: 1000n,
  ms: 1_000_000n,
  s: SECOND,
  m: 60n * SECOND,
  h: 3600n * SECOND,
};

/** time.ParseDuration; undefined where Go returns an error. */
export function parseDuration(input: string): bigint | undefined {
  let s = input;
  let d = 0n;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') return undefined;
  const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
  const LIMIT = 1n << 63n;
  while (s !== '') {
    if (!(s[0] === '.' || isDigit(s[0]))) return undefined;
    // leadingInt
    let i = 0;
    let v = 0n;
    for (; i < s.length && isDigit(s[i]); i++) {
      if (v > LIMIT / 10n) return undefined;
      v = v * 10n + BigInt(s.charCodeAt(i) - 48);
      if (v > LIMIT) return undefined;
    }
    const pre = i > 0;
    s = s.slice(i);
    let f = 0n;
    let scale = 1;
    let post = false;
    if (s[0] === '.') {
      s = s.slice(1);
      let j = 0;
      let overflow = false;
      for (; j < s.length && isDigit(s[j]); j++) {
        if (overflow) continue;
        if (f > (LIMIT - 1n) / 10n) {
          overflow = true;
          continue;
        }
        const y = f * 10n + BigInt(s.charCodeAt(j) - 48);
        if (y > LIMIT) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = j > 0;
      s = s.slice(j);
    }
    if (!pre && !post) return undefined;
    let k = 0;
    while (k < s.length && !(s[k] === '.' || isDigit(s[k]))) k++;
    if (k === 0) return undefined;
    const unit = UNITS[s.slice(0, k)];
    s = s.slice(k);
    if (unit === undefined) return undefined;
    if (v > LIMIT / unit) return undefined;
    v *= unit;
    if (f > 0n) {
      // float64 arithmetic, as Go: exact enough for fractions of an hour.
      v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
      if (v > LIMIT) return undefined;
    }
    d += v;
    if (d > LIMIT) return undefined;
  }
  if (neg) return BigInt.asIntN(64, -d);
  if (d > LIMIT - 1n) return undefined;
  return d;
}

export { loadLocation, UTC };
