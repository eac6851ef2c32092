/**
 * The one engine for every regular expression a tenant writes: `dataFrom[].find.name.regexp`,
 * `rewrite[].regexp.source`/`target`, and `ClusterSecretStore` `conditions[].namespaceRegexes`.
 * Admission validates with `checkGoRegexp` and the runtime matches with `compileGoRegexp`: the
 * same compile, so what validates is exactly what runs.
 *
 * The External Secrets Operator compiles these with Go's `regexp` (RE2 syntax, linear time). A
 * JavaScript RegExp backtracks (`(a+)+$` against 30 characters blocks the process for a minute)
 * and reads a different syntax, so it never sees tenant text. The engine is `re2js`, a pure
 * JavaScript port of RE2/J and Go's `regexp/syntax`, chosen over `re2-wasm` because it:
 * - parses Go's syntax and reports Go's own error messages (`re2-wasm` is C++ RE2, which accepts
 *   `\C` and words errors differently);
 * - is maintained (monthly releases) and ships ESM for Node 24; `re2-wasm` is CommonJS and was
 *   last published years ago;
 * - compiles ~7x and matches ~3x faster than `re2-wasm` (bench/patterns.ts), and its memory is
 *   the JavaScript heap's: `re2-wasm` keeps compiled patterns in a fixed 16 MiB WebAssembly heap
 *   the GC does not reclaim and aborted after ~5,600 of them.
 * test/patterns/differential.test.ts holds it to Go's answers through a Go oracle.
 *
 * Bounds (a tenant can send a 1 MiB pattern): at most MAX_PATTERN_BYTES, and a program of at
 * most MAX_PROGRAM_SIZE instructions, estimated before compiling (syntax.ts) and checked after.
 * Matching uses the engine's NFA/one-pass/bounded backtracker (linear in the input); the lazy DFA
 * behind re2js `test()` is avoided on purpose because each cached pattern could grow one to
 * 8 MB on inputs an attacker chooses (remote secret names), and patterns stay cached.
 */
import { LRUCache } from 'lru-cache';
import { RE2JS, RE2JSException, RE2JSSyntaxException } from 're2js';
import { expandTemplate, parseTemplate } from './expand.ts';
import { type NamedGroup, scanPattern } from './syntax.ts';

/** Longest pattern accepted, in UTF-8 bytes. */
export const MAX_PATTERN_BYTES = 4096;
/** Largest compiled program accepted, in instructions (`x{1000}` alone is about 1,000). */
export const MAX_PROGRAM_SIZE = 5000;

/**
 * A pattern the engine refuses. `message` is what a user reads: Go's own wording where Go
 * refuses (a long quote cut), plus a hint for the Perl features RE2 lacks.
 */
export class PatternError extends Error {
  /** Go's full message (`error parsing regexp: …`), or ours for this webhook's own bounds. */
  readonly reason: string;
  readonly hint: string | undefined;
  constructor(reason: string, hint?: string) {
    super(hint ? `${shorten(reason)} (${hint})` : shorten(reason));
    this.name = 'PatternError';
    this.reason = reason;
    this.hint = hint;
  }
}

/** A compiled Go regular expression. */
export interface GoRegexp {
  readonly source: string;
  /** Go's `SubexpNames()`: index 0 is the whole match, unnamed groups are "". */
  readonly names: readonly string[];
  /** Go's `MatchString`: a match anywhere in `input` (anchor with `^…$` for the whole string). */
  test(input: string): boolean;
  /** Go's `ReplaceAllString` with Go's `$1`/`${name}` template expansion. */
  replaceAll(input: string, template: string): string;
  /**
   * Go's `FindAllStringSubmatchIndex(input, n)` (n < 0: all): for each match, start and end of
   * the match then of each group (-1 when a group did not take part), empty matches right after
   * a match skipped. `onSearch(from)` is told before each search, so a caller can bound the work
   * (a search scans at most from `from` to the end).
   */
  matchIndices(input: string, n: number, onSearch?: (from: number) => void): number[][];
  /** Go's `FindStringSubmatch`: the match and each group (undefined when it did not take part). */
  submatch(input: string): (string | undefined)[] | undefined;
}

class CompiledRegexp implements GoRegexp {
  readonly source: string;
  readonly names: readonly string[];
  readonly programSize: number;
  readonly #re: RE2JS;

  constructor(source: string, re: RE2JS, names: readonly string[]) {
    this.source = source;
    this.#re = re;
    this.names = names;
    this.programSize = re.programSize();
  }

  test(input: string): boolean {
    return this.#re.matcher(input).find();
  }

  matchIndices(input: string, n: number, onSearch?: (from: number) => void): number[][] {
    const m = this.#re.matcher(input);
    const limit = n < 0 ? input.length + 1 : n;
    const out: number[][] = [];
    // Go's regexp.allMatches: an empty match right after the previous one is not delivered, and
    // the search advances by one code point past an empty match (Go: one rune).
    let prevMatchEnd = -1;
    for (let pos = 0; out.length < limit && pos <= input.length; ) {
      onSearch?.(pos);
      if (!m.find(pos)) break;
      const start = m.start();
      const end = m.end();
      let accept = true;
      if (end === pos) {
        if (start === prevMatchEnd) accept = false;
        pos += pos < input.length ? ((input.codePointAt(pos) ?? 0) > 0xffff ? 2 : 1) : 1;
      } else pos = end;
      prevMatchEnd = end;
      if (accept) {
        const spans: number[] = [];
        for (let g = 0; g < this.names.length; g++) spans.push(m.start(g), m.end(g));
        out.push(spans);
      }
    }
    return out;
  }

  submatch(input: string): (string | undefined)[] | undefined {
    const m = this.#re.matcher(input);
    if (!m.find()) return undefined;
    return this.names.map((_, i) => m.group(i) ?? undefined);
  }

  replaceAll(input: string, template: string): string {
    const parts = parseTemplate(template);
    const m = this.#re.matcher(input);
    const group = (i: number): string | undefined =>
      i < this.names.length ? (m.group(i) ?? undefined) : undefined;
    // Go's regexp.replaceAll, step for step: an empty match right after a match is not replaced,
    // and the search always advances by at least one character (one code point, as Go one rune).
    let out = '';
    let lastMatchEnd = 0;
    let searchPos = 0;
    while (searchPos <= input.length) {
      if (!m.find(searchPos)) break;
      const start = m.start();
      const end = m.end();
      out += input.slice(lastMatchEnd, start);
      if (end > lastMatchEnd || start === 0) out += expandTemplate(parts, this.names, group);
      lastMatchEnd = end;
      const width = searchPos < input.length ? ((input.codePointAt(searchPos) ?? 0) > 0xffff ? 2 : 1) : 0;
      if (searchPos + width > end) searchPos += width;
      else if (searchPos + 1 > end) searchPos++;
      else searchPos = end;
    }
    return out + input.slice(lastMatchEnd);
  }
}

/**
 * Compiled patterns (and refusals), shared by admission and refresh: every /validate and every
 * sync of the same ExternalSecret asks for the same few patterns. Weighted by program size so
 * the cache holds a bounded number of instructions (a few MiB at most), whatever tenants send.
 */
const cache = new LRUCache<string, CompiledRegexp | PatternError>({
  max: 1024,
  maxSize: 100_000,
  sizeCalculation: (v) => (v instanceof PatternError ? 1 : Math.max(1, v.programSize)),
});

/** Compiles `source` with Go's syntax; throws PatternError when Go (or a bound) refuses it. */
export function compileGoRegexp(source: string): GoRegexp {
  const bytes = Buffer.byteLength(source, 'utf8');
  if (bytes > MAX_PATTERN_BYTES) {
    throw new PatternError(`pattern is ${bytes} bytes long; at most ${MAX_PATTERN_BYTES} are accepted`);
  }
  let hit = cache.get(source);
  if (hit === undefined) {
    try {
      hit = compile(source);
    } catch (err: unknown) {
      if (!(err instanceof PatternError)) throw err;
      hit = err;
    }
    cache.set(source, hit);
  }
  if (hit instanceof PatternError) throw new PatternError(hit.reason, hit.hint);
  return hit;
}

/** Admission's question: undefined when `source` compiles, else the reason for the user. */
export function checkGoRegexp(source: string): string | undefined {
  try {
    compileGoRegexp(source);
    return undefined;
  } catch (err: unknown) {
    if (err instanceof PatternError) return err.message;
    throw err;
  }
}

const TOO_LARGE = `pattern is too large: its program would exceed ${MAX_PROGRAM_SIZE} instructions`;

function compile(source: string): CompiledRegexp {
  const scan = scanPattern(source);
  if (scan.size > MAX_PROGRAM_SIZE) throw new PatternError(TOO_LARGE);
  let re: RE2JS;
  let aliases = new Map<string, string>();
  try {
    re = RE2JS.compile(source);
  } catch (err: unknown) {
    if (!(err instanceof RE2JSSyntaxException && err.error === 'duplicate capture group name')) {
      throw engineError(err, source);
    }
    // Go allows one name on several groups; the engine does not. Compile with the later ones
    // renamed and report the original names.
    const renamed = renameDuplicates(source, scan.named);
    aliases = renamed.aliases;
    try {
      re = RE2JS.compile(renamed.pattern);
    } catch (again: unknown) {
      throw engineError(again, source, aliases);
    }
  }
  if (re.programSize() > MAX_PROGRAM_SIZE) throw new PatternError(TOO_LARGE);
  const names: string[] = new Array<string>(re.groupCount() + 1).fill('');
  for (const [name, index] of Object.entries(re.namedGroups())) names[index] = aliases.get(name) ?? name;
  return new CompiledRegexp(source, re, names);
}

function renameDuplicates(
  source: string,
  named: readonly NamedGroup[],
): { pattern: string; aliases: Map<string, string> } {
  const taken = new Set(named.map((g) => g.name));
  const seen = new Set<string>();
  const aliases = new Map<string, string>();
  let pattern = '';
  let at = 0;
  let n = 0;
  for (const g of named) {
    if (!seen.has(g.name)) {
      seen.add(g.name);
      continue;
    }
    let alias: string;
    do alias = `esw_dup_${n++}`;
    while (taken.has(alias));
    aliases.set(alias, g.name);
    pattern += source.slice(at, g.start) + alias;
    at = g.end;
  }
  return { pattern: pattern + source.slice(at), aliases };
}

/**
 * Go's `syntax.Error` text (`error parsing regexp: <code>: \`<expr>\``) from the engine's syntax
 * error; Go quotes "" for a trailing backslash and the whole expression for the size and depth
 * limits, where the engine quotes nothing. Anything else becomes a fixed message.
 */
function engineError(err: unknown, source: string, aliases?: Map<string, string>): PatternError {
  if (err instanceof RE2JSSyntaxException) {
    let expr = err.input ?? (err.error === 'trailing backslash at end of expression' ? '' : source);
    for (const [alias, name] of aliases ?? []) expr = expr.replaceAll(alias, name);
    return new PatternError(`error parsing regexp: ${err.error}: \`${expr}\``, hintFor(err.error, expr));
  }
  if (err instanceof RE2JSException) {
    return new PatternError('error parsing regexp: the expression could not be compiled');
  }
  throw err;
}

/** Why Go refuses what Perl, PCRE and JavaScript accept. */
function hintFor(error: string, expr: string): string | undefined {
  if (/^\(\?[=!]/.test(expr)) return 'Go RE2 syntax has no lookahead';
  if (/^\(\?<[=!]/.test(expr)) return 'Go RE2 syntax has no lookbehind';
  if (error === 'invalid escape sequence' && /^\\[1-9]/.test(expr))
    return 'Go RE2 syntax has no backreferences';
  if (/^\\k/.test(expr)) return 'Go RE2 syntax has no backreferences';
  return undefined;
}

/** A pattern quoted for a message, cut when long (a tenant may send kilobytes). */
export function quotePattern(source: string): string {
  return JSON.stringify(source.length > 64 ? `${source.slice(0, 61)}...` : source);
}

/** Go quotes the offending text in backticks; a long quote is cut for messages. */
function shorten(reason: string): string {
  return reason.replace(/`([\s\S]{64,})`$/, (_, q: string) => `\`${q.slice(0, 61)}...\``);
}
