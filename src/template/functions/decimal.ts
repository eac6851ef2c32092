/**
 * The little of shopspring/decimal that sprig's float math (addf, subf, mulf, divf) uses:
 * a float becomes its shortest decimal, sums and products are exact, a quotient is rounded to
 * 16 decimal places half away from zero, and the result is parsed back into a float64.
 */
import { FuncError } from './types.ts';

export default class Decimal {
  readonly coef: bigint;
  readonly exp: number;
  constructor(coef: bigint, exp: number) {
    this.coef = coef;
    this.exp = exp;
  }

  static fromFloat(f: number): Decimal {
    if (!Number.isFinite(f)) throw new FuncError(`Cannot create a Decimal from ${f}`);
    if (f === 0) return new Decimal(0n, 0);
    const [m, e] = Math.abs(f).toExponential().split('e') as [string, string];
    const digits = m.replace('.', '');
    const exp = Number(e) - (digits.length - 1);
    const coef = BigInt(digits);
    return new Decimal(f < 0 ? -coef : coef, exp);
  }

  private static align(a: Decimal, b: Decimal): [bigint, bigint, number] {
    const exp = Math.min(a.exp, b.exp);
    return [a.coef * 10n ** BigInt(a.exp - exp), b.coef * 10n ** BigInt(b.exp - exp), exp];
  }

  add(o: Decimal): Decimal {
    const [x, y, e] = Decimal.align(this, o);
    return new Decimal(x + y, e);
  }

  sub(o: Decimal): Decimal {
    const [x, y, e] = Decimal.align(this, o);
    return new Decimal(x - y, e);
  }

  mul(o: Decimal): Decimal {
    return new Decimal(this.coef * o.coef, this.exp + o.exp);
  }

  /** Quotient rounded to 16 places (shopspring's DivisionPrecision), half away from zero. */
  div(o: Decimal): Decimal {
    if (o.coef === 0n) throw new FuncError('decimal division by zero');
    const prec = 16;
    // this / o = (c1 / c2) * 10^(e1 - e2); scale so the integer quotient has `prec` places.
    const shift = prec + this.exp - o.exp;
    let num = this.coef;
    let den = o.coef;
    if (shift >= 0) num *= 10n ** BigInt(shift);
    else den *= 10n ** BigInt(-shift);
    let q = num / den;
    const r = num % den;
    const abs = (v: bigint) => (v < 0n ? -v : v);
    if (abs(r) * 2n >= abs(den)) q += num < 0n !== den < 0n ? -1n : 1n;
    return new Decimal(q, -prec);
  }

  toFloat(): number {
    if (this.coef === 0n) return 0;
    return Number(`${this.coef}e${this.exp}`);
  }
}
