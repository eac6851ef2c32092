/**
 * The three patterns that 777 of the 781 patterned fields of ESO's CRDs use (a DNS-1123
 * subdomain, a DNS-1123 label, a Secret key), as character loops: the answers of Go's RE2 on
 * these exact sources (test/api/crd-patterns.test.ts compares them on every short string over
 * an alphabet that crosses each class edge), in one pass without allocating. The RE2 engine's
 * match costs about a microsecond a field and was a fifth of validating an ExternalSecret; these
 * cost nanoseconds. Every other pattern still runs on the engine (schema-check.ts).
 *
 * Each class is ASCII, so a character outside ASCII (or a lone surrogate) fails here as the
 * UTF-8 bytes fail in Go; `^…$` anchor the whole string, as Go's `$` without `(?m)` does.
 */

const HYPHEN = 0x2d;
const DOT = 0x2e;
const UNDERSCORE = 0x5f;

function lowerAlnum(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39);
}

/** `[a-z0-9]([-a-z0-9]*[a-z0-9])?` on `s[from, to)`. */
function label(s: string, from: number, to: number): boolean {
  if (to <= from || !lowerAlnum(s.charCodeAt(from)) || !lowerAlnum(s.charCodeAt(to - 1))) return false;
  for (let i = from + 1; i < to - 1; i++) {
    const c = s.charCodeAt(i);
    if (c !== HYPHEN && !lowerAlnum(c)) return false;
  }
  return true;
}

/** Labels joined by dots: none empty. */
export function isDnsSubdomain(s: string): boolean {
  let start = 0;
  for (let i = 0; i <= s.length; i++) {
    if (i < s.length && s.charCodeAt(i) !== DOT) continue;
    if (!label(s, start, i)) return false;
    start = i + 1;
  }
  return true;
}

export function isSecretKey(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!(c === HYPHEN || c === DOT || c === UNDERSCORE || lowerAlnum(c) || (c >= 0x41 && c <= 0x5a))) {
      return false;
    }
  }
  return true;
}

/** `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, the whole string. */
export function isDnsLabel(s: string): boolean {
  return label(s, 0, s.length);
}

/** Pattern source (as the CRDs write it) → a matcher with RE2's answer for it. */
export const CRD_PATTERN_MATCHERS: ReadonlyMap<string, (s: string) => boolean> = new Map([
  ['^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$', isDnsSubdomain],
  ['^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', isDnsLabel],
  ['^[-._a-zA-Z0-9]+$', isSecretKey],
]);
