/**
 * The leader's writers as createClusterRuntime wires them (src/cluster.ts) stop at the renew
 * deadline of its Lease, whatever its round of Lease coordination is waiting on: the whole
 * cluster runtime on the API-server double, its Lease clock stepped by hand, every Lease request
 * held by the double (the leader cut off from the API server, still leading by its count). Past
 * the deadline, a new store's status, a new ClusterExternalSecret's ExternalSecret and an Event
 * Grid delivery to the leader are refused; test/kube/writers-write-deadline.test.ts tests each
 * writer built by hand, which would not see the wiring reverted.
 */
import t from 'tap';
import type { SecretStore } from '../../src/api/types.ts';
import { createClusterRuntime } from '../../src/cluster.ts';
import { parseServeConfig } from '../../src/config.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { keyVaultEvent } from '../fakes/azure-event-grid.ts';
import { KubeApiServer } from '../fakes/kube-apiserver/index.ts';
import { sharedClusterExternalSecret, until } from './helpers.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const NS = 'esw';

function store(name: string): SecretStore {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind: 'SecretStore',
    metadata: { name, namespace: 'default' },
    spec: { provider: { fake: { data: [] } } },
  };
}

/** An Azure store of the Event Grid delivery (handed to the endpoint, never read). */
const AZURE: SecretStore = {
  apiVersion: 'external-secrets.io/v1',
  kind: 'SecretStore',
  metadata: { name: 'azure', namespace: 'default' },
  spec: { provider: { azurekv: { vaultUrl: 'https://esw-kv.vault.azure.net' } } },
};

t.test(
  'past the leader Lease renew deadline, the writers createClusterRuntime wires write nothing',
  async (t) => {
    const api = await KubeApiServer.start();
    t.teardown(() => api.close());
    for (const ns of ['default', NS, 'team-a'])
      api.put({
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: ns, labels: { 'kubernetes.io/metadata.name': ns } },
      });
    api.put(store('vault'));
    const clock = { now: Date.now() };
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', destination: { write: (l: string) => lines.push(l) } });
    const config = parseServeConfig(
      ['--tls-cert', 'unused.crt', '--tls-key', 'unused.key', '--event-grid-endpoint'],
      {
        POD_NAME: 'pod-a',
        POD_NAMESPACE: NS,
      },
    );
    const runtime = await createClusterRuntime({
      kubeConfig: api.kubeConfig(),
      config,
      logger,
      metrics: createMetrics(),
      admissionDeadlineMs: 10_000,
      cacheTtlMs: 0,
      now: () => clock.now,
    });
    let release: (() => void) | undefined;
    t.teardown(async () => {
      release?.();
      await runtime.close();
    });
    const statusOf = (name: string) => api.get('secretstores', 'default', name)?.status;
    await until(() => runtime.elector?.isLeader() === true, 'pod-a leads');
    await until(() => statusOf('vault') !== undefined, "the leader's first store status");
    const delivery = () =>
      runtime.eventGrid?.deliver(
        { store: AZURE, id: { kind: 'SecretStore', namespace: 'default', name: 'azure' } },
        [
          keyVaultEvent({
            vaultName: 'esw-kv',
            vaultUrl: 'https://esw-kv.vault.azure.net',
            objectName: 'db',
          }),
        ],
      );
    t.equal((await delivery())?.status, 200, 'a delivery to the leader within its deadline is taken');

    // Cut off: every Lease request is held, and the Lease clock passes the renew deadline (10 s).
    release = api.hold('leases');
    clock.now += 10_001;
    t.ok(runtime.elector?.isLeader(), 'still the leader by its count: no round has judged');
    t.notOk(runtime.elector?.mayWrite(), 'but past its renew deadline');

    const patches = api.writes('secretstores/status', 'patch');
    api.put(store('vault-2'));
    await until(
      () =>
        lines.some((l) => l.includes('store status not written: past the renew deadline')) ||
        statusOf('vault-2') !== undefined,
      'the new store checked',
    );
    t.equal(statusOf('vault-2'), undefined, "the new store's status is not written");
    t.equal(api.writes('secretstores/status', 'patch'), patches, 'no status patch reached the API server');

    api.put(sharedClusterExternalSecret());
    await until(
      () =>
        lines.some((l) => l.includes('ClusterExternalSecret not reconciled: past the renew deadline')) ||
        api.get('externalsecrets', 'team-a', 'shared') !== undefined,
      'the ClusterExternalSecret reconciled',
    );
    t.equal(api.get('externalsecrets', 'team-a', 'shared'), undefined, 'its ExternalSecret is not created');
    t.equal(api.writes('clusterexternalsecrets/status', 'patch'), 0, 'nor its status written');

    t.equal((await delivery())?.status, 503, 'an Event Grid delivery is refused, so Event Grid retries');
  },
);
