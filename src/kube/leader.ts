/**
 * Leader election on a coordination.k8s.io/v1 Lease, after client-go's leaderelection: acquire
 * when the lease is free or expired, renew every retry period, and give up leadership the
 * moment renewals have failed for longer than the renew deadline, or at once when a read shows
 * the lease held by another replica (this one stalled past the lease duration). Expiry is judged on this
 * replica's own clock from when it last *observed* the lease record change (never by comparing
 * clocks across pods). Writes are conditional on resourceVersion: a 409 means someone else won
 * this round. `stop()` releases the lease (empty holderIdentity) so a standby takes over at its
 * next retry instead of waiting out the lease.
 */
import { errorMessage } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { isConflict, type KubeClient, type Lease } from './client.ts';
import { realSleep, type Sleep } from './informer.ts';

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
  metrics?: Pick<Metrics, 'leader'>;
  logger?: Logger;
}

export const LEASE_DEFAULTS = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
} as const;

export class LeaderElector {
  readonly identity: string;
  readonly namespace: string;
  readonly name: string;
  readonly #o: LeaderElectorOptions;
  readonly #now: () => number;
  readonly #sleep: Sleep;
  readonly #leaseMs: number;
  readonly #deadlineMs: number;
  readonly #retryMs: number;
  #leader = false;
  #stopped = false;
  #running: Promise<void> | undefined;
  /** Last successful acquire/renew (this clock). */
  #lastRenew = 0;
  /** The holder/renewTime last seen, and when (this clock) it was first seen. */
  #observed = '';
  #observedAt = 0;
  /** Another replica holds a lease still valid, as read in the last round. */
  #heldByOther = '';
  #wake: () => void = () => {};

  constructor(opts: LeaderElectorOptions) {
    this.#o = opts;
    this.identity = opts.identity;
    this.namespace = opts.namespace;
    this.name = opts.name ?? 'external-secrets-webhook-refresher';
    this.#now = opts.now ?? Date.now;
    this.#sleep = opts.sleep ?? realSleep;
    this.#leaseMs = opts.leaseDurationMs ?? LEASE_DEFAULTS.leaseDurationMs;
    this.#deadlineMs = opts.renewDeadlineMs ?? LEASE_DEFAULTS.renewDeadlineMs;
    this.#retryMs = opts.retryPeriodMs ?? LEASE_DEFAULTS.retryPeriodMs;
    if (this.#deadlineMs >= this.#leaseMs)
      throw new Error('renewDeadline must be shorter than leaseDuration');
    opts.metrics?.leader.set(0);
  }

  isLeader(): boolean {
    return this.#leader;
  }

  start(): void {
    if (this.#running) return;
    this.#running = this.#run();
  }

  /** Stops campaigning; a leader releases the lease and calls onStoppedLeading. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake();
    await this.#running;
    if (this.#leader) {
      await this.#release();
      this.#setLeader(false);
    }
  }

  /** One round: try to acquire or renew; exposed for tests that step the clock by hand. */
  async tick(): Promise<void> {
    const ok = await this.#tryAcquireOrRenew();
    if (ok) {
      this.#lastRenew = this.#now();
      if (!this.#leader) this.#setLeader(true);
    } else if (this.#leader && this.#heldByOther) {
      // Someone else holds the lease (it expired for them while we were stalled): stop at once
      // rather than at the renew deadline, so two refreshers never write side by side.
      this.#o.logger?.warn({ lease: this.name }, 'lost the refresher lease: held by another replica');
      this.#setLeader(false);
    } else if (this.#leader && this.#now() - this.#lastRenew > this.#deadlineMs) {
      this.#o.logger?.warn({ lease: this.name }, 'lost the refresher lease: renew deadline exceeded');
      this.#setLeader(false);
    }
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      await this.tick();
      if (this.#stopped) break;
      await Promise.race([
        this.#sleep(this.#retryMs),
        new Promise<void>((resolve) => {
          this.#wake = resolve;
        }),
      ]);
    }
  }

  #setLeader(v: boolean): void {
    this.#leader = v;
    this.#o.metrics?.leader.set(v ? 1 : 0);
    this.#o.logger?.info(
      { lease: this.name, identity: this.identity },
      v ? 'started leading' : 'stopped leading',
    );
    try {
      if (v) this.#o.onStartedLeading?.();
      else this.#o.onStoppedLeading?.();
    } catch (err) {
      this.#o.logger?.error({ lease: this.name }, `leader callback failed: ${errorMessage(err)}`);
    }
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const client = this.#o.client;
    const now = this.#now();
    const spec = () => ({
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.ceil(this.#leaseMs / 1000),
      renewTime: microTime(now),
    });
    let lease: Lease | null;
    this.#heldByOther = '';
    try {
      lease = await client.getLease(this.namespace, this.name);
    } catch (err) {
      return this.#failed(err);
    }
    if (!lease) {
      try {
        await client.createLease(this.namespace, {
          metadata: { name: this.name, namespace: this.namespace },
          spec: { ...spec(), acquireTime: microTime(now), leaseTransitions: 0 },
        });
        return true;
      } catch (e) {
        return this.#failed(e);
      }
    }
    const s = lease.spec ?? {};
    const holder = s.holderIdentity ?? '';
    const record = `${holder}|${String(s.renewTime ?? '')}`;
    if (record !== this.#observed) {
      this.#observed = record;
      this.#observedAt = now;
    }
    const durationMs = (s.leaseDurationSeconds ?? Math.ceil(this.#leaseMs / 1000)) * 1000;
    if (holder !== '' && holder !== this.identity && this.#observedAt + durationMs > now) {
      this.#heldByOther = holder;
      return false;
    }
    const changed = holder !== this.identity;
    try {
      const updated = await client.replaceLease(this.namespace, {
        ...lease,
        spec: {
          ...s,
          ...spec(),
          ...(changed
            ? {
                acquireTime: microTime(now),
                leaseTransitions: (s.leaseTransitions ?? 0) + (holder ? 1 : 0),
              }
            : {}),
        },
      });
      this.#observed = `${this.identity}|${String(updated.spec?.renewTime ?? '')}`;
      this.#observedAt = now;
      return true;
    } catch (err) {
      return this.#failed(err);
    }
  }

  #failed(err: unknown): false {
    if (!isConflict(err)) {
      this.#o.logger?.warn({ lease: this.name }, `lease update failed: ${errorMessage(err).split('\n')[0]}`);
    }
    return false;
  }

  async #release(): Promise<void> {
    const client = this.#o.client;
    try {
      const lease = await client.getLease(this.namespace, this.name);
      if (!lease || lease.spec?.holderIdentity !== this.identity) return;
      await client.replaceLease(this.namespace, {
        ...lease,
        spec: {
          ...lease.spec,
          holderIdentity: '',
          leaseDurationSeconds: 1,
          renewTime: microTime(this.#now()),
        },
      });
    } catch (err) {
      this.#o.logger?.warn({ lease: this.name }, `lease release failed: ${errorMessage(err).split('\n')[0]}`);
    }
  }
}

/** A metav1.MicroTime: RFC 3339 with microseconds. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}
