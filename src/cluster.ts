/**
 * Cluster mode: informers feed the store registry (so admission never calls the API to find a
 * store), the refresher runs on the elected leader (`--shards 1`) or on every replica for the
 * shards it holds (`--shards N`, src/kube/shards.ts), and in the built-in certificate mode every
 * replica keeps its serving certificate in step with the shared Secret.
 */
import { randomUUID } from 'node:crypto';
import { servesStore } from './api/controller-class.ts';
import type { ConfigMap, ExternalSecret, KubeObject, Secret } from './api/types.ts';
import type { ServeConfig } from './config.ts';
import { errorMessage } from './errors.ts';
import { ChangeFeeds } from './feeds/change-feeds.ts';
import { CertBootstrap } from './kube/cert-bootstrap.ts';
import { KubeClient } from './kube/client.ts';
import { KubeApiError, KubeHttp } from './kube/http.ts';
import { type Informer, slim, startInformers } from './kube/informer.ts';
import type { KubeSource } from './kube/kubeconfig.ts';
import { LeaderElector } from './kube/leader.ts';
import { ApiRefreshKube } from './kube/refresh-kube.ts';
import { ApiSecretReader } from './kube/secret-reader.ts';
import { ServiceAccountTokens } from './kube/service-accounts.ts';
import { ShardCoordinator } from './kube/shards.ts';
import { ApiCesWriter, ClusterExternalSecrets } from './refresher/cluster-external-secret.ts';
import {
  configMapIntact,
  objectIntact,
  withConfigMapDigest,
  withContentDigest,
} from './refresher/generic-target.ts';
import { flagEdited, GenericTargets, KnownTargets } from './refresher/known-targets.ts';
import { ApiKubeWriter } from './refresher/kube-writer.ts';
import { PlaceholderRefresh } from './refresher/placeholder.ts';
import { Refresher } from './refresher/refresher.ts';
import { withDataDigest } from './refresher/secret-data.ts';
import { StoreStatus } from './refresher/store-status.ts';
import { type TemplateSourceKind, templateSourceRefs } from './refresher/template-from.ts';
import {
  formatRefreshRequest,
  MAX_KEY_LENGTH,
  MAX_REQUEST_KEYS,
  type StoreId,
  storeOfObject,
} from './refresher/triggers.ts';
import { MemoryRegistry } from './resolve/memory-registry.ts';
import { createRuntime, type Runtime, type RuntimeOptions } from './runtime.ts';
import { EventGridEndpoint } from './server/event-grid.ts';
import { RefreshEndpoint } from './server/refresh.ts';

export interface ClusterRuntime extends Runtime {
  refresher: Refresher | undefined;
  elector: LeaderElector | undefined;
  /** With --shards N > 1: the Leases of the shards this replica refreshes. */
  shards: ShardCoordinator | undefined;
  certs: CertBootstrap | undefined;
  /** Provider change feeds (consumed while this replica owns the refresher). */
  feeds: ChangeFeeds | undefined;
}

export interface ClusterOptions extends RuntimeOptions {
  kubeConfig: KubeSource;
  config: ServeConfig;
  /** The clock of the resolver, the ServiceAccount tokens and the Lease coordination (tests). */
  now?: () => number;
}

export async function createClusterRuntime(opts: ClusterOptions): Promise<ClusterRuntime> {
  const { kubeConfig: kc, config, logger, metrics } = opts;
  // One keep-alive connection pool for every API call of this process.
  const http = new KubeHttp(kc);
  const client = new KubeClient(kc, http);
  const registry = new MemoryRegistry();
  // The refresher's memory of its target Secrets, kept in the managed-Secret cache: a target at
  // the version the last sync left is not read again (src/refresher/known-targets.ts).
  const targets = config.refresher ? new KnownTargets() : undefined;
  const informers = startInformers(http, {
    registry,
    metrics,
    logger,
    // Secrets are cached without their data, but with its hash: an echo of our own write is
    // recognised as intact, an edit by hand is not (src/refresher/refresher.ts).
    secretProjection: (obj) => withDataDigest(slim(obj) as Secret),
    ...(targets ? { managedSecretKeep: targets.keep } : {}),
    // Generic ConfigMap targets: watched for drift like Secret targets, values dropped, each
    // version flagged when edited by hand (read at a start or gain: GenericTargets).
    ...(config.refresher && config.genericTargetKinds.includes('ConfigMap')
      ? {
          configMapProjection: (obj: KubeObject) =>
            flagEdited(withConfigMapDigest(slim(obj) as ConfigMap), configMapIntact),
        }
      : {}),
    // templateFrom sources, metadata only, watched once an ExternalSecret names one: a changed
    // template re-renders its readers at once (wireRefresher).
    ...(config.refresher
      ? {
          templateSources: (kind: TemplateSourceKind, inf: Informer<KubeObject>) => {
            const changed = (o: KubeObject) => refresher?.templateSourceChanged(kind, o);
            inf.on('add', changed).on('update', changed).on('delete', changed);
            // Started from the refresher's handlers, so after the resolver exists.
            if (kind === 'Secret') credentialSecretsIn(inf);
          },
        }
      : {}),
  });
  targets?.attach(informers.managedSecrets);
  // Generic targets, looked up as the Secrets are at a start or gain: ConfigMaps from the start
  // (listed before the refresher starts), custom kinds once discovered (below).
  const genericTargets = new GenericTargets();
  if (informers.managedConfigMaps) genericTargets.watch('ConfigMap', informers.managedConfigMaps);
  const secrets = new ApiSecretReader(client);
  // Stores that authenticate as a named ServiceAccount: tokens through TokenRequest, cached
  // until near expiry and shared by every store naming the same account and audiences.
  const serviceAccounts = new ServiceAccountTokens(http, opts.now ? { now: opts.now } : {});

  let elector: LeaderElector | undefined;
  let shards: ShardCoordinator | undefined;
  // The writers of one replica (store status, ClusterExternalSecrets, change feeds, certificate
  // renewal) ask this right before each write: the leader's, or shard 0's holder's, renew
  // deadline on the clock — not the published leadership, which a round waiting on a hung Lease
  // request holds for its whole timeout (docs/refresher.md). The refresher asks it per shard.
  const writable = (shard: number) => (shards ? shards.mayWrite(shard) : (elector?.mayWrite() ?? false));
  const leadWritable = () => writable(0);
  let certs: CertBootstrap | undefined;
  if (config.certMode === 'builtin') {
    certs = new CertBootstrap({
      kubeConfig: kc,
      http,
      namespace: config.namespace,
      secretName: config.certSecret,
      service: config.webhookService,
      mutatingWebhooks: [config.mutatingWebhookName],
      validatingWebhooks: [config.validatingWebhookName],
      certFile: config.tlsCert,
      keyFile: config.tlsKey,
      logger,
      // Before an election has run (or with the refresher off) every replica may renew: the
      // Secret's resourceVersion preconditions keep them from stepping on each other.
      // With shards, the holder of shard 0 renews; either stops at its Lease's renew deadline.
      mayWrite: () => (elector || shards ? leadWritable() : true),
    });
    // The server cannot start without its certificate files.
    await certs.start();
  }

  let refresher: Refresher | undefined;
  let storeStatus: StoreStatus | undefined;
  let ces: ClusterExternalSecrets | undefined;
  let feeds: ChangeFeeds | undefined;
  let closed = false;
  const runtime = createRuntime(
    registry,
    secrets,
    {
      ...opts,
      identity: opts.identity ?? config.identity,
      genericTargetKinds: opts.genericTargetKinds ?? config.genericTargetKinds,
      serviceAccountToken: opts.serviceAccountToken ?? serviceAccounts.token,
      serviceAccounts: opts.serviceAccounts ?? serviceAccounts.serviceAccount,
      // The class from the command line unless the caller chose one.
      controllerClass: opts.controllerClass ?? config.controllerClass,
      // Credential Secrets are read on demand, not watched (the informers hold only the Secrets
      // this project manages, and every Secret once templateFrom names one — credentialSecretsIn):
      // a client's are re-read when it is used this long after.
      credentialsRecheckMs: config.credentialsRecheckMs,
    },
    {
      notReady: () => [...informers.healthy(), ...(certs?.notReady() ?? [])],
      close: async () => {
        closed = true;
        // Stop refreshing first (no write is started after this), then release the lease so a
        // follower takes over at once; in-flight syncs drain meanwhile.
        const stopping = Promise.all([refresher?.stop(), storeStatus?.stop(), ces?.stop(), feeds?.stop()]);
        await elector?.stop();
        await shards?.stop();
        await stopping;
        await certs?.stop();
        await informers.stop();
        http.close();
      },
    },
  );

  // A credential Secret one of the informers holds anyway — an ESO-managed target or a
  // placeholder Secret (one store's credentials synced through another) — switches its clients
  // when it changes, not a period later.
  function credentialSecretsIn(inf: Informer<KubeObject>): void {
    const seen = (s: KubeObject, deleted: boolean) =>
      runtime.resolver.credentialsChanged(
        s.metadata?.namespace ?? '',
        s.metadata?.name ?? '',
        deleted ? undefined : (s as Secret),
      );
    inf
      .on('add', (s) => seen(s, false))
      .on('update', (s) => seen(s, false))
      .on('delete', (s) => seen(s, true));
  }
  credentialSecretsIn(informers.managedSecrets);
  credentialSecretsIn(informers.placeholderSecrets);

  // A store annotated without a spec change (POST /refresh's request, force-sync, an annotation
  // after a rotation): its client's credential Secrets are re-read before its next lookups. Wired
  // before the refresher, whose refresh of the store must find the re-read under way.
  for (const inf of [informers.secretStores, informers.clusterSecretStores]) {
    inf.on('update', (s, old) => {
      if (!sameAnnotations(s, old)) runtime.resolver.storeTouched(s);
    });
  }

  if (config.refresher) {
    const r = new Refresher({
      resolver: runtime.resolver,
      kube: new ApiKubeWriter(client, Date.now, targets),
      logger: logger.child({ component: 'refresher' }),
      metrics,
      placeholders: new PlaceholderRefresh(runtime.resolver, logger),
      setTimer: timer,
      shards: config.shards,
      genericTargetKinds: config.genericTargetKinds,
      // A write is refused from the renew deadline on, even while a round of the Lease
      // coordination waits on a hung request (docs/refresher.md).
      mayWrite: writable,
      // A target edited or deleted while no replica watched it is restored when its object is
      // scheduled (a start, a gain): both come after the informers' first list. A generic
      // target's key holds its kind (`Kind|ns/name`); a Secret's never holds '|'.
      ...(targets
        ? {
            targetState: (target: string) =>
              target.includes('|') ? genericTargets.state(target) : targets.state(target),
          }
        : {}),
    });
    refresher = r;
    wireRefresher(r, informers);
    // Generic custom-resource targets: watched (metadata and a content digest kept) so an edited
    // or deleted one is restored at once. The resource's plural comes from discovery.
    for (const id of config.genericTargetKinds.filter((k) => k.includes('/'))) {
      const cut = id.lastIndexOf('/');
      const [apiVersion, kind] = [id.slice(0, cut), id.slice(cut + 1)];
      void client
        .resourceOf(apiVersion, kind)
        .then((plural) => {
          if (!plural) {
            logger.warn({ kind: id }, 'generic target kind not served (or not namespaced): not watched');
            return;
          }
          const inf = informers.watchManaged(`/apis/${apiVersion}/${plural}`, apiVersion, kind, (o) =>
            flagEdited(withContentDigest(o), objectIntact),
          );
          if (!inf) return;
          inf.on('update', (o) => r.targetObjectChanged(id, o, false));
          inf.on('delete', (o) => r.targetObjectChanged(id, o, true));
          genericTargets.watch(id, inf);
          // Listed after the refresher's start, maybe after a gain: its objects are looked at again.
          void inf.synced.then(() => r.targetKindListed(id));
        })
        .catch((err: unknown) => {
          logger.warn(
            { kind: id, err: errorMessage(err) },
            'generic target kind: discovery failed, not watched',
          );
        });
    }
    storeStatus = new StoreStatus({
      validate: (store) => runtime.resolver.validateStore(store),
      kube: new ApiKubeWriter(client),
      logger: logger.child({ component: 'store-status' }),
      controllerClass: opts.controllerClass ?? config.controllerClass,
      setTimer: timer,
      feedCondition: (store) => feeds?.condition(store),
      mayWrite: leadWritable,
    });
    wireStoreStatus(storeStatus, informers);
    const controllerClass = opts.controllerClass ?? config.controllerClass;
    ces = new ClusterExternalSecrets({
      kube: new ApiCesWriter(client),
      sources: {
        namespaces: () => informers.namespaces.cache.values(),
        externalSecret: (ns, name) => informers.externalSecrets.cache.get(`${ns}/${name}`),
        clusterStore: (name) => registry.getStore('ClusterSecretStore', name, undefined),
      },
      serves: (store) => servesStore(store, controllerClass),
      logger: logger.child({ component: 'clusterexternalsecret' }),
      setTimer: timer,
      mayWrite: leadWritable,
    });
    wireClusterExternalSecrets(ces, informers);
    // Provider change feeds: consumed by the refresher's owner only (docs/push-refresh.md). With
    // shards, other replicas own some dependents: the consumer records the keys on the store, as
    // POST /refresh does, and every shard's owner refreshes its own.
    const feedRequests =
      config.shards > 1
        ? new ApiRefreshKube(http, (kind, name, ns) => registry.getStore(kind, name, ns))
        : undefined;
    const changeFeeds = new ChangeFeeds({
      open: (store, address) => runtime.resolver.changeFeed(store, address),
      refresh: (store, keys) =>
        feedRequests
          ? recordFeedEvent(feedRequests, r, store, keys, logger, () =>
              changeFeeds.limit(store, ownShardsOnly(config.shards)),
            )
          : r.refreshStore(store, keys, 'feed'),
      // Without `patch` on stores the events reach this replica's shards only: said at the start
      // of each feed (a dry-run patch) and in its ChangeFeedReady condition.
      ...(feedRequests
        ? {
            probe: async (store: KubeObject) => {
              const id = storeOfObject(store);
              if (!id) return undefined;
              try {
                await feedRequests.recordRequest(
                  id,
                  formatRefreshRequest({ id: randomUUID(), at: Date.now(), keys: [], source: 'feed' }),
                  { dryRun: true },
                );
                return undefined;
              } catch (err: unknown) {
                return err instanceof KubeApiError && err.statusCode === 403
                  ? ownShardsOnly(config.shards)
                  : undefined;
              }
            },
          }
        : {}),
      logger: logger.child({ component: 'change-feed' }),
      metrics,
      onHealth: (store) => storeStatus?.recheck(store),
      eventGrid: config.eventGridEndpoint,
      mayWrite: leadWritable,
    });
    feeds = changeFeeds;
    for (const inf of [informers.secretStores, informers.clusterSecretStores]) {
      added(inf, (s) => changeFeeds.upsert(s));
      inf.on('update', (s) => changeFeeds.upsert(s));
      inf.on('delete', (s) => changeFeeds.remove(s));
    }
    const lease = {
      client,
      namespace: config.namespace,
      name: config.leaseName,
      identity: config.podName,
      leaseDurationMs: config.leaseDurationMs,
      renewDeadlineMs: config.renewDeadlineMs,
      retryPeriodMs: config.retryPeriodMs,
      ...(opts.now ? { now: opts.now } : {}),
      metrics,
      logger,
    };
    if (config.shards > 1) {
      const coordinator = new ShardCoordinator({
        ...lease,
        shards: config.shards,
        onShards: (owned) => {
          // Store status and ClusterExternalSecrets are written by one replica: shard 0's holder.
          // So are change feeds: an event refreshes this replica's shards only, the others' on
          // their interval (docs/push-refresh.md).
          if (owned.includes(0)) {
            storeStatus?.start();
            ces?.start();
            changeFeeds.start();
          } else void Promise.all([storeStatus?.stop(), ces?.stop(), changeFeeds.stop()]);
          return r.setShards(owned);
        },
      });
      shards = coordinator;
      // Campaign only once stores are known, or the first pass would fail on "store not found".
      void informers.synced.then(() => {
        if (!closed) coordinator.start();
      });
    } else {
      elector = new LeaderElector({
        ...lease,
        // Refresh only once stores are known, or the first pass would fail on "store not found".
        onStartedLeading: () =>
          void informers.synced.then(() => {
            r.start();
            storeStatus?.start();
            ces?.start();
            changeFeeds.start();
          }),
        onStoppedLeading: () =>
          void Promise.all([r.stop(), storeStatus?.stop(), ces?.stop(), changeFeeds.stop()]),
      });
      elector.start();
    }
  }
  // POST /refresh: any replica takes a request and records it on the store; the owners act.
  const refresh = config.refreshEndpoint
    ? new RefreshEndpoint({
        kube: new ApiRefreshKube(http, (kind, name, ns) => registry.getStore(kind, name, ns)),
        logger: logger.child({ component: 'refresh' }),
        metrics,
        callerIntervalMs: config.refreshCallerIntervalMs,
        ...(config.refreshAudience ? { audiences: [config.refreshAudience] } : {}),
      })
    : undefined;
  // Event Grid deliveries: any replica takes one (the Service picks it), checks the store's
  // secret, and hands the keys on — to its refresher when it leads alone, else recorded on the
  // store for the refresher's owners, as POST /refresh does.
  let eventGrid: EventGridEndpoint | undefined;
  if (config.eventGridEndpoint) {
    const requests = new ApiRefreshKube(http, (kind, name, ns) => registry.getStore(kind, name, ns));
    eventGrid = new EventGridEndpoint({
      store: (id) => registry.getStore(id.kind, id.name, id.namespace),
      secrets,
      accept: eventGridAccept({ refresher, elector, feeds, requests }),
      logger: logger.child({ component: 'event-grid' }),
      metrics,
    });
  }
  return { ...runtime, refresher, elector, shards, certs, refresh, feeds, eventGrid };
}

/**
 * Event Grid's hand-over of a delivery's keys: to this replica's refresher when it leads alone,
 * else recorded on the store for the refresher's owners. Past the leader's renew deadline its
 * refresher schedules nothing: an error, answered 503, so Event Grid delivers it again — to the
 * next leader, or to a follower that records it on the store.
 */
export function eventGridAccept(o: {
  refresher: Refresher | undefined;
  elector: LeaderElector | undefined;
  feeds: ChangeFeeds | undefined;
  requests: Pick<ApiRefreshKube, 'recordRequest'>;
}): (store: StoreId, keys: string[] | undefined) => Promise<void> {
  return async (store, keys) => {
    const { refresher, elector } = o;
    if (refresher?.running && elector?.isLeader()) {
      if (!elector.mayWrite()) throw new Error('past the renew deadline of the leader Lease');
      refresher.refreshStore(store, keys, 'feed');
      o.feeds?.delivered(store);
      return;
    }
    const chunks = keys ? chunk(keys, MAX_REQUEST_KEYS) : [undefined];
    for (const part of chunks) {
      const request = { id: randomUUID(), at: Date.now(), keys: part, source: 'feed' as const };
      await o.requests.recordRequest(store, formatRefreshRequest(request));
    }
  };
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * A change event with shards: the keys recorded on the store (`esw.io/refresh-request`, source
 * `feed`, 100 keys a request) for every shard's owner to see. Without `patch` on stores (Helm
 * `changeFeeds.enabled`), this replica refreshes its own shards' dependents and says so.
 */
async function recordFeedEvent(
  kube: ApiRefreshKube,
  r: Refresher,
  store: StoreId,
  keys: string[],
  logger: RuntimeOptions['logger'],
  limited: () => void,
): Promise<void> {
  const usable = keys.filter((k) => k.length <= MAX_KEY_LENGTH);
  try {
    for (let i = 0; i < usable.length; i += MAX_REQUEST_KEYS) {
      const request = { id: randomUUID(), at: Date.now(), keys: usable.slice(i, i + MAX_REQUEST_KEYS) };
      await kube.recordRequest(store, formatRefreshRequest({ ...request, source: 'feed' }));
    }
  } catch (err: unknown) {
    logger.warn(
      {
        store: `${store.kind}/${store.namespace ? `${store.namespace}/` : ''}${store.name}`,
        err: errorMessage(err),
      },
      "change feed: the event could not be recorded on the store for the other shards' owners; refreshing this replica's shards only",
    );
    if (err instanceof KubeApiError && err.statusCode === 403) limited();
    r.refreshStore(store, keys, 'feed');
  }
}

/** What a feed's condition says when its events cannot be shared with the other shards' owners. */
export function ownShardsOnly(shards: number): string {
  return `with ${shards} shards its events refresh only the dependents of the shards held by this replica, the others on their interval: this server may not patch stores to share them with the other shards' owners (Helm changeFeeds.enabled=true grants it)`;
}

/**
 * A cancellable timer for the run loops (refresher, store status, ClusterExternalSecrets). Node fires a timeout
 * longer than 2^31 − 1 ms (24.8 days) after 1 ms: a refresh interval of 30 days (`720h`) would
 * spin the loop. The timer is capped: firing early finds nothing due and arms the next one.
 */
export function timer(fn: () => void, ms: number): { cancel(): void } {
  const t = setTimeout(fn, Math.min(ms, 2_147_483_647));
  return { cancel: () => clearTimeout(t) };
}

function wireRefresher(r: Refresher, informers: ReturnType<typeof startInformers>): void {
  added(informers.externalSecrets, (es) => r.upsertExternalSecret(es));
  informers.externalSecrets.on('update', (es) => r.upsertExternalSecret(es));
  informers.externalSecrets.on('delete', (es) => r.deleteExternalSecret(es));
  informers.managedSecrets.on('update', (s) => r.targetSecretChanged(s, false));
  informers.managedSecrets.on('delete', (s) => r.targetSecretChanged(s, true));
  informers.managedConfigMaps?.on('update', (c) => r.targetConfigMapChanged(c, false));
  informers.managedConfigMaps?.on('delete', (c) => r.targetConfigMapChanged(c, true));
  added(informers.placeholderSecrets, (s) => r.upsertPlaceholder(s));
  informers.placeholderSecrets.on('update', (s) => r.upsertPlaceholder(s));
  informers.placeholderSecrets.on('delete', (s) => r.deletePlaceholder(s));
  // force-sync and refresh requests on stores (docs/push-refresh.md).
  for (const stores of [informers.secretStores, informers.clusterSecretStores]) {
    added(stores, (s) => r.upsertStore(s));
    stores.on('update', (s) => r.upsertStore(s));
    stores.on('delete', (s) => r.deleteStore(s));
  }
  // Start watching a kind of templateFrom source once an ExternalSecret names one.
  const sources = (es: ExternalSecret) => {
    for (const ref of templateSourceRefs(es)) informers.watchTemplateSources(ref.kind);
  };
  added(informers.externalSecrets, sources);
  informers.externalSecrets.on('update', sources);
}

/**
 * `on('add')`, and the objects already listed: the informers start before the certificates are
 * awaited (built-in mode), so a list can finish before these handlers exist — without this, the
 * ExternalSecrets present at start-up were never synced in that mode.
 */
function added<T extends KubeObject>(inf: Informer<T>, cb: (obj: T) => void): void {
  inf.on('add', cb);
  for (const obj of inf.cache.values()) cb(obj);
}

function wireStoreStatus(ss: StoreStatus, informers: ReturnType<typeof startInformers>): void {
  for (const inf of [informers.secretStores, informers.clusterSecretStores]) {
    added(inf, (s) => ss.upsert(s));
    inf.on('update', (s) => ss.upsert(s));
    inf.on('delete', (s) => ss.remove(s));
  }
}

function wireClusterExternalSecrets(
  c: ClusterExternalSecrets,
  informers: ReturnType<typeof startInformers>,
): void {
  added(informers.clusterExternalSecrets, (o) => c.upsert(o));
  informers.clusterExternalSecrets.on('update', (o) => c.upsert(o));
  informers.clusterExternalSecrets.on('delete', (o) => c.remove(o));
  informers.namespaces.on('add', () => c.namespaceChanged());
  informers.namespaces.on('update', () => c.namespaceChanged());
  informers.namespaces.on('delete', () => c.namespaceChanged());
  informers.externalSecrets.on('update', (es) => c.externalSecretChanged(es));
  informers.externalSecrets.on('delete', (es) => c.externalSecretChanged(es));
}

function sameAnnotations(a: KubeObject, b: KubeObject): boolean {
  const [x, y] = [a.metadata?.annotations ?? {}, b.metadata?.annotations ?? {}];
  const keys = Object.keys(x);
  return keys.length === Object.keys(y).length && keys.every((k) => x[k] === y[k]);
}
