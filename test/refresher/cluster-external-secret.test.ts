/**
 * The ClusterExternalSecret fan-out on an in-memory cluster (the cluster double test is
 * test/e2e/cluster-external-secret.test.ts): the rename of externalSecretName, a selector that
 * cannot be evaluated, a namespace being deleted, a lost race (409), the spec hash that tells a
 * changed spec from the API server's defaults, and nothing at all while not leading.
 */
import t from 'tap';
import type { ExternalSecret, Namespace, SecretStore } from '../../src/api/types.ts';
import { KubeApiError } from '../../src/kube/client.ts';
import { createLogger } from '../../src/observability/logger.ts';
import {
  type CesStatus,
  type CesWriter,
  type ClusterExternalSecret,
  ClusterExternalSecrets,
  SPEC_HASH_ANNOTATION,
} from '../../src/refresher/cluster-external-secret.ts';

const logger = createLogger({ level: 'silent' });

function world() {
  const namespaces = new Map<string, Namespace>();
  const ess = new Map<string, ExternalSecret>();
  const statuses: CesStatus[] = [];
  const calls: string[] = [];
  let uid = 0;
  let failNext: number | undefined;
  const kube: CesWriter = {
    async createExternalSecret(ns, es) {
      calls.push(`create ${ns}/${es.metadata?.name}`);
      if (failNext !== undefined) {
        const code = failNext;
        failNext = undefined;
        throw new KubeApiError(code, undefined, 'create');
      }
      ess.set(`${ns}/${es.metadata?.name}`, {
        ...es,
        metadata: { ...es.metadata, uid: `u${++uid}`, resourceVersion: '1' },
      });
    },
    async replaceExternalSecret(ns, es) {
      calls.push(`replace ${ns}/${es.metadata?.name}`);
      ess.set(`${ns}/${es.metadata?.name}`, es);
    },
    async deleteExternalSecret(ns, name) {
      calls.push(`delete ${ns}/${name}`);
      ess.delete(`${ns}/${name}`);
    },
    async patchStatus(ces, status) {
      statuses.push(status);
      ces.status = status;
    },
  };
  const stores = new Map<string, SecretStore>();
  const c = new ClusterExternalSecrets({
    kube,
    sources: {
      namespaces: () => namespaces.values(),
      externalSecret: (ns, name) => ess.get(`${ns}/${name}`),
      clusterStore: (name) => stores.get(name),
    },
    serves: (s) => !s.spec?.controller,
    logger,
    now: () => 0,
  });
  const ns = (name: string, labels: Record<string, string> = {}, deleting = false) =>
    namespaces.set(name, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, labels, ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    });
  return {
    c,
    ns,
    ess,
    statuses,
    calls,
    stores,
    failNext: (code: number) => {
      failNext = code;
    },
  };
}

const ces = (spec: ClusterExternalSecret['spec'] = {}): ClusterExternalSecret => ({
  apiVersion: 'external-secrets.io/v1',
  kind: 'ClusterExternalSecret',
  metadata: { name: 'db', uid: 'ces-uid', generation: 1 },
  spec: {
    externalSecretSpec: {
      secretStoreRef: { name: 'fake', kind: 'ClusterSecretStore' },
      refreshInterval: '1h',
    },
    ...spec,
  },
});

t.test('nothing while not leading; everything at start', async (t) => {
  const w = world();
  w.ns('a', { team: 'x' });
  w.c.upsert(ces({ namespaceSelectors: [{ matchLabels: { team: 'x' } }] }));
  t.equal(await w.c.tick(), 0, 'not running: no pass');
  t.same(w.calls, []);
  w.c.start();
  t.equal(await w.c.tick(), 1);
  t.same(w.calls, ['create a/db']);
  t.same(w.statuses.at(-1)?.provisionedNamespaces, ['a']);
  t.ok(w.ess.get('a/db')?.metadata?.annotations?.[SPEC_HASH_ANNOTATION], 'spec hash recorded');
});

t.test('defaults added by the API server are not a change; a spec change is', async (t) => {
  const w = world();
  w.ns('a');
  const obj = ces({ namespaces: ['a'] });
  w.c.upsert(obj);
  w.c.start();
  await w.c.tick();
  // The API server adds a default the ClusterExternalSecret did not say.
  const stored = w.ess.get('a/db') as ExternalSecret;
  w.ess.set('a/db', { ...stored, spec: { ...stored.spec, refreshPolicy: 'Periodic' } });
  w.c.externalSecretChanged(w.ess.get('a/db') as ExternalSecret);
  await w.c.tick();
  t.same(w.calls, ['create a/db'], 'defaults: no write');
  w.c.upsert({
    ...obj,
    metadata: { ...obj.metadata, generation: 2 },
    spec: { ...obj.spec, externalSecretSpec: { ...obj.spec?.externalSecretSpec, refreshInterval: '5m' } },
  });
  await w.c.tick();
  t.same(w.calls, ['create a/db', 'replace a/db']);
  t.equal(w.ess.get('a/db')?.spec?.refreshInterval, '5m');
});

t.test('a renamed externalSecretName removes the old ones first', async (t) => {
  const w = world();
  w.ns('a');
  const obj = ces({ namespaces: ['a'] });
  w.c.upsert(obj);
  w.c.start();
  await w.c.tick();
  w.c.upsert({
    ...obj,
    metadata: { ...obj.metadata, generation: 2 },
    spec: { ...obj.spec, externalSecretName: 'db2' },
  });
  await w.c.tick();
  t.same(w.calls, ['create a/db', 'delete a/db', 'create a/db2']);
  t.equal(w.statuses.at(-1)?.externalSecretName, 'db2');
});

t.test('a selector that cannot be evaluated fails as "unknown"', async (t) => {
  const w = world();
  w.ns('a');
  w.c.upsert(ces({ namespaceSelectors: [{ matchExpressions: [{ key: 'k', operator: 'In', values: [] }] }] }));
  w.c.start();
  await w.c.tick();
  const s = w.statuses.at(-1);
  t.equal(s?.failedNamespaces?.[0]?.namespace, 'unknown');
  t.match(s?.failedNamespaces?.[0]?.reason, /failed to convert label selector/);
  t.same(s?.conditions, [{ type: 'Ready', status: 'False', message: 'one or more namespaces failed' }]);
});

t.test('a namespace being deleted is skipped; a lost race is retried without a failure', async (t) => {
  const w = world();
  w.ns('gone', {}, true);
  w.ns('a');
  w.c.upsert(ces({ namespaces: ['gone', 'a'] }));
  w.c.start();
  w.failNext(409);
  await w.c.tick();
  t.same(w.statuses, [], 'a 409: no status written, retried');
  t.same(w.calls, ['create a/db']);
  const w2 = world();
  w2.ns('gone', {}, true);
  w2.ns('a');
  w2.c.upsert(ces({ namespaces: ['gone', 'a'] }));
  w2.c.start();
  w2.failNext(500);
  await w2.c.tick();
  t.same(
    w2.statuses.at(-1)?.failedNamespaces?.map((f) => f.namespace),
    ['a'],
    'other errors fail the namespace',
  );
  t.same(w2.statuses.at(-1)?.provisionedNamespaces, [], 'the deleting namespace is neither');
});

t.test('another controller class: left alone', async (t) => {
  const w = world();
  w.ns('a');
  w.stores.set('fake', {
    kind: 'ClusterSecretStore',
    metadata: { name: 'fake' },
    spec: { controller: 'other' },
  });
  w.c.upsert(ces({ namespaces: ['a'] }));
  w.c.start();
  await w.c.tick();
  t.same(w.calls, []);
  t.same(w.statuses, []);
});

t.test('a ClusterExternalSecret being deleted is left to the garbage collector', async (t) => {
  const w = world();
  w.ns('a');
  const obj = ces({ namespaces: ['a'] });
  w.c.upsert({ ...obj, metadata: { ...obj.metadata, deletionTimestamp: '2026-01-01T00:00:00Z' } });
  w.c.start();
  await w.c.tick();
  t.same(w.calls, []);
  w.c.remove(obj);
  t.equal(await w.c.tick(), 0);
});
