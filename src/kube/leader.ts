/**
 * Leader election on a coordination.k8s.io/v1 Lease, after client-go's leaderelection: the
 * one-shard case of the ShardCoordinator (shards.ts), which holds the Lease logic. Acquire when
 * the Lease is free or expired, renew it, and give up leadership the moment renewals have failed
 * for longer than the renew deadline, or at once when a read shows the Lease held by another
 * replica (this one stalled past the lease duration). Expiry is judged on this replica's own
 * clock from when it *observed* the Lease record change, by the poll every retry period or by the
 * watch (never by comparing clocks across pods). Writes are conditional on resourceVersion: a 409
 * means someone else won this round. `stop()` releases the Lease (empty holderIdentity) so a
 * standby takes over at its next retry instead of waiting out the lease.
 */
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { KubeClient } from './client.ts';
import type { Sleep } from './informer.ts';
import { ShardCoordinator } from './shards.ts';

export interface LeaderElectorOptions {
  client: KubeClient;
  namespace: string;
  /** Lease name; default `external-secrets-webhook-refresher`. */
  name?: string;
  /** This replica: the pod name. */
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  now?: () => number;
  sleep?: Sleep;
  onStartedLeading?: () => void;
  onStoppedLeading?: () => void;
  metrics?: Pick<Metrics, 'leader'> & Partial<Pick<Metrics, 'informerHealthy'>>;
  logger?: Logger;
}

export class LeaderElector {
  readonly identity: string;
  readonly namespace: string;
  readonly name: string;
  readonly #o: LeaderElectorOptions;
  readonly #lease: ShardCoordinator;
  #leader = false;

  constructor(opts: LeaderElectorOptions) {
    const { onStartedLeading: _s, onStoppedLeading: _e, ...lease } = opts;
    this.#o = opts;
    this.#lease = new ShardCoordinator({
      ...lease,
      shards: 1,
      single: true,
      onShards: (owned) => this.#setLeader(owned.length > 0),
    });
    this.identity = this.#lease.identity;
    this.namespace = this.#lease.namespace;
    this.name = this.#lease.name;
  }

  isLeader(): boolean {
    return this.#leader;
  }

  /** True while the leader may write: within the renew deadline of its last renewal's start. */
  mayWrite(): boolean {
    return this.#lease.mayWrite(0);
  }

  start(): void {
    this.#lease.start();
  }

  /** Stops campaigning; a leader calls onStoppedLeading, then releases the Lease. */
  stop(): Promise<void> {
    return this.#lease.stop();
  }

  /** One round: try to acquire or renew; exposed for tests that step the clock by hand. */
  async tick(): Promise<void> {
    await this.#lease.tick();
  }

  #setLeader(v: boolean): void {
    if (v === this.#leader) return;
    this.#leader = v;
    this.#o.logger?.info(
      { lease: this.name, identity: this.identity },
      v ? 'started leading' : 'stopped leading',
    );
    if (v) this.#o.onStartedLeading?.();
    else this.#o.onStoppedLeading?.();
  }
}
