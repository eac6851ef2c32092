import t from 'tap';
import { fakeProvider } from '../../src/providers/fake/index.ts';
import type { ClientContext, ProviderClient } from '../../src/providers/types.ts';

const ctx = {} as ClientContext;
const opts = () => ({ signal: new AbortController().signal });
const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function client(data: unknown[]): Promise<ProviderClient> {
  return fakeProvider.newClient({ data } as never, ctx);
}

t.test('name and validation hook', async (t) => {
  t.equal(fakeProvider.name, 'fake');
  t.type(fakeProvider.validateStore, 'function');
});

t.test('getSecret by key and version', async (t) => {
  const c = await client([
    { key: 'k', value: 'unversioned' },
    { key: 'k', value: 'one', version: 'v1' },
    { key: 'k', value: 'two', version: 'v2' },
    { key: 'only-versioned', value: 'a', version: '1' },
    { key: 'only-versioned', value: 'b', version: '2' },
    { key: 'dup', value: 'first' },
    { key: 'dup', value: 'second' },
  ]);
  t.equal(text(await c.getSecret({ key: 'k' }, opts())), 'unversioned', 'no version: the entry without one');
  t.equal(text(await c.getSecret({ key: 'k', version: 'v1' }, opts())), 'one');
  t.equal(text(await c.getSecret({ key: 'k', version: 'v2' }, opts())), 'two');
  t.equal(
    text(await c.getSecret({ key: 'only-versioned' }, opts())),
    'b',
    'no unversioned entry: the last one',
  );
  t.equal(text(await c.getSecret({ key: 'dup' }, opts())), 'second', 'a later entry wins');
});

t.test('missing key or version: NotFound naming the key', async (t) => {
  const c = await client([{ key: 'k', value: 'CANARY-fake', version: 'v1' }]);
  await t.rejects(c.getSecret({ key: 'nope' }, opts()), {
    name: 'ProviderError',
    kind: 'NotFound',
    message: 'fake: secret "nope" does not exist',
  });
  const err = await c.getSecret({ key: 'k', version: 'v9' }, opts()).catch((e: unknown) => e as Error);
  t.match(err, { kind: 'NotFound', message: 'fake: secret "k" at version "v9" does not exist' });
  t.notOk(String((err as Error).message).includes('CANARY'));
});

t.test('valueMap is served as JSON when value is absent', async (t) => {
  const c = await client([{ key: 'm', valueMap: { user: 'u', pass: 'p' } }]);
  t.same(JSON.parse(text(await c.getSecret({ key: 'm' }, opts()))), { user: 'u', pass: 'p' });
});

t.test('entries without a key are ignored; empty spec is fine', async (t) => {
  const c = await client([{ value: 'orphan' }, null]);
  await t.rejects(c.getSecret({ key: '' }, opts()), { name: 'ProviderError', kind: 'NotFound' });
  const empty = await fakeProvider.newClient(undefined as never, ctx);
  await t.rejects(empty.getSecret({ key: 'x' }, opts()), { name: 'ProviderError', kind: 'NotFound' });
});

t.test('findSecrets by name regexp: the newest version of each matching key', async (t) => {
  const c = await client([
    { key: 'app/db', value: 'db' },
    { key: 'app/api', value: 'old', version: '1' },
    { key: 'app/api', value: 'new', version: '2' },
    { key: 'App/upper', value: 'u' },
    { key: 'other', value: 'o' },
  ]);
  const found = await c.findSecrets!({ name: { regexp: '^app/' } }, opts());
  t.same(Object.fromEntries([...found].map(([k, v]) => [k, text(v)])), { 'app/db': 'db', 'app/api': 'new' });
  const insensitive = await c.findSecrets!({ name: { regexp: '(?i)^app/' } }, opts());
  t.equal(insensitive.size, 3, 'Go inline flags are honoured');
  const anywhere = await c.findSecrets!({ name: { regexp: 'th' } }, opts());
  t.same([...anywhere.keys()], ['other'], 'unanchored match, as Go MatchString');
});

t.test('findSecrets errors are Invalid', async (t) => {
  const c = await client([{ key: 'k', value: 'v' }]);
  await t.rejects(c.findSecrets!({ tags: { a: 'b' } }, opts()), {
    kind: 'Invalid',
    message: /name.regexp only/,
  });
  await t.rejects(c.findSecrets!({ name: { regexp: '([' } }, opts()), {
    kind: 'Invalid',
    message:
      'find.name.regexp "([" is not a valid regular expression: error parsing regexp: missing closing ]: `[`',
  });
});

t.test('an aborted signal is honoured', async (t) => {
  const c = await client([{ key: 'k', value: 'v' }]);
  await t.rejects(c.getSecret({ key: 'k' }, { signal: AbortSignal.abort() }), {
    name: 'ProviderError',
    kind: 'Unavailable',
  });
  await c.close();
});
