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

t.test('holes in data or syncWindows are skipped, as forEach skipped them', async (t) => {
  const object = es(['a', 'a']);
  const data: unknown[] = [];
  data[1] = object.spec.data[0];
  data[3] = object.spec.data[1];
  const windows: unknown[] = [];
  windows[1] = { schedule: '* * * * *', duration: '0s' };
  Object.assign(object.spec, { data, syncWindows: { kind: 'allow', windows } });
  const result = validateObject(object);
  t.same(
    result.errors.map((e) => `${e.field}: ${e.message}`),
    ['spec.data[3].secretKey: Duplicate value: "a"'],
  );
  t.same(result.warnings, [
    'spec.syncWindows.windows[1].duration 0s is not positive: the window never stays open',
  ]);
});
