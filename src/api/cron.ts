/**
 * Cron schedules as the External Secrets Operator reads `spec.syncWindows.windows[].schedule`:
 * robfig/cron v3's standard parser (five fields — minute, hour, day of month, month, day of
 * week — or a descriptor: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly,
 * @every <Go duration>), evaluated in UTC.
 *
 * Written here rather than taken from a JavaScript cron library because none reads robfig's
 * grammar: they accept 7 for Sunday, `L`, `W`, `#`, a seconds field or `H`, which robfig refuses,
 * and differ on its corner cases (`*-5` is `*`, `,` is an empty field, a step drops the `*` rule
 * for days). What ESO accepts and when it fires is what users wrote their windows against, so
 * test/api/cron-differential.test.ts checks this module against robfig/cron itself (Go oracle).
 *
 * Everything is bounded: a schedule is at most a few hundred characters (the object bounds), a
 * field has at most 60 values, and `next` searches at most five years, as robfig does.
 */

import { parseDuration } from './duration.ts';

export interface Schedule {
  /** The first firing strictly after `ms` (whole seconds, UTC); undefined when none in 5 years. */
  next(ms: number): number | undefined;
}

export class CronError extends Error {}

interface Bounds {
  min: number;
  max: number;
  names?: Record<string, number>;
}

const MINUTES: Bounds = { min: 0, max: 59 };
const HOURS: Bounds = { min: 0, max: 23 };
const DOM: Bounds = { min: 1, max: 31 };
const MONTHS: Bounds = {
  min: 1,
  max: 12,
  names: {
    jan: 1,
    feb: 2,
    mar: 3,
    apr: 4,
    may: 5,
    jun: 6,
    jul: 7,
    aug: 8,
    sep: 9,
    oct: 10,
    nov: 11,
    dec: 12,
  },
};
const DOW: Bounds = { min: 0, max: 6, names: { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 } };

/** A field's values, and robfig's "star bit": the field was `*` or `?` without a step above 1. */
interface Field {
  bits: boolean[];
  star: boolean;
}

const INT64_MAX = 9223372036854775807n;

/** Go's strconv.Atoi, then robfig's "negative number not allowed". */
function parseInt64(expr: string): number {
  // Go's error text: strconv.Atoi quotes its input (JSON's quoting agrees for printable text).
  const atoi = (why: string) =>
    new CronError(`failed to parse int from ${expr}: strconv.Atoi: parsing ${JSON.stringify(expr)}: ${why}`);
  if (!/^[+-]?[0-9]+$/.test(expr)) throw atoi('invalid syntax');
  const n = BigInt(expr);
  if (n > INT64_MAX || n < -INT64_MAX - 1n) throw atoi('value out of range');
  if (n < 0n) throw new CronError(`negative number (${n}) not allowed: ${expr}`);
  // Beyond every bound of a cron field: keeps the arithmetic exact without carrying BigInts.
  return n > 1_000_000n ? 1_000_000 : Number(n);
}

function parseIntOrName(expr: string, b: Bounds): number {
  const named = b.names?.[expr.toLowerCase()];
  return named ?? parseInt64(expr);
}

function parseRange(expr: string, b: Bounds, field: Field): void {
  const rangeAndStep = expr.split('/');
  const lowAndHigh = (rangeAndStep[0] as string).split('-');
  const single = lowAndHigh.length === 1;
  let start: number;
  let end: number;
  let star = false;
  const low = lowAndHigh[0] as string;
  if (low === '*' || low === '?') {
    // robfig ignores anything after `*-`: `*-5` is `*`.
    start = b.min;
    end = b.max;
    star = true;
  } else {
    start = parseIntOrName(low, b);
    if (lowAndHigh.length === 1) end = start;
    else if (lowAndHigh.length === 2) end = parseIntOrName(lowAndHigh[1] as string, b);
    else throw new CronError(`too many hyphens: ${expr}`);
  }
  let step = 1;
  if (rangeAndStep.length === 2) {
    step = parseInt64(rangeAndStep[1] as string);
    // `N/step` is `N-max/step`.
    if (single) end = b.max;
    if (step > 1) star = false;
  } else if (rangeAndStep.length > 2) {
    throw new CronError(`too many slashes: ${expr}`);
  }
  if (start < b.min) throw new CronError(`beginning of range (${start}) below minimum (${b.min}): ${expr}`);
  if (end > b.max) throw new CronError(`end of range (${end}) above maximum (${b.max}): ${expr}`);
  if (start > end) throw new CronError(`beginning of range (${start}) beyond end of range (${end}): ${expr}`);
  if (step === 0) throw new CronError(`step of range should be a positive number: ${expr}`);
  for (let i = start; i <= end; i += step) field.bits[i] = true;
  if (star) field.star = true;
}

function parseField(text: string, b: Bounds): Field {
  const field: Field = { bits: [], star: false };
  // strings.FieldsFunc: empty items between commas are dropped (`,` is an empty field).
  for (const expr of text.split(',')) if (expr !== '') parseRange(expr, b, field);
  return field;
}

function all(b: Bounds): Field {
  const bits: boolean[] = [];
  for (let i = b.min; i <= b.max; i++) bits[i] = true;
  return { bits, star: true };
}

function only(value: number): Field {
  const bits: boolean[] = [];
  bits[value] = true;
  return { bits, star: false };
}

interface Spec {
  minute: Field;
  hour: Field;
  dom: Field;
  month: Field;
  dow: Field;
}

const DESCRIPTORS: Record<string, () => Spec> = {
  '@yearly': () => ({ minute: only(0), hour: only(0), dom: only(1), month: only(1), dow: all(DOW) }),
  '@monthly': () => ({ minute: only(0), hour: only(0), dom: only(1), month: all(MONTHS), dow: all(DOW) }),
  '@weekly': () => ({ minute: only(0), hour: only(0), dom: all(DOM), month: all(MONTHS), dow: only(0) }),
  '@daily': () => ({ minute: only(0), hour: only(0), dom: all(DOM), month: all(MONTHS), dow: all(DOW) }),
  '@hourly': () => ({ minute: only(0), hour: all(HOURS), dom: all(DOM), month: all(MONTHS), dow: all(DOW) }),
};
DESCRIPTORS['@annually'] = DESCRIPTORS['@yearly'] as () => Spec;
DESCRIPTORS['@midnight'] = DESCRIPTORS['@daily'] as () => Spec;

/** Parses a schedule as robfig/cron's ParseStandard; throws CronError with robfig's reason. */
export function parseSchedule(spec: string): Schedule {
  if (spec.length === 0) throw new CronError('empty spec string');
  if (spec.startsWith('TZ=') || spec.startsWith('CRON_TZ=')) {
    throw new CronError('a time zone prefix is not supported: sync windows are evaluated in UTC');
  }
  if (spec.startsWith('@')) {
    const descriptor = DESCRIPTORS[spec];
    if (descriptor) return new SpecSchedule(descriptor());
    const every = '@every ';
    if (spec.startsWith(every)) {
      const ms = parseDuration(spec.slice(every.length));
      if (ms === undefined) throw new CronError(`failed to parse duration ${spec}`);
      return new ConstantDelay(ms);
    }
    throw new CronError(`unrecognized descriptor: ${spec}`);
  }
  // strings.Fields: any run of white space separates fields.
  const fields = spec.split(/[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u);
  if (fields[0] === '') fields.shift();
  if (fields.at(-1) === '') fields.pop();
  if (fields.length !== 5) {
    throw new CronError(`expected exactly 5 fields, found ${fields.length}: [${fields.join(' ')}]`);
  }
  const [minute, hour, dom, month, dow] = fields as [string, string, string, string, string];
  return new SpecSchedule({
    minute: parseField(minute, MINUTES),
    hour: parseField(hour, HOURS),
    dom: parseField(dom, DOM),
    month: parseField(month, MONTHS),
    dow: parseField(dow, DOW),
  });
}

/** robfig's Every: at least a second, whole seconds; fires `delay` after the time asked about. */
class ConstantDelay implements Schedule {
  readonly #delay: number;
  constructor(ms: number) {
    const d = Math.max(ms, 1000);
    this.#delay = d - (d % 1000);
  }
  next(ms: number): number {
    return Math.floor(ms / 1000) * 1000 + this.#delay;
  }
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** robfig's SpecSchedule.Next, step for step, in UTC (no daylight-saving corrections needed). */
class SpecSchedule implements Schedule {
  readonly #s: Spec;
  constructor(spec: Spec) {
    this.#s = spec;
  }

  #dayMatches(d: Date): boolean {
    const s = this.#s;
    const domMatch = s.dom.bits[d.getUTCDate()] === true;
    const dowMatch = s.dow.bits[d.getUTCDay()] === true;
    return s.dom.star || s.dow.star ? domMatch && dowMatch : domMatch || dowMatch;
  }

  next(ms: number): number | undefined {
    const s = this.#s;
    // The next whole second after `ms`; the standard parser's seconds field is always 0.
    let t = Math.floor(ms / SECOND) * SECOND + SECOND;
    let added = false;
    const yearLimit = new Date(t).getUTCFullYear() + 5;
    wrap: for (;;) {
      let d = new Date(t);
      if (d.getUTCFullYear() > yearLimit) return undefined;
      while (s.month.bits[d.getUTCMonth() + 1] !== true) {
        if (!added) {
          added = true;
          t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
          d = new Date(t);
        }
        // Always the 1st at midnight here, so adding a month never overflows a day.
        t = Date.UTC(
          d.getUTCFullYear(),
          d.getUTCMonth() + 1,
          d.getUTCDate(),
          d.getUTCHours(),
          d.getUTCMinutes(),
        );
        d = new Date(t);
        if (d.getUTCMonth() === 0) continue wrap;
      }
      while (!this.#dayMatches(d)) {
        if (!added) {
          added = true;
          t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
        }
        t += DAY;
        d = new Date(t);
        if (d.getUTCDate() === 1) continue wrap;
      }
      while (s.hour.bits[d.getUTCHours()] !== true) {
        if (!added) {
          added = true;
          t -= t % HOUR;
        }
        t += HOUR;
        d = new Date(t);
        if (d.getUTCHours() === 0) continue wrap;
      }
      while (s.minute.bits[d.getUTCMinutes()] !== true) {
        if (!added) {
          added = true;
          t -= t % MINUTE;
        }
        t += MINUTE;
        d = new Date(t);
        if (d.getUTCMinutes() === 0) continue wrap;
      }
      while (d.getUTCSeconds() !== 0) {
        if (!added) {
          added = true;
          t -= t % SECOND;
        }
        t += SECOND;
        d = new Date(t);
        if (d.getUTCSeconds() === 0) continue wrap;
      }
      return t;
    }
  }
}
