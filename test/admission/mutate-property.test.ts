/**
 * Generated placeholder Secrets: literal text, `$`, `{`, `}` and references mixed in any order,
 * spread over `data`, `stringData` and GitOps annotations. For every one: the filled values are
 * the expected substitution, the patch holds no `${ref:`, the stored Secret passes the guard, and
 * a reinvocation with the stored Secret gets no patch.
 */
import fc from 'fast-check';
import t from 'tap';
import { mutateSecret } from '../../src/admission/mutate.ts';
import { guardSecret } from '../../src/admission/secret-guard.ts';
import type { RemoteRef, SecretStore } from '../../src/api/types.ts';
import { EswError } from '../../src/errors.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import type { Resolver } from '../../src/resolve/types.ts';
import { applyPatch, b64, decodedData, fixture, patchText } from './mutate-helpers.ts';

const REMOTE: Record<string, Record<string, string>> = {
  'app/db': { user: 'db_user', pass: 'p@ss{w}$rd', '': '{"user":"db_user"}' },
  'app/key': { '': 'k-123' },
  'team/x.y': { 'a.b': 'dotted', '': '{"a.b":"dotted"}' },
};

const resolver: Resolver = {
  checkStore: () => ({}) as SecretStore,
  async getValue(_s, _n, ref: RemoteRef) {
    // gjson: `a\.b` is the key `a.b`
    const v = REMOTE[ref.key ?? '']?.[(ref.property ?? '').replaceAll('\\.', '.')];
    if (v === undefined) throw new EswError('ESW_SECRET_NOT_FOUND', `remote secret "${ref.key}" not found`);
    return Buffer.from(v);
  },
  getMap: async () => new Map(),
  find: async () => new Map(),
  close: async () => {},
};

type Piece = { text: string } | { key: string; property: string };

const literal = fc
  .string({ unit: fc.constantFrom('a', 'b', ' ', '$', '{', '}', '#', ':', '/', 'é', '\n'), maxLength: 8 })
  .filter((s) => !s.includes('${'));
const reference = fc.constantFrom(
  ...Object.entries(REMOTE).flatMap(([key, props]) =>
    Object.keys(props).map((property) => ({ key, property: property.replaceAll('.', '\\.') })),
  ),
);
const value = fc.array(
  fc.oneof(
    literal.map((text) => ({ text })),
    reference,
  ),
  { minLength: 1, maxLength: 5 },
);
const secretKey = fc.stringMatching(/^[a-z][a-z0-9.-]{0,6}$/);

function source(pieces: Piece[]): string {
  return pieces
    .map((p) => ('text' in p ? p.text : `\${ref:${p.key}${p.property ? `#${p.property}` : ''}}`))
    .join('');
}

function expected(pieces: Piece[]): string {
  return pieces
    .map((p) => ('text' in p ? p.text : (REMOTE[p.key]?.[p.property.replaceAll('\\.', '.')] ?? '')))
    .join('');
}

t.test('generated placeholder Secrets fill, pass the guard and are idempotent', async (t) => {
  let checked = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.dictionary(secretKey, fc.tuple(value, fc.constantFrom('data', 'stringData', 'annotation'))),
      async (spec) => {
        const req = fixture('create-single');
        const data: Record<string, string> = {};
        const stringData: Record<string, string> = {};
        const annotations = req.object.metadata?.annotations as Record<string, string>;
        const want: Record<string, string> = {};
        for (const [k, [pieces, where]] of Object.entries(spec)) {
          const one = pieces[0];
          if (where === 'annotation' && pieces.length === 1 && one && !('text' in one)) {
            annotations[`ref.esw.io/${k}`] = `${one.key}${one.property ? `#${one.property}` : ''}`;
          } else if (where === 'stringData') {
            stringData[k] = source(pieces);
          } else {
            data[k] = b64(source(pieces));
          }
          want[k] = expected(pieces);
        }
        req.object.data = data;
        if (Object.keys(stringData).length > 0) req.object.stringData = stringData;
        const result = await mutateSecret(req, { resolver, logger: silentLogger() });
        if (!result.allowed) throw new Error(`refused: ${result.status?.message}`);
        const hasRefs = Object.values(spec).some(([pieces]) => pieces.some((p) => !('text' in p)));
        if (!hasRefs) {
          // Nothing to resolve: passed through untouched.
          if (result.patch !== undefined) throw new Error('a Secret without references was patched');
          checked++;
          return;
        }
        if (patchText(result).includes('${ref:')) throw new Error('literal placeholder in the patch');
        const stored = applyPatch(req.object, result);
        const got = decodedData(stored);
        if (JSON.stringify(got, Object.keys(got).sort()) !== JSON.stringify(want, Object.keys(want).sort())) {
          throw new Error(`filled ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
        }
        if (stored.stringData !== undefined) throw new Error('stringData left');
        if (!guardSecret({ ...req, object: stored }).allowed) throw new Error('the guard refuses the result');
        const again = await mutateSecret({ ...req, object: stored }, { resolver, logger: silentLogger() });
        if (again.patch !== undefined || !again.allowed) throw new Error('reinvocation patched again');
        checked++;
      },
    ),
    { numRuns: 400, seed: 7 },
  );
  t.equal(checked, 400, '400 generated Secrets checked');
});
