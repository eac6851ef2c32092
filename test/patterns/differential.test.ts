/**
 * The pattern engine against Go's regexp (test/oracles/regexp): for every case both compile or
 * both refuse (with Go's message), and for every input they agree on MatchString and on
 * ReplaceAllString with the case's templates — the three operations ESO performs on tenant
 * patterns. A hand-written corpus plus 1,200 generated cases (fixed seed).
 */
import t from 'tap';
import { compileGoRegexp, type GoRegexp, PatternError } from '../../src/patterns/re2.ts';
import { loadOracle } from '../oracles/oracle.ts';
import { generatedCases, HAND_CORPUS, type RegexpCase } from './regexp-corpus.ts';

interface GoInput {
  match: boolean;
  replaced?: string;
}
interface GoResult {
  error?: string;
  names?: string[];
  inputs?: GoInput[];
}

const oracle = loadOracle('regexp');

/** Our own bounds (too long, too large) refuse patterns Go may accept or refuse for another reason. */
const isBound = (reason: string) => reason.startsWith('pattern is ');

/**
 * Whether two refusals say the same. The oracle is Go 1.19; ESO builds with Go >= 1.22, whose
 * parser reads `(?<` as a named group and so reports `(?<=a)` as an invalid named capture where
 * Go 1.19 reported unsupported Perl syntax. Where the oracle got a translated pattern, the
 * quoted text differs too, so only the error kinds are compared.
 */
function sameRefusal(go: string, ours: string, translated: boolean): boolean {
  if (go === ours) return true;
  const kind = (m: string) => m.replace(/: `[\s\S]*`$/, '');
  if (translated && kind(go) === kind(ours)) return true;
  return (
    go === 'error parsing regexp: invalid or unsupported Perl syntax: `(?<`' &&
    kind(ours) === 'error parsing regexp: invalid named capture'
  );
}

/** Runs `cases` through both engines; returns a description of every disagreement. */
function differences(cases: RegexpCase[]): { mismatches: string[]; compared: number; bounded: string[] } {
  const jobs = cases.flatMap((c) =>
    (c.templates?.length ? c.templates : [undefined]).map((replace) => ({ c, replace })),
  );
  const results = oracle.run!(
    jobs.map(({ c, replace }) => ({ pattern: c.oracle ?? c.pattern, inputs: c.inputs, replace })),
  ) as GoResult[];
  const mismatches: string[] = [];
  const bounded: string[] = [];
  let compared = 0;
  jobs.forEach(({ c, replace }, k) => {
    const go = results[k]!;
    const where = `pattern ${JSON.stringify(c.pattern)}`;
    let ours: GoRegexp | undefined;
    let refused: string | undefined;
    try {
      ours = compileGoRegexp(c.pattern);
    } catch (err: unknown) {
      if (!(err instanceof PatternError)) throw err;
      refused = err.reason;
    }
    compared++;
    if (refused !== undefined && isBound(refused)) {
      bounded.push(c.pattern);
      return;
    }
    if (refused !== undefined || go.error !== undefined) {
      if (
        refused === undefined ||
        go.error === undefined ||
        !sameRefusal(go.error, refused, c.oracle !== undefined)
      ) {
        mismatches.push(`${where}: Go ${go.error ?? 'compiles'}, ours ${refused ?? 'compiles'}`);
      }
      return;
    }
    if (JSON.stringify(ours!.names) !== JSON.stringify(go.names)) {
      mismatches.push(`${where}: names Go ${JSON.stringify(go.names)}, ours ${JSON.stringify(ours!.names)}`);
    }
    c.inputs.forEach((input, i) => {
      const want = go.inputs![i]!;
      const at = `${where} on ${JSON.stringify(input)}`;
      compared++;
      const match = ours!.test(input);
      if (match !== want.match) mismatches.push(`${at}: match Go ${want.match}, ours ${match}`);
      if (replace !== undefined) {
        const replaced = ours!.replaceAll(input, replace);
        if (replaced !== want.replaced) {
          mismatches.push(
            `${at} with ${JSON.stringify(replace)}: Go ${JSON.stringify(want.replaced)}, ours ${JSON.stringify(replaced)}`,
          );
        }
      }
    });
  });
  return { mismatches, compared, bounded };
}

t.test('hand-written corpus: same answers as Go', { skip: oracle.skip ?? false }, async (t) => {
  const { mismatches, compared, bounded } = differences(HAND_CORPUS);
  t.ok(compared > 250, `compared ${compared} outcomes`);
  t.same(bounded, [], 'no hand-written pattern meets our size bounds');
  t.same(mismatches, [], mismatches.slice(0, 20).join('\n'));
});

t.test(
  'generated patterns, inputs and templates: same answers as Go',
  { skip: oracle.skip ?? false },
  async (t) => {
    const cases = generatedCases(20_261_111, 1200);
    const { mismatches, compared, bounded } = differences(cases);
    t.ok(bounded.length < 20, `${bounded.length} generated patterns met our size bounds`);
    const refusedByGo = (
      oracle.run!(cases.map((c) => ({ pattern: c.oracle ?? c.pattern, inputs: [] }))) as GoResult[]
    ).filter((r) => r.error !== undefined).length;
    // The generator must exercise both sides: mostly valid patterns, some refused ones.
    t.ok(
      refusedByGo > 50 && refusedByGo < cases.length / 2,
      `${refusedByGo} of ${cases.length} refused by Go`,
    );
    t.ok(compared > 3000, `compared ${compared} outcomes`);
    t.same(mismatches, [], mismatches.slice(0, 20).join('\n'));
  },
);
