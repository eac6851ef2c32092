/**
 * The writers of shard 0's holder outside the refresher — store status, ClusterExternalSecrets,
 * the built-in certificate renewal — stop at the renew deadline of its last renewal, whatever its
 * round of Lease coordination is waiting on: on the API-server double, the clock stepped by hand,
 * a list of Leases held by the test (a replica cut off from the API server). Each writer is built
 * here asking ShardCoordinator.mayWrite(0), as src/cluster.ts wires it; the wiring itself is tested
 * through createClusterRuntime in test/kube/cluster-write-deadline.test.ts.
 */
import '../../src/server/certs.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { ExternalSecret, Namespace, SecretStore } from '../../src/api/types.ts';
import { eventGridAccept } from '../../src/cluster.ts';
import { CertBootstrap } from '../../src/kube/cert-bootstrap.ts';
import { KubeClient, type Lease } from '../../src/kube/client.ts';
import { LeaderElector } from '../../src/kube/leader.ts';
import { ShardCoordinator } from '../../src/kube/shards.ts';
import { createLogger } from '../../src/observability/logger.ts';
import {
  ApiCesWriter,
  type ClusterExternalSecret,
  ClusterExternalSecrets,
} from '../../src/refresher/cluster-external-secret.ts';
import { ApiKubeWriter } from '../../src/refresher/kube-writer.ts';
import { Refresher } from '../../src/refresher/refresher.ts';
import { StoreStatus } from '../../src/refresher/store-status.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { StoreResolver } from '../../src/resolve/resolver.ts';
import { KubeApiServer } from '../fakes/kube-apiserver/index.ts';
import { STORE as FAKE_STORE, Remote, remoteProvider } from '../refresher/harness.ts';
import { sharedClusterExternalSecret } from './helpers.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const DAY = 86_400_000;

/** A client whose list of Leases waits, when `cut` is set, for it before it is sent. */
class CutClient extends KubeClient {
  cut: Promise<void> | undefined;

  override async listLeases(namespace: string, labelSelector: string): Promise<Lease[]> {
    if (this.cut) await this.cut;
    return super.listLeases(namespace, labelSelector);
  }

  /** The leader's read of its one Lease. */
  override async getLease(namespace: string, name: string): Promise<Lease | null> {
    if (this.cut) await this.cut;
    return super.getLease(namespace, name);
  }
}

/**
 * pod-a holding both shards of the API-server double, its last renewal at `clock`; `onShards`
 * as src/cluster.ts wires shard 0's writers.
 */
async function holder(t: Test, onShards: (owned: number[]) => unknown = () => undefined) {
  const api = await KubeApiServer.start();
  t.teardown(() => api.close());
  const clock = { now: Date.parse('2026-12-03T01:00:00Z') };
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (l: string) => lines.push(l) } });
  const client = new CutClient(api.kubeConfig());
  const coordinator = new ShardCoordinator({
    client,
    namespace: 'esw',
    identity: 'pod-a',
    shards: 2,
    now: () => clock.now,
    logger,
    onShards: async (owned) => {
      await onShards(owned);
    },
  });
  const own = async () => {
    await coordinator.tick();
    await coordinator.tick();
    t.same(coordinator.owned, [0, 1], 'pod-a holds every shard, its last renewal now');
  };
  /**
   * Contact lost: the next round waits on a list that does not get through, and the clock moves
   * `ms` past the last renewal. Returns the end of it: the list fails and the round ends.
   */
  const cutOff = (ms: number) => {
    let fail: (err: Error) => void = () => {};
    client.cut = new Promise<void>((_, reject) => {
      fail = reject;
    });
    const round = coordinator.tick();
    clock.now += ms;
    return async () => {
      fail(new Error('test: API server unreachable'));
      await round;
      client.cut = undefined;
    };
  };
  return { api, clock, lines, logger, coordinator, own, cutOff, kube: new KubeClient(api.kubeConfig()) };
}

const STORE: SecretStore = {
  apiVersion: 'external-secrets.io/v1',
  kind: 'SecretStore',
  metadata: { name: 'vault', namespace: 'default' },
  spec: { provider: { fake: { data: [] } } },
};

async function storeStatusSetup(t: Test) {
  let ss: StoreStatus | undefined;
  const h = await holder(t, (owned) => (owned.includes(0) ? ss?.start() : ss?.stop()));
  const store = h.api.put(STORE) as SecretStore;
  ss = new StoreStatus({
    validate: async () => undefined,
    kube: new ApiKubeWriter(h.kube),
    logger: h.logger,
    controllerClass: 'default',
    now: () => h.clock.now,
    mayWrite: () => h.coordinator.mayWrite(0),
  });
  ss.upsert(store);
  t.teardown(() => ss?.stop());
  await h.own();
  return { ...h, ss, patches: () => h.api.writes('secretstores/status', 'patch') };
}

t.test(
  'store status: past the renew deadline no write reaches the API server; regained, it is written',
  async (t) => {
    const { api, ss, cutOff, coordinator, patches } = await storeStatusSetup(t);
    const reconnect = cutOff(10_001);
    t.same(coordinator.owned, [0, 1], 'still owned by its count: the round has not judged');
    await ss.tick();
    t.equal(patches(), 0, 'the status write was refused');
    t.equal(api.get('secretstores', 'default', 'vault')?.status, undefined);

    // The round ends: the shard is dropped (the writer stopped), then taken again (started).
    await reconnect();
    t.same(coordinator.owned, [], 'dropped');
    await coordinator.tick();
    t.same(coordinator.owned, [0, 1], 'regained');
    await ss.tick();
    t.equal(patches(), 1, 'the check left undone is made and written');
    const status = api.get('secretstores', 'default', 'vault')?.status as {
      conditions?: { reason?: string }[];
    };
    t.equal(status.conditions?.[0]?.reason, 'Valid');
  },
);

t.test('store status: up to the renew deadline it is written', async (t) => {
  const { ss, cutOff, patches } = await storeStatusSetup(t);
  const reconnect = cutOff(10_000);
  await ss.tick();
  t.equal(patches(), 1, 'written at the deadline');
  await reconnect();
});

async function cesSetup(t: Test) {
  let ces: ClusterExternalSecrets | undefined;
  const h = await holder(t, (owned) => (owned.includes(0) ? ces?.start() : ces?.stop()));
  h.api.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a' } });
  const obj = h.api.put(sharedClusterExternalSecret()) as ClusterExternalSecret;
  ces = new ClusterExternalSecrets({
    kube: new ApiCesWriter(h.kube),
    sources: {
      namespaces: () => h.api.list('namespaces') as Namespace[],
      externalSecret: (ns, name) => h.api.get('externalsecrets', ns, name) as ExternalSecret | undefined,
      clusterStore: () => undefined,
    },
    serves: () => true,
    logger: h.logger,
    now: () => h.clock.now,
    mayWrite: () => h.coordinator.mayWrite(0),
  });
  ces.upsert(obj);
  t.teardown(() => ces?.stop());
  await h.own();
  const writes = () =>
    h.api.writes('externalsecrets', 'create') +
    h.api.writes('externalsecrets', 'update') +
    h.api.writes('clusterexternalsecrets/status', 'patch');
  return { ...h, ces, writes };
}

t.test('ClusterExternalSecret: past the renew deadline nothing is written; regained, it is', async (t) => {
  const { api, ces, cutOff, coordinator, writes, lines } = await cesSetup(t);
  const reconnect = cutOff(10_001);
  await ces.tick();
  t.equal(writes(), 0, 'neither the ExternalSecret nor the status was written');
  t.equal(api.get('externalsecrets', 'team-a', 'shared'), undefined);
  t.ok(
    lines.some((l) => l.includes('past the renew deadline; left for the next holder')),
    'said at debug level',
  );
  t.notOk(
    lines.some((l) => l.includes('"level":40')),
    'a refusal is no failure: no warning',
  );

  await reconnect();
  await coordinator.tick();
  t.same(coordinator.owned, [0, 1], 'regained');
  await ces.tick();
  t.ok(api.get('externalsecrets', 'team-a', 'shared'), 'the ExternalSecret is created');
  t.equal(api.writes('clusterexternalsecrets/status', 'patch'), 1, 'and the status written');
});

t.test('ClusterExternalSecret: up to the renew deadline it is written', async (t) => {
  const { api, ces, cutOff, writes } = await cesSetup(t);
  const reconnect = cutOff(10_000);
  await ces.tick();
  t.ok(api.get('externalsecrets', 'team-a', 'shared'), 'created at the deadline');
  t.equal(writes(), 2, 'the ExternalSecret and the status');
  await reconnect();
});

/**
 * `webhooks`: the project's two webhook configurations (named `esw`, no caBundle yet) are in the
 * double and kept by the renewal. `beforeCheck` runs right before each deadline check: a test
 * steps the clock there.
 */
async function certSetup(t: Test, opts: { webhooks?: boolean; beforeCheck?: () => void } = {}) {
  const h = await holder(t);
  const dir = await mkdtemp(join(tmpdir(), 'esw-cert-deadline-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const names = opts.webhooks ? ['esw'] : [];
  for (const kind of opts.webhooks ? ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'] : [])
    h.api.put({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind,
      metadata: { name: 'esw' },
      webhooks: [
        {
          name: 'esw.esw.io',
          admissionReviewVersions: ['v1'],
          sideEffects: 'None',
          clientConfig: { service: { namespace: 'esw', name: 'esw', path: '/x' } },
        },
      ],
    });
  const boot = new CertBootstrap({
    kubeConfig: h.api.kubeConfig({ namespace: 'esw' }),
    namespace: 'esw',
    secretName: 'esw-tls',
    service: 'esw',
    mutatingWebhooks: names,
    validatingWebhooks: names,
    certFile: join(dir, 'tls.crt'),
    keyFile: join(dir, 'tls.key'),
    logger: h.logger,
    now: () => new Date(h.clock.now),
    sleep: async () => undefined,
    servingValidityMs: 90 * DAY,
    caValidityMs: 900 * DAY,
    mayWrite: () => {
      opts.beforeCheck?.();
      return h.coordinator.mayWrite(0);
    },
  });
  // Anyone creates the missing Secret; 61 days on, its serving certificate is due (2/3 of 90).
  t.same((await boot.reconcile()).actions, ['created']);
  h.clock.now += 61 * DAY;
  await h.own();
  return { ...h, boot, updates: () => h.api.writes('secrets', 'update') };
}

t.test('certificate renewal: past the renew deadline the Secret is not written', async (t) => {
  const { boot, cutOff, updates } = await certSetup(t);
  const reconnect = cutOff(10_001);
  const pass = await boot.reconcile();
  t.same(pass.actions, [], 'not renewed');
  t.equal(updates(), 0, 'no write of the Secret');
  await reconnect();
});

t.test('certificate renewal: up to the renew deadline it renews', async (t) => {
  const { boot, cutOff, updates } = await certSetup(t);
  const reconnect = cutOff(10_000);
  t.same((await boot.reconcile()).actions, ['renewed']);
  t.equal(updates(), 1);
  await reconnect();
});

t.test(
  'certificate renewal: the deadline passing while the renewal is computed refuses the Secret replace (the check right before it)',
  async (t) => {
    const step = { armed: false, checks: 0 };
    const { boot, clock, lines, updates } = await certSetup(t, {
      beforeCheck: () => {
        // The first check of the pass says yes; the clock passes the deadline before the next.
        if (step.armed && ++step.checks === 2) clock.now += 10_001;
      },
    });
    step.armed = true;
    const pass = await boot.reconcile();
    t.same(pass.actions, [], 'not renewed');
    t.equal(updates(), 0, 'no write of the Secret');
    t.ok(
      lines.some((l) => l.includes('certificate renewal left for the next leader: past the renew deadline')),
      'said in the log',
    );
  },
);

t.test(
  'caBundle: the deadline passing between two configurations refuses the second patch (the check before each)',
  async (t) => {
    let set: Awaited<ReturnType<typeof certSetup>> | undefined;
    let stepped = false;
    set = await certSetup(t, {
      webhooks: true,
      // Once the first configuration is patched, the clock passes the deadline.
      beforeCheck: () => {
        if (set && !stepped && set.api.writes('mutatingwebhookconfigurations', 'update') === 1) {
          stepped = true;
          set.clock.now += 10_001;
        }
      },
    });
    const { api, boot, updates } = set;
    const pass = await boot.reconcile();
    t.same(pass.actions, ['renewed'], 'renewed within the deadline');
    t.equal(updates(), 1, 'the Secret written');
    t.equal(api.writes('mutatingwebhookconfigurations', 'update'), 1, 'the first configuration patched');
    t.equal(
      api.writes('validatingwebhookconfigurations', 'update'),
      0,
      'the second one, past the deadline, not',
    );
  },
);

t.test(
  'Event Grid: a delivery to the leader past its renew deadline is refused, so Event Grid delivers it again',
  async (t) => {
    const api = await KubeApiServer.start();
    t.teardown(() => api.close());
    const clock = { now: Date.parse('2026-12-03T01:00:00Z') };
    const now = () => clock.now;
    const logger = createLogger({ level: 'silent' });
    const registry = new MemoryRegistry();
    registry.upsert(FAKE_STORE);
    const resolver = new StoreResolver({
      registry,
      secrets: registry,
      providers: new Map([['fake', remoteProvider(new Remote())]]),
      logger,
      now,
    });
    const client = new CutClient(api.kubeConfig());
    const elector: LeaderElector = new LeaderElector({
      client,
      namespace: 'esw',
      identity: 'pod-a',
      now,
      logger,
      onStartedLeading: () => refresher.start(),
      onStoppedLeading: () => void refresher.stop(),
    });
    const refresher = new Refresher({
      resolver,
      kube: new ApiKubeWriter(new KubeClient(api.kubeConfig()), now),
      logger,
      now,
      mayWrite: () => elector.mayWrite(),
    });
    t.teardown(() => refresher.stop());
    const recorded: string[] = [];
    const accept = eventGridAccept({
      refresher,
      elector,
      feeds: undefined,
      requests: { recordRequest: async (_store, annotation) => void recorded.push(annotation) },
    });
    const store = {
      kind: 'SecretStore' as const,
      namespace: 'default',
      name: FAKE_STORE.metadata?.name ?? '',
    };
    await elector.tick();
    t.ok(elector.isLeader() && refresher.running, 'pod-a leads and refreshes');

    // Contact lost: its next round waits on a read of the Lease that does not get through.
    let fail: (err: Error) => void = () => {};
    client.cut = new Promise<void>((_, reject) => {
      fail = reject;
    });
    const round = elector.tick();
    clock.now += 10_000;
    await t.resolves(accept(store, ['db']), 'at the renew deadline: taken by the refresher here');
    clock.now += 1;
    t.ok(elector.isLeader(), 'still the leader by its count: the round has not judged');
    await t.rejects(accept(store, ['db']), /renew deadline/, 'past it: refused (answered 503)');
    t.same(recorded, [], 'neither recorded on the store');
    fail(new Error('test: API server unreachable'));
    await round;
    t.notOk(elector.isLeader(), 'the round, once it ends, gives up leadership');
  },
);
