/**
 * The render memo and the all-cached path of /mutate, through the real StoreResolver: a repeated
 * manifest reuses its result only while the store, its namespace rules, the cached values and
 * the credential Secrets are what they were; anything else goes back through the resolver.
 * Each test first proves the memo served a request (`hits`), then changes one thing and checks
 * the answer follows it.
 */
import t, { type Test } from 'tap';
import { type MutateDeps, mutateSecret } from '../../src/admission/mutate.ts';
import {
  MEMO_MAX_ENTRIES,
  MEMO_PROBE_AFTER,
  MEMO_REST_AFTER,
  MutationMemo,
} from '../../src/admission/mutate-memo.ts';
import { sameJson } from '../../src/admission/same-json.ts';
import type { AdmissionRequest } from '../../src/admission/types.ts';
import type { Secret } from '../../src/api/types.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { harness, namespace, secret, store } from '../resolve/fixtures.ts';
import { applyPatch, b64, decodedData } from './mutate-helpers.ts';

const TTL_MS = 30_000;

function placeholder(
  opts: { name?: string; namespace?: string; store?: string; kind?: string; value?: string } = {},
): AdmissionRequest & { object: Secret } {
  const ns = opts.namespace ?? 'apps';
  return {
    uid: `uid-${Math.random()}`,
    kind: { group: '', version: 'v1', kind: 'Secret' },
    resource: { group: '', version: 'v1', resource: 'secrets' },
    operation: 'CREATE',
    namespace: ns,
    object: {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: opts.name ?? 'db',
        namespace: ns,
        labels: { 'esw.io/inject': 'true' },
        annotations: {
          'esw.io/store': opts.store ?? 's',
          ...(opts.kind ? { 'esw.io/store-kind': opts.kind } : {}),
        },
      },
      data: {
        password: b64(opts.value ?? '${ref:db#password}'),
        url: b64('postgres://${ref:db#user}@db:5432/app'),
      },
    },
  };
}

function setup(t: Test) {
  const h = harness(t, { cacheTtlMs: TTL_MS });
  h.provider.set('db', JSON.stringify({ user: 'u1', password: 'p1' }));
  h.registry.upsert(store('SecretStore', 's', 'apps', { counting: { tag: 'one' } }));
  const memo = new MutationMemo();
  const deps: MutateDeps = { resolver: h.resolver, logger: silentLogger(), memo };
  const fill = async (req = placeholder()) => {
    const result = await mutateSecret(req, deps);
    return { result, data: result.allowed ? decodedData(applyPatch(req.object, result)) : undefined };
  };
  return { h, memo, deps, fill };
}

t.test('a repeated manifest reuses its result, synchronously and with no provider call', async (t) => {
  const { h, memo, deps, fill } = setup(t);
  const first = await fill();
  t.same(first.data, { password: 'p1', url: 'postgres://u1@db:5432/app' });
  t.equal(memo.hits, 0);
  t.equal(h.provider.calls.getSecret, 1);

  const req = placeholder();
  const again = mutateSecret(req, deps);
  t.notOk(again instanceof Promise, 'answered without a promise');
  t.equal(memo.hits, 1, 'served from the memo (another request: another uid, an equal Secret)');
  t.same(again, first.result, 'the same answer');
  t.equal(h.provider.calls.getSecret, 1, 'no provider call');
  t.ok(Object.isFrozen(again), 'kept results are frozen: callers cannot change what is kept');
  t.equal(mutateSecret(placeholder(), deps), again, 'the kept result itself, shared');
});

t.test('a render and a reuse are logged at debug, with counts and no value', async (t) => {
  const { h, memo } = setup(t);
  const deps: MutateDeps = { resolver: h.resolver, logger: h.logger, memo };
  await mutateSecret(placeholder(), deps);
  mutateSecret(placeholder(), deps);
  const filled = h.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'placeholder Secret filled');
  t.same(
    filled.map((l) => [l.keys, l.references, l.reused]),
    [
      [2, 2, undefined],
      [2, 2, true],
    ],
  );
  t.notOk(h.logs.join('').includes('p1'), 'no value');
});

t.test('without a memo the all-cached path still answers synchronously, identically', async (t) => {
  const { h, fill } = setup(t);
  const first = await fill();
  const plain: MutateDeps = { resolver: h.resolver, logger: silentLogger() };
  const again = mutateSecret(placeholder(), plain);
  t.notOk(again instanceof Promise, 'every reference was in the cache');
  t.same(again, first.result);
});

t.test('a changed store is never served from the memo', async (t) => {
  const { h, memo, fill } = setup(t);
  await fill();
  await fill();
  t.equal(memo.hits, 1);
  h.provider.set('db', JSON.stringify({ user: 'u2', password: 'p2' }));
  h.registry.upsert(store('SecretStore', 's', 'apps', { counting: { tag: 'two' } }, { generation: 2 }));
  const after = await fill();
  t.same(after.data, { password: 'p2', url: 'postgres://u2@db:5432/app' }, 'the new store answers');
  t.equal(h.provider.calls.newClient, 2, 'through a new client');
  t.equal(memo.hits, 1, 'not from the memo');

  h.registry.remove(store('SecretStore', 's', 'apps', {}));
  const gone = await fill();
  t.equal(gone.result.allowed, false, 'a deleted store refuses the Secret');
  t.match(gone.result.status?.message, /ESW_STORE_NOT_FOUND/);
});

t.test('a namespace rule that changed is never served from the memo', async (t) => {
  const { h, memo, fill } = setup(t);
  h.registry.upsert(
    store(
      'ClusterSecretStore',
      'shared',
      undefined,
      { counting: { tag: 'c' } },
      {
        conditions: [{ namespaceSelector: { matchLabels: { team: 'a' } } }],
      },
    ),
  );
  h.registry.upsert(namespace('apps', { team: 'a' }));
  const req = () => placeholder({ store: 'shared', kind: 'ClusterSecretStore' });
  t.equal((await fill(req())).result.allowed, true);
  t.equal((await fill(req())).result.allowed, true);
  t.equal(memo.hits, 1);

  h.registry.upsert(namespace('apps', { team: 'b' }));
  const denied = await fill(req());
  t.equal(denied.result.allowed, false, 'the namespace lost its label: refused');
  t.match(denied.result.status?.message, /ESW_STORE_FORBIDDEN/);
  t.equal(memo.hits, 1);

  h.registry.upsert(namespace('apps', { team: 'a' }));
  t.equal((await fill(req())).result.allowed, true, 'allowed again');
});

t.test('a value that changed is served as the cache serves it, and never after it expires', async (t) => {
  const { h, memo, fill } = setup(t);
  await fill();
  h.provider.set('db', JSON.stringify({ user: 'u1', password: 'p2' }));
  const cached = await fill();
  t.same(cached.data?.password, 'p1', 'within the cache TTL the cached value is used (as without a memo)');
  t.equal(memo.hits, 1);

  h.clock.now += TTL_MS + 1;
  const fresh = await fill();
  t.same(fresh.data, { password: 'p2', url: 'postgres://u1@db:5432/app' }, 'expired: fetched again');
  t.equal(h.provider.calls.getSecret, 2);
  t.equal(memo.hits, 1, 'not from the memo');
  t.same((await fill()).data, fresh.data, 'the new result is kept in turn');
  t.equal(memo.hits, 2);
});

t.test('esw.io/data-from: a changed map is never served from the memo', async (t) => {
  const { h, memo, fill } = setup(t);
  // Only data-from: nothing else in the Secret can make the memo miss.
  const req = () => {
    const r = placeholder();
    (r.object.metadata?.annotations as Record<string, string>)['esw.io/data-from'] = 'extra';
    r.object.data = { literal: b64('kept') };
    return r;
  };
  h.provider.set('extra', JSON.stringify({ a: '1' }));
  t.same((await fill(req())).data?.a, '1');
  t.same((await fill(req())).data?.a, '1');
  t.equal(memo.hits, 1);
  h.provider.set('extra', JSON.stringify({ a: '1', b: '2' }));
  h.clock.now += TTL_MS + 1;
  t.same((await fill(req())).data?.b, '2', 'the new map');
  t.equal(memo.hits, 1);
});

t.test('a changed credential Secret is never served from the memo', async (t) => {
  const h = harness(t, { cacheTtlMs: TTL_MS });
  h.provider.set('db', JSON.stringify({ user: 'u1', password: 'p1' }));
  h.registry.upsert(secret('apps', 'creds', { token: 'tok-1' }));
  h.registry.upsert(
    store('SecretStore', 's', 'apps', { counting: { secretRef: { name: 'creds', key: 'token' } } }),
  );
  const memo = new MutationMemo();
  const deps: MutateDeps = { resolver: h.resolver, logger: silentLogger(), memo };
  const fill = async () => {
    const req = placeholder();
    return decodedData(applyPatch(req.object, await mutateSecret(req, deps)));
  };
  await fill();
  await fill();
  t.equal(memo.hits, 1);

  // What the rotated credentials can read differs: the new answer must come through them.
  h.provider.set('db', JSON.stringify({ user: 'u1', password: 'p-rotated' }));
  const rotated = secret('apps', 'creds', { token: 'tok-2' }) as Secret;
  h.registry.upsert(rotated);
  h.resolver.credentialsChanged('apps', 'creds', rotated);
  t.same((await fill()).password, 'p-rotated');
  t.same(h.provider.calls.credentials, ['tok-1', 'tok-2'], 'a new client with the new credentials');
  t.equal(memo.hits, 1, 'not from the memo');
});

t.test('the key holds everything the result depends on', async (t) => {
  const { h, memo, fill } = setup(t);
  h.registry.upsert(store('SecretStore', 's', 'other', { counting: { tag: 'one' } }));
  h.provider.set('db2', JSON.stringify({ user: 'x', password: 'y' }));
  await fill();
  const otherNs = await fill(placeholder({ namespace: 'other' }));
  t.equal(memo.hits, 0, "another namespace: its own store's values, not this one's result");
  t.equal(otherNs.result.allowed, true);
  const otherValue = await fill(placeholder({ value: '${ref:db2#password}' }));
  t.same(otherValue.data?.password, 'y', 'another template is another key');

  const update = placeholder();
  update.operation = 'UPDATE';
  update.oldObject = structuredClone(update.object);
  t.equal((await fill(update)).result.allowed, true);
  t.equal(memo.hits, 0, 'an UPDATE is another key');

  const withStringData = placeholder();
  withStringData.object.stringData = { extra: 'plain' };
  t.same((await fill(withStringData)).data?.extra, 'plain');
  t.equal(memo.hits, 0);

  // The same name (the same slot), the same data in another order: the patch follows the order.
  const reordered = placeholder();
  const { password, url } = reordered.object.data as Record<string, string>;
  reordered.object.data = { url: url as string, password: password as string };
  const first = await fill(reordered);
  t.equal(memo.hits, 0, 'another key order is another input');
  t.same(await fill(structuredClone(reordered)), first, 'and is kept as such');
  t.equal(memo.hits, 1);
});

t.test(
  'a new entry is kept as JSON text; its first reuse answers from the text, later ones from a copy',
  async (t) => {
    const { memo, fill } = setup(t);
    const first = await fill();
    t.same(await fill(), first, 'the text equals the same manifest again');
    t.same(await fill(), first, 'and the copy made then');
    t.equal(memo.hits, 2);
    const other = await fill(placeholder({ value: '${ref:db#user}' }));
    t.same(other.data?.password, 'u1', 'another manifest in the same slot is rendered');
    t.same(await fill(placeholder({ value: '${ref:db#user}' })), other);
    t.equal(memo.hits, 3);
    t.same((await fill()).data?.password, 'p1', 'and the first one is no longer answered from it');
    t.equal(memo.hits, 3);
  },
);

t.test("a miss's JSON text is kept only for the request it was written of", async (t) => {
  const { h, memo, deps, fill } = setup(t);
  h.provider.set('slow', JSON.stringify({ password: 's1' }));
  await fill();
  // A's key is not cached: its render waits for the provider while B, in the same slot, misses
  // the text entry (its text written) and is answered at once without being kept (nothing to fill).
  const a = placeholder({ value: '${ref:slow#password}' });
  const pending = mutateSecret(a, deps);
  t.ok(pending instanceof Promise, 'A waits for the provider');
  const b = () => {
    const r = placeholder();
    r.object.data = { literal: b64('kept') };
    return r;
  };
  const answeredB = mutateSecret(b(), deps);
  t.notOk(answeredB instanceof Promise, 'B is answered at once');
  t.equal((answeredB as { patch?: string }).patch, undefined, 'nothing to fill in B');
  t.same(decodedData(applyPatch(a.object, await pending)).password, 's1');
  // A's entry must hold A's text, not the text B's miss wrote last.
  const again = mutateSecret(b(), deps);
  t.same(again, answeredB, "B's manifest is never given A's result");
  t.equal(memo.hits, 0);
});

t.test('a slot whose manifests keep changing rests, and keeps again when one repeats', async (t) => {
  const { h, memo, fill } = setup(t);
  // The same Secret, stamped anew on every apply (the slot: CREATE, apps, db).
  const stamped = (stamp: string) => {
    const r = placeholder();
    (r.object.metadata?.annotations as Record<string, string>)['tool.example/applied'] = stamp;
    return r;
  };
  for (let i = 0; i <= MEMO_REST_AFTER; i++) await fill(stamped(`s${i}`));
  t.equal(memo.hits, 0);
  // Resting: the same manifest again is rendered, not answered, until the slot keeps again.
  const repeated = await fill(stamped('again'));
  t.same(repeated.data, { password: 'p1', url: 'postgres://u1@db:5432/app' });
  for (let i = 1; i < MEMO_PROBE_AFTER; i++) t.same(await fill(stamped('again')), repeated);
  t.equal(memo.hits, 0, `nothing answered while resting (${MEMO_PROBE_AFTER} renders)`);
  t.same(await fill(stamped('again')), repeated);
  t.equal(memo.hits, 1, 'then the entry kept again answers the manifest that repeats');
  t.same(await fill(stamped('again')), repeated);
  t.equal(memo.hits, 2, 'and the slot keeps as before');

  // A stale answer is never served by an entry kept again: rest the slot, let it keep once,
  // change the value under it.
  for (let i = 0; i <= MEMO_REST_AFTER + MEMO_PROBE_AFTER; i++) await fill(stamped(`t${i}`));
  h.provider.set('db', JSON.stringify({ user: 'u1', password: 'p2' }));
  h.clock.now += TTL_MS + 1;
  t.same((await fill(stamped(`t${MEMO_REST_AFTER + MEMO_PROBE_AFTER}`))).data?.password, 'p2');
  t.equal(memo.hits, 2, 'the changed value is rendered, not answered');
});

t.test('an UPDATE whose stored Secret has no data or annotations is kept and reused', async (t) => {
  const { memo, fill } = setup(t);
  const update = () => {
    const req = placeholder();
    req.operation = 'UPDATE';
    req.oldObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'apps' } };
    return req;
  };
  const first = await fill(update());
  t.same(first.data, { password: 'p1', url: 'postgres://u1@db:5432/app' });
  t.same(await fill(update()), first);
  t.equal(memo.hits, 1, 'the kept copy equals the next input');
});

t.test('sameJson: equal JSON text, without writing it', async (t) => {
  const cases: [unknown, unknown][] = [
    [
      { a: 1, b: [1, { c: 'x' }] },
      { a: 1, b: [1, { c: 'x' }] },
    ],
    [
      { a: 1, b: 2 },
      { b: 2, a: 1 },
    ],
    [{ a: [1, 2] }, { a: [1, 2, 3] }],
    [{ a: [] }, { a: {} }],
    [{ a: { 0: 1 } }, { a: [1] }],
    [{ a: null }, { a: {} }],
    [{ a: '1' }, { a: 1 }],
    [{ a: { b: { c: true } } }, { a: { b: { c: false } } }],
    [[], []],
  ];
  for (const [a, b] of cases) {
    t.equal(sameJson(a, b), JSON.stringify(a) === JSON.stringify(b), JSON.stringify([a, b]));
  }
});

t.test('refusals are not kept; the memo is bounded', async (t) => {
  const { memo, fill } = setup(t);
  const missing = placeholder({ value: '${ref:db#nope}' });
  t.equal((await fill(missing)).result.allowed, false);
  t.equal(memo.size, 0, 'a refusal is not kept');
  t.equal((await fill(missing)).result.allowed, false, 'and is refused again');

  for (let i = 0; i < MEMO_MAX_ENTRIES + 10; i++) {
    await fill(placeholder({ name: `db-${i}`, value: `v${i}-\${ref:db#user}` }));
  }
  t.equal(memo.size, MEMO_MAX_ENTRIES, 'at most MEMO_MAX_ENTRIES kept');
  const huge = placeholder({ name: 'huge', value: `${'x'.repeat(40_000)}\${ref:db#user}` });
  t.equal((await fill(huge)).result.allowed, true);
  t.equal((await fill(huge)).result.allowed, true);
  t.equal(memo.hits, 0, 'an input over MEMO_MAX_INPUT_CHARS is not kept');
  t.equal(memo.size, MEMO_MAX_ENTRIES);
});
