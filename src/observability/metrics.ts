import { Counter, Gauge, Histogram, Registry } from 'prom-client';

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
    admissionRequests: new Counter({
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
    admissionDuration: new Histogram({
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
    cacheLookups: new Counter({
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
    syncCalls: new Counter({
      name: 'externalsecret_sync_calls_total',
      help: 'ExternalSecret sync calls (name kept from ESO)',
      labelNames: ['name', 'namespace'] as const,
      ...reg,
    }),
    syncErrors: new Counter({
      name: 'externalsecret_sync_calls_error',
      help: 'ExternalSecret sync errors (name kept from ESO)',
      labelNames: ['name', 'namespace'] as const,
      ...reg,
    }),
    statusCondition: new Gauge({
      name: 'externalsecret_status_condition',
      help: 'ExternalSecret status condition (name kept from ESO)',
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
    refreshTriggerLatency: new Histogram({
      name: 'esw_refresh_trigger_latency_seconds',
      help: 'Time from a push refresh seen by the owner to the Secret synced (written, or found up to date), by source',
      labelNames: ['source'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      ...reg,
    }),
    /** Provider change feeds (docs/push-refresh.md): `feed` is the kind (aws-sqs), never a store. */
    changeFeedEvents: new Counter({
      name: 'esw_change_feed_events_total',
      help: 'Change feed events received by this replica, by feed kind and result (refresh, ignored, unreadable)',
      labelNames: ['feed', 'result'] as const,
      ...reg,
    }),
    changeFeedErrors: new Counter({
      name: 'esw_change_feed_errors_total',
      help: 'Failed change feed calls (receive, delete, opening the feed), by feed kind',
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
 * The registry in Prometheus text format, as `registry.metrics()` writes it, one metric family per
 * turn of the event loop: at 10,000 ExternalSecrets their ESO-compatible series take about 100 ms
 * to serialise, and admission requests waiting on the loop are answered between families instead
 * of after all of them.
 */
export async function metricsText(registry: Registry): Promise<string> {
  const parts: string[] = [];
  for (const metric of registry.getMetricsAsArray()) {
    parts.push(await registry.getSingleMetricAsString(metric.name));
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return `${parts.join('\n\n')}\n`;
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
