/**
 * Refresh shared by every replica, with Kubernetes as the coordinator (`--shards N`, N > 1), and
 * leader election as its one-shard case (leader.ts).
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
 * A shard may be written until its renew deadline, counted from the *start* of the last renewal
 * answered in time (`mayWrite`, asked by the refresher right before every write): on the clock,
 * not at the next round, which a hung request can hold up for its whole timeout. The renew
 * deadline is at most the lease duration less HANDOVER_MARGIN, so the holder stops writing
 * before another replica can take the shard (docs/refresher.md).
 * Expiry is judged as client-go does: a Lease held by another replica counts as expired only when
 * its record (holder + renewTime) has not changed for its lease duration on this replica's clock,
 * from when this replica observed the change — never by reading the remote renewTime against the
 * local clock. The group's Leases are also watched (an informer on the keep-alive HTTP path), so a
 * renewal is observed when it is written rather than at the next poll, and a round is run at the
 * moment a Lease would expire: a killed replica's shards are taken within the lease duration of
 * its last renewal. The poll stays: when the watch is down, takeovers wait for the next retry
 * period, as before (a lease duration plus up to two retry periods).
 * A replica that stops cleanly releases its Leases: they are taken at the next retry period.
 * Writes are conditional on resourceVersion: of two replicas taking one shard, one gets a 409.
 */
import { createHash } from 'node:crypto';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { isConflict, type KubeClient, type Lease } from './client.ts';
import { Informer, realSleep, type Sleep } from './informer.ts';

export const LEASE_DEFAULTS = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
} as const;

/**
 * A round is run this long after a Lease would expire: the timer and the clock read of the round
 * agree to the millisecond only, and nodes' clocks run at slightly different rates (a holder's
 * 15 s may be a few ms longer on this clock). Small against the renew deadline's slack.
 */
export const TAKEOVER_MARGIN_MS = 100;

/**
 * The share of the lease duration between a holder's last write and the earliest takeover: the
 * renew deadline must end before it (10 %: 1.5 s of the defaults' 15 s; they leave 5 s). It
 * covers clocks running at different rates (1 % apart costs 0.25 s of the defaults' 10 + 15 s)
 * and the trip of a write sent at the deadline to the API server.
 */
export const HANDOVER_MARGIN = 0.1;

/** The renew deadline must be shorter than this (`--renew-deadline`, checked at start-up too). */
export function renewDeadlineLimitMs(leaseDurationMs: number): number {
  return leaseDurationMs * (1 - HANDOVER_MARGIN);
}

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
  /**
   * Leader election (leader.ts): one shard whose Lease is named `name` itself (as before shards
   * existed, so a rolling upgrade keeps one leader), read by name (a Lease written by an older
   * release has no group labels), taken at the first round; no membership Lease (one shard is
   * never shared).
   */
  single?: boolean;
  metrics?: Pick<Metrics, 'leader'> & Partial<Pick<Metrics, 'informerHealthy'>>;
  logger?: Logger;
}

/** A Lease's record (holder + renewTime) and when this replica first observed it, on its clock. */
interface Seen {
  record: string;
  holder: string;
  at: number;
  durationMs: number;
}

type Written = 'written' | 'conflict' | 'failed';

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
  /**
   * shard -> when the last renewal (or take) of its Lease answered in time *started*, on this
   * clock: the shard may be written until this + the renew deadline.
   */
  readonly #owned = new Map<number, number>();
  /** Lease name -> its record and when this replica first saw it (poll or watch). */
  readonly #seen = new Map<string, Seen>();
  /** Shards in this replica's order of preference: replicas prefer different shards. */
  readonly #preference: number[];
  /** When the membership Lease was last renewed. */
  #memberAt = Number.NEGATIVE_INFINITY;
  #ticks = 0;
  #stopped = false;
  #running: Promise<void> | undefined;
  #wake: () => void = () => {};
  /** Run the next round at once: a Lease expired, or a take lost a race (see #run). */
  #again = false;
  /** The clock of the last round: expiries up to it have been judged. */
  #judgedAt = Number.NEGATIVE_INFINITY;
  #takeoverAt: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #watch: Informer<Lease> | undefined;

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
    if (this.#deadlineMs >= renewDeadlineLimitMs(this.#leaseMs))
      throw new Error('renewDeadline must be shorter than leaseDuration less HANDOVER_MARGIN');
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

  /**
   * True while this replica may write the shard's objects: owned, and within the renew deadline
   * of its last renewal's start. Asked right before every write, so a round held up by a hung
   * request (up to its timeout) does not extend it.
   */
  mayWrite(shard: number): boolean {
    const at = this.#owned.get(shard);
    return at !== undefined && this.#now() - at <= this.#deadlineMs;
  }

  shardLease(shard: number): string {
    return this.#o.single ? this.name : `${this.name}-shard-${shard}`;
  }

  memberLease(identity = this.identity): string {
    return leaseName(`${this.name}-member-`, identity);
  }

  /**
   * When this replica next runs a round because a Lease held by another replica expires (the
   * earliest such expiry on this clock, plus TAKEOVER_MARGIN_MS); undefined when none is due.
   */
  get takeoverAt(): number | undefined {
    return this.#takeoverAt;
  }

  /** Starts the watch of the group's Leases, then the rounds. */
  start(): void {
    if (this.#running) return;
    void this.watchLeases();
    this.#running = this.#run();
  }

  /**
   * Starts the watch of the group's Leases (done by start(); for tests that step the clock by
   * hand): resolves once it has listed. Observations only: the rounds still read the Leases.
   */
  watchLeases(): Promise<void> {
    if (this.#watch || this.#stopped) return this.#watch?.synced ?? Promise.resolve();
    const gauge = this.#o.metrics?.informerHealthy;
    gauge?.set({ resource: 'leases' }, 0);
    const watch = new Informer<Lease>(this.#o.client.http, {
      name: 'leases',
      path: `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.namespace)}/leases`,
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      labelSelector: `${LEASE_GROUP_LABEL}=${this.name}`,
      ...(this.#o.logger ? { logger: this.#o.logger } : {}),
      onHealth: (ok) => {
        gauge?.set({ resource: 'leases' }, ok ? 1 : 0);
        // Coordination goes on by the poll: only takeovers are slower (a retry period or two).
        if (!ok && !this.#stopped)
          this.#o.logger?.warn(
            { lease: this.name },
            'lease watch down: expiries are judged at the poll every retry period until it is back',
          );
      },
    });
    const seen = (lease: Lease) => {
      this.#observe(lease, this.#now());
      this.#schedule();
    };
    watch.on('add', seen).on('update', seen);
    watch.on('delete', (lease) => {
      this.#seen.delete(lease.metadata?.name ?? '');
      this.#schedule();
    });
    this.#watch = watch;
    watch.start();
    return watch.synced;
  }

  /**
   * Stops campaigning and renewing at once, releasing nothing: what a killed replica leaves
   * behind (its Leases expire for the others). For tests and a last-resort shutdown.
   */
  async halt(): Promise<void> {
    this.#stopped = true;
    this.#wake();
    await this.#quiet();
  }

  /** Stops: drops every shard, waits for its work to settle, releases the Leases. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake();
    await this.#quiet();
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
    if (this.#o.single) return;
    try {
      const member = await client.getLease(this.namespace, this.memberLease());
      if (member)
        await client.deleteLease(this.namespace, this.memberLease(), member.metadata?.resourceVersion);
    } catch (err) {
      this.#warn(this.memberLease(), 'delete', err);
    }
  }

  /** Ends the rounds, the takeover timer and the watch. */
  async #quiet(): Promise<void> {
    await this.#running;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#watch?.stop();
  }

  async #run(): Promise<void> {
    let raced = false;
    while (!this.#stopped) {
      this.#again = false;
      const lost = await this.tick();
      if (this.#stopped) break;
      // A take that lost a race is retried at once, once: the winner's Lease is then read as
      // held, and the shards still free are taken now instead of a retry period later.
      raced = lost && !raced;
      if (this.#again || raced) continue;
      await Promise.race([
        this.#sleep(this.#retryMs),
        new Promise<void>((resolve) => {
          this.#wake = resolve;
        }),
      ]);
    }
  }

  /**
   * One round; exposed for tests that step the clock by hand. True when a take lost a race to
   * another replica (a 409) while this one was below its share.
   */
  async tick(): Promise<boolean> {
    const now = this.#now();
    const first = this.#ticks++ === 0;
    const client = this.#o.client;
    this.#judgedAt = now;
    let leases: Lease[];
    try {
      if (this.#o.single) {
        const lease = await client.getLease(this.namespace, this.name);
        leases = lease ? [lease] : [];
      } else leases = await client.listLeases(this.namespace, `${LEASE_GROUP_LABEL}=${this.name}`);
    } catch (err) {
      this.#warn(this.name, 'list', err);
      await this.#dropOverdue();
      return false;
    }
    try {
      return await this.#round(leases, now, first);
    } finally {
      this.#schedule();
    }
  }

  async #round(leases: Lease[], now: number, first: boolean): Promise<boolean> {
    const byName = new Map(leases.map((l) => [l.metadata?.name ?? '', l]));
    const valid = (l: Lease | undefined): string => {
      const seen = l && this.#observe(l, now);
      return seen && seen.at + seen.durationMs > now ? seen.holder : '';
    };

    // Membership: this replica, and every member Lease still renewed. Long-dead ones are removed.
    if (!this.#o.single) await this.#renewMember(byName.get(this.memberLease()), now);
    const live = new Set([this.identity]);
    for (const l of leases) {
      if (this.#o.single || l.metadata?.labels?.[LEASE_ROLE_LABEL] !== 'member') continue;
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
      if (renewed[i] !== 'written') return;
      // A renewal counts from its start, and only when answered while the shard could still be
      // written: one answered later would make it writable again with no gap the refresher sees.
      // Not counted, the shard is dropped below and renewed from scratch at the next round.
      if (this.#owned.has(shard) ? !this.mayWrite(shard) : !this.#inTime(now)) return;
      if (!this.#owned.has(shard)) changed = true;
      this.#owned.set(shard, now);
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
    await this.#dropOverdue(changed);

    // Take free shards up to the share. Not on the first round: replicas starting together
    // first see each other, instead of the first one taking everything and handing it back.
    // One shard is never handed back: it is taken at once.
    if ((first && !this.#o.single) || this.#stopped) return false;
    const wanted = free.slice(0, Math.max(0, share - this.#owned.size));
    if (wanted.length === 0) return false;
    const taken = await Promise.all(
      wanted.map((shard) => this.#write(shard, byName.get(this.shardLease(shard)), now)),
    );
    let gained = false;
    wanted.forEach((shard, i) => {
      if (taken[i] === 'written' && !this.#stopped && this.#inTime(now)) {
        this.#owned.set(shard, now);
        gained = true;
      }
    });
    if (gained) await this.#publish();
    return taken.includes('conflict');
  }

  /** Records a Lease's record, and when it was first seen here; undefined when it has no holder. */
  #observe(lease: Lease, now: number): Seen | undefined {
    const name = lease.metadata?.name ?? '';
    const holder = lease.spec?.holderIdentity ?? '';
    if (holder === '') {
      this.#seen.delete(name);
      return undefined;
    }
    const record = `${holder}|${String(lease.spec?.renewTime ?? '')}`;
    let seen = this.#seen.get(name);
    if (seen?.record !== record) {
      const durationMs = (lease.spec?.leaseDurationSeconds ?? Math.ceil(this.#leaseMs / 1000)) * 1000;
      seen = { record, holder, at: now, durationMs };
      this.#seen.set(name, seen);
    }
    return seen;
  }

  /**
   * Arms the round at the next expiry of a Lease held by another replica, not yet judged by a
   * round (after #judgedAt): its shards are taken then, not at the next retry period.
   */
  #schedule(): void {
    let at = Number.POSITIVE_INFINITY;
    for (const s of this.#seen.values()) {
      if (s.holder === this.identity) continue;
      const expiry = s.at + s.durationMs + TAKEOVER_MARGIN_MS;
      if (expiry > this.#judgedAt && expiry < at) at = expiry;
    }
    this.#takeoverAt = Number.isFinite(at) ? at : undefined;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#takeoverAt === undefined || !this.#running || this.#stopped) return;
    this.#timer = setTimeout(
      () => {
        this.#again = true;
        this.#wake();
      },
      Math.max(0, at - this.#now()),
    );
    this.#timer.unref();
  }

  /**
   * A Lease is written every half renew deadline (at least every retry period), not at every
   * round: 32 shards cost a few writes a second, and a failed renewal still leaves a retry or
   * two before the deadline. Others see its record change well within the lease duration.
   */
  #due(lastRenew: number | undefined, now: number): boolean {
    return lastRenew === undefined || now - lastRenew >= Math.max(this.#retryMs, this.#deadlineMs / 2);
  }

  /** True when a write of a Lease started at `start` was answered within the renew deadline. */
  #inTime(start: number): boolean {
    return this.#now() - start <= this.#deadlineMs;
  }

  /**
   * Drops shards not renewed within the renew deadline (they may expire for others soon), by the
   * clock now: a round's requests may have taken longer than the deadline.
   */
  async #dropOverdue(changed = false): Promise<void> {
    let dropped = false;
    for (const shard of this.#owned.keys()) {
      if (!this.mayWrite(shard)) {
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

  /** Takes or renews a shard Lease (create when missing); 'conflict' when another replica won. */
  async #write(shard: number, lease: Lease | undefined, now: number): Promise<Written> {
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
          // A leader Lease of an older release has no labels: it is watched once it has them.
          metadata: { ...lease.metadata, labels: { ...lease.metadata?.labels, ...this.#labels('shard') } },
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
      this.#observe(written, now);
      return 'written';
    } catch (err) {
      if (isConflict(err)) return 'conflict';
      this.#warn(name, 'update', err);
      return 'failed';
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

/** A metav1.MicroTime: RFC 3339 with microseconds. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}
