/**
 * What the push-refresh end-to-end tests (change feeds, force-sync, POST /refresh;
 * docs/push-refresh.md) share on top of cluster-helpers.ts: a store's condition, metric sums,
 * Secret writes counted, the feed fakes started with their endpoints, a leader and its follower,
 * and two replicas sharing eight shards.
 */
import type { Test } from 'tap';
import type { Condition, KubeObject } from '../src/api/types.ts';
import type { Metrics } from '../src/observability/metrics.ts';
import { shardOf } from '../src/refresher/queue.ts';
import {
  type Cluster,
  NS,
  password,
  passwordExternalSecret,
  type Replica,
  type ReplicaOptions,
  type StoreRef,
  waitFor,
} from './cluster-helpers.ts';
import { AwsSqsFake } from './fakes/aws-sqs.ts';
import {
  type DeliverySchema,
  type EventGridSubscription,
  subscribeWebhook,
} from './fakes/azure-event-grid.ts';
import { AZURE_FAKE_TENANT, type AzureKeyVaultFake } from './fakes/azure-keyvault.ts';
import { GcpPubSubFake } from './fakes/gcp-pubsub.ts';
import { GcpSecretManagerFake } from './fakes/gcp-secret-manager.ts';
import type { KubeApiServer } from './fakes/kube-apiserver/index.ts';

/** The name the webhook's serving certificate holds (its Service's DNS name). */
export const SNI = `external-secrets-webhook.${NS}.svc`;

/** The condition of `type` on a store (a SecretStore where `namespace` is given). */
export function storeCondition(
  api: KubeApiServer,
  name: string,
  type = 'ChangeFeedReady',
  namespace?: string,
): Condition | undefined {
  const resource = namespace === undefined ? 'clustersecretstores' : 'secretstores';
  const store = api.get(resource, namespace, name) as { status?: { conditions?: Condition[] } } | undefined;
  return store?.status?.conditions?.find((c) => c.type === type);
}

/** A counter's or gauge's value, summed over the series matching `labels` (all where none). */
export async function metricSum(
  metrics: Metrics,
  name:
    | 'changeFeedEvents'
    | 'changeFeedErrors'
    | 'changeFeeds'
    | 'changeFeedDeliveries'
    | 'refreshTriggers'
    | 'refreshTriggeredObjects',
  labels: Record<string, string> = {},
): Promise<number> {
  return (await metrics[name].get()).values
    .filter((v) => Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l))
    .reduce((n, v) => n + v.value, 0);
}

/** Secrets synced after a feed event (written or found up to date), over the replicas given. */
export async function feedLatencyCount(...metrics: Metrics[]): Promise<number> {
  let n = 0;
  for (const m of metrics) {
    const text = await m.registry.metrics();
    n += Number(/esw_refresh_trigger_latency_seconds_count\{source="feed"\} (\d+)/.exec(text)?.[1] ?? 0);
  }
  return n;
}

/** Updates of each Secret (`namespace/name`) from now on, until the test ends. */
export function secretWrites(t: Test, api: KubeApiServer): Map<string, number> {
  const writes = new Map<string, number>();
  const unsubscribe = api.subscribe((ev) => {
    if (ev.def.resource !== 'secrets' || ev.type !== 'MODIFIED') return;
    const k = `${ev.object.metadata?.namespace}/${ev.object.metadata?.name}`;
    writes.set(k, (writes.get(k) ?? 0) + 1);
  });
  t.teardown(unsubscribe);
  return writes;
}

/** A ClusterSecretStore on the AWS fake, with startCluster's `default/aws-credentials`. */
export function awsClusterStore(name: string, annotations?: Record<string, string>): KubeObject {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ClusterSecretStore',
    metadata: annotations ? { name, annotations } : { name },
    spec: {
      provider: {
        aws: {
          service: 'SecretsManager',
          region: 'us-east-1',
          auth: {
            secretRef: {
              accessKeyIDSecretRef: { name: 'aws-credentials', key: 'access-key', namespace: 'default' },
              secretAccessKeySecretRef: {
                name: 'aws-credentials',
                key: 'secret-access-key',
                namespace: 'default',
              },
            },
          },
        },
      },
    },
  } as KubeObject;
}

/**
 * A Key Vault provider on the fake with the service principal in Secret `secret` (keys
 * `client-id`, `client-secret`), in `namespace` where given (a ClusterSecretStore's reference).
 */
export function azureProvider(azure: AzureKeyVaultFake, secret: string, namespace?: string) {
  const ref = (key: string) =>
    namespace === undefined ? { name: secret, key } : { name: secret, key, namespace };
  return {
    azurekv: {
      vaultUrl: azure.url,
      tenantId: AZURE_FAKE_TENANT,
      authType: 'ServicePrincipal',
      authSecretRef: { clientId: ref('client-id'), clientSecret: ref('client-secret') },
    },
  };
}

/** A replica taking Event Grid deliveries, reading the Key Vault fake past a ten-minute cache. */
export function eventGridReplica(azure: AzureKeyVaultFake): ReplicaOptions {
  return {
    cacheTtlMs: 600_000,
    args: ['--event-grid-endpoint'],
    endpoints: {
      azureCa: azure.ca,
      azureDisableChallengeResourceVerification: true,
      azureAuthorityHost: azure.url,
    },
  };
}

/**
 * An Event Grid subscription to the webhook at `endpoint` (`ca`: the cluster's), its deliveries
 * authorized by `secret` in a static Authorization header; rejects when the handshake fails.
 */
export function subscribeWithSecret(
  endpoint: string,
  ca: string,
  secret: string,
  schema: DeliverySchema = 'EventGridSchema',
): Promise<EventGridSubscription> {
  return subscribeWebhook({
    endpoint,
    ca,
    servername: SNI,
    schema,
    headers: { authorization: `Bearer ${secret}` },
  });
}

/** The SQS fake with `queue` created; closed in teardown. */
export async function startSqs(t: Test, queue: string): Promise<AwsSqsFake> {
  const sqs = await AwsSqsFake.start();
  t.teardown(() => sqs.close());
  sqs.create(queue);
  return sqs;
}

/**
 * The Secret Manager and Pub/Sub fakes with `subscription` created, closed in teardown, and a
 * replica's options reading them past a ten-minute cache.
 */
export async function startGcpFeed(
  t: Test,
  subscription: string,
): Promise<{ gcp: GcpSecretManagerFake; pubsub: GcpPubSubFake; replica: ReplicaOptions }> {
  const gcp = new GcpSecretManagerFake();
  const sm = await gcp.start();
  t.teardown(() => gcp.close());
  const pubsub = new GcpPubSubFake();
  await pubsub.start();
  t.teardown(() => pubsub.close());
  pubsub.createSubscription(subscription);
  const replica = {
    cacheTtlMs: 600_000,
    endpoints: { gcp: { host: sm.host, port: sm.port, insecure: true }, gcpPubsub: pubsub.endpoint },
  };
  return { gcp, pubsub, replica };
}

/** esw-0, once it leads, and esw-1 after it: a leader and its follower. */
export async function startLeaderAndFollower(
  startReplica: Cluster['startReplica'],
  opts: ReplicaOptions,
): Promise<{ leader: Replica; follower: Replica }> {
  const first = await startReplica('esw-0', undefined, opts);
  const leader = await waitFor('esw-0 leads', () => (first.runtime.elector?.isLeader() ? first : undefined));
  const follower = await startReplica('esw-1', undefined, opts);
  return { leader, follower };
}

const SHARDS = 8;
/** One ExternalSecret `app` in each: the namespaces spread over the shards. */
export const SHARD_NAMESPACES = Array.from({ length: 8 }, (_, i) => `team-${i}`);
const SHARD_LEASE = ['--lease-duration', '30s', '--renew-deadline', '20s', '--retry-period', '250ms'];

export const owned = (r: Replica) => r.runtime.shards?.owned ?? [];
/** The namespaces of SHARD_NAMESPACES whose shard `r` holds. */
export const ownNamespaces = (r: Replica) =>
  SHARD_NAMESPACES.filter((ns) => owned(r).includes(shardOf(ns, SHARDS)));
/** Whether every `app-target` of SHARD_NAMESPACES holds `value`. */
export const everyTarget = (api: KubeApiServer, value: string) =>
  SHARD_NAMESPACES.every((ns) => password(api, ns, 'app-target') === value);

/** Each of SHARD_NAMESPACES, with its ExternalSecret `app` of `remoteRef` from `store`. */
export function putShardedDependents(
  api: KubeApiServer,
  store: StoreRef,
  remoteRef: { key: string; property?: string },
): void {
  for (const ns of SHARD_NAMESPACES) {
    api.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    api.put(passwordExternalSecret('app', ns, store, remoteRef));
  }
}

/**
 * esw-0 and esw-1 with `--shards 8`, returned once they hold the settled share (ceil(8 / 2)
 * each: no shard is changing hands when the trigger comes) and every target holds `synced`.
 */
export async function startShardedPair(
  api: KubeApiServer,
  startReplica: Cluster['startReplica'],
  opts: ReplicaOptions,
  synced: string,
): Promise<[Replica, Replica]> {
  const args = [...SHARD_LEASE, '--shards', String(SHARDS)];
  const replicas: [Replica, Replica] = [
    await startReplica('esw-0', args, opts),
    await startReplica('esw-1', args, opts),
  ];
  await waitFor('the shards shared by both replicas', () =>
    replicas.every((r) => owned(r).length === SHARDS / 2),
  );
  await waitFor('every target synced', () => everyTarget(api, synced));
  return replicas;
}

/**
 * After a trigger every target took: `calls` provider reads, at most one per replica owning
 * dependents; each replica scheduled the dependents of its own shards only (its
 * refreshTriggeredObjects matching `labels`), and its log holds no `canary`.
 */
export async function checkShardOwnersRefreshed(
  t: Test,
  replicas: Replica[],
  calls: number,
  canary: string,
  labels: Record<string, string> = {},
): Promise<void> {
  const owners = new Set(
    SHARD_NAMESPACES.map((ns) => replicas.find((r) => owned(r).includes(shardOf(ns, SHARDS)))?.podName),
  );
  t.ok(
    calls >= 1 && calls <= owners.size,
    `one read per replica owning dependents (${calls} for ${owners.size})`,
  );
  for (const r of replicas) {
    const scheduled = await metricSum(r.metrics, 'refreshTriggeredObjects', labels);
    t.equal(
      scheduled,
      ownNamespaces(r).length,
      `${r.podName} refreshed the dependents of its own shards only`,
    );
    t.notOk(r.lines.join('\n').includes(canary), `${r.podName}: no canary in logs`);
  }
}
