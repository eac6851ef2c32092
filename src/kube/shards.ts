/**
 * Refresh shared by every replica, with Kubernetes as the coordinator (`--shards N`, N > 1).
 *
 * The keyspace is cut into N shards (objects by namespace: src/refresher/queue.ts `shardOf`), each
 * owned through its own coordination.k8s.io/v1 Lease `<lease-name>-shard-<i>`. Every replica
 * also holds a membership Lease `<lease-name>-member-<pod>`, so replicas that own nothing yet are
 * counted. Every retry period a replica lists the Leases of its group (one request), renews its
 * own, and:
 * - takes free shards (no Lease, released, or expired) up to ceil(N / live replicas);
 * - gives back shards beyond that share when other replicas appear: the refresher drops them
 *   first and its in-flight syncs settle, only then is the Lease released;
 * - drops a shard at once when a read shows it held by another replica (this one stalled past
 *   the lease duration), or when it could not renew it within the renew deadline, before the
 *   Lease can expire for anyone else.
 * Expiry is judged as in leader.ts: a Lease held by another replica counts as expired only when
 * its record (holder + renewTime) has not changed for its lease duration on this replica's clock.
 * A killed replica's shards are thus taken within the lease duration plus a retry period; a
 * replica that stops cleanly releases them, and they are taken at the next retry period.
 * Writes are conditional on resourceVersion: of two replicas taking one shard, one gets a 409.
 */
import { createHash } from 'node:crypto';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { isConflict, type KubeClient, type Lease } from './client.ts';
import { realSleep, type Sleep } from './informer.ts';
import { LEASE_DEFAULTS, microTime } from './leader.ts';

export const LEASE_GROUP_LABEL = 'esw.io/lease-group';
export const LEASE_ROLE_LABEL = 'esw.io/lease-role';

export interface ShardCoordinatorOptions {
  client: KubeClient;
  namespace: string;
  /** Prefix of every Lease name, and the group label; default `external-secrets-webhook-refresher`. */
  name?: string;
  /** This replica: the pod name. */
  identity: string;
  shards: number;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  now?: () => number;
  sleep?: Sleep;
  /**
   * The shards owned from now on, after every change. Lost shards must be dropped at once; the
   * promise resolves when the work on them has settled (the Lease is released only then).
   */
  onShards: (owned: number[]) => Promise<void> | void;
  metrics?: Pick<Metrics, 'leader'>;
  logger?: Logger;
}

interface Seen {
  record: string;
  at: number;
}

export class ShardCoordinator {
  readonly identity: string;
  readonly namespace: string;
  readonly name: string;
  readonly shards: number;
  readonly #o: ShardCoordinatorOptions;
  readonly #now: () => number;
  readonly #sleep: Sleep;
  readonly #leaseMs: number;
  readonly #deadlineMs: number;
  readonly #retryMs: number;
  /** shard -> when this replica last renewed (or took) its Lease, on this clock. */
  readonly #owned = new Map<number, number>();
  /** Lease name -> its record (holder + renewTime) and when this replica first saw it. */
  readonly #seen = new Map<string, Seen>();
  /** Shards in this replica's order of preference: replicas prefer different shards. */
  readonly #preference: number[];
  /** When the membership Lease was last renewed. */
  #memberAt = Number.NEGATIVE_INFINITY;
  #ticks = 0;
  #stopped = false;
  #running: Promise<void> | undefined;
  #wake: () => void = () => {};

  constructor(opts: ShardCoordinatorOptions) {
    this.#o = opts;
    this.identity = opts.identity;
    this.namespace = opts.namespace;
    this.name = opts.name ?? 'external-secrets-webhook-refresher';
    this.shards = Math.max(1, Math.floor(opts.shards));
    this.#now = opts.now ?? Date.now;
    this.#sleep = opts.sleep ?? realSleep;
    this.#leaseMs = opts.leaseDurationMs ?? LEASE_DEFAULTS.leaseDurationMs;
    this.#deadlineMs = opts.renewDeadlineMs ?? LEASE_DEFAULTS.renewDeadlineMs;
    this.#retryMs = opts.retryPeriodMs ?? LEASE_DEFAULTS.retryPeriodMs;
    if (this.#deadlineMs >= this.#leaseMs)
      throw new Error('renewDeadline must be shorter than leaseDuration');
    this.#preference = Array.from({ length: this.shards }, (_, i) => i).sort(
      (a, b) => rank(this.identity, a) - rank(this.identity, b) || a - b,
    );
    opts.metrics?.leader.set(0);
  }

  /** The shards owned now, ascending. */
  get owned(): number[] {
    return [...this.#owned.keys()].sort((a, b) => a - b);
  }

  owns(shard: number): boolean {
    return this.#owned.has(shard);
  }

  shardLease(shard: number): string {
    return `${this.name}-shard-${shard}`;
  }

  memberLease(identity = this.identity): string {
    return leaseName(`${this.name}-member-`, identity);
  }

  start(): void {
    if (this.#running) return;
    this.#running = this.#run();
  }

  /**
   * Stops campaigning and renewing at once, releasing nothing: what a killed replica leaves
   * behind (its Leases expire for the others). For tests and a last-resort shutdown.
   */
  async halt(): Promise<void> {
    this.#stopped = true;
    this.#wake();
    await this.#running;
  }

  /** Stops: drops every shard, waits for its work to settle, releases the Leases. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake();
    await this.#running;
    const held = this.owned;
    this.#owned.clear();
    await this.#publish();
    const client = this.#o.client;
    await Promise.all(
      held.map(async (shard) => {
        try {
          const lease = await client.getLease(this.namespace, this.shardLease(shard));
          if (lease?.spec?.holderIdentity === this.identity) await this.#release(lease);
        } catch (err) {
          this.#warn(this.shardLease(shard), 'release', err);
        }
      }),
    );
    try {
      const member = await client.getLease(this.namespace, this.memberLease());
      if (member)
        await client.deleteLease(this.namespace, this.memberLease(), member.metadata?.resourceVersion);
    } catch (err) {
      this.#warn(this.memberLease(), 'delete', err);
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

  /** One round; exposed for tests that step the clock by hand. */
  async tick(): Promise<void> {
    const now = this.#now();
    const first = this.#ticks++ === 0;
    const client = this.#o.client;
    let leases: Lease[];
    try {
      leases = await client.listLeases(this.namespace, `${LEASE_GROUP_LABEL}=${this.name}`);
    } catch (err) {
      this.#warn(this.name, 'list', err);
      await this.#dropOverdue(now);
      return;
    }
    const byName = new Map(leases.map((l) => [l.metadata?.name ?? '', l]));
    const valid = (l: Lease | undefined): string => {
      const holder = l?.spec?.holderIdentity ?? '';
      if (!l || holder === '') return '';
      const name = l.metadata?.name ?? '';
      const record = `${holder}|${String(l.spec?.renewTime ?? '')}`;
      let seen = this.#seen.get(name);
      if (seen?.record !== record) {
        seen = { record, at: now };
        this.#seen.set(name, seen);
      }
      const durationMs = (l.spec?.leaseDurationSeconds ?? Math.ceil(this.#leaseMs / 1000)) * 1000;
      return seen.at + durationMs > now ? holder : '';
    };

    // Membership: this replica, and every member Lease still renewed. Long-dead ones are removed.
    await this.#renewMember(byName.get(this.memberLease()), now);
    const live = new Set([this.identity]);
    for (const l of leases) {
      if (l.metadata?.labels?.[LEASE_ROLE_LABEL] !== 'member') continue;
      const holder = valid(l);
      if (holder) live.add(holder);
      else if (l.metadata?.name !== this.memberLease()) await this.#collect(l, now);
    }
    const share = Math.ceil(this.shards / live.size);

    const free: number[] = [];
    const mine: { shard: number; lease: Lease }[] = [];
    let lost = false;
    for (const shard of this.#preference) {
      const lease = byName.get(this.shardLease(shard));
      const holder = valid(lease);
      if (lease && holder === this.identity) mine.push({ shard, lease });
      else if (holder) {
        if (this.#owned.delete(shard)) {
          lost = true;
          this.#o.logger?.warn(
            { lease: this.shardLease(shard), holder },
            'lost a shard: held by another replica',
          );
        }
      } else if (!this.#owned.has(shard)) free.push(shard);
      else if (!lease || (lease.spec?.holderIdentity ?? '') === '') {
        // Ours by our count but released or deleted meanwhile: not ours any more.
        this.#owned.delete(shard);
        lost = true;
        free.push(shard);
      } else mine.push({ shard, lease });
    }
    if (lost) await this.#publish();

    // Renew the share kept (in order of preference); give back the rest.
    const keep = mine.slice(0, share);
    const excess = mine.slice(share);
    const renewed = await Promise.all(
      keep.map(({ shard, lease }) =>
        this.#due(this.#owned.get(shard), now) ? this.#write(shard, lease, now) : 'kept',
      ),
    );
    let changed = false;
    keep.forEach(({ shard }, i) => {
      if (renewed[i] === true) {
        if (!this.#owned.has(shard)) changed = true;
        this.#owned.set(shard, now);
      }
    });
    if (excess.length > 0) {
      for (const { shard } of excess) this.#owned.delete(shard);
      // The refresher lets go first: no write of a shard given back happens after its release.
      await this.#publish();
      await Promise.all(excess.map(({ lease }) => this.#release(lease)));
      this.#o.logger?.info(
        { shards: excess.map((e) => e.shard), replicas: live.size },
        'gave shards back to other replicas',
      );
    }
    await this.#dropOverdue(now, changed);

    // Take free shards up to the share. Not on the first round: replicas starting together
    // first see each other, instead of the first one taking everything and handing it back.
    if (first || this.#stopped) return;
    const wanted = free.slice(0, Math.max(0, share - this.#owned.size));
    if (wanted.length === 0) return;
    const taken = await Promise.all(
      wanted.map((shard) => this.#write(shard, byName.get(this.shardLease(shard)), now)),
    );
    let gained = false;
    wanted.forEach((shard, i) => {
      if (taken[i] && !this.#stopped) {
        this.#owned.set(shard, now);
        gained = true;
      }
    });
    if (gained) await this.#publish();
  }

  /**
   * A Lease is written every half renew deadline (at least every retry period), not at every
   * round: 32 shards cost a few writes a second, and a failed renewal still leaves a retry or
   * two before the deadline. Others see its record change well within the lease duration.
   */
  #due(lastRenew: number | undefined, now: number): boolean {
    return lastRenew === undefined || now - lastRenew >= Math.max(this.#retryMs, this.#deadlineMs / 2);
  }

  /** Drops shards not renewed within the renew deadline (they may expire for others soon). */
  async #dropOverdue(now: number, changed = false): Promise<void> {
    let dropped = false;
    for (const [shard, at] of this.#owned) {
      if (now - at > this.#deadlineMs) {
        this.#owned.delete(shard);
        dropped = true;
        this.#o.logger?.warn({ lease: this.shardLease(shard) }, 'lost a shard: renew deadline exceeded');
      }
    }
    if (dropped || changed) await this.#publish();
  }

  async #publish(): Promise<void> {
    const owned = this.owned;
    this.#o.metrics?.leader.set(owned.length > 0 ? 1 : 0);
    try {
      await this.#o.onShards(owned);
    } catch (err) {
      this.#o.logger?.error({ lease: this.name }, `shard callback failed: ${errorMessage(err)}`);
    }
  }

  /** Takes or renews a shard Lease (create when missing); false when another replica won. */
  async #write(shard: number, lease: Lease | undefined, now: number): Promise<boolean> {
    const client = this.#o.client;
    const name = this.shardLease(shard);
    const spec = {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.ceil(this.#leaseMs / 1000),
      renewTime: microTime(now),
    };
    try {
      let written: Lease;
      if (!lease) {
        written = await client.createLease(this.namespace, {
          metadata: { name, namespace: this.namespace, labels: this.#labels('shard') },
          spec: { ...spec, acquireTime: microTime(now), leaseTransitions: 0 },
        });
      } else {
        const s = lease.spec ?? {};
        const holder = s.holderIdentity ?? '';
        written = await client.replaceLease(this.namespace, {
          ...lease,
          spec: {
            ...s,
            ...spec,
            ...(holder !== this.identity
              ? {
                  acquireTime: microTime(now),
                  leaseTransitions: (s.leaseTransitions ?? 0) + (holder ? 1 : 0),
                }
              : {}),
          },
        });
      }
      this.#seen.set(name, { record: `${this.identity}|${String(written.spec?.renewTime ?? '')}`, at: now });
      return true;
    } catch (err) {
      if (!isConflict(err)) this.#warn(name, 'update', err);
      return false;
    }
  }

  async #renewMember(lease: Lease | undefined, now: number): Promise<void> {
    if (lease && !this.#due(this.#memberAt, now)) return;
    const client = this.#o.client;
    const name = this.memberLease();
    const spec = {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.ceil(this.#leaseMs / 1000),
      renewTime: microTime(now),
    };
    try {
      if (lease) await client.replaceLease(this.namespace, { ...lease, spec: { ...lease.spec, ...spec } });
      else
        await client.createLease(this.namespace, {
          metadata: { name, namespace: this.namespace, labels: this.#labels('member') },
          spec: { ...spec, acquireTime: microTime(now) },
        });
      this.#memberAt = now;
    } catch (err) {
      if (!isConflict(err)) this.#warn(name, 'update', err);
    }
  }

  /** A member Lease unchanged for 4 lease durations: its replica is gone; delete the Lease. */
  async #collect(lease: Lease, now: number): Promise<void> {
    const name = lease.metadata?.name ?? '';
    const seen = this.#seen.get(name);
    if (!seen || now - seen.at < 4 * this.#leaseMs) return;
    try {
      await this.#o.client.deleteLease(this.namespace, name, lease.metadata?.resourceVersion);
      this.#seen.delete(name);
    } catch (err) {
      if (!isConflict(err)) this.#warn(name, 'delete', err);
    }
  }

  async #release(lease: Lease): Promise<void> {
    try {
      await this.#o.client.replaceLease(this.namespace, {
        ...lease,
        spec: {
          ...lease.spec,
          holderIdentity: '',
          leaseDurationSeconds: 1,
          renewTime: microTime(this.#now()),
        },
      });
    } catch (err) {
      if (!isConflict(err)) this.#warn(lease.metadata?.name ?? '', 'release', err);
    }
  }

  #labels(role: 'shard' | 'member'): Record<string, string> {
    return { [LEASE_GROUP_LABEL]: this.name, [LEASE_ROLE_LABEL]: role };
  }

  #warn(lease: string, what: string, err: unknown): void {
    this.#o.logger?.warn({ lease }, `lease ${what} failed: ${errorMessage(err).split('\n')[0]}`);
  }
}

/** A stable pseudo-random rank of a shard for a replica. */
function rank(identity: string, shard: number): number {
  return createHash('sha256').update(`${identity}/${shard}`).digest().readUInt32BE(0);
}

/** `prefix + identity` as a Lease name (a DNS subdomain of at most 253 characters). */
function leaseName(prefix: string, identity: string): string {
  const clean = identity.toLowerCase().replace(/[^a-z0-9.-]/g, '-');
  const name = `${prefix}${clean}`;
  if (name.length <= 253 && clean === identity && /[a-z0-9]$/.test(name)) return name;
  const hash = createHash('sha256').update(identity).digest('hex').slice(0, 10);
  return `${name.slice(0, 240).replace(/[^a-z0-9]+$/, '')}-${hash}`;
}
