/** Small helpers for the Kubernetes tests: bounded polling and a sleep the test releases. */
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';

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
