/**
 * Time zones as Go's `time.LoadLocation` reads them, for sprig's `dateInZone`,
 * `htmlDateInZone` and the time values a template formats.
 *
 * Go reads the IANA database from the system's zoneinfo files (TZif) and so does this module:
 * the same files give the same offsets *and* the same abbreviations (`CET`, `+04`), which the
 * ICU data inside Node does not carry (ICU names Asia/Dubai "GST" and Europe/Berlin "GMT+1"
 * where tzdata says `+04` and `CET`). The webhook's image (distroless) ships
 * /usr/share/zoneinfo as ESO's does. Where a zone's file is missing, the zone comes from Node's
 * own IANA data (Intl): offsets stay exact, the abbreviation is ICU's short name when it is
 * letters, else the numeric form tzdata uses (`+0530`).
 *
 * A zone name is tenant input: Go's rules apply (no `..`, no leading `/` or `\`), files are
 * read only below the zoneinfo roots, at most 256 KiB, and parsed locations are cached (a
 * bounded cache, so a template cannot make the process read many files).
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { LRUCache } from 'lru-cache';

export const ALPHA = -(1n << 63n);
export const OMEGA = (1n << 63n) - 1n;

export interface Zone {
  name: string;
  offset: number;
  isDST: boolean;
}

export interface ZoneLookup {
  name: string;
  offset: number;
  start: bigint;
  end: bigint;
  isDST: boolean;
}

interface ZoneTrans {
  when: bigint;
  index: number;
}

/** A `*time.Location`: a name and the zone in effect at any instant. */
export class Location {
  readonly name: string;
  readonly zones: Zone[];
  readonly tx: ZoneTrans[];
  readonly extend: string;
  /** For zones from Intl (no TZif file): offset and abbreviation per instant. */
  readonly intl: ((sec: bigint) => Zone) | undefined;

  constructor(name: string, zones: Zone[], tx: ZoneTrans[], extend = '', intl?: (sec: bigint) => Zone) {
    this.name = name;
    this.zones = zones;
    this.tx = tx;
    this.extend = extend;
    this.intl = intl;
  }

  /** Go's Location.lookup: the zone in effect at `sec` (Unix seconds) and its bounds. */
  lookup(sec: bigint): ZoneLookup {
    if (this.intl) {
      const z = this.intl(sec);
      // Bounds unknown: a one-second window makes Date() look the offset up again.
      return { ...z, start: sec, end: sec + 1n };
    }
    if (this.zones.length === 0) return { name: 'UTC', offset: 0, start: ALPHA, end: OMEGA, isDST: false };
    const tx = this.tx;
    if (tx.length === 0 || sec < (tx[0] as ZoneTrans).when) {
      const z = this.zones[this.lookupFirstZone()] as Zone;
      return { ...z, start: ALPHA, end: tx.length > 0 ? (tx[0] as ZoneTrans).when : OMEGA };
    }
    let end = OMEGA;
    let lo = 0;
    let hi = tx.length;
    while (hi - lo > 1) {
      const m = lo + ((hi - lo) >> 1);
      const lim = (tx[m] as ZoneTrans).when;
      if (sec < lim) {
        end = lim;
        hi = m;
      } else lo = m;
    }
    const z = this.zones[(tx[lo] as ZoneTrans).index] as Zone;
    const start = (tx[lo] as ZoneTrans).when;
    if (lo === tx.length - 1 && this.extend !== '') {
      const e = tzset(this.extend, start, sec);
      if (e) return e;
    }
    return { name: z.name, offset: z.offset, start, end, isDST: z.isDST };
  }

  private lookupFirstZone(): number {
    if (!this.tx.some((t) => t.index === 0)) return 0;
    const first = this.tx[0];
    if (first && this.zones[first.index]?.isDST) {
      for (let zi = first.index - 1; zi >= 0; zi--) if (!this.zones[zi]?.isDST) return zi;
    }
    for (let zi = 0; zi < this.zones.length; zi++) if (!this.zones[zi]?.isDST) return zi;
    return 0;
  }

  /** Go's Location.lookupName: the offset of abbreviation `name` around `unix`. */
  lookupName(name: string, unix: bigint): number | undefined {
    if (this.intl) {
      const z = this.intl(unix);
      return z.name === name ? z.offset : undefined;
    }
    for (const z of this.zones) {
      if (z.name === name && this.lookup(unix - BigInt(z.offset)).name === z.name) {
        return this.lookup(unix - BigInt(z.offset)).offset;
      }
    }
    for (const z of this.zones) if (z.name === name) return z.offset;
    return undefined;
  }
}

/** time.UTC. Local is UTC too: ESO's image has neither TZ nor /etc/localtime. */
export const UTC = new Location('UTC', [], []);

export function fixedZone(name: string, offset: number): Location {
  return new Location(name, [{ name, offset, isDST: false }], [{ when: ALPHA, index: 0 }]);
}

// ------------------------------------------------------------------ POSIX TZ rules (tzset)

interface Rule {
  kind: 'julian' | 'doy' | 'mwd';
  day: number;
  week: number;
  mon: number;
  time: number;
}

const SECONDS_PER_DAY = 86400;
const DAYS_BEFORE = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];

export function isLeap(year: number | bigint): boolean {
  const y = BigInt(year);
  return y % 4n === 0n && (y % 100n !== 0n || y % 400n === 0n);
}

function daysIn(month: number, year: number | bigint): number {
  if (month === 2 && isLeap(year)) return 29;
  return (DAYS_BEFORE[month] as number) - (DAYS_BEFORE[month - 1] as number);
}

function tzsetName(s: string): [string, string] | undefined {
  if (s.length === 0) return undefined;
  if (s[0] !== '<') {
    for (let i = 0; i < s.length; i++) {
      if ('0123456789,-+'.includes(s[i] as string)) {
        if (i < 3) return undefined;
        return [s.slice(0, i), s.slice(i)];
      }
    }
    if (s.length < 3) return undefined;
    return [s, ''];
  }
  const end = s.indexOf('>');
  return end < 0 ? undefined : [s.slice(1, end), s.slice(end + 1)];
}

function tzsetNum(s: string, min: number, max: number): [number, string] | undefined {
  if (s.length === 0) return undefined;
  let num = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) {
      if (i === 0 || num < min) return undefined;
      return [num, s.slice(i)];
    }
    num = num * 10 + (c - 48);
    if (num > max) return undefined;
  }
  return num < min ? undefined : [num, ''];
}

function tzsetOffset(input: string): [number, string] | undefined {
  let s = input;
  if (s.length === 0) return undefined;
  let neg = false;
  if (s[0] === '+') s = s.slice(1);
  else if (s[0] === '-') {
    s = s.slice(1);
    neg = true;
  }
  const h = tzsetNum(s, 0, 24 * 7);
  if (!h) return undefined;
  let off = h[0] * 3600;
  s = h[1];
  if (s[0] === ':') {
    const m = tzsetNum(s.slice(1), 0, 59);
    if (!m) return undefined;
    off += m[0] * 60;
    s = m[1];
    if (s[0] === ':') {
      const sec = tzsetNum(s.slice(1), 0, 59);
      if (!sec) return undefined;
      off += sec[0];
      s = sec[1];
    }
  }
  return [neg ? -off : off, s];
}

function tzsetRule(input: string): [Rule, string] | undefined {
  let s = input;
  const r: Rule = { kind: 'doy', day: 0, week: 0, mon: 0, time: 2 * 3600 };
  if (s.length === 0) return undefined;
  if (s[0] === 'J') {
    const j = tzsetNum(s.slice(1), 1, 365);
    if (!j) return undefined;
    r.kind = 'julian';
    r.day = j[0];
    s = j[1];
  } else if (s[0] === 'M') {
    const mon = tzsetNum(s.slice(1), 1, 12);
    if (mon?.[1][0] !== '.') return undefined;
    const week = tzsetNum(mon[1].slice(1), 1, 5);
    if (week?.[1][0] !== '.') return undefined;
    const day = tzsetNum(week[1].slice(1), 0, 6);
    if (!day) return undefined;
    r.kind = 'mwd';
    r.mon = mon[0];
    r.week = week[0];
    r.day = day[0];
    s = day[1];
  } else {
    const d = tzsetNum(s, 0, 365);
    if (!d) return undefined;
    r.day = d[0];
    s = d[1];
  }
  if (s[0] !== '/') return [r, s];
  const off = tzsetOffset(s.slice(1));
  if (!off) return undefined;
  r.time = off[0];
  return [r, off[1]];
}

function tzruleTime(year: number, r: Rule, off: number): number {
  let s = 0;
  if (r.kind === 'julian') {
    s = (r.day - 1) * SECONDS_PER_DAY;
    if (isLeap(year) && r.day >= 60) s += SECONDS_PER_DAY;
  } else if (r.kind === 'doy') {
    s = r.day * SECONDS_PER_DAY;
  } else {
    const m1 = ((r.mon + 9) % 12) + 1;
    let yy0 = year;
    if (r.mon <= 2) yy0--;
    const yy1 = Math.trunc(yy0 / 100);
    const yy2 = yy0 % 100;
    let dow =
      (Math.trunc((26 * m1 - 2) / 10) + 1 + yy2 + Math.trunc(yy2 / 4) + Math.trunc(yy1 / 4) - 2 * yy1) % 7;
    if (dow < 0) dow += 7;
    let d = r.day - dow;
    if (d < 0) d += 7;
    for (let i = 1; i < r.week; i++) {
      if (d + 7 >= daysIn(r.mon, year)) break;
      d += 7;
    }
    d += DAYS_BEFORE[r.mon - 1] as number;
    if (isLeap(year) && r.mon > 2) d++;
    s = d * SECONDS_PER_DAY;
  }
  return s + r.time - off;
}

// Shared with time.ts (kept here to avoid an import cycle).
const UNIX_TO_INTERNAL = 62135596800n;
const INTERNAL_TO_ABSOLUTE = 9223371966579724800n;
const ABSOLUTE_ZERO_YEAR = -292277022399n;

/** Go's absDate without the month: the year and day of year of an absolute time. */
export function absYearDay(abs: bigint): { year: bigint; yday: number } {
  let d = abs / 86400n;
  let n = d / 146097n;
  let y = 400n * n;
  d -= 146097n * n;
  n = d / 36524n;
  n -= n >> 2n;
  y += 100n * n;
  d -= 36524n * n;
  n = d / 1461n;
  y += 4n * n;
  d -= 1461n * n;
  n = d / 365n;
  n -= n >> 2n;
  y += n;
  d -= 365n * n;
  return { year: BigInt.asIntN(64, y + ABSOLUTE_ZERO_YEAR), yday: Number(d) };
}

export function daysSinceEpoch(year: bigint): bigint {
  let y = BigInt.asUintN(64, year - ABSOLUTE_ZERO_YEAR);
  let n = y / 400n;
  y -= 400n * n;
  let d = 146097n * n;
  n = y / 100n;
  y -= 100n * n;
  d += 36524n * n;
  n = y / 4n;
  y -= 4n * n;
  d += 1461n * n;
  d += 365n * y;
  return BigInt.asUintN(64, d);
}

/** Go's tzset: the zone at `sec` from a POSIX TZ string (the TZif footer). */
function tzset(input: string, lastTxSec: bigint, sec: bigint): ZoneLookup | undefined {
  const std = tzsetName(input);
  if (!std) return undefined;
  let stdName = std[0];
  const so = tzsetOffset(std[1]);
  if (!so) return undefined;
  let stdOffset = -so[0];
  let s = so[1];
  if (s.length === 0 || s[0] === ',') {
    return { name: stdName, offset: stdOffset, start: lastTxSec, end: OMEGA, isDST: false };
  }
  const dst = tzsetName(s);
  if (!dst) return undefined;
  let dstName = dst[0];
  s = dst[1];
  let dstOffset: number;
  if (s.length === 0 || s[0] === ',') dstOffset = stdOffset + 3600;
  else {
    const d = tzsetOffset(s);
    if (!d) return undefined;
    dstOffset = -d[0];
    s = d[1];
  }
  if (s.length === 0) s = ',M3.2.0,M11.1.0';
  if (s[0] !== ',' && s[0] !== ';') return undefined;
  const r1 = tzsetRule(s.slice(1));
  if (r1?.[1][0] !== ',') return undefined;
  const r2 = tzsetRule(r1[1].slice(1));
  if (!r2 || r2[1].length > 0) return undefined;
  const { year, yday } = absYearDay(BigInt.asUintN(64, sec + UNIX_TO_INTERNAL + INTERNAL_TO_ABSOLUTE));
  const ysec = BigInt(yday * SECONDS_PER_DAY) + (sec % 86400n);
  const abs = BigInt.asIntN(64, daysSinceEpoch(year) * 86400n) - INTERNAL_TO_ABSOLUTE - UNIX_TO_INTERNAL;
  const y = Number(year);
  let startSec = BigInt(tzruleTime(y, r1[0], stdOffset));
  let endSec = BigInt(tzruleTime(y, r2[0], dstOffset));
  let dstIsDST = true;
  let stdIsDST = false;
  if (endSec < startSec) {
    [startSec, endSec] = [endSec, startSec];
    [stdName, dstName] = [dstName, stdName];
    [stdOffset, dstOffset] = [dstOffset, stdOffset];
    [stdIsDST, dstIsDST] = [dstIsDST, stdIsDST];
  }
  if (ysec < startSec)
    return { name: stdName, offset: stdOffset, start: abs, end: startSec + abs, isDST: stdIsDST };
  if (ysec >= endSec)
    return {
      name: stdName,
      offset: stdOffset,
      start: endSec + abs,
      end: abs + 365n * 86400n,
      isDST: stdIsDST,
    };
  return { name: dstName, offset: dstOffset, start: startSec + abs, end: endSec + abs, isDST: dstIsDST };
}

// ------------------------------------------------------------------ TZif

class TzifError extends Error {}

/** Go's LoadLocationFromTZData. */
export function locationFromTzif(name: string, data: Buffer): Location {
  let p = 0;
  const read = (n: number): Buffer => {
    if (data.length - p < n) throw new TzifError('malformed time zone information');
    const b = data.subarray(p, p + n);
    p += n;
    return b;
  };
  const big4 = () => read(4).readUInt32BE(0);
  if (read(4).toString('latin1') !== 'TZif') throw new TzifError('malformed time zone information');
  const v = read(16)[0];
  const version = v === 0 ? 1 : v === 0x32 ? 2 : v === 0x33 ? 3 : 0;
  if (version === 0) throw new TzifError('malformed time zone information');
  // counts: UTCLocal, StdWall, Leap, Time, Zone, Char
  let n = Array.from({ length: 6 }, big4);
  let is64 = false;
  if (version > 1) {
    const [utcl, stdw, leap, time, zone, char] = n as [number, number, number, number, number, number];
    read(time * 4 + time + zone * 6 + char + leap * 8 + stdw + utcl + 4 + 16);
    is64 = true;
    n = Array.from({ length: 6 }, big4);
  }
  const [nUtcLocal, nStdWall, nLeap, nTime, nZone, nChar] = n as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const size = is64 ? 8 : 4;
  const txtimes = read(nTime * size);
  const txzones = read(nTime);
  const zonedata = read(nZone * 6);
  const abbrev = read(nChar);
  read(nLeap * (size + 4));
  read(nStdWall);
  read(nUtcLocal);
  const rest = data.subarray(p);
  let extend = '';
  if (rest.length > 2 && rest[0] === 0x0a && rest[rest.length - 1] === 0x0a) {
    extend = rest.subarray(1, rest.length - 1).toString('latin1');
  }
  if (nZone === 0) throw new TzifError('malformed time zone information');
  const zones: Zone[] = [];
  for (let i = 0; i < nZone; i++) {
    const offset = zonedata.readInt32BE(i * 6);
    const isDST = zonedata[i * 6 + 4] !== 0;
    const ai = zonedata[i * 6 + 5] as number;
    if (ai >= abbrev.length) throw new TzifError('malformed time zone information');
    const endAt = abbrev.indexOf(0, ai);
    zones.push({
      offset,
      isDST,
      name: abbrev.subarray(ai, endAt < 0 ? abbrev.length : endAt).toString('latin1'),
    });
  }
  const tx: ZoneTrans[] = [];
  for (let i = 0; i < nTime; i++) {
    const when = is64 ? txtimes.readBigInt64BE(i * 8) : BigInt(txtimes.readInt32BE(i * 4));
    const index = txzones[i] as number;
    if (index >= zones.length) throw new TzifError('malformed time zone information');
    tx.push({ when, index });
  }
  if (tx.length === 0) tx.push({ when: ALPHA, index: 0 });
  return new Location(name, zones, tx, extend);
}

// ------------------------------------------------------------------ loading

/** Go's platformZoneSources on Linux. */
const ZONE_SOURCES = ['/usr/share/zoneinfo/', '/usr/share/lib/zoneinfo/', '/usr/lib/locale/TZ/'];
const MAX_TZIF_BYTES = 256 * 1024;
const MAX_NAME_BYTES = 255;

const cache = new LRUCache<string, Location | 'none'>({ max: 128 });

export interface ZoneSources {
  /** Directories holding TZif files, in the order Go searches them. */
  dirs: readonly string[];
  /** Use Node's IANA data (Intl) for zones without a file. */
  intl: boolean;
}

let sources: ZoneSources = { dirs: ZONE_SOURCES, intl: true };

/** For tests: where zone files are read from (and whether Intl fills the gaps). */
export function setZoneSources(s: ZoneSources | undefined): void {
  sources = s ?? { dirs: ZONE_SOURCES, intl: true };
  cache.clear();
}

function readZoneFile(dir: string, name: string): Buffer | undefined {
  const file = path.join(dir, name);
  // path.join normalises; Go's name rules already exclude "..", so this stays below dir.
  if (!file.startsWith(path.resolve(dir))) return undefined;
  try {
    const st = statSync(file);
    if (!st.isFile() || st.size > MAX_TZIF_BYTES) return undefined;
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

function intlZone(name: string): Location | undefined {
  let dtf: Intl.DateTimeFormat;
  try {
    dtf = new Intl.DateTimeFormat('en-US', { timeZone: name, timeZoneName: 'longOffset' });
  } catch {
    return undefined;
  }
  // (Intl also accepts names in another case, which zone files would not: a difference only
  // where no zone files exist, and there Go knows no zone at all.)
  if (dtf.resolvedOptions().timeZone === undefined) return undefined;
  const short = new Intl.DateTimeFormat('en-US', { timeZone: name, timeZoneName: 'short' });
  const at = (sec: bigint): Zone => {
    const ms = Number(sec) * 1000;
    const d = new Date(Math.max(-8.64e15, Math.min(8.64e15, ms)));
    const off = dtf.formatToParts(d).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
    const m = /^GMT([+-])(\d\d):(\d\d)(?::(\d\d))?$/.exec(off);
    const offset = m
      ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4] ?? 0))
      : 0;
    const abbr = short.formatToParts(d).find((p) => p.type === 'timeZoneName')?.value ?? '';
    let zname = abbr;
    if (!/^[A-Z]{3,5}$/.test(abbr)) {
      const a = Math.abs(offset);
      const hh = String(Math.trunc(a / 3600)).padStart(2, '0');
      const mm = Math.trunc((a % 3600) / 60);
      zname = `${offset < 0 ? '-' : '+'}${hh}${mm ? String(mm).padStart(2, '0') : ''}`;
    }
    return { name: zname, offset, isDST: false };
  };
  return new Location(name, [], [], '', at);
}

/**
 * Go's time.LoadLocation: "" and "UTC" are UTC, "Local" is the local zone (UTC here, as in
 * ESO's container), anything else a zoneinfo file. Returns undefined where Go returns an error.
 */
export function loadLocation(name: string): Location | undefined {
  if (name === '' || name === 'UTC' || name === 'Local') return UTC;
  if (name.includes('..') || name[0] === '/' || name[0] === '\\') return undefined;
  if (Buffer.byteLength(name) > MAX_NAME_BYTES || name.includes('\0')) return undefined;
  const hit = cache.get(name);
  if (hit !== undefined) return hit === 'none' ? undefined : hit;
  let loc: Location | undefined;
  for (const dir of sources.dirs) {
    const data = readZoneFile(dir, name);
    if (data === undefined) continue;
    try {
      loc = locationFromTzif(name, data);
    } catch {
      // Go stops at the first file it finds: a malformed one is an error, not a fallback.
      loc = undefined;
    }
    cache.set(name, loc ?? 'none');
    return loc;
  }
  if (sources.intl) loc = intlZone(name);
  cache.set(name, loc ?? 'none');
  return loc;
}
