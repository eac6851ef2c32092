/**
 * Types of the External Secrets Operator resources (external-secrets.io v1 and v1beta1) and of
 * the core Kubernetes objects this project touches. Written once, shared by validation,
 * admission, the resolver and the refresher. Fields follow the ESO Go types; everything is
 * optional because input comes from users and is validated before it is trusted.
 */

export const GROUP = 'external-secrets.io';
export const API_VERSIONS = ['external-secrets.io/v1', 'external-secrets.io/v1beta1'] as const;

export const StoreKind = { SecretStore: 'SecretStore', ClusterSecretStore: 'ClusterSecretStore' } as const;
export type StoreKind = (typeof StoreKind)[keyof typeof StoreKind];

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  managedFields?: unknown[];
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

export interface Secret extends KubeObject {
  type?: string;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  immutable?: boolean;
}

export interface Namespace extends KubeObject {}

export interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
  immutable?: boolean;
}

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

/** A reference to a key of a Kubernetes Secret (`auth.secretRef.*`). */
export interface SecretKeySelector {
  name?: string;
  key?: string;
  namespace?: string;
}

export interface ServiceAccountSelector {
  name?: string;
  namespace?: string;
  audiences?: string[];
}

// ---------------------------------------------------------------- providers

export interface AwsProvider {
  service?: 'SecretsManager' | 'ParameterStore' | 'CertificateManager';
  region?: string;
  role?: string;
  externalID?: string;
  additionalRoles?: string[];
  sessionTags?: { key: string; value: string }[];
  transitiveTagKeys?: string[];
  prefix?: string;
  secretsManager?: { forceDeleteWithoutRecovery?: boolean; recoveryWindowInDays?: number };
  auth?: {
    secretRef?: {
      accessKeyIDSecretRef?: SecretKeySelector;
      secretAccessKeySecretRef?: SecretKeySelector;
      sessionTokenSecretRef?: SecretKeySelector;
    };
    jwt?: { serviceAccountRef?: ServiceAccountSelector };
  };
}

export interface AzureKvProvider {
  vaultUrl?: string;
  tenantId?: string;
  environmentType?: 'PublicCloud' | 'USGovernmentCloud' | 'ChinaCloud' | 'GermanCloud' | 'AzureStackCloud';
  authType?: 'ServicePrincipal' | 'ManagedIdentity' | 'WorkloadIdentity';
  authSecretRef?: {
    clientId?: SecretKeySelector;
    clientSecret?: SecretKeySelector;
    clientCertificate?: SecretKeySelector;
    tenantId?: SecretKeySelector;
  };
  serviceAccountRef?: ServiceAccountSelector;
  identityId?: string;
  /** ESO's choice between its two Azure SDKs for Go; shapes keys and metadata (azurekv/objects.ts). */
  useAzureSDK?: boolean;
  customCloudConfig?: AzureCustomCloudConfig;
}

export interface AzureCustomCloudConfig {
  activeDirectoryEndpoint?: string;
  keyVaultEndpoint?: string;
  keyVaultDNSSuffix?: string;
  resourceManagerEndpoint?: string;
}

export interface GcpSmProvider {
  projectID?: string;
  location?: string;
  auth?: {
    secretRef?: { secretAccessKeySecretRef?: SecretKeySelector };
    workloadIdentity?: {
      serviceAccountRef?: ServiceAccountSelector;
      clusterLocation?: string;
      clusterName?: string;
      clusterProjectID?: string;
    };
    workloadIdentityFederation?: {
      audience?: string;
      serviceAccountRef?: ServiceAccountSelector;
      awsSecurityCredentials?: {
        awsCredentialsSecretRef?: { name?: string; namespace?: string };
        region?: string;
      };
      credConfig?: { name?: string; key?: string; namespace?: string };
      externalTokenEndpoint?: string;
      gcpServiceAccountEmail?: string;
    };
  };
}

export interface VaultProvider {
  server?: string;
  path?: string;
  version?: 'v1' | 'v2';
  namespace?: string;
  caBundle?: string;
  caProvider?: { type?: 'Secret' | 'ConfigMap'; name?: string; key?: string; namespace?: string };
  readYourWrites?: boolean;
  forwardInconsistent?: boolean;
  /** Extra headers on every request (auth and transport headers are refused). */
  headers?: Record<string, string>;
  /** Client certificate for mutual TLS (keys default to tls.crt / tls.key). */
  tls?: { certSecretRef?: SecretKeySelector; keySecretRef?: SecretKeySelector };
  auth?: {
    /** Vault namespace of the login, when it differs from `namespace`. */
    namespace?: string;
    tokenSecretRef?: SecretKeySelector;
    appRole?: {
      path?: string;
      roleId?: string;
      roleRef?: SecretKeySelector;
      secretRef?: SecretKeySelector;
    };
    kubernetes?: {
      mountPath?: string;
      role?: string;
      serviceAccountRef?: ServiceAccountSelector;
      secretRef?: SecretKeySelector;
    };
    ldap?: VaultUserPassAuth;
    userPass?: VaultUserPassAuth;
    jwt?: {
      path?: string;
      role?: string;
      secretRef?: SecretKeySelector;
      kubernetesServiceAccountToken?: {
        serviceAccountRef?: ServiceAccountSelector;
        audiences?: string[];
        expirationSeconds?: number;
      };
    };
    cert?: {
      path?: string;
      vaultRole?: string;
      clientCert?: SecretKeySelector;
      secretRef?: SecretKeySelector;
    };
    iam?: {
      path?: string;
      region?: string;
      /** An AWS role to assume before logging in. */
      role?: string;
      vaultRole?: string;
      externalID?: string;
      vaultAwsIamServerID?: string;
      secretRef?: {
        accessKeyIDSecretRef?: SecretKeySelector;
        secretAccessKeySecretRef?: SecretKeySelector;
        sessionTokenSecretRef?: SecretKeySelector;
      };
      jwt?: { serviceAccountRef?: ServiceAccountSelector };
    };
    gcp?: unknown;
  };
}

/** Vault `ldap` and `userPass` logins: a username and a password Secret. */
export interface VaultUserPassAuth {
  path?: string;
  username?: string;
  secretRef?: SecretKeySelector;
}

export interface FakeProvider {
  data?: { key?: string; value?: string; valueMap?: Record<string, string>; version?: string }[];
}

export interface SecretStoreProvider {
  aws?: AwsProvider;
  azurekv?: AzureKvProvider;
  gcpsm?: GcpSmProvider;
  vault?: VaultProvider;
  fake?: FakeProvider;
  [other: string]: unknown;
}

export interface ClusterSecretStoreCondition {
  namespaceSelector?: LabelSelector;
  namespaces?: string[];
  namespaceRegexes?: string[];
}

export interface SecretStoreSpec {
  controller?: string;
  provider?: SecretStoreProvider;
  retrySettings?: { maxRetries?: number; retryInterval?: string };
  refreshInterval?: number;
  conditions?: ClusterSecretStoreCondition[];
}

export interface SecretStore extends KubeObject {
  spec?: SecretStoreSpec;
  status?: Record<string, unknown>;
}

// ---------------------------------------------------------------- ExternalSecret

export const DecodingStrategy = {
  None: 'None',
  Base64: 'Base64',
  Base64URL: 'Base64URL',
  Auto: 'Auto',
} as const;
export type DecodingStrategy = (typeof DecodingStrategy)[keyof typeof DecodingStrategy];
export const ConversionStrategy = { Default: 'Default', Unicode: 'Unicode' } as const;
export type ConversionStrategy = (typeof ConversionStrategy)[keyof typeof ConversionStrategy];

export interface RemoteRef {
  key?: string;
  property?: string;
  version?: string;
  metadataPolicy?: 'None' | 'Fetch';
  conversionStrategy?: ConversionStrategy;
  decodingStrategy?: DecodingStrategy;
}

export interface FindRef {
  path?: string;
  name?: { regexp?: string };
  tags?: Record<string, string>;
  conversionStrategy?: ConversionStrategy;
  decodingStrategy?: DecodingStrategy;
}

export interface StoreSourceRef {
  storeRef?: { name?: string; kind?: StoreKind };
  generatorRef?: { apiVersion?: string; kind?: string; name?: string };
}

export interface Rewrite {
  regexp?: { source?: string; target?: string };
  transform?: { template?: string };
  merge?: unknown;
}

export interface ExternalSecretData {
  secretKey?: string;
  remoteRef?: RemoteRef;
  sourceRef?: StoreSourceRef;
}

export interface ExternalSecretDataFrom {
  extract?: RemoteRef;
  find?: FindRef;
  rewrite?: Rewrite[];
  sourceRef?: StoreSourceRef;
}

export interface TemplateFrom {
  configMap?: { name?: string; items?: { key?: string; templateAs?: 'Values' | 'KeysAndValues' }[] };
  secret?: { name?: string; items?: { key?: string; templateAs?: 'Values' | 'KeysAndValues' }[] };
  target?: 'Data' | 'Annotations' | 'Labels';
  literal?: string;
}

export interface ExternalSecretTemplate {
  type?: string;
  engineVersion?: 'v1' | 'v2';
  mergePolicy?: 'Replace' | 'Merge';
  metadata?: { annotations?: Record<string, string>; labels?: Record<string, string> };
  data?: Record<string, string>;
  templateFrom?: TemplateFrom[];
}

export const CreationPolicy = {
  Owner: 'Owner',
  Orphan: 'Orphan',
  Merge: 'Merge',
  None: 'None',
  CreateOrMerge: 'CreateOrMerge',
} as const;
export type CreationPolicy = (typeof CreationPolicy)[keyof typeof CreationPolicy];
export const DeletionPolicy = { Delete: 'Delete', Merge: 'Merge', Retain: 'Retain' } as const;
export type DeletionPolicy = (typeof DeletionPolicy)[keyof typeof DeletionPolicy];
export const RefreshPolicy = {
  CreatedOnce: 'CreatedOnce',
  Periodic: 'Periodic',
  OnChange: 'OnChange',
} as const;
export type RefreshPolicy = (typeof RefreshPolicy)[keyof typeof RefreshPolicy];

export interface ExternalSecretTarget {
  name?: string;
  creationPolicy?: CreationPolicy;
  deletionPolicy?: DeletionPolicy;
  template?: ExternalSecretTemplate;
  immutable?: boolean;
  /** A generic target (ESO 2.9): the kind written instead of a Secret. */
  manifest?: { apiVersion?: string; kind?: string };
}

export interface ExternalSecretSpec {
  secretStoreRef?: { name?: string; kind?: StoreKind };
  target?: ExternalSecretTarget;
  refreshInterval?: string;
  refreshPolicy?: RefreshPolicy;
  /** ESO 2.9: when periodic refreshes may run (src/api/sync-windows.ts). */
  syncWindows?: { kind?: string; windows?: { schedule?: string; duration?: string }[] };
  data?: ExternalSecretData[];
  dataFrom?: ExternalSecretDataFrom[];
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface ExternalSecretStatus {
  refreshTime?: string;
  syncedResourceVersion?: string;
  conditions?: Condition[];
  binding?: { name?: string };
}

export interface ExternalSecret extends KubeObject {
  spec?: ExternalSecretSpec;
  status?: ExternalSecretStatus;
}

/** The annotation ESO uses to force a sync: changing its value triggers a refresh. */
export const FORCE_SYNC_ANNOTATION = 'force-sync';
