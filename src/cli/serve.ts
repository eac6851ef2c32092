/**
 * `esw serve`: the webhook server, standalone or in cluster mode (ServeConfig.mode), until
 * SIGTERM or SIGINT. The first log line says which mode, against which API server and namespace.
 */
import { existsSync } from 'node:fs';
import { DEFAULT_STORES, type ServeConfig } from '../config.ts';
import { errorMessage } from '../errors.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { createMetrics, monitorEventLoop } from '../observability/metrics.ts';
import { createStandaloneRuntime, type Runtime } from '../runtime.ts';
import { devCertificateHosts, ensureDevCertificates } from '../server/dev-certs.ts';
import { startServer } from '../server/serve.ts';

export async function serve(config: ServeConfig): Promise<number> {
  const logger = createLogger({ level: config.logLevel });
  const metrics = createMetrics();
  const stopMonitor = monitorEventLoop(metrics);
  const runtime = await startRuntime(config, logger, metrics);
  const server = await startServer(runtime, {
    port: config.port,
    host: config.host,
    tls: { certFile: config.tlsCert, keyFile: config.tlsKey, clientCaFile: config.clientCa },
    logger,
    metrics,
    shutdownDelayMs: config.shutdownDelayMs,
    maxInflightBytes: config.maxInflightBytes,
    refreshPort: config.refreshPort,
  });
  return await new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      void server
        .shutdown(signal)
        .then(() => runtime.close())
        .finally(stopMonitor)
        .then(
          () => resolve(0),
          (err: unknown) => {
            logger.error({ err: errorMessage(err) }, 'shutdown failed');
            resolve(1);
          },
        );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

/**
 * Cluster mode only when asked for (--kubeconfig) or inside a pod, and never with store files;
 * otherwise standalone, with the example stores as the embedded default. The first log line says
 * which, and against what.
 */
const BUFFER_POOL_SIZE = 8 * 1024;

export async function startRuntime(
  config: ServeConfig,
  logger: Logger,
  metrics: ReturnType<typeof createMetrics>,
): Promise<Runtime> {
  // Node 24 cuts small Buffers from 64 KiB slabs: one kept for long pins its whole slab. Every AWS
  // SDK client (one per SecretStore) keeps its JSON serializer's 2 KiB scratch Buffer: 64 KiB per
  // store, 64 MiB of RSS at 1,000 stores (bench/RESULTS.md, Scale). Node's former 8 KiB slabs
  // bound that at 8 KiB a store.
  Buffer.poolSize = BUFFER_POOL_SIZE;
  const opts = {
    logger,
    metrics,
    admissionDeadlineMs: config.admissionDeadlineMs,
    cacheTtlMs: config.cacheTtlMs,
    controllerClass: config.controllerClass,
  };
  if (config.mode === 'cluster') {
    // @kubernetes/client-node alone is ~85 MiB of RSS: loaded only in cluster mode. The file
    // named by --kubeconfig, else the pod's service account; KUBECONFIG is never consulted.
    const { loadKubeConfig } = await import('../kube/config.ts');
    const kubeConfig = config.kubeconfig
      ? loadKubeConfig({ kubeconfig: config.kubeconfig })
      : loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: process.env.KUBERNETES_SERVICE_HOST } });
    if (!kubeConfig) throw new Error('cluster mode without a kubeconfig or an in-cluster service account');
    logger.info(
      {
        mode: 'cluster',
        server: kubeConfig.getCurrentCluster()?.server,
        kubeconfig: config.kubeconfig ?? 'in-cluster',
        namespace: config.namespace,
        certMode: config.certMode,
        refresher: config.refresher,
        host: config.host,
      },
      'cluster mode',
    );
    if (config.certMode === 'files') await devCertificatesIfDefault(config, logger);
    const { createClusterRuntime } = await import('../cluster.ts');
    return createClusterRuntime({ ...opts, kubeConfig, config });
  }
  await devCertificatesIfDefault(config, logger);
  const stores =
    config.stores.length > 0 ? config.stores : existsSync(DEFAULT_STORES) ? [DEFAULT_STORES] : [];
  logger.info({ mode: 'standalone', stores, host: config.host }, 'standalone mode: stores from files');
  // TokenReview and SubjectAccessReview need an API server: nothing to check callers against.
  if (config.refreshEndpoint)
    logger.warn('--refresh-endpoint needs cluster mode: POST /refresh is not served');
  if (config.eventGridEndpoint)
    logger.warn('--event-grid-endpoint needs cluster mode: Event Grid deliveries are not served');
  return createStandaloneRuntime(
    stores,
    config.genericTargetKindsGiven ? { ...opts, genericTargetKinds: config.genericTargetKinds } : opts,
  );
}

async function devCertificatesIfDefault(config: ServeConfig, logger: Logger): Promise<void> {
  if (!config.tlsDefault) return;
  const written = await ensureDevCertificates(
    config.tlsCert,
    config.tlsKey,
    devCertificateHosts(config.webhookService, config.namespace),
  );
  if (written.created) logger.info({ dir: written.dir }, 'created a development CA and serving certificate');
}
