import type { ConfigMap, KubeObject, Namespace, Secret, SecretStore, StoreKind } from '../api/types.ts';
import type { SecretReader, StoreRegistry } from './types.ts';

/**
 * The store registry held in memory. The informers (cluster mode) and the `--stores` manifests
 * (standalone mode) both feed it through `upsert` / `remove`.
 */
export class MemoryRegistry implements StoreRegistry, SecretReader {
  readonly #stores = new Map<string, SecretStore>();
  readonly #namespaces = new Map<string, Namespace>();
  readonly #secrets = new Map<string, Secret>();
  readonly #configMaps = new Map<string, ConfigMap>();

  getStore(kind: StoreKind, name: string, namespace: string | undefined): SecretStore | undefined {
    return this.#stores.get(storeKey(kind, name, kind === 'ClusterSecretStore' ? undefined : namespace));
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
        this.#stores.set(
          storeKey('SecretStore', name, obj.metadata?.namespace ?? 'default'),
          obj as SecretStore,
        );
        break;
      case 'ClusterSecretStore':
        this.#stores.set(storeKey('ClusterSecretStore', name, undefined), obj as SecretStore);
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
      case 'SecretStore':
        this.#stores.delete(storeKey('SecretStore', name, obj.metadata?.namespace ?? 'default'));
        break;
      case 'ClusterSecretStore':
        this.#stores.delete(storeKey('ClusterSecretStore', name, undefined));
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

  stores(): SecretStore[] {
    return [...this.#stores.values()];
  }
}

function storeKey(kind: StoreKind, name: string, namespace: string | undefined): string {
  return `${kind}/${namespace ?? ''}/${name}`;
}
