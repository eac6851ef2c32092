#!/usr/bin/env node
/**
 * `esw` — serve | validate | render | certs. The only place that listens, reads process.argv or
 * installs signal handlers.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, parseServeConfig, type ServeConfig } from './config.ts';
import { errorMessage } from './errors.ts';
import { createLogger, type Logger } from './observability/logger.ts';
import { createMetrics } from './observability/metrics.ts';
import { createStandaloneRuntime, type Runtime } from './runtime.ts';
import { devCertificateHosts, ensureDevCertificates, writeCertificateFiles } from './server/dev-certs.ts';
import { startServer } from './server/serve.ts';

const USAGE = `Usage: esw <command> [options]

Commands:
  serve      Run the admission webhook (HTTPS) and, with a cluster, the refresher.
             --port 8443 --tls-cert FILE --tls-key FILE --client-ca FILE --kubeconfig FILE
             --stores FILE... --no-refresher --log-level info --cert-mode files|builtin
  validate   FILE...                 Validate ExternalSecret/SecretStore/ClusterSecretStore manifests.
  render     FILE --stores FILE...   Print the Secret a placeholder Secret becomes.
  certs      --out DIR --dns NAME... Write a CA and a serving certificate with those SANs.
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await serve(parseServeConfig(rest));
      case 'validate': {
        const { runValidate } = await import('./cli/validate.ts');
        if (rest.length === 0) return usage('validate needs at least one FILE');
        return await runValidate(rest, (line) => process.stdout.write(`${line}\n`));
      }
      case 'render': {
        const { values, positionals } = parseArgs({
          args: rest,
          options: { stores: { type: 'string', multiple: true } },
          allowPositionals: true,
        });
        const [file, ...moreStores] = positionals;
        const stores = [...(values.stores ?? []), ...moreStores];
        if (!file || stores.length === 0) return usage('render needs FILE and --stores FILE...');
        const { runRender } = await import('./cli/render.ts');
        return await runRender(file, stores, (text) => process.stdout.write(text));
      }
      case 'certs': {
        const { values, positionals } = parseArgs({
          args: rest,
          options: {
            out: { type: 'string' },
            dns: { type: 'string', multiple: true },
            days: { type: 'string' },
          },
          allowPositionals: true,
        });
        const hosts = [...(values.dns ?? []), ...positionals];
        if (!values.out || hosts.length === 0) return usage('certs needs --out DIR and --dns NAME...');
        await writeCertificateFiles(
          values.out,
          hosts,
          values.days ? { validityDays: Number(values.days) } : {},
        );
        process.stdout.write(
          `wrote ${['ca.crt', 'ca.key', 'tls.crt', 'tls.key'].map((f) => join(values.out as string, f)).join(', ')}\n`,
        );
        return 0;
      }
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        return usage(`unknown command "${command}"`);
    }
  } catch (err: unknown) {
    if (err instanceof ConfigError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      return usage(errorMessage(err));
    }
    process.stderr.write(`esw: ${errorMessage(err)}\n`);
    return 1;
  }
}

function usage(problem: string): number {
  process.stderr.write(`esw: ${problem}\n\n${USAGE}`);
  return 2;
}

async function serve(config: ServeConfig): Promise<number> {
  const logger = createLogger({ level: config.logLevel });
  const metrics = createMetrics();
  const runtime = await startRuntime(config, logger, metrics);
  const server = await startServer(runtime, {
    port: config.port,
    host: config.host,
    tls: { certFile: config.tlsCert, keyFile: config.tlsKey, clientCaFile: config.clientCa },
    logger,
    metrics,
    shutdownDelayMs: config.shutdownDelayMs,
  });
  return await new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      void server
        .shutdown(signal)
        .then(() => runtime.close())
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

const DEFAULT_STORES = 'examples/stores.yaml';

/**
 * Cluster mode when a Kubernetes API is configured (--kubeconfig, KUBECONFIG, in-cluster) and no
 * store files are named; otherwise standalone, with the example stores as the embedded default.
 */
async function startRuntime(
  config: ServeConfig,
  logger: Logger,
  metrics: ReturnType<typeof createMetrics>,
): Promise<Runtime> {
  const opts = {
    logger,
    metrics,
    admissionDeadlineMs: config.admissionDeadlineMs,
    cacheTtlMs: config.cacheTtlMs,
  };
  // @kubernetes/client-node alone is ~85 MiB of RSS: load it only when a cluster is configured.
  const clusterConfigured = Boolean(config.kubeconfig || process.env.KUBERNETES_SERVICE_HOST);
  const kubeConfig =
    config.stores.length === 0 && clusterConfigured
      ? (await import('./kube/config.ts')).loadKubeConfig({ kubeconfig: config.kubeconfig })
      : undefined;
  if (kubeConfig) {
    logger.info(
      { server: kubeConfig.getCurrentCluster()?.server, certMode: config.certMode },
      'cluster mode',
    );
    if (config.certMode === 'files') await devCertificatesIfDefault(config, logger);
    const { createClusterRuntime } = await import('./cluster.ts');
    return createClusterRuntime({ ...opts, kubeConfig, config });
  }
  await devCertificatesIfDefault(config, logger);
  const stores =
    config.stores.length > 0 ? config.stores : existsSync(DEFAULT_STORES) ? [DEFAULT_STORES] : [];
  logger.info({ stores }, 'standalone mode: stores from files');
  return createStandaloneRuntime(stores, opts);
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

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`esw: ${errorMessage(err)}\n`);
      process.exitCode = 1;
    },
  );
}
