/**
 * ESO's duplicate secretKey rule (deletionPolicy Retain, the default): every entry whose key an
 * earlier entry has is refused, by index — the same answer for a few entries (compared pairwise)
 * and for many (a Set). Fixed text.
 */
import t from 'tap';
import { validateObject } from '../../src/api/validate.ts';

function es(keys: (string | null)[]) {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name: 'es', namespace: 'ns' },
    spec: {
      secretStoreRef: { name: 'store' },
      data: keys.map((secretKey) => ({
        ...(secretKey === null ? {} : { secretKey }),
        remoteRef: { key: 'k' },
      })),
    },
  };
}

const duplicates = (keys: (string | null)[]) =>
  validateObject(es(keys))
    .errors.filter((e) => e.reason === 'FieldValueDuplicate')
    .map((e) => `${e.field}: ${e.message}`);

t.test('a few entries', async (t) => {
  t.same(duplicates(['a', 'b', 'a', null, 'b', 'a']), [
    'spec.data[2].secretKey: Duplicate value: "a"',
    'spec.data[4].secretKey: Duplicate value: "b"',
    'spec.data[5].secretKey: Duplicate value: "a"',
  ]);
  t.same(duplicates(['a', 'b', 'c']), []);
});

t.test('many entries', async (t) => {
  const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', null, 'a', 'i', 'j', 'j'];
  t.same(duplicates(keys), [
    'spec.data[10].secretKey: Duplicate value: "a"',
    'spec.data[11].secretKey: Duplicate value: "i"',
    'spec.data[13].secretKey: Duplicate value: "j"',
  ]);
});
