import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildClientContext, type ServiceAccountTokenSource } from '../../src/resolve/credentials.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';

const nsScope = { kind: 'SecretStore' as const, name: 's', namespace: 'a', label: 'SecretStore "a/s"' };
const clusterScope = {
  kind: 'ClusterSecretStore' as const,
  name: 'c',
  namespace: undefined,
  label: 'ClusterSecretStore "c"',
};

function context(
  scope: typeof nsScope | typeof clusterScope,
  source?: ServiceAccountTokenSource,
  ownTokenPath?: string,
  ambientAllowed = scope.kind === 'ClusterSecretStore',
) {
  const requests: unknown[] = [];
  const wrapped: ServiceAccountTokenSource | undefined = source
    ? async (req) => {
        requests.push(req);
        return source(req);
      }
    : undefined;
  const ctx = buildClientContext(scope, {
    secrets: new MemoryRegistry(),
    serviceAccountToken: wrapped,
    endpoints: {},
    maxAttempts: 3,
    timeoutMs: 1000,
    ambientAllowed,
    ...(ownTokenPath ? { ownTokenPath } : {}),
  });
  return { ctx, requests };
}

t.test('context basics', async (t) => {
  const { ctx } = context(nsScope);
  t.same(ctx.store, { kind: 'SecretStore', name: 's', namespace: 'a' });
  t.equal(ctx.namespace, 'a');
  t.equal(context(clusterScope).ctx.namespace, '', 'a shared cluster client belongs to no namespace');
  t.equal(ctx.maxAttempts, 3);
  t.equal(ctx.timeoutMs, 1000);
});

t.test('service-account tokens follow the namespace rules', async (t) => {
  const { ctx, requests } = context(nsScope, async (req) => `token-for-${req.namespace}/${req.name}`);
  t.equal(await ctx.serviceAccountToken!({ name: 'app', audiences: ['vault'] }), 'token-for-a/app');
  t.same(requests, [{ namespace: 'a', name: 'app', audiences: ['vault'] }]);
  await t.rejects(ctx.serviceAccountToken!({ name: 'app', namespace: 'b' }), { code: 'ESW_CREDENTIALS' });

  const cluster = context(clusterScope, async () => 'tok');
  await t.rejects(cluster.ctx.serviceAccountToken!({ name: 'app' }), {
    code: 'ESW_CREDENTIALS',
    message: 'ClusterSecretStore "c": serviceAccountRef.namespace is required for a ClusterSecretStore',
  });
  t.equal(await cluster.ctx.serviceAccountToken!({ name: 'app', namespace: 'ops' }), 'tok');
});

t.test('no ServiceAccount named: the server own token, only where the admin allows it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'esw-sa-'));
  const file = join(dir, 'token');
  await writeFile(file, 'file-token\n');

  // A namespaced store the admin did not allow: refused before the file is read, and the
  // TokenRequest source is not asked for this server's identity either.
  const strict = context(nsScope, async () => 'from-source', file);
  await t.rejects(strict.ctx.serviceAccountToken!({}), {
    code: 'ESW_IDENTITY_FORBIDDEN',
    message:
      /SecretStore "a\/s": serviceAccountRef: this server's ServiceAccount token is this server's own identity, which only a ClusterSecretStore may use .*--allow-ambient-identity-namespaces/,
  });
  t.same(strict.requests, []);
  t.throws(() => strict.ctx.requireAmbientIdentity('spec.provider.aws.auth', 'the default chain'), {
    code: 'ESW_IDENTITY_FORBIDDEN',
  });

  // A ClusterSecretStore, or a SecretStore the admin allowed: the mounted token file.
  t.equal(await context(clusterScope, undefined, file).ctx.serviceAccountToken!({}), 'file-token');
  const allowed = context(nsScope, async () => 'from-source', file, true);
  t.equal(await allowed.ctx.serviceAccountToken!({}), 'file-token');
  t.same(allowed.requests, [], 'the own token is the mounted one, not a TokenRequest');
  t.doesNotThrow(() => allowed.ctx.requireAmbientIdentity('spec.provider.aws.auth', 'the default chain'));
  await t.rejects(context(clusterScope, undefined, join(dir, 'absent')).ctx.serviceAccountToken!({}), {
    code: 'ESW_CREDENTIALS',
  });

  // A named ServiceAccount without a TokenRequest source (standalone): a clear refusal.
  await t.rejects(context(nsScope).ctx.serviceAccountToken!({ name: 'app' }), {
    code: 'ESW_CREDENTIALS',
    message:
      'SecretStore "a/s": a token for ServiceAccount "a/app" needs cluster mode (the TokenRequest API); this server runs without a Kubernetes API',
  });
});

t.test('token source failures are ESW_KUBE (transient)', async (t) => {
  const { ctx } = context(nsScope, async () => {
    throw Object.assign(new Error('connect ECONNREFUSED 10.96.0.1:443'), { code: 'ECONNREFUSED' });
  });
  // The error's own text is not copied (src/observability/sanitize.ts): Node's code is.
  await t.rejects(ctx.serviceAccountToken!({ name: 'app' }), {
    code: 'ESW_KUBE',
    message:
      'SecretStore "a/s": could not get a token for ServiceAccount "a/app": connection failed (ECONNREFUSED)',
  });
});

t.test('Secret reader failures are ESW_KUBE; missing fields ESW_CREDENTIALS', async (t) => {
  const ctx = buildClientContext(nsScope, {
    secrets: {
      readSecret: async () => {
        throw new Error('503 from API server');
      },
    },
    serviceAccountToken: undefined,
    endpoints: {},
    maxAttempts: 1,
    timeoutMs: 1000,
    ambientAllowed: false,
  });
  await t.rejects(ctx.readSecretKey({ name: 'x', key: 'k' }, 'auth.secretRef'), { code: 'ESW_KUBE' });
  await t.rejects(ctx.readSecretKey({ key: 'k' }, 'auth.secretRef'), {
    code: 'ESW_CREDENTIALS',
    message: 'SecretStore "a/s": auth.secretRef.name is required',
  });
  await t.rejects(ctx.readSecretKey({ name: 'x' }, 'auth.secretRef'), { code: 'ESW_CREDENTIALS' });
});

t.test('CA ConfigMaps: the same namespace rules, data only, errors name the object', async (t) => {
  const registry = new MemoryRegistry();
  registry.upsert({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'ca', namespace: 'a' },
    data: { 'ca.crt': 'PEM' },
    binaryData: { 'bin.crt': 'UEVN' },
  } as never);
  registry.upsert({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'ca', namespace: 'b' },
    data: { 'ca.crt': 'B' },
  } as never);
  const seen: string[] = [];
  const make = (scope: typeof nsScope | typeof clusterScope) =>
    buildClientContext(scope, {
      secrets: registry,
      serviceAccountToken: undefined,
      endpoints: {},
      maxAttempts: 1,
      timeoutMs: 1000,
      ambientAllowed: false,
      onConfigMapRead: (ns, name, cm) => seen.push(`${ns}/${name}:${cm ? 'found' : 'absent'}`),
    });
  const ctx = make(nsScope);
  t.equal(await ctx.readConfigMapKey?.({ name: 'ca', key: 'ca.crt' }, 'caProvider'), 'PEM');
  await t.rejects(ctx.readConfigMapKey!({ name: 'ca', key: 'ca.crt', namespace: 'b' }, 'caProvider'), {
    code: 'ESW_CREDENTIALS',
    message:
      /caProvider\.namespace "b" is not allowed: a SecretStore reads credentials from its own namespace "a"/,
  });
  await t.rejects(ctx.readConfigMapKey!({ name: 'ca', key: 'bin.crt' }, 'caProvider'), {
    message: 'SecretStore "a/s": key "bin.crt" not found in ConfigMap "a/ca" (caProvider)',
  });
  await t.rejects(ctx.readConfigMapKey!({ name: 'nope', key: 'ca.crt' }, 'caProvider'), {
    message: 'SecretStore "a/s": ConfigMap "a/nope" (caProvider) not found',
  });
  const cluster = make(clusterScope);
  t.equal(await cluster.readConfigMapKey?.({ name: 'ca', key: 'ca.crt', namespace: 'b' }, 'caProvider'), 'B');
  await t.rejects(cluster.readConfigMapKey!({ name: 'ca', key: 'ca.crt' }, 'caProvider'), {
    message: /caProvider\.namespace is required for a ClusterSecretStore/,
  });
  t.same(seen, ['a/ca:found', 'a/ca:found', 'a/nope:absent', 'b/ca:found']);
});

t.test('ServiceAccount annotations follow the namespace rules; cluster mode only', async (t) => {
  const asked: string[] = [];
  const make = (scope: typeof nsScope | typeof clusterScope, withReader = true) =>
    buildClientContext(scope, {
      secrets: new MemoryRegistry(),
      serviceAccountToken: undefined,
      serviceAccounts: withReader
        ? async (ns, name) => {
            asked.push(`${ns}/${name}`);
            if (name === 'gone') return undefined;
            if (name === 'broken') throw new Error('socket hang up');
            return { annotations: { 'eks.amazonaws.com/role-arn': `arn:${ns}:${name}` } };
          }
        : undefined,
      endpoints: {},
      maxAttempts: 3,
      timeoutMs: 1000,
      ambientAllowed: false,
    });
  const ns = make(nsScope);
  t.same(await ns.serviceAccountAnnotations?.({ name: 'app' }, 'f'), {
    'eks.amazonaws.com/role-arn': 'arn:a:app',
  });
  await t.rejects(ns.serviceAccountAnnotations?.({ name: 'app', namespace: 'b' }, 'f') as Promise<unknown>, {
    code: 'ESW_CREDENTIALS',
    message: /serviceAccountRef|f\.namespace "b" is not allowed/,
  });
  await t.rejects(ns.serviceAccountAnnotations?.({ name: 'gone' }, 'f') as Promise<unknown>, {
    code: 'ESW_CREDENTIALS',
    message: 'SecretStore "a/s": ServiceAccount "a/gone" (f) not found',
  });
  await t.rejects(ns.serviceAccountAnnotations?.({ name: 'broken' }, 'f') as Promise<unknown>, {
    code: 'ESW_KUBE',
  });
  await t.rejects(ns.serviceAccountAnnotations?.({}, 'f') as Promise<unknown>, {
    message: /f\.name is required/,
  });
  const cluster = make(clusterScope);
  t.same(await cluster.serviceAccountAnnotations?.({ name: 'app', namespace: 'b' }, 'f'), {
    'eks.amazonaws.com/role-arn': 'arn:b:app',
  });
  await t.rejects(cluster.serviceAccountAnnotations?.({ name: 'app' }, 'f') as Promise<unknown>, {
    message: /f\.namespace is required for a ClusterSecretStore/,
  });
  t.same(asked, ['a/app', 'a/gone', 'a/broken', 'b/app']);
  await t.rejects(
    make(nsScope, false).serviceAccountAnnotations?.({ name: 'app' }, 'f') as Promise<unknown>,
    {
      code: 'ESW_CREDENTIALS',
      message: /can only be read in cluster mode/,
    },
  );
});
