/**
 * The renew deadline on writers outside the refresher (store status, ClusterExternalSecrets):
 * every method of the writer is a write, and each asks `mayWrite` right before it is sent —
 * ShardCoordinator.mayWrite(0) or LeaderElector.mayWrite(), on the clock, not the published
 * ownership, which a round waiting on a hung Lease request can hold for its whole timeout
 * (docs/refresher.md, "Why two replicas never write the same shard").
 */
import { NotLeaderError } from './refresher.ts';

/** `writer` with every method refused (NotLeaderError, nothing sent) once `mayWrite` is false. */
export function refuseLateWrites<T extends object>(writer: T, mayWrite: () => boolean): T {
  return new Proxy(writer, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]): Promise<unknown> => {
        if (!mayWrite()) throw new NotLeaderError();
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}
