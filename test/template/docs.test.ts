/**
 * docs/templates.md lists every function a template can call: the list is checked against the
 * engine's function table, so the documentation cannot drift from what admission accepts.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { FUNCS } from '../../src/template/index.ts';

t.test('docs/templates.md lists exactly the functions the engine offers', async (t) => {
  const doc = readFileSync(new URL('../../docs/templates.md', import.meta.url), 'utf8');
  const at = doc.indexOf('every name a template can call today:');
  t.ok(at >= 0, 'the list is in the document');
  const line = doc.slice(at).split('\n\n')[1] ?? '';
  const listed = [...line.matchAll(/`([A-Za-z0-9_]+)`/g)].map((m) => m[1]);
  t.same(listed, [...FUNCS.keys()].sort(), 'same names, sorted');
});
