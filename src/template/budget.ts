/**
 * The memory and time budget of one render. A template is tenant input: `repeat`, `replace`,
 * `join`, `until`, a printf width or a list of lists can each ask for gigabytes from a few
 * bytes of source. Every function computes the size of what it is about to build and asks the
 * budget first; nothing large is allocated and then measured.
 *
 * Limits (per render):
 * - `valueBytes`: any single value — a string, a list, a dict (counted with its contents) — and
 *   the printed output;
 * - `totalBytes`: everything the render allocates, added up (values are never freed early, so a
 *   loop that builds and drops 1 MiB strings still runs out);
 * - `steps`: actions, pipeline commands, function calls and range iterations;
 * - `depth`: nested `template` calls and parenthesised pipelines;
 * - `regexScan`: characters regular expression searches may scan (a search scans at most from
 *   where it starts to the end of the text; a pattern matching often in a long text adds up);
 * - `keys` and `hashes`: key generations (`genPrivateKey`, `genCA`…) and deliberately slow
 *   password hashes (`bcrypt`, `htpasswd`, `derivePassword`), which cost 0.1 to 2 s of CPU each.
 *
 * Exceeding one throws a {@link TemplateLimitError} naming the limit and where it was hit, e.g.
 * `template exceeded its 1 MiB value budget in repeat at line 1, col 14`. Messages carry
 * sizes and positions, never values.
 */
import { EswError } from '../errors.ts';

export interface BudgetLimits {
  valueBytes: number;
  totalBytes: number;
  steps: number;
  depth: number;
  keys: number;
  hashes: number;
  regexScan: number;
}

export const DEFAULT_LIMITS: BudgetLimits = Object.freeze({
  valueBytes: 1024 * 1024,
  totalBytes: 16 * 1024 * 1024,
  steps: 250_000,
  depth: 100,
  keys: 4,
  hashes: 8,
  regexScan: 4 * 1024 * 1024,
});

export type LimitName = 'value' | 'total' | 'steps' | 'depth' | 'keys' | 'hashes' | 'regexScan';

export class TemplateLimitError extends EswError {
  readonly limit: LimitName;
  constructor(limit: LimitName, message: string) {
    super('ESW_TEMPLATE', message);
    this.limit = limit;
  }
}

function human(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

export class Budget {
  readonly limits: BudgetLimits;
  allocated = 0;
  steps = 0;
  depth = 0;
  constructor(limits: Partial<BudgetLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  describe(limit: LimitName): string {
    switch (limit) {
      case 'value':
        return `${human(this.limits.valueBytes)} value budget`;
      case 'total':
        return `${human(this.limits.totalBytes)} allocation budget`;
      case 'steps':
        return `${this.limits.steps} evaluation step budget`;
      case 'depth':
        return `nesting depth of ${this.limits.depth}`;
      case 'keys':
        return `budget of ${this.limits.keys} key generations`;
      case 'hashes':
        return `budget of ${this.limits.hashes} password hashes`;
      case 'regexScan':
        return `budget of ${human(this.limits.regexScan)} scanned by regular expression searches`;
    }
  }

  fail(limit: LimitName, where: string): never {
    throw new TemplateLimitError(
      limit,
      `template exceeded its ${this.describe(limit)}${where ? ` in ${where}` : ''}`,
    );
  }

  /** One unit of work (an action, a command, a call, an iteration). */
  step(where: string, n = 1): void {
    this.steps += n;
    if (this.steps > this.limits.steps) this.fail('steps', where);
  }

  /** About to build a value of `bytes`: refuse it if it is too large or the render is spent. */
  checkValue(bytes: number, where: string): void {
    if (!(bytes <= this.limits.valueBytes)) this.fail('value', where);
  }

  /** Account for `bytes` about to be allocated (after checking the single-value limit). */
  alloc(bytes: number, where: string): void {
    this.checkValue(bytes, where);
    this.allocated += bytes;
    if (this.allocated > this.limits.totalBytes) this.fail('total', where);
  }

  keys = 0;
  hashes = 0;

  /** One expensive operation (a key generation, a slow password hash), counted before it runs. */
  expensive(kind: 'keys' | 'hashes', where: string): void {
    this[kind]++;
    if (this[kind] > this.limits[kind]) this.fail(kind, where);
  }

  regexScanned = 0;

  /** A regular expression search about to scan up to `chars` characters. */
  scan(chars: number, where: string): void {
    this.regexScanned += chars;
    if (this.regexScanned > this.limits.regexScan) this.fail('regexScan', where);
  }

  enter(where: string): void {
    this.depth++;
    if (this.depth > this.limits.depth) this.fail('depth', where);
  }

  leave(): void {
    this.depth--;
  }
}
