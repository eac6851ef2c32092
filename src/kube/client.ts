/**
 * Typed helpers on @kubernetes/client-node for the calls the project makes. Every failure comes
 * out as a KubeApiError (EswError ESW_KUBE) carrying the HTTP status and the Status reason; its
 * message never includes a request or response body (bodies hold secret data), nor the Status
 * message (it echoes values).
 */
import { request as httpsRequest, type RequestOptions } from 'node:https';
import {
  AdmissionregistrationV1Api,
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  type CoreV1Event,
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Secret,
} from '@kubernetes/client-node';
import type { ExternalSecret } from '../api/types.ts';
import { EswError } from '../errors.ts';
import { describeError, kubeStatusReason, kubeStatusText } from '../observability/sanitize.ts';

export const ESO_GROUP = 'external-secrets.io';

export class KubeApiError extends EswError {
  /** HTTP status, 0 when the request never got an answer. */
  readonly statusCode: number;
  /** The Status `reason` (NotFound, Conflict, AlreadyExists, Expired, ...) when the server sent one. */
  readonly reason: string | undefined;
  constructor(statusCode: number, reason: string | undefined, message: string, cause?: unknown) {
    super('ESW_KUBE', message, { cause });
    this.statusCode = statusCode;
    this.reason = reason;
  }
}

/** The HTTP status of a failed API call (KubeApiError, ApiException or a Watch error), else 0. */
export function statusCode(err: unknown): number {
  if (err instanceof KubeApiError) return err.statusCode;
  if (err instanceof ApiException) return err.code;
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
  if (err instanceof ApiException) return statusError(err.code, err.body, what);
  const code = statusCode(err);
  return new KubeApiError(code, undefined, `${what}: ${code ? `HTTP ${code}: ` : ''}${describeError(err)}`);
}

function statusError(code: number, body: unknown, what: string): KubeApiError {
  const verdict = code >= 400 && code < 500 ? 'API server refused the request' : 'API server failed';
  return new KubeApiError(code, kubeStatusReason(body), `${what}: ${verdict}: ${kubeStatusText(code, body)}`);
}

const mergePatchOptions = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export interface EventInput {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  /** Reporting component; default `external-secrets-webhook`. */
  component?: string;
}

export class KubeClient {
  readonly kc: KubeConfig;
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;
  readonly coordination: CoordinationV1Api;
  readonly admission: AdmissionregistrationV1Api;

  constructor(kc: KubeConfig) {
    this.kc = kc;
    this.core = kc.makeApiClient(CoreV1Api);
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.coordination = kc.makeApiClient(CoordinationV1Api);
    this.admission = kc.makeApiClient(AdmissionregistrationV1Api);
  }

  /** The Secret, or null when it does not exist. */
  async getSecret(namespace: string, name: string): Promise<V1Secret | null> {
    try {
      return await this.core.readNamespacedSecret({ namespace, name });
    } catch (err) {
      if (isNotFound(err)) return null;
      throw toKubeError(err, `get secret ${namespace}/${name}`);
    }
  }

  async createSecret(namespace: string, secret: V1Secret): Promise<V1Secret> {
    try {
      return await this.core.createNamespacedSecret({ namespace, body: secret });
    } catch (err) {
      throw toKubeError(err, `create secret ${namespace}/${secret.metadata?.name ?? ''}`);
    }
  }

  /**
   * Replaces a Secret. Conditional: `secret.metadata.resourceVersion` must be the version read,
   * so a concurrent change makes this fail with 409 (isConflict) instead of being overwritten.
   */
  async replaceSecret(namespace: string, name: string, secret: V1Secret): Promise<V1Secret> {
    if (!secret.metadata?.resourceVersion) {
      throw new KubeApiError(
        0,
        undefined,
        `replace secret ${namespace}/${name}: resourceVersion is required`,
      );
    }
    try {
      return await this.core.replaceNamespacedSecret({ namespace, name, body: secret });
    } catch (err) {
      throw toKubeError(err, `replace secret ${namespace}/${name}`);
    }
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
  ): Promise<V1Secret> {
    const body = opts.resourceVersion
      ? {
          ...patch,
          metadata: { ...((patch.metadata as object) ?? {}), resourceVersion: opts.resourceVersion },
        }
      : patch;
    try {
      return await this.core.patchNamespacedSecret(
        { namespace, name, body, ...(opts.fieldManager ? { fieldManager: opts.fieldManager } : {}) },
        mergePatchOptions,
      );
    } catch (err) {
      throw toKubeError(err, `patch secret ${namespace}/${name}`);
    }
  }

  /** Deletes a Secret; false when it was already gone. */
  async deleteSecret(
    namespace: string,
    name: string,
    opts: { resourceVersion?: string; propagationPolicy?: 'Background' | 'Foreground' | 'Orphan' } = {},
  ): Promise<boolean> {
    try {
      await this.core.deleteNamespacedSecret({
        namespace,
        name,
        body: {
          ...(opts.propagationPolicy ? { propagationPolicy: opts.propagationPolicy } : {}),
          ...(opts.resourceVersion ? { preconditions: { resourceVersion: opts.resourceVersion } } : {}),
        },
      });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw toKubeError(err, `delete secret ${namespace}/${name}`);
    }
  }

  /** The ExternalSecret (served at `version`, default v1), or null when it does not exist. */
  async getExternalSecret(namespace: string, name: string, version = 'v1'): Promise<ExternalSecret | null> {
    try {
      return (await this.custom.getNamespacedCustomObject({
        group: ESO_GROUP,
        version,
        namespace,
        plural: 'externalsecrets',
        name,
      })) as ExternalSecret;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw toKubeError(err, `get externalsecret ${namespace}/${name}`);
    }
  }

  /**
   * PUT on the `/status` subresource: only `status` changes. Conditional on
   * `es.metadata.resourceVersion` when set (409 on a stale one).
   */
  async replaceExternalSecretStatus(es: ExternalSecret): Promise<ExternalSecret> {
    const namespace = es.metadata?.namespace ?? 'default';
    const name = es.metadata?.name ?? '';
    const version = es.apiVersion?.split('/')[1] ?? 'v1';
    try {
      return (await this.custom.replaceNamespacedCustomObjectStatus({
        group: ESO_GROUP,
        version,
        namespace,
        plural: 'externalsecrets',
        name,
        body: es,
      })) as ExternalSecret;
    } catch (err) {
      throw toKubeError(err, `update status of externalsecret ${namespace}/${name}`);
    }
  }

  /** Merge patch on the `/status` subresource (unconditional). */
  async patchExternalSecretStatus(
    namespace: string,
    name: string,
    status: Record<string, unknown>,
    version = 'v1',
  ): Promise<ExternalSecret> {
    try {
      return (await this.custom.patchNamespacedCustomObjectStatus(
        { group: ESO_GROUP, version, namespace, plural: 'externalsecrets', name, body: { status } },
        mergePatchOptions,
      )) as ExternalSecret;
    } catch (err) {
      throw toKubeError(err, `patch status of externalsecret ${namespace}/${name}`);
    }
  }

  async createEvent(namespace: string, event: CoreV1Event): Promise<CoreV1Event> {
    try {
      return await this.core.createNamespacedEvent({ namespace, body: event });
    } catch (err) {
      throw toKubeError(err, `create event in ${namespace}`);
    }
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

  /** GET of a raw API path (lists for the informers): the JSON as the server sent it. */
  getRaw(path: string, query: Record<string, string | undefined> = {}): Promise<unknown> {
    return rawGet(this.kc, path, query);
  }
}

/** GET `path` with the KubeConfig's TLS and credentials; resolves the parsed JSON body. */
export async function rawGet(
  kc: KubeConfig,
  path: string,
  query: Record<string, string | undefined> = {},
  timeoutMs = 30_000,
): Promise<unknown> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KubeApiError(0, undefined, `GET ${path}: no current cluster in kubeconfig`);
  const url = new URL(cluster.server + path);
  for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, v);
  const opts: RequestOptions = { method: 'GET', headers: { accept: 'application/json' } };
  await kc.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ...opts, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (e) => reject(toKubeError(e, `GET ${path}`)));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const code = res.statusCode ?? 0;
        if (code < 200 || code > 299) {
          reject(statusError(code, text, `GET ${path}`));
          return;
        }
        try {
          resolve(JSON.parse(text));
        } catch {
          reject(new KubeApiError(code, undefined, `GET ${path}: response is not JSON`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', (e) => reject(toKubeError(e, `GET ${path}`)));
    req.end();
  });
}
