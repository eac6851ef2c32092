/**
 * ExternalSecret templates (`engineVersion: v2`): Go's text/template with sprig v3 and ESO's
 * own functions, rendered with `missingkey=error` against the secret data as
 * `map[string]string`, as ESO does — under a per-render budget (see budget.ts).
 *
 * A hand-written engine: no maintained JavaScript implementation of Go's text/template with
 * sprig exists (see docs/templates.md). It is an interpreter over its own value model, never
 * `eval`: nothing but the data it is given and the functions listed in docs/templates.md is
 * reachable from a template. Its output is checked against Go's own by
 * test/template/differential.test.ts.
 */
import { Budget, type BudgetLimits } from './budget.ts';
import { execute } from './exec.ts';
import { builtins } from './functions/builtins.ts';
import { esoFunctions } from './functions/eso.ts';
import { pkcs12Functions } from './functions/pkcs12.ts';
import { semverFunctions } from './functions/semver.ts';
import { sprigCrypto } from './functions/sprig-crypto.ts';
import { sprigData } from './functions/sprig-data.ts';
import { sprigDate } from './functions/sprig-date.ts';
import { sprigMisc } from './functions/sprig-misc.ts';
import { sprigRegex } from './functions/sprig-regex.ts';
import { sprigStrings } from './functions/sprig-strings.ts';
import type { FuncMap, RenderEnv } from './functions/types.ts';
import { parse } from './parser.ts';
import { GoMap, goBytes, goString, type Value } from './values.ts';

export { TemplateLimitError } from './budget.ts';
export { TemplateError } from './errors.ts';
export type { BudgetLimits, RenderEnv };

/** Every function a template can call: Go's builtins, sprig (as ESO ships it), ESO's own. */
export const FUNCS: FuncMap = (() => {
  const m: FuncMap = new Map();
  for (const part of [
    builtins(),
    sprigStrings(),
    sprigData(),
    sprigDate(),
    sprigMisc(),
    sprigCrypto(),
    sprigRegex(),
    semverFunctions(),
    esoFunctions(),
    pkcs12Functions(),
  ]) {
    for (const [k, v] of part) m.set(k, v);
  }
  return m;
})();

export interface RenderOptions {
  limits?: Partial<BudgetLimits>;
  env?: Partial<RenderEnv>;
  /**
   * A budget shared by several renders (all templates of one ExternalSecret sync), so that many
   * small templates cannot add up past the limits either. Default: a fresh one per render.
   */
  budget?: Budget;
}

export { Budget };

/** Secret data as template input: Go strings over the raw bytes (see goString). */
export function templateInput(data: Map<string, Buffer>): Record<string, string> {
  return Object.fromEntries([...data].map(([k, v]) => [k, goString(v)]));
}

/** A rendered template as the bytes Go would have written. */
export function templateBytes(rendered: string): Buffer {
  return goBytes(rendered);
}

const defaultEnv: RenderEnv = {
  now: () => new Date(),
  randomBytes: (n: number) => {
    // Lazy import keeps this module free of node:crypto at load for the parser-only callers.
    return cryptoRandom(n);
  },
};

import { randomBytes as cryptoRandom } from 'node:crypto';

/** Parse only (what admission checks): throws a TemplateError on a template Go would refuse. */
export function parseTemplate(source: string, name = 'template'): void {
  parse(name, source, (f) => FUNCS.has(f));
}

/**
 * Render `source` against `data` (the secret's keys and values, as strings). Throws a
 * TemplateError (parse or execution, Go's message shape) or a TemplateLimitError naming the
 * budget exceeded. Messages never contain values.
 */
export function renderTemplate(
  source: string,
  data: Record<string, string>,
  name = 'template',
  options: RenderOptions = {},
): string {
  const parsed = parse(name, source, (f) => FUNCS.has(f));
  const budget = options.budget ?? new Budget(options.limits);
  const root = new GoMap(new Map(Object.entries(data) as [string, Value][]), 'string');
  return execute({ name, parsed, funcs: FUNCS, budget, env: { ...defaultEnv, ...options.env } }, root);
}
