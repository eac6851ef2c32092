import fjp from 'fast-json-patch';
import t from 'tap';
import { mutateSecret } from '../../src/admission/mutate.ts';
import type { Secret } from '../../src/api/types.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { ProviderError } from '../../src/providers/types.ts';
import { PlaceholderRefresh } from '../../src/refresher/placeholder.ts';
import { b64, harness, unb64 } from './harness.ts';

const DB = 'my-app/database-credentials';
const HOUR = 3_600_000;

/** What admission stores for the README's placeholder example. */
async function admitted(h: ReturnType<typeof harness>, interval = '1h'): Promise<Secret> {
  const object: Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 'database-credentials',
      namespace: 'default',
      labels: { 'esw.io/inject': 'true' },
      annotations: { 'esw.io/store': 'aws-secrets-manager-store', 'esw.io/refresh-interval': interval },
    },
    data: {
      username: b64(`\${ref:${DB}#username}`),
      password: b64(`\${ref:${DB}#password}`),
      url: b64(`postgres://\${ref:${DB}#username}@db:5432/app`),
    },
  };
  const result = await mutateSecret(
    {
      uid: 'u',
      kind: { group: '', version: 'v1', kind: 'Secret' },
      resource: { group: '', version: 'v1', resource: 'secrets' },
      operation: 'CREATE',
      namespace: 'default',
      object,
    },
    { resolver: h.resolver, logger: silentLogger() },
  );
  if (!result.patch) throw new Error(`not mutated: ${JSON.stringify(result.status)}`);
  const ops = JSON.parse(Buffer.from(result.patch, 'base64').toString('utf8'));
  const stored = fjp.applyPatch(structuredClone(object), ops).newDocument as Secret;
  return h.kube.createSecret('default', stored);
}

t.test('placeholder Secrets follow their remote values on esw.io/refresh-interval', async (t) => {
  const h = harness({ placeholders: undefined });
  const syncer = new PlaceholderRefresh(h.resolver, silentLogger());
  const { Refresher } = await import('../../src/refresher/refresher.ts');
  const refresher = new Refresher({
    resolver: h.resolver,
    kube: h.kube,
    logger: silentLogger(),
    now: h.clock.now,
    placeholders: syncer,
  });
  h.remote.values.set(DB, '{"username":"db_user","password":"one"}');
  const stored = await admitted(h);
  t.equal(syncer.interval(stored), HOUR);
  refresher.upsertPlaceholder(stored);
  refresher.start();
  const writesBefore = h.kube.secretWrites();
  for (let i = 0; i < 5; i++) {
    h.clock.advance(HOUR);
    await refresher.tick();
  }
  t.equal(h.kube.secretWrites(), writesBefore, 'unchanged remote: no writes');
  h.remote.values.set(DB, '{"username":"db_user","password":"two"}');
  h.clock.advance(HOUR);
  await refresher.tick();
  const s = h.kube.secrets.get('default/database-credentials');
  t.equal(unb64(s?.data?.password), 'two');
  t.equal(unb64(s?.data?.url), 'postgres://db_user@db:5432/app');
  t.equal(h.kube.secretWrites(), writesBefore + 1);

  h.remote.fault = new ProviderError('Unavailable', 'test: down');
  h.clock.advance(HOUR);
  await refresher.tick();
  t.equal(
    unb64(h.kube.secrets.get('default/database-credentials')?.data?.password),
    'two',
    'an outage keeps the data',
  );
  await refresher.stop();
});

t.test('refresh-interval 0 is never refreshed; a Secret without a record is skipped', async (t) => {
  const h = harness();
  const syncer = new PlaceholderRefresh(h.resolver, silentLogger());
  h.remote.values.set(DB, '{"username":"u","password":"p"}');
  const stored = await admitted(h, '0');
  t.equal(syncer.interval(stored), 0);
  t.same(
    await syncer.sync(
      { metadata: { name: 'nope', namespace: 'default' } },
      { fetchedAfter: 0, kube: h.kube },
    ),
    { result: 'skipped' },
  );
  const plain = await h.kube.createSecret('default', {
    metadata: { name: 'plain', annotations: {} },
    data: { a: b64('x') },
  });
  t.same(await syncer.sync(plain, { fetchedAfter: 0, kube: h.kube }), { result: 'skipped' });
});
