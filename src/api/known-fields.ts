/**
 * The fields the ESO CRD schemas define, per version, for the unknown-field warnings: the API
 * server prunes a field its schema does not know (`secretStoreRef.key`, `auth.jwt.serviceAccountToken`
 * in the introduction's manifests), so such a field is a warning, never an error — and the user
 * learns that it has no effect. Free-form maps (labels, tags, template data) are leaves.
 */

/** 'leaf' = scalar or free-form; an object maps field names to shapes; [shape] = array of shape. */
export type Shape = 'leaf' | { readonly [field: string]: Shape } | readonly [Shape];

const L = 'leaf' as const;

const SECRET_KEY_SELECTOR: Shape = { name: L, namespace: L, key: L };
const SA_SELECTOR: Shape = { name: L, namespace: L, audiences: L };

const STORE_REF: Shape = { name: L, kind: L };
const GENERATOR_REF: Shape = { apiVersion: L, kind: L, name: L };
const SOURCE_REF: Shape = { storeRef: STORE_REF, generatorRef: GENERATOR_REF };

const REMOTE_REF: Shape = {
  key: L,
  metadataPolicy: L,
  property: L,
  version: L,
  conversionStrategy: L,
  decodingStrategy: L,
};

const FIND: Shape = {
  path: L,
  name: { regexp: L },
  tags: L,
  conversionStrategy: L,
  decodingStrategy: L,
};

const TEMPLATE_REF: Shape = { name: L, items: [{ key: L, templateAs: L }] };

const TEMPLATE: Shape = {
  type: L,
  engineVersion: L,
  metadata: { annotations: L, labels: L, finalizers: L },
  mergePolicy: L,
  data: L,
  templateFrom: [{ configMap: TEMPLATE_REF, secret: TEMPLATE_REF, target: L, literal: L }],
};

function externalSecretShape(v1: boolean): Shape {
  const rewrite: Shape = v1
    ? {
        merge: { into: L, priority: L, conflictPolicy: L, strategy: L },
        regexp: { source: L, target: L },
        transform: { template: L },
      }
    : { regexp: { source: L, target: L }, transform: { template: L } };
  return {
    apiVersion: L,
    kind: L,
    metadata: L,
    status: L,
    spec: {
      secretStoreRef: STORE_REF,
      target: {
        name: L,
        creationPolicy: L,
        deletionPolicy: L,
        template: TEMPLATE,
        immutable: L,
      },
      refreshInterval: L,
      // refreshPolicy: in v1beta1 it is reported separately (see validate-external-secret.ts).
      refreshPolicy: L,
      data: [{ secretKey: L, remoteRef: REMOTE_REF, sourceRef: SOURCE_REF }],
      dataFrom: [{ extract: REMOTE_REF, find: FIND, rewrite: [rewrite], sourceRef: SOURCE_REF }],
    },
  };
}

export const EXTERNAL_SECRET_V1: Shape = externalSecretShape(true);
export const EXTERNAL_SECRET_V1BETA1: Shape = externalSecretShape(false);

const AWS: Shape = {
  service: L,
  region: L,
  role: L,
  externalID: L,
  additionalRoles: L,
  sessionTags: [{ key: L, value: L }],
  transitiveTagKeys: L,
  prefix: L,
  secretsManager: { forceDeleteWithoutRecovery: L, recoveryWindowInDays: L },
  sessionTagsPolicy: L,
  customSessionTags: L,
  auth: {
    secretRef: {
      accessKeyIDSecretRef: SECRET_KEY_SELECTOR,
      secretAccessKeySecretRef: SECRET_KEY_SELECTOR,
      sessionTokenSecretRef: SECRET_KEY_SELECTOR,
    },
    jwt: { serviceAccountRef: SA_SELECTOR },
  },
};

const AZUREKV: Shape = {
  authType: L,
  vaultUrl: L,
  tenantId: L,
  environmentType: L,
  authSecretRef: {
    clientId: SECRET_KEY_SELECTOR,
    tenantId: SECRET_KEY_SELECTOR,
    clientSecret: SECRET_KEY_SELECTOR,
    clientCertificate: SECRET_KEY_SELECTOR,
  },
  serviceAccountRef: SA_SELECTOR,
  identityId: L,
  useAzureSDK: L,
  customCloudConfig: L,
};

const GCPSM: Shape = {
  projectID: L,
  location: L,
  getLatestEnabledSecret: L,
  secretVersionSelectionPolicy: L,
  auth: {
    secretRef: { secretAccessKeySecretRef: SECRET_KEY_SELECTOR },
    workloadIdentity: {
      serviceAccountRef: SA_SELECTOR,
      clusterLocation: L,
      clusterName: L,
      clusterProjectID: L,
    },
    workloadIdentityFederation: L,
  },
};

const VAULT_PATH_USER_SECRET: Shape = { path: L, username: L, secretRef: SECRET_KEY_SELECTOR };

const VAULT: Shape = {
  server: L,
  path: L,
  version: L,
  namespace: L,
  caBundle: L,
  tls: { certSecretRef: SECRET_KEY_SELECTOR, keySecretRef: SECRET_KEY_SELECTOR },
  caProvider: { type: L, name: L, key: L, namespace: L },
  readYourWrites: L,
  forwardInconsistent: L,
  headers: L,
  checkAndSet: { required: L },
  auth: {
    namespace: L,
    tokenSecretRef: SECRET_KEY_SELECTOR,
    appRole: { path: L, roleId: L, roleRef: SECRET_KEY_SELECTOR, secretRef: SECRET_KEY_SELECTOR },
    kubernetes: {
      mountPath: L,
      serviceAccountRef: SA_SELECTOR,
      secretRef: SECRET_KEY_SELECTOR,
      role: L,
    },
    ldap: VAULT_PATH_USER_SECRET,
    userPass: VAULT_PATH_USER_SECRET,
    jwt: {
      path: L,
      role: L,
      secretRef: SECRET_KEY_SELECTOR,
      kubernetesServiceAccountToken: { serviceAccountRef: SA_SELECTOR, audiences: L, expirationSeconds: L },
    },
    cert: { path: L, clientCert: SECRET_KEY_SELECTOR, secretRef: SECRET_KEY_SELECTOR },
    iam: L,
    gcp: L,
  },
};

function fakeShape(v1: boolean): Shape {
  return {
    data: [v1 ? { key: L, value: L, version: L } : { key: L, value: L, valueMap: L, version: L }],
    validationResult: L,
  };
}

/** Every provider ESO defines (v1 and v1beta1); only the first five are served by this webhook. */
export const SUPPORTED_PROVIDERS = ['aws', 'azurekv', 'gcpsm', 'vault', 'fake'] as const;
export const ESO_PROVIDERS: readonly string[] = [
  ...SUPPORTED_PROVIDERS,
  'akeyless',
  'alibaba',
  'barbican',
  'beyondtrust',
  'beyondtrustsecrets',
  'beyondtrustworkloadcredentials',
  'bitwardensecretsmanager',
  'cerberus',
  'chef',
  'cloudrusm',
  'conjur',
  'delinea',
  'device42',
  'doppler',
  'dvls',
  'fortanix',
  'github',
  'gitlab',
  'ibm',
  'infisical',
  'keepersecurity',
  'kubernetes',
  'nebiusmysterybox',
  'ngrok',
  'onboardbase',
  'onepassword',
  'onepasswordSDK',
  'oracle',
  'ovh',
  'passbolt',
  'passworddepot',
  'previder',
  'pulumi',
  'scaleway',
  'secretserver',
  'senhasegura',
  'volcengine',
  'webhook',
  'yandexcertificatemanager',
  'yandexlockbox',
];

function storeShape(v1: boolean): Shape {
  const providers: Record<string, Shape> = {};
  for (const p of ESO_PROVIDERS) providers[p] = L;
  providers.aws = AWS;
  providers.azurekv = AZUREKV;
  providers.gcpsm = GCPSM;
  providers.vault = VAULT;
  providers.fake = fakeShape(v1);
  return {
    apiVersion: L,
    kind: L,
    metadata: L,
    status: L,
    spec: {
      controller: L,
      provider: providers,
      retrySettings: { maxRetries: L, retryInterval: L },
      refreshInterval: L,
      conditions: [{ namespaceSelector: L, namespaces: L, namespaceRegexes: L }],
    },
  };
}

export const STORE_V1: Shape = storeShape(true);
export const STORE_V1BETA1: Shape = storeShape(false);

/** The API server keeps warnings short; so does this (at most MAX_UNKNOWN, names shortened). */
const MAX_UNKNOWN = 20;

/** Appends `unknown field "spec.x.y"` for every field the shape does not define. */
export function unknownFieldWarnings(value: unknown, shape: Shape, path: string, warnings: string[]): void {
  const found: string[] = [];
  collectUnknown(value, shape, path, found);
  for (const p of found.slice(0, MAX_UNKNOWN)) warnings.push(`unknown field "${p}"`);
  if (found.length > MAX_UNKNOWN) warnings.push(`… and ${found.length - MAX_UNKNOWN} more unknown fields`);
}

function shortKey(key: string): string {
  return key.length > 64 ? `${key.slice(0, 61)}...` : key;
}

function collectUnknown(value: unknown, shape: Shape, path: string, warnings: string[]): void {
  if (shape === 'leaf' || value === null || typeof value !== 'object') return;
  if (Array.isArray(shape)) {
    if (!Array.isArray(value)) return;
    value.forEach((item, i) => {
      collectUnknown(item, shape[0] as Shape, `${path}[${i}]`, warnings);
    });
    return;
  }
  if (Array.isArray(value)) return;
  const fields = shape as { readonly [field: string]: Shape };
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    const sub = Object.hasOwn(fields, key) ? fields[key] : undefined;
    if (sub === undefined) warnings.push(path ? `${path}.${shortKey(key)}` : shortKey(key));
    else collectUnknown(child, sub, path ? `${path}.${key}` : key, warnings);
  }
}
