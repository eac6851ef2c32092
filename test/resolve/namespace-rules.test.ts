import t from 'tap';
import { harness, namespace, store } from './fixtures.ts';

const fake = { fake: { data: [{ key: 'k', value: 'v' }] } };

t.test('a SecretStore serves its own namespace only', async (t) => {
  const h = harness(t);
  h.registry.upsert(store('SecretStore', 'team-store', 'a', fake));
  t.equal(
    (await h.resolver.getValue({ kind: 'SecretStore', name: 'team-store' }, 'a', { key: 'k' })).toString(),
    'v',
  );

  const cross = { kind: 'SecretStore' as const, name: 'team-store', namespace: 'a' };
  t.throws(() => h.resolver.checkStore(cross, 'b'), {
    code: 'ESW_STORE_FORBIDDEN',
    status: 403,
    message: /SecretStore "a\/team-store" may only be used from namespace "a", not from "b"/,
  });
  await t.rejects(h.resolver.getValue(cross, 'b', { key: 'k' }), { code: 'ESW_STORE_FORBIDDEN' });

  // Without an explicit namespace the lookup happens in the caller's namespace: not there.
  t.throws(() => h.resolver.checkStore({ kind: 'SecretStore', name: 'team-store' }, 'b'), {
    code: 'ESW_STORE_NOT_FOUND',
    status: 404,
    message: /SecretStore "team-store" not found in namespace "b"/,
  });
});

t.test('a registry answering with a store of another namespace is refused (defence in depth)', async (t) => {
  const h = harness(t);
  const foreign = store('SecretStore', 's', 'a', fake);
  const resolver = new (await import('../../src/resolve/resolver.ts')).StoreResolver({
    registry: { getStore: () => foreign, getNamespace: () => undefined },
    secrets: h.registry,
    providers: new Map(),
    logger: h.logger,
  });
  t.teardown(() => resolver.close());
  t.throws(() => resolver.checkStore({ kind: 'SecretStore', name: 's' }, 'b'), {
    code: 'ESW_STORE_FORBIDDEN',
  });
});

t.test('missing ClusterSecretStore: 404 naming store and namespace', async (t) => {
  const h = harness(t);
  t.throws(() => h.resolver.checkStore({ kind: 'ClusterSecretStore', name: 'global' }, 'a'), {
    code: 'ESW_STORE_NOT_FOUND',
    status: 404,
    message: 'ClusterSecretStore "global" not found (requested from namespace "a")',
  });
});

t.test('ClusterSecretStore without conditions serves every namespace', async (t) => {
  const h = harness(t);
  h.registry.upsert(store('ClusterSecretStore', 'global', undefined, fake));
  for (const ns of ['a', 'b', 'kube-system']) {
    t.equal(
      (
        await h.resolver.getValue({ kind: 'ClusterSecretStore', name: 'global' }, ns, { key: 'k' })
      ).toString(),
      'v',
    );
  }
});

t.test('ClusterSecretStore conditions: namespaces list', async (t) => {
  const h = harness(t);
  h.registry.upsert(
    store('ClusterSecretStore', 'global', undefined, fake, { conditions: [{ namespaces: ['a', 'c'] }] }),
  );
  const ref = { kind: 'ClusterSecretStore' as const, name: 'global' };
  t.ok(h.resolver.checkStore(ref, 'a'));
  t.ok(h.resolver.checkStore(ref, 'c'));
  t.throws(() => h.resolver.checkStore(ref, 'b'), {
    code: 'ESW_STORE_FORBIDDEN',
    status: 403,
    message: 'ClusterSecretStore "global" may not be used from namespace "b": denied by spec.conditions',
  });
  await t.rejects(h.resolver.getValue(ref, 'b', { key: 'k' }), { code: 'ESW_STORE_FORBIDDEN' });
});

t.test('ClusterSecretStore conditions: namespaceSelector matchLabels', async (t) => {
  const h = harness(t);
  h.registry.upsert(namespace('prod-a', { env: 'prod', team: 'a' }));
  h.registry.upsert(namespace('dev-a', { env: 'dev', team: 'a' }));
  h.registry.upsert(
    store('ClusterSecretStore', 'prod', undefined, fake, {
      conditions: [{ namespaceSelector: { matchLabels: { env: 'prod' } } }],
    }),
  );
  const ref = { kind: 'ClusterSecretStore' as const, name: 'prod' };
  t.ok(h.resolver.checkStore(ref, 'prod-a'));
  t.throws(() => h.resolver.checkStore(ref, 'dev-a'), { code: 'ESW_STORE_FORBIDDEN' });
  t.throws(
    () => h.resolver.checkStore(ref, 'unknown-ns'),
    { code: 'ESW_STORE_FORBIDDEN' },
    'no labels known',
  );
});

t.test('ClusterSecretStore conditions: namespaceSelector matchExpressions', async (t) => {
  const h = harness(t);
  h.registry.upsert(namespace('a', { tier: 'gold', team: 'x' }));
  h.registry.upsert(namespace('b', { tier: 'silver', team: 'x' }));
  h.registry.upsert(namespace('c', { tier: 'gold', team: 'x', quarantine: 'yes' }));
  h.registry.upsert(namespace('d', { tier: 'bronze' }));
  h.registry.upsert(
    store('ClusterSecretStore', 'sel', undefined, fake, {
      conditions: [
        {
          namespaceSelector: {
            matchExpressions: [
              { key: 'tier', operator: 'In', values: ['gold', 'silver'] },
              { key: 'quarantine', operator: 'DoesNotExist' },
              { key: 'team', operator: 'Exists' },
              { key: 'tier', operator: 'NotIn', values: ['silver'] },
            ],
          },
        },
      ],
    }),
  );
  const ref = { kind: 'ClusterSecretStore' as const, name: 'sel' };
  t.ok(h.resolver.checkStore(ref, 'a'), 'gold, team, no quarantine');
  t.throws(() => h.resolver.checkStore(ref, 'b'), { code: 'ESW_STORE_FORBIDDEN' }, 'silver is NotIn');
  t.throws(() => h.resolver.checkStore(ref, 'c'), { code: 'ESW_STORE_FORBIDDEN' }, 'quarantined');
  t.throws(() => h.resolver.checkStore(ref, 'd'), { code: 'ESW_STORE_FORBIDDEN' }, 'bronze, no team');
});

t.test(
  'ClusterSecretStore conditions: the metadata.name label matches even for unknown namespaces',
  async (t) => {
    const h = harness(t);
    h.registry.upsert(
      store('ClusterSecretStore', 'by-name', undefined, fake, {
        conditions: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'payments' } } }],
      }),
    );
    const ref = { kind: 'ClusterSecretStore' as const, name: 'by-name' };
    t.ok(h.resolver.checkStore(ref, 'payments'));
    t.throws(() => h.resolver.checkStore(ref, 'billing'), { code: 'ESW_STORE_FORBIDDEN' });
  },
);

t.test(
  'ClusterSecretStore conditions: namespaceRegexes (Go MatchString: unanchored unless anchored)',
  async (t) => {
    const h = harness(t);
    h.registry.upsert(
      store('ClusterSecretStore', 'rx', undefined, fake, {
        conditions: [{ namespaceRegexes: ['^team-[a-c]$', 'sandbox'] }],
      }),
    );
    const ref = { kind: 'ClusterSecretStore' as const, name: 'rx' };
    t.ok(h.resolver.checkStore(ref, 'team-a'));
    t.ok(h.resolver.checkStore(ref, 'my-sandbox-1'), 'unanchored expression matches inside the name');
    t.throws(() => h.resolver.checkStore(ref, 'team-d'), { code: 'ESW_STORE_FORBIDDEN' });
    t.throws(() => h.resolver.checkStore(ref, 'evil-team-a'), { code: 'ESW_STORE_FORBIDDEN' });
  },
);

t.test('any one matching condition allows', async (t) => {
  const h = harness(t);
  h.registry.upsert(namespace('labelled', { allow: 'true' }));
  h.registry.upsert(
    store('ClusterSecretStore', 'multi', undefined, fake, {
      conditions: [
        { namespaces: ['listed'] },
        { namespaceSelector: { matchLabels: { allow: 'true' } } },
        { namespaceRegexes: ['^rx-'] },
      ],
    }),
  );
  const ref = { kind: 'ClusterSecretStore' as const, name: 'multi' };
  for (const ns of ['listed', 'labelled', 'rx-1']) t.ok(h.resolver.checkStore(ref, ns), ns);
  t.throws(() => h.resolver.checkStore(ref, 'other'), { code: 'ESW_STORE_FORBIDDEN' });
});

t.test('conditions that cannot be evaluated deny with ESW_STORE_INVALID', async (t) => {
  const h = harness(t);
  h.registry.upsert(
    store('ClusterSecretStore', 'bad-rx', undefined, fake, {
      conditions: [{ namespaceRegexes: ['team-(['] }],
    }),
  );
  h.registry.upsert(
    store('ClusterSecretStore', 'bad-sel', undefined, fake, {
      conditions: [{ namespaceSelector: { matchExpressions: [{ key: 'x', operator: 'In', values: [] }] } }],
    }),
  );
  t.throws(() => h.resolver.checkStore({ kind: 'ClusterSecretStore', name: 'bad-rx' }, 'team-a'), {
    code: 'ESW_STORE_INVALID',
    message: /ClusterSecretStore "bad-rx": spec\.conditions\[0\]\.namespaceRegexes\[0\]/,
  });
  t.throws(() => h.resolver.checkStore({ kind: 'ClusterSecretStore', name: 'bad-sel' }, 'a'), {
    code: 'ESW_STORE_INVALID',
    message: /matchExpressions\[0\]: values must be non-empty for In/,
  });
});

t.test('stores with zero, several or unknown providers are invalid', async (t) => {
  const h = harness(t);
  h.registry.upsert(store('SecretStore', 'none', 'a', {}));
  h.registry.upsert(store('SecretStore', 'two', 'a', { fake: {}, counting: {} }));
  h.registry.upsert(store('SecretStore', 'alien', 'a', { conjur: {} }));
  t.throws(() => h.resolver.checkStore({ kind: 'SecretStore', name: 'none' }, 'a'), {
    code: 'ESW_STORE_INVALID',
    message: 'SecretStore "a/none" has no provider',
  });
  t.throws(() => h.resolver.checkStore({ kind: 'SecretStore', name: 'two' }, 'a'), {
    code: 'ESW_STORE_INVALID',
    message: /SecretStore "a\/two" has 2 providers \(fake, counting\)/,
  });
  t.throws(() => h.resolver.checkStore({ kind: 'SecretStore', name: 'alien' }, 'a'), {
    code: 'ESW_STORE_INVALID',
    message: /uses provider "conjur", which this server does not support/,
  });
});
