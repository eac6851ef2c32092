/**
 * String interning for the informer caches: values unchanged, unique fields and long strings left
 * alone, the table bounded (emptied when full) whatever the objects hold.
 */
import t from 'tap';
import {
  INTERN_MAX_ENTRIES,
  INTERN_MAX_LENGTH,
  intern,
  internedCount,
  internStrings,
} from '../../src/kube/intern.ts';

const es = (i: number) =>
  JSON.parse(
    JSON.stringify({
      apiVersion: 'external-secrets.io/v1',
      kind: 'ExternalSecret',
      metadata: {
        name: `es-${i}`,
        namespace: 'team-a',
        uid: `uid-${i}`,
        resourceVersion: String(1000 + i),
        labels: { app: 'db' },
        annotations: { note: 'x'.repeat(INTERN_MAX_LENGTH + 1) },
      },
      spec: { data: [{ secretKey: 'password', remoteRef: { key: 'app/db', property: 'password' } }] },
      status: {
        conditions: [{ type: 'Ready', status: 'True', reason: 'SecretSynced' }],
        refreshTime: '2026-12-02T14:00:00Z',
      },
    }),
  ) as Record<string, unknown>;

t.test('values are unchanged; names, uids, resourceVersions and long strings are not kept', async (t) => {
  const before = internedCount();
  const a = es(1);
  const copy = structuredClone(a);
  t.equal(internStrings(a), a, 'in place');
  t.same(a, copy, 'the same values');
  const kept = internedCount() - before;
  // apiVersion, kind, namespace, app label value, secretKey/property ('password' once), key,
  // type, status, reason, refreshTime: the short shared values, none of the unique ones.
  t.ok(kept > 0 && kept <= 11, `the short shared values only (${kept})`);
  internStrings(es(2));
  t.equal(internedCount() - before, kept, 'a second object of the same shape adds nothing');
  t.equal(intern('x'.repeat(INTERN_MAX_LENGTH + 1)).length, INTERN_MAX_LENGTH + 1);
  t.equal(internedCount() - before, kept, 'a long string is returned, not kept');
});

t.test(
  "ESO's syncedResourceVersion (58 characters) is kept: one copy for the objects sharing it",
  async (t) => {
    const synced = `3-${'0123456789abcdef'.repeat(4).slice(0, 56)}`;
    const before = internedCount();
    intern(synced);
    intern(`3-${'0123456789abcdef'.repeat(4).slice(0, 56)}`);
    t.equal(internedCount() - before, 1);
  },
);

t.test('the table is bounded: emptied when full, values still right', async (t) => {
  let wrong = 0;
  for (let i = 0; i < INTERN_MAX_ENTRIES + 10; i++) if (intern(`v-${i}`) !== `v-${i}`) wrong++;
  t.equal(wrong, 0, 'every value returned as given');
  t.ok(internedCount() <= INTERN_MAX_ENTRIES, `at most ${INTERN_MAX_ENTRIES} (${internedCount()})`);
  const deep: Record<string, unknown> = {};
  let cur = deep;
  for (let d = 0; d < 50; d++) {
    const next: Record<string, unknown> = { v: `depth-${d}` };
    cur.next = next;
    cur = next;
  }
  const copy = structuredClone(deep);
  internStrings(deep);
  t.same(deep, copy, 'deep nesting: walked to a bound, values unchanged');
});
