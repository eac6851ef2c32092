/**
 * Credential Secrets for the resolver, read from the API on demand (the informers watch only
 * the Secrets this project manages, not every Secret in the cluster). A short cache keeps a
 * burst of client creations to one GET; a client is rebuilt when a Secret it read changes.
 * CA ConfigMaps (Vault `caProvider` of type ConfigMap) are read the same way.
 */
import type { ConfigMap, Secret } from '../api/types.ts';
import type { SecretReader } from '../resolve/types.ts';
import type { KubeClient } from './client.ts';

export class ApiSecretReader implements SecretReader {
  readonly #client: Pick<KubeClient, 'getSecret'> & Partial<Pick<KubeClient, 'getConfigMap'>>;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, { at: number; value: Promise<Secret | ConfigMap | undefined> }>();

  constructor(
    client: Pick<KubeClient, 'getSecret'> & Partial<Pick<KubeClient, 'getConfigMap'>>,
    opts: { ttlMs?: number; now?: () => number } = {},
  ) {
    this.#client = client;
    this.#ttlMs = opts.ttlMs ?? 10_000;
    this.#now = opts.now ?? Date.now;
  }

  readSecret(namespace: string, name: string, opts: { fresh?: boolean } = {}): Promise<Secret | undefined> {
    return this.#read(`Secret/${namespace}/${name}`, opts, () =>
      this.#client.getSecret(namespace, name),
    ) as Promise<Secret | undefined>;
  }

  forget(namespace: string, name: string): void {
    this.#cache.delete(`Secret/${namespace}/${name}`);
  }

  readConfigMap(
    namespace: string,
    name: string,
    opts: { fresh?: boolean } = {},
  ): Promise<ConfigMap | undefined> {
    const get = this.#client.getConfigMap;
    if (!get) return Promise.reject(new Error('this client cannot read ConfigMaps'));
    return this.#read(`ConfigMap/${namespace}/${name}`, opts, () =>
      get.call(this.#client, namespace, name),
    ) as Promise<ConfigMap | undefined>;
  }

  #read(
    key: string,
    opts: { fresh?: boolean },
    get: () => Promise<Secret | ConfigMap | null>,
  ): Promise<Secret | ConfigMap | undefined> {
    const hit = this.#cache.get(key);
    if (!opts.fresh && hit && this.#now() - hit.at < this.#ttlMs) return hit.value;
    const value = get().then((s) => s ?? undefined);
    this.#cache.set(key, { at: this.#now(), value });
    // A failed read is not cached.
    value.catch(() => this.#cache.delete(key));
    return value;
  }
}
