/**
 * The per-ExternalSecret metric series (ESO's externalsecret_sync_calls_total,
 * externalsecret_sync_calls_error, externalsecret_status_condition) live as long as this replica
 * refreshes the object: a deleted ExternalSecret's series go (as ESO's RemoveMetrics), so names a
 * tenant creates and deletes do not pile up in memory and in every scrape; and a shard handed to
 * another replica takes its objects' series along (the new owner reports them; kept here, a stale
 * Ready series would be counted twice).
 */
import t from 'tap';
import { parseManifests } from '../../src/api/manifests.ts';
import type { ExternalSecret } from '../../src/api/types.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { createMetrics, metricsText } from '../../src/observability/metrics.ts';
import { shardOf } from '../../src/refresher/queue.ts';
import { Refresher } from '../../src/refresher/refresher.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { createRuntime, loadIntoRegistry } from '../../src/runtime.ts';
import { MemoryKube } from './memory-kube.ts';

const SHARDS = 2;
const STORES = ['team-a', 'team-b']
  .map(
    (ns) => `
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: demo, namespace: ${ns} }
spec:
  provider:
    fake:
      data:
        - key: app/db
          value: '{"password":"p"}'
`,
  )
  .join('---\n');

function es(name: string, namespace: string): ExternalSecret {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name, namespace, uid: `${namespace}-${name}`, generation: 1 },
    spec: {
      refreshInterval: '1h',
      secretStoreRef: { name: 'demo', kind: 'SecretStore' },
      target: { name: `${name}-target` },
      data: [{ secretKey: 'password', remoteRef: { key: 'app/db', property: 'password' } }],
    },
  };
}

/** Namespaces of the two shards: found, not assumed, so a change of the hash cannot void the test. */
function namespacesOfBothShards(): [string, string] {
  const byShard = new Map<number, string>();
  for (let i = 0; byShard.size < SHARDS && i < 1000; i++) {
    const ns = `team-${i}`;
    if (!byShard.has(shardOf(ns, SHARDS))) byShard.set(shardOf(ns, SHARDS), ns);
  }
  return [byShard.get(0) as string, byShard.get(1) as string];
}

t.test('a deleted ExternalSecret and a lost shard take their metric series along', async (t) => {
  const [ns0, ns1] = namespacesOfBothShards();
  const metrics = createMetrics();
  const logger = silentLogger();
  const registry = new MemoryRegistry();
  loadIntoRegistry(
    registry,
    parseManifests(STORES.replaceAll('team-a', ns0).replaceAll('team-b', ns1)),
    logger,
  );
  const now = Date.parse('2026-11-28T12:00:00Z');
  const runtime = createRuntime(registry, registry, {
    logger,
    metrics,
    admissionDeadlineMs: 60_000,
    cacheTtlMs: 60_000,
    now: () => now,
  });
  const refresher = new Refresher({
    resolver: runtime.resolver,
    kube: new MemoryKube(),
    logger,
    metrics,
    now: () => now,
    shards: SHARDS,
  });
  t.teardown(async () => {
    await refresher.stop();
    await runtime.close();
  });
  const objects = [es('a', ns0), es('b', ns0), es('c', ns1)];
  for (const o of objects) refresher.upsertExternalSecret(o);
  await refresher.setShards([0, 1]);
  await refresher.tick();

  const series = async (name: string, namespace: string) =>
    (await metricsText(metrics.registry))
      .split('\n')
      .filter(
        (l) => l.startsWith('externalsecret_') && l.includes(`name="${name}",namespace="${namespace}"`),
      );
  for (const o of objects) {
    const lines = await series(o.metadata?.name ?? '', o.metadata?.namespace ?? '');
    // sync calls + the Ready condition's True and False series
    t.equal(lines.length, 3, `${o.metadata?.name}: its series after a sync`);
  }

  refresher.deleteExternalSecret(es('a', ns0));
  t.same(await series('a', ns0), [], 'a deleted ExternalSecret has no series left');
  t.equal((await series('b', ns0)).length, 3, 'another object of the namespace keeps its series');

  await refresher.setShards([0]);
  t.same(await series('c', ns1), [], "the lost shard's object has no series here any more");
  t.equal((await series('b', ns0)).length, 3, "a kept shard's object keeps its series");
  t.equal(metrics.statusCondition.size, 2, 'only b remains in the condition family (True and False)');
});
