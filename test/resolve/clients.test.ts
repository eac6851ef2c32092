import t from 'tap';
import type { Secret } from '../../src/api/types.ts';
import { ProviderError } from '../../src/providers/types.ts';
import { harness, secret, store } from './fixtures.ts';

const ref = { kind: 'SecretStore' as const, name: 's' };

t.test('one client per store version; a changed store closes the old client', async (t) => {
  const h = harness(t);
  h.provider.set('k', 'v');
  h.registry.upsert(store('SecretStore', 's', 'a', { counting: { tag: 'one' } }));
  await h.resolver.getValue(ref, 'a', { key: 'k' });
  await h.resolver.getValue(ref, 'a', { key: 'other' }).catch(() => {});
  t.equal(h.provider.calls.newClient, 1, 'client reused across lookups');

  // Same spec, same generation, re-delivered by an informer: still the same client.
  h.registry.upsert(store('SecretStore', 's', 'a', { counting: { tag: 'one' } }));
  await h.resolver.getValue(ref, 'a', { key: 'k' });
  t.equal(h.provider.calls.newClient, 1);
  t.equal(h.provider.calls.getSecret, 2, 'value cache kept for an unchanged store');

  h.registry.upsert(store('SecretStore', 's', 'a', { counting: { tag: 'two' } }, { generation: 2 }));
  await h.resolver.getValue(ref, 'a', { key: 'k' });
  t.equal(h.provider.calls.newClient, 2, 'a new client for the new spec');
  t.equal(h.provider.calls.close, 1, 'the old client is closed');
  t.equal(h.provider.calls.getSecret, 3, 'values are not shared across store versions');

  // Deleted and re-created with the same spec: a new uid, a new client.
  h.registry.upsert(
    store('SecretStore', 's', 'a', { counting: { tag: 'two' } }, { generation: 2, uid: 'uid-new' }),
  );
  await h.resolver.getValue(ref, 'a', { key: 'k' });
  t.equal(h.provider.calls.newClient, 3);
  t.equal(h.provider.calls.close, 2);
});

t.test('a retired client closes only after its in-flight calls finish', async (t) => {
  const h = harness(t);
  h.provider.set('k', 'v');
  h.registry.upsert(store('SecretStore', 's', 'a', { counting: { tag: 'one' } }));
  let open!: () => void;
  h.provider.gate = new Promise((r) => {
    open = r;
  });
  const inflight = h.resolver.getValue(ref, 'a', { key: 'k' });
  await new Promise((r) => setImmediate(r));
  h.registry.upsert(store('SecretStore', 's', 'a', { counting: { tag: 'two' } }, { generation: 2 }));
  h.provider.gate = undefined;
  await h.resolver.getValue(ref, 'a', { key: 'k' });
  t.equal(h.provider.calls.close, 0, 'old client still serving a call');
  open();
  t.equal((await inflight).toString(), 'v');
  await new Promise((r) => setImmediate(r));
  t.equal(h.provider.calls.close, 1);
});

t.test('close() closes every client', async (t) => {
  const h = harness(t);
  h.provider.set('k', 'v');
  h.registry.upsert(store('SecretStore', 's', 'a', { counting: {} }));
  h.registry.upsert(store('SecretStore', 's', 'b', { counting: {} }));
  await h.resolver.getValue(ref, 'a', { key: 'k' });
  await h.resolver.getValue(ref, 'b', { key: 'k' });
  t.equal(h.provider.calls.newClient, 2, 'one client per store');
  await h.resolver.close();
  t.equal(h.provider.calls.close, 2);
  t.throws(() => h.resolver.checkStore(ref, 'a'), { code: 'ESW_INTERNAL' });
});

t.test('SecretStore credentials come from its own namespace', async (t) => {
  const h = harness(t);
  h.provider.set('k', 'v');
  h.registry.upsert(secret('a', 'creds', { token: 'tok-a' }));
  h.registry.upsert(secret('b', 'creds', { token: 'tok-b' }));
  h.registry.upsert(
    store('SecretStore', 's', 'a', { counting: { secretRef: { name: 'creds', key: 'token' } } }),
  );
  await h.resolver.getValue(ref, 'a', { key: 'k' });
  t.same(h.provider.calls.credentials, ['tok-a']);

  h.registry.upsert(
    store('SecretStore', 'cross', 'a', {
      counting: { secretRef: { name: 'creds', key: 'token', namespace: 'b' } },
    }),
  );
  await t.rejects(h.resolver.getValue({ kind: 'SecretStore', name: 'cross' }, 'a', { key: 'k' }), {
    code: 'ESW_CREDENTIALS',
    message:
      /spec\.secretRef\.namespace "b" is not allowed: a SecretStore reads credentials from its own namespace "a"/,
  });
  t.same(h.provider.calls.credentials, ['tok-a'], 'the other namespace was never read');
});

t.test('ClusterSecretStore credentials must name their namespace', async (t) => {
  const h = harness(t);
  h.provider.set('k', 'v');
  h.registry.upsert(secret('ops', 'creds', { token: 'tok-ops' }));
  h.registry.upsert(secret('app', 'creds', { token: 'tok-app' }));
  h.registry.upsert(
    store('ClusterSecretStore', 'named', undefined, {
      counting: { secretRef: { name: 'creds', key: 'token', namespace: 'ops' } },
    }),
  );
  h.registry.upsert(
    store('ClusterSecretStore', 'unnamed', undefined, {
      counting: { secretRef: { name: 'creds', key: 'token' } },
    }),
  );
  await h.resolver.getValue({ kind: 'ClusterSecretStore', name: 'named' }, 'app', { key: 'k' });
  t.same(h.provider.calls.credentials, ['tok-ops']);
  await t.rejects(h.resolver.getValue({ kind: 'ClusterSecretStore', name: 'unnamed' }, 'app', { key: 'k' }), {
    code: 'ESW_CREDENTIALS',
    message: 'ClusterSecretStore "unnamed": spec.secretRef.namespace is required for a ClusterSecretStore',
  });
});

t.test(
  'missing credential Secret or key: ESW_CREDENTIALS naming them, never a value; retried later',
  async (t) => {
    const h = harness(t);
    h.provider.set('k', 'v');
    h.registry.upsert(
      store('SecretStore', 's', 'a', { counting: { secretRef: { name: 'creds', key: 'token' } } }),
    );
    await t.rejects(h.resolver.getValue(ref, 'a', { key: 'k' }), {
      code: 'ESW_CREDENTIALS',
      status: 422,
      message: 'SecretStore "a/s": Secret "a/creds" (spec.secretRef) not found',
    });
    const canary = `CANARY-${Math.random().toString(36).slice(2)}`;
    h.registry.upsert(secret('a', 'creds', { other: canary }));
    const err = (await h.resolver.getValue(ref, 'a', { key: 'k' }).catch((e: unknown) => e)) as Error;
    t.match(err, {
      code: 'ESW_CREDENTIALS',
      message: 'SecretStore "a/s": key "token" not found in Secret "a/creds" (spec.secretRef)',
    });
    t.notMatch(err.message, canary);
    h.registry.upsert(secret('a', 'creds', { token: 'now-there' }));
    t.equal(
      (await h.resolver.getValue(ref, 'a', { key: 'k' })).toString(),
      'v',
      'a failed client is not cached',
    );
    t.equal(h.provider.calls.newClient, 3);
    t.notOk(h.logs.join('\n').includes(canary), 'canary absent from logs');
  },
);

/** Lets a re-read started in the background by a lookup finish (the registry answers at once). */
const settle = () => new Promise((r) => setImmediate(r));

t.test('credentialsChanged retires the clients built from another version of that Secret', async (t) => {
  const h = harness(t);
  h.provider.set('k', 'v');
  // As an informer delivers it: the resourceVersion, no data.
  const seen = (resourceVersion: string) =>
    ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'creds', namespace: 'a', resourceVersion },
    }) as Secret;
  const versioned = (resourceVersion: string, token: string) => {
    const s = secret('a', 'creds', { token }) as Secret;
    s.metadata = { ...s.metadata, resourceVersion };
    return s;
  };
  h.registry.upsert(versioned('1', 'first'));
  h.registry.upsert(
    store('SecretStore', 's', 'a', { counting: { secretRef: { name: 'creds', key: 'token' } } }),
  );
  h.registry.upsert(store('SecretStore', 'unrelated', 'a', { counting: {} }));
  await h.resolver.getValue(ref, 'a', { key: 'k' });
  await h.resolver.getValue({ kind: 'SecretStore', name: 'unrelated' }, 'a', { key: 'k' });
  h.resolver.credentialsChanged('a', 'creds', seen('1'));
  await settle();
  t.equal(h.provider.calls.close, 0, 'the version it read (a relist): kept');
  h.registry.upsert(versioned('2', 'second'));
  h.resolver.credentialsChanged('a', 'creds', seen('2'));
  await settle();
  t.equal(h.provider.calls.close, 1, 'only the client that read it');
  await h.resolver.getValue(ref, 'a', { key: 'k' });
  t.same(h.provider.calls.credentials, ['first', 'second']);
  h.resolver.credentialsChanged('a', 'creds', undefined);
  await settle();
  t.equal(h.provider.calls.close, 2, 'deleted: retired too');
});

const PERIOD = 600_000;

t.test(
  'a client used credentialsRecheckMs after it read its credential Secrets re-reads them; one changed rebuilds it',
  async (t) => {
    let failing = false;
    let reads = 0;
    const h: ReturnType<typeof harness> = harness(t, {
      credentialsRecheckMs: PERIOD,
      secrets: {
        readSecret: (ns: string, name: string) => {
          reads++;
          return failing
            ? Promise.reject(new Error('API server unavailable'))
            : h.registry.readSecret(ns, name);
        },
      },
    });
    h.provider.set('k', 'v');
    const withVersion = (token: string, resourceVersion: string) => {
      const s = secret('a', 'creds', { token });
      s.metadata = { ...s.metadata, resourceVersion };
      return s;
    };
    const lookup = async () => {
      await h.resolver.getValue(ref, 'a', { key: 'k' });
      await settle();
    };
    h.registry.upsert(withVersion('first', '10'));
    h.registry.upsert(
      store('SecretStore', 's', 'a', { counting: { secretRef: { name: 'creds', key: 'token' } } }),
    );
    h.registry.upsert(store('SecretStore', 'unrelated', 'a', { counting: {} }));
    await lookup();
    await h.resolver.getValue({ kind: 'SecretStore', name: 'unrelated' }, 'a', { key: 'k' });
    t.equal(reads, 1, 'read once to build the client');

    h.clock.now += PERIOD - 1;
    await lookup();
    t.equal(reads, 1, 'within the period: not read again');
    h.clock.now += 1;
    await lookup();
    t.equal(reads, 2, 'the period is over: re-read by the next lookup');
    await lookup();
    t.equal(reads, 2, 'once a period');
    t.equal(h.provider.calls.close, 0, 'nothing changed: every client kept');

    h.registry.upsert(withVersion('rotated-CANARY-7f3', '11'));
    failing = true;
    h.clock.now += PERIOD;
    await lookup();
    t.equal(reads, 3);
    t.equal(h.provider.calls.close, 0, 'an unreadable Secret keeps its clients');
    failing = false;
    h.clock.now += 29_999;
    await lookup();
    t.equal(reads, 3, 'a failed re-read is not retried at once');
    h.clock.now += 1;
    await lookup();
    t.equal(reads, 4, 'a failed re-read is retried 30 s later, not a period');
    await settle();
    t.equal(
      h.provider.calls.close,
      1,
      'a new resourceVersion: only the client that read the Secret is closed',
    );
    await lookup();
    t.same(
      h.provider.calls.credentials,
      ['first', 'rotated-CANARY-7f3'],
      'the next lookup uses the rotated key',
    );
    t.equal(reads, 5, 'the new client read it once');

    h.registry.remove(secret('a', 'creds', {}));
    h.clock.now += PERIOD;
    await lookup();
    await settle();
    t.equal(h.provider.calls.close, 2, 'a deleted credential Secret retires its client');
    await t.rejects(h.resolver.getValue(ref, 'a', { key: 'k2' }), { code: 'ESW_CREDENTIALS' });
    t.notOk(h.logs.join('\n').includes('CANARY-7f3'), 'no credential in the logs');
    t.match(h.logs.join('\n'), /credential Secret changed: rebuilding the client/);
  },
);

t.test(
  'credentials are compared by the data of --stores Secrets, which have no resourceVersion',
  async (t) => {
    const h = harness(t, { credentialsRecheckMs: PERIOD });
    h.provider.set('k', 'v');
    h.registry.upsert(secret('a', 'creds', { token: 'first' }));
    h.registry.upsert(
      store('SecretStore', 's', 'a', { counting: { secretRef: { name: 'creds', key: 'token' } } }),
    );
    await h.resolver.getValue(ref, 'a', { key: 'k' });
    h.registry.upsert(secret('a', 'creds', { token: 'first' }));
    h.clock.now += PERIOD;
    await h.resolver.getValue(ref, 'a', { key: 'k' });
    await settle();
    t.equal(h.provider.calls.close, 0, 'the same data re-delivered: kept');
    h.registry.upsert(secret('a', 'creds', { token: 'second' }));
    h.clock.now += PERIOD;
    await h.resolver.getValue(ref, 'a', { key: 'k' });
    await settle();
    t.equal(h.provider.calls.close, 1);
    await h.resolver.getValue(ref, 'a', { key: 'k' });
    t.same(h.provider.calls.credentials, ['first', 'second']);
  },
);

t.test('a store status check past the period starts the re-read too', async (t) => {
  const h = harness(t, { credentialsRecheckMs: PERIOD });
  h.provider.set('k', 'v');
  h.registry.upsert(secret('a', 'creds', { token: 'first' }));
  const checked = store('SecretStore', 's', 'a', {
    counting: { secretRef: { name: 'creds', key: 'token' } },
  });
  h.registry.upsert(checked);
  await h.resolver.getValue(ref, 'a', { key: 'k' });
  h.registry.upsert(secret('a', 'creds', { token: 'second' }));
  h.clock.now += PERIOD;
  t.equal(await h.resolver.validateStore(checked), undefined, 'valid');
  await settle();
  t.equal(h.provider.calls.close, 1, 'the rotated Secret retired the client, with no lookup');
  await h.resolver.getValue(ref, 'a', { key: 'k' });
  t.same(h.provider.calls.credentials, ['first', 'second']);
});

t.test('stringData in --stores manifests is read too', async (t) => {
  const h = harness(t);
  h.provider.set('k', 'v');
  h.registry.upsert({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'creds', namespace: 'a' },
    stringData: { token: 'plain' },
  } as never);
  h.registry.upsert(
    store('SecretStore', 's', 'a', { counting: { secretRef: { name: 'creds', key: 'token' } } }),
  );
  await h.resolver.getValue(ref, 'a', { key: 'k' });
  t.same(h.provider.calls.credentials, ['plain']);
});

t.test('a provider failing to build its client', async (t) => {
  const h = harness(t);
  h.registry.upsert(store('SecretStore', 's', 'a', { counting: {} }));
  h.provider.newClientFailure = new ProviderError('Invalid', 'region is required');
  await t.rejects(h.resolver.getValue(ref, 'a', { key: 'k' }), {
    code: 'ESW_STORE_INVALID',
    message: 'SecretStore "a/s": provider client could not be created: region is required',
  });
  h.provider.newClientFailure = new ProviderError('Unavailable', 'STS unreachable');
  const err = await h.resolver.getValue(ref, 'a', { key: 'k' }).catch((e: unknown) => e);
  t.match(err, { code: 'ESW_PROVIDER_UNAVAILABLE', status: 503 });
  const { isTransient } = await import('../../src/resolve/resolver.ts');
  t.ok(isTransient(err));
});

t.test('a re-read rebuilds the clients whose CA ConfigMap changed, as for Secrets', async (t) => {
  const h = harness(t, { credentialsRecheckMs: PERIOD });
  h.provider.set('k', 'v');
  const cm = (pem: string, resourceVersion: string) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'ca', namespace: 'a', resourceVersion },
    data: { 'ca.crt': pem },
  });
  h.registry.upsert(cm('first-ca', '1'));
  h.registry.upsert(
    store('SecretStore', 's', 'a', { counting: { configMapRef: { name: 'ca', key: 'ca.crt' } } }),
  );
  await h.resolver.getValue(ref, 'a', { key: 'k' });
  h.clock.now += PERIOD;
  await h.resolver.getValue(ref, 'a', { key: 'k' });
  await settle();
  t.equal(h.provider.calls.close, 0, 'unchanged: kept');
  h.registry.upsert(cm('second-ca', '2'));
  h.clock.now += PERIOD;
  await h.resolver.getValue(ref, 'a', { key: 'k' });
  await settle();
  t.equal(h.provider.calls.close, 1, 'a new resourceVersion: rebuilt');
  await h.resolver.getValue(ref, 'a', { key: 'k' });
  t.same(h.provider.calls.credentials, ['first-ca', 'second-ca']);
  h.registry.upsert(
    store('SecretStore', 's2', 'a', {
      counting: { configMapRef: { name: 'ca', key: 'ca.crt', namespace: 'b' } },
    }),
  );
  await t.rejects(h.resolver.getValue({ kind: 'SecretStore', name: 's2' }, 'a', { key: 'k' }), {
    code: 'ESW_CREDENTIALS',
    message: /spec\.configMapRef\.namespace "b" is not allowed/,
  });
});
