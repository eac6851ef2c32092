/** The refresher's Kubernetes port on the real API (src/kube/client.ts). */
import type {
  ConfigMap,
  ExternalSecret,
  ExternalSecretStatus,
  KubeObject,
  Secret,
  SecretStore,
} from '../api/types.ts';
import { isConflict, isNotFound, type KubeClient } from '../kube/client.ts';
import { ConflictError, type KubeEvent, type KubeWriter, type TargetMemo } from './ports.ts';
import type { StoreStatusBody, StoreStatusWriter } from './store-status.ts';

export class ApiKubeWriter implements KubeWriter, StoreStatusWriter {
  readonly #client: KubeClient;
  readonly #now: () => number;
  readonly targets?: TargetMemo;

  /** `targets`: the managed-Secret informer's memory of each target (src/refresher/known-targets.ts). */
  constructor(client: KubeClient, now: () => number = Date.now, targets?: TargetMemo) {
    this.#client = client;
    this.#now = now;
    if (targets) this.targets = targets;
  }

  async getSecret(namespace: string, name: string): Promise<Secret | undefined> {
    return (await this.#client.getSecret(namespace, name)) ?? undefined;
  }

  async getConfigMap(namespace: string, name: string): Promise<ConfigMap | undefined> {
    return (await this.#client.getConfigMap(namespace, name)) ?? undefined;
  }

  async createSecret(namespace: string, secret: Secret): Promise<Secret> {
    try {
      return await this.#client.createSecret(namespace, secret);
    } catch (err: unknown) {
      if (isConflict(err)) throw new ConflictError(`Secret ${namespace}/${secret.metadata?.name}`);
      throw err;
    }
  }

  async replaceSecret(namespace: string, secret: Secret): Promise<Secret> {
    const name = secret.metadata?.name ?? '';
    try {
      return await this.#client.replaceSecret(namespace, name, secret);
    } catch (err: unknown) {
      // Deleted since we read it: a lost race like a 409 — re-read (gone) and create it again.
      if (isConflict(err) || isNotFound(err)) throw new ConflictError(`Secret ${namespace}/${name}`);
      throw err;
    }
  }

  async deleteSecret(namespace: string, name: string): Promise<void> {
    await this.#client.deleteSecret(namespace, name);
  }

  async createConfigMap(namespace: string, cm: ConfigMap): Promise<ConfigMap> {
    try {
      return await this.#client.createConfigMap(namespace, cm);
    } catch (err: unknown) {
      if (isConflict(err)) throw new ConflictError(`ConfigMap ${namespace}/${cm.metadata?.name}`);
      throw err;
    }
  }

  async replaceConfigMap(namespace: string, cm: ConfigMap): Promise<ConfigMap> {
    const name = cm.metadata?.name ?? '';
    try {
      return await this.#client.replaceConfigMap(namespace, name, cm);
    } catch (err: unknown) {
      if (isConflict(err) || isNotFound(err)) throw new ConflictError(`ConfigMap ${namespace}/${name}`);
      throw err;
    }
  }

  async deleteConfigMap(namespace: string, name: string): Promise<void> {
    await this.#client.deleteConfigMap(namespace, name);
  }

  async getObject(
    apiVersion: string,
    kind: string,
    namespace: string,
    name: string,
  ): Promise<KubeObject | undefined> {
    return (await this.#client.getObject(apiVersion, kind, namespace, name)) ?? undefined;
  }

  async createObject(namespace: string, obj: KubeObject): Promise<KubeObject> {
    try {
      return await this.#client.createObject(namespace, obj);
    } catch (err: unknown) {
      if (isConflict(err)) throw new ConflictError(`${obj.kind} ${namespace}/${obj.metadata?.name}`);
      throw err;
    }
  }

  async replaceObject(namespace: string, obj: KubeObject): Promise<KubeObject> {
    const name = obj.metadata?.name ?? '';
    try {
      return await this.#client.replaceObject(namespace, obj);
    } catch (err: unknown) {
      if (isConflict(err) || isNotFound(err)) throw new ConflictError(`${obj.kind} ${namespace}/${name}`);
      throw err;
    }
  }

  async deleteObject(apiVersion: string, kind: string, namespace: string, name: string): Promise<void> {
    await this.#client.deleteObject(apiVersion, kind, namespace, name);
  }

  async updateExternalSecretStatus(es: ExternalSecret, status: ExternalSecretStatus): Promise<void> {
    // A merge patch of status alone: no conflict with concurrent spec edits.
    await this.#client.patchExternalSecretStatus(
      es.metadata?.namespace ?? 'default',
      es.metadata?.name ?? '',
      status as Record<string, unknown>,
      es.apiVersion?.split('/')[1] ?? 'v1',
    );
  }

  async patchStoreStatus(store: SecretStore, status: StoreStatusBody): Promise<void> {
    await this.#client.patchStoreStatus(
      store.kind === 'ClusterSecretStore' ? 'ClusterSecretStore' : 'SecretStore',
      store.metadata?.namespace,
      store.metadata?.name ?? '',
      status as Record<string, unknown>,
      store.apiVersion?.split('/')[1] ?? 'v1',
    );
  }

  async createEvent(event: KubeEvent): Promise<void> {
    await this.#client.recordEvent(
      event.involved,
      { type: event.type, reason: event.reason, message: event.message },
      new Date(this.#now()),
    );
  }
}
