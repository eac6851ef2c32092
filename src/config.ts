/**
 * Flags and environment -> one typed Config. Flags win over environment variables, which win
 * over defaults. Every flag has an env equivalent so the Deployment can set them either way.
 */
import { parseArgs } from 'node:util';
import { parseDuration } from './api/duration.ts';

export const DEFAULT_CERT_DIR = 'certs';

export interface ServeConfig {
  port: number;
  host: string;
  tlsCert: string;
  tlsKey: string;
  /** True when neither flag nor env named the certificate files: dev certs are created on first start. */
  tlsDefault: boolean;
  clientCa: string | undefined;
  kubeconfig: string | undefined;
  stores: string[];
  refresher: boolean;
  logLevel: string;
  certMode: 'files' | 'builtin';
  certSecret: string;
  webhookService: string;
  namespace: string;
  podName: string;
  leaseName: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** Deadline for one admission's provider lookups; below the webhook's timeoutSeconds (10 s). */
  admissionDeadlineMs: number;
  cacheTtlMs: number;
  /** How often cluster mode re-reads the credential Secrets of live provider clients; 0: never. */
  credentialsRecheckMs: number;
  /** Wait this long after SIGTERM (readiness already failing) before closing the listener. */
  shutdownDelayMs: number;
  mutatingWebhookName: string;
  validatingWebhookName: string;
}

const SERVE_OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'client-ca': { type: 'string' },
  kubeconfig: { type: 'string' },
  stores: { type: 'string', multiple: true },
  'no-refresher': { type: 'boolean' },
  'log-level': { type: 'string' },
  'cert-mode': { type: 'string' },
  'cert-secret': { type: 'string' },
  'webhook-service': { type: 'string' },
  namespace: { type: 'string' },
  'lease-name': { type: 'string' },
  'lease-duration': { type: 'string' },
  'renew-deadline': { type: 'string' },
  'retry-period': { type: 'string' },
  'admission-deadline': { type: 'string' },
  'cache-ttl': { type: 'string' },
  'credentials-recheck': { type: 'string' },
  'shutdown-delay': { type: 'string' },
} as const;

export class ConfigError extends Error {}

export function parseServeConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): ServeConfig {
  const { values, positionals } = parseArgs({
    args: argv,
    options: SERVE_OPTIONS,
    allowPositionals: true,
    strict: true,
  });
  // `--stores a.yaml b.yaml` reads naturally; positionals after it are more store files.
  const stores = [...(values.stores ?? []), ...positionals];
  const envStores = env.ESW_STORES ? env.ESW_STORES.split(',').filter(Boolean) : [];
  const tlsCert = values['tls-cert'] ?? env.ESW_TLS_CERT;
  const tlsKey = values['tls-key'] ?? env.ESW_TLS_KEY;
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new ConfigError('--tls-cert and --tls-key must be given together');
  }
  const certMode = values['cert-mode'] ?? env.ESW_CERT_MODE ?? 'files';
  if (certMode !== 'files' && certMode !== 'builtin') {
    throw new ConfigError(`--cert-mode must be "files" or "builtin", got "${certMode}"`);
  }
  return {
    port: int('--port', values.port ?? env.ESW_PORT, 8443),
    host: values.host ?? env.ESW_HOST ?? '0.0.0.0',
    tlsCert: tlsCert ?? `${DEFAULT_CERT_DIR}/tls.crt`,
    tlsKey: tlsKey ?? `${DEFAULT_CERT_DIR}/tls.key`,
    tlsDefault: tlsCert === undefined,
    clientCa: values['client-ca'] ?? env.ESW_CLIENT_CA,
    kubeconfig: values.kubeconfig ?? env.KUBECONFIG,
    stores: stores.length > 0 ? stores : envStores,
    refresher: !(values['no-refresher'] ?? bool(env.ESW_NO_REFRESHER)),
    logLevel: values['log-level'] ?? env.ESW_LOG_LEVEL ?? 'info',
    certMode,
    certSecret: values['cert-secret'] ?? env.ESW_CERT_SECRET ?? 'external-secrets-webhook-tls',
    webhookService: values['webhook-service'] ?? env.ESW_WEBHOOK_SERVICE ?? 'external-secrets-webhook',
    namespace: values.namespace ?? env.POD_NAMESPACE ?? 'external-secrets-webhook',
    podName: env.POD_NAME ?? env.HOSTNAME ?? `esw-${process.pid}`,
    leaseName: values['lease-name'] ?? env.ESW_LEASE_NAME ?? 'external-secrets-webhook-refresher',
    leaseDurationMs: ms('--lease-duration', values['lease-duration'] ?? env.ESW_LEASE_DURATION, 15_000),
    renewDeadlineMs: ms('--renew-deadline', values['renew-deadline'] ?? env.ESW_RENEW_DEADLINE, 10_000),
    retryPeriodMs: ms('--retry-period', values['retry-period'] ?? env.ESW_RETRY_PERIOD, 2_000),
    admissionDeadlineMs: ms(
      '--admission-deadline',
      values['admission-deadline'] ?? env.ESW_ADMISSION_DEADLINE,
      8_000,
    ),
    cacheTtlMs: ms('--cache-ttl', values['cache-ttl'] ?? env.ESW_CACHE_TTL, 30_000),
    credentialsRecheckMs: ms(
      '--credentials-recheck',
      values['credentials-recheck'] ?? env.ESW_CREDENTIALS_RECHECK,
      60_000,
    ),
    shutdownDelayMs: ms('--shutdown-delay', values['shutdown-delay'] ?? env.ESW_SHUTDOWN_DELAY, 0),
    mutatingWebhookName: env.ESW_MUTATING_WEBHOOK ?? 'external-secrets-webhook',
    validatingWebhookName: env.ESW_VALIDATING_WEBHOOK ?? 'external-secrets-webhook',
  };
}

function int(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new ConfigError(`${flag} must be a port number, got "${raw}"`);
  return n;
}

/** Durations are Go-style ("15s", "500ms") like everything else users write for this project. */
function ms(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = parseDuration(raw.trim());
  if (value === undefined || value < 0)
    throw new ConfigError(`${flag} must be a duration like "15s", got "${raw}"`);
  return value;
}

function bool(raw: string | undefined): boolean {
  return raw !== undefined && ['1', 'true', 'yes'].includes(raw.toLowerCase());
}
