/**
 * Cluster-mode replicas for the end-to-end and reliability tests: the API-server double (with
 * the webhook configurations of deploy/, caBundle filled in), the AWS fake, and any number of
 * replicas, each a createClusterRuntime behind a real HTTPS server, with its own capturing logger
 * and metrics. Everything listens on 127.0.0.1 and is closed in teardown.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { parseAllDocuments } from 'yaml';
import type { ExternalSecret, KubeObject } from '../src/api/types.ts';
import { type ClusterRuntime, createClusterRuntime } from '../src/cluster.ts';
import { parseServeConfig } from '../src/config.ts';
import { createLogger } from '../src/observability/logger.ts';
import { createMetrics, type Metrics } from '../src/observability/metrics.ts';
import type { EndpointOverrides } from '../src/providers/types.ts';
import { createCertificates, serviceDnsNames } from '../src/server/certs.ts';
import { type RunningServer, startServer } from '../src/server/serve.ts';
import { AwsSecretsManagerFake } from './fakes/aws-secrets-manager.ts';
import { KubeApiServer, type KubeApiServerOptions } from './fakes/kube-apiserver/index.ts';
import { request } from './helpers/https.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

export const NS = 'external-secrets-webhook';
const SA_USER = `system:serviceaccount:${NS}:external-secrets-webhook`;
const ROOT = join(import.meta.dirname, '..');

export const b64 = (s: string) => Buffer.from(s).toString('base64');
export const unb64 = (s: unknown) => Buffer.from(String(s ?? ''), 'base64').toString('utf8');

/**
 * Polls `fn` every 25 ms until it returns something truthy; throws after `timeoutMs`. The bound
 * only ends a broken run: it is far above any real wait, so a loaded machine is slower, never failed.
 */
export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface Replica {
  podName: string;
  runtime: ClusterRuntime;
  server: RunningServer;
  lines: string[];
  metrics: Metrics;
  /** Closes server and runtime (idempotent): the replica is gone. */
  kill: () => Promise<void>;
}

export interface ReplicaOptions {
  cacheTtlMs?: number;
  /** More flags for `esw serve` (after the lease flags). */
  args?: string[];
  /** Endpoint overrides besides the AWS fake's. */
  endpoints?: EndpointOverrides;
}

export interface Cluster {
  api: KubeApiServer;
  aws: AwsSecretsManagerFake;
  dir: string;
  caCert: string;
  startReplica: (podName: string, leaseArgs?: string[], opts?: ReplicaOptions) => Promise<Replica>;
}

/** `storeName`: the AWS SecretStore's name in `default` (the introduction calls it aws-secrets-manager-store). */
export async function startCluster(
  t: Test,
  opts: { storeName?: string; api?: Pick<KubeApiServerOptions, 'users' | 'groups' | 'authorize'> } = {},
): Promise<Cluster> {
  const dir = await mkdtemp(join(tmpdir(), 'esw-reliability-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const certs = await createCertificates({
    hosts: [...serviceDnsNames('external-secrets-webhook', NS), '127.0.0.1'],
  });
  await writeFile(join(dir, 'tls.crt'), certs.cert);
  await writeFile(join(dir, 'tls.key'), certs.key);

  const aws = await AwsSecretsManagerFake.start();
  t.teardown(() => aws.close());

  const ports: number[] = [];
  const api = await KubeApiServer.start({
    ...opts.api,
    users: { 'refresher-token': SA_USER, 'admin-token': 'kubernetes-admin', ...opts.api?.users },
    // Any live replica serves the webhook Service.
    serviceResolver: () => `https://127.0.0.1:${ports[ports.length - 1] ?? 0}`,
    // Not a timeout test: a loaded machine (provider SDKs load on first use) is slower, not failed.
    webhookTimeoutMs: 120_000,
  });
  t.teardown(() => api.close());
  for (const ns of ['default', NS, 'kube-system']) {
    api.put({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns, labels: { 'kubernetes.io/metadata.name': ns } },
    });
  }
  const rendered = parseAllDocuments(await readFile(join(ROOT, 'deploy/webhook.yaml'), 'utf8')).map((d) =>
    d.toJS(),
  );
  const hooks = rendered.filter((o) => /WebhookConfiguration$/.test(o?.kind ?? ''));
  for (const h of hooks) for (const w of h.webhooks) w.clientConfig.caBundle = b64(certs.caCert);
  api.setWebhooks(hooks);

  api.put({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'aws-credentials', namespace: 'default' },
    data: { 'access-key': b64('AKIDEXAMPLE'), 'secret-access-key': b64('wJalrXUtnFEMI') },
  });
  api.put({
    apiVersion: 'external-secrets.io/v1',
    kind: 'SecretStore',
    metadata: { name: opts.storeName ?? 'aws-store', namespace: 'default' },
    spec: {
      provider: {
        aws: {
          service: 'SecretsManager',
          region: 'us-east-1',
          auth: {
            secretRef: {
              accessKeyIDSecretRef: { name: 'aws-credentials', key: 'access-key' },
              secretAccessKeySecretRef: { name: 'aws-credentials', key: 'secret-access-key' },
            },
          },
        },
      },
    },
  });

  const startReplica = async (
    podName: string,
    leaseArgs = ['--lease-duration', '3s', '--renew-deadline', '2s', '--retry-period', '500ms'],
    replicaOpts: ReplicaOptions = {},
  ): Promise<Replica> => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', destination: { write: (l: string) => lines.push(l) } });
    const config = parseServeConfig(
      [
        '--tls-cert',
        join(dir, 'tls.crt'),
        '--tls-key',
        join(dir, 'tls.key'),
        ...leaseArgs,
        ...(replicaOpts.args ?? []),
      ],
      { POD_NAME: podName, POD_NAMESPACE: NS },
    );
    const metrics = createMetrics();
    const runtime = await createClusterRuntime({
      kubeConfig: api.kubeConfig({ token: 'refresher-token' }),
      config,
      logger,
      metrics,
      admissionDeadlineMs: 60_000,
      cacheTtlMs: replicaOpts.cacheTtlMs ?? 0,
      endpoints: { aws: aws.endpoint, ...replicaOpts.endpoints },
    });
    const server = await startServer(runtime, {
      port: 0,
      host: '127.0.0.1',
      tls: { certFile: config.tlsCert, keyFile: config.tlsKey },
      logger,
      metrics,
      certPollMs: 60_000,
      refreshPort: 0,
    });
    ports.push(server.port);
    let killed: Promise<void> | undefined;
    const kill = () => {
      killed ??= (async () => {
        const i = ports.indexOf(server.port);
        if (i >= 0) ports.splice(i, 1);
        await server.shutdown('test');
        await runtime.close();
      })();
      return killed;
    };
    t.teardown(kill);
    return { podName, runtime, server, lines, metrics, kill };
  };
  return { api, aws, dir, caCert: certs.caCert, startReplica };
}

/** An ExternalSecret reading username and password of `key` from the AWS store. */
export function externalSecret(name: string, key: string, refreshInterval = '1s'): ExternalSecret {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name, namespace: 'default' },
    spec: {
      refreshInterval,
      secretStoreRef: { name: 'aws-store', kind: 'SecretStore' },
      target: { name: `${name}-target`, creationPolicy: 'Owner' },
      data: [
        { secretKey: 'username', remoteRef: { key, property: 'username' } },
        { secretKey: 'password', remoteRef: { key, property: 'password' } },
      ],
    },
  };
}

export interface StoreRef {
  name: string;
  kind: 'SecretStore' | 'ClusterSecretStore';
}

/** startCluster's AWS SecretStore in `default`, under its default name. */
export const AWS_STORE: StoreRef = { name: 'aws-store', kind: 'SecretStore' };

/** An ExternalSecret whose target `<name>-target` holds `password`, read from `remoteRef`. */
export function passwordExternalSecret(
  name: string,
  namespace: string,
  store: StoreRef,
  remoteRef: { key: string; property?: string },
  refreshInterval = '1h',
): KubeObject {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name, namespace },
    spec: {
      refreshInterval,
      secretStoreRef: store,
      target: { name: `${name}-target` },
      data: [{ secretKey: 'password', remoteRef }],
    },
  } as KubeObject;
}

/** The decoded `password` of a Secret, or undefined while it has none. */
export function password(api: KubeApiServer, namespace: string, name: string): string | undefined {
  const s = api.get('secrets', namespace, name) as { data?: Record<string, string> } | undefined;
  return s?.data?.password === undefined ? undefined : unb64(s.data.password);
}

/** The target's decoded data, or undefined while it does not exist. */
export function targetData(api: KubeApiServer, name: string): Record<string, string> | undefined {
  const s = api.get('secrets', 'default', `${name}-target`) as { data?: Record<string, string> } | undefined;
  if (!s) return undefined;
  return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, unb64(v)]));
}

/** Where a placeholder Secret reads its values: a store, and the refresh interval annotation. */
export interface PlaceholderSource {
  store: string;
  storeKind?: 'SecretStore' | 'ClusterSecretStore';
  refreshInterval?: string;
}

/**
 * Applies a placeholder Secret through the API-server double (so through the admission webhook, as
 * kubectl would) whose `password` is `${ref:REF}`; resolves to the HTTP answer.
 */
export function createPlaceholder(
  api: KubeApiServer,
  namespace: string,
  name: string,
  ref: string,
  source: PlaceholderSource,
): Promise<{ status: number }> {
  const annotations: Record<string, string> = {
    'esw.io/store': source.store,
    'esw.io/store-kind': source.storeKind ?? 'ClusterSecretStore',
  };
  if (source.refreshInterval !== undefined) annotations['esw.io/refresh-interval'] = source.refreshInterval;
  return request(
    `${api.url}/api/v1/namespaces/${namespace}/secrets`,
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace, labels: { 'esw.io/inject': 'true' }, annotations },
      stringData: { password: `\${ref:${ref}}` },
    },
    { ca: api.caPem, headers: { authorization: 'Bearer admin-token' } },
  );
}
