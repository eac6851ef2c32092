import t from 'tap';
import { ProviderError, type ProviderErrorKind } from '../../src/providers/types.ts';
import { isTransient } from '../../src/resolve/resolver.ts';
import { counterValue, harness, store } from './fixtures.ts';

const ref = { kind: 'SecretStore' as const, name: 's' };

t.test(
  'a call past the deadline fails with 503 naming key and store, and the provider is aborted',
  async (t) => {
    const h = harness(t, { callTimeoutMs: 50 });
    h.registry.upsert(store('SecretStore', 's', 'a', { counting: {} }));
    h.provider.hang = true;
    const err = await h.resolver.getValue(ref, 'a', { key: 'slow/key' }).catch((e: unknown) => e);
    t.match(err, {
      code: 'ESW_PROVIDER_UNAVAILABLE',
      status: 503,
      message:
        'key "slow/key" of SecretStore "a/s": provider unavailable: no answer within the deadline of 50 ms',
    });
    t.ok(isTransient(err), 'a timeout is transient');
    t.ok(h.provider.calls.signals[0]!.aborted, 'the provider call saw its signal fire');
    t.equal(await counterValue(h.metrics, 'providerCalls', { call: 'getSecret', status: 'Unavailable' }), 1);
  },
);

t.test('the deadline holds even when a provider ignores its signal', async (t) => {
  const h = harness(t, { callTimeoutMs: 30 });
  h.registry.upsert(store('SecretStore', 's', 'a', { counting: {} }));
  h.provider.hang = true;
  h.provider.ignoreSignal = true;
  await t.rejects(h.resolver.getValue(ref, 'a', { key: 'k' }), {
    code: 'ESW_PROVIDER_UNAVAILABLE',
    status: 503,
  });
});

t.test('batched calls have the deadline too', async (t) => {
  const h = harness(t, { callTimeoutMs: 30, batching: true });
  h.registry.upsert(store('SecretStore', 's', 'a', { counting: {} }));
  h.provider.hang = true;
  const results = await Promise.allSettled(['x', 'y'].map((key) => h.resolver.getValue(ref, 'a', { key })));
  t.equal(h.provider.calls.getSecrets, 1);
  for (const r of results) t.match(r, { status: 'rejected', reason: { code: 'ESW_PROVIDER_UNAVAILABLE' } });
});

t.test("the caller's signal ends its lookup with 503", async (t) => {
  const h = harness(t);
  h.registry.upsert(store('SecretStore', 's', 'a', { counting: {} }));
  h.provider.hang = true;
  await t.rejects(h.resolver.getValue(ref, 'a', { key: 'k' }, { signal: AbortSignal.abort() }), {
    code: 'ESW_PROVIDER_UNAVAILABLE',
  });
});

t.test('ProviderError kinds map to catalog codes and keep the ProviderError as cause', async (t) => {
  const cases: [ProviderErrorKind, string, number, boolean][] = [
    ['NotFound', 'ESW_SECRET_NOT_FOUND', 404, false],
    ['Forbidden', 'ESW_PROVIDER_FORBIDDEN', 403, false],
    ['Throttled', 'ESW_PROVIDER_THROTTLED', 503, true],
    ['Unavailable', 'ESW_PROVIDER_UNAVAILABLE', 503, true],
    ['Invalid', 'ESW_PROVIDER_INVALID', 422, false],
  ];
  for (const [kind, code, status, transient] of cases) {
    const h = harness(t);
    h.registry.upsert(store('SecretStore', 's', 'a', { counting: {} }));
    const pe = new ProviderError(kind, `provider said ${kind}`);
    h.provider.set('k@v3', pe);
    const err = await h.resolver.getValue(ref, 'a', { key: 'k', version: 'v3' }).catch((e: unknown) => e);
    t.match(err, { code, status, message: `key "k" version "v3" of SecretStore "a/s"` }, kind);
    t.equal((err as Error).cause, pe, `${kind}: cause kept`);
    t.equal(isTransient(err), transient, `${kind}: transient=${transient}`);
    t.equal(await counterValue(h.metrics, 'providerCalls', { call: 'getSecret', status: kind }), 1);
  }
});

t.test('unknown provider failures become Unavailable without their message', async (t) => {
  const h = harness(t);
  h.registry.upsert(store('SecretStore', 's', 'a', { counting: {} }));
  const canary = `CANARY-${Math.random().toString(36).slice(2)}`;
  const buggy = Object.assign(new Error(`body was ${canary}`), { code: 'ECONNRESET' });
  h.provider.set('k', buggy);
  const err = (await h.resolver.getValue(ref, 'a', { key: 'k' }).catch((e: unknown) => e)) as Error;
  t.match(err, {
    code: 'ESW_PROVIDER_UNAVAILABLE',
    message: /unexpected provider failure \(Error ECONNRESET\)/,
  });
  t.notOk(err.message.includes(canary));
  t.ok(isTransient(err));
});

t.test('isTransient', async (t) => {
  t.ok(isTransient(new ProviderError('Throttled', 'x')));
  t.notOk(isTransient(new ProviderError('NotFound', 'x')));
  t.notOk(isTransient(new Error('x')));
  t.notOk(isTransient(undefined));
  const { EswError } = await import('../../src/errors.ts');
  t.ok(isTransient(new EswError('ESW_KUBE', 'api down')));
  t.notOk(isTransient(new EswError('ESW_STORE_NOT_FOUND', 'x')));
});

t.test('a canary value never reaches an error message or a log line', async (t) => {
  const h = harness(t, { batching: true });
  const canary = `CANARY-${Math.random().toString(36).slice(2)}`;
  const b64 = Buffer.from(canary).toString('base64');
  h.registry.upsert(store('SecretStore', 's', 'a', { counting: {} }));
  h.registry.upsert(
    store('SecretStore', 'f', 'a', {
      fake: {
        data: [
          { key: 'fk', value: JSON.stringify({ p: canary }) },
          { key: 'plain', value: canary },
        ],
      },
    }),
  );
  h.provider.set('json', JSON.stringify({ user: canary, nested: { list: [canary, 1] }, b64 }));
  h.provider.set('text', canary);
  h.provider.set('dup', JSON.stringify({ 'a/b': canary, a_b: canary }));
  const f = { kind: 'SecretStore' as const, name: 'f' };
  const good = await Promise.all([
    h.resolver.getValue(ref, 'a', { key: 'json', property: 'user' }),
    h.resolver.getValue(ref, 'a', { key: 'json', property: 'nested.list.0' }),
    h.resolver.getValue(ref, 'a', { key: 'json', property: 'b64', decodingStrategy: 'Base64' }),
    h.resolver.getValue(f, 'a', { key: 'fk', property: 'p' }),
  ]);
  for (const v of good) t.equal(v.toString(), canary);
  const failures = await Promise.allSettled([
    h.resolver.getValue(ref, 'a', { key: 'json', property: 'missing' }),
    h.resolver.getValue(ref, 'a', { key: 'text', property: 'x' }),
    h.resolver.getValue(ref, 'a', { key: 'text', decodingStrategy: 'Base64' }),
    h.resolver.getValue(ref, 'a', { key: 'json', property: 'user', decodingStrategy: 'Base64URL' }),
    h.resolver.getMap(ref, 'a', { key: 'text' }),
    h.resolver.getMap(ref, 'a', { key: 'json', property: 'user' }),
    h.resolver.getMap(ref, 'a', { key: 'json', decodingStrategy: 'Base64' }),
    h.resolver.getMap(ref, 'a', { key: 'dup' }),
    h.resolver.getValue(f, 'a', { key: 'plain', property: 'p' }),
    h.resolver.getValue(f, 'a', { key: 'plain', decodingStrategy: 'Base64' }),
    h.resolver.getValue(ref, 'a', { key: 'absent' }),
  ]);
  const messages = failures.map((r) => {
    t.equal(r.status, 'rejected');
    return String((r as PromiseRejectedResult).reason?.message);
  });
  t.same(
    failures.map((r) => (r as PromiseRejectedResult).reason?.code),
    [
      'ESW_PROPERTY_NOT_FOUND',
      'ESW_PROPERTY_NOT_FOUND',
      'ESW_DECODE',
      'ESW_DECODE',
      'ESW_DECODE',
      'ESW_DECODE',
      'ESW_DECODE',
      'ESW_DECODE',
      'ESW_PROPERTY_NOT_FOUND',
      'ESW_DECODE',
      'ESW_SECRET_NOT_FOUND',
    ],
  );
  for (const m of messages) t.notOk(m.includes(canary) || m.includes(b64), `no value in: ${m}`);
  t.match(messages[0], 'property "missing" not found in remote secret "json" of SecretStore "a/s"');
  t.ok(h.logs.length > 0, 'debug lines were written');
  const allLogs = h.logs.join('\n');
  t.notOk(allLogs.includes(canary) || allLogs.includes(b64), 'canary absent from every log line');
  t.match(allLogs, /"key":"json"/, 'logs name keys');
});
