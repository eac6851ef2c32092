/** An in-memory KubeWriter for refresher unit tests: resourceVersions, conflicts, counted writes. */
import type { ConfigMap, ExternalSecret, ExternalSecretStatus, Secret } from '../../src/api/types.ts';
import { ConflictError, type KubeEvent, type KubeWriter } from '../../src/refresher/ports.ts';

export class MemoryKube implements KubeWriter {
  readonly secrets = new Map<string, Secret>();
  readonly configMaps = new Map<string, ConfigMap>();
  readonly statuses = new Map<string, ExternalSecretStatus>();
  readonly events: KubeEvent[] = [];
  readonly writes = { create: 0, replace: 0, delete: 0, status: 0 };
  /** Conflicts to throw on the next replaces (a concurrent writer won). */
  conflictsLeft = 0;
  #rv = 1;

  async getSecret(ns: string, name: string): Promise<Secret | undefined> {
    const s = this.secrets.get(`${ns}/${name}`);
    return s ? structuredClone(s) : undefined;
  }

  async getConfigMap(ns: string, name: string): Promise<ConfigMap | undefined> {
    const c = this.configMaps.get(`${ns}/${name}`);
    return c ? structuredClone(c) : undefined;
  }

  async createSecret(ns: string, secret: Secret): Promise<Secret> {
    const key = `${ns}/${secret.metadata?.name}`;
    if (this.secrets.has(key)) throw new ConflictError(key);
    this.writes.create++;
    const stored = {
      ...structuredClone(secret),
      metadata: { ...secret.metadata, resourceVersion: String(++this.#rv), uid: `uid-${this.#rv}` },
    };
    this.secrets.set(key, stored);
    return structuredClone(stored);
  }

  async replaceSecret(ns: string, secret: Secret): Promise<Secret> {
    const key = `${ns}/${secret.metadata?.name}`;
    const current = this.secrets.get(key);
    if (this.conflictsLeft > 0) {
      this.conflictsLeft--;
      // Somebody else wrote in between: bump the stored version.
      if (current) current.metadata = { ...current.metadata, resourceVersion: String(++this.#rv) };
      throw new ConflictError(key);
    }
    if (!current || current.metadata?.resourceVersion !== secret.metadata?.resourceVersion)
      throw new ConflictError(key);
    this.writes.replace++;
    const stored = {
      ...structuredClone(secret),
      metadata: { ...secret.metadata, resourceVersion: String(++this.#rv) },
    };
    this.secrets.set(key, stored);
    return structuredClone(stored);
  }

  async deleteSecret(ns: string, name: string): Promise<void> {
    this.writes.delete++;
    this.secrets.delete(`${ns}/${name}`);
  }

  async updateExternalSecretStatus(es: ExternalSecret, status: ExternalSecretStatus): Promise<void> {
    this.writes.status++;
    this.statuses.set(`${es.metadata?.namespace}/${es.metadata?.name}`, structuredClone(status));
  }

  async createEvent(event: KubeEvent): Promise<void> {
    this.events.push(event);
  }

  /** Edits a stored Secret by hand (tampering). */
  tamper(ns: string, name: string, data: Record<string, string>): Secret {
    const s = this.secrets.get(`${ns}/${name}`) as Secret;
    s.data = data;
    s.metadata = { ...s.metadata, resourceVersion: String(++this.#rv) };
    return structuredClone(s);
  }

  secretWrites(): number {
    return this.writes.create + this.writes.replace + this.writes.delete;
  }
}
