/**
 * Credential Secrets for the resolver, read from the API on demand (the informers watch only
 * the Secrets this project manages, not every Secret in the cluster). A short cache keeps a
 * burst of client creations to one GET; a client is rebuilt when a Secret it read changes.
 */
import type { Secret } from '../api/types.ts';
import type { SecretReader } from '../resolve/types.ts';
import type { KubeClient } from './client.ts';

export class ApiSecretReader implements SecretReader {
  readonly #client: Pick<KubeClient, 'getSecret'>;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, { at: number; value: Promise<Secret | undefined> }>();

  constructor(client: Pick<KubeClient, 'getSecret'>, opts: { ttlMs?: number; now?: () => number } = {}) {
    this.#client = client;
    this.#ttlMs = opts.ttlMs ?? 10_000;
    this.#now = opts.now ?? Date.now;
  }

  readSecret(namespace: string, name: string, opts: { fresh?: boolean } = {}): Promise<Secret | undefined> {
    const key = `${namespace}/${name}`;
    const hit = this.#cache.get(key);
    if (!opts.fresh && hit && this.#now() - hit.at < this.#ttlMs) return hit.value;
    const value = this.#client.getSecret(namespace, name).then((s) => s ?? undefined);
    this.#cache.set(key, { at: this.#now(), value });
    // A failed read is not cached.
    value.catch(() => this.#cache.delete(key));
    return value;
  }
}
