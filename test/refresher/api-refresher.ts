/**
 * The refresher on its real Kubernetes port (ApiKubeWriter over @kubernetes/client-node) against
 * the API-server double: the real StoreResolver with the `fake` provider serving one store, and
 * time on a clock the test moves. Everything started is stopped at the test's end.
 */
import type { Test } from 'tap';
import type { SecretStore } from '../../src/api/types.ts';
import { KubeClient } from '../../src/kube/client.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { fakeProvider } from '../../src/providers/fake/index.ts';
import { ApiKubeWriter } from '../../src/refresher/kube-writer.ts';
import type { KubeWriter, TargetMemo } from '../../src/refresher/ports.ts';
import { Refresher } from '../../src/refresher/refresher.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { StoreResolver } from '../../src/resolve/resolver.ts';
import { KubeApiServer } from '../fakes/kube-apiserver/index.ts';

export interface ApiRefresherOptions {
  /** When the clock starts (ISO time). */
  start: string;
  /** The store the registry holds at first. */
  store: SecretStore;
  /** The managed-Secret cache the writer trusts (cluster mode's KnownTargets); none: every sync reads. */
  known?: TargetMemo;
  /** Stands between the refresher and the writer, e.g. to act between our read and our write. */
  wrap?: (writer: KubeWriter, api: KubeApiServer) => KubeWriter;
}

export async function apiRefresher(t: Test, opts: ApiRefresherOptions) {
  let now = Date.parse(opts.start);
  const clock = { now: () => now, advance: (ms: number) => (now += ms) };
  const api = await KubeApiServer.start();
  t.teardown(() => api.close());
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (l: string) => lines.push(l) } });
  const registry = new MemoryRegistry();
  registry.upsert(opts.store);
  const resolver = new StoreResolver({
    registry,
    secrets: registry,
    providers: new Map([['fake', fakeProvider]]),
    logger,
    now: clock.now,
  });
  t.teardown(() => resolver.close());
  const writer = new ApiKubeWriter(new KubeClient(api.kubeConfig()), clock.now, opts.known);
  const kube = opts.wrap ? opts.wrap(writer, api) : writer;
  const refresher = new Refresher({ resolver, kube, logger, now: clock.now });
  t.teardown(() => refresher.stop());
  return { api, clock, registry, refresher, lines };
}
