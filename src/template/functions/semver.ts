/**
 * Sprig's `semver` and `semverCompare` on Masterminds/semver v3 (version.go, constraints.go),
 * rewritten here: NewVersion's coercion (`v1`, `1.2` are versions), prerelease and metadata
 * rules and precedence, and constraints — `||` of comma- or space-separated comparisons, `=`,
 * `!=`, `>`, `<`, `>=`, `<=`, `~`/`~>`, `^`, wildcards (`1.2.x`, `*`), hyphen ranges
 * (`1 - 2`), prereleases matched only by constraints that name one. Masterminds parses with
 * regular expressions; the same expressions run here on the project's pattern engine (Go RE2,
 * linear), so their quirks are Go's.
 *
 * `semver` returns a `*semver.Version` with Go's methods (`.Major`, `.Minor`, `.Patch`,
 * `.Prerelease`, `.Metadata`, `.Original`, `.String`, `.IncMajor`…, `.LessThan`, `.Compare`…).
 * Errors say "invalid version" / "invalid version constraint", as ESO's sprig does, without the
 * input.
 */
import { compileGoRegexp, type GoRegexp } from '../../patterns/re2.ts';
import { goParseUint } from '../strconv.ts';
import { GoInt, type GoMethod, GoStruct, type ParamType, type Value } from '../values.ts';
import { type CallContext, FuncError, type FuncMap, fn } from './types.ts';

const CV = String.raw`v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?`;
const SEMVER = String.raw`v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?`;
const OPS = String.raw`=||!=|>|<|>=|=>|<=|=<|~|~>|\^`;

let compiled: Record<'version' | 'constraint' | 'range' | 'find' | 'valid', GoRegexp> | undefined;
function regexps() {
  compiled ??= {
    version: compileGoRegexp(`^${SEMVER}$`),
    constraint: compileGoRegexp(String.raw`^\s*(${OPS})\s*(${CV})\s*$`),
    range: compileGoRegexp(String.raw`\s*(${CV})\s+-\s+(${CV})\s*`),
    find: compileGoRegexp(String.raw`(${OPS})\s*(${CV})`),
    valid: compileGoRegexp(String.raw`^(\s*(${OPS})\s*(${CV})\s*)((?:\s+|,\s*)(${OPS})\s*(${CV})\s*)*$`),
  };
  return compiled;
}

class Invalid extends Error {}

export interface Version {
  major: bigint;
  minor: bigint;
  patch: bigint;
  pre: string;
  metadata: string;
  original: string;
}

const NUM = /^[0-9]*$/;
const ALLOWED = /^[0-9A-Za-z-]*$/;

function validatePrerelease(p: string): void {
  for (const part of p.split('.')) {
    if (NUM.test(part)) {
      if (part.length > 1 && part[0] === '0') throw new Invalid();
    } else if (!ALLOWED.test(part)) throw new Invalid();
  }
}

function validateMetadata(m: string): void {
  for (const part of m.split('.')) if (!ALLOWED.test(part)) throw new Invalid();
}

function segment(s: string): bigint {
  const v = goParseUint(s, 10);
  if (typeof v !== 'bigint') throw new Invalid();
  return v;
}

/** semver.NewVersion. */
export function newVersion(v: string): Version {
  const m = regexps().version.submatch(v);
  if (!m) throw new Invalid();
  const g = (i: number) => m[i] ?? '';
  const sv: Version = {
    major: segment(g(1)),
    minor: g(2) === '' ? 0n : segment(g(2).slice(1)),
    patch: g(3) === '' ? 0n : segment(g(3).slice(1)),
    pre: g(5),
    metadata: g(8),
    original: v,
  };
  if (sv.pre) validatePrerelease(sv.pre);
  if (sv.metadata) validateMetadata(sv.metadata);
  return sv;
}

export function versionString(v: Version): string {
  return `${v.major}.${v.minor}.${v.patch}${v.pre ? `-${v.pre}` : ''}${v.metadata ? `+${v.metadata}` : ''}`;
}

function comparePrePart(s: string, o: string): number {
  if (s === o) return 0;
  if (s === '') return o !== '' ? -1 : 1;
  if (o === '') return s !== '' ? 1 : -1;
  const oi = goParseUint(o, 10);
  const si = goParseUint(s, 10);
  const oNum = typeof oi === 'bigint';
  const sNum = typeof si === 'bigint';
  if (!oNum && !sNum) return s > o ? 1 : -1;
  if (!oNum) return -1;
  if (!sNum) return 1;
  return si > oi ? 1 : -1;
}

function comparePrerelease(v: string, o: string): number {
  const a = v.split('.');
  const b = o.split('.');
  const l = Math.max(a.length, b.length);
  for (let i = 0; i < l; i++) {
    const d = comparePrePart(a[i] ?? '', b[i] ?? '');
    if (d !== 0) return d;
  }
  return 0;
}

/** Version.Compare. */
export function compareVersions(v: Version, o: Version): number {
  for (const k of ['major', 'minor', 'patch'] as const) {
    if (v[k] < o[k]) return -1;
    if (v[k] > o[k]) return 1;
  }
  if (v.pre === '' && o.pre === '') return 0;
  if (v.pre === '') return 1;
  if (o.pre === '') return -1;
  return comparePrerelease(v.pre, o.pre);
}

// ------------------------------------------------------------------ constraints

interface Constraint {
  con: Version;
  orig: string;
  func: string;
  minorDirty: boolean;
  dirty: boolean;
  patchDirty: boolean;
}

const isX = (x: string) => x === 'x' || x === '*' || x === 'X';

function parseConstraint(c: string): Constraint {
  if (c.length === 0) {
    return { con: newVersion('0.0.0'), orig: c, func: '', minorDirty: false, patchDirty: false, dirty: true };
  }
  const m = regexps().constraint.submatch(c);
  if (!m) throw new Invalid();
  const g = (i: number) => m[i] ?? '';
  let ver = g(2);
  let minorDirty = false;
  let patchDirty = false;
  let dirty = false;
  if (isX(g(3)) || g(3) === '') {
    ver = `0.0.0${g(6)}`;
    dirty = true;
  } else if (isX(g(4).replace(/^\./, '')) || g(4) === '') {
    minorDirty = true;
    dirty = true;
    ver = `${g(3)}.0.0${g(6)}`;
  } else if (isX(g(5).replace(/^\./, '')) || g(5) === '') {
    dirty = true;
    patchDirty = true;
    ver = `${g(3)}${g(4)}.0${g(6)}`;
  }
  return { con: newVersion(ver), orig: g(2), func: g(1), minorDirty, patchDirty, dirty };
}

const lt = (a: Version, b: Version) => compareVersions(a, b) < 0;
const releaseOnly = (v: Version, c: Constraint) => v.pre !== '' && c.con.pre === '';

function tilde(v: Version, c: Constraint): boolean {
  if (releaseOnly(v, c) || lt(v, c.con)) return false;
  if (c.con.major === 0n && c.con.minor === 0n && c.con.patch === 0n && !c.minorDirty && !c.patchDirty)
    return true;
  if (v.major !== c.con.major) return false;
  if (v.minor !== c.con.minor && !c.minorDirty) return false;
  return true;
}

const CHECKS: Record<string, (v: Version, c: Constraint) => boolean> = {
  '': (v, c) => tildeOrEqual(v, c),
  '=': (v, c) => tildeOrEqual(v, c),
  '!=': (v, c) => {
    if (c.dirty) {
      if (releaseOnly(v, c)) return false;
      if (c.con.major !== v.major) return true;
      if (c.con.minor !== v.minor && !c.minorDirty) return true;
      if (c.minorDirty) return false;
      if (c.con.patch !== v.patch && !c.patchDirty) return true;
      if (c.patchDirty) {
        if (v.pre !== '' || c.con.pre !== '') return comparePrerelease(v.pre, c.con.pre) !== 0;
        return false;
      }
    }
    return compareVersions(v, c.con) !== 0;
  },
  '>': (v, c) => {
    if (releaseOnly(v, c)) return false;
    if (!c.dirty) return compareVersions(v, c.con) === 1;
    if (v.major > c.con.major) return true;
    if (v.major < c.con.major) return false;
    if (c.minorDirty) return false;
    if (c.patchDirty) return v.minor > c.con.minor;
    return compareVersions(v, c.con) === 1;
  },
  '<': (v, c) => !releaseOnly(v, c) && compareVersions(v, c.con) < 0,
  '>=': (v, c) => !releaseOnly(v, c) && compareVersions(v, c.con) >= 0,
  '<=': (v, c) => {
    if (releaseOnly(v, c)) return false;
    if (!c.dirty) return compareVersions(v, c.con) <= 0;
    if (v.major > c.con.major) return false;
    if (v.major === c.con.major && v.minor > c.con.minor && !c.minorDirty) return false;
    return true;
  },
  '~': tilde,
  '^': (v, c) => {
    if (releaseOnly(v, c) || lt(v, c.con)) return false;
    if (c.con.major > 0n || c.minorDirty) return v.major === c.con.major;
    if (c.con.major === 0n && v.major > 0n) return false;
    if (c.con.minor > 0n || c.patchDirty) return v.minor === c.con.minor;
    if (c.con.minor === 0n && v.minor > 0n) return false;
    return c.con.patch === v.patch;
  },
};
CHECKS['=>'] = CHECKS['>='] as (typeof CHECKS)[string];
CHECKS['=<'] = CHECKS['<='] as (typeof CHECKS)[string];
CHECKS['~>'] = tilde;

function tildeOrEqual(v: Version, c: Constraint): boolean {
  if (releaseOnly(v, c)) return false;
  if (c.dirty) return tilde(v, c);
  return compareVersions(v, c.con) === 0;
}

/** semver.NewConstraint: ORs of ANDs. */
export function newConstraint(
  input: string,
  onSearch: (s: string) => (from: number) => void,
): Constraint[][] {
  const re = regexps();
  // rewriteRange: `A - B` becomes `>= A, <= B`, each match replaced once, left to right.
  let c = input;
  for (const m of re.range.matchIndices(input, -1, onSearch(input))) {
    const whole = input.slice(m[0], m[1]);
    const a = input.slice(m[2], m[3]);
    const b = m[22] !== undefined && (m[22] as number) >= 0 ? input.slice(m[22], m[23]) : '';
    const at = c.indexOf(whole);
    if (at >= 0) c = `${c.slice(0, at)}>= ${a}, <= ${b}${c.slice(at + whole.length)}`;
  }
  return c.split('||').map((v) => {
    if (!re.valid.test(v)) throw new Invalid();
    const found = re.find.matchIndices(v, -1, onSearch(v)).map((m) => v.slice(m[0], m[1]));
    return (found.length > 0 ? found : [v]).map(parseConstraint);
  });
}

export function checkConstraint(cs: Constraint[][], v: Version): boolean {
  return cs.some((and) => and.every((c) => (CHECKS[c.func] as (v: Version, c: Constraint) => boolean)(v, c)));
}

// ------------------------------------------------------------------ template values

const u64 = (n: bigint) => new GoInt(n, 'uint64');
const method = (params: ParamType[], call: GoMethod['call']): GoMethod => ({ params, call });
const host = (ctx: CallContext): Version => ((ctx.receiver as GoStruct).host as { version: Version }).version;

function other(v: Value): Version {
  if (v instanceof GoStruct && v.type === '*semver.Version') return (v.host as { version: Version }).version;
  throw new FuncError('wrong type for value; expected *semver.Version');
}

function bump(v: Version, next: Partial<Version>): Version {
  const n = { ...v, metadata: '', pre: '', ...next };
  const prefix = v.original.startsWith('v') ? 'v' : '';
  return { ...n, original: prefix + versionString(n) };
}

const METHODS = new Map<string, GoMethod>(
  Object.entries({
    Major: method([], (_a, ctx) => u64(host(ctx).major)),
    Minor: method([], (_a, ctx) => u64(host(ctx).minor)),
    Patch: method([], (_a, ctx) => u64(host(ctx).patch)),
    Prerelease: method([], (_a, ctx) => host(ctx).pre),
    Metadata: method([], (_a, ctx) => host(ctx).metadata),
    Original: method([], (_a, ctx) => host(ctx).original),
    String: method([], (_a, ctx) => versionString(host(ctx))),
    IncMajor: method([], (_a, ctx) => {
      const v = host(ctx);
      return versionValue(bump(v, { major: BigInt.asUintN(64, v.major + 1n), minor: 0n, patch: 0n }), false);
    }),
    IncMinor: method([], (_a, ctx) => {
      const v = host(ctx);
      return versionValue(bump(v, { minor: BigInt.asUintN(64, v.minor + 1n), patch: 0n }), false);
    }),
    IncPatch: method([], (_a, ctx) => {
      const v = host(ctx);
      return versionValue(bump(v, v.pre !== '' ? {} : { patch: BigInt.asUintN(64, v.patch + 1n) }), false);
    }),
    LessThan: method(['any'], ([o], ctx) => compareVersions(host(ctx), other(o ?? null)) < 0),
    GreaterThan: method(['any'], ([o], ctx) => compareVersions(host(ctx), other(o ?? null)) > 0),
    Equal: method(['any'], ([o], ctx) => compareVersions(host(ctx), other(o ?? null)) === 0),
    Compare: method(
      ['any'],
      ([o], ctx) => new GoInt(BigInt(compareVersions(host(ctx), other(o ?? null))), 'int'),
    ),
  }),
);

/** Methods with pointer receivers are not in the method set of a `semver.Version` value. */
const POINTER_ONLY = ['Original', 'LessThan', 'GreaterThan', 'Equal', 'Compare'];
const VALUE_METHODS = new Map([...METHODS].filter(([k]) => !POINTER_ONLY.includes(k)));

/** A `*semver.Version` (pointer: what `semver` returns) or a `semver.Version` (IncMajor's result). */
function versionValue(v: Version, pointer = true): GoStruct {
  return new GoStruct({
    type: pointer ? '*semver.Version' : 'semver.Version',
    print: () => versionString(v),
    methods: pointer ? METHODS : VALUE_METHODS,
    host: { version: v, json: () => versionString(v) },
  });
}

export function semverFunctions(): FuncMap {
  const m: FuncMap = new Map();
  const scan = (ctx: CallContext) => (s: string) => (from: number) =>
    ctx.budget.scan(s.length - from + 1, ctx.where);
  m.set(
    'semver',
    fn(['string'], ([s], ctx) => {
      ctx.budget.scan((s as string).length, ctx.where);
      try {
        return versionValue(newVersion(s as string));
      } catch (e) {
        if (e instanceof Invalid) throw new FuncError('invalid version');
        throw e;
      }
    }),
  );
  m.set(
    'semverCompare',
    fn(['string', 'string'], ([c, s], ctx) => {
      let cs: Constraint[][];
      try {
        cs = newConstraint(c as string, scan(ctx));
      } catch (e) {
        if (e instanceof Invalid) throw new FuncError('invalid version constraint');
        throw e;
      }
      let v: Version;
      try {
        ctx.budget.scan((s as string).length, ctx.where);
        v = newVersion(s as string);
      } catch (e) {
        if (e instanceof Invalid) throw new FuncError('invalid version');
        throw e;
      }
      return checkConstraint(cs, v);
    }),
  );
  return m;
}
