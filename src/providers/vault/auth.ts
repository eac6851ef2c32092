/**
 * Vault auth methods, each as ESO 2.9 logs in (providers/v1/vault/auth_*.go): the request path,
 * its body and the defaults of each method. A method turns the store spec into a `LoginFn`,
 * called by the session (session.ts) only when a token is needed: credentials are read from
 * Secrets at login time, never earlier, so a rotated Secret is picked up by the next login.
 *
 * - tokenSecretRef: the token itself (trimmed).
 * - appRole: `auth/<path|approle>/login` {role_id, secret_id}.
 * - kubernetes: `auth/<mountPath|kubernetes>/login` {role, jwt}.
 * - userPass / ldap: `auth/<path|userpass|ldap>/login/<username>` {password} (the password as
 *   stored, not trimmed: Vault's own client sends it as given).
 * - jwt: `auth/<path|jwt>/login` {role, jwt}; the JWT from `secretRef`, or a TokenRequest token
 *   for `kubernetesServiceAccountToken` (audiences default ["vault"], expiry 600 s, as ESO).
 * - cert: `auth/<path|cert>/login` {name: vaultRole} over a connection presenting the client
 *   certificate `clientCert` with the private key `secretRef`.
 * - iam: `auth/<path|aws>/login` with a SigV4-signed sts:GetCallerIdentity request (iam.ts).
 *
 * Every login failure Vault reports with 400 (bad password, unknown role, invalid JWT) is a
 * denied login for the user: Forbidden. Vault's own error strings are never passed on.
 */
import tls from 'node:tls';
import type NodeVault from 'node-vault';
import type { SecretKeySelector, VaultProvider, VaultUserPassAuth } from '../../api/types.ts';
import { type ClientContext, ProviderError } from '../types.ts';
import { statusOf, vaultError } from './errors.ts';
import type { Login } from './session.ts';

export const FIELD = 'spec.provider.vault';

/** Per-request options of a login: a client certificate for `cert` auth. */
export interface LoginRequestOptions {
  cert?: string;
  key?: string;
}

export type LoginFn = (vault: NodeVault.client, headers: Record<string, string>) => Promise<Login>;

/** Injected for tests: the clock of the SigV4 signature. */
export interface AuthDeps {
  now: () => number;
}

export function authMethod(spec: VaultProvider, ctx: ClientContext, deps: AuthDeps): LoginFn {
  const auth = spec.auth ?? {};
  if (auth.tokenSecretRef) {
    const ref = auth.tokenSecretRef;
    return async () => ({
      token: (await ctx.readSecretKey(ref, `${FIELD}.auth.tokenSecretRef`)).trim(),
      leaseSeconds: 0,
      renewable: false,
    });
  }
  if (auth.appRole) {
    const { roleId, roleRef, secretRef } = auth.appRole;
    const mount = trimSlashes(auth.appRole.path) || 'approle';
    if (!secretRef) throw new ProviderError('Invalid', `vault: ${FIELD}.auth.appRole.secretRef is required`);
    if (!roleId && !roleRef) {
      throw new ProviderError('Invalid', `vault: ${FIELD}.auth.appRole needs roleId or roleRef`);
    }
    return async (vault, headers) => {
      const role_id =
        roleId || (await ctx.readSecretKey(roleRef as SecretKeySelector, `${FIELD}.auth.appRole.roleRef`));
      const secret_id = await ctx.readSecretKey(secretRef, `${FIELD}.auth.appRole.secretRef`);
      return login(
        vault,
        headers,
        loginPath(mount),
        { role_id: role_id.trim(), secret_id: secret_id.trim() },
        'approle',
      );
    };
  }
  if (auth.kubernetes) {
    const { role, secretRef, serviceAccountRef } = auth.kubernetes;
    const mount = trimSlashes(auth.kubernetes.mountPath) || 'kubernetes';
    if (!role) throw new ProviderError('Invalid', `vault: ${FIELD}.auth.kubernetes.role is required`);
    return async (vault, headers) => {
      let jwt: string;
      if (secretRef) {
        jwt = await ctx.readSecretKey(
          { ...secretRef, key: secretRef.key || 'token' },
          `${FIELD}.auth.kubernetes.secretRef`,
        );
      } else if (ctx.serviceAccountToken) {
        jwt = await ctx.serviceAccountToken({
          ...(serviceAccountRef?.name ? { name: serviceAccountRef.name } : {}),
          ...(serviceAccountRef?.namespace ? { namespace: serviceAccountRef.namespace } : {}),
          ...(serviceAccountRef?.audiences ? { audiences: serviceAccountRef.audiences } : {}),
        });
      } else {
        throw new ProviderError(
          'Invalid',
          'vault: kubernetes auth needs a service-account token and none is available',
        );
      }
      return login(vault, headers, loginPath(mount), { role, jwt: jwt.trim() }, 'kubernetes');
    };
  }
  if (auth.userPass) return passwordLogin(auth.userPass, 'userPass', 'userpass', ctx);
  if (auth.ldap) return passwordLogin(auth.ldap, 'ldap', 'ldap', ctx);
  if (auth.jwt) return jwtLogin(auth.jwt, ctx);
  if (auth.cert) return certLogin(auth.cert, ctx);
  if (auth.iam) {
    const iam = auth.iam;
    const mount = trimSlashes(iam.path) || 'aws';
    if (!iam.vaultRole) throw new ProviderError('Invalid', `vault: ${FIELD}.auth.iam.vaultRole is required`);
    return async (vault, headers) => {
      // The AWS SDK's credential providers load only for stores that log in with iam.
      const { iamLoginBody } = await import('./iam.ts');
      return login(vault, headers, loginPath(mount), await iamLoginBody(iam, ctx, deps.now), 'aws');
    };
  }
  if ((auth as Record<string, unknown>).gcp !== undefined) {
    throw new ProviderError(
      'Invalid',
      'vault: auth method "gcp" is not supported (use tokenSecretRef, appRole, kubernetes, userPass, ldap, jwt, cert or iam)',
    );
  }
  throw new ProviderError(
    'Invalid',
    `vault: ${FIELD}.auth needs one of tokenSecretRef, appRole, kubernetes, userPass, ldap, jwt, cert or iam`,
  );
}

function passwordLogin(
  spec: VaultUserPassAuth,
  field: 'userPass' | 'ldap',
  defaultMount: string,
  ctx: ClientContext,
): LoginFn {
  const username = (spec.username ?? '').trim();
  if (!username) throw new ProviderError('Invalid', `vault: ${FIELD}.auth.${field}.username is required`);
  const secretRef = spec.secretRef;
  if (!secretRef) throw new ProviderError('Invalid', `vault: ${FIELD}.auth.${field}.secretRef is required`);
  const mount = trimSlashes(spec.path) || defaultMount;
  return async (vault, headers) => {
    const password = await ctx.readSecretKey(secretRef, `${FIELD}.auth.${field}.secretRef`);
    return login(
      vault,
      headers,
      `${loginPath(mount)}/${encodeURIComponent(username)}`,
      { password },
      defaultMount,
    );
  };
}

function jwtLogin(spec: NonNullable<NonNullable<VaultProvider['auth']>['jwt']>, ctx: ClientContext): LoginFn {
  const mount = trimSlashes(spec.path) || 'jwt';
  const role = (spec.role ?? '').trim();
  const { secretRef, kubernetesServiceAccountToken: kst } = spec;
  if (!secretRef && !kst) {
    throw new ProviderError(
      'Invalid',
      `vault: ${FIELD}.auth.jwt needs secretRef or kubernetesServiceAccountToken as the token source`,
    );
  }
  return async (vault, headers) => {
    let jwt: string;
    if (secretRef) {
      jwt = await ctx.readSecretKey(secretRef, `${FIELD}.auth.jwt.secretRef`);
    } else {
      const sa = kst?.serviceAccountRef;
      if (!sa?.name || !ctx.serviceAccountToken) {
        throw new ProviderError(
          'Invalid',
          `vault: ${FIELD}.auth.jwt.kubernetesServiceAccountToken needs serviceAccountRef.name and a service-account token source`,
        );
      }
      // ESO: the ServiceAccount's own audiences, then the token's (default ["vault"]); 10 minutes.
      jwt = await ctx.serviceAccountToken({
        name: sa.name,
        ...(sa.namespace ? { namespace: sa.namespace } : {}),
        audiences: [...(sa.audiences ?? []), ...(kst?.audiences ?? ['vault'])],
        expirationSeconds: kst?.expirationSeconds ?? 600,
      });
    }
    // A JWT has no whitespace: a trailing newline from `kubectl create secret --from-file` goes.
    return login(vault, headers, loginPath(mount), { role, jwt: jwt.trim() }, 'jwt');
  };
}

function certLogin(
  spec: NonNullable<NonNullable<VaultProvider['auth']>['cert']>,
  ctx: ClientContext,
): LoginFn {
  const mount = trimSlashes(spec.path) || 'cert';
  const { clientCert, secretRef } = spec;
  if (!clientCert || !secretRef) {
    throw new ProviderError(
      'Invalid',
      `vault: ${FIELD}.auth.cert needs clientCert (the certificate) and secretRef (its private key)`,
    );
  }
  return async (vault, headers) => {
    const key = await ctx.readSecretKey(secretRef, `${FIELD}.auth.cert.secretRef`);
    const cert = await ctx.readSecretKey(clientCert, `${FIELD}.auth.cert.clientCert`);
    checkKeyPair(cert, key, `${FIELD}.auth.cert`, 'clientCert and secretRef');
    const body: Record<string, string> = spec.vaultRole ? { name: spec.vaultRole } : {};
    return login(vault, headers, loginPath(mount), body, 'cert', { cert, key });
  };
}

/**
 * Throws Invalid unless `cert` and `key` are a PEM certificate and its private key (ESO's
 * tls.X509KeyPair). OpenSSL's message is not passed on: it may quote the input.
 */
export function checkKeyPair(cert: string, key: string, field: string, what: string): void {
  try {
    tls.createSecureContext({ cert, key });
  } catch {
    throw new ProviderError(
      'Invalid',
      `vault: ${field}: ${what} are not a PEM certificate and its matching private key`,
    );
  }
}

export async function login(
  vault: NodeVault.client,
  headers: Record<string, string>,
  path: string,
  body: Record<string, string>,
  method: string,
  requestOptions: LoginRequestOptions = {},
): Promise<Login> {
  const subject = `login with ${method} at ${path.replace(/\/login(\/.*)?$/, '')}`;
  try {
    return loginOf(await vault.write(path, body, { ...requestOptions, headers: { ...headers } }), subject);
  } catch (err: unknown) {
    const status = statusOf(err);
    // Vault answers bad credentials with 400 (AppRole, userpass, ldap, jwt, cert, aws): for the
    // user it is a denied login.
    if (status === 400) throw new ProviderError('Forbidden', `vault: ${subject}: rejected (HTTP 400)`);
    throw vaultError(err, subject);
  }
}

export function loginOf(body: unknown, subject: string): Login {
  const auth = asObject(asObject(body)?.auth);
  const token = auth?.client_token;
  if (typeof token !== 'string' || token === '') {
    throw new ProviderError('Unavailable', `vault: ${subject}: no client_token in the response`);
  }
  const lease = Number(auth?.lease_duration ?? 0);
  return {
    token,
    leaseSeconds: Number.isFinite(lease) && lease > 0 ? lease : 0,
    renewable: auth?.renewable === true,
  };
}

/** `auth/<mount>/login`, each segment of the mount URL-encoded. */
function loginPath(mount: string): string {
  return `auth/${mount.split('/').map(encodeURIComponent).join('/')}/login`;
}

export function trimSlashes(s: string | undefined): string {
  return (s ?? '').replace(/^\/+|\/+$/g, '');
}

export function asObject(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}
