/**
 * Store spec -> Key Vault client options and a credential plan. Pure: credential values are read
 * by the caller and passed in, overrides (test CA, challenge verification, authority host) come
 * from server configuration, never from the object, so the mapping is tested without any SDK call.
 */
import type { SecretClientOptions } from '@azure/keyvault-secrets';
import type { AzureKvProvider } from '../../api/types.ts';
import type { EndpointOverrides } from '../types.ts';
import { usesNewSdk } from './objects.ts';
import { boundedHttpClient } from './transport.ts';

/** Authority (Entra ID login) host and Key Vault DNS suffix per `environmentType`, as in ESO. */
export const AZURE_CLOUDS = {
  PublicCloud: { authorityHost: 'https://login.microsoftonline.com', keyVaultSuffix: 'vault.azure.net' },
  USGovernmentCloud: {
    authorityHost: 'https://login.microsoftonline.us',
    keyVaultSuffix: 'vault.usgovcloudapi.net',
  },
  ChinaCloud: { authorityHost: 'https://login.chinacloudapi.cn', keyVaultSuffix: 'vault.azure.cn' },
  GermanCloud: {
    authorityHost: 'https://login.microsoftonline.de',
    keyVaultSuffix: 'vault.microsoftazure.de',
  },
} as const;
export type AzureCloud = keyof typeof AZURE_CLOUDS;

/** The audience a Kubernetes token must carry to be exchanged by Entra workload identity. */
export const AZURE_TOKEN_EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';

export interface AzureKvOptionsInput {
  spec: AzureKvProvider;
  endpoints: EndpointOverrides;
  maxAttempts: number;
  timeoutMs: number;
}

export interface AzureKvClientOptions {
  vaultUrl: string;
  cloud: AzureKvProvider['environmentType'] & string;
  /** Where credentials get their tokens; an override from server config wins. */
  authorityHost: string;
  /**
   * An authority outside Azure's public clouds (customCloudConfig): MSAL's instance discovery,
   * which asks login.microsoftonline.com about it, is skipped (a disconnected Azure Stack has
   * no such endpoint; the store names its authority itself).
   */
  customAuthority: boolean;
  /** The scope the vault's challenge is expected to name (`https://<suffix>/.default`), if known. */
  scope: string | undefined;
  /** Options shared by the secret, key and certificate clients. */
  client: Omit<SecretClientOptions, 'serviceVersion'>;
  /** Per-request timeout, passed with every call. */
  requestTimeoutMs: number;
  /** `useAzureSDK: true`: the shapes of ESO's Azure SDK for Go (see objects.ts). */
  newSdk: boolean;
}

/**
 * Throws Error with a field message for what ESO's client refuses: AzureStackCloud without
 * customCloudConfig, customCloudConfig without useAzureSDK, GermanCloud with the new SDK
 * (ESO: "Azure Germany … was discontinued"), an authority that is not https.
 */
export function azureKvClientOptions(input: AzureKvOptionsInput): AzureKvClientOptions {
  const spec = input.spec;
  const env = spec.environmentType ?? 'PublicCloud';
  const custom = spec.customCloudConfig;
  const newSdk = usesNewSdk(spec);
  if (custom && !newSdk) {
    throw new Error(
      'customCloudConfig requires useAzureSDK: true (the legacy SDK does not support custom clouds)',
    );
  }
  if (env === 'AzureStackCloud' && !custom) {
    throw new Error('environmentType AzureStackCloud needs customCloudConfig');
  }
  if (env === 'GermanCloud' && newSdk) {
    throw new Error(
      'environmentType GermanCloud: Microsoft Cloud Deutschland was discontinued on 2021-10-29 and useAzureSDK: true has no endpoints for it; use AzureStackCloud with customCloudConfig, or a public cloud',
    );
  }
  let authorityHost: string;
  let scope: string | undefined;
  if (custom) {
    authorityHost = checkAuthority(custom.activeDirectoryEndpoint);
    const suffix = custom.keyVaultDNSSuffix?.replace(/^\.+/, '');
    scope = env === 'AzureStackCloud' ? (suffix ? `https://${suffix}/.default` : undefined) : undefined;
  } else {
    authorityHost = AZURE_CLOUDS[env as AzureCloud].authorityHost;
  }
  if (scope === undefined && env !== 'AzureStackCloud') {
    scope = `https://${AZURE_CLOUDS[env as AzureCloud].keyVaultSuffix}/.default`;
  }
  const vaultUrl = (spec.vaultUrl ?? '').trim();
  if (!vaultUrl) throw new Error('vaultUrl is required');
  const client: Omit<SecretClientOptions, 'serviceVersion'> = {
    // Bounded: the SDK's default is 3 retries with up to 64 s between them.
    retryOptions: {
      maxRetries: Math.max(0, input.maxAttempts - 1),
      retryDelayInMs: 200,
      maxRetryDelayInMs: Math.max(200, Math.min(input.timeoutMs, 2_000)),
    },
    // Azure SDK logging may print URLs and headers; keep secret names out of telemetry too.
    userAgentOptions: { userAgentPrefix: 'external-secrets-webhook' },
    // vaultUrl is the store author's choice: every answer is bounded in size.
    httpClient: boundedHttpClient(),
  };
  if (input.endpoints.azureCa) client.tlsOptions = { ca: input.endpoints.azureCa };
  if (input.endpoints.azureDisableChallengeResourceVerification) {
    client.disableChallengeResourceVerification = true;
  }
  return {
    vaultUrl,
    cloud: env,
    authorityHost: input.endpoints.azureAuthorityHost ?? authorityHost,
    customAuthority: custom !== undefined,
    scope,
    client,
    requestTimeoutMs: input.timeoutMs,
    newSdk,
  };
}

/** The Azure SDKs take an authority only over https (azidentity refuses anything else). */
export function checkAuthority(endpoint: string | undefined): string {
  const raw = (endpoint ?? '').trim();
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error('customCloudConfig.activeDirectoryEndpoint must be an https URL');
  }
  if (url.protocol !== 'https:' || url.username || url.password) {
    throw new Error('customCloudConfig.activeDirectoryEndpoint must be an https URL without credentials');
  }
  return raw;
}

/** What the credential is built from; values are read by the caller (ctx.readSecretKey). */
export type AzureCredentialPlan =
  | { type: 'ClientSecret'; tenantId: string; clientId: string; clientSecret: string }
  | { type: 'ClientCertificate'; tenantId: string; clientId: string; certificatePem: string }
  | { type: 'ManagedIdentity'; clientId?: string; resourceId?: string }
  | {
      type: 'WorkloadIdentity';
      tenantId: string;
      clientId: string;
      serviceAccount: { name?: string; namespace?: string };
      /** `api://AzureADTokenExchange`, then serviceAccountRef.audiences (ESO appends them). */
      audiences: string[];
    };

/** The annotations azure-workload-identity (and ESO) read from a ServiceAccount. */
export const WI_CLIENT_ID_ANNOTATION = 'azure.workload.identity/client-id';
export const WI_TENANT_ID_ANNOTATION = 'azure.workload.identity/tenant-id';

export interface AzureCredentialInputs {
  clientId?: string | undefined;
  clientSecret?: string | undefined;
  clientCertificate?: string | undefined;
  /** From `authSecretRef.tenantId`. */
  tenantId?: string | undefined;
  /**
   * The named ServiceAccount's `azure.workload.identity/client-id` and `tenant-id` annotations
   * (WorkloadIdentity with serviceAccountRef), read as ESO reads them.
   */
  saClientId?: string | undefined;
  saTenantId?: string | undefined;
  /** This server's own workload identity (AZURE_CLIENT_ID / AZURE_TENANT_ID), used as ESO does. */
  ownClientId?: string | undefined;
  ownTenantId?: string | undefined;
}

/** Spec + read credential values -> the credential to build. Throws Error with a field message. */
export function azureCredentialPlan(
  spec: AzureKvProvider,
  creds: AzureCredentialInputs,
): AzureCredentialPlan {
  const authType = spec.authType ?? 'ServicePrincipal';
  const tenantId = spec.tenantId || creds.tenantId;
  if (authType === 'ManagedIdentity') {
    const id = spec.identityId?.trim();
    if (!id) return { type: 'ManagedIdentity' };
    // A user-assigned identity is named by client ID or by its ARM resource ID.
    return id.startsWith('/subscriptions/')
      ? { type: 'ManagedIdentity', resourceId: id }
      : { type: 'ManagedIdentity', clientId: id };
  }
  if (authType === 'WorkloadIdentity') {
    const named = spec.serviceAccountRef?.name;
    // Explicit fields first, then the ServiceAccount's annotations (ESO's order); both set and
    // different is refused, as ESO refuses a second client or tenant ID.
    if (named && creds.clientId && creds.saClientId && creds.clientId !== creds.saClientId) {
      throw new Error(
        `authSecretRef.clientId and the ServiceAccount annotation ${WI_CLIENT_ID_ANNOTATION} name different client IDs: set one`,
      );
    }
    if (named && tenantId && creds.saTenantId && tenantId !== creds.saTenantId) {
      throw new Error(
        `tenantId (or authSecretRef.tenantId) and the ServiceAccount annotation ${WI_TENANT_ID_ANNOTATION} name different tenants: set one`,
      );
    }
    const clientId = creds.clientId || (named ? creds.saClientId : creds.ownClientId);
    const tenant = tenantId || (named ? creds.saTenantId : creds.ownTenantId);
    if (!clientId) {
      throw new Error(
        named
          ? `authType WorkloadIdentity needs a client ID: set authSecretRef.clientId or the ServiceAccount annotation ${WI_CLIENT_ID_ANNOTATION}`
          : 'authType WorkloadIdentity needs a client ID: set authSecretRef.clientId',
      );
    }
    if (!tenant) {
      throw new Error(
        named
          ? `authType WorkloadIdentity needs a tenant: set tenantId, authSecretRef.tenantId or the ServiceAccount annotation ${WI_TENANT_ID_ANNOTATION}`
          : 'authType WorkloadIdentity needs tenantId or authSecretRef.tenantId',
      );
    }
    return {
      type: 'WorkloadIdentity',
      tenantId: tenant,
      clientId,
      serviceAccount: {
        ...(named ? { name: named } : {}),
        ...(spec.serviceAccountRef?.namespace ? { namespace: spec.serviceAccountRef.namespace } : {}),
      },
      audiences: [AZURE_TOKEN_EXCHANGE_AUDIENCE, ...(spec.serviceAccountRef?.audiences ?? [])],
    };
  }
  if (!tenantId) throw new Error('authType ServicePrincipal needs tenantId');
  if (!creds.clientId) throw new Error('authType ServicePrincipal needs authSecretRef.clientId');
  if (creds.clientSecret && creds.clientCertificate) {
    throw new Error('authSecretRef: set clientSecret or clientCertificate, not both');
  }
  if (creds.clientCertificate) {
    return {
      type: 'ClientCertificate',
      tenantId,
      clientId: creds.clientId,
      certificatePem: creds.clientCertificate,
    };
  }
  if (!creds.clientSecret) throw new Error('authType ServicePrincipal needs authSecretRef.clientSecret');
  return { type: 'ClientSecret', tenantId, clientId: creds.clientId, clientSecret: creds.clientSecret };
}
