/**
 * Azure Key Vault on @azure/keyvault-secrets (SecretClient) + @azure/identity.
 * - values: getSecret(name, { version }); the value is returned as UTF-8 bytes;
 * - object types as in ESO: `name` and `secret/name` are secrets; `key/` and `cert/` (keys and
 *   certificates) are not supported and fail as Invalid;
 * - find: listPropertiesOfSecrets (enabled secrets only, tags must all match, name regexp
 *   client-side), then the values one by one (Key Vault has no batch read);
 * - credentials: ServicePrincipal (client secret or certificate), ManagedIdentity (identityId as
 *   client ID or resource ID), WorkloadIdentity (a Kubernetes token exchanged by Entra ID).
 */
import type { TokenCredential } from '@azure/core-auth';
import {
  ClientAssertionCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
} from '@azure/identity';
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
import {
  AZURE_TOKEN_EXCHANGE_AUDIENCE,
  type AzureCredentialPlan,
  type AzureKvClientOptions,
  azureCredentialPlan,
  azureKvClientOptions,
  parseObjectName,
} from './options.ts';
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
  return new AzureKvClient(
    new SecretClient(options.vaultUrl, cred, options.client),
    options.requestTimeoutMs,
  );
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
  const inputs = {
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
    // An overridden authority is not a public cloud: skip MSAL's instance discovery there.
    ...(ctx.endpoints.azureAuthorityHost ? { disableInstanceDiscovery: true } : {}),
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
        () => getToken({ ...plan.serviceAccount, audiences: [AZURE_TOKEN_EXCHANGE_AUDIENCE] }),
        common,
      );
    }
  }
}

export class AzureKvClient implements ProviderClient {
  readonly #kv: SecretClient;
  readonly #timeoutMs: number;

  constructor(kv: SecretClient, timeoutMs: number) {
    this.#kv = kv;
    this.#timeoutMs = timeoutMs;
  }

  async getSecret(ref: RemoteKey, opts: CallOptions): Promise<Uint8Array> {
    const { type, name } = parseObjectName(ref.key);
    const subject = `secret "${ref.key}"${ref.version ? ` version "${ref.version}"` : ''}`;
    if (type === 'key' || type === 'cert') {
      throw new ProviderError(
        'Invalid',
        `azurekv: ${subject}: object type "${type}" is not supported; only secrets can be read`,
      );
    }
    if (type !== 'secret' || !name) {
      throw new ProviderError('Invalid', `azurekv: ${subject}: unknown object type "${type}"`);
    }
    try {
      const out = await this.#kv.getSecret(name, {
        ...(ref.version ? { version: ref.version } : {}),
        abortSignal: opts.signal,
        requestOptions: { timeout: this.#timeoutMs },
      });
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
      const pages = this.#kv
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

  async close(): Promise<void> {
    // SecretClient holds no sockets of its own beyond the shared keep-alive agent.
  }
}
