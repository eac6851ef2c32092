/**
 * What the refresher needs from Kubernetes, as a narrow port: the adapter over
 * @kubernetes/client-node is src/refresher/kube-writer.ts; tests use an in-memory one.
 */
import type { ConfigMap, ExternalSecret, ExternalSecretStatus, KubeObject, Secret } from '../api/types.ts';
import { ownWords } from '../observability/sanitize.ts';

/** A write lost an optimistic-concurrency race (409): re-read and recompute. */
export class ConflictError extends Error {
  constructor(what: string) {
    super(`conflict writing ${what}`);
    this.name = 'ConflictError';
  }
}
ownWords(ConflictError);

export interface KubeEvent {
  involved: KubeObject;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface KubeWriter {
  getSecret(namespace: string, name: string): Promise<Secret | undefined>;
  /** For `templateFrom[].configMap`: read, never written. */
  getConfigMap(namespace: string, name: string): Promise<ConfigMap | undefined>;
  /** Throws ConflictError when it already exists. */
  createSecret(namespace: string, secret: Secret): Promise<Secret>;
  /** Conditional on `metadata.resourceVersion`; throws ConflictError when it is stale. */
  replaceSecret(namespace: string, secret: Secret): Promise<Secret>;
  deleteSecret(namespace: string, name: string): Promise<void>;
  /**
   * Generic ConfigMap targets (`spec.target.manifest`); optional: a writer without them refuses
   * such targets. Same contracts as the Secret methods (ConflictError on a lost race).
   */
  createConfigMap?(namespace: string, cm: ConfigMap): Promise<ConfigMap>;
  replaceConfigMap?(namespace: string, cm: ConfigMap): Promise<ConfigMap>;
  deleteConfigMap?(namespace: string, name: string): Promise<void>;
  /**
   * Generic custom-resource targets, addressed by `apiVersion` and `kind` (the writer finds the
   * resource). Optional, as the ConfigMap methods.
   */
  getObject?(
    apiVersion: string,
    kind: string,
    namespace: string,
    name: string,
  ): Promise<KubeObject | undefined>;
  createObject?(namespace: string, obj: KubeObject): Promise<KubeObject>;
  replaceObject?(namespace: string, obj: KubeObject): Promise<KubeObject>;
  deleteObject?(apiVersion: string, kind: string, namespace: string, name: string): Promise<void>;
  updateExternalSecretStatus(es: ExternalSecret, status: ExternalSecretStatus): Promise<void>;
  createEvent(event: KubeEvent): Promise<void>;
  /**
   * What the managed-Secret informer's cache knows of each target Secret
   * (src/refresher/known-targets.ts). Optional: without it every sync reads its target (GET).
   */
  readonly targets?: TargetMemo;
}

/**
 * A sync's memory of its target Secrets, held by the informer cache that sees every change of
 * them: a target whose cached version is the one a sync wrote or compared, asked for the same
 * thing again, needs no GET to know that nothing is to be written.
 */
export interface TargetMemo {
  /**
   * The fingerprint (`remember`) of the Secret `namespace/name` as the cache holds it now;
   * undefined when none was remembered for this version, or the cache cannot vouch for it.
   */
  recall(namespace: string, name: string): string | undefined;
  /** The Secret at `resourceVersion` is what a sync with this fingerprint leaves as it is. */
  remember(namespace: string, name: string, resourceVersion: string, fingerprint: string): void;
}

/**
 * A target (Secret, ConfigMap, custom resource) as the replica's managed informer of its kind holds
 * it: as written (its data matches its data-hash), edited by hand, absent, or unknown (the cache
 * not listed yet, or no informer for its kind).
 */
export type TargetState = 'intact' | 'edited' | 'absent' | 'unknown';
