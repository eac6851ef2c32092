/**
 * Shared set-up for the resolver tests: a store registry, a capturing logger, and a counting
 * provider whose calls, batches, delays and failures the test controls.
 */
import type { FindRef, KubeObject, SecretStore, StoreKind } from '../../src/api/types.ts';
import { createLogger, type Logger } from '../../src/observability/logger.ts';
import { createMetrics, type Metrics } from '../../src/observability/metrics.ts';
import { fakeProvider } from '../../src/providers/fake/index.ts';
import {
  type CallOptions,
  type ClientContext,
  type Provider,
  type ProviderClient,
  ProviderError,
  type RemoteKey,
} from '../../src/providers/types.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { StoreResolver, type StoreResolverDeps } from '../../src/resolve/resolver.ts';

export interface CountingSpec {
  /** Distinguishes store versions in tests. */
  tag?: string;
  /** Credentials to read through the context, as a real provider would. */
  secretRef?: { name?: string; key?: string; namespace?: string };
  /** A ConfigMap key read as a CA would be (readConfigMapKey). */
  configMapRef?: { name?: string; key?: string; namespace?: string };
}

export interface Calls {
  newClient: number;
  close: number;
  getSecret: number;
  getSecrets: number;
  findSecrets: number;
  getMetadata: number;
  batchSizes: number[];
  keys: string[];
  /** Credentials read by newClient (tests assert on them, never logs). */
  credentials: string[];
  /** Signals handed to calls, to check deadlines reach the provider. */
  signals: AbortSignal[];
}

/** A provider answering from `values`; a ProviderError value is thrown for that key. */
export class CountingProvider implements Provider<CountingSpec> {
  readonly name: string;
  /** A value, or the error to throw for that key (a ProviderError, or any Error for bugs). */
  readonly values = new Map<string, Uint8Array | Error>();
  readonly calls: Calls = {
    newClient: 0,
    close: 0,
    getSecret: 0,
    getSecrets: 0,
    findSecrets: 0,
    getMetadata: 0,
    batchSizes: [],
    keys: [],
    credentials: [],
    signals: [],
  };
  batching: boolean;
  maxBatch: number;
  /** Metadata documents (metadataPolicy Fetch); the client has getMetadata only when set. */
  metadata: Map<string, Uint8Array> | undefined;
  /** While set, calls wait for it (or for their signal) before answering. */
  gate: Promise<void> | undefined;
  /** Calls never answer; only their signal ends them. */
  hang = false;
  /** Calls ignore their signal (a provider that does not honour it). */
  ignoreSignal = false;
  /** Thrown by getSecrets as a whole. */
  batchFailure: unknown;
  newClientFailure: unknown;

  constructor(opts: { name?: string; batching?: boolean; maxBatch?: number } = {}) {
    this.name = opts.name ?? 'counting';
    this.batching = opts.batching ?? false;
    this.maxBatch = opts.maxBatch ?? 20;
  }

  set(key: string, value: string | Uint8Array | Error): void {
    this.values.set(key, typeof value === 'string' ? new TextEncoder().encode(value) : value);
  }

  validateStore() {
    return [];
  }

  async newClient(spec: CountingSpec, ctx: ClientContext): Promise<ProviderClient> {
    this.calls.newClient++;
    if (this.newClientFailure) throw this.newClientFailure;
    if (spec.secretRef)
      this.calls.credentials.push(await ctx.readSecretKey(spec.secretRef, 'spec.secretRef'));
    if (spec.configMapRef && ctx.readConfigMapKey)
      this.calls.credentials.push(await ctx.readConfigMapKey(spec.configMapRef, 'spec.configMapRef'));
    const p = this;
    const client: ProviderClient = {
      async getSecret(ref: RemoteKey, opts: CallOptions) {
        p.calls.getSecret++;
        p.calls.keys.push(ref.version ? `${ref.key}@${ref.version}` : ref.key);
        p.calls.signals.push(opts.signal);
        await p.#wait(opts.signal);
        const v = p.values.get(ref.version ? `${ref.key}@${ref.version}` : ref.key);
        if (v === undefined) throw new ProviderError('NotFound', `secret "${ref.key}" does not exist`);
        if (v instanceof Error) throw v;
        return v;
      },
      async findSecrets(find: FindRef, opts: CallOptions) {
        p.calls.findSecrets++;
        await p.#wait(opts.signal);
        const re = new RegExp(find.name?.regexp ?? '.*');
        const out = new Map<string, Uint8Array>();
        for (const [k, v] of p.values) if (re.test(k) && v instanceof Uint8Array) out.set(k, v);
        return out;
      },
      async close() {
        p.calls.close++;
      },
    };
    if (this.metadata) {
      const docs = this.metadata;
      Object.assign(client, {
        async getMetadata(ref: RemoteKey, opts: CallOptions) {
          p.calls.getMetadata++;
          await p.#wait(opts.signal);
          const doc = docs.get(ref.key);
          if (!doc) throw new ProviderError('NotFound', `secret "${ref.key}" does not exist`);
          return doc;
        },
      });
    }
    if (this.batching) {
      Object.assign(client, {
        maxBatch: this.maxBatch,
        async getSecrets(refs: RemoteKey[], opts: CallOptions) {
          p.calls.getSecrets++;
          p.calls.batchSizes.push(refs.length);
          p.calls.signals.push(opts.signal);
          await p.#wait(opts.signal);
          if (p.batchFailure) throw p.batchFailure;
          return refs.map((r) => {
            const v = p.values.get(r.key);
            return v ?? new ProviderError('NotFound', `secret "${r.key}" does not exist`);
          });
        },
      });
    }
    return client;
  }

  async #wait(signal: AbortSignal): Promise<void> {
    const abortable = (inner: Promise<void>) =>
      this.ignoreSignal
        ? inner
        : new Promise<void>((resolve, reject) => {
            if (signal.aborted) reject(new ProviderError('Unavailable', 'aborted'));
            signal.addEventListener('abort', () => reject(new ProviderError('Unavailable', 'aborted')), {
              once: true,
            });
            inner.then(resolve, reject);
          });
    if (this.hang) await abortable(new Promise<void>(() => {}));
    else if (this.gate) await abortable(this.gate);
  }
}

/** A promise with its resolver, to hold provider calls open. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => {
    open = r;
  });
  return { promise, open };
}

export function store(
  kind: StoreKind,
  name: string,
  namespace: string | undefined,
  provider: Record<string, unknown>,
  extra: { conditions?: unknown[]; uid?: string; generation?: number } = {},
): SecretStore {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind,
    metadata: {
      name,
      ...(namespace ? { namespace } : {}),
      uid: extra.uid ?? `uid-${name}`,
      generation: extra.generation ?? 1,
    },
    spec: { provider, ...(extra.conditions ? { conditions: extra.conditions as never } : {}) },
  };
}

/**
 * The AWS Secrets Manager ClusterSecretStore `aws` of the AWS wire-fake tests (us-east-1), with its
 * static credentials in the Secret `ops/aws-creds`, both put in the registry.
 */
export function addAwsClusterStore(registry: MemoryRegistry): void {
  registry.upsert(secret('ops', 'aws-creds', { id: 'AKIDEXAMPLE', key: 'secret-key-example' }));
  registry.upsert(
    store('ClusterSecretStore', 'aws', undefined, {
      aws: {
        service: 'SecretsManager',
        region: 'us-east-1',
        auth: {
          secretRef: {
            accessKeyIDSecretRef: { name: 'aws-creds', key: 'id', namespace: 'ops' },
            secretAccessKeySecretRef: { name: 'aws-creds', key: 'key', namespace: 'ops' },
          },
        },
      },
    }),
  );
}

export function namespace(name: string, labels: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}

export function secret(ns: string, name: string, data: Record<string, string>): KubeObject {
  const encoded = Object.fromEntries(
    Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  );
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns }, data: encoded } as KubeObject;
}

export interface Harness {
  resolver: StoreResolver;
  registry: MemoryRegistry;
  provider: CountingProvider;
  metrics: Metrics;
  logs: string[];
  logger: Logger;
  clock: { now: number };
}

/** A resolver over a MemoryRegistry with the counting and fake providers, logging at debug. */
export function harness(
  t: { teardown: (fn: () => unknown) => void },
  opts: Partial<StoreResolverDeps> & { batching?: boolean; maxBatch?: number } = {},
): Harness {
  const registry = new MemoryRegistry();
  const provider = new CountingProvider({ batching: opts.batching ?? false, maxBatch: opts.maxBatch ?? 20 });
  const logs: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (s: string) => logs.push(s) } });
  const metrics = createMetrics();
  const clock = { now: 1_000_000 };
  const providers = new Map<string, Provider>([
    [provider.name, provider as Provider],
    ['fake', fakeProvider as Provider],
  ]);
  const resolver = new StoreResolver({
    registry,
    secrets: registry,
    providers,
    logger,
    metrics,
    now: () => clock.now,
    ...opts,
  });
  t.teardown(() => resolver.close());
  return { resolver, registry, provider, metrics, logs, logger, clock };
}

/** The value of a counter with these labels, 0 when never incremented. */
export async function counterValue(
  metrics: Metrics,
  name: 'providerCalls' | 'cacheLookups',
  labels: Record<string, string>,
): Promise<number> {
  const got = await metrics[name].get();
  const match = got.values.find((v) => {
    const have = v.labels as Record<string, string | number | undefined>;
    return Object.entries(labels).every(([k, l]) => have[k] === l);
  });
  return match?.value ?? 0;
}
