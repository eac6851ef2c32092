/**
 * The cluster side of bench:scale and bench:replicas, in its own process so that it never
 * competes with the webhook for an event loop: the API-server double (HTTPS, keep-alive,
 * TCP_NODELAY, paged lists) and the AWS fake, seeded with the scale scenario. Driven over IPC
 * by the benchmark (`fork`): it answers `stats` with the observer's figures, the double's load
 * (requests in flight, connections) and the AWS calls by kind. `forceSync` annotates every
 * ExternalSecret with a new `force-sync` value at once (as `kubectl annotate externalsecrets
 * --all -A force-sync=…` would), and `stats` then counts those not yet synced again.
 *
 *   node bench/scale-cluster.ts  (forked; BENCH_N, BENCH_INTERVAL, BENCH_OTHER in the env)
 */
import { AwsSecretsManagerFake } from '../test/fakes/aws-secrets-manager.ts';
import { KubeApiServer } from '../test/fakes/kube-apiserver/index.ts';
import { writeKubeconfig } from '../test/fakes/kubectl.ts';
import { batchEconomy, ScaleObserver, scaleLayout, seedScale } from '../test/fakes/scale-scenario.ts';

export interface ClusterStats {
  seededMs: number;
  economy: number;
  observer: ReturnType<ScaleObserver['summary']>;
  completeAt: number | undefined;
  load: ReturnType<KubeApiServer['load']>;
  aws: Record<string, number>;
  apiRequests: Record<string, number>;
  rssMiB: number;
  /** CPU seconds this process (the double and the AWS fake) has used. */
  cpuS: number;
  /** After `forceSync`: ExternalSecrets whose status was not written since (undefined before). */
  forcedPending: number | undefined;
  /** Lease name -> holderIdentity ('' when released), for bench:replicas. */
  leases: Record<string, string>;
  /** Lease name -> its renewTime and acquireTime (MicroTime), for bench:replicas' takeover. */
  leaseTimes: Record<string, { renew: string; acquire: string }>;
}

export type ClusterMessage =
  | { type: 'ready'; kubeconfig: string; awsEndpoint: string; seededMs: number; economy: number }
  | ({ type: 'stats'; id: number } & ClusterStats)
  | { type: 'forced'; id: number; count: number };

const n = Number(process.env.BENCH_N ?? 2000);
const layout = scaleLayout(n, {
  refreshInterval: process.env.BENCH_INTERVAL ?? '1h',
  otherSecrets: Number(process.env.BENCH_OTHER ?? n),
});
const kubeconfigFile = process.env.BENCH_KUBECONFIG ?? '';

const started = performance.now();
// History as long as an API server keeps it (etcd compacts every 5 minutes): a watch resumed
// during the first sync must not fall off the end and relist.
const api = await KubeApiServer.start({ maxHistory: Math.max(100_000, n * 6) });
const aws = await AwsSecretsManagerFake.start();
seedScale(api, aws, layout);
const observer = new ScaleObserver(api, layout);
const seededMs = Math.round(performance.now() - started);
await writeKubeconfig(kubeconfigFile, { url: api.url, caPem: api.caPem }, { token: 'bench' });

const send = (m: ClusterMessage) => process.send?.(m);
send({
  type: 'ready',
  kubeconfig: kubeconfigFile,
  awsEndpoint: aws.endpoint,
  seededMs,
  economy: batchEconomy(layout),
});

/** Status writes per ExternalSecret when the force-sync annotation was set. */
let forcedBasis: Map<string, number> | undefined;
function forcedPending(): number | undefined {
  if (!forcedBasis) return undefined;
  let pending = 0;
  for (const [id, n] of forcedBasis) if ((observer.statusWritesBy.get(id) ?? 0) <= n) pending++;
  return pending;
}

process.on('message', (raw: { type: string; id?: number; reset?: boolean }) => {
  if (raw.type === 'forceSync') {
    const value = new Date().toISOString();
    forcedBasis = new Map();
    for (const es of api.list('externalsecrets')) {
      const id = `${es.metadata?.namespace ?? ''}/${es.metadata?.name ?? ''}`;
      forcedBasis.set(id, observer.statusWritesBy.get(id) ?? 0);
      es.metadata = { ...es.metadata, annotations: { ...es.metadata?.annotations, 'force-sync': value } };
      api.put(es);
    }
    send({ type: 'forced', id: raw.id ?? 0, count: forcedBasis.size });
  } else if (raw.type === 'stats') {
    const apiRequests: Record<string, number> = {};
    for (const r of api.requests()) {
      const k = `${r.verb || r.method} ${r.path
        .split('?')[0]
        ?.replace(/\/namespaces\/[^/]+/, '/namespaces/*')
        .replace(/\/(secrets|externalsecrets|leases|events)\/[^/]+/, '/$1/*')}`;
      apiRequests[k] = (apiRequests[k] ?? 0) + 1;
    }
    if (raw.reset) api.clearRequests();
    send({
      type: 'stats',
      id: raw.id ?? 0,
      seededMs,
      economy: batchEconomy(layout),
      observer: observer.summary(),
      completeAt: observer.completeAt,
      load: api.load({ reset: raw.reset === true }),
      aws: Object.fromEntries(aws.calls),
      apiRequests,
      rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
      cpuS: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
      forcedPending: forcedPending(),
      leases: Object.fromEntries(
        api
          .list('leases')
          .map((l) => [
            l.metadata?.name ?? '',
            (l.spec as { holderIdentity?: string })?.holderIdentity ?? '',
          ]),
      ),
      leaseTimes: Object.fromEntries(
        api.list('leases').map((l) => {
          const spec = (l.spec ?? {}) as { renewTime?: string; acquireTime?: string };
          return [l.metadata?.name ?? '', { renew: spec.renewTime ?? '', acquire: spec.acquireTime ?? '' }];
        }),
      ),
    });
    if (raw.reset) aws.resetCounts();
  } else if (raw.type === 'stop') {
    observer.stop();
    void Promise.all([api.close(), aws.close()]).then(() => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
