/**
 * What a provider may read from the cluster to build its client: keys of credential Secrets
 * (`auth.secretRef.*`) and service-account tokens. The namespace rules follow the External
 * Secrets Operator's `ValidateSecretSelector`:
 * - a SecretStore reads from its own namespace; a selector naming another one is refused;
 * - a ClusterSecretStore must name the namespace in every selector. One client serves every
 *   namespace the store allows, so credentials never depend on who asked first (ESO's
 *   "referent authentication" is therefore not offered).
 * Errors name the Secret, the key and the store — never a value.
 */
import type { SecretKeySelector, StoreKind } from '../api/types.ts';
import { EswError, errorMessage, isEswError } from '../errors.ts';
import type { ClientContext, EndpointOverrides } from '../providers/types.ts';
import type { SecretReader } from './types.ts';

/** Issues a projected service-account token (TokenRequest); supplied by the Kubernetes layer. */
export type ServiceAccountTokenSource = (req: {
  namespace: string;
  name: string;
  audiences?: string[];
}) => Promise<string>;

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
  endpoints: EndpointOverrides;
  maxAttempts: number;
  timeoutMs: number;
  /** Called with `namespace/name` of every Secret read, so a change can retire the client. */
  onSecretRead?: (namespace: string, name: string) => void;
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
      opts.onSecretRead?.(ns, selector.name);
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
  const source = opts.serviceAccountToken;
  ctx.serviceAccountToken = async (selector) => {
    const ns = selectorNamespace(scope, selector.namespace, 'serviceAccountRef');
    if (!selector.name)
      throw new EswError('ESW_CREDENTIALS', `${scope.label}: serviceAccountRef.name is required`);
    if (!source) {
      throw new EswError(
        'ESW_CREDENTIALS',
        `${scope.label}: service-account tokens are unavailable (no Kubernetes API configured)`,
      );
    }
    try {
      const req: { namespace: string; name: string; audiences?: string[] } = {
        namespace: ns,
        name: selector.name,
      };
      if (selector.audiences) req.audiences = selector.audiences;
      return await source(req);
    } catch (err: unknown) {
      if (isEswError(err)) throw err;
      throw new EswError(
        'ESW_KUBE',
        `${scope.label}: could not get a token for ServiceAccount "${ns}/${selector.name}": ${errorMessage(err)}`,
        { cause: err },
      );
    }
  };
  return ctx;
}
