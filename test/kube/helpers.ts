/**
 * Small helpers for the Kubernetes tests: bounded polling, a sleep the test releases, and Lease
 * requests the test holds.
 */
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { KubeClient, type Lease } from '../../src/kube/client.ts';

/**
 * Polls `cond` every 10 ms; throws with `what` when it never holds. The bound only ends a broken
 * run: it is far above any real wait, so a loaded machine is slower, never failed.
 */
export async function until(cond: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A sleep that only returns when the test calls `release()`; records the requested delays. */
export function heldSleep() {
  const delays: number[] = [];
  let waiting: Array<() => void> = [];
  return {
    delays,
    sleep: (ms: number) =>
      new Promise<void>((resolve) => {
        delays.push(ms);
        waiting.push(resolve);
      }),
    get pending(): number {
      return waiting.length;
    },
    release(): void {
      const w = waiting;
      waiting = [];
      for (const r of w) r();
    },
  };
}

const apis = new WeakMap<object, { core: CoreV1Api; custom: CustomObjectsApi }>();

/**
 * client-node's generated clients for a KubeClient built from a client-node KubeConfig (the
 * project's KubeClient no longer carries them: it never loads the generated API).
 */
export function generated(client: { kc: object }): { core: CoreV1Api; custom: CustomObjectsApi } {
  let a = apis.get(client.kc);
  if (!a) {
    const kc = client.kc as KubeConfig;
    a = { core: kc.makeApiClient(CoreV1Api), custom: kc.makeApiClient(CustomObjectsApi) };
    apis.set(client.kc, a);
  }
  return a;
}

/** A client whose Lease calls the test can hold: sent and not answered, or answered late. */
export class HeldClient extends KubeClient {
  /** When set, a list of Leases waits for it before it is sent (contact lost). */
  cut: Promise<void> | undefined;
  /** When set, a Lease update is applied by the API server, and answered only after it. */
  late: Promise<void> | undefined;

  override async listLeases(namespace: string, labelSelector: string): Promise<Lease[]> {
    if (this.cut) await this.cut;
    return super.listLeases(namespace, labelSelector);
  }

  override async replaceLease(namespace: string, lease: Lease): Promise<Lease> {
    const written = await super.replaceLease(namespace, lease);
    if (this.late) await this.late;
    return written;
  }
}

/** A promise the test settles by hand. */
export function held(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve = () => {};
  let reject: (e: Error) => void = () => {};
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
