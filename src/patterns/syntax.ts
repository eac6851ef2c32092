/**
 * A single linear pass over a Go (RE2) expression that answers two questions before the engine
 * sees it:
 * - how large can its compiled program get? Counted repetitions multiply (`x{1000}` is a
 *   thousand instructions), so a 2 KiB pattern can ask for 300,000 instructions and seconds of
 *   compilation. The estimate is an upper bound of the same order as the engine's program size
 *   and is checked before compiling, so a hostile pattern costs one scan, never a compile.
 * - where are the named groups? Go accepts two groups with one name (`(?P<v>a)|(?P<v>b)`);
 *   the engine does not, so duplicates are renamed before compiling (see re2.ts).
 *
 * The scan follows Go's lexical rules (escapes, `\Q…\E`, classes with `[:name:]`, a leading `]`
 * in a class, `{n,m}` that is a literal when malformed); syntax errors are left to the engine,
 * which reports them exactly as Go does.
 */

export interface NamedGroup {
  name: string;
  /** Offsets of the name inside the pattern (between `<` and `>`). */
  start: number;
  end: number;
}

export interface PatternScan {
  /** Upper bound of the compiled program's instruction count. */
  size: number;
  named: NamedGroup[];
}

/** Numbers are capped here so the arithmetic stays exact whatever the input. */
const CAP = 1e9;
const add = (a: number, b: number): number => Math.min(CAP, a + b);
const mul = (a: number, b: number): number => Math.min(CAP, a * b);

interface Frame {
  /** Size of the completed alternatives of this group. */
  alts: number;
  /** Size of the current alternative so far. */
  seq: number;
  /** Size of the last atom, which a following repetition applies to. */
  last: number;
}

/**
 * `{n}`, `{n,}` or `{n,m}` at `i`, read as Go does (no leading zeros; otherwise `{` is a
 * literal), and how many instructions it turns an atom of `size` into: n copies, plus a copy
 * and a split per optional one (`{n,}` is n copies and a star). A count above 1000 is a syntax
 * error in Go, which the engine reports while parsing, before it builds anything: it counts as
 * one copy here.
 */
function repeatAt(s: string, i: number, size: number): { end: number; grown: number } | undefined {
  const m = /^\{(0|[1-9]\d*)(,(0|[1-9]\d*)?)?\}/.exec(s.slice(i, i + 24));
  if (!m) return undefined;
  const end = i + m[0].length;
  const min = Number(m[1]);
  const max = m[2] === undefined ? min : m[3] === undefined ? min + 1 : Number(m[3]);
  if (min > 1000 || max > 1000) return { end, grown: size };
  const optional = Math.max(0, max - min);
  return { end, grown: add(mul(size, Math.max(min, max)), optional + 1) };
}

/** End of an escape starting at `i` (the backslash). */
function escapeEnd(s: string, i: number): number {
  const c = s[i + 1];
  if (c === undefined) return i + 1;
  if ((c === 'x' || c === 'p' || c === 'P') && s[i + 2] === '{') {
    const close = s.indexOf('}', i + 3);
    return close < 0 ? s.length : close + 1;
  }
  if (c === 'p' || c === 'P') return Math.min(s.length, i + 3);
  // A surrogate pair is one character.
  const code = s.codePointAt(i + 1) ?? 0;
  return i + 1 + (code > 0xffff ? 2 : 1);
}

/** End of a character class starting at `i` (the `[`). */
function classEnd(s: string, i: number): number {
  let j = i + 1;
  if (s[j] === '^') j++;
  if (s[j] === ']') j++; // a leading `]` is a literal
  while (j < s.length) {
    const c = s[j];
    if (c === ']') return j + 1;
    if (c === '\\') {
      j = escapeEnd(s, j);
    } else if (c === '[' && s[j + 1] === ':') {
      // Go looks for the next `:]` anywhere after; an unknown name is the engine's error.
      const close = s.indexOf(':]', j + 2);
      j = close < 0 ? j + 1 : close + 2;
    } else {
      j++;
    }
  }
  return s.length;
}

export function scanPattern(s: string): PatternScan {
  const named: NamedGroup[] = [];
  const stack: Frame[] = [{ alts: 0, seq: 0, last: 0 }];
  let top = stack[0]!;
  const atom = (size: number) => {
    top.seq = add(top.seq, size);
    top.last = size;
  };
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === '\\' && s[i + 1] === 'Q') {
      const close = s.indexOf('\\E', i + 2);
      const text = s.slice(i + 2, close < 0 ? s.length : close);
      // Each quoted character is its own literal, so a following `*` repeats only the last one.
      for (const _ of text) atom(1);
      i = close < 0 ? s.length : close + 2;
      continue;
    }
    if (c === '\\') {
      atom(1);
      i = escapeEnd(s, i);
      continue;
    }
    if (c === '[') {
      atom(1);
      i = classEnd(s, i);
      continue;
    }
    if (c === '(') {
      const rest = s.slice(i + 1, i + 4);
      let nameAt = -1;
      if (rest.startsWith('?P<')) nameAt = i + 4;
      else if (rest.startsWith('?<') && rest[2] !== '=' && rest[2] !== '!') nameAt = i + 3;
      if (nameAt >= 0) {
        const close = s.indexOf('>', nameAt);
        if (close >= 0) named.push({ name: s.slice(nameAt, close), start: nameAt, end: close });
      } else if (rest.startsWith('?')) {
        // `(?flags)` sets flags and is no group; `(?flags:` opens one.
        const flags = /^\(\?[a-zA-Z-]*([:)])/.exec(s.slice(i, i + 16));
        if (flags?.[1] === ')') {
          i += flags[0].length;
          continue;
        }
      }
      stack.push({ alts: 0, seq: 0, last: 0 });
      top = stack[stack.length - 1]!;
      i = nameAt >= 0 ? Math.max(i + 1, s.indexOf('>', nameAt) + 1) : i + 1;
      continue;
    }
    if (c === ')') {
      if (stack.length > 1) {
        const done = stack.pop()!;
        top = stack[stack.length - 1]!;
        atom(add(add(done.alts, done.seq), 2));
      }
      i++;
      continue;
    }
    if (c === '|') {
      top.alts = add(add(top.alts, top.seq), 1);
      top.seq = 0;
      top.last = 0;
      i++;
      continue;
    }
    if (c === '*' || c === '+' || c === '?') {
      top.seq = add(top.seq, 1);
      top.last = add(top.last, 1);
      i += s[i + 1] === '?' ? 2 : 1;
      continue;
    }
    if (c === '{') {
      const rep = repeatAt(s, i, top.last);
      if (rep) {
        top.seq = add(top.seq, rep.grown - top.last);
        top.last = rep.grown;
        i = rep.end + (s[rep.end] === '?' ? 1 : 0);
        continue;
      }
    }
    atom(1);
    i += (s.codePointAt(i) ?? 0) > 0xffff ? 2 : 1;
  }
  let size = 0;
  for (const f of stack) size = add(size, add(f.alts, f.seq));
  // Program overhead: the match and fail instructions and the whole-match capture.
  return { size: add(size, 4), named };
}
