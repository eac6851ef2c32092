/**
 * mutateSecret through the real StoreResolver: the `fake` provider with the stores of
 * examples/stores.yaml (the embedded default), and the real AWS Secrets Manager and Vault
 * providers against their wire-level fakes. Store binding, namespace rules, refusals and the
 * canary check hold end to end, not only against an in-test resolver.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { mutateSecret } from '../../src/admission/mutate.ts';
import { loadManifestFiles, parseManifests } from '../../src/api/manifests.ts';
import { createProviders } from '../../src/providers/registry.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { StoreResolver } from '../../src/resolve/resolver.ts';
import { loadIntoRegistry } from '../../src/runtime.ts';
import { AwsSecretsManagerFake } from '../fakes/aws-secrets-manager.ts';
import { VaultFake } from '../fakes/vault.ts';
import {
  applyPatch,
  b64,
  capturingLogger,
  decodedData,
  fixture,
  patchText,
  unb64,
  visibleText,
} from './mutate-helpers.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const CANARY = `CANARY-${randomUUID()}`;
const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples');

async function exampleResolver(t: Test, extraYaml = '') {
  const { logger, lines } = capturingLogger();
  const registry = new MemoryRegistry();
  loadIntoRegistry(registry, await loadManifestFiles([join(EXAMPLES, 'stores.yaml')]), logger);
  if (extraYaml) loadIntoRegistry(registry, parseManifests(extraYaml), logger);
  const resolver = new StoreResolver({ registry, secrets: registry, providers: createProviders(), logger });
  t.teardown(() => resolver.close());
  return { resolver, logger, lines, deps: { resolver, logger } };
}

t.test("the introduction's scenario with the example stores (fake provider)", async (t) => {
  const { deps } = await exampleResolver(t);
  const req = fixture('create-intro');
  const result = await mutateSecret(req, deps);
  t.equal(result.allowed, true, JSON.stringify(result.status));
  const out = applyPatch(req.object, result);
  t.same(decodedData(out), {
    username: 'db_user',
    password: 'supersecretpassword',
    url: 'postgres://db_user@db:5432/app',
  });
  t.notOk(patchText(result).includes('${ref:'));
  t.same(await mutateSecret({ ...req, object: out }, deps), { allowed: true }, 'reinvocation: no patch');
});

t.test('every fixture through the real resolver', async (t) => {
  const { deps } = await exampleResolver(t);
  const multiple = fixture('create-multiple');
  t.same(decodedData(applyPatch(multiple.object, await mutateSecret(multiple, deps))), {
    dsn: 'db_user:supersecretpassword@db.internal:5432',
    'api-key': 'ak_live_new_4567',
    'api-key-old': 'ak_live_old_0123',
    'tls-mode': 'verify-full',
    literal: 'not a reference',
  });
  const docker = fixture('create-dockerconfigjson');
  t.same(
    JSON.parse(
      decodedData(applyPatch(docker.object, await mutateSecret(docker, deps)))['.dockerconfigjson'] ?? '',
    ),
    {
      auths: { 'registry.example.com': { username: 'robot', password: 'registry-token' } },
    },
  );
  const from = fixture('create-data-from');
  t.same(decodedData(applyPatch(from.object, await mutateSecret(from, deps))), {
    username: 'db_user',
    password: 'supersecretpassword',
    extra: 'ak_live_new_4567',
  });
  const gitops = fixture('create-gitops');
  t.same(decodedData(applyPatch(gitops.object, await mutateSecret(gitops, deps))), {
    username: 'db_user',
    password: 'supersecretpassword',
    'api-key': 'ak_live_old_0123',
  });
  const update = fixture('update-reapply');
  t.equal(
    decodedData(applyPatch(update.object, await mutateSecret(update, deps))).password,
    'supersecretpassword',
  );
  const dry = { ...fixture('create-intro'), dryRun: true };
  t.equal(decodedData(applyPatch(dry.object, await mutateSecret(dry, deps))).username, 'db_user');
});

t.test(
  'store binding: a SecretStore serves its own namespace, ClusterSecretStore conditions hold',
  async (t) => {
    const { deps } = await exampleResolver(t);
    const other = fixture('create-intro');
    other.namespace = 'team-b';
    (other.object.metadata as { namespace?: string }).namespace = 'team-b';
    t.match(await mutateSecret(other, deps), {
      allowed: false,
      status: { code: 404, message: /SecretStore "demo-store" not found in namespace "team-b"/ },
    });

    const cluster = fixture('create-intro');
    const a = cluster.object.metadata?.annotations as Record<string, string>;
    a['esw.io/store'] = 'demo-cluster-store';
    a['esw.io/store-kind'] = 'ClusterSecretStore';
    cluster.object.data = { user: b64('${ref:shared/smtp#user}') };
    const ok = await mutateSecret(cluster, deps);
    t.equal(unb64(applyPatch(cluster.object, ok).data?.user), 'mailer');
    const denied = structuredClone(cluster);
    denied.namespace = 'team-b';
    t.match(await mutateSecret(denied, deps), {
      allowed: false,
      status: {
        code: 403,
        message: /ClusterSecretStore "demo-cluster-store" may not be used from namespace "team-b"/,
      },
    });
  },
);

t.test('refusals through the real resolver: 404 key, 404 property, never the value', async (t) => {
  const { deps, lines } = await exampleResolver(
    t,
    `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: canary-store, namespace: default }
spec:
  provider:
    fake:
      data:
        - key: app/db
          value: '{"username":"u","password":"${CANARY}"}'
`,
  );
  const req = (data: Record<string, string>) => {
    const r = fixture('create-intro');
    (r.object.metadata?.annotations as Record<string, string>)['esw.io/store'] = 'canary-store';
    r.object.data = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)]));
    return r;
  };
  const missing = await mutateSecret(req({ a: '${ref:app/nope#password}' }), deps);
  t.match(missing, {
    allowed: false,
    status: { code: 404, message: /ESW_SECRET_NOT_FOUND.*app\/nope.*canary-store/ },
  });
  const prop = await mutateSecret(req({ a: '${ref:app/db#passw0rd}', b: '${ref:app/db#password}' }), deps);
  t.match(prop, {
    allowed: false,
    status: { code: 404, message: /ESW_PROPERTY_NOT_FOUND.*passw0rd.*app\/db.*canary-store/ },
  });
  const ok = await mutateSecret(req({ a: 'x ${ref:app/db#password} y' }), deps);
  t.equal(ok.allowed, true);
  for (const r of [missing, prop, ok]) t.notOk(visibleText(r).includes(CANARY));
  t.notOk(lines.join('\n').includes(CANARY), 'no value in the logs');
});

t.test(
  'the real AWS provider: binary SecretBinary, versions, 404 and a provider outage as 503',
  async (t) => {
    const fake = await AwsSecretsManagerFake.start();
    t.teardown(() => fake.close());
    const binary = Buffer.from([0x30, 0x82, 0x01, 0x0a, 0x00, 0xff, 0xfe]);
    fake.put('my-app/database-credentials', JSON.stringify({ username: 'db_user', password: 'old' }), {
      versionId: '11111111-1111-4111-8111-111111111111',
    });
    fake.put('my-app/database-credentials', JSON.stringify({ username: 'db_user', password: CANARY }));
    fake.put('my-app/keystore', binary);
    const { logger, lines } = capturingLogger();
    const registry = new MemoryRegistry();
    for (const o of parseManifests(`apiVersion: v1
kind: Secret
metadata: { name: aws-creds, namespace: default }
data: { id: ${b64('AKIDEXAMPLE')}, key: ${b64('secret-key-example')} }
---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: aws-store, namespace: default }
spec:
  provider:
    aws:
      service: SecretsManager
      region: us-east-1
      auth:
        secretRef:
          accessKeyIDSecretRef: { name: aws-creds, key: id }
          secretAccessKeySecretRef: { name: aws-creds, key: key }
`))
      registry.upsert(o.object);
    const resolver = new StoreResolver({
      registry,
      secrets: registry,
      providers: createProviders(),
      logger,
      endpoints: { aws: fake.endpoint },
      maxAttempts: 1,
    });
    t.teardown(() => resolver.close());
    const deps = { resolver, logger };
    const req = fixture('create-intro');
    (req.object.metadata?.annotations as Record<string, string>)['esw.io/store'] = 'aws-store';
    req.object.data = {
      username: b64('${ref:my-app/database-credentials#username}'),
      password: b64('${ref:my-app/database-credentials#password}'),
      previous: b64('${ref:my-app/database-credentials#password#AWSPREVIOUS}'),
      pinned: b64('${ref:my-app/database-credentials#password#uuid/11111111-1111-4111-8111-111111111111}'),
      'keystore.p12': b64('${ref:my-app/keystore}'),
    };
    const result = await mutateSecret(req, deps);
    t.equal(result.allowed, true, JSON.stringify(result.status));
    const out = applyPatch(req.object, result);
    const data = decodedData(out);
    t.equal(data.username, 'db_user');
    t.equal(data.password, CANARY);
    t.equal(data.previous, 'old');
    t.equal(data.pinned, 'old');
    t.same(Buffer.from(out.data?.['keystore.p12'] ?? '', 'base64'), binary, 'binary bytes intact');

    const missing = fixture('create-single');
    (missing.object.metadata?.annotations as Record<string, string>)['esw.io/store'] = 'aws-store';
    missing.object.data = { a: b64('${ref:my-app/absent}') };
    t.match(await mutateSecret(missing, deps), {
      allowed: false,
      status: { code: 404, message: /my-app\/absent/ },
    });

    fake.fault({ type: 'error', status: 503, errorType: 'ServiceUnavailable' }, { key: 'my-app/down' });
    const down = fixture('create-single');
    (down.object.metadata?.annotations as Record<string, string>)['esw.io/store'] = 'aws-store';
    down.object.data = { a: b64('${ref:my-app/down}') };
    const refused = await mutateSecret(down, deps);
    t.match(refused, { allowed: false, status: { code: 503, message: /my-app\/down.*aws-store/ } });
    t.notOk(lines.join('\n').includes(CANARY), 'no value in the logs');
    t.notOk(visibleText(refused).includes(CANARY));
  },
);

t.test('the real Vault provider (KV v2): properties, versions, 403 from a denied path', async (t) => {
  const fake = new VaultFake();
  const url = await fake.start();
  t.teardown(() => fake.close());
  fake.addToken('vault-token');
  fake.putKv2('secret', 'my-app/database-credentials', { username: 'db_user', password: 'v1-password' });
  fake.putKv2('secret', 'my-app/database-credentials', { username: 'db_user', password: CANARY });
  fake.putKv2('secret', 'my-app/locked', { password: CANARY });
  fake.deny('secret/data/my-app/locked');
  const { logger, lines } = capturingLogger();
  const registry = new MemoryRegistry();
  for (const o of parseManifests(`apiVersion: v1
kind: Secret
metadata: { name: vault-token, namespace: default }
data: { token: ${b64('vault-token')} }
---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: vault-store, namespace: default }
spec:
  provider:
    vault:
      server: ${url}
      path: secret
      version: v2
      auth:
        tokenSecretRef: { name: vault-token, key: token }
`))
    registry.upsert(o.object);
  const resolver = new StoreResolver({
    registry,
    secrets: registry,
    providers: createProviders(),
    logger,
    maxAttempts: 1,
  });
  t.teardown(() => resolver.close());
  const deps = { resolver, logger };
  const req = fixture('create-intro');
  (req.object.metadata?.annotations as Record<string, string>)['esw.io/store'] = 'vault-store';
  req.object.data = {
    username: b64('${ref:my-app/database-credentials#username}'),
    password: b64('${ref:my-app/database-credentials#password}'),
    first: b64('${ref:my-app/database-credentials#password#1}'),
    url: b64('postgres://${ref:my-app/database-credentials#username}@db:5432/app'),
  };
  const result = await mutateSecret(req, deps);
  t.equal(result.allowed, true, JSON.stringify(result.status));
  t.same(decodedData(applyPatch(req.object, result)), {
    username: 'db_user',
    password: CANARY,
    first: 'v1-password',
    url: 'postgres://db_user@db:5432/app',
  });

  const locked = fixture('create-single');
  (locked.object.metadata?.annotations as Record<string, string>)['esw.io/store'] = 'vault-store';
  locked.object.data = { a: b64('${ref:my-app/locked#password}') };
  const denied = await mutateSecret(locked, deps);
  t.match(denied, { allowed: false, status: { code: 403, message: /my-app\/locked.*vault-store/ } });
  t.notOk(visibleText(denied).includes(CANARY));
  t.notOk(lines.join('\n').includes(CANARY), 'no value in the logs');
});
