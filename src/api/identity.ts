/**
 * Identity confinement: a namespaced SecretStore uses only the credentials it names. Without
 * them a provider would fall back to this server's own identity — its ServiceAccount token
 * (which can read every Secret in the cluster) or its ambient cloud credentials (AWS default
 * chain / IRSA, GCP Application Default Credentials / metadata server, Azure managed identity /
 * its own workload identity) — and a tenant who can create a SecretStore would borrow them.
 *
 * The same function decides at admission (`validateSecretStore`) and at use (the resolver, for
 * stores that predate this webhook), so what validates is what runs. ClusterSecretStores, which
 * only cluster admins create, may use the ambient identity, as in ESO; a cluster admin can allow
 * it for chosen namespaces with `--allow-ambient-identity-namespaces`.
 */
import { type FieldError, fieldErrors } from './field-errors.ts';
import { isObject, type Obj } from './schema.ts';
import { StoreKind } from './types.ts';

export interface IdentityPolicy {
  /**
   * Namespaces whose SecretStores may use this server's own identity: exact names or globs
   * where `*` stands for any run of characters (`team-*`, `*` for every namespace).
   */
  readonly ambientNamespaces: readonly string[];
  /** A gcpsm `auth.secretRef` may hold an external-account credential JSON (see gcpsm/credentials.ts). */
  readonly gcpExternalAccount: boolean;
}

export const DEFAULT_IDENTITY_POLICY: IdentityPolicy = Object.freeze({
  ambientNamespaces: Object.freeze([]),
  gcpExternalAccount: false,
});

/** The flag that opens the exception, named in every refusal so an admin knows where to look. */
export const AMBIENT_FLAG = '--allow-ambient-identity-namespaces';

const NAMESPACE_PATTERN = /^[a-z0-9*]([-a-z0-9*]*[a-z0-9*])?$/;

/**
 * Parses the flag's value: comma- or space-separated names and globs. Throws Error naming the
 * first entry that cannot match any namespace name.
 */
export function parseNamespacePatterns(raw: string | undefined): string[] {
  if (raw === undefined) return [];
  const out: string[] = [];
  for (const entry of raw.split(/[\s,]+/)) {
    if (entry === '') continue;
    if (entry.length > 63 || !NAMESPACE_PATTERN.test(entry)) {
      throw new Error(`"${entry}" is not a namespace name or glob (lower-case letters, digits, "-" and "*")`);
    }
    out.push(entry);
  }
  return out;
}

/**
 * Glob match where `*` is any run of characters. Greedy with one backtrack point, so the cost is
 * at most length(pattern) × length(name), both at most 63.
 */
export function globMatch(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  let star = -1;
  let mark = 0;
  while (n < name.length) {
    if (p < pattern.length && pattern[p] !== '*' && pattern[p] === name[n]) {
      p++;
      n++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = n;
    } else if (star >= 0) {
      p = star + 1;
      n = ++mark;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/** May a store of `kind` in `namespace` use this server's own identity? */
export function ambientAllowed(
  policy: IdentityPolicy,
  kind: StoreKind,
  namespace: string | undefined,
): boolean {
  if (kind === StoreKind.ClusterSecretStore) return true;
  // Unknown namespace (a manifest without one, offline): only a pattern matching every name.
  const ns = namespace ?? '';
  return policy.ambientNamespaces.some((p) => globMatch(p, ns));
}

/** Where a provider spec falls back to this server's identity, and what to set instead. */
export interface AmbientUse {
  /** Field path, e.g. `spec.provider.vault.auth.kubernetes`. */
  field: string;
  /** `required`: a field is missing; `forbidden`: a value chooses the ambient identity. */
  kind: 'required' | 'forbidden';
  /** What the store must name instead. */
  instead: string;
  /** Whose identity it would be. */
  identity: string;
}

const OWN_SA_TOKEN = 'its own ServiceAccount token';
const OWN_AWS = 'its own AWS identity (the default credential chain: IRSA, pod identity, instance role)';
const OWN_GCP = 'its own Google identity (Application Default Credentials, the metadata server)';
const OWN_AZURE_MI = 'the managed identity of its node or pod';
const OWN_AZURE_WI = 'its own workload identity (its ServiceAccount token and AZURE_CLIENT_ID)';

const has = (o: Obj | undefined, key: string): boolean =>
  o !== undefined && o[key] !== undefined && o[key] !== null;

/**
 * Every place where `spec` (the object under `spec.provider.<provider>`) would use this
 * server's own identity. Pure; tolerates any input (unknown shapes are the validator's business).
 */
export function ambientIdentityUses(provider: string, spec: unknown, path: string): AmbientUse[] {
  if (!isObject(spec)) return [];
  const uses: AmbientUse[] = [];
  const auth = isObject(spec.auth) ? spec.auth : undefined;
  switch (provider) {
    case 'aws': {
      const jwt = isObject(auth?.jwt) ? auth.jwt : undefined;
      const named =
        jwt !== undefined && isObject(jwt.serviceAccountRef) && has(jwt.serviceAccountRef, 'name');
      if (!has(auth, 'secretRef') && !has(auth, 'jwt')) {
        uses.push({
          field: `${path}.auth`,
          kind: 'required',
          instead: 'auth.secretRef or auth.jwt',
          identity: OWN_AWS,
        });
      } else if (jwt && !named && !has(auth, 'secretRef')) {
        // `auth.jwt` without a ServiceAccount (the introduction's "populated by the SA of the
        // running pod"): the pod's own IRSA, i.e. the default chain.
        uses.push({
          field: `${path}.auth.jwt.serviceAccountRef`,
          kind: 'required',
          instead: 'auth.jwt.serviceAccountRef (or auth.secretRef)',
          identity: OWN_AWS,
        });
      }
      break;
    }
    case 'gcpsm':
      if (
        !has(auth, 'secretRef') &&
        !has(auth, 'workloadIdentity') &&
        !has(auth, 'workloadIdentityFederation')
      ) {
        uses.push({
          field: `${path}.auth`,
          kind: 'required',
          instead: 'auth.secretRef, auth.workloadIdentity or auth.workloadIdentityFederation',
          identity: OWN_GCP,
        });
      }
      break;
    case 'azurekv': {
      const authType = spec.authType ?? 'ServicePrincipal';
      if (authType === 'ManagedIdentity') {
        uses.push({
          field: `${path}.authType`,
          kind: 'forbidden',
          instead: 'authType ServicePrincipal (authSecretRef) or WorkloadIdentity with serviceAccountRef',
          identity: OWN_AZURE_MI,
        });
      } else if (authType === 'WorkloadIdentity' && !has(spec, 'serviceAccountRef')) {
        uses.push({
          field: `${path}.serviceAccountRef`,
          kind: 'required',
          instead: 'serviceAccountRef',
          identity: OWN_AZURE_WI,
        });
      }
      break;
    }
    case 'vault': {
      if (!auth) break;
      const k8s = isObject(auth.kubernetes) ? auth.kubernetes : undefined;
      if (k8s && !has(k8s, 'secretRef') && !has(k8s, 'serviceAccountRef')) {
        uses.push({
          field: `${path}.auth.kubernetes`,
          kind: 'required',
          instead: 'secretRef or serviceAccountRef',
          identity: OWN_SA_TOKEN,
        });
      }
      const iam = isObject(auth.iam) ? auth.iam : undefined;
      if (iam && !has(iam, 'secretRef') && !has(iam, 'jwt')) {
        uses.push({
          field: `${path}.auth.iam`,
          kind: 'required',
          instead: 'secretRef or jwt',
          identity: OWN_AWS,
        });
      }
      const gcp = isObject(auth.gcp) ? auth.gcp : undefined;
      if (gcp && !has(gcp, 'secretRef') && !has(gcp, 'workloadIdentity') && !has(gcp, 'serviceAccountRef')) {
        uses.push({
          field: `${path}.auth.gcp`,
          kind: 'required',
          instead: 'secretRef, workloadIdentity or serviceAccountRef',
          identity: OWN_GCP,
        });
      }
      break;
    }
  }
  return uses;
}

/** The refusal text of one use: what to set, whose identity it would be, who may. */
export function ambientMessage(use: AmbientUse): string {
  const who = `which only a ClusterSecretStore may use (or a SecretStore in a namespace a cluster admin lists in ${AMBIENT_FLAG})`;
  return use.kind === 'required'
    ? `a SecretStore must name ${use.instead}; otherwise this webhook would use ${use.identity}, ${who}`
    : `a SecretStore must use ${use.instead}; this one would use ${use.identity}, ${who}`;
}

/**
 * Field errors for a store whose provider spec would borrow this server's identity, unless
 * the policy allows it (ClusterSecretStore, allow-listed namespace).
 */
export function identityErrors(
  provider: string,
  spec: unknown,
  path: string,
  kind: StoreKind,
  namespace: string | undefined,
  policy: IdentityPolicy,
): FieldError[] {
  if (ambientAllowed(policy, kind, namespace)) return [];
  return ambientIdentityUses(provider, spec, path).map((use) =>
    use.kind === 'required'
      ? fieldErrors.required(use.field, ambientMessage(use))
      : fieldErrors.forbidden(use.field, ambientMessage(use)),
  );
}
