/**
 * Typed helpers for the calls the project makes, on the one keep-alive HTTP path
 * (src/kube/http.ts). Every failure comes out as a KubeApiError (EswError ESW_KUBE) carrying the
 * HTTP status and the Status reason; its message never includes a request or response body
 * (bodies hold secret data), nor the Status message (it echoes values). Nothing here loads the
 * generated @kubernetes/client-node API (~85 MiB of RSS): tests that want it build it from their
 * own KubeConfig.
 */
import type { CoreV1Event } from '@kubernetes/client-node';
import type { ConfigMap, ExternalSecret, KubeObject, Secret } from '../api/types.ts';
import { describeError, kubeApiException } from '../observability/sanitize.ts';
import { KubeApiError, KubeHttp, namespacedPath, type Query, statusError } from './http.ts';
import type { KubeSource } from './kubeconfig.ts';

export { KubeApiError } from './http.ts';

export const ESO_GROUP = 'external-secrets.io';

/** The HTTP status of a failed API call (KubeApiError, ApiException or a Watch error), else 0. */
export function statusCode(err: unknown): number {
  if (err instanceof KubeApiError) return err.statusCode;
  const api = kubeApiException(err);
  if (api) return api.code;
  if (typeof err === 'object' && err !== null) {
    const e = err as { statusCode?: unknown; code?: unknown };
    if (typeof e.statusCode === 'number') return e.statusCode;
    if (typeof e.code === 'number') return e.code;
  }
  return 0;
}

export const isNotFound = (err: unknown): boolean => statusCode(err) === 404;
export const isConflict = (err: unknown): boolean => statusCode(err) === 409;
export const isGone = (err: unknown): boolean => statusCode(err) === 410;

/**
 * Converts any failure of an API call into a KubeApiError whose message names the call and the
 * answer in our words (`replace secret a/b: API server refused the request: 422 Invalid (field
 * metadata.labels)`). The Status `message` is never copied: the API server echoes the offending
 * values in it (a label value a template rendered from a secret, a name, a fragment of the body).
 */
export function toKubeError(err: unknown, what: string): KubeApiError {
  if (err instanceof KubeApiError) return err;
  const api = kubeApiException(err);
  if (api) return statusError(api.code, api.body, what);
  const code = statusCode(err);
  return new KubeApiError(code, undefined, `${what}: ${code ? `HTTP ${code}: ` : ''}${describeError(err)}`);
}

const MERGE_PATCH = 'application/merge-patch+json';

export interface EventInput {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  /** Reporting component; default `external-secrets-webhook`. */
  component?: string;
}

/** A coordination.k8s.io/v1 Lease as JSON (times are RFC 3339 MicroTime strings). */
export interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

const CORE = '/api/v1';
const ESO = `/apis/${ESO_GROUP}`;
const LEASES = '/apis/coordination.k8s.io/v1';

export class KubeClient {
  readonly kc: KubeSource;
  readonly http: KubeHttp;
  /** `apiVersion/kind` -> plural, from discovery (generic custom-resource targets). */
  readonly #plurals = new Map<string, string>();

  constructor(kc: KubeSource, http: KubeHttp = new KubeHttp(kc)) {
    this.kc = kc;
    this.http = http;
  }

  /** The Secret, or null when it does not exist. */
  async getSecret(namespace: string, name: string): Promise<Secret | null> {
    const what = `get secret ${namespace}/${name}`;
    try {
      return await this.http.get<Secret>(namespacedPath(CORE, namespace, 'secrets', name), undefined, what);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw toKubeError(err, what);
    }
  }

  /** The ConfigMap, or null when it does not exist (templateFrom[].configMap). */
  async getConfigMap(namespace: string, name: string): Promise<ConfigMap | null> {
    const what = `get configmap ${namespace}/${name}`;
    try {
      return await this.http.get<ConfigMap>(
        namespacedPath(CORE, namespace, 'configmaps', name),
        undefined,
        what,
      );
    } catch (err) {
      if (isNotFound(err)) return null;
      throw toKubeError(err, what);
    }
  }

  async createSecret(namespace: string, secret: Secret): Promise<Secret> {
    const what = `create secret ${namespace}/${secret.metadata?.name ?? ''}`;
    return this.#call<Secret>('POST', namespacedPath(CORE, namespace, 'secrets'), what, { body: secret });
  }

  /**
   * Replaces a Secret. Conditional: `secret.metadata.resourceVersion` must be the version read,
   * so a concurrent change makes this fail with 409 (isConflict) instead of being overwritten.
   */
  async replaceSecret(namespace: string, name: string, secret: Secret): Promise<Secret> {
    const what = `replace secret ${namespace}/${name}`;
    if (!secret.metadata?.resourceVersion) {
      throw new KubeApiError(0, undefined, `${what}: resourceVersion is required`);
    }
    return this.#call<Secret>('PUT', namespacedPath(CORE, namespace, 'secrets', name), what, {
      body: secret,
    });
  }

  /**
   * JSON merge patch (RFC 7386; `null` deletes a key). Pass `resourceVersion` to make it
   * conditional (409 when the Secret changed since).
   */
  async patchSecret(
    namespace: string,
    name: string,
    patch: Record<string, unknown>,
    opts: { resourceVersion?: string; fieldManager?: string } = {},
  ): Promise<Secret> {
    const body = opts.resourceVersion
      ? {
          ...patch,
          metadata: { ...((patch.metadata as object) ?? {}), resourceVersion: opts.resourceVersion },
        }
      : patch;
    return this.#call<Secret>(
      'PATCH',
      namespacedPath(CORE, namespace, 'secrets', name),
      `patch secret ${namespace}/${name}`,
      {
        body,
        contentType: MERGE_PATCH,
        ...(opts.fieldManager ? { query: { fieldManager: opts.fieldManager } } : {}),
      },
    );
  }

  /** Deletes a Secret; false when it was already gone. */
  async deleteSecret(
    namespace: string,
    name: string,
    opts: { resourceVersion?: string; propagationPolicy?: 'Background' | 'Foreground' | 'Orphan' } = {},
  ): Promise<boolean> {
    const what = `delete secret ${namespace}/${name}`;
    try {
      await this.http.request('DELETE', namespacedPath(CORE, namespace, 'secrets', name), {
        what,
        body: {
          ...(opts.propagationPolicy ? { propagationPolicy: opts.propagationPolicy } : {}),
          ...(opts.resourceVersion ? { preconditions: { resourceVersion: opts.resourceVersion } } : {}),
        },
      });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw toKubeError(err, what);
    }
  }

  /** Generic targets (`spec.target.manifest` kind ConfigMap, when the operator allows it). */
  async createConfigMap(namespace: string, cm: ConfigMap): Promise<ConfigMap> {
    const what = `create configmap ${namespace}/${cm.metadata?.name ?? ''}`;
    return this.#call<ConfigMap>('POST', namespacedPath(CORE, namespace, 'configmaps'), what, { body: cm });
  }

  /** Conditional on `cm.metadata.resourceVersion`, as replaceSecret. */
  async replaceConfigMap(namespace: string, name: string, cm: ConfigMap): Promise<ConfigMap> {
    const what = `replace configmap ${namespace}/${name}`;
    if (!cm.metadata?.resourceVersion) {
      throw new KubeApiError(0, undefined, `${what}: resourceVersion is required`);
    }
    return this.#call<ConfigMap>('PUT', namespacedPath(CORE, namespace, 'configmaps', name), what, {
      body: cm,
    });
  }

  /** True when deleted, false when it did not exist. */
  async deleteConfigMap(namespace: string, name: string): Promise<boolean> {
    const what = `delete configmap ${namespace}/${name}`;
    try {
      await this.http.request('DELETE', namespacedPath(CORE, namespace, 'configmaps', name), { what });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw toKubeError(err, what);
    }
  }

  /**
   * Generic custom-resource targets: the plural of a namespaced `kind` of `apiVersion` (a group
   * version, `example.com/v1`), from discovery, remembered. Undefined: not served, or not
   * namespaced (a namespaced ExternalSecret never writes a cluster-scoped object).
   */
  async resourceOf(apiVersion: string, kind: string): Promise<string | undefined> {
    const key = `${apiVersion}/${kind}`;
    const known = this.#plurals.get(key);
    if (known) return known;
    const what = `discover ${apiVersion}`;
    let list: { resources?: { name?: string; kind?: string; namespaced?: boolean }[] };
    try {
      list = await this.http.get(`/apis/${apiVersion}`, undefined, what);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw toKubeError(err, what);
    }
    const r = (list.resources ?? []).find((x) => x.kind === kind && x.namespaced && !x.name?.includes('/'));
    if (r?.name) this.#plurals.set(key, r.name);
    return r?.name;
  }

  async #objectPath(apiVersion: string, kind: string, namespace: string, name?: string): Promise<string> {
    const plural = await this.resourceOf(apiVersion, kind);
    if (!plural)
      throw new KubeApiError(
        404,
        undefined,
        `${apiVersion} ${kind} is not a namespaced kind this cluster serves`,
      );
    return namespacedPath(`/apis/${apiVersion}`, namespace, plural, name);
  }

  /** A custom resource, or null when it does not exist. */
  async getObject(
    apiVersion: string,
    kind: string,
    namespace: string,
    name: string,
  ): Promise<KubeObject | null> {
    const what = `get ${kind} ${namespace}/${name}`;
    try {
      return await this.http.get<KubeObject>(
        await this.#objectPath(apiVersion, kind, namespace, name),
        undefined,
        what,
      );
    } catch (err) {
      if (isNotFound(err)) return null;
      throw toKubeError(err, what);
    }
  }

  async createObject(namespace: string, obj: KubeObject): Promise<KubeObject> {
    const what = `create ${obj.kind} ${namespace}/${obj.metadata?.name ?? ''}`;
    const path = await this.#objectPath(obj.apiVersion ?? '', obj.kind ?? '', namespace);
    return this.#call<KubeObject>('POST', path, what, { body: obj });
  }

  /** Conditional on `obj.metadata.resourceVersion`, as replaceSecret. */
  async replaceObject(namespace: string, obj: KubeObject): Promise<KubeObject> {
    const name = obj.metadata?.name ?? '';
    const what = `replace ${obj.kind} ${namespace}/${name}`;
    if (!obj.metadata?.resourceVersion) {
      throw new KubeApiError(0, undefined, `${what}: resourceVersion is required`);
    }
    const path = await this.#objectPath(obj.apiVersion ?? '', obj.kind ?? '', namespace, name);
    return this.#call<KubeObject>('PUT', path, what, { body: obj });
  }

  /** True when deleted, false when it did not exist. */
  async deleteObject(apiVersion: string, kind: string, namespace: string, name: string): Promise<boolean> {
    const what = `delete ${kind} ${namespace}/${name}`;
    try {
      await this.http.request('DELETE', await this.#objectPath(apiVersion, kind, namespace, name), { what });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw toKubeError(err, what);
    }
  }

  /** The ExternalSecret (served at `version`, default v1), or null when it does not exist. */
  async getExternalSecret(namespace: string, name: string, version = 'v1'): Promise<ExternalSecret | null> {
    const what = `get externalsecret ${namespace}/${name}`;
    try {
      return await this.http.get<ExternalSecret>(
        namespacedPath(`${ESO}/${version}`, namespace, 'externalsecrets', name),
        undefined,
        what,
      );
    } catch (err) {
      if (isNotFound(err)) return null;
      throw toKubeError(err, what);
    }
  }

  /** Creates an ExternalSecret (ClusterExternalSecret fan-out); 409 AlreadyExists: isConflict. */
  async createExternalSecret(namespace: string, es: ExternalSecret): Promise<ExternalSecret> {
    const what = `create externalsecret ${namespace}/${es.metadata?.name ?? ''}`;
    return this.#call<ExternalSecret>(
      'POST',
      namespacedPath(`${ESO}/v1`, namespace, 'externalsecrets'),
      what,
      {
        body: es,
      },
    );
  }

  /** Replaces an ExternalSecret; conditional on `es.metadata.resourceVersion` (required). */
  async replaceExternalSecret(namespace: string, es: ExternalSecret): Promise<ExternalSecret> {
    const name = es.metadata?.name ?? '';
    const what = `replace externalsecret ${namespace}/${name}`;
    if (!es.metadata?.resourceVersion) {
      throw new KubeApiError(0, undefined, `${what}: resourceVersion is required`);
    }
    return this.#call<ExternalSecret>(
      'PUT',
      namespacedPath(`${ESO}/v1`, namespace, 'externalsecrets', name),
      what,
      { body: es },
    );
  }

  /** Deletes an ExternalSecret, only the one with `uid`; false when it was already gone. */
  async deleteExternalSecret(namespace: string, name: string, uid?: string): Promise<boolean> {
    const what = `delete externalsecret ${namespace}/${name}`;
    try {
      await this.http.request('DELETE', namespacedPath(`${ESO}/v1`, namespace, 'externalsecrets', name), {
        what,
        body: uid ? { preconditions: { uid } } : {},
      });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw toKubeError(err, what);
    }
  }

  /** A merge patch of a ClusterExternalSecret's `status` alone. */
  async patchClusterExternalSecretStatus(name: string, status: Record<string, unknown>): Promise<unknown> {
    return this.#call<unknown>(
      'PATCH',
      `${ESO}/v1/clusterexternalsecrets/${encodeURIComponent(name)}/status`,
      `patch status of clusterexternalsecret ${name}`,
      { body: { status }, contentType: MERGE_PATCH },
    );
  }

  /**
   * PUT on the `/status` subresource: only `status` changes. Conditional on
   * `es.metadata.resourceVersion` when set (409 on a stale one).
   */
  async replaceExternalSecretStatus(es: ExternalSecret): Promise<ExternalSecret> {
    const namespace = es.metadata?.namespace ?? 'default';
    const name = es.metadata?.name ?? '';
    const version = es.apiVersion?.split('/')[1] ?? 'v1';
    return this.#call<ExternalSecret>(
      'PUT',
      namespacedPath(`${ESO}/${version}`, namespace, 'externalsecrets', name, 'status'),
      `update status of externalsecret ${namespace}/${name}`,
      { body: es },
    );
  }

  /** Merge patch on the `/status` subresource (unconditional). */
  async patchExternalSecretStatus(
    namespace: string,
    name: string,
    status: Record<string, unknown>,
    version = 'v1',
  ): Promise<ExternalSecret> {
    return this.#call<ExternalSecret>(
      'PATCH',
      namespacedPath(`${ESO}/${version}`, namespace, 'externalsecrets', name, 'status'),
      `patch status of externalsecret ${namespace}/${name}`,
      { body: { status }, contentType: MERGE_PATCH },
    );
  }

  /** A merge patch of a SecretStore's or ClusterSecretStore's `status` alone. */
  async patchStoreStatus(
    kind: 'SecretStore' | 'ClusterSecretStore',
    namespace: string | undefined,
    name: string,
    status: Record<string, unknown>,
    version = 'v1',
  ): Promise<unknown> {
    const e = encodeURIComponent;
    const path =
      kind === 'ClusterSecretStore'
        ? `${ESO}/${version}/clustersecretstores/${e(name)}/status`
        : namespacedPath(`${ESO}/${version}`, namespace ?? 'default', 'secretstores', name, 'status');
    return this.#call<unknown>('PATCH', path, `patch status of ${kind.toLowerCase()} ${name}`, {
      body: { status },
      contentType: MERGE_PATCH,
    });
  }

  async createEvent(namespace: string, event: CoreV1Event): Promise<CoreV1Event> {
    return this.#call<CoreV1Event>(
      'POST',
      namespacedPath(CORE, namespace, 'events'),
      `create event in ${namespace}`,
      {
        body: event,
      },
    );
  }

  /**
   * Records an Event about `obj` (core/v1, `involvedObject` filled from it). The message must
   * name keys and stores only, never a value.
   */
  async recordEvent(
    obj: {
      apiVersion?: string;
      kind?: string;
      metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
    },
    input: EventInput,
    now: Date = new Date(),
  ): Promise<CoreV1Event> {
    const namespace = obj.metadata?.namespace ?? 'default';
    const name = obj.metadata?.name ?? '';
    const component = input.component ?? 'external-secrets-webhook';
    return this.createEvent(namespace, {
      metadata: { generateName: `${name}.`, namespace },
      involvedObject: {
        ...(obj.apiVersion ? { apiVersion: obj.apiVersion } : {}),
        ...(obj.kind ? { kind: obj.kind } : {}),
        name,
        namespace,
        ...(obj.metadata?.uid ? { uid: obj.metadata.uid } : {}),
        ...(obj.metadata?.resourceVersion ? { resourceVersion: obj.metadata.resourceVersion } : {}),
      },
      type: input.type,
      reason: input.reason,
      message: input.message,
      source: { component },
      reportingComponent: component,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    });
  }

  // ---------------------------------------------------------------- leases

  /** The Lease, or null when it does not exist. */
  async getLease(namespace: string, name: string): Promise<Lease | null> {
    const what = `get lease ${namespace}/${name}`;
    try {
      return await this.http.get<Lease>(namespacedPath(LEASES, namespace, 'leases', name), undefined, what);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw toKubeError(err, what);
    }
  }

  async listLeases(namespace: string, labelSelector: string): Promise<Lease[]> {
    const list = await this.#call<{ items?: Lease[] }>(
      'GET',
      namespacedPath(LEASES, namespace, 'leases'),
      `list leases in ${namespace}`,
      { query: { labelSelector } },
    );
    return list.items ?? [];
  }

  /** Creates a Lease; 409 (isConflict) when it already exists. */
  async createLease(namespace: string, lease: Lease): Promise<Lease> {
    return this.#call<Lease>(
      'POST',
      namespacedPath(LEASES, namespace, 'leases'),
      `create lease in ${namespace}`,
      {
        body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', ...lease },
      },
    );
  }

  /** Replaces a Lease, conditional on `lease.metadata.resourceVersion` (409 on a stale one). */
  async replaceLease(namespace: string, lease: Lease): Promise<Lease> {
    const name = lease.metadata?.name ?? '';
    return this.#call<Lease>(
      'PUT',
      namespacedPath(LEASES, namespace, 'leases', name),
      `update lease ${namespace}/${name}`,
      {
        body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', ...lease },
      },
    );
  }

  /** Deletes a Lease (conditional on `resourceVersion` when given); false when already gone. */
  async deleteLease(namespace: string, name: string, resourceVersion?: string): Promise<boolean> {
    const what = `delete lease ${namespace}/${name}`;
    try {
      await this.http.request('DELETE', namespacedPath(LEASES, namespace, 'leases', name), {
        what,
        ...(resourceVersion ? { body: { preconditions: { resourceVersion } } } : {}),
      });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw toKubeError(err, what);
    }
  }

  /** GET of a raw API path (lists for the informers): the JSON as the server sent it. */
  getRaw(path: string, query: Query = {}): Promise<unknown> {
    return this.http.get(path, query);
  }

  async #call<T>(
    method: string,
    path: string,
    what: string,
    opts: { body?: unknown; contentType?: string; query?: Query } = {},
  ): Promise<T> {
    try {
      return await this.http.request<T>(method, path, { ...opts, what });
    } catch (err) {
      throw toKubeError(err, what);
    }
  }
}
