/**
 * The schema walk (src/api/schema-check.ts), specialised per kind and version with paths built
 * only for messages, answers exactly as the generic walk it replaced (schema-check-reference.ts):
 * the same errors, warnings and unknown fields, byte for byte, on objects generated from the
 * schema tables themselves — valid values, defaults, wrong types, enum misses, bounds, unknown
 * and long keys, map keys that need quoting, nulls, holes — with and without hand-written errors
 * above or on the fields (which quiet the schema's own).
 */
import t from 'tap';
import { CauseType, type FieldError } from '../../src/api/field-errors.ts';
import { checkSchema } from '../../src/api/schema-check.ts';
import { SCHEMA_VERSIONS, type SchemaNode, schemaTree } from '../../src/api/schema-table.ts';
import { VALIDATED_KINDS } from '../../src/api/validate.ts';
import { rng } from '../rng.ts';
import { referenceCheckSchema } from './schema-check-reference.ts';

const OBJECTS_PER_TABLE = Number(process.env.DIFF_OBJECTS ?? 250);
const MAX_DEPTH = 9;

const ODD_VALUES: unknown[] = [null, 'text', '', 7, -1, 1.5, 2 ** 31, true, false, [], {}, ['x'], { a: 1 }];
const ODD_STRINGS = [
  '',
  'a',
  'Owner',
  'not valid!',
  'YWJj',
  'YWJ',
  'é'.repeat(70),
  'x'.repeat(300),
  '0',
  '1h',
];
const ODD_KEYS = [
  'unknwn',
  'nmae',
  'kind ',
  'x'.repeat(80),
  'tls.crt',
  'a"b]c',
  '',
  '__proto__x',
  '0',
  'constructor',
  'toString',
];

function generator(seed: number) {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const paths: string[] = [];

  function value(node: SchemaNode, path: string, depth: number): unknown {
    paths.push(path);
    const s = node.schema;
    const roll = r();
    if (roll < 0.08) return pick(ODD_VALUES);
    if (roll < 0.14 && s.default !== undefined) return structuredClone(s.default);
    if (s.enum && r() < 0.7) return r() < 0.85 ? pick(s.enum) : 'NotInTheEnum';
    const type = s.intOrString ? pick(['integer', 'string'] as const) : s.type;
    switch (type) {
      case 'string':
        if (s.minLength !== undefined && r() < 0.3) return 'y'.repeat(Math.max(0, s.minLength - 1));
        if (s.maxLength !== undefined && r() < 0.3) return 'z'.repeat(s.maxLength + 1);
        return r() < 0.5 ? pick(ODD_STRINGS) : `name-${Math.floor(r() * 100)}`;
      case 'integer':
      case 'number': {
        const edges = [s.minimum, s.maximum].filter((v): v is number => v !== undefined);
        if (edges.length > 0 && r() < 0.5) return pick(edges) + pick([-1, 0, 1]);
        return pick([0, 1, -5, 30, 2 ** 31, 2.5]);
      }
      case 'boolean':
        return r() < 0.5;
      case 'array': {
        if (!node.items || depth >= MAX_DEPTH) return [];
        const n = Math.floor(r() * 4);
        const items: unknown[] = [];
        for (let i = 0; i < n; i++) items.push(value(node.items, `${path}[${i}]`, depth + 1));
        // A hole, as a hand-made object may have one.
        if (n > 0 && r() < 0.05) delete items[0];
        return items;
      }
      default:
        return depth >= MAX_DEPTH ? {} : object(node, path, depth);
    }
  }

  function object(node: SchemaNode, path: string, depth: number): Record<string, unknown> {
    const o: Record<string, unknown> = {};
    const at = (key: string) => (path ? `${path}.${key}` : key);
    for (const [key, child] of node.children) {
      // Big objects stay sparse (a store's schema has dozens of providers).
      if (r() < Math.min(0.6, 4 / node.children.size)) o[key] = value(child, at(key), depth + 1);
    }
    if (node.values) {
      const n = Math.floor(r() * 3);
      for (let i = 0; i < n; i++) {
        const key = pick(ODD_KEYS);
        o[key] = value(node.values, `${path}[${JSON.stringify(key)}]`, depth + 1);
      }
    }
    if (r() < 0.15) o[pick(ODD_KEYS)] = pick(ODD_VALUES);
    return o;
  }

  return {
    object: (root: SchemaNode) => {
      paths.length = 0;
      const o = object(root, '', 0);
      if (r() < 0.2) Object.assign(o, { apiVersion: 'x', kind: 'y', metadata: { name: 'm' }, status: 1 });
      return o;
    },
    /** Hand-written errors on some of the object's fields, or none. */
    handErrors: (): FieldError[] => {
      if (paths.length === 0 || r() < 0.5) return [];
      const n = 1 + Math.floor(r() * 3);
      return Array.from({ length: n }, () => ({
        field: pick(paths),
        message: 'Invalid value: hand-written',
        reason: CauseType.invalid,
      }));
    },
  };
}

t.test('the specialised walk answers as the generic one, byte for byte', async (t) => {
  const seen = { errors: 0, warnings: 0, unknown: 0, quieted: 0, objects: 0 };
  let seed = 20261203;
  for (const kind of VALIDATED_KINDS) {
    for (const version of SCHEMA_VERSIONS) {
      const root = schemaTree(kind, version);
      const gen = generator(seed++);
      let differences = 0;
      for (let i = 0; i < OBJECTS_PER_TABLE; i++) {
        const obj = gen.object(root);
        const hand = gen.handErrors();
        const want = referenceCheckSchema(obj, kind, version, hand);
        const got = checkSchema(obj, kind, version, hand);
        const same = JSON.stringify(got) === JSON.stringify(want);
        if (!same && differences++ < 3) {
          t.strictSame(
            got,
            want,
            `${kind} ${version} #${i}: ${JSON.stringify({ obj, hand }).slice(0, 2000)}`,
          );
        }
        seen.objects++;
        seen.errors += want.errors.length;
        seen.warnings += want.warnings.length;
        seen.unknown += want.unknownFields.length;
        if (
          hand.length > 0 &&
          JSON.stringify(referenceCheckSchema(obj, kind, version)) !== JSON.stringify(want)
        )
          seen.quieted++;
      }
      t.equal(differences, 0, `${kind} ${version}: ${OBJECTS_PER_TABLE} objects, no difference`);
    }
  }
  // The corpus reaches every kind of finding (a generator that made only valid objects, or
  // none the hand-written errors quiet, would compare nothing of interest).
  t.ok(seen.errors > seen.objects, `errors: ${seen.errors}`);
  t.ok(seen.warnings > 0, `warnings: ${seen.warnings}`);
  t.ok(seen.unknown > 0, `unknown fields: ${seen.unknown}`);
  t.ok(seen.quieted > 0, `objects whose findings hand-written errors changed: ${seen.quieted}`);
});
