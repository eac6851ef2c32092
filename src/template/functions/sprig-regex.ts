/**
 * Sprig's regular expression functions (regex.go, as ESO vendors it): `regexMatch`,
 * `regexFind`, `regexFindAll`, `regexReplaceAll`, `regexReplaceAllLiteral`, `regexSplit`,
 * `regexQuoteMeta` and the `must` forms — on the project's one pattern engine
 * (src/patterns/re2.ts: Go's RE2 syntax and semantics, linear time per search), never a
 * JavaScript RegExp. Go's rules hold: leftmost-first matches, no empty match right after a
 * match, `$1`/`${name}` expansion, `n < 0` meaning all.
 *
 * Bounds, as for every template function: results are sized before they are built, and the
 * searches of one render may scan at most the budget's `regexScan` characters in all (each search scans at
 * most from where it starts to the end, so a pattern matching many times in a long text is
 * charged for it). A pattern the engine refuses fails with our message, which never quotes it
 * (a pattern may come from secret data).
 */

import { parseTemplate, type TemplatePart } from '../../patterns/expand.ts';
import { compileGoRegexp, type GoRegexp, PatternError } from '../../patterns/re2.ts';
import { type GoInt, type GoSlice, strings } from '../values.ts';
import { type CallContext, FuncError, type FuncMap, fn } from './types.ts';

class InvalidRegexp extends FuncError {
  constructor() {
    super('invalid regular expression');
  }
}

function compile(source: string): GoRegexp {
  try {
    return compileGoRegexp(source);
  } catch (e) {
    if (e instanceof PatternError) throw new InvalidRegexp();
    throw e;
  }
}

/** Each search is charged what it may scan: from where it starts to the end of the text. */
function scanner(ctx: CallContext, input: string): (from: number) => void {
  return (from) => ctx.budget.scan(input.length - from + 1, ctx.where);
}

function matches(re: GoRegexp, input: string, n: number, ctx: CallContext): number[][] {
  return re.matchIndices(input, n, scanner(ctx, input));
}

function findAll(re: GoRegexp, s: string, n: number, ctx: CallContext): GoSlice {
  const out: string[] = [];
  let size = 24;
  for (const m of matches(re, s, n, ctx)) {
    size += (m[1] as number) - (m[0] as number) + 16;
    ctx.budget.checkValue(size, ctx.where);
    out.push(s.slice(m[0], m[1]));
  }
  return strings(out);
}

/** Go's ReplaceAllString (template) or ReplaceAllLiteralString, sized before it is built. */
function replaceAll(re: GoRegexp, s: string, repl: string, literal: boolean, ctx: CallContext): string {
  const parts: TemplatePart[] = literal ? [{ text: repl }] : parseTemplate(repl);
  const all = matches(re, s, -1, ctx);
  const groupIndex = (p: TemplatePart): number => {
    if ('group' in p) return p.group;
    if ('name' in p) return re.names.indexOf(p.name);
    return -1;
  };
  const expand = (m: number[], build: boolean): { len: number; text: string } => {
    let len = 0;
    let text = '';
    for (const p of parts) {
      if ('text' in p) {
        len += p.text.length;
        if (build) text += p.text;
        continue;
      }
      const g = groupIndex(p);
      if (g < 0 || g >= re.names.length) continue;
      const a = m[2 * g] as number;
      const b = m[2 * g + 1] as number;
      if (a < 0) continue;
      len += b - a;
      if (build) text += s.slice(a, b);
    }
    return { len, text };
  };
  let size = 0;
  let last = 0;
  for (const m of all) {
    size += (m[0] as number) - last + expand(m, false).len;
    last = m[1] as number;
    ctx.budget.checkValue(size, ctx.where);
  }
  size += s.length - last;
  ctx.budget.checkValue(size, ctx.where);
  let out = '';
  last = 0;
  for (const m of all) {
    out += s.slice(last, m[0]) + expand(m, true).text;
    last = m[1] as number;
  }
  return out + s.slice(last);
}

/** Go's Regexp.Split. */
function split(re: GoRegexp, source: string, s: string, n: number, ctx: CallContext): GoSlice {
  if (n === 0) return strings([]);
  if (source.length > 0 && s.length === 0) return strings(['']);
  const out: string[] = [];
  let size = 24;
  let beg = 0;
  let end = 0;
  for (const m of matches(re, s, n, ctx)) {
    if (n > 0 && out.length === n - 1) break;
    end = m[0] as number;
    if (m[1] !== 0) {
      size += end - beg + 16;
      ctx.budget.checkValue(size, ctx.where);
      out.push(s.slice(beg, end));
    }
    beg = m[1] as number;
  }
  if (end !== s.length) out.push(s.slice(beg));
  return strings(out);
}

/** regexp.QuoteMeta. */
export function quoteMeta(s: string): string {
  let out = '';
  for (const c of s) out += '\\.+*?()|[]{}^$'.includes(c) ? `\\${c}` : c;
  return out;
}

const N = (v: unknown) => Number((v as GoInt).v);
const S = (v: unknown) => v as string;

export function sprigRegex(): FuncMap {
  const m: FuncMap = new Map();
  m.set(
    'regexMatch',
    fn(['string', 'string'], ([r, s], ctx) => {
      try {
        return matches(compile(S(r)), S(s), 1, ctx).length > 0;
      } catch (e) {
        if (e instanceof InvalidRegexp) return false;
        throw e;
      }
    }),
  );
  m.set(
    'mustRegexMatch',
    fn(['string', 'string'], ([r, s], ctx) => matches(compile(S(r)), S(s), 1, ctx).length > 0),
  );
  for (const name of ['regexFindAll', 'mustRegexFindAll']) {
    m.set(
      name,
      fn(['string', 'string', 'int'], ([r, s, n], ctx) => findAll(compile(S(r)), S(s), N(n), ctx)),
    );
  }
  for (const name of ['regexFind', 'mustRegexFind']) {
    m.set(
      name,
      fn(['string', 'string'], ([r, s], ctx) => {
        const found = matches(compile(S(r)), S(s), 1, ctx)[0];
        return found ? S(s).slice(found[0], found[1]) : '';
      }),
    );
  }
  for (const [name, literal] of [
    ['regexReplaceAll', false],
    ['mustRegexReplaceAll', false],
    ['regexReplaceAllLiteral', true],
    ['mustRegexReplaceAllLiteral', true],
  ] as const) {
    m.set(
      name,
      fn(['string', 'string', 'string'], ([r, s, repl], ctx) =>
        replaceAll(compile(S(r)), S(s), S(repl), literal, ctx),
      ),
    );
  }
  for (const name of ['regexSplit', 'mustRegexSplit']) {
    m.set(
      name,
      fn(['string', 'string', 'int'], ([r, s, n], ctx) => split(compile(S(r)), S(r), S(s), N(n), ctx)),
    );
  }
  m.set(
    'regexQuoteMeta',
    fn(['string'], ([s], ctx) => {
      ctx.budget.checkValue(2 * S(s).length, ctx.where);
      return quoteMeta(S(s));
    }),
  );
  return m;
}
