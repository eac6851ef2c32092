/**
 * "Did you mean …?" for names a user typed: unknown fields, annotations, kinds. Edit distance
 * from a maintained library (fastest-levenshtein); case is ignored, and a name is only
 * suggested when it is close enough to be a typo of it.
 */
import { distance } from 'fastest-levenshtein';

/** Longer input is not a typo of anything we know; it also bounds the work on hostile keys. */
const MAX_INPUT = 64;

export function didYouMean(input: string, candidates: Iterable<string>): string | undefined {
  if (input.length === 0 || input.length > MAX_INPUT) return undefined;
  const lower = input.toLowerCase();
  // About one edit in three characters, two for short names (a swapped pair of letters is two
  // edits), one for names of one or two characters, never more than three.
  const limit = input.length <= 2 ? 1 : Math.min(3, Math.max(2, Math.floor(input.length / 3)));
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    if (candidate === input || Math.abs(candidate.length - input.length) > limit) continue;
    const d = distance(lower, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= limit ? best : undefined;
}

/** ` (did you mean "x"?)`, or nothing. */
export function suggestion(input: string, candidates: Iterable<string>): string {
  const s = didYouMean(input, candidates);
  return s === undefined ? '' : ` (did you mean "${s}"?)`;
}
