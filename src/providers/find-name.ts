/**
 * `dataFrom.find.name.regexp` for providers that list secrets. ESO compiles it with Go's regexp
 * and keeps the names it matches anywhere (`regexp.MatchString`); here it goes through the one
 * pattern engine (src/patterns/re2.ts): Go's syntax, linear time, and the same compile that
 * admission validated.
 */
import { compileGoRegexp, type GoRegexp, PatternError, quotePattern } from '../patterns/re2.ts';
import { ProviderError } from './types.ts';

/** `find.name.regexp`; an expression that does not compile is a ProviderError `Invalid`. */
export function compileNameRegexp(source: string): GoRegexp {
  try {
    return compileGoRegexp(source);
  } catch (err: unknown) {
    if (!(err instanceof PatternError)) throw err;
    throw new ProviderError(
      'Invalid',
      `find.name.regexp ${quotePattern(source)} is not a valid regular expression: ${err.message}`,
    );
  }
}
