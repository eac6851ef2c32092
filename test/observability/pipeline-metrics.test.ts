/**
 * /metrics after known traffic through the whole pipeline: provider calls and cache lookups
 * from admissions, syncs, conditions and queue depth from the refresher — and no label that
 * carries a value or a remote key.
 */
import t from 'tap';
import { parseManifests } from '../../src/api/manifests.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { Refresher } from '../../src/refresher/refresher.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { createRuntime, loadIntoRegistry } from '../../src/runtime.ts';
import { buildApp } from '../../src/server/app.ts';
import { admissionReview } from '../helpers/admission-review.ts';
import { MemoryKube } from '../refresher/memory-kube.ts';

const CANARY = 'CANARY-metrics-0f1';
const STORES = `
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: demo, namespace: default }
spec:
  provider:
    fake:
      data:
        - key: app/db
          value: '{"username":"u","password":"${CANARY}"}'
`;

function value(text: string, name: string, labels: Record<string, string> = {}): number {
  const line = text
    .split('\n')
    .find(
      (l) =>
        (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) &&
        Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)),
    );
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : Number.NaN;
}

t.test('provider, cache and refresher metrics after known traffic', async (t) => {
  const metrics = createMetrics();
  const logger = silentLogger();
  const registry = new MemoryRegistry();
  loadIntoRegistry(registry, parseManifests(STORES), logger);
  let now = Date.parse('2026-11-28T12:00:00Z');
  const runtime = createRuntime(registry, registry, {
    logger,
    metrics,
    admissionDeadlineMs: 60_000, // not a deadline test: a loaded machine (SDKs load on first use) must not turn a fill into a refusal
    cacheTtlMs: 60_000,
    // One clock for resolver and refresher: the refresh path asks for values fetched after its
    // slot time, so two clocks would make the cache hit or miss by time of day.
    now: () => now,
  });
  const app = buildApp({
    logger,
    metrics,
    validate: runtime.validate,
    mutate: runtime.mutate,
    readiness: () => ({ ready: true, reasons: [] }),
  });
  t.teardown(async () => {
    await app.close();
    await runtime.close();
  });

  const placeholder = {
    metadata: {
      name: 's',
      namespace: 'default',
      labels: { 'esw.io/inject': 'true' },
      annotations: { 'esw.io/store': 'demo' },
    },
    data: { password: Buffer.from('${ref:app/db#password}').toString('base64') },
  };
  const review = (uid: string) => admissionReview('Secret', placeholder, { uid, namespace: 'default' });
  for (const uid of ['a', 'b', 'c']) {
    const res = await app.inject({ method: 'POST', url: '/mutate', payload: review(uid) });
    t.equal(res.json().response.allowed, true);
  }

  // The ExternalSecret arrives a second later: its first refresh slot is after the admissions'
  // fetch, so the refresh path must go back to the provider rather than reuse that value.
  now += 1000;
  const kube = new MemoryKube();
  const refresher = new Refresher({ resolver: runtime.resolver, kube, logger, metrics, now: () => now });
  refresher.upsertExternalSecret({
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name: 'es', namespace: 'default', uid: 'es-uid', generation: 1 },
    spec: {
      refreshInterval: '1h',
      secretStoreRef: { name: 'demo', kind: 'SecretStore' },
      target: { name: 'target' },
      data: [{ secretKey: 'password', remoteRef: { key: 'app/db', property: 'password' } }],
    },
  });
  refresher.start();
  await refresher.tick();
  // The next refresh falls on the key's round (a phase within the hour): go to just before it,
  // wherever the phase puts it, so the second tick finds nothing due.
  const syncedAt = now;
  const due = refresher.dueOf({ kind: 'ExternalSecret', metadata: { name: 'es', namespace: 'default' } });
  t.ok(due !== undefined && due > now + 1000, 'the synced ExternalSecret is scheduled for a later round');
  now = (due ?? now) - 1000;
  await refresher.tick();

  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  t.equal(
    value(text, 'externalsecret_provider_api_calls_count', {
      provider: 'fake',
      call: 'getSecret',
      status: 'success',
    }),
    2,
    'three admissions of one key cost one call; the refresh round one more, its sync none',
  );
  t.equal(value(text, 'esw_value_cache_lookups_total', { result: 'miss' }), 2);
  t.equal(
    value(text, 'esw_value_cache_lookups_total', { result: 'hit' }),
    3,
    'the 2nd and 3rd admission, and the sync after the round prefetch, were cache hits',
  );
  t.equal(
    value(text, 'esw_admission_requests_total', { operation: 'mutate', kind: 'Secret', result: 'patched' }),
    3,
  );
  t.equal(value(text, 'externalsecret_sync_calls_total', { name: 'es', namespace: 'default' }), 1);
  t.equal(value(text, 'esw_refresher_syncs_total', { kind: 'ExternalSecret', result: 'created' }), 1);
  t.equal(
    value(text, 'externalsecret_status_condition', { name: 'es', condition: 'Ready', status: 'True' }),
    1,
  );
  t.equal(value(text, 'esw_refresher_queue_depth'), 1, 'the ExternalSecret waits for its next slot');
  t.equal(
    value(text, 'esw_refresher_stalest_secret_age_seconds'),
    (now - syncedAt) / 1000,
    'the age of the first sync',
  );
  t.notOk(text.includes(CANARY), 'no value in any metric');
  t.notOk(text.includes('app/db'), 'no remote key as a label');
  await refresher.stop();
});
