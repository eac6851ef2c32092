/**
 * Go (RE2) regular expressions evaluated at lookup time: `dataFrom.find.name.regexp` for
 * providers that list secrets, and `ClusterSecretStore` `conditions[].namespaceRegexes`. ESO
 * matches them anywhere in the string (`regexp.MatchString`); JavaScript's RegExp agrees on the
 * common subset. Go's leading inline flags (`(?i)`, `(?s)`, `(?m)`) become RegExp flags.
 */
import { ProviderError } from './types.ts';

/** Compiles a Go regular expression; throws SyntaxError when JavaScript cannot compile it. */
export function compileGoRegexp(source: string): RegExp {
  let body = source;
  let flags = 'u';
  const inline = /^\(\?([ims]+)\)/.exec(body);
  if (inline) {
    body = body.slice(inline[0].length);
    for (const f of new Set(inline[1])) flags += f;
  }
  return new RegExp(body, flags);
}

/** `find.name.regexp`; an expression that does not compile is a ProviderError `Invalid`. */
export function compileNameRegexp(source: string): RegExp {
  try {
    return compileGoRegexp(source);
  } catch {
    throw new ProviderError('Invalid', `find.name.regexp "${source}" is not a valid regular expression`);
  }
}
