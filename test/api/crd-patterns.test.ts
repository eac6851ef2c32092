/**
 * The character loops that stand in for the three common CRD patterns (src/api/crd-patterns.ts)
 * give RE2's answer (the engine every other pattern runs on, held to Go's regexp by
 * test/patterns/differential.test.ts) for every string of up to 4 characters over an alphabet
 * that crosses each class edge, and for longer random strings; and validation reaches them.
 */
import fc from 'fast-check';
import t from 'tap';
import { CRD_PATTERN_MATCHERS, isDnsLabel, isDnsSubdomain, isSecretKey } from '../../src/api/crd-patterns.ts';
import type { FieldError } from '../../src/api/field-errors.ts';
import { checkDnsLabel, checkDnsSubdomain, checkSecretKey } from '../../src/api/schema.ts';
import { checkSchema } from '../../src/api/schema-check.ts';
import { compileGoRegexp } from '../../src/patterns/re2.ts';

/** Each class's ends and their neighbours: `/` `0` `9` `:` `@` `A` `Z` `[` `` ` `` `a` `z` `{`. */
const ALPHABET = [
  ...'/09:@AZ[`az{',
  '-',
  '.',
  '_',
  ',',
  ' ',
  '\n',
  '\u00e9',
  '\ud800',
  '\u212a', // KELVIN SIGN, which case folding turns into "k"
];

function* strings(maxLength: number): Generator<string> {
  yield '';
  let level = [''];
  for (let n = 1; n <= maxLength; n++) {
    const next: string[] = [];
    for (const prefix of level) for (const c of ALPHABET) next.push(prefix + c);
    yield* next;
    level = next;
  }
}

t.test('each loop answers as RE2 does on its pattern', async (t) => {
  t.equal(CRD_PATTERN_MATCHERS.size, 3);
  for (const [source, matcher] of CRD_PATTERN_MATCHERS) {
    const re = compileGoRegexp(source);
    let checked = 0;
    let matched = 0;
    let wrong: string | undefined;
    for (const s of strings(4)) {
      checked++;
      const expected = re.test(s);
      if (expected) matched++;
      if (matcher(s) !== expected) {
        wrong = s;
        break;
      }
    }
    t.equal(wrong, undefined, `${source}: same answer for all ${checked} short strings`);
    t.ok(matched > 100 && matched < checked - 100, `${source}: both answers occur (${matched} matches)`);
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...ALPHABET, 'a', 'b', '1', '-', '.'), { maxLength: 80 }),
        (chars) => {
          const s = chars.join('');
          return matcher(s) === re.test(s);
        },
      ),
      { numRuns: 3000, seed: 12 },
    );
  }
});

t.test('the schema walk refuses with them what each pattern refuses', async (t) => {
  const es = (secretKey: string, store: string, target: string) => ({
    spec: {
      secretStoreRef: { name: store, kind: 'SecretStore' },
      target: { name: target },
      data: [{ secretKey, remoteRef: { key: 'k' } }],
    },
  });
  t.same(checkSchema(es('pass.word_1', 'vault.backend', 'db-1'), 'ExternalSecret', 'v1').errors, []);
  const { errors } = checkSchema(es('pass word', 'vault.', 'Db'), 'ExternalSecret', 'v1');
  t.same(
    errors.map((e) => [e.field, e.message.includes(' in body should match ')]),
    [
      ['spec.secretStoreRef.name', true],
      ['spec.target.name', true],
      ['spec.data[0].secretKey', true],
    ],
  );
});

t.test(
  "the hand-written rules' name checks are the same loops, worded as the API server words them",
  async (t) => {
    t.equal(
      CRD_PATTERN_MATCHERS.get('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'),
      isDnsSubdomain,
    );
    t.equal(CRD_PATTERN_MATCHERS.get('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'), isDnsLabel);
    t.equal(CRD_PATTERN_MATCHERS.get('^[-._a-zA-Z0-9]+$'), isSecretKey);
    const cases: [(v: string, p: string, e: FieldError[]) => boolean, string, boolean][] = [
      [checkDnsSubdomain, 'vault.backend-1', true],
      [checkDnsSubdomain, 'Vault', false],
      [checkDnsSubdomain, 'vault.', false],
      [checkDnsLabel, 'team-a', true],
      [checkDnsLabel, 'team.a', false],
      [checkSecretKey, 'tls.crt_A-1', true],
      [checkSecretKey, 'pass word', false],
      [checkSecretKey, '', false],
    ];
    for (const [check, value, valid] of cases) {
      const errors: FieldError[] = [];
      t.equal(check(value, 'spec.x', errors), valid, `${check.name}(${JSON.stringify(value)})`);
      t.same(
        errors.map((e) => [e.field, e.message.startsWith(`Invalid value: ${JSON.stringify(value)}: a `)]),
        valid ? [] : [['spec.x', true]],
      );
    }
  },
);
