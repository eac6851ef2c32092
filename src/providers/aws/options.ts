/**
 * Store spec -> AWS client options (the same for the Secrets Manager, SSM and ACM clients). Pure:
 * credentials are read by the caller and passed in, endpoints come from server configuration
 * (never from the object), so the mapping is tested without any SDK call.
 */
import type { SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import type { AwsProvider } from '../../api/types.ts';

export interface AwsStaticCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface AwsOptionsInput {
  spec: AwsProvider;
  /** From `auth.secretRef`; undefined means the default chain (IRSA, pod identity, instance role). */
  credentials?: AwsStaticCredentials | undefined;
  /** Server-configured endpoint override (tests, on-prem gateways). */
  endpoint?: string | undefined;
  maxAttempts: number;
  timeoutMs: number;
}

export interface AwsClientOptions {
  region: string;
  endpoint?: string;
  maxAttempts: number;
  requestHandler: { requestTimeout: number; connectionTimeout: number };
  credentials?: SecretsManagerClientConfig['credentials'];
}

export interface AwsRolePlan {
  roleArn: string;
  externalId?: string;
  sessionName: string;
  tags?: { Key: string; Value: string }[];
  transitiveTagKeys?: string[];
}

export function awsClientOptions(input: AwsOptionsInput): AwsClientOptions {
  const opts: AwsClientOptions = {
    region: input.spec.region ?? 'us-east-1',
    // Bounded: one attempt plus at most two retries, so a slow provider fails inside the deadline.
    maxAttempts: Math.max(1, input.maxAttempts),
    requestHandler: {
      requestTimeout: input.timeoutMs,
      connectionTimeout: Math.min(input.timeoutMs, 3_000),
    },
  };
  if (input.endpoint) opts.endpoint = input.endpoint;
  if (input.credentials) {
    opts.credentials = {
      accessKeyId: input.credentials.accessKeyId,
      secretAccessKey: input.credentials.secretAccessKey,
      ...(input.credentials.sessionToken ? { sessionToken: input.credentials.sessionToken } : {}),
    };
  }
  return opts;
}

/**
 * `spec.role` (+ `externalID`, `sessionTags`, `transitiveTagKeys`): the role assumed on top of
 * the base credentials.
 */
export function awsRolePlan(spec: AwsProvider, storeName: string): AwsRolePlan | undefined {
  if (!spec.role) return undefined;
  const tags = (spec.sessionTags ?? []).map((t) => ({ Key: t.key, Value: t.value }));
  return {
    roleArn: spec.role,
    ...(spec.externalID ? { externalId: spec.externalID } : {}),
    sessionName: sessionName(storeName),
    ...(tags.length ? { tags } : {}),
    ...(spec.transitiveTagKeys?.length ? { transitiveTagKeys: [...spec.transitiveTagKeys] } : {}),
  };
}

/**
 * Every role to assume, in order, as ESO chains them: each of `additionalRoles` on top of the
 * previous credentials, then `role` (the only one that carries externalID and session tags).
 */
export function awsRoleChain(spec: AwsProvider, storeName: string): AwsRolePlan[] {
  const chain: AwsRolePlan[] = (spec.additionalRoles ?? [])
    .filter((r) => r)
    .map((roleArn) => ({ roleArn, sessionName: sessionName(storeName) }));
  const main = awsRolePlan(spec, storeName);
  if (main) chain.push(main);
  return chain;
}

/** Visible in CloudTrail: which store assumed the role. */
function sessionName(storeName: string): string {
  return `esw-${storeName}`.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
}

/** ESO's `prefix`: prepended to every key this store reads. */
export function awsSecretId(spec: AwsProvider, key: string): string {
  return `${spec.prefix ?? ''}${key}`;
}

/**
 * ESO's version semantics: empty = AWSCURRENT; `uuid/<id>` = a VersionId; anything else is a
 * VersionStage (AWSCURRENT, AWSPREVIOUS, custom labels).
 */
export function versionSelector(version: string | undefined): { VersionId?: string; VersionStage?: string } {
  if (!version) return { VersionStage: 'AWSCURRENT' };
  if (version.startsWith('uuid/')) return { VersionId: version.slice('uuid/'.length) };
  return { VersionStage: version };
}
