/**
 * Go's time layouts (time/format.go): `Time.Format(layout)` and `time.ParseInLocation` with the
 * reference time "Mon Jan 2 15:04:05 MST 2006" — the same chunking of the layout (`Jan` but not
 * `Janitor`, `_2`, `__2`, `002`, `.000`/`,999`, `Z07:00`…), the same padding, the same parsing
 * rules (two-digit years pivot at 69, fractional seconds after `05` even without a layout
 * element, zone abbreviations looked up in the location, fabricated fixed zones otherwise).
 * Parse failures carry no part of the value: callers only learn that it did not parse.
 */
import {
  absClock as absClockOf,
  absDate as absDateOf,
  DAY_NAMES,
  type GoTime,
  goDate,
  MONTH_NAMES,
  absWeekday as weekdayOf,
} from './time.ts';
import { fixedZone, isLeap, type Location, UTC } from './zoneinfo.ts';

const NEED_DATE = 1 << 8;
const NEED_CLOCK = 2 << 8;
const ARG_SHIFT = 16;
const SEP_SHIFT = 28;
const MASK = (1 << ARG_SHIFT) - 1;

// The std codes, as in format.go (values only need to be distinct, with the need bits).
const stdLongMonth = 1 + NEED_DATE;
const stdMonth = 2 + NEED_DATE;
const stdNumMonth = 3 + NEED_DATE;
const stdZeroMonth = 4 + NEED_DATE;
const stdLongWeekDay = 5 + NEED_DATE;
const stdWeekDay = 6 + NEED_DATE;
const stdDay = 7 + NEED_DATE;
const stdUnderDay = 8 + NEED_DATE;
const stdZeroDay = 9 + NEED_DATE;
const stdUnderYearDay = 10 + NEED_DATE;
const stdZeroYearDay = 11 + NEED_DATE;
const stdHour = 12 + NEED_CLOCK;
const stdHour12 = 13 + NEED_CLOCK;
const stdZeroHour12 = 14 + NEED_CLOCK;
const stdMinute = 15 + NEED_CLOCK;
const stdZeroMinute = 16 + NEED_CLOCK;
const stdSecond = 17 + NEED_CLOCK;
const stdZeroSecond = 18 + NEED_CLOCK;
const stdLongYear = 19 + NEED_DATE;
const stdYear = 20 + NEED_DATE;
const stdPM = 21 + NEED_CLOCK;
const stdpm = 22 + NEED_CLOCK;
const stdTZ = 23;
const stdISO8601TZ = 24;
const stdISO8601SecondsTZ = 25;
const stdISO8601ShortTZ = 26;
const stdISO8601ColonTZ = 27;
const stdISO8601ColonSecondsTZ = 28;
const stdNumTZ = 29;
const stdNumSecondsTz = 30;
const stdNumShortTZ = 31;
const stdNumColonTZ = 32;
const stdNumColonSecondsTZ = 33;
const stdFracSecond0 = 34;
const stdFracSecond9 = 35;

const std0x = [stdZeroMonth, stdZeroDay, stdZeroHour12, stdZeroMinute, stdZeroSecond, stdYear];

const isDigitAt = (s: string, i: number) => i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57;
const startsWithLower = (s: string) => s.length > 0 && s.charCodeAt(0) >= 97 && s.charCodeAt(0) <= 122;

function stdFracSecond(code: number, n: number, c: string): number {
  const base = code | ((n & 0xfff) << ARG_SHIFT);
  return c === '.' ? base : base | (1 << SEP_SHIFT);
}

interface Chunk {
  prefix: string;
  std: number;
  suffix: string;
}

/** Layouts are bytes in Go; they arrive here as JavaScript strings of the same UTF-8 text. */
export function nextStdChunk(layout: string): Chunk {
  const at = (i: number, n: number) => layout.slice(i, i + n);
  const chunk = (i: number, std: number, len: number): Chunk => ({
    prefix: layout.slice(0, i),
    std,
    suffix: layout.slice(i + len),
  });
  for (let i = 0; i < layout.length; i++) {
    switch (layout[i]) {
      case 'J':
        if (at(i, 3) === 'Jan') {
          if (at(i, 7) === 'January') return chunk(i, stdLongMonth, 7);
          if (!startsWithLower(layout.slice(i + 3))) return chunk(i, stdMonth, 3);
        }
        break;
      case 'M':
        if (at(i, 3) === 'Mon') {
          if (at(i, 6) === 'Monday') return chunk(i, stdLongWeekDay, 6);
          if (!startsWithLower(layout.slice(i + 3))) return chunk(i, stdWeekDay, 3);
        }
        if (at(i, 3) === 'MST') return chunk(i, stdTZ, 3);
        break;
      case '0': {
        const c = layout.charCodeAt(i + 1);
        if (c >= 49 && c <= 54) return chunk(i, std0x[c - 49] as number, 2);
        if (at(i, 3) === '002') return chunk(i, stdZeroYearDay, 3);
        break;
      }
      case '1':
        if (layout[i + 1] === '5') return chunk(i, stdHour, 2);
        return chunk(i, stdNumMonth, 1);
      case '2':
        if (at(i, 4) === '2006') return chunk(i, stdLongYear, 4);
        return chunk(i, stdDay, 1);
      case '_':
        if (layout[i + 1] === '2') {
          if (at(i + 1, 4) === '2006')
            return { prefix: layout.slice(0, i + 1), std: stdLongYear, suffix: layout.slice(i + 5) };
          return chunk(i, stdUnderDay, 2);
        }
        if (at(i, 3) === '__2') return chunk(i, stdUnderYearDay, 3);
        break;
      case '3':
        return chunk(i, stdHour12, 1);
      case '4':
        return chunk(i, stdMinute, 1);
      case '5':
        return chunk(i, stdSecond, 1);
      case 'P':
        if (layout[i + 1] === 'M') return chunk(i, stdPM, 2);
        break;
      case 'p':
        if (layout[i + 1] === 'm') return chunk(i, stdpm, 2);
        break;
      case '-':
        if (at(i, 7) === '-070000') return chunk(i, stdNumSecondsTz, 7);
        if (at(i, 9) === '-07:00:00') return chunk(i, stdNumColonSecondsTZ, 9);
        if (at(i, 5) === '-0700') return chunk(i, stdNumTZ, 5);
        if (at(i, 6) === '-07:00') return chunk(i, stdNumColonTZ, 6);
        if (at(i, 3) === '-07') return chunk(i, stdNumShortTZ, 3);
        break;
      case 'Z':
        if (at(i, 7) === 'Z070000') return chunk(i, stdISO8601SecondsTZ, 7);
        if (at(i, 9) === 'Z07:00:00') return chunk(i, stdISO8601ColonSecondsTZ, 9);
        if (at(i, 5) === 'Z0700') return chunk(i, stdISO8601TZ, 5);
        if (at(i, 6) === 'Z07:00') return chunk(i, stdISO8601ColonTZ, 6);
        if (at(i, 3) === 'Z07') return chunk(i, stdISO8601ShortTZ, 3);
        break;
      case '.':
      case ',': {
        const ch = layout[i + 1];
        if (ch === '0' || ch === '9') {
          let j = i + 1;
          while (j < layout.length && layout[j] === ch) j++;
          if (!isDigitAt(layout, j)) {
            const code = ch === '9' ? stdFracSecond9 : stdFracSecond0;
            return {
              prefix: layout.slice(0, i),
              std: stdFracSecond(code, j - (i + 1), layout[i] as string),
              suffix: layout.slice(j),
            };
          }
        }
        break;
      }
    }
  }
  return { prefix: layout, std: 0, suffix: '' };
}

function appendInt(x: number, width: number): string {
  const neg = x < 0;
  const digits = String(Math.abs(x));
  return (neg ? '-' : '') + digits.padStart(width, '0');
}

function formatNano(nanosec: number, std: number): string {
  let n = (std >> ARG_SHIFT) & 0xfff;
  const sep = std >> SEP_SHIFT === 0 ? '.' : ',';
  const trim = (std & MASK) === stdFracSecond9;
  const buf = String(nanosec).padStart(9, '0');
  if (n > 9) n = 9;
  if (trim) {
    while (n > 0 && buf[n - 1] === '0') n--;
    if (n === 0) return '';
  }
  return sep + buf.slice(0, n);
}

/** An upper bound of Format's output length for a layout of `bytes` bytes. */
export function formatBound(bytes: number): number {
  // The widest expansion is a one-byte element ("1", "2") printing two bytes, "2006" printing
  // a 12-digit year, "MST" a zone abbreviation; 4x plus a constant covers them all.
  return 4 * bytes + 64;
}

/** Time.Format. */
export function formatTime(t: GoTime, input: string): string {
  const { name, offset, abs } = t.locabs();
  let layout = input;
  let out = '';
  let date: ReturnType<GoTime['date']> | undefined;
  let clock: ReturnType<GoTime['clock']> | undefined;
  for (;;) {
    const { prefix, std, suffix } = nextStdChunk(layout);
    out += prefix;
    if (std === 0) break;
    layout = suffix;
    if (date === undefined && std & NEED_DATE) {
      date = absDateOf(abs);
    }
    if (clock === undefined && std & NEED_CLOCK) clock = absClockOf(abs);
    const d = date as NonNullable<typeof date>;
    const c = clock as NonNullable<typeof clock>;
    switch (std & MASK) {
      case stdYear:
        out += appendInt(Math.abs(d.year) % 100, 2);
        break;
      case stdLongYear:
        out += appendInt(d.year, 4);
        break;
      case stdMonth:
        out += (MONTH_NAMES[d.month - 1] as string).slice(0, 3);
        break;
      case stdLongMonth:
        out += MONTH_NAMES[d.month - 1] as string;
        break;
      case stdNumMonth:
        out += appendInt(d.month, 0);
        break;
      case stdZeroMonth:
        out += appendInt(d.month, 2);
        break;
      case stdWeekDay:
        out += (DAY_NAMES[weekdayOf(abs)] as string).slice(0, 3);
        break;
      case stdLongWeekDay:
        out += DAY_NAMES[weekdayOf(abs)] as string;
        break;
      case stdDay:
        out += appendInt(d.day, 0);
        break;
      case stdUnderDay:
        out += (d.day < 10 ? ' ' : '') + appendInt(d.day, 0);
        break;
      case stdZeroDay:
        out += appendInt(d.day, 2);
        break;
      case stdUnderYearDay: {
        const yday = d.yday + 1;
        out += (yday < 100 ? (yday < 10 ? '  ' : ' ') : '') + appendInt(yday, 0);
        break;
      }
      case stdZeroYearDay:
        out += appendInt(d.yday + 1, 3);
        break;
      case stdHour:
        out += appendInt(c.hour, 2);
        break;
      case stdHour12:
      case stdZeroHour12: {
        const hr = c.hour % 12 === 0 ? 12 : c.hour % 12;
        out += appendInt(hr, (std & MASK) === stdZeroHour12 ? 2 : 0);
        break;
      }
      case stdMinute:
        out += appendInt(c.min, 0);
        break;
      case stdZeroMinute:
        out += appendInt(c.min, 2);
        break;
      case stdSecond:
        out += appendInt(c.sec, 0);
        break;
      case stdZeroSecond:
        out += appendInt(c.sec, 2);
        break;
      case stdPM:
        out += c.hour >= 12 ? 'PM' : 'AM';
        break;
      case stdpm:
        out += c.hour >= 12 ? 'pm' : 'am';
        break;
      case stdISO8601TZ:
      case stdISO8601ColonTZ:
      case stdISO8601SecondsTZ:
      case stdISO8601ShortTZ:
      case stdISO8601ColonSecondsTZ:
      case stdNumTZ:
      case stdNumColonTZ:
      case stdNumSecondsTz:
      case stdNumShortTZ:
      case stdNumColonSecondsTZ: {
        const iso =
          std === stdISO8601TZ ||
          std === stdISO8601ColonTZ ||
          std === stdISO8601SecondsTZ ||
          std === stdISO8601ShortTZ ||
          std === stdISO8601ColonSecondsTZ;
        if (offset === 0 && iso) {
          out += 'Z';
          break;
        }
        let zone = Math.trunc(offset / 60);
        let absoffset = offset;
        if (zone < 0) {
          out += '-';
          zone = -zone;
          absoffset = -absoffset;
        } else out += '+';
        out += appendInt(Math.trunc(zone / 60), 2);
        if (
          std === stdISO8601ColonTZ ||
          std === stdNumColonTZ ||
          std === stdISO8601ColonSecondsTZ ||
          std === stdNumColonSecondsTZ
        )
          out += ':';
        if (std !== stdNumShortTZ && std !== stdISO8601ShortTZ) out += appendInt(zone % 60, 2);
        if (
          std === stdISO8601SecondsTZ ||
          std === stdNumSecondsTz ||
          std === stdNumColonSecondsTZ ||
          std === stdISO8601ColonSecondsTZ
        ) {
          if (std === stdNumColonSecondsTZ || std === stdISO8601ColonSecondsTZ) out += ':';
          out += appendInt(absoffset % 60, 2);
        }
        break;
      }
      case stdTZ: {
        if (name !== '') {
          out += name;
          break;
        }
        let zone = Math.trunc(offset / 60);
        if (zone < 0) {
          out += '-';
          zone = -zone;
        } else out += '+';
        out += appendInt(Math.trunc(zone / 60), 2) + appendInt(zone % 60, 2);
        break;
      }
      case stdFracSecond0:
      case stdFracSecond9:
        out += formatNano(t.nsec, std);
        break;
    }
  }
  return out;
}

/** time.Time.String() without a monotonic reading. */
export function timeString(t: GoTime): string {
  return formatTime(t, '2006-01-02 15:04:05.999999999 -0700 MST');
}

// ------------------------------------------------------------------ parsing

class Bad extends Error {}
const BAD = new Bad();

function lookupName(tab: readonly string[], val: string): [number, string] {
  for (let i = 0; i < tab.length; i++) {
    const v = tab[i] as string;
    if (val.length >= v.length && matchFold(val.slice(0, v.length), v)) return [i, val.slice(v.length)];
  }
  throw BAD;
}

function matchFold(s1: string, s2: string): boolean {
  for (let i = 0; i < s1.length; i++) {
    let c1 = s1.charCodeAt(i);
    let c2 = s2.charCodeAt(i);
    if (c1 !== c2) {
      c1 |= 0x20;
      c2 |= 0x20;
      if (c1 !== c2 || c1 < 97 || c1 > 122) return false;
    }
  }
  return true;
}

function getnum(s: string, fixed: boolean): [number, string] {
  if (!isDigitAt(s, 0)) throw BAD;
  if (!isDigitAt(s, 1)) {
    if (fixed) throw BAD;
    return [s.charCodeAt(0) - 48, s.slice(1)];
  }
  return [(s.charCodeAt(0) - 48) * 10 + (s.charCodeAt(1) - 48), s.slice(2)];
}

function getnum3(s: string, fixed: boolean): [number, string] {
  let n = 0;
  let i = 0;
  for (; i < 3 && isDigitAt(s, i); i++) n = n * 10 + (s.charCodeAt(i) - 48);
  if (i === 0 || (fixed && i !== 3)) throw BAD;
  return [n, s.slice(i)];
}

function cutspace(s: string): string {
  let i = 0;
  while (i < s.length && s[i] === ' ') i++;
  return s.slice(i);
}

function skip(value0: string, prefix0: string): string {
  let value = value0;
  let prefix = prefix0;
  while (prefix.length > 0) {
    if (prefix[0] === ' ') {
      if (value.length > 0 && value[0] !== ' ') throw BAD;
      prefix = cutspace(prefix);
      value = cutspace(value);
      continue;
    }
    if (value.length === 0 || value[0] !== prefix[0]) throw BAD;
    prefix = prefix.slice(1);
    value = value.slice(1);
  }
  return value;
}

/** Go's leadingInt: [0-9]* as uint64, undefined on overflow. */
function leadingInt(s: string): [bigint, string] | undefined {
  let i = 0;
  let x = 0n;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) break;
    if (x > (1n << 63n) / 10n) return undefined;
    x = x * 10n + BigInt(c - 48);
    if (x > 1n << 63n) return undefined;
  }
  return [x, s.slice(i)];
}

/** Go's time.atoi. */
function atoi(input: string): number {
  let s = input;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  const r = leadingInt(s);
  if (r?.[1] !== '') throw BAD;
  const x = Number(BigInt.asIntN(64, r[0]));
  return neg ? -x : x;
}

function parseNanoseconds(value: string, nbytes0: number): [number, string] {
  let nbytes = nbytes0;
  if (value[0] !== '.' && value[0] !== ',') throw BAD;
  let v = value;
  if (nbytes > 10) {
    v = v.slice(0, 10);
    nbytes = 10;
  }
  let ns = atoi(v.slice(1, nbytes));
  if (ns < 0) return [0, 'fractional second'];
  for (let i = 0; i < 10 - nbytes; i++) ns *= 10;
  return [ns, ''];
}

function parseSignedOffset(value: string): number {
  if (value[0] !== '-' && value[0] !== '+') return 0;
  const r = leadingInt(value.slice(1));
  if (!r || r[1] === value.slice(1)) return 0;
  if (r[0] > 23n) return 0;
  return value.length - r[1].length;
}

function parseTimeZone(value: string): number {
  if (value.length < 3) return 0;
  if (value.startsWith('ChST') || value.startsWith('MeST')) return 4;
  if (value.startsWith('GMT')) {
    if (value.length === 3) return 3;
    return 3 + parseSignedOffset(value.slice(3));
  }
  if (value[0] === '+' || value[0] === '-') return parseSignedOffset(value);
  let nUpper = 0;
  for (; nUpper < 6; nUpper++) {
    if (nUpper >= value.length) break;
    const c = value.charCodeAt(nUpper);
    if (c < 65 || c > 90) break;
  }
  switch (nUpper) {
    case 5:
      return value[4] === 'T' ? 5 : 0;
    case 4:
      return value[3] === 'T' || value.startsWith('WITA') ? 4 : 0;
    case 3:
      return 3;
    default:
      return 0;
  }
}

const DAYS_BEFORE = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];

function daysIn(month: number, year: number): number {
  if (month === 2 && isLeap(year)) return 29;
  return (DAYS_BEFORE[month] as number) - (DAYS_BEFORE[month - 1] as number);
}

const SHORT_MONTHS = MONTH_NAMES.map((m) => m.slice(0, 3));
const SHORT_DAYS = DAY_NAMES.map((d) => d.slice(0, 3));

/**
 * time.ParseInLocation(layout, value, loc): undefined where Go returns an error (the caller's
 * message never repeats the value).
 */
export function parseTime(layout0: string, value0: string, loc: Location): GoTime | undefined {
  try {
    return parse(layout0, value0, loc);
  } catch (e) {
    if (e instanceof Bad) return undefined;
    throw e;
  }
}

function parse(layout0: string, value0: string, local: Location): GoTime | undefined {
  let layout = layout0;
  let value = value0;
  let amSet = false;
  let pmSet = false;
  let year = 0;
  let month = -1;
  let day = -1;
  let yday = -1;
  let hour = 0;
  let min = 0;
  let sec = 0;
  let nsec = 0;
  let z: Location | undefined;
  let zoneOffset = -1;
  let zoneName = '';
  for (;;) {
    const { prefix, std, suffix } = nextStdChunk(layout);
    value = skip(value, prefix);
    if (std === 0) {
      if (value.length !== 0) throw BAD;
      break;
    }
    layout = suffix;
    let range = '';
    switch (std & MASK) {
      case stdYear: {
        if (value.length < 2) throw BAD;
        const p = value.slice(0, 2);
        value = value.slice(2);
        year = atoi(p);
        year += year >= 69 ? 1900 : 2000;
        break;
      }
      case stdLongYear:
        if (value.length < 4 || !isDigitAt(value, 0)) throw BAD;
        year = atoi(value.slice(0, 4));
        value = value.slice(4);
        break;
      case stdMonth:
        [month, value] = lookupName(SHORT_MONTHS, value);
        month++;
        break;
      case stdLongMonth:
        [month, value] = lookupName(MONTH_NAMES, value);
        month++;
        break;
      case stdNumMonth:
      case stdZeroMonth:
        [month, value] = getnum(value, std === stdZeroMonth);
        if (month <= 0 || month > 12) range = 'month';
        break;
      case stdWeekDay:
        [, value] = lookupName(SHORT_DAYS, value);
        break;
      case stdLongWeekDay:
        [, value] = lookupName(DAY_NAMES, value);
        break;
      case stdDay:
      case stdUnderDay:
      case stdZeroDay:
        if (std === stdUnderDay && value[0] === ' ') value = value.slice(1);
        [day, value] = getnum(value, std === stdZeroDay);
        break;
      case stdUnderYearDay:
      case stdZeroYearDay:
        for (let i = 0; i < 2; i++) if (std === stdUnderYearDay && value[0] === ' ') value = value.slice(1);
        [yday, value] = getnum3(value, std === stdZeroYearDay);
        break;
      case stdHour:
        [hour, value] = getnum(value, false);
        if (hour < 0 || hour >= 24) range = 'hour';
        break;
      case stdHour12:
      case stdZeroHour12:
        [hour, value] = getnum(value, std === stdZeroHour12);
        if (hour < 0 || hour > 12) range = 'hour';
        break;
      case stdMinute:
      case stdZeroMinute:
        [min, value] = getnum(value, std === stdZeroMinute);
        if (min < 0 || min >= 60) range = 'minute';
        break;
      case stdSecond:
      case stdZeroSecond: {
        [sec, value] = getnum(value, std === stdZeroSecond);
        if (sec < 0 || sec >= 60) {
          range = 'second';
          break;
        }
        if (value.length >= 2 && (value[0] === '.' || value[0] === ',') && isDigitAt(value, 1)) {
          const next = nextStdChunk(layout).std & MASK;
          if (next === stdFracSecond0 || next === stdFracSecond9) break;
          let n = 2;
          while (n < value.length && isDigitAt(value, n)) n++;
          [nsec, range] = parseNanoseconds(value, n);
          value = value.slice(n);
        }
        break;
      }
      case stdPM:
      case stdpm: {
        if (value.length < 2) throw BAD;
        const p = value.slice(0, 2);
        value = value.slice(2);
        const [pm, am] = std === stdPM ? ['PM', 'AM'] : ['pm', 'am'];
        if (p === pm) pmSet = true;
        else if (p === am) amSet = true;
        else throw BAD;
        break;
      }
      case stdISO8601TZ:
      case stdISO8601ColonTZ:
      case stdISO8601SecondsTZ:
      case stdISO8601ShortTZ:
      case stdISO8601ColonSecondsTZ:
      case stdNumTZ:
      case stdNumShortTZ:
      case stdNumColonTZ:
      case stdNumSecondsTz:
      case stdNumColonSecondsTZ: {
        if (
          (std === stdISO8601TZ || std === stdISO8601ShortTZ || std === stdISO8601ColonTZ) &&
          value[0] === 'Z'
        ) {
          value = value.slice(1);
          z = UTC;
          break;
        }
        let sign: string;
        let hh: string;
        let mm: string;
        let ss: string;
        if (std === stdISO8601ColonTZ || std === stdNumColonTZ) {
          if (value.length < 6 || value[3] !== ':') throw BAD;
          [sign, hh, mm, ss, value] = [
            value.slice(0, 1),
            value.slice(1, 3),
            value.slice(4, 6),
            '00',
            value.slice(6),
          ];
        } else if (std === stdNumShortTZ || std === stdISO8601ShortTZ) {
          if (value.length < 3) throw BAD;
          [sign, hh, mm, ss, value] = [value.slice(0, 1), value.slice(1, 3), '00', '00', value.slice(3)];
        } else if (std === stdISO8601ColonSecondsTZ || std === stdNumColonSecondsTZ) {
          if (value.length < 9 || value[3] !== ':' || value[6] !== ':') throw BAD;
          [sign, hh, mm, ss, value] = [
            value.slice(0, 1),
            value.slice(1, 3),
            value.slice(4, 6),
            value.slice(7, 9),
            value.slice(9),
          ];
        } else if (std === stdISO8601SecondsTZ || std === stdNumSecondsTz) {
          if (value.length < 7) throw BAD;
          [sign, hh, mm, ss, value] = [
            value.slice(0, 1),
            value.slice(1, 3),
            value.slice(3, 5),
            value.slice(5, 7),
            value.slice(7),
          ];
        } else {
          if (value.length < 5) throw BAD;
          [sign, hh, mm, ss, value] = [
            value.slice(0, 1),
            value.slice(1, 3),
            value.slice(3, 5),
            '00',
            value.slice(5),
          ];
        }
        zoneOffset = (atoi(hh) * 60 + atoi(mm)) * 60 + atoi(ss);
        if (sign === '-') zoneOffset = -zoneOffset;
        else if (sign !== '+') throw BAD;
        break;
      }
      case stdTZ: {
        if (value.startsWith('UTC')) {
          z = UTC;
          value = value.slice(3);
          break;
        }
        const n = parseTimeZone(value);
        if (n === 0) throw BAD;
        zoneName = value.slice(0, n);
        value = value.slice(n);
        break;
      }
      case stdFracSecond0: {
        const ndigit = 1 + ((std >> ARG_SHIFT) & 0xfff);
        if (value.length < ndigit) throw BAD;
        [nsec, range] = parseNanoseconds(value, ndigit);
        value = value.slice(ndigit);
        break;
      }
      case stdFracSecond9: {
        if (value.length < 2 || (value[0] !== '.' && value[0] !== ',') || !isDigitAt(value, 1)) break;
        let i = 0;
        while (i < 9 && i + 1 < value.length && isDigitAt(value, i + 1)) i++;
        [nsec, range] = parseNanoseconds(value, 1 + i);
        value = value.slice(1 + i);
        break;
      }
    }
    if (range !== '') throw BAD;
  }
  if (pmSet && hour < 12) hour += 12;
  else if (amSet && hour === 12) hour = 0;

  if (yday >= 0) {
    let d = 0;
    let m = 0;
    if (isLeap(year)) {
      if (yday === 31 + 29) {
        m = 2;
        d = 29;
      } else if (yday > 31 + 29) yday--;
    }
    if (yday < 1 || yday > 365) throw BAD;
    if (m === 0) {
      m = Math.trunc((yday - 1) / 31) + 1;
      if ((DAYS_BEFORE[m] as number) < yday) m++;
      d = yday - (DAYS_BEFORE[m - 1] as number);
    }
    if (month >= 0 && month !== m) throw BAD;
    month = m;
    if (day >= 0 && day !== d) throw BAD;
    day = d;
  } else {
    if (month < 0) month = 1;
    if (day < 0) day = 1;
  }
  if (day < 1 || day > daysIn(month, year)) throw BAD;

  const at = (l: Location) =>
    goDate(BigInt(year), BigInt(month), BigInt(day), BigInt(hour), BigInt(min), BigInt(sec), BigInt(nsec), l);
  if (z !== undefined) return at(z);
  if (zoneOffset !== -1) {
    const t = at(UTC).add(BigInt(-zoneOffset) * 1_000_000_000n);
    const found = local.lookup(t.unixSec());
    if (found.offset === zoneOffset && (zoneName === '' || found.name === zoneName)) return t.in(local);
    return t.in(fixedZone(zoneName, zoneOffset));
  }
  if (zoneName !== '') {
    const t = at(UTC);
    const offset = local.lookupName(zoneName, t.unixSec());
    if (offset !== undefined) return t.add(BigInt(-offset) * 1_000_000_000n).in(local);
    let off = 0;
    if (zoneName.length > 3 && zoneName.startsWith('GMT')) off = atoi(zoneName.slice(3)) * 3600;
    return t.in(fixedZone(zoneName, off));
  }
  return at(local);
}
