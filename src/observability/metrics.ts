import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { checkLabelNames, TallyCounter, TallyHistogram, type TallyOptions } from './tally.ts';

/** Buckets of the API server's own webhook latency histogram, in seconds. */
export const ADMISSION_BUCKETS = [0.005, 0.025, 0.1, 0.5, 1, 2.5, 10];

/** Event-loop delay buckets, seconds: 25 ms is the admission p99 budget (bench/RESULTS.md). */
export const EVENT_LOOP_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * Every metric of the process, on one registry per instance (tests build their own).
 * Labels are bounded: operation, kind, result, provider, store kind — never a key or a value.
 * Names follow the External Secrets Operator where it has the same metric.
 */
export function createMetrics() {
  const registry = new Registry();
  const reg = { registers: [registry] };
  return {
    registry,
    // Every admission request: counted without prom-client's per-call label hashing (tally.ts).
    admissionRequests: new TallyCounter({
      name: 'esw_admission_requests_total',
      help: 'Admission requests by operation, kind and result',
      labelNames: ['operation', 'kind', 'result'] as const,
      ...reg,
    }),
    /** Refusals by HTTP-style status code (bounded: 400, 403, 404, 422, 500, 503). */
    admissionRefusals: new Counter({
      name: 'esw_admission_refusals_total',
      help: 'Admission refusals (allowed: false) by operation, kind and status code',
      labelNames: ['operation', 'kind', 'code'] as const,
      ...reg,
    }),
    /** Body bytes reserved by admission requests in flight (src/server/request-bounds.ts). */
    admissionInflightBytes: new Gauge({
      name: 'esw_admission_inflight_bytes',
      help: 'Body bytes held by admission requests in flight; beyond the budget, requests get 429',
      ...reg,
    }),
    admissionDuration: new TallyHistogram({
      name: 'esw_admission_duration_seconds',
      help: 'Admission latency by operation and kind',
      labelNames: ['operation', 'kind', 'result'] as const,
      buckets: ADMISSION_BUCKETS,
      ...reg,
    }),
    providerCalls: new Counter({
      name: 'externalsecret_provider_api_calls_count',
      help: 'Provider API calls by provider, call and status (name kept from ESO)',
      labelNames: ['provider', 'call', 'status'] as const,
      ...reg,
    }),
    providerDuration: new Histogram({
      name: 'esw_provider_call_duration_seconds',
      help: 'Provider API call latency',
      labelNames: ['provider', 'call', 'status'] as const,
      buckets: ADMISSION_BUCKETS,
      ...reg,
    }),
    cacheLookups: new TallyCounter({
      name: 'esw_value_cache_lookups_total',
      help: 'Value cache lookups by result (hit, miss, coalesced)',
      labelNames: ['result'] as const,
      ...reg,
    }),
    refresherQueueDepth: new Gauge({
      name: 'esw_refresher_queue_depth',
      help: 'Objects waiting in the refresher queue',
      ...reg,
    }),
    // The per-ExternalSecret families (ESO's names): one series per object, kept as numbers by
    // object and written a slice per turn of the event loop (ObjectSeries).
    syncCalls: new ObjectSeries({
      name: 'externalsecret_sync_calls_total',
      help: 'ExternalSecret sync calls (name kept from ESO)',
      type: 'counter',
      labelNames: ['name', 'namespace'] as const,
      ...reg,
    }),
    syncErrors: new ObjectSeries({
      name: 'externalsecret_sync_calls_error',
      help: 'ExternalSecret sync errors (name kept from ESO)',
      type: 'counter',
      labelNames: ['name', 'namespace'] as const,
      ...reg,
    }),
    statusCondition: new ObjectSeries({
      name: 'externalsecret_status_condition',
      help: 'ExternalSecret status condition (name kept from ESO)',
      type: 'gauge',
      labelNames: ['name', 'namespace', 'condition', 'status'] as const,
      ...reg,
    }),
    managedSyncs: new Counter({
      name: 'esw_refresher_syncs_total',
      help: 'Refresher syncs by object kind and result',
      labelNames: ['kind', 'result'] as const,
      ...reg,
    }),
    /** Push refreshes (docs/push-refresh.md): force-sync by annotated kind, POST /refresh. */
    refreshTriggers: new Counter({
      name: 'esw_refresh_triggers_total',
      help: 'Push refreshes taken by this replica, by source (force-sync, endpoint) and the kind that carried it',
      labelNames: ['source', 'kind'] as const,
      ...reg,
    }),
    refreshTriggeredObjects: new Counter({
      name: 'esw_refresh_triggered_objects_total',
      help: 'ExternalSecrets and placeholder Secrets scheduled at once by push refreshes, by source',
      labelNames: ['source'] as const,
      ...reg,
    }),
    /**
     * A store's force-sync or refresh request that came inside the spacing after the last one
     * acted on: merged into one refresh at the spacing's end (src/refresher/refresher.ts).
     */
    refreshMarksDeferred: new Counter({
      name: 'esw_refresh_store_marks_deferred_total',
      help: "A store's force-sync or refresh request merged into one refresh at the end of the store's spacing, by source and store kind",
      labelNames: ['source', 'kind'] as const,
      ...reg,
    }),
    refreshTriggerLatency: new Histogram({
      name: 'esw_refresh_trigger_latency_seconds',
      help: 'Time from a push refresh seen by the owner to the Secret synced (written, or found up to date), by source',
      labelNames: ['source'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      ...reg,
    }),
    /** Provider change feeds (docs/push-refresh.md): `feed` is the kind (aws-sqs, azure-event-grid, gcp-pubsub), never a store. */
    changeFeedEvents: new Counter({
      name: 'esw_change_feed_events_total',
      help: 'Change feed events received by this replica, by feed kind and result (refresh, ignored, unreadable)',
      labelNames: ['feed', 'result'] as const,
      ...reg,
    }),
    changeFeedErrors: new Counter({
      name: 'esw_change_feed_errors_total',
      help: 'Failed change feed calls (receive, delete or acknowledge, opening the feed), by feed kind',
      labelNames: ['feed'] as const,
      ...reg,
    }),
    changeFeeds: new Gauge({
      name: 'esw_change_feeds',
      help: 'Change feeds consumed by this replica, by feed kind and state (starting, healthy, failing)',
      labelNames: ['feed', 'state'] as const,
      ...reg,
    }),
    /** Push feeds (Event Grid): deliveries answered by this replica, by feed kind and status. */
    changeFeedDeliveries: new Counter({
      name: 'esw_change_feed_deliveries_total',
      help: 'Change feed deliveries pushed to this replica (Event Grid), by feed kind and answer status code',
      labelNames: ['feed', 'code'] as const,
      ...reg,
    }),
    /** POST /refresh answers by HTTP status (bounded: 202, 400, 401, 403, 404, 413, 429, 503). */
    refreshRequests: new Counter({
      name: 'esw_refresh_requests_total',
      help: 'POST /refresh requests by answer status code',
      labelNames: ['code'] as const,
      ...reg,
    }),
    stalestSecretAge: new Gauge({
      name: 'esw_refresher_stalest_secret_age_seconds',
      help: 'Age of the least recently synced managed Secret',
      ...reg,
    }),
    overdueObjects: new Gauge({
      name: 'esw_refresher_overdue_objects',
      help: 'Objects refreshed periodically whose last successful sync is older than twice their refresh interval',
      ...reg,
    }),
    certificateExpiry: new Gauge({
      name: 'esw_serving_certificate_expiry_timestamp_seconds',
      help: 'When the serving certificate expires (Unix time), set on start and on every reload',
      ...reg,
    }),
    /** Fed by monitorEventLoop(): one observation a second, that second's longest delay. */
    eventLoopDelay: new Histogram({
      name: 'esw_event_loop_max_delay_seconds',
      help: 'The longest event-loop delay of each second: how long a request that had arrived waited behind other work of the process (admission and the refresher share the loop)',
      buckets: EVENT_LOOP_BUCKETS,
      ...reg,
    }),
    leader: new Gauge({ name: 'esw_leader', help: '1 when this replica holds the refresher lease', ...reg }),
    informerHealthy: new Gauge({
      name: 'esw_informer_healthy',
      help: '1 when the informer for a resource is listed and watching',
      labelNames: ['resource'] as const,
      ...reg,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * Series of an ObjectSeries family written before the event loop turns: at 10,000
 * ExternalSecrets `externalsecret_status_condition` holds 20,000 series, and prom-client wrote
 * (and first copied out) such a family in one stretch of 50–60 ms (bench/RESULTS.md,
 * "Admission under refresh").
 */
export const METRICS_SLICE = 1_000;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

type LabelSet<L extends string> = Record<L, string | number>;
type Value = string | number;

/**
 * A counter or gauge with one series per object (the per-ExternalSecret families of ESO), for
 * /metrics at 100,000s of objects. What a series keeps is its number: per object one array of
 * them, under its namespace and name (`namespace -> name -> values`), one value per *variant* —
 * a tuple of the other labels' values (`condition="Ready",status="True"`), rendered once per
 * family. The `name{labels}` text of each series is written at scrape time: kept per series it
 * was 2,199 bytes per ExternalSecret over the three families, now 190 (bench/RESULTS.md,
 * "Refresher state"; a scrape takes about twice the CPU, still 1,000 series per turn).
 * `metricsText` writes the family METRICS_SLICE series per turn of the event loop from the live
 * maps — no copy of every series per scrape. Registered on a prom-client Registry like its own
 * metrics (`registry.metrics()` writes the same text); labels, as everywhere, never hold a key
 * or a value.
 */
export class ObjectSeries<L extends string = string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly type: 'counter' | 'gauge';
  readonly aggregator = 'sum' as const;
  /** The variants seen, in order: their labels, and their text (`,label="value"` each, escaped). */
  readonly #variants: { labels: Record<string, Value>; text: string }[] = [];
  /** A variant's label values (joined) -> its index in #variants and in each object's values. */
  readonly #variantIndex = new Map<string, number>();
  /** namespace -> name -> value per variant (a hole: no such series) */
  readonly #objects = new Map<Value, Map<Value, (number | undefined)[]>>();
  #size = 0;

  constructor(cfg: TallyOptions<L> & { type: 'counter' | 'gauge' }) {
    // ESO's order; each series' text is then the object's part and its variant's.
    if (cfg.labelNames[0] !== 'name' || cfg.labelNames[1] !== 'namespace')
      throw new Error(`${cfg.name}: a per-object family's first labels are name and namespace`);
    this.name = cfg.name;
    this.help = cfg.help;
    this.labelNames = cfg.labelNames;
    this.type = cfg.type;
    for (const r of cfg.registers) r.registerMetric(this as never);
  }

  /** Adds to a series (a counter only goes up). */
  inc(labels: LabelSet<L>, by = 1): void {
    if (this.type === 'counter' && !(by >= 0)) throw new Error(`${this.name}: a counter only goes up`);
    const [values, i] = this.#series(labels);
    values[i] = (values[i] ?? 0) + by;
  }

  /** Sets a gauge's series. */
  set(labels: LabelSet<L>, value: number): void {
    if (this.type !== 'gauge') throw new Error(`${this.name}: set on a ${this.type}`);
    const [values, i] = this.#series(labels);
    values[i] = value;
  }

  /** The values of the labels' object and the index of their variant in them (a new series counted). */
  #series(labels: LabelSet<L>): [(number | undefined)[], number] {
    checkLabelNames(this.labelNames, labels);
    const all = labels as Record<string, Value | undefined>;
    let key = '';
    for (let i = 2; i < this.labelNames.length; i++)
      key += `${all[this.labelNames[i] as string] ?? ''}\u0000`;
    let variant = this.#variantIndex.get(key);
    if (variant === undefined) {
      variant = this.#variants.length;
      const own: Record<string, Value> = {};
      let text = '';
      for (const n of this.labelNames.slice(2)) {
        const v = all[n];
        if (v === undefined) continue;
        own[n] = v;
        text += `,${labelText(n, v)}`;
      }
      this.#variants.push({ labels: own, text });
      this.#variantIndex.set(key, variant);
    }
    const namespace = all.namespace ?? '';
    let names = this.#objects.get(namespace);
    if (!names) {
      names = new Map();
      this.#objects.set(namespace, names);
    }
    const name = all.name ?? '';
    let values = names.get(name);
    // Sized to the variants known (a literal `[]` reserves 17 slots on its first write); a new
    // variant later copies it once.
    if (!values || values.length <= variant) {
      const sized = new Array<number | undefined>(this.#variants.length);
      for (const [i, v] of (values ?? []).entries()) sized[i] = v;
      values = sized;
      names.set(name, values);
    }
    if (values[variant] === undefined) this.#size++;
    return [values, variant];
  }

  /** Drops every series (prom-client's Registry.resetMetrics). */
  reset(): void {
    this.#objects.clear();
    this.#size = 0;
  }

  /**
   * Drops every series of one object (its `namespace` and `name` labels), as ESO removes an
   * ExternalSecret's series when it is deleted: otherwise each name ever created stays in memory
   * and in every scrape.
   */
  removeObject(namespace: string, name: string): void {
    const names = this.#objects.get(namespace);
    const values = names?.get(name);
    if (!names || !values) return;
    for (const v of values) if (v !== undefined) this.#size--;
    names.delete(name);
    if (names.size === 0) this.#objects.delete(namespace);
  }

  get size(): number {
    return this.#size;
  }

  /** prom-client's metric shape: what `registry.metrics()` and `getMetricsAsJSON()` read. */
  async get(): Promise<{
    name: string;
    help: string;
    type: 'counter' | 'gauge';
    aggregator: 'sum';
    values: { labels: Record<string, Value>; value: number }[];
  }> {
    const values: { labels: Record<string, Value>; value: number }[] = [];
    for (const [namespace, names] of this.#objects)
      for (const [name, row] of names)
        for (const [i, value] of row.entries()) {
          if (value === undefined) continue;
          const own = (this.#variants[i] as { labels: Record<string, Value> }).labels;
          values.push({ labels: { name, namespace, ...own }, value });
        }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /**
   * The family in Prometheus text format, METRICS_SLICE series per turn of the event loop, in
   * the order of get(): an object's name and namespace are escaped once for all its series.
   */
  async text(): Promise<string> {
    const lines = [
      `# HELP ${escapeText(this.name)} ${escapeText(this.help)}`,
      `# TYPE ${escapeText(this.name)} ${this.type}`,
    ];
    let n = 0;
    for (const [namespace, names] of this.#objects) {
      const nsText = labelText('namespace', namespace);
      for (const [name, row] of names) {
        const head = `${this.name}{${labelText('name', name)},${nsText}`;
        for (let i = 0; i < row.length; i++) {
          const value = row[i];
          if (value === undefined) continue;
          if (n > 0 && n % METRICS_SLICE === 0) await nextTurn();
          n++;
          lines.push(`${head}${(this.#variants[i] as { text: string }).text}} ${valueText(value)}`);
        }
      }
    }
    return lines.join('\n');
  }
}

/** One label as prom-client writes it: `name="value"`, the value escaped. */
function labelText(name: string, v: Value): string {
  if (typeof v !== 'string') return `${name}="${v}"`;
  return `${name}="${NEEDS_ESCAPE.test(v) ? escapeText(v).replace(/"/g, '\\"') : v}"`;
}
const NEEDS_ESCAPE = /[\\\n"]/;

/**
 * The registry in Prometheus text format, exactly as `registry.metrics()` writes it, in bounded
 * slices: one metric family per turn of the event loop, and an ObjectSeries family (one series
 * per ExternalSecret) METRICS_SLICE series per turn, so admission requests waiting on the loop
 * are answered in between instead of after the whole scrape.
 */
export async function metricsText(registry: Registry): Promise<string> {
  const parts: string[] = [];
  for (const metric of registry.getMetricsAsArray()) {
    const m: unknown = metric;
    parts.push(
      m instanceof ObjectSeries ? await m.text() : await registry.getSingleMetricAsString(metric.name),
    );
    await nextTurn();
  }
  return `${parts.join('\n\n')}\n`;
}

/** prom-client's escaping of names, help and label values (label values also escape `"`). */
function escapeText(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** prom-client's number format (its `getValueAsString`). */
function valueText(v: number): string {
  if (Number.isNaN(v)) return 'Nan';
  if (!Number.isFinite(v)) return v < 0 ? '-Inf' : '+Inf';
  return `${v}`;
}

/**
 * Samples the event loop's delay and, every period (1 s), records that period's longest delay in
 * esw_event_loop_max_delay_seconds: a histogram, so any scrape interval sees every second
 * (`rate(..._bucket{le="0.025"})` against `_count` is the share of seconds without a stall over
 * 25 ms). Admission and the refresher share this loop: a synchronous stretch of refresh work
 * shows here as the delay admission requests waited. A timer every 10 ms measures how late it
 * runs (node:perf_hooks' monitorEventLoopDelay loses the stall that spans a reset of its
 * histogram, and a per-period maximum needs one). Returns the stop.
 */
export function monitorEventLoop(metrics: Metrics, periodMs = 1_000, resolutionMs = 10): () => void {
  let periodStart = performance.now();
  let expected = periodStart + resolutionMs;
  let longest = 0;
  let timer: NodeJS.Timeout;
  const sample = () => {
    const now = performance.now();
    longest = Math.max(longest, now - expected);
    // A stall longer than the period is counted once, in the period it ends.
    if (now - periodStart >= periodMs) {
      metrics.eventLoopDelay.observe(longest / 1000);
      longest = 0;
      periodStart = now;
    }
    expected = now + resolutionMs;
    timer = setTimeout(sample, resolutionMs);
    timer.unref();
  };
  timer = setTimeout(sample, resolutionMs);
  timer.unref();
  return () => clearTimeout(timer);
}
