/**
 * The credentials of an AWS store, in ESO's order (pkg/provider/aws/auth):
 * 1. `auth.jwt.serviceAccountRef` (per-store IRSA): a TokenRequest token for that ServiceAccount
 *    (audience its `eks.amazonaws.com/audience` annotation or `sts.amazonaws.com`, then
 *    `serviceAccountRef.audiences`), exchanged by AssumeRoleWithWebIdentity for the role in its
 *    `eks.amazonaws.com/role-arn` annotation, through the SDK's own `fromWebToken`;
 * 2. `auth.secretRef`: static keys read from the store's Secret(s);
 * 3. no `auth`: the SDK's default chain — this server's own identity (IRSA of its pod, EKS Pod
 *    Identity, the instance role);
 * then each of `additionalRoles` and finally `role` is assumed on top (`fromTemporaryCredentials`),
 * each with the credentials of the previous step. Every service (Secrets Manager, Parameter
 * Store, Certificate Manager) gets its client from the same result.
 */
import type { SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import { fromTemporaryCredentials, fromWebToken } from '@aws-sdk/credential-providers';
import type { AwsProvider } from '../../api/types.ts';
import { type ClientContext, ProviderError } from '../types.ts';
import { type AwsStaticCredentials, awsRoleChain } from './options.ts';

export const FIELD = 'spec.provider.aws';

/** Static keys or a provider the SDK calls (and memoises until near expiry). */
export type AwsCredentials = NonNullable<SecretsManagerClientConfig['credentials']>;

export interface AwsCredentialSettings {
  region: string;
  maxAttempts: number;
  timeoutMs: number;
}

/**
 * The store's credentials after its role chain; undefined means the SDK's default chain.
 * `base` is what `auth` gave (static keys, or undefined for the default chain).
 */
export function withRoleChain(
  spec: AwsProvider,
  ctx: ClientContext,
  base: AwsCredentials | undefined,
  settings: AwsCredentialSettings,
): AwsCredentials | undefined {
  let credentials = base;
  for (const role of awsRoleChain(spec, ctx.store.name)) {
    credentials = fromTemporaryCredentials({
      params: {
        RoleArn: role.roleArn,
        RoleSessionName: role.sessionName,
        ...(role.externalId ? { ExternalId: role.externalId } : {}),
        ...(role.tags ? { Tags: role.tags } : {}),
        ...(role.transitiveTagKeys ? { TransitiveTagKeys: role.transitiveTagKeys } : {}),
      },
      ...(credentials ? { masterCredentials: credentials } : {}),
      clientConfig: stsClientConfig(ctx, settings),
    });
  }
  return credentials;
}

/** The STS client's settings: the store's region, bounded retries and timeouts, test endpoint. */
export function stsClientConfig(ctx: ClientContext, settings: AwsCredentialSettings) {
  return {
    region: settings.region,
    maxAttempts: settings.maxAttempts,
    requestHandler: {
      requestTimeout: settings.timeoutMs,
      connectionTimeout: Math.min(settings.timeoutMs, 3_000),
    },
    ...(ctx.endpoints.awsSts ? { endpoint: ctx.endpoints.awsSts } : {}),
  };
}

/** `auth.secretRef`: both keys required, the session token optional, whitespace trimmed. */
export async function staticCredentials(
  spec: AwsProvider,
  ctx: ClientContext,
): Promise<AwsStaticCredentials | undefined> {
  const ref = spec.auth?.secretRef;
  if (!ref?.accessKeyIDSecretRef && !ref?.secretAccessKeySecretRef) return undefined;
  if (!ref.accessKeyIDSecretRef || !ref.secretAccessKeySecretRef) {
    throw new ProviderError(
      'Invalid',
      `aws: ${FIELD}.auth.secretRef needs both accessKeyIDSecretRef and secretAccessKeySecretRef`,
    );
  }
  const base = `${FIELD}.auth.secretRef`;
  const creds: AwsStaticCredentials = {
    accessKeyId: (await ctx.readSecretKey(ref.accessKeyIDSecretRef, `${base}.accessKeyIDSecretRef`)).trim(),
    secretAccessKey: (
      await ctx.readSecretKey(ref.secretAccessKeySecretRef, `${base}.secretAccessKeySecretRef`)
    ).trim(),
  };
  if (ref.sessionTokenSecretRef?.name) {
    creds.sessionToken = (
      await ctx.readSecretKey(ref.sessionTokenSecretRef, `${base}.sessionTokenSecretRef`)
    ).trim();
  }
  return creds;
}

/** The annotations ESO (and the EKS pod identity webhook) read from a ServiceAccount. */
export const IRSA_ROLE_ANNOTATION = 'eks.amazonaws.com/role-arn';
export const IRSA_AUDIENCE_ANNOTATION = 'eks.amazonaws.com/audience';
/** The audience AWS's OIDC providers expect by default. */
export const IRSA_DEFAULT_AUDIENCE = 'sts.amazonaws.com';
/** ESO's session name for per-store IRSA. */
export const IRSA_SESSION_NAME = 'external-secrets-provider-aws';

/**
 * `auth.jwt.serviceAccountRef`: a credential provider that, whenever the SDK needs credentials
 * (first use, then near their expiry: the client memoises them), takes a ServiceAccount token
 * (TokenRequest, cached by the Kubernetes layer until near its own expiry) and exchanges it with
 * the SDK's `fromWebToken`. The ServiceAccount is read once, when the client is built.
 */
export async function webIdentityCredentials(
  spec: AwsProvider,
  ctx: ClientContext,
  settings: AwsCredentialSettings,
): Promise<AwsCredentials | undefined> {
  const jwt = spec.auth?.jwt;
  if (!jwt) return undefined;
  const field = `${FIELD}.auth.jwt.serviceAccountRef`;
  const sel = jwt.serviceAccountRef;
  // No ServiceAccount named: "the SA of the running pod", i.e. this server's own IRSA through
  // the default chain, which the caller allows only where the ambient identity is allowed.
  if (!sel?.name) return undefined;
  const getToken = ctx.serviceAccountToken;
  if (!ctx.serviceAccountAnnotations || !getToken) {
    throw new ProviderError('Invalid', `aws: ${field}: ServiceAccounts cannot be read here`);
  }
  const annotations = await ctx.serviceAccountAnnotations(sel, field);
  const where = `ServiceAccount "${sel.namespace ?? ctx.store.namespace ?? ''}/${sel.name}"`;
  const roleArn = annotations[IRSA_ROLE_ANNOTATION]?.trim();
  if (!roleArn) {
    throw new ProviderError(
      'Invalid',
      `aws: ${field}: ${where} has no ${IRSA_ROLE_ANNOTATION} annotation; an IAM role must be associated with it (as ESO requires)`,
    );
  }
  const audiences = [
    annotations[IRSA_AUDIENCE_ANNOTATION]?.trim() || IRSA_DEFAULT_AUDIENCE,
    ...(sel.audiences ?? []),
  ];
  const clientConfig = stsClientConfig(ctx, settings);
  return async (props) => {
    const token = await getToken({
      name: sel.name,
      ...(sel.namespace ? { namespace: sel.namespace } : {}),
      audiences,
    });
    return fromWebToken({
      roleArn,
      roleSessionName: IRSA_SESSION_NAME,
      webIdentityToken: token,
      clientConfig,
    })(props);
  };
}
