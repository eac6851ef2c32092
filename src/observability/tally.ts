/**
 * Counters and histograms for the per-request path. prom-client validates and hashes the labels
 * on every `inc` / `observe` (about 1 µs each, measured: a few per cent of a warm admission);
 * these check a label set once, the first time it is seen, and afterwards cost a map lookup and
 * a few additions. They register in the same prom-client Registry and are written in the same
 * text as prom-client's own (test/observability/tally.test.ts compares both).
 */
import type { Registry } from 'prom-client';

export type Labels<L extends string> = Partial<Record<L, string | number>>;

export interface TallyOptions<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  registers: Registry[];
}

/** One metric line's worth, as prom-client's `get()` gives it. */
interface Value {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/** prom-client's check: every label given is one of the family's (`labelNames`). */
export function checkLabelNames(labelNames: readonly string[], labels: object): void {
  for (const n of Object.keys(labels)) {
    if (!labelNames.includes(n)) {
      throw new Error(`Added label "${n}" is not included in initial labelset: ${labelNames}`);
    }
  }
}

/** A series' label set (as first seen, checked) and its state. */
interface Series<Entry> {
  labels: Record<string, string | number>;
  entry: Entry;
}

/** One level of the series index per label name; the last level holds the series. */
type Level<Entry> = Map<string, Level<Entry> | Series<Entry>>;

/**
 * Series found by their label values (in `labelNames` order), each checked and copied once when
 * first seen. The index has one map level per label: a lookup builds no key string (the label
 * values are mostly literals, whose hashes V8 keeps).
 */
export abstract class Tally<L extends string, Entry> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  /** In the order first seen, as prom-client writes them. */
  protected readonly series: Series<Entry>[] = [];
  #index: Level<Entry> = new Map();

  constructor(opts: TallyOptions<L>) {
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = opts.labelNames;
    for (const r of opts.registers) r.registerMetric(this as never);
  }

  protected entry(labels: Labels<L>): Entry {
    const names = this.labelNames;
    let level = this.#index;
    for (let i = 0; i < names.length - 1; i++) {
      const next = level.get(valueKey(labels[names[i] as L]));
      if (next === undefined) return this.#add(labels, level, i);
      level = next as Level<Entry>;
    }
    const found = level.get(this.#lastKey(labels));
    return found === undefined
      ? this.#add(labels, level, Math.max(0, names.length - 1))
      : (found as Series<Entry>).entry;
  }

  /**
   * A new series, indexed from where `entry`'s lookup stopped: `level`, the level of the label
   * at `from`, which holds no key for it — so every level below it is new.
   */
  #add(labels: Labels<L>, level: Level<Entry>, from: number): Entry {
    checkLabelNames(this.labelNames, labels);
    const kept: Record<string, string | number> = {};
    for (const n of this.labelNames) if (labels[n] !== undefined) kept[n] = labels[n];
    const series = { labels: kept, entry: this.create() };
    const names = this.labelNames;
    for (let i = from; i < names.length - 1; i++) {
      const next: Level<Entry> = new Map();
      level.set(valueKey(labels[names[i] as L]), next);
      level = next;
    }
    level.set(this.#lastKey(labels), series);
    this.series.push(series);
    return series.entry;
  }

  /** The key of the last label's value, at the level that holds the series. */
  #lastKey(labels: Labels<L>): string {
    const names = this.labelNames;
    return names.length === 0 ? '' : valueKey(labels[names[names.length - 1] as L]);
  }

  /** A new series' state. */
  protected abstract create(): Entry;

  reset(): void {
    this.series.length = 0;
    this.#index = new Map();
  }
}

/** A label value as the series' key: absent is '', a number its decimal text. */
function valueKey(value: string | number | undefined): string {
  return typeof value === 'string' ? value : `${value ?? ''}`;
}

export class TallyCounter<L extends string> extends Tally<L, { value: number }> {
  readonly type = 'counter';

  inc(labels: Labels<L>, value = 1): void {
    if (!(value >= 0) || !Number.isFinite(value)) throw new Error('It is not possible to decrease a counter');
    this.entry(labels).value += value;
  }

  protected create(): { value: number } {
    return { value: 0 };
  }

  async get() {
    const values: Value[] = this.series.map(({ labels, entry }) => ({
      labels: { ...labels },
      value: entry.value,
    }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: 'sum' };
  }
}

interface Buckets {
  /** Observations per bucket (not cumulative); the last one is +Inf. */
  counts: number[];
  sum: number;
  count: number;
}

export class TallyHistogram<L extends string> extends Tally<L, Buckets> {
  readonly type = 'histogram';
  readonly upperBounds: readonly number[];

  constructor(opts: TallyOptions<L> & { buckets: readonly number[] }) {
    super(opts);
    this.upperBounds = [...opts.buckets].sort((a, b) => a - b);
  }

  observe(labels: Labels<L>, value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    const b = this.entry(labels);
    let i = 0;
    while (i < this.upperBounds.length && value > (this.upperBounds[i] as number)) i++;
    b.counts[i] = (b.counts[i] as number) + 1;
    b.sum += value;
    b.count++;
  }

  protected create(): Buckets {
    return { counts: new Array<number>(this.upperBounds.length + 1).fill(0), sum: 0, count: 0 };
  }

  async get() {
    const values: Value[] = [];
    // `le` first, as prom-client writes it.
    for (const { labels, entry } of this.series) {
      let cumulative = 0;
      for (const [i, le] of this.upperBounds.entries()) {
        cumulative += entry.counts[i] as number;
        values.push({ labels: { le, ...labels }, value: cumulative, metricName: `${this.name}_bucket` });
      }
      values.push({
        labels: { le: '+Inf', ...labels },
        value: entry.count,
        metricName: `${this.name}_bucket`,
      });
      values.push({ labels: { ...labels }, value: entry.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...labels }, value: entry.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: 'sum' };
  }
}
