/**
 * What an ExternalSecret asks of its store's provider that this webhook's provider does not do:
 * the rest of "what validates, works", which depends on two objects. The field-support table
 * (field-support.ts) classifies each field of one object; these rules look at a reference
 * (`remoteRef` / `dataFrom[].extract`: key, property, version, metadataPolicy), a
 * `dataFrom[].extract` or a `dataFrom[].find` together with the provider of the store it is
 * read from. Admission applies them when that store is known (the webhook's store registry), so
 * such a reference is refused when the ExternalSecret is applied instead of failing every sync;
 * a store created later is checked by the refresher, which reports the same thing as a sync error.
 */
import { CauseType, type FieldError, fieldErrors } from './field-errors.ts';
import { NOT_SUPPORTED } from './field-support.ts';
import type { ExternalSecret, SecretStore, StoreKind } from './types.ts';

type Obj = Record<string, unknown>;

export interface RefRule {
  readonly provider: string;
  /** A field of a remoteRef / extract, the extract itself, or a field of a `find`. */
  readonly field: RefField | 'extract' | 'find' | 'find.path' | 'find.tags';
  /** When the rule applies, for docs/field-support.md. */
  readonly when: string;
  readonly why: string;
  readonly applies: (value: unknown, provider: Obj) => boolean;
}

/** Fields of `data[].remoteRef` and `dataFrom[].extract` the rules look at. */
export type RefField = 'key' | 'property' | 'version' | 'metadataPolicy';
const REF_FIELDS: readonly RefField[] = ['key', 'property', 'version', 'metadataPolicy'];

const fetch = (v: unknown) => v === 'Fetch';
const acm = (aws: Obj) => aws.service === 'CertificateManager';
const ACM_ARN = /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[^/]+$/;

const azureType = (key: unknown): string | undefined =>
  typeof key === 'string' && key.includes('/') ? key.slice(0, key.indexOf('/')) : undefined;
const present = (v: unknown) => v !== undefined && v !== null;

export const REF_RULES: readonly RefRule[] = [
  {
    provider: 'azurekv',
    field: 'extract',
    when: 'of a `key/` or `cert/` object',
    why: 'dataFrom.extract reads secrets only, as in ESO: read a key or certificate with data[].remoteRef',
    applies: (extract) => {
      const type = azureType((extract as Obj | undefined)?.key);
      return type === 'key' || type === 'cert';
    },
  },
  {
    provider: 'azurekv',
    field: 'key',
    when: 'has another `<type>/` prefix',
    why: 'an Azure Key Vault object is `name`, `secret/name`, `key/name` or `cert/name`',
    applies: (key) => {
      const type = azureType(key);
      return type !== undefined && type !== 'secret' && type !== 'key' && type !== 'cert';
    },
  },
  {
    provider: 'azurekv',
    field: 'find.path',
    when: 'set',
    why: 'Azure Key Vault has no paths: find by name.regexp or tags',
    applies: present,
  },
  {
    provider: 'fake',
    field: 'find.path',
    when: 'set',
    why: 'the fake provider finds by name.regexp only',
    applies: present,
  },
  {
    provider: 'fake',
    field: 'find.tags',
    when: 'set',
    why: 'the fake provider finds by name.regexp only',
    applies: present,
  },
  {
    provider: 'fake',
    field: 'find',
    when: 'without `name.regexp`',
    why: 'the fake provider finds by name.regexp only',
    applies: (find) => typeof (find as { name?: { regexp?: unknown } })?.name?.regexp !== 'string',
  },
  {
    provider: 'vault',
    field: 'find',
    when: 'the store has no `path`',
    why: 'listing secrets needs the store to name its KV mount (spec.provider.vault.path)',
    applies: (_find, vault) => typeof vault.path !== 'string' || vault.path.replace(/\//g, '') === '',
  },
  {
    provider: 'vault',
    field: 'find.tags',
    when: 'the store is KV `v1`',
    why: 'finding by tags needs KV v2 (custom_metadata)',
    applies: (tags, vault) => present(tags) && vault.version === 'v1',
  },
  {
    provider: 'aws',
    field: 'key',
    when: 'not a certificate ARN, on a `CertificateManager` store',
    why: 'an ACM remoteRef.key is the certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID)',
    applies: (key, aws) => acm(aws) && !(typeof key === 'string' && ACM_ARN.test(key)),
  },
  {
    provider: 'aws',
    field: 'property',
    when: 'set, on a `CertificateManager` store',
    why: 'an ACM certificate is one PEM bundle: pick its parts with templates (filterPEM, filterCertChain)',
    applies: (_property, aws) => acm(aws),
  },
  {
    provider: 'aws',
    field: 'version',
    when: 'set, on a `CertificateManager` store',
    why: 'ACM certificates have no versions: the current certificate is exported',
    applies: (_version, aws) => acm(aws),
  },
  {
    provider: 'aws',
    field: 'metadataPolicy',
    when: '`Fetch`, on a `CertificateManager` store',
    why: 'ACM certificates have no metadata to fetch (only SecretsManager and ParameterStore tags)',
    applies: (policy, aws) => fetch(policy) && acm(aws),
  },
  {
    provider: 'aws',
    field: 'extract',
    when: 'from a `CertificateManager` store',
    why: 'an ACM certificate is one PEM bundle, not a map: use data[].remoteRef (as ESO, which refuses GetSecretMap for ACM)',
    applies: (_extract, aws) => acm(aws),
  },
  {
    provider: 'aws',
    field: 'find',
    when: 'from a `CertificateManager` store',
    why: 'ACM certificates are not listed (ESO has no find for ACM): name each ARN in data[]',
    applies: (_find, aws) => acm(aws),
  },
  {
    provider: 'aws',
    field: 'find.path',
    when: 'does not start with `/`, on a `ParameterStore` store',
    why: 'a Parameter Store path starts with "/" (e.g. /team/app)',
    applies: (path, aws) =>
      aws.service === 'ParameterStore' && typeof path === 'string' && !path.startsWith('/'),
  },
  {
    provider: 'vault',
    field: 'metadataPolicy',
    when: '`Fetch`, on a KV `v1` store',
    why: 'KV v1 keeps no metadata (custom_metadata is KV v2): ESO refuses Fetch on v1 too',
    applies: (policy, vault) => fetch(policy) && vault.version === 'v1',
  },
  {
    provider: 'fake',
    field: 'metadataPolicy',
    when: '`Fetch`',
    why: 'the fake provider has no metadata',
    applies: fetch,
  },
];

function obj(v: unknown): Obj | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}

type Provider = { name: string; spec: Obj };

/** The provider name and spec of a store (its one provider), or undefined. */
function providerOf(store: SecretStore | undefined): Provider | undefined {
  const providers = obj(obj(store?.spec)?.provider);
  if (!providers) return undefined;
  let name: string | undefined;
  for (const key in providers) {
    if (!Object.hasOwn(providers, key) || !obj(providers[key])) continue;
    if (name !== undefined) return undefined;
    name = key;
  }
  return name === undefined ? undefined : { name, spec: providers[name] as Obj };
}

/** Where the stores an ExternalSecret names are found (the webhook's store registry). */
export interface StoreSource {
  getStore(kind: StoreKind, name: string, namespace: string | undefined): SecretStore | undefined;
}

/**
 * Refusals for the references of `es` whose store `stores` knows (a SecretStore in `namespace`),
 * pushed onto `errors`.
 */
export function refSupportErrors(
  es: ExternalSecret,
  stores: StoreSource,
  namespace: string | undefined,
  errors: FieldError[],
): void {
  const spec = obj(es.spec);
  if (!spec) return;
  const refs = new RefCheck(stores, namespace, obj(spec.secretStoreRef), errors);
  const data = spec.data;
  if (Array.isArray(data)) {
    for (let i = 0; i < data.length; i++) {
      const entry = obj(data[i]);
      const provider = entry && refs.storeFor(entry);
      if (!entry || !provider) continue;
      refs.checkRef(provider, obj(entry.remoteRef), 'data', i, 'remoteRef');
    }
  }
  const dataFrom = spec.dataFrom;
  if (!Array.isArray(dataFrom)) return;
  for (let i = 0; i < dataFrom.length; i++) {
    const entry = obj(dataFrom[i]);
    const provider = entry && refs.storeFor(entry);
    if (!entry || !provider) continue;
    const extract = obj(entry.extract);
    refs.check(provider, 'extract', extract, 'dataFrom', i, 'extract');
    refs.checkRef(provider, extract, 'dataFrom', i, 'extract');
    const find = obj(entry.find);
    if (!find) continue;
    refs.check(provider, 'find', find, 'dataFrom', i, 'find');
    refs.check(provider, 'find.path', find.path, 'dataFrom', i, 'find', 'path');
    refs.check(provider, 'find.tags', find.tags, 'dataFrom', i, 'find', 'tags');
  }
}

/** One ExternalSecret's check: one object, not a closure per step, per admission. */
class RefCheck {
  /** Most entries read from the default store: it is looked up once. */
  #defaultProvider: Provider | undefined = undefined;
  #defaultLooked = false;

  readonly stores: StoreSource;
  readonly namespace: string | undefined;
  readonly defaultRef: Obj | undefined;
  readonly errors: FieldError[];

  constructor(
    stores: StoreSource,
    namespace: string | undefined,
    defaultRef: Obj | undefined,
    errors: FieldError[],
  ) {
    this.stores = stores;
    this.namespace = namespace;
    this.defaultRef = defaultRef;
    this.errors = errors;
  }

  storeFor(entry: Obj): Provider | undefined {
    const source = obj(entry.sourceRef);
    if (source && present(source.generatorRef)) return undefined;
    const own = obj(source?.storeRef);
    if (own) return this.#providerAt(own);
    if (!this.#defaultLooked) {
      this.#defaultProvider = this.#providerAt(this.defaultRef);
      this.#defaultLooked = true;
    }
    return this.#defaultProvider;
  }

  #providerAt(ref: Obj | undefined): Provider | undefined {
    if (!ref || typeof ref.name !== 'string' || ref.name === '') return undefined;
    const kind = ref.kind === 'ClusterSecretStore' ? 'ClusterSecretStore' : 'SecretStore';
    return providerOf(this.stores.getStore(kind, ref.name, this.namespace));
  }

  /** The path of a finding is built only when a rule applies: `spec.<list>[i].<part>[.<leaf>]`. */
  check(
    provider: Provider,
    field: RefRule['field'],
    value: unknown,
    list: 'data' | 'dataFrom',
    i: number,
    part: 'remoteRef' | 'extract' | 'find',
    leaf?: string,
  ): void {
    if (!present(value)) return;
    for (const rule of REF_RULES) {
      if (rule.provider !== provider.name || rule.field !== field || !rule.applies(value, provider.spec))
        continue;
      const path = `spec.${list}[${i}].${part}${leaf === undefined ? '' : `.${leaf}`}`;
      const why = `${NOT_SUPPORTED}; ${rule.why}`;
      this.errors.push(
        field === 'key' || field === 'metadataPolicy'
          ? {
              field: path,
              message: `Unsupported value: ${JSON.stringify(String(value).slice(0, 64))}: ${why}`,
              reason: CauseType.notSupported,
            }
          : fieldErrors.forbidden(path, why),
      );
    }
  }

  checkRef(
    provider: Provider,
    ref: Obj | undefined,
    list: 'data' | 'dataFrom',
    i: number,
    part: 'remoteRef' | 'extract',
  ): void {
    for (const f of REF_FIELDS) this.check(provider, f, ref?.[f], list, i, part, f);
  }
}
