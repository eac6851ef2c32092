/**
 * Where in its refresh interval each object falls, so that one provider call serves many objects.
 *
 * Objects are grouped by the store they read first — `SecretStore/<namespace>/<name>` (a
 * SecretStore is namespaced, and each one is its own provider client) or
 * `ClusterSecretStore/<name>` — and seeded by the first remote key they read. A group's distinct
 * seeds are ranked in a stable hash order and cut into R = min(60, ceil(seeds / 20)) rounds; every
 * object of one round gets the same phase, so the round's keys are fetched together: one AWS
 * BatchGetSecretValue per 20 keys *of a store*, the unit a batch can serve. A group's rounds are
 * spread evenly over the interval and offset by a hash of the group, so stores do not all fire at
 * the same instant. Phases sit on a 1 s grid: objects of one round come due in the same
 * millisecond and are taken by the same tick.
 *
 * Every replica registers every object (owned or not), so all replicas compute the same phases
 * and a shard that changes hands keeps its schedule.
 */
import { phaseOf } from './queue.ts';

export const KEYS_PER_ROUND = 20;
export const MAX_ROUNDS = 60;
const GRID_MS = 1_000;

interface Group {
  /** The group as first added: the one string its objects keep (`add`). */
  name: string;
  /** seed -> how many objects start from it */
  seeds: Map<string, number>;
  /** seed -> its rank (stable hash order), rebuilt lazily after a change. */
  rank: Map<string, number> | undefined;
}

export class RoundPlanner {
  readonly #groups = new Map<string, Group>();

  /**
   * Registers an object of `group` starting from `seed`; returns the group's own string, which
   * the caller keeps instead of its equal copy (each object's group is built anew from its store
   * reference: 100,000 copies of a thousand names otherwise).
   */
  add(group: string, seed: string): string {
    let g = this.#groups.get(group);
    if (!g) {
      g = { name: group, seeds: new Map(), rank: undefined };
      this.#groups.set(group, g);
    }
    const n = g.seeds.get(seed) ?? 0;
    g.seeds.set(seed, n + 1);
    if (n === 0) g.rank = undefined;
    return g.name;
  }

  remove(group: string, seed: string): void {
    const g = this.#groups.get(group);
    const n = g?.seeds.get(seed);
    if (!g || n === undefined) return;
    if (n > 1) {
      g.seeds.set(seed, n - 1);
      return;
    }
    g.seeds.delete(seed);
    g.rank = undefined;
    if (g.seeds.size === 0) this.#groups.delete(group);
  }

  /** Distinct seeds of a group (its keys that start a round). */
  keys(group: string): number {
    return this.#groups.get(group)?.seeds.size ?? 0;
  }

  rounds(group: string): number {
    return Math.min(MAX_ROUNDS, Math.max(1, Math.ceil(this.keys(group) / KEYS_PER_ROUND)));
  }

  /**
   * The phase in [0, interval) of objects of `group` starting from `seed`: the same for every
   * object of one round. A seed the planner does not know falls back to a hash phase on the grid.
   */
  phase(group: string, seed: string, interval: number): number {
    if (interval <= 0) return 0;
    const g = this.#groups.get(group);
    const rounds = this.rounds(group);
    const spacing = interval / rounds;
    const offset = phaseOf(group, Math.max(1, Math.floor(spacing)));
    let round: number;
    if (g?.seeds.has(seed)) {
      const rank = this.#rankOf(g, seed);
      round = Math.floor((rank * rounds) / g.seeds.size);
    } else {
      round = phaseOf(seed, rounds);
    }
    const at = Math.floor((offset + round * spacing) / GRID_MS) * GRID_MS;
    return at % Math.max(GRID_MS, Math.floor(interval));
  }

  #rankOf(g: Group, seed: string): number {
    if (!g.rank) {
      const ranked = [...g.seeds.keys()]
        .map((k) => ({ k, h: phaseOf(k, 2 ** 31) }))
        .sort((a, b) => a.h - b.h || (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
      g.rank = new Map(ranked.map((x, i) => [x.k, i]));
    }
    return g.rank.get(seed) ?? 0;
  }
}
