/**
 * How a template function is declared: its Go parameter types (the executor checks arguments
 * against them exactly as Go's reflection does: an `int64` is not an `int`, a
 * `map[string]string` is not a `map[string]interface {}`), and a body that receives checked
 * values and a context holding the render's budget, clock and randomness.
 */
import type { Budget } from '../budget.ts';
import type { ParamType, Value } from '../values.ts';

export interface RenderEnv {
  /** The clock (`now`, `ago`, certificate validity): injected so tests are deterministic. */
  now: () => Date;
  /** Random bytes (`randAlpha`, `uuidv4`, keys, salts); crypto-strong by default. */
  randomBytes: (n: number) => Buffer;
}

export interface CallContext {
  budget: Budget;
  env: RenderEnv;
  /** `name at line L, col C`, for budget messages. */
  where: string;
  /** For each argument: true when it was written as a string literal in the template. */
  literal: boolean[];
  /** The receiver, when a method of a value is called (`now.Unix`). */
  receiver?: Value;
}

export interface GoFunc {
  params: ParamType[];
  /** Element type of a final `...T` parameter. */
  variadic?: ParamType;
  call: (args: Value[], ctx: CallContext) => Value;
}

/** An error a function returns (Go's `(T, error)`): the executor reports `error calling NAME: …`. */
export class FuncError extends Error {}

export type FuncMap = Map<string, GoFunc>;

export function fn(params: ParamType[], call: GoFunc['call'], variadic?: ParamType): GoFunc {
  return variadic === undefined ? { params, call } : { params, variadic, call };
}
