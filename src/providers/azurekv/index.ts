/**
 * Azure Key Vault on @azure/keyvault-secrets, -keys and -certificates + @azure/identity.
 * - objects as in ESO (objects.ts): `name` and `secret/name` are secrets (their value),
 *   `key/name` keys (the JWK as JSON), `cert/name` certificates (the DER bytes), each at a
 *   version or the latest; `metadataPolicy: Fetch` reads tags (and times) instead;
 * - find: listPropertiesOfSecrets (enabled secrets only, tags must all match, name regexp
 *   client-side), then the values one by one (Key Vault has no batch read);
 * - credentials: ServicePrincipal (client secret or certificate), ManagedIdentity (identityId as
 *   client ID or resource ID), WorkloadIdentity (a Kubernetes token exchanged by Entra ID);
 * - clouds: the four named ones, or customCloudConfig's authority (AzureStackCloud).
 */
import type { TokenCredential } from '@azure/core-auth';
import {
  ClientAssertionCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
} from '@azure/identity';
import { CertificateClient } from '@azure/keyvault-certificates';
import { KeyClient } from '@azure/keyvault-keys';
import { SecretClient } from '@azure/keyvault-secrets';
import type { AzureKvProvider, FindRef } from '../../api/types.ts';
import { compileNameRegexp } from '../find-name.ts';
import {
  type CallOptions,
  type ClientContext,
  type Provider,
  type ProviderClient,
  ProviderError,
  type RemoteKey,
} from '../types.ts';
import { azureKvError } from './errors.ts';
import { azureKvSelection, jwkJson, metadataDocument, parseObjectName } from './objects.ts';
import {
  type AzureCredentialPlan,
  type AzureKvClientOptions,
  azureCredentialPlan,
  azureKvClientOptions,
  WI_CLIENT_ID_ANNOTATION,
  WI_TENANT_ID_ANNOTATION,
} from './options.ts';
import { boundedHttpClient } from './transport.ts';
import { validateAzureKvStore } from './validate.ts';

const FIELD = 'spec.provider.azurekv';
/** Stop listing after this many secrets: a find that matches more is a mistake, not a workload. */
const MAX_FIND_RESULTS = 10_000;
/** Values fetched in parallel by a find: Key Vault throttles per vault. */
const FIND_CONCURRENCY = 8;

export const azureKvProvider: Provider<AzureKvProvider> = {
  name: 'azurekv',
  validateStore: (spec, path, kind) => validateAzureKvStore(spec, path, kind),
  newClient: (spec, ctx) => createAzureKvClient(spec, ctx),
  ...azureKvSelection,
};

/**
 * Builds the client. `credential` replaces the one the spec describes (tests, and callers that
 * hold their own identity); the spec's credential Secrets are then not read.
 */
export async function createAzureKvClient(
  spec: AzureKvProvider,
  ctx: ClientContext,
  credential?: TokenCredential,
): Promise<AzureKvClient> {
  let options: AzureKvClientOptions;
  try {
    options = azureKvClientOptions({
      spec,
      endpoints: ctx.endpoints,
      maxAttempts: ctx.maxAttempts,
      timeoutMs: ctx.timeoutMs,
    });
  } catch (err: unknown) {
    throw new ProviderError('Invalid', `azurekv: ${FIELD}: ${(err as Error).message}`);
  }
  const cred = credential ?? buildCredential(await credentialPlan(spec, ctx), options, ctx);
  return new AzureKvClient(options, cred);
}

async function credentialPlan(spec: AzureKvProvider, ctx: ClientContext): Promise<AzureCredentialPlan> {
  const ref = spec.authSecretRef;
  const base = `${FIELD}.authSecretRef`;
  const read = async (k: 'clientId' | 'clientSecret' | 'clientCertificate' | 'tenantId') => {
    const sel = ref?.[k];
    return sel?.name ? (await ctx.readSecretKey(sel, `${base}.${k}`)).trim() : undefined;
  };
  const authType = spec.authType ?? 'ServicePrincipal';
  if (authType === 'ManagedIdentity') {
    ctx.requireAmbientIdentity(`${FIELD}.authType`, 'a managed identity (of this pod or its node)');
  } else if (authType === 'WorkloadIdentity' && !spec.serviceAccountRef?.name) {
    ctx.requireAmbientIdentity(`${FIELD}.serviceAccountRef`, "this server's own workload identity");
  }
  // A named ServiceAccount: its annotations may carry the client and tenant IDs (as ESO reads them).
  let annotations: Record<string, string> = {};
  if (authType === 'WorkloadIdentity' && spec.serviceAccountRef?.name) {
    if (!ctx.serviceAccountAnnotations) {
      throw new ProviderError(
        'Invalid',
        `azurekv: ${FIELD}.serviceAccountRef: ServiceAccounts cannot be read here`,
      );
    }
    annotations = await ctx.serviceAccountAnnotations(spec.serviceAccountRef, `${FIELD}.serviceAccountRef`);
  }
  const inputs = {
    saClientId: annotations[WI_CLIENT_ID_ANNOTATION]?.trim() || undefined,
    saTenantId: annotations[WI_TENANT_ID_ANNOTATION]?.trim() || undefined,
    clientId: authType === 'ManagedIdentity' ? undefined : await read('clientId'),
    tenantId: authType === 'ManagedIdentity' ? undefined : await read('tenantId'),
    clientSecret: authType === 'ServicePrincipal' ? await read('clientSecret') : undefined,
    clientCertificate: authType === 'ServicePrincipal' ? await read('clientCertificate') : undefined,
    // This server's own workload identity, injected by the Azure webhook into its pod.
    ownClientId: process.env.AZURE_CLIENT_ID,
    ownTenantId: process.env.AZURE_TENANT_ID,
  };
  try {
    return azureCredentialPlan(spec, inputs);
  } catch (err: unknown) {
    throw new ProviderError('Invalid', `azurekv: ${FIELD}: ${(err as Error).message}`);
  }
}

function buildCredential(
  plan: AzureCredentialPlan,
  options: AzureKvClientOptions,
  ctx: ClientContext,
): TokenCredential {
  const common = {
    authorityHost: options.authorityHost,
    retryOptions: { maxRetries: Math.max(0, ctx.maxAttempts - 1) },
    ...(ctx.endpoints.azureCa ? { tlsOptions: { ca: ctx.endpoints.azureCa } } : {}),
    // customCloudConfig.activeDirectoryEndpoint is the store author's choice: bounded answers.
    httpClient: boundedHttpClient(),
    // An overridden or custom authority is not a public cloud: skip MSAL's instance discovery.
    ...(ctx.endpoints.azureAuthorityHost || options.customAuthority
      ? { disableInstanceDiscovery: true }
      : {}),
  };
  switch (plan.type) {
    case 'ClientSecret':
      return new ClientSecretCredential(plan.tenantId, plan.clientId, plan.clientSecret, common);
    case 'ClientCertificate':
      return new ClientCertificateCredential(
        plan.tenantId,
        plan.clientId,
        { certificate: plan.certificatePem },
        common,
      );
    case 'ManagedIdentity':
      if (plan.resourceId) return new ManagedIdentityCredential({ resourceId: plan.resourceId });
      return plan.clientId
        ? new ManagedIdentityCredential({ clientId: plan.clientId })
        : new ManagedIdentityCredential();
    case 'WorkloadIdentity': {
      // WorkloadIdentityCredential reads a token file; the token here comes from the
      // TokenRequest API (or our own projected token), so the assertion is supplied directly.
      const getToken = ctx.serviceAccountToken;
      if (!getToken) {
        throw new ProviderError('Invalid', `azurekv: ${FIELD}: service-account tokens are unavailable`);
      }
      return new ClientAssertionCredential(
        plan.tenantId,
        plan.clientId,
        () => getToken({ ...plan.serviceAccount, audiences: plan.audiences }),
        common,
      );
    }
  }
}

export class AzureKvClient implements ProviderClient {
  readonly #options: AzureKvClientOptions;
  readonly #credential: TokenCredential;
  readonly #timeoutMs: number;
  #secrets: SecretClient | undefined;
  #keys: KeyClient | undefined;
  #certs: CertificateClient | undefined;

  constructor(options: AzureKvClientOptions, credential: TokenCredential) {
    this.#options = options;
    this.#credential = credential;
    this.#timeoutMs = options.requestTimeoutMs;
  }

  // Each SDK client answers the vault's challenge once; most stores read one object type only.
  get #secretClient(): SecretClient {
    this.#secrets ??= new SecretClient(this.#options.vaultUrl, this.#credential, this.#options.client);
    return this.#secrets;
  }

  get #keyClient(): KeyClient {
    this.#keys ??= new KeyClient(this.#options.vaultUrl, this.#credential, this.#options.client);
    return this.#keys;
  }

  get #certClient(): CertificateClient {
    this.#certs ??= new CertificateClient(this.#options.vaultUrl, this.#credential, this.#options.client);
    return this.#certs;
  }

  async getSecret(ref: RemoteKey, opts: CallOptions): Promise<Uint8Array> {
    return this.#read(ref, opts, false);
  }

  async getMetadata(ref: RemoteKey, opts: CallOptions): Promise<Uint8Array> {
    return this.#read(ref, opts, true);
  }

  async #read(ref: RemoteKey, opts: CallOptions, metadata: boolean): Promise<Uint8Array> {
    const { type, name } = parseObjectName(ref.key);
    const kind = type === 'key' ? 'key' : type === 'cert' ? 'certificate' : 'secret';
    const subject = `${kind} "${ref.key}"${ref.version ? ` version "${ref.version}"` : ''}`;
    if ((type !== 'secret' && type !== 'key' && type !== 'cert') || !name) {
      throw new ProviderError('Invalid', `azurekv: "${ref.key}": unknown object type "${type}"`);
    }
    const call = {
      abortSignal: opts.signal,
      requestOptions: { timeout: this.#timeoutMs },
    };
    try {
      if (type === 'key') {
        const key = await this.#keyClient.getKey(name, {
          ...call,
          ...(ref.version ? { version: ref.version } : {}),
        });
        if (metadata) return metadataDocument(name, key.properties.tags, times(key.properties));
        if (!key.key) throw new ProviderError('Invalid', `azurekv: ${subject} has no key material`);
        return new TextEncoder().encode(jwkJson(key.key, this.#options.newSdk));
      }
      if (type === 'cert') {
        const cert = ref.version
          ? await this.#certClient.getCertificateVersion(name, ref.version, call)
          : await this.#certClient.getCertificate(name, call);
        if (metadata) return metadataDocument(name, cert.properties.tags, times(cert.properties));
        if (!cert.cer) throw new ProviderError('Invalid', `azurekv: ${subject} has no certificate`);
        return cert.cer;
      }
      const out = await this.#secretClient.getSecret(name, {
        ...call,
        ...(ref.version ? { version: ref.version } : {}),
      });
      if (metadata) return metadataDocument(name, out.properties.tags, times(out.properties));
      if (out.value === undefined) throw new ProviderError('Invalid', `azurekv: ${subject} has no value`);
      return new TextEncoder().encode(out.value);
    } catch (err: unknown) {
      throw azureKvError(err, subject, opts.signal);
    }
  }

  async findSecrets(find: FindRef, opts: CallOptions): Promise<Map<string, Uint8Array>> {
    if (find.path) {
      throw new ProviderError('Invalid', 'azurekv: find.path is not supported by Azure Key Vault');
    }
    const re = find.name?.regexp !== undefined ? compileNameRegexp(find.name.regexp) : undefined;
    const tags = Object.entries(find.tags ?? {});
    const names: string[] = [];
    try {
      const pages = this.#secretClient
        .listPropertiesOfSecrets({ abortSignal: opts.signal, requestOptions: { timeout: this.#timeoutMs } })
        .byPage({ maxPageSize: 25 });
      outer: for await (const page of pages) {
        for (const p of page) {
          // As ESO: disabled secrets cannot be read, so they are not found either.
          if (p.enabled === false || !p.name) continue;
          if (re && !re.test(p.name)) continue;
          if (!tags.every(([k, v]) => p.tags?.[k] === v)) continue;
          names.push(p.name);
          if (names.length >= MAX_FIND_RESULTS) break outer;
        }
      }
    } catch (err: unknown) {
      throw azureKvError(err, 'list of secrets', opts.signal);
    }
    const out = new Map<string, Uint8Array>();
    for (let i = 0; i < names.length; i += FIND_CONCURRENCY) {
      const chunk = names.slice(i, i + FIND_CONCURRENCY);
      const values = await Promise.all(chunk.map((key) => this.getSecret({ key }, opts)));
      for (const [j, name] of chunk.entries()) out.set(name, values[j] as Uint8Array);
    }
    return out;
  }

  /**
   * The store check: the first page (one item) of the vault's secrets — a token is acquired and
   * the vault answers. A 403 for the listing is success: the credentials authenticated, the
   * identity may read named objects only.
   */
  async validate(opts: CallOptions): Promise<void> {
    try {
      const pages = this.#secretClient
        .listPropertiesOfSecrets({ abortSignal: opts.signal, requestOptions: { timeout: this.#timeoutMs } })
        .byPage({ maxPageSize: 1 });
      await pages.next();
    } catch (err: unknown) {
      const status = (err as { statusCode?: unknown } | undefined)?.statusCode;
      if (status === 403 && !opts.signal.aborted) return;
      throw azureKvError(err, 'list of secrets (store check)', opts.signal);
    }
  }

  async close(): Promise<void> {
    // The SDK clients hold no sockets of their own beyond the shared keep-alive agent.
  }
}

/** The times ESO's Fetch reports (`attribute.*`), from any object's properties. */
function times(p: { expiresOn?: Date; createdOn?: Date; updatedOn?: Date; notBefore?: Date }) {
  return { expires: p.expiresOn, created: p.createdOn, updated: p.updatedOn, notBefore: p.notBefore };
}
