import type { ConfigMap, KubeObject, Namespace, Secret, SecretStore, StoreKind } from '../api/types.ts';
import type { SecretReader, StoreRegistry } from './types.ts';

/**
 * The store registry held in memory. The informers (cluster mode) and the `--stores` manifests
 * (standalone mode) both feed it through `upsert` / `remove`.
 */
export class MemoryRegistry implements StoreRegistry, SecretReader {
  /**
   * SecretStores by namespace, then name; ClusterSecretStores by name. Nested maps: a lookup
   * builds no key string (admission looks stores up several times per request).
   */
  readonly #stores = new Map<string, Map<string, SecretStore>>();
  readonly #clusterStores = new Map<string, SecretStore>();
  readonly #namespaces = new Map<string, Namespace>();
  readonly #secrets = new Map<string, Secret>();
  readonly #configMaps = new Map<string, ConfigMap>();

  getStore(kind: StoreKind, name: string, namespace: string | undefined): SecretStore | undefined {
    if (kind === 'ClusterSecretStore') return this.#clusterStores.get(name);
    return kind === 'SecretStore' ? this.#stores.get(namespace ?? '')?.get(name) : undefined;
  }

  getNamespace(name: string): Namespace | undefined {
    return this.#namespaces.get(name);
  }

  async readSecret(namespace: string, name: string): Promise<Secret | undefined> {
    return this.#secrets.get(`${namespace}/${name}`);
  }

  async readConfigMap(namespace: string, name: string): Promise<ConfigMap | undefined> {
    return this.#configMaps.get(`${namespace}/${name}`);
  }

  /**
   * Adds or replaces a SecretStore, ClusterSecretStore, Namespace, Secret or ConfigMap (a CA of
   * a Vault store); ignores other kinds.
   */
  upsert(obj: KubeObject): void {
    const name = obj.metadata?.name;
    if (!name) return;
    switch (obj.kind) {
      case 'SecretStore':
        this.#namespaceStores(obj.metadata?.namespace ?? 'default').set(name, obj as SecretStore);
        break;
      case 'ClusterSecretStore':
        this.#clusterStores.set(name, obj as SecretStore);
        break;
      case 'Namespace':
        this.#namespaces.set(name, obj as Namespace);
        break;
      case 'Secret':
        this.#secrets.set(`${obj.metadata?.namespace ?? 'default'}/${name}`, obj as Secret);
        break;
      case 'ConfigMap':
        this.#configMaps.set(`${obj.metadata?.namespace ?? 'default'}/${name}`, obj as ConfigMap);
        break;
    }
  }

  remove(obj: KubeObject): void {
    const name = obj.metadata?.name;
    if (!name) return;
    switch (obj.kind) {
      case 'SecretStore': {
        const namespace = obj.metadata?.namespace ?? 'default';
        const stores = this.#stores.get(namespace);
        stores?.delete(name);
        // A namespace's map goes with its last store: namespaces come and go.
        if (stores?.size === 0) this.#stores.delete(namespace);
        break;
      }
      case 'ClusterSecretStore':
        this.#clusterStores.delete(name);
        break;
      case 'Namespace':
        this.#namespaces.delete(name);
        break;
      case 'Secret':
        this.#secrets.delete(`${obj.metadata?.namespace ?? 'default'}/${name}`);
        break;
      case 'ConfigMap':
        this.#configMaps.delete(`${obj.metadata?.namespace ?? 'default'}/${name}`);
        break;
    }
  }

  #namespaceStores(namespace: string): Map<string, SecretStore> {
    let stores = this.#stores.get(namespace);
    if (!stores) {
      stores = new Map();
      this.#stores.set(namespace, stores);
    }
    return stores;
  }
}
