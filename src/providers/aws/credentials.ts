/**
 * The credentials of an AWS store, in ESO's order (pkg/provider/aws/auth):
 * 1. `auth.secretRef`: static keys read from the store's Secret(s);
 * 2. no `auth`: the SDK's default chain — this server's own identity (IRSA of its pod, EKS Pod
 *    Identity, the instance role);
 * then each of `additionalRoles` and finally `role` is assumed on top (`fromTemporaryCredentials`),
 * each with the credentials of the previous step. Every service (Secrets Manager, Parameter
 * Store, Certificate Manager) gets its client from the same result.
 */
import type { SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
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
