/**
 * What a provider may read from the cluster to build its client: keys of credential Secrets
 * (`auth.secretRef.*`) and service-account tokens. The namespace rules follow the External
 * Secrets Operator's `ValidateSecretSelector`:
 * - a SecretStore reads from its own namespace; a selector naming another one is refused;
 * - a ClusterSecretStore must name the namespace in every selector. One client serves every
 *   namespace the store allows, so credentials never depend on who asked first (ESO's
 *   "referent authentication" is therefore not offered).
 * Identity: a store that names no credentials would fall back to this server's own identity;
 * `requireAmbientIdentity` refuses that (ESW_IDENTITY_FORBIDDEN) unless the store may use it
 * (src/api/identity.ts), and this server's own token is read only after that check.
 * Errors name the Secret, the key and the store — never a value.
 */
import { readFile } from 'node:fs/promises';
import { AMBIENT_FLAG } from '../api/identity.ts';
import type { ConfigMap, Secret, SecretKeySelector, StoreKind } from '../api/types.ts';
import { EswError, errorMessage, isEswError } from '../errors.ts';
import type { ClientContext, EndpointOverrides } from '../providers/types.ts';
import type { SecretReader } from './types.ts';

/**
 * Issues a token for a named ServiceAccount (the TokenRequest API); supplied by the Kubernetes
 * layer in cluster mode. The namespace rules are applied before it is called.
 */
export type ServiceAccountTokenSource = (req: {
  namespace: string;
  name: string;
  audiences?: string[];
  expirationSeconds?: number;
}) => Promise<string>;

/**
 * Reads a ServiceAccount (its annotations: AWS `eks.amazonaws.com/role-arn`, Azure
 * `azure.workload.identity/client-id`); undefined when it does not exist. Cluster mode only;
 * the namespace rules are applied before it is called.
 */
export type ServiceAccountReader = (
  namespace: string,
  name: string,
) => Promise<{ annotations: Record<string, string> } | undefined>;

/** Where Kubernetes mounts a pod's own service-account token. */
export const OWN_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export interface CredentialScope {
  kind: StoreKind;
  name: string;
  /** The SecretStore's namespace; undefined for a ClusterSecretStore. */
  namespace: string | undefined;
  /** `SecretStore "ns/name"` / `ClusterSecretStore "name"`, for messages. */
  label: string;
}

export interface ContextOptions {
  secrets: SecretReader;
  serviceAccountToken: ServiceAccountTokenSource | undefined;
  /** ServiceAccount annotations; cluster mode only. */
  serviceAccounts?: ServiceAccountReader | undefined;
  endpoints: EndpointOverrides;
  maxAttempts: number;
  timeoutMs: number;
  /**
   * May this store use this server's own identity (its ServiceAccount token, ambient cloud
   * credentials)? True for ClusterSecretStores and SecretStores in namespaces the cluster admin
   * allowed (src/api/identity.ts decides).
   */
  ambientAllowed: boolean;
  /** Cluster-admin policy for gcpsm external-account credential JSON. */
  allowGcpExternalAccount?: boolean;
  /** This server's own token, for stores allowed to use it. Default: OWN_TOKEN_PATH. */
  ownTokenPath?: string;
  /**
   * Called with `namespace/name` of every Secret read, and the Secret as read (undefined when
   * absent), so a later change can retire the client built from it.
   */
  onSecretRead?: (namespace: string, name: string, secret: Secret | undefined) => void;
  /** The same for a CA ConfigMap. */
  onConfigMapRead?: (namespace: string, name: string, configMap: ConfigMap | undefined) => void;
  /**
   * Called with `namespace/name` of every ServiceAccount whose annotations were read, and the
   * annotations (undefined when absent): a changed annotation (the GCP service account to
   * impersonate, the AWS role, the Azure client) retires the client built from it.
   */
  onServiceAccountRead?: (
    namespace: string,
    name: string,
    annotations: Record<string, string> | undefined,
  ) => void;
}

/** The namespace a selector resolves to under the store's rules, or an ESW_CREDENTIALS error. */
export function selectorNamespace(
  scope: CredentialScope,
  selectorNs: string | undefined,
  field: string,
): string {
  if (scope.kind === 'ClusterSecretStore') {
    if (!selectorNs) {
      throw new EswError(
        'ESW_CREDENTIALS',
        `${scope.label}: ${field}.namespace is required for a ClusterSecretStore`,
      );
    }
    return selectorNs;
  }
  const own = scope.namespace ?? 'default';
  if (selectorNs && selectorNs !== own) {
    throw new EswError(
      'ESW_CREDENTIALS',
      `${scope.label}: ${field}.namespace "${selectorNs}" is not allowed: a SecretStore reads credentials from its own namespace "${own}"`,
    );
  }
  return own;
}

export function buildClientContext(scope: CredentialScope, opts: ContextOptions): ClientContext {
  const ctx: ClientContext = {
    store: { kind: scope.kind, name: scope.name, namespace: scope.namespace },
    // A cluster store's client is shared by every namespace: it gets none of them.
    namespace: scope.kind === 'SecretStore' ? (scope.namespace ?? 'default') : '',
    endpoints: opts.endpoints,
    allowGcpExternalAccount: opts.allowGcpExternalAccount === true,
    requireAmbientIdentity(field: string, identity: string): void {
      if (opts.ambientAllowed) return;
      throw new EswError(
        'ESW_IDENTITY_FORBIDDEN',
        `${scope.label}: ${field}: ${identity} is this server's own identity, which only a ClusterSecretStore may use (or a SecretStore in a namespace a cluster admin lists in ${AMBIENT_FLAG})`,
      );
    },
    maxAttempts: opts.maxAttempts,
    timeoutMs: opts.timeoutMs,
    async readSecretKey(selector: SecretKeySelector, field: string): Promise<string> {
      const ns = selectorNamespace(scope, selector.namespace, field);
      if (!selector.name) throw new EswError('ESW_CREDENTIALS', `${scope.label}: ${field}.name is required`);
      if (!selector.key) throw new EswError('ESW_CREDENTIALS', `${scope.label}: ${field}.key is required`);
      const ref = `Secret "${ns}/${selector.name}"`;
      let secret: Awaited<ReturnType<SecretReader['readSecret']>>;
      try {
        secret = await opts.secrets.readSecret(ns, selector.name);
      } catch (err: unknown) {
        if (isEswError(err)) throw err;
        throw new EswError(
          'ESW_KUBE',
          `${scope.label}: could not read ${ref} (${field}): ${errorMessage(err)}`,
          {
            cause: err,
          },
        );
      }
      opts.onSecretRead?.(ns, selector.name, secret);
      if (!secret) throw new EswError('ESW_CREDENTIALS', `${scope.label}: ${ref} (${field}) not found`);
      const encoded = secret.data?.[selector.key];
      if (encoded !== undefined) return Buffer.from(encoded, 'base64').toString('utf8');
      // Manifests given to `--stores` may use stringData; the API server never returns it.
      const plain = secret.stringData?.[selector.key];
      if (plain !== undefined) return plain;
      throw new EswError(
        'ESW_CREDENTIALS',
        `${scope.label}: key "${selector.key}" not found in ${ref} (${field})`,
      );
    },
  };
  const readConfigMap = opts.secrets.readConfigMap?.bind(opts.secrets);
  if (readConfigMap) {
    ctx.readConfigMapKey = async (selector: SecretKeySelector, field: string): Promise<string> => {
      const ns = selectorNamespace(scope, selector.namespace, field);
      if (!selector.name) throw new EswError('ESW_CREDENTIALS', `${scope.label}: ${field}.name is required`);
      if (!selector.key) throw new EswError('ESW_CREDENTIALS', `${scope.label}: ${field}.key is required`);
      const ref = `ConfigMap "${ns}/${selector.name}"`;
      let cm: ConfigMap | undefined;
      try {
        cm = await readConfigMap(ns, selector.name);
      } catch (err: unknown) {
        if (isEswError(err)) throw err;
        throw new EswError(
          'ESW_KUBE',
          `${scope.label}: could not read ${ref} (${field}): ${errorMessage(err)}`,
          { cause: err },
        );
      }
      opts.onConfigMapRead?.(ns, selector.name, cm);
      if (!cm) throw new EswError('ESW_CREDENTIALS', `${scope.label}: ${ref} (${field}) not found`);
      // ESO reads `data` only (FetchCACertFromSource).
      const value = cm.data?.[selector.key];
      if (value === undefined) {
        throw new EswError(
          'ESW_CREDENTIALS',
          `${scope.label}: key "${selector.key}" not found in ${ref} (${field})`,
        );
      }
      return value;
    };
  }
  const source = opts.serviceAccountToken;
  ctx.serviceAccountToken = async (selector) => {
    if (!selector.name) {
      // No ServiceAccount named: this server's own token (ESO reads its controller's). It can
      // read every Secret in the cluster, so only stores an admin trusts may send it anywhere.
      ctx.requireAmbientIdentity('serviceAccountRef', "this server's ServiceAccount token");
      const path = opts.ownTokenPath ?? OWN_TOKEN_PATH;
      try {
        return (await readFile(path, 'utf8')).trim();
      } catch {
        throw new EswError(
          'ESW_CREDENTIALS',
          `${scope.label}: no serviceAccountRef given and this server has no service-account token (${path})`,
        );
      }
    }
    const ns = selectorNamespace(scope, selector.namespace, 'serviceAccountRef');
    const name = selector.name;
    if (!source) {
      throw new EswError(
        'ESW_CREDENTIALS',
        `${scope.label}: a token for ServiceAccount "${ns}/${name}" needs cluster mode (the TokenRequest API); this server runs without a Kubernetes API`,
      );
    }
    return wrapKube(scope, `a token for ServiceAccount "${ns}/${name}"`, () =>
      source({
        namespace: ns,
        name,
        ...(selector.audiences?.length ? { audiences: selector.audiences } : {}),
        ...(selector.expirationSeconds ? { expirationSeconds: selector.expirationSeconds } : {}),
      }),
    );
  };
  const accounts = opts.serviceAccounts;
  ctx.serviceAccountAnnotations = async (selector, field) => {
    if (!selector.name) throw new EswError('ESW_CREDENTIALS', `${scope.label}: ${field}.name is required`);
    const ns = selectorNamespace(scope, selector.namespace, field);
    const what = `ServiceAccount "${ns}/${selector.name}" (${field})`;
    if (!accounts) {
      throw new EswError(
        'ESW_CREDENTIALS',
        `${scope.label}: ${what} can only be read in cluster mode; this server runs without a Kubernetes API`,
      );
    }
    let sa: Awaited<ReturnType<ServiceAccountReader>>;
    try {
      sa = await accounts(ns, selector.name);
    } catch (err: unknown) {
      if (isEswError(err)) throw err;
      throw new EswError('ESW_KUBE', `${scope.label}: could not read ${what}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    opts.onServiceAccountRead?.(ns, selector.name, sa?.annotations);
    if (!sa) throw new EswError('ESW_CREDENTIALS', `${scope.label}: ${what} not found`);
    return sa.annotations;
  };
  return ctx;
}

async function wrapKube(scope: CredentialScope, what: string, fn: () => Promise<string>): Promise<string> {
  try {
    return await fn();
  } catch (err: unknown) {
    if (isEswError(err)) throw err;
    throw new EswError('ESW_KUBE', `${scope.label}: could not get ${what}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
}
