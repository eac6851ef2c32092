/**
 * The wildcard match gjson applies to object keys in a property path (`db-*`, `us?r`), which is
 * `tidwall/match`: `*` matches any run of characters, `?` exactly one (a whole code point, as Go
 * reads runes), `\c` the character `c`, anything else itself, over the whole key.
 *
 * tidwall/match backtracks (a key is retried at every position for every `*`), and the previous
 * implementation here compiled the glob to a backtracking RegExp that took seconds for 30 stars.
 * This one simulates the glob's automaton over bit sets: one pass over the key, ceil(states/32)
 * word operations per character, no recursion, no backtracking. Wildcard components are capped
 * at MAX_GLOB_LENGTH characters, so a key costs at most a few word operations per character.
 *
 * Two details follow tidwall/match exactly rather than the description above:
 * - a lone trailing `\` matches a literal backslash when the pattern has a `*` (the part after
 *   the last star is compared backwards, where the `\` escapes nothing) and nothing otherwise;
 * - gjson bounds its backtracking (`MatchLimit`: 10,000 steps per key character) and calls a key
 *   that exceeds it "no match"; only pathological patterns get there, and here they get the
 *   exact answer.
 */

/** Longest wildcard component accepted, in characters. */
export const MAX_GLOB_LENGTH = 1024;

type Token = { kind: 'star' } | { kind: 'one' } | { kind: 'lit'; cp: number } | { kind: 'never' };

function tokenize(pattern: string): Token[] {
  const cps = Array.from(pattern, (c) => c.codePointAt(0)!);
  const hasStar = (() => {
    for (let i = 0; i < cps.length; i++) {
      if (cps[i] === 0x5c) i++;
      else if (cps[i] === 0x2a) return true;
    }
    return false;
  })();
  const tokens: Token[] = [];
  for (let i = 0; i < cps.length; i++) {
    const cp = cps[i]!;
    if (cp === 0x5c /* \ */) {
      if (i + 1 < cps.length) tokens.push({ kind: 'lit', cp: cps[++i]! });
      else tokens.push(hasStar ? { kind: 'lit', cp } : { kind: 'never' });
    } else if (cp === 0x2a /* * */) {
      // Consecutive stars are one star.
      if (tokens[tokens.length - 1]?.kind !== 'star') tokens.push({ kind: 'star' });
    } else if (cp === 0x3f /* ? */) {
      tokens.push({ kind: 'one' });
    } else {
      tokens.push({ kind: 'lit', cp });
    }
  }
  return tokens;
}

/** A compiled wildcard pattern. */
export class Glob {
  readonly pattern: string;
  /** States 0..n (n = token count); state i waits for token i, state n accepts. */
  readonly #states: number;
  readonly #words: number;
  readonly #star: Uint32Array;
  readonly #one: Uint32Array;
  readonly #lit = new Map<number, Uint32Array>();
  readonly #start: Uint32Array;
  readonly #scratchA: Uint32Array;
  readonly #scratchB: Uint32Array;

  constructor(pattern: string) {
    this.pattern = pattern;
    const tokens = tokenize(pattern);
    this.#states = tokens.length + 1;
    this.#words = Math.ceil(this.#states / 32);
    this.#star = new Uint32Array(this.#words);
    this.#one = new Uint32Array(this.#words);
    tokens.forEach((t, i) => {
      const word = i >>> 5;
      const bit = 1 << (i & 31);
      if (t.kind === 'star') this.#star[word]! |= bit;
      else if (t.kind === 'one') this.#one[word]! |= bit;
      else if (t.kind === 'lit') {
        let mask = this.#lit.get(t.cp);
        if (!mask) {
          mask = new Uint32Array(this.#words);
          this.#lit.set(t.cp, mask);
        }
        mask[word]! |= bit;
      }
      // 'never' sets no bit: no character moves past it.
    });
    this.#start = new Uint32Array(this.#words);
    this.#start[0] = 1;
    this.#closure(this.#start);
    this.#scratchA = new Uint32Array(this.#words);
    this.#scratchB = new Uint32Array(this.#words);
  }

  /** A star may match nothing: whoever waits at a star also waits after it. */
  #closure(d: Uint32Array): void {
    let carry = 0;
    for (let w = 0; w < this.#words; w++) {
      const skip = d[w]! & this.#star[w]!;
      const moved = ((skip << 1) | carry) >>> 0;
      carry = skip >>> 31;
      d[w] = d[w]! | moved;
    }
  }

  /** Whether the whole of `key` matches. */
  match(key: string): boolean {
    if (this.#words === 1) return this.#match32(key);
    const n = this.#words;
    // Scratch state reused across calls (single-threaded; match never re-enters itself).
    let d = this.#scratchA;
    let next = this.#scratchB;
    d.set(this.#start);
    for (const ch of key) {
      const lit = this.#lit.get(ch.codePointAt(0)!);
      let carry = 0;
      let any = 0;
      for (let w = 0; w < n; w++) {
        const step = d[w]! & (this.#one[w]! | (lit ? lit[w]! : 0));
        const v = ((step << 1) | carry | (d[w]! & this.#star[w]!)) >>> 0;
        carry = step >>> 31;
        next[w] = v;
        any |= v;
      }
      if (any === 0) return false;
      this.#closure(next);
      [d, next] = [next, d];
    }
    const last = this.#states - 1;
    return (d[last >>> 5]! & (1 << (last & 31))) !== 0;
  }

  /** The same automaton in one machine word: every pattern of up to 31 tokens. */
  #match32(key: string): boolean {
    const star = this.#star[0]!;
    const one = this.#one[0]!;
    let d = this.#start[0]!;
    for (const ch of key) {
      const lit = this.#lit.get(ch.codePointAt(0)!);
      const step = d & (one | (lit ? lit[0]! : 0));
      let v = ((step << 1) | (d & star)) >>> 0;
      if (v === 0) return false;
      v = (v | ((v & star) << 1)) >>> 0;
      d = v;
    }
    return (d & (1 << (this.#states - 1))) !== 0;
  }
}
