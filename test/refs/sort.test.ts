/**
 * sortByText sorts as Array#sort does for any length (insertion up to 16 items, Array#sort
 * beyond): the order the data hash and the refs record are written in depends on it.
 */
import fc from 'fast-check';
import t from 'tap';
import { sortByText } from '../../src/refs/sort.ts';

t.test('the same order as Array#sort, stable, for short and long lists', async (t) => {
  const key = fc.string({
    unit: fc.constantFrom('a', 'b', 'B', '.', '-', '_', '1', 'é', '😀'),
    maxLength: 4,
  });
  fc.assert(
    fc.property(fc.array(fc.tuple(key, fc.nat()), { maxLength: 40 }), (items) => {
      const got = sortByText([...items], (item) => item[0]);
      const want = [...items].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      return JSON.stringify(got) === JSON.stringify(want);
    }),
    { numRuns: 3000, seed: 5 },
  );
  t.same(
    sortByText(['url', 'password', 'username'], (k) => k),
    ['password', 'url', 'username'],
  );
  t.same(
    sortByText(['b', 'B', 'a', '_'], (k) => k),
    ['B', '_', 'a', 'b'],
    'code units, as Array#sort',
  );
});
