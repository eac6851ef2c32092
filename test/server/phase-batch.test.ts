/**
 * PhaseBatch (src/server/phase-batch.ts): work added in one turn runs together, after the turn, in
 * order; a throwing item is reported and the rest still run; work added while a batch runs waits
 * for the next check phase. Ordering is observed with setImmediate markers, never with time.
 */
import t from 'tap';
import { PhaseBatch } from '../../src/server/phase-batch.ts';

const nextCheckPhase = () => new Promise<void>((resolve) => setImmediate(resolve));

t.test('work added in one turn runs in the next check phase, in order, none of it at once', async (t) => {
  const ran: string[] = [];
  const batch = new PhaseBatch((err) => t.fail(String(err)));
  for (const name of ['a', 'b', 'c']) batch.add(() => ran.push(name));
  t.same(ran, [], 'nothing runs inside add()');
  await Promise.resolve();
  t.same(ran, [], 'nor in a microtask of the same turn');
  await nextCheckPhase();
  t.same(ran, ['a', 'b', 'c']);
});

t.test('an item that throws is reported, and the items after it still run', async (t) => {
  const ran: string[] = [];
  const reported: unknown[] = [];
  const batch = new PhaseBatch((err) => reported.push(err));
  const bug = new Error('lane bug');
  batch.add(() => ran.push('first'));
  batch.add(() => {
    throw bug;
  });
  batch.add(() => ran.push('third'));
  await nextCheckPhase();
  t.same(ran, ['first', 'third']);
  t.same(reported, [bug]);
  // And the batch keeps working afterwards.
  batch.add(() => ran.push('later'));
  await nextCheckPhase();
  t.same(ran, ['first', 'third', 'later']);
});

t.test('work added while a batch runs waits for the next check phase: a run never grows', async (t) => {
  const ran: string[] = [];
  const batch = new PhaseBatch((err) => t.fail(String(err)));
  let addedLater = false;
  batch.add(() => {
    ran.push('one');
    batch.add(() => ran.push('added while running'));
    addedLater = true;
  });
  batch.add(() => {
    t.ok(addedLater);
    t.notOk(ran.includes('added while running'), 'not run within the batch that added it');
    ran.push('two');
  });
  await nextCheckPhase();
  t.same(ran, ['one', 'two']);
  await nextCheckPhase();
  t.same(ran, ['one', 'two', 'added while running']);
});
