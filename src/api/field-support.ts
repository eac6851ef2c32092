/**
 * What external-secrets-webhook serves of the ESO API, field by field ("what validates, works").
 * Every field path of ExternalSecret, SecretStore and ClusterSecretStore (v1 and v1beta1, from
 * the generated schema tables) is classified here, and admission follows the class:
 *
 * - `served`: the runtime implements it; validated as ESO validates it.
 * - `warned`: accepted with a warning naming the field, because ESO's semantics allow ignoring it
 *   here (`why` says why, e.g. it only matters to writes this webhook never makes).
 * - `refused`: refused at admission — "not supported by external-secrets-webhook; <why>" — instead
 *   of being accepted and failing (or being ignored) at every sync.
 * - `byValue`: the field is served for some values only (`aws.service: ParameterStore`).
 *
 * Paths are normalised (`spec.data[].remoteRef.key`, `[]` array items, `{}` map values). A key
 * ending in `.**` covers the field and everything below it; `*` matches one step. The most
 * specific entry wins: an exact path, else the glob with the longest literal prefix.
 * test/api/field-support.test.ts walks every field of the schemas and fails on a field no entry
 * covers, and checks that admission refuses, warns and accepts as classified.
 *
 * Implementing a field? Flip its line to SERVED (and run `npm run gen:crds` for
 * docs/field-support.md).
 */

export type Support =
  | { readonly status: 'served' }
  | { readonly status: 'warned'; readonly why: string }
  | { readonly status: 'refused'; readonly why: string };

/** Served for some values only; `other` classifies values not listed (free-form strings). */
export interface ValueSupport {
  readonly status: 'byValue';
  readonly values: Readonly<Record<string, Support>>;
  readonly other?: Support;
}

export type SupportEntry = Support | ValueSupport;
export type SupportTable = Readonly<Record<string, SupportEntry>>;

/** The start of every refusal message; users and tests search for it. */
export const NOT_SUPPORTED = 'not supported by external-secrets-webhook';

export const SERVED: Support = { status: 'served' };
export const warned = (why: string): Support => ({ status: 'warned', why });
export const refused = (why: string): Support => ({ status: 'refused', why });
export const byValue = (values: Record<string, Support>, other?: Support): ValueSupport =>
  other ? { status: 'byValue', values, other } : { status: 'byValue', values };

/** The providers this webhook serves (src/providers/registry.ts). */
export const SERVED_PROVIDERS = ['aws', 'azurekv', 'gcpsm', 'vault', 'fake'] as const;

const unservedProvider = (name: string): Support =>
  refused(`the ${name} provider is not served (served: ${SERVED_PROVIDERS.join(', ')})`);

const NOT_YET = 'not implemented yet';

// Fetch is served where the store's provider serves it (AWS Secrets Manager and Parameter Store
// tags); for the others src/api/ref-support.ts refuses it once the store is known.
const METADATA_POLICY = byValue({ None: SERVED, Fetch: SERVED });
const NULL_BYTE_POLICY = byValue({
  Ignore: SERVED,
  Fail: refused(`refusing values that contain NUL bytes is ${NOT_YET}`),
});

// ------------------------------------------------------------------------- ExternalSecret

const EXTERNAL_SECRET: SupportTable = {
  apiVersion: SERVED,
  kind: SERVED,
  metadata: SERVED,
  spec: SERVED,
  'status.**': SERVED,

  'spec.secretStoreRef': SERVED,
  'spec.secretStoreRef.name': SERVED,
  'spec.secretStoreRef.kind': SERVED,
  'spec.refreshInterval': SERVED,
  'spec.refreshPolicy': SERVED,
  'spec.syncWindows.**': SERVED,

  'spec.target': SERVED,
  'spec.target.name': SERVED,
  'spec.target.creationPolicy': SERVED,
  'spec.target.deletionPolicy': SERVED,
  'spec.target.immutable': SERVED,
  'spec.target.manifest': SERVED,
  'spec.target.manifest.apiVersion': SERVED,
  'spec.target.manifest.kind': SERVED,
  'spec.target.template': SERVED,
  'spec.target.template.type': SERVED,
  'spec.target.template.engineVersion': SERVED,
  'spec.target.template.mergePolicy': SERVED,
  'spec.target.template.data': SERVED,
  'spec.target.template.data{}': SERVED,
  'spec.target.template.metadata': SERVED,
  'spec.target.template.metadata.labels': SERVED,
  'spec.target.template.metadata.labels{}': SERVED,
  'spec.target.template.metadata.annotations': SERVED,
  'spec.target.template.metadata.annotations{}': SERVED,
  'spec.target.template.metadata.finalizers.**': refused(`finalizers on the target are ${NOT_YET}`),
  'spec.target.template.templateFrom': SERVED,
  'spec.target.template.templateFrom[]': SERVED,
  'spec.target.template.templateFrom[].literal': SERVED,
  'spec.target.template.templateFrom[].target': SERVED,
  'spec.target.template.templateFrom[].configMap.**': SERVED,
  'spec.target.template.templateFrom[].secret.**': SERVED,
  'spec.target.template.templateFrom[].valuesDecodingStrategy': byValue({
    None: SERVED,
    Auto: refused(`decoding rendered template values is ${NOT_YET}`),
    Base64: refused(`decoding rendered template values is ${NOT_YET}`),
    Base64URL: refused(`decoding rendered template values is ${NOT_YET}`),
  }),

  'spec.data': SERVED,
  'spec.data[]': SERVED,
  'spec.data[].secretKey': SERVED,
  'spec.data[].remoteRef': SERVED,
  'spec.data[].remoteRef.key': SERVED,
  'spec.data[].remoteRef.property': SERVED,
  'spec.data[].remoteRef.version': SERVED,
  'spec.data[].remoteRef.conversionStrategy': SERVED,
  'spec.data[].remoteRef.decodingStrategy': SERVED,
  'spec.data[].remoteRef.metadataPolicy': METADATA_POLICY,
  'spec.data[].remoteRef.nullBytePolicy': NULL_BYTE_POLICY,
  'spec.data[].sourceRef': SERVED,
  'spec.data[].sourceRef.storeRef.**': SERVED,
  'spec.data[].sourceRef.generatorRef.**': refused(
    'generators are not served, and ESO never implemented them in data[] (use dataFrom[].sourceRef.generatorRef with ESO)',
  ),

  'spec.dataFrom': SERVED,
  'spec.dataFrom[]': SERVED,
  'spec.dataFrom[].extract': SERVED,
  'spec.dataFrom[].extract.key': SERVED,
  'spec.dataFrom[].extract.property': SERVED,
  'spec.dataFrom[].extract.version': SERVED,
  'spec.dataFrom[].extract.conversionStrategy': SERVED,
  'spec.dataFrom[].extract.decodingStrategy': SERVED,
  'spec.dataFrom[].extract.metadataPolicy': METADATA_POLICY,
  'spec.dataFrom[].extract.nullBytePolicy': NULL_BYTE_POLICY,
  'spec.dataFrom[].find': SERVED,
  'spec.dataFrom[].find.name': SERVED,
  'spec.dataFrom[].find.name.regexp': SERVED,
  'spec.dataFrom[].find.path': SERVED,
  'spec.dataFrom[].find.tags': SERVED,
  'spec.dataFrom[].find.tags{}': SERVED,
  'spec.dataFrom[].find.conversionStrategy': SERVED,
  'spec.dataFrom[].find.decodingStrategy': SERVED,
  'spec.dataFrom[].find.nullBytePolicy': NULL_BYTE_POLICY,
  'spec.dataFrom[].rewrite': SERVED,
  'spec.dataFrom[].rewrite[]': SERVED,
  'spec.dataFrom[].rewrite[].regexp.**': SERVED,
  'spec.dataFrom[].rewrite[].transform.**': SERVED,
  'spec.dataFrom[].rewrite[].merge.**': SERVED,
  'spec.dataFrom[].sourceRef': SERVED,
  'spec.dataFrom[].sourceRef.storeRef.**': SERVED,
  'spec.dataFrom[].sourceRef.generatorRef.**': refused(
    `generators (Password, ECRAuthorizationToken, …) are ${NOT_YET}`,
  ),
};

// ------------------------------------------------------------------------- SecretStore, ClusterSecretStore

const AWS: SupportTable = {
  'spec.provider.aws': SERVED,
  'spec.provider.aws.service': byValue({
    SecretsManager: SERVED,
    ParameterStore: SERVED,
    CertificateManager: SERVED,
  }),
  'spec.provider.aws.region': SERVED,
  'spec.provider.aws.role': SERVED,
  'spec.provider.aws.externalID': SERVED,
  'spec.provider.aws.additionalRoles': SERVED,
  'spec.provider.aws.additionalRoles[]': SERVED,
  'spec.provider.aws.sessionTags': SERVED,
  'spec.provider.aws.sessionTags[]': SERVED,
  'spec.provider.aws.sessionTags[].key': SERVED,
  'spec.provider.aws.sessionTags[].value': SERVED,
  'spec.provider.aws.transitiveTagKeys': SERVED,
  'spec.provider.aws.transitiveTagKeys[]': SERVED,
  'spec.provider.aws.prefix': SERVED,
  'spec.provider.aws.sessionTagsPolicy': byValue({
    None: SERVED,
    Simple: refused(`automatic session tags (esoNamespace, esoStoreName, esoStoreKind) are ${NOT_YET}`),
    Custom: refused(`automatic session tags (esoNamespace, esoStoreName, esoStoreKind) are ${NOT_YET}`),
  }),
  'spec.provider.aws.customSessionTags.**': refused(`custom session tags are ${NOT_YET}; use sessionTags`),
  'spec.provider.aws.secretsManager.**': warned(
    'it only applies when secrets are deleted (ESO PushSecret), and this webhook never deletes or writes provider secrets',
  ),
  'spec.provider.aws.auth': SERVED,
  'spec.provider.aws.auth.secretRef.**': SERVED,
  'spec.provider.aws.auth.jwt.**': SERVED,
};

const AZURE: SupportTable = {
  'spec.provider.azurekv': SERVED,
  'spec.provider.azurekv.vaultUrl': SERVED,
  'spec.provider.azurekv.tenantId': SERVED,
  'spec.provider.azurekv.authType': SERVED,
  'spec.provider.azurekv.identityId': SERVED,
  'spec.provider.azurekv.environmentType': byValue({
    PublicCloud: SERVED,
    USGovernmentCloud: SERVED,
    ChinaCloud: SERVED,
    GermanCloud: SERVED,
    AzureStackCloud: SERVED,
  }),
  'spec.provider.azurekv.authSecretRef.**': SERVED,
  'spec.provider.azurekv.serviceAccountRef.**': SERVED,
  // This webhook always uses the Azure SDK for JavaScript; the value selects which of ESO's two
  // Go SDKs it answers like (key JSON member order, metadata times) and allows customCloudConfig.
  'spec.provider.azurekv.useAzureSDK': SERVED,
  'spec.provider.azurekv.customCloudConfig': SERVED,
  'spec.provider.azurekv.customCloudConfig.activeDirectoryEndpoint': SERVED,
  'spec.provider.azurekv.customCloudConfig.*': warned(
    'ESO does not use it for Key Vault either: the vault URL names the vault, and its challenge the token scope',
  ),
};

const GCP: SupportTable = {
  'spec.provider.gcpsm': SERVED,
  'spec.provider.gcpsm.projectID': SERVED,
  'spec.provider.gcpsm.location': SERVED,
  'spec.provider.gcpsm.secretVersionSelectionPolicy': byValue(
    { LatestOrFail: SERVED },
    refused(`falling back from a disabled or destroyed "latest" version is ${NOT_YET}`),
  ),
  'spec.provider.gcpsm.auth': SERVED,
  'spec.provider.gcpsm.auth.secretRef.**': SERVED,
  'spec.provider.gcpsm.auth.workloadIdentity.**': SERVED,
  'spec.provider.gcpsm.auth.workloadIdentityFederation.**': SERVED,
  'spec.provider.gcpsm.auth.workloadIdentityFederation.credConfig.**': refused(
    "a credential configuration names its own subject-token source (a file, a URL, a program or this server's AWS metadata), which this webhook never follows; use serviceAccountRef or awsSecurityCredentials",
  ),
  'spec.provider.gcpsm.auth.workloadIdentityFederation.externalTokenEndpoint': warned(
    'ESO only compares it with the credential_source.url of a credConfig, which is not served',
  ),
};

const VAULT: SupportTable = {
  'spec.provider.vault': SERVED,
  'spec.provider.vault.server': SERVED,
  'spec.provider.vault.path': SERVED,
  'spec.provider.vault.version': SERVED,
  'spec.provider.vault.namespace': SERVED,
  'spec.provider.vault.caBundle': SERVED,
  'spec.provider.vault.forwardInconsistent': SERVED,
  'spec.provider.vault.readYourWrites': warned(
    'this webhook only reads from Vault: there are no writes to read back',
  ),
  'spec.provider.vault.checkAndSet.**': warned(
    'check-and-set applies to writes (ESO PushSecret), and this webhook never writes to Vault',
  ),
  'spec.provider.vault.headers.**': SERVED,
  'spec.provider.vault.tls.**': SERVED,
  'spec.provider.vault.caProvider': SERVED,
  'spec.provider.vault.caProvider.name': SERVED,
  'spec.provider.vault.caProvider.key': SERVED,
  'spec.provider.vault.caProvider.namespace': SERVED,
  'spec.provider.vault.caProvider.type': SERVED,
  'spec.provider.vault.auth': SERVED,
  'spec.provider.vault.auth.namespace': SERVED,
  'spec.provider.vault.auth.tokenSecretRef.**': SERVED,
  'spec.provider.vault.auth.appRole.**': SERVED,
  'spec.provider.vault.auth.kubernetes': SERVED,
  'spec.provider.vault.auth.kubernetes.mountPath': SERVED,
  'spec.provider.vault.auth.kubernetes.role': SERVED,
  'spec.provider.vault.auth.kubernetes.secretRef.**': SERVED,
  'spec.provider.vault.auth.kubernetes.serviceAccountRef.**': SERVED,
  'spec.provider.vault.auth.ldap.**': SERVED,
  'spec.provider.vault.auth.userPass.**': SERVED,
  'spec.provider.vault.auth.jwt.**': SERVED,
  'spec.provider.vault.auth.cert.**': SERVED,
  'spec.provider.vault.auth.iam.**': SERVED,
  'spec.provider.vault.auth.gcp.**': refused(
    `Vault gcp login is ${NOT_YET}; use kubernetes, jwt, appRole or another auth method`,
  ),
};

const FAKE: SupportTable = {
  'spec.provider.fake': SERVED,
  'spec.provider.fake.data': SERVED,
  'spec.provider.fake.data[]': SERVED,
  'spec.provider.fake.data[].key': SERVED,
  'spec.provider.fake.data[].value': SERVED,
  'spec.provider.fake.data[].version': SERVED,
  'spec.provider.fake.validationResult': warned(
    "it fakes ESO's store validation result, which this webhook does not report",
  ),
};

/** Every provider ESO 2.9 defines (v1 and v1beta1) that this webhook does not serve. */
export const UNSERVED_PROVIDERS = [
  'akeyless',
  'alibaba',
  'barbican',
  'beyondtrust',
  'beyondtrustworkloadcredentials',
  'bitwardensecretsmanager',
  'chef',
  'cloudrusm',
  'conjur',
  'crd',
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
  'openBao',
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
] as const;

const STORE: SupportTable = {
  apiVersion: SERVED,
  kind: SERVED,
  metadata: SERVED,
  spec: SERVED,
  'status.**': SERVED,
  'spec.controller': SERVED,
  // The store status is checked again on this interval (docs/refresher.md, "Store status").
  'spec.refreshInterval': SERVED,
  'spec.retrySettings.**': warned(
    "provider calls use this webhook's own bounded retries, which fit inside the admission deadline",
  ),
  'spec.conditions.**': SERVED,
  'spec.provider': SERVED,
  ...AWS,
  ...AZURE,
  ...GCP,
  ...VAULT,
  ...FAKE,
  ...Object.fromEntries(UNSERVED_PROVIDERS.map((p) => [`spec.provider.${p}.**`, unservedProvider(p)])),
};

// ------------------------------------------------------------------------- ClusterExternalSecret

/** Its own fields; `spec.externalSecretSpec.**` is an ExternalSecret's `spec.**`, class for class. */
export const CLUSTER_EXTERNAL_SECRET_OWN: SupportTable = {
  apiVersion: SERVED,
  kind: SERVED,
  metadata: SERVED,
  spec: SERVED,
  'status.**': SERVED,
  'spec.externalSecretName': SERVED,
  'spec.externalSecretMetadata.**': SERVED,
  'spec.externalSecretSpec': SERVED,
  'spec.namespaceSelector.**': SERVED,
  'spec.namespaceSelectors.**': SERVED,
  'spec.namespaces.**': SERVED,
  'spec.refreshTime': SERVED,
};

const CLUSTER_EXTERNAL_SECRET: SupportTable = {
  ...CLUSTER_EXTERNAL_SECRET_OWN,
  ...Object.fromEntries(
    Object.entries(EXTERNAL_SECRET)
      .filter(([k]) => k.startsWith('spec.'))
      .map(([k, v]) => [`spec.externalSecretSpec.${k.slice(5)}`, v]),
  ),
};

export type SupportKind = 'ExternalSecret' | 'SecretStore' | 'ClusterSecretStore' | 'ClusterExternalSecret';

/** The table per kind (SecretStore and ClusterSecretStore share one). */
export const FIELD_SUPPORT: Readonly<Record<SupportKind, SupportTable>> = {
  ExternalSecret: EXTERNAL_SECRET,
  SecretStore: STORE,
  ClusterSecretStore: STORE,
  ClusterExternalSecret: CLUSTER_EXTERNAL_SECRET,
};

// ------------------------------------------------------------------------- matching

interface CompiledEntry {
  key: string;
  entry: SupportEntry;
  /** Literal characters before the first wildcard: the longer, the more specific. */
  specificity: number;
  re: RegExp;
}

const compiled = new Map<SupportTable, { exact: Map<string, SupportEntry>; globs: CompiledEntry[] }>();

function compile(table: SupportTable): { exact: Map<string, SupportEntry>; globs: CompiledEntry[] } {
  let c = compiled.get(table);
  if (c) return c;
  const exact = new Map<string, SupportEntry>();
  const globs: CompiledEntry[] = [];
  for (const [key, entry] of Object.entries(table)) {
    if (!key.includes('*')) {
      exact.set(key, entry);
      continue;
    }
    const star = key.indexOf('*');
    let body = key;
    let subtree = false;
    if (body.endsWith('.**')) {
      body = body.slice(0, -3);
      subtree = true;
    }
    if (body.includes('**')) throw new Error(`field-support: "**" only at the end: ${key}`);
    const source = body
      .split('*')
      .map((part) => part.replace(/[.[\]{}()+?^$|\\]/g, '\\$&'))
      .join('[^.]+');
    // `P.**` is P itself and everything below it: P.x, P[] and P{} (items and map values).
    const re = new RegExp(`^${source}${subtree ? '(?:(?:\\.|\\[\\]|\\{\\}).*)?' : ''}$`);
    globs.push({ key, entry, specificity: star, re });
  }
  // Most specific first; the table's order breaks ties (sort is stable).
  globs.sort((a, b) => b.specificity - a.specificity);
  c = { exact, globs };
  compiled.set(table, c);
  return c;
}

/** The entry classifying a normalised path, with the table key that matched. */
export function classifyIn(
  table: SupportTable,
  path: string,
): { key: string; entry: SupportEntry } | undefined {
  const { exact, globs } = compile(table);
  const e = exact.get(path);
  if (e) return { key: path, entry: e };
  for (const g of globs) if (g.re.test(path)) return { key: g.key, entry: g.entry };
  return undefined;
}

export function classifyField(
  kind: SupportKind,
  path: string,
): { key: string; entry: SupportEntry } | undefined {
  return classifyIn(FIELD_SUPPORT[kind], path);
}

/**
 * The class of one value of a byValue field; undefined for a value the entry does not list and
 * has no `other` for (a value outside the schema's enum, which the schema check reports).
 */
export function classifyValue(entry: ValueSupport, value: unknown): Support | undefined {
  if (typeof value !== 'string') return undefined;
  return Object.hasOwn(entry.values, value) ? entry.values[value] : entry.other;
}

/** The values a byValue entry serves, for messages. */
export function servedValues(entry: ValueSupport): string[] {
  return Object.entries(entry.values)
    .filter(([, s]) => s.status === 'served')
    .map(([v]) => v);
}
