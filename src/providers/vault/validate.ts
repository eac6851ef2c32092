/**
 * Static checks of `spec.provider.vault`: the CRD schema (server required, version v1|v2, required
 * fields of each auth method) and ESO's `ValidateStore` (referent rule on every reference, appRole
 * needs roleId or roleRef, jwt needs a token source, client TLS needs both halves, checkAndSet
 * needs KV v2). ESO documents that only one auth method may be set; it is enforced here.
 */
import { type FieldError, fieldErrors } from '../../api/field-errors.ts';
import {
  checkDnsLabel,
  checkEnum,
  oneOfList,
  optBoolean,
  optName,
  optObject,
  optString,
  optStringMap,
  presentKeys,
  reqObject,
  reqString,
} from '../../api/schema.ts';
import {
  checkSecretKeySelector,
  checkServiceAccountSelector,
  checkUrl,
  type StoreContext,
  storeContext,
} from '../../api/store-refs.ts';
import { StoreKind } from '../../api/types.ts';
import { headerProblem } from './options.ts';

export const VAULT_AUTH_METHODS = [
  'tokenSecretRef',
  'appRole',
  'kubernetes',
  'ldap',
  'userPass',
  'jwt',
  'cert',
  'iam',
  'gcp',
] as const;

export function validateVaultStore(
  spec: unknown,
  path: string,
  kind: StoreKind,
  context?: Partial<StoreContext>,
): FieldError[] {
  const errors: FieldError[] = [];
  const ctx = storeContext(kind, context);
  const v = reqObject(spec, path, errors);
  if (!v) return errors;

  const server = reqString(
    v.server,
    `${path}.server`,
    errors,
    'the Vault address, e.g. "https://vault.example.com:8200"',
  );
  if (server !== undefined) checkUrl(server, `${path}.server`, errors);
  optString(v.path, `${path}.path`, errors);
  const version =
    v.version === undefined || v.version === null
      ? 'v2'
      : checkEnum(v.version, `${path}.version`, ['v1', 'v2'], errors);
  optString(v.namespace, `${path}.namespace`, errors);
  const caBundle = optString(v.caBundle, `${path}.caBundle`, errors);
  if (caBundle !== undefined && !/^[A-Za-z0-9+/=\s]*$/.test(caBundle)) {
    errors.push(fieldErrors.invalid(`${path}.caBundle`, '<PEM>', 'must be base64-encoded PEM'));
  }
  optBoolean(v.readYourWrites, `${path}.readYourWrites`, errors);
  optBoolean(v.forwardInconsistent, `${path}.forwardInconsistent`, errors);
  const headers = optStringMap(v.headers, `${path}.headers`, errors);
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (typeof value !== 'string') continue; // reported by optStringMap
    const problem = headerProblem(name, value);
    const shown = name.length > 64 ? `${name.slice(0, 61)}...` : name;
    if (problem) errors.push(fieldErrors.forbidden(`${path}.headers[${JSON.stringify(shown)}]`, problem));
  }

  const ca = optObject(v.caProvider, `${path}.caProvider`, errors);
  if (ca) {
    const p = `${path}.caProvider`;
    if (ca.type === undefined || ca.type === null || ca.type === '') {
      errors.push(fieldErrors.required(`${p}.type`, 'one of "Secret", "ConfigMap"'));
    } else checkEnum(ca.type, `${p}.type`, ['Secret', 'ConfigMap'], errors);
    if (reqString(ca.name, `${p}.name`, errors) !== undefined) optName(ca.name, `${p}.name`, errors);
    optString(ca.key, `${p}.key`, errors);
    const ns = optString(ca.namespace, `${p}.namespace`, errors);
    if (ns !== undefined && checkDnsLabel(ns, `${p}.namespace`, errors)) {
      if (kind === StoreKind.SecretStore && ctx.namespace !== undefined && ns !== ctx.namespace) {
        errors.push(
          fieldErrors.forbidden(
            `${p}.namespace`,
            `a SecretStore may only refer to its own namespace "${ctx.namespace}", not "${ns}"`,
          ),
        );
      }
    } else if (ns === undefined && kind === StoreKind.ClusterSecretStore) {
      errors.push(
        fieldErrors.required(
          `${p}.namespace`,
          'a ClusterSecretStore must say where the CA Secret or ConfigMap lives',
        ),
      );
    }
  }

  const tls = optObject(v.tls, `${path}.tls`, errors);
  if (tls) {
    const halves = presentKeys(tls, ['certSecretRef', 'keySecretRef']);
    if (halves.length === 1) {
      const missing = halves[0] === 'certSecretRef' ? 'keySecretRef' : 'certSecretRef';
      errors.push(
        fieldErrors.required(
          `${path}.tls.${missing}`,
          'client TLS needs both certSecretRef and keySecretRef',
        ),
      );
    }
    for (const h of halves)
      checkSecretKeySelector(tls[h], `${path}.tls.${h}`, errors, ctx, { requireKey: false });
  }

  const cas = optObject(v.checkAndSet, `${path}.checkAndSet`, errors);
  if (cas && optBoolean(cas.required, `${path}.checkAndSet.required`, errors) === true && version === 'v1') {
    errors.push(
      fieldErrors.forbidden(
        `${path}.checkAndSet.required`,
        'checkAndSet is not supported with Vault KV version v1',
      ),
    );
  }

  const auth = optObject(v.auth, `${path}.auth`, errors);
  if (auth) validateAuth(auth, `${path}.auth`, errors, ctx);
  return errors;
}

function validateAuth(
  auth: Record<string, unknown>,
  path: string,
  errors: FieldError[],
  ctx: StoreContext,
): void {
  optString(auth.namespace, `${path}.namespace`, errors);
  const methods = presentKeys(auth, VAULT_AUTH_METHODS);
  if (methods.length === 0) {
    errors.push(fieldErrors.required(path, `one auth method must be set: ${oneOfList(VAULT_AUTH_METHODS)}`));
    return;
  }
  if (methods.length > 1) {
    errors.push(
      fieldErrors.invalid(
        path,
        '<object>',
        `must have exactly one auth method, found ${methods.length}: ${methods.join(', ')}`,
      ),
    );
  }
  const sel = (value: unknown, p: string, requireKey = true) =>
    checkSecretKeySelector(value, p, errors, ctx, { requireKey });
  const sa = (value: unknown, p: string) => checkServiceAccountSelector(value, p, errors, ctx);

  if (auth.tokenSecretRef !== undefined && auth.tokenSecretRef !== null)
    sel(auth.tokenSecretRef, `${path}.tokenSecretRef`);

  const appRole = optObject(auth.appRole, `${path}.appRole`, errors);
  if (appRole) {
    const p = `${path}.appRole`;
    optString(appRole.path, `${p}.path`, errors);
    const roleId = optString(appRole.roleId, `${p}.roleId`, errors);
    if (!roleId) {
      if (appRole.roleRef === undefined || appRole.roleRef === null) {
        errors.push(
          fieldErrors.required(`${p}.roleId`, 'set roleId or roleRef (a Secret key holding the role ID)'),
        );
      } else sel(appRole.roleRef, `${p}.roleRef`);
    }
    sel(appRole.secretRef, `${p}.secretRef`);
  }

  const k8s = optObject(auth.kubernetes, `${path}.kubernetes`, errors);
  if (k8s) {
    const p = `${path}.kubernetes`;
    optString(k8s.mountPath, `${p}.mountPath`, errors);
    reqString(k8s.role, `${p}.role`, errors, 'the Vault role bound to the ServiceAccount');
    if (k8s.serviceAccountRef !== undefined && k8s.serviceAccountRef !== null)
      sa(k8s.serviceAccountRef, `${p}.serviceAccountRef`);
    if (k8s.secretRef !== undefined && k8s.secretRef !== null) sel(k8s.secretRef, `${p}.secretRef`, false);
  }

  for (const m of ['ldap', 'userPass'] as const) {
    const a = optObject(auth[m], `${path}.${m}`, errors);
    if (!a) continue;
    optString(a.path, `${path}.${m}.path`, errors);
    reqString(a.username, `${path}.${m}.username`, errors);
    // ESO reads the password from secretRef unconditionally: without it no login can succeed.
    if (a.secretRef === undefined || a.secretRef === null) {
      errors.push(fieldErrors.required(`${path}.${m}.secretRef`, 'the Secret key holding the password'));
    } else sel(a.secretRef, `${path}.${m}.secretRef`);
  }

  const jwt = optObject(auth.jwt, `${path}.jwt`, errors);
  if (jwt) {
    const p = `${path}.jwt`;
    optString(jwt.path, `${p}.path`, errors);
    optString(jwt.role, `${p}.role`, errors);
    const kst = optObject(jwt.kubernetesServiceAccountToken, `${p}.kubernetesServiceAccountToken`, errors);
    if (jwt.secretRef !== undefined && jwt.secretRef !== null) sel(jwt.secretRef, `${p}.secretRef`);
    else if (kst) sa(kst.serviceAccountRef, `${p}.kubernetesServiceAccountToken.serviceAccountRef`);
    else {
      errors.push(
        fieldErrors.required(
          `${p}.secretRef`,
          'set secretRef or kubernetesServiceAccountToken as the JWT source',
        ),
      );
    }
  }

  const cert = optObject(auth.cert, `${path}.cert`, errors);
  if (cert) {
    const p = `${path}.cert`;
    optString(cert.path, `${p}.path`, errors);
    optString(cert.vaultRole, `${p}.vaultRole`, errors);
    // ESO reads both unconditionally (tls.X509KeyPair of clientCert and the key in secretRef).
    for (const [f, what] of [
      ['clientCert', 'the Secret key holding the PEM client certificate'],
      ['secretRef', 'the Secret key holding its PEM private key'],
    ] as const) {
      if (cert[f] === undefined || cert[f] === null) errors.push(fieldErrors.required(`${p}.${f}`, what));
      else sel(cert[f], `${p}.${f}`);
    }
  }

  const iam = optObject(auth.iam, `${path}.iam`, errors);
  if (iam) {
    const p = `${path}.iam`;
    reqString(iam.vaultRole, `${p}.vaultRole`, errors, 'the Vault role to log in as');
    for (const f of ['path', 'region', 'role', 'externalID', 'vaultAwsIamServerID'] as const)
      optString(iam[f], `${p}.${f}`, errors);
    const ref = optObject(iam.secretRef, `${p}.secretRef`, errors);
    if (ref) {
      sel(ref.accessKeyIDSecretRef, `${p}.secretRef.accessKeyIDSecretRef`);
      sel(ref.secretAccessKeySecretRef, `${p}.secretRef.secretAccessKeySecretRef`);
      if (ref.sessionTokenSecretRef !== undefined && ref.sessionTokenSecretRef !== null) {
        sel(ref.sessionTokenSecretRef, `${p}.secretRef.sessionTokenSecretRef`);
      }
    }
    const j = optObject(iam.jwt, `${p}.jwt`, errors);
    if (j) {
      // ESO dereferences it: without it there is no ServiceAccount whose IRSA role to use.
      if (j.serviceAccountRef === undefined || j.serviceAccountRef === null) {
        errors.push(
          fieldErrors.required(`${p}.jwt.serviceAccountRef`, 'the ServiceAccount whose IRSA role to assume'),
        );
      } else sa(j.serviceAccountRef, `${p}.jwt.serviceAccountRef`);
    }
  }

  const gcp = optObject(auth.gcp, `${path}.gcp`, errors);
  if (gcp) {
    const p = `${path}.gcp`;
    reqString(gcp.role, `${p}.role`, errors, 'the Vault role to log in as');
    const ref = optObject(gcp.secretRef, `${p}.secretRef`, errors);
    if (ref) sel(ref.secretAccessKeySecretRef, `${p}.secretRef.secretAccessKeySecretRef`);
    const wi = optObject(gcp.workloadIdentity, `${p}.workloadIdentity`, errors);
    if (wi) sa(wi.serviceAccountRef, `${p}.workloadIdentity.serviceAccountRef`);
    if (gcp.serviceAccountRef !== undefined && gcp.serviceAccountRef !== null)
      sa(gcp.serviceAccountRef, `${p}.serviceAccountRef`);
  }
}
