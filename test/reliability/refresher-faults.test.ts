/**
 * Provider faults during refresh: the Refresher with the real StoreResolver and AWS SDK against
 * its wire fake, the in-memory cluster and an injected clock. Slow answers past the call
 * deadline, 429 with Retry-After, 500s, connection resets and malformed bodies each keep every
 * target's data, mark the ExternalSecrets Ready=False, back off with growing delays, and the
 * targets reach the new remote value once the fault clears.
 */
import { randomUUID } from 'node:crypto';
import t from 'tap';
import type { ExternalSecret } from '../../src/api/types.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { createProviders } from '../../src/providers/registry.ts';
import { Refresher } from '../../src/refresher/refresher.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { StoreResolver } from '../../src/resolve/resolver.ts';
import { type AwsFault, AwsSecretsManagerFake } from '../fakes/aws-secrets-manager.ts';
import { MemoryKube } from '../refresher/memory-kube.ts';
import { addAwsClusterStore } from '../resolve/fixtures.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const HOUR = 3_600_000;
const CALL_TIMEOUT_MS = 300;
const CANARY = `CANARY-${randomUUID()}`;
const COUNT = 3;

const FAULTS: [string, AwsFault][] = [
  ['slower than the call deadline', { type: 'delay', ms: CALL_TIMEOUT_MS * 4 }],
  ['429 with Retry-After', { type: 'error', status: 429, errorType: 'ThrottlingException', retryAfter: 1 }],
  ['500', { type: 'error', status: 500, errorType: 'InternalServiceError' }],
  ['connection reset', { type: 'reset' }],
  ['malformed body', { type: 'malformed' }],
];

function es(i: number): ExternalSecret {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name: `es-${i}`, namespace: 'team', uid: `uid-${i}`, generation: 1 },
    spec: {
      refreshInterval: '1h',
      secretStoreRef: { name: 'aws', kind: 'ClusterSecretStore' },
      target: { name: `target-${i}` },
      data: [{ secretKey: 'password', remoteRef: { key: `app/key-${i}`, property: 'password' } }],
    },
  };
}

const value = (kube: MemoryKube, i: number) =>
  Buffer.from(kube.secrets.get(`team/target-${i}`)?.data?.password ?? '', 'base64').toString('utf8');

for (const [name, fault] of FAULTS) {
  t.test(`${name}: data kept, growing backoff, recovery`, async (t) => {
    const aws = await AwsSecretsManagerFake.start();
    t.teardown(() => aws.close());
    let now = Date.parse('2026-11-28T10:00:00Z');
    const clock = () => now;
    const registry = new MemoryRegistry();
    addAwsClusterStore(registry);
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', destination: { write: (l: string) => lines.push(l) } });
    const metrics = createMetrics();
    const resolver = new StoreResolver({
      registry,
      secrets: registry,
      providers: createProviders(),
      logger,
      metrics,
      endpoints: { aws: aws.endpoint },
      maxAttempts: 1,
      callTimeoutMs: CALL_TIMEOUT_MS,
      cacheTtlMs: 1000,
      now: clock,
    });
    t.teardown(() => resolver.close());
    const kube = new MemoryKube();
    const refresher = new Refresher({ resolver, kube, logger, metrics, now: clock });
    t.teardown(() => refresher.stop());

    for (let i = 0; i < COUNT; i++)
      aws.put(`app/key-${i}`, JSON.stringify({ password: `${CANARY}-v1-${i}` }));
    const objects = Array.from({ length: COUNT }, (_, i) => es(i));
    for (const o of objects) refresher.upsertExternalSecret(o);
    refresher.start();
    await refresher.tick();
    for (let i = 0; i < COUNT; i++) t.equal(value(kube, i), `${CANARY}-v1-${i}`, `target-${i} filled`);

    // The remote moves on, but the provider is failing: nothing may be lost.
    for (let i = 0; i < COUNT; i++)
      aws.put(`app/key-${i}`, JSON.stringify({ password: `${CANARY}-v2-${i}` }));
    aws.fault(fault);
    now += HOUR;
    const delays: number[] = [];
    for (let round = 0; round < 4; round++) {
      await refresher.tick();
      const due = Math.min(...objects.map((o) => refresher.dueOf(o) ?? Number.POSITIVE_INFINITY));
      delays.push(due - now);
      now = due;
    }
    t.ok(
      delays.every((d, k) => k === 0 || d > (delays[k - 1] ?? d)),
      `backoff grows: ${delays.join(', ')} ms`,
    );
    t.ok(Math.max(...delays) < HOUR, 'still retrying sooner than the interval');
    for (let i = 0; i < COUNT; i++) {
      t.equal(value(kube, i), `${CANARY}-v1-${i}`, `target-${i} keeps its data during the fault`);
      t.match(kube.statuses.get(`team/es-${i}`)?.conditions?.[0], { type: 'Ready', status: 'False' });
    }
    t.equal(kube.writes.delete, 0, 'nothing deleted');

    aws.clearFaults();
    for (let round = 0; round < 3; round++) {
      await refresher.tick();
      if ([...Array(COUNT).keys()].every((i) => value(kube, i) === `${CANARY}-v2-${i}`)) break;
      const due = Math.min(...objects.map((o) => refresher.dueOf(o) ?? Number.POSITIVE_INFINITY));
      now = Math.max(now, due);
    }
    for (let i = 0; i < COUNT; i++) {
      t.equal(value(kube, i), `${CANARY}-v2-${i}`, `target-${i} recovered to the new value`);
      t.match(kube.statuses.get(`team/es-${i}`)?.conditions?.[0], { type: 'Ready', status: 'True' });
    }
    const visible = JSON.stringify({ statuses: [...kube.statuses.values()], events: kube.events });
    t.notOk(visible.includes(CANARY), 'no value in a status or an Event');
    t.same(
      lines.filter((l) => l.includes(CANARY)),
      [],
      'no value in a log line',
    );
    t.notOk((await metrics.registry.metrics()).includes(CANARY), 'no value in metrics');
  });
}
