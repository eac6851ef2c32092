/**
 * The refresher's push refreshes (docs/push-refresh.md), with an injected clock and the real
 * resolver (30 s value cache): what a change of `force-sync` or of `esw.io/refresh-request`
 * schedules, what it does not (first sight, the same value, a removed annotation), key filters,
 * placeholder intervals, refreshPolicy, ownership, and the request annotation's bounds.
 */
import fjp from 'fast-json-patch';
import t from 'tap';
import { mutateSecret } from '../../src/admission/mutate.ts';
import type { ExternalSecret, KubeObject, Secret, SecretStore } from '../../src/api/types.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { PlaceholderRefresh } from '../../src/refresher/placeholder.ts';
import { STORE_MARK_SPACING_MS } from '../../src/refresher/refresher.ts';
import {
  esReadsFrom,
  formatRefreshRequest,
  REFRESH_REQUEST_ANNOTATION,
  refreshRequestOf,
} from '../../src/refresher/triggers.ts';
import { b64, harness, introExternalSecret, STORE, unb64 } from './harness.ts';

const DB = 'my-app/database-credentials';
const API = 'my-app/api-key';

function setup() {
  const h = harness({ placeholders: undefined });
  const placeholders = new PlaceholderRefresh(h.resolver, silentLogger());
  return { h, placeholders };
}

async function placeholder(
  h: ReturnType<typeof harness>,
  name: string,
  key: string,
  interval = '1h',
): Promise<Secret> {
  const object: Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      namespace: 'default',
      labels: { 'esw.io/inject': 'true' },
      annotations: { 'esw.io/store': 'aws-secrets-manager-store', 'esw.io/refresh-interval': interval },
    },
    data: { password: b64(`\${ref:${key}#password}`) },
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

const annotated = <T extends KubeObject>(o: T, annotations: Record<string, string>): T => ({
  ...o,
  metadata: { ...o.metadata, annotations: { ...o.metadata?.annotations, ...annotations } },
});
const esFor = (name: string, key: string, over: Partial<ExternalSecret['spec']> = {}) =>
  introExternalSecret(
    {
      target: { name: `${name}-target`, creationPolicy: 'Owner' },
      data: [{ secretKey: 'password', remoteRef: { key, property: 'password' } }],
      ...over,
    },
    name,
  );
const target = (h: ReturnType<typeof harness>, name: string) =>
  unb64(h.kube.secrets.get(`default/${name}`)?.data?.password);

async function triggerCount(h: ReturnType<typeof harness>, labels: Record<string, string>) {
  return (await h.metrics.refreshTriggers.get()).values
    .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k as 'source'] === l))
    .reduce((n, v) => n + v.value, 0);
}

t.test('a store-wide trigger: every dependent, fresh reads, only changes count', async (t) => {
  const { h, placeholders } = setup();
  const { Refresher } = await import('../../src/refresher/refresher.ts');
  const refresher = new Refresher({
    resolver: h.resolver,
    kube: h.kube,
    logger: silentLogger(),
    metrics: h.metrics,
    now: h.clock.now,
    placeholders,
  });
  h.remote.values.set(DB, '{"password":"one"}');
  h.remote.values.set(API, '{"password":"a1"}');
  refresher.upsertStore(STORE);
  refresher.upsertExternalSecret(esFor('db', DB));
  refresher.upsertExternalSecret(esFor('api', API));
  refresher.upsertExternalSecret(esFor('once', DB, { refreshPolicy: 'CreatedOnce' }));
  const ph = await placeholder(h, 'ph', DB);
  const phNever = await placeholder(h, 'ph-never', API, '0');
  refresher.upsertPlaceholder(ph);
  refresher.upsertPlaceholder(phNever);
  refresher.start();
  await refresher.tick();
  t.equal(target(h, 'db-target'), 'one');

  h.remote.values.set(DB, '{"password":"two"}');
  h.remote.values.set(API, '{"password":"a2"}');
  h.clock.advance(1_000); // well inside the value cache's 30 s
  const calls = h.remote.calls;
  // The informer hands the same store back (a resync), or with other changes: nothing.
  refresher.upsertStore({ ...STORE, metadata: { ...STORE.metadata, labels: { x: 'y' } } });
  await refresher.tick();
  t.equal(h.remote.calls, calls, 'not a change of force-sync: nothing read');

  refresher.upsertStore(annotated(STORE, { 'force-sync': '1' }));
  await refresher.tick();
  t.equal(target(h, 'db-target'), 'two', 'an ExternalSecret read past the cache');
  t.equal(target(h, 'api-target'), 'a2');
  t.equal(target(h, 'once-target'), 'one', 'CreatedOnce: its refreshPolicy still decides');
  t.equal(unb64(h.kube.secrets.get('default/ph')?.data?.password), 'two', 'a placeholder with an interval');
  t.equal(
    unb64(h.kube.secrets.get('default/ph-never')?.data?.password),
    'a1',
    'a placeholder with interval 0 is not refreshed store-wide',
  );
  t.equal(h.remote.calls - calls, 2, 'one call per key');
  t.equal(await triggerCount(h, { source: 'force-sync', kind: 'SecretStore' }), 1);

  // Removing the annotation is no request; setting it again is one (past the store's spacing).
  const c2 = h.remote.calls;
  refresher.upsertStore(STORE);
  h.clock.advance(STORE_MARK_SPACING_MS);
  await refresher.tick();
  t.equal(h.remote.calls, c2, 'removed: nothing read');
  t.equal(await triggerCount(h, { source: 'force-sync' }), 1);
  refresher.upsertStore(annotated(STORE, { 'force-sync': '1' }));
  await refresher.tick();
  t.equal(h.remote.calls - c2, 2, 'set again: a request, one call per key');
  t.equal(await triggerCount(h, { source: 'force-sync' }), 2);

  // force-sync on the interval-0 placeholder itself: asked for by hand, refreshed.
  refresher.upsertPlaceholder(annotated(phNever, { 'force-sync': 'now' }));
  await refresher.tick();
  t.equal(unb64(h.kube.secrets.get('default/ph-never')?.data?.password), 'a2', 'force-sync on the Secret');
  t.equal(await triggerCount(h, { source: 'force-sync', kind: 'Secret' }), 1);
  const latency = (await h.metrics.refreshTriggerLatency.get()).values.find(
    (v) => v.metricName === 'esw_refresh_trigger_latency_seconds_count',
  );
  t.ok((latency?.value ?? 0) >= 4, 'latency observed per object');
});

t.test('a refresh request with keys: only the dependents of those keys', async (t) => {
  const h = harness();
  h.remote.values.set(DB, '{"password":"one"}');
  h.remote.values.set(API, '{"password":"a1"}');
  h.refresher.upsertStore(STORE);
  h.refresher.upsertExternalSecret(esFor('db', DB));
  h.refresher.upsertExternalSecret(esFor('api', API));
  h.refresher.start();
  await h.refresher.tick();
  h.remote.values.set(DB, '{"password":"two"}');
  h.remote.values.set(API, '{"password":"a2"}');
  h.clock.advance(1_000);
  const calls = h.remote.calls;
  const request = formatRefreshRequest({ id: 'r1', at: h.clock.now(), keys: [API] });
  h.refresher.upsertStore(annotated(STORE, { [REFRESH_REQUEST_ANNOTATION]: request }));
  await h.refresher.tick();
  t.equal(target(h, 'api-target'), 'a2');
  t.equal(target(h, 'db-target'), 'one', 'another key waits for its round');
  t.equal(h.remote.calls - calls, 1);
  t.equal(await triggerCount(h, { source: 'endpoint', kind: 'SecretStore' }), 1);

  // An unreadable request is logged and ignored.
  h.refresher.upsertStore(annotated(STORE, { [REFRESH_REQUEST_ANNOTATION]: '{"id":' }));
  await h.refresher.tick();
  t.ok(h.lines.some((l) => l.includes('unreadable refresh request')));
  t.equal(await triggerCount(h, { source: 'endpoint' }), 1);

  // Another store's request reaches nothing here; a deleted store is forgotten.
  const other: SecretStore = { ...STORE, metadata: { ...STORE.metadata, name: 'other', uid: 'o' } };
  h.refresher.upsertStore(other);
  t.equal(
    h.refresher.refreshStore(
      { kind: 'SecretStore', namespace: 'default', name: 'other' },
      undefined,
      'endpoint',
    ),
    0,
  );
  h.refresher.deleteStore(STORE);
  h.refresher.upsertStore(annotated(STORE, { 'force-sync': 'x' }));
  t.equal(h.refresher.queueDepth, 2, 'first sight after a delete: not a change');
});

t.test('nothing is scheduled on a replica that owns nothing', async (t) => {
  const h = harness();
  h.remote.values.set(DB, '{"password":"one"}');
  h.refresher.upsertExternalSecret(esFor('db', DB));
  t.equal(
    h.refresher.refreshStore(
      { kind: 'SecretStore', namespace: 'default', name: 'aws-secrets-manager-store' },
      undefined,
      'force-sync',
    ),
    0,
  );
  t.equal(await triggerCount(h, { source: 'force-sync' }), 0, 'not counted where not running');
});

t.test('the request annotation is bounded and checked', async (t) => {
  const on = (v: string) =>
    ({ metadata: { annotations: { [REFRESH_REQUEST_ANNOTATION]: v } } }) as KubeObject;
  t.same(refreshRequestOf(on('{"id":"a","at":"2026-12-02T10:00:00.000Z","keys":["k"]}')), {
    id: 'a',
    at: Date.parse('2026-12-02T10:00:00Z'),
    keys: ['k'],
  });
  t.same(refreshRequestOf(on('{"id":"a"}')), { id: 'a', at: 0, keys: undefined });
  for (const bad of [
    'x',
    '[]',
    '{"at":"2026-12-02T10:00:00Z"}',
    '{"id":""}',
    '{"id":"a","keys":"k"}',
    '{"id":"a","keys":[""]}',
    `{"id":"a","keys":[${Array.from({ length: 101 }, () => '"k"').join(',')}]}`,
    `{"id":"a","keys":["${'k'.repeat(513)}"]}`,
    `{"id":"${'a'.repeat(200_000)}"}`,
  ])
    t.equal(refreshRequestOf(on(bad)), undefined, bad.slice(0, 40));
  t.equal(refreshRequestOf(undefined), undefined);
});

t.test('which ExternalSecrets read from a store', async (t) => {
  const store = { kind: 'SecretStore' as const, namespace: 'default', name: 'aws-secrets-manager-store' };
  const es = esFor('db', DB);
  t.ok(esReadsFrom(es, store, undefined));
  t.ok(esReadsFrom(es, store, new Set([DB])));
  t.notOk(esReadsFrom(es, store, new Set([API])));
  t.notOk(
    esReadsFrom(es, { ...store, namespace: 'team-b' }, undefined),
    'a SecretStore of another namespace',
  );
  t.notOk(esReadsFrom(es, { kind: 'ClusterSecretStore', namespace: undefined, name: store.name }, undefined));
  const find = esFor('find', DB, {
    data: [],
    dataFrom: [{ find: { name: { regexp: '^my-app/' } } }],
  });
  t.ok(esReadsFrom(find, store, new Set(['anything'])), 'find reads any key');
  const extract = esFor('extract', DB, {
    data: [],
    dataFrom: [
      {
        extract: { key: API },
        sourceRef: { storeRef: { name: 'cluster', kind: 'ClusterSecretStore' } },
      },
    ],
  });
  t.notOk(esReadsFrom(extract, store, new Set([API])), 'its key is read from another store');
  t.ok(
    esReadsFrom(
      extract,
      { kind: 'ClusterSecretStore', namespace: undefined, name: 'cluster' },
      new Set([API]),
    ),
  );
});

t.test('a trigger bigger than a round: the rounds share one read per key', async (t) => {
  // At most 8 objects of one store a round; the refresher's clock moves a millisecond at each
  // look, so every round is taken later than the request and later than the first read.
  const h: ReturnType<typeof harness> = harness({ roundSize: 2, now: () => h.clock.advance(1) });
  h.remote.values.set(DB, '{"password":"one"}');
  h.refresher.upsertStore(STORE);
  for (let i = 0; i < 20; i++) h.refresher.upsertExternalSecret(esFor(`db-${i}`, DB));
  h.refresher.start();
  await h.refresher.tick();
  h.remote.values.set(DB, '{"password":"two"}');
  h.clock.advance(1_000);
  const calls = h.remote.calls;
  h.refresher.upsertStore(annotated(STORE, { 'force-sync': '1' }));
  await h.refresher.tick();
  for (let i = 0; i < 20; i++) t.equal(target(h, `db-${i}-target`), 'two');
  t.equal(h.remote.calls - calls, 1, 'three rounds, one provider call');
});
