/**
 * The `aws` provider: one store spec, three services, one set of credentials.
 * - `SecretsManager` (secrets-manager.ts), `ParameterStore` (parameter-store.ts) and
 *   `CertificateManager` (certificate-manager.ts) each read with their own SDK client;
 * - credentials (credentials.ts): `auth.jwt` (per-store IRSA: a TokenRequest token exchanged
 *   with AssumeRoleWithWebIdentity), `auth.secretRef` static keys, else the SDK's default chain
 *   (this server's IRSA, pod identity, instance role); `additionalRoles` and `role` are assumed
 *   on top of any of them.
 */
import { ACMClient } from '@aws-sdk/client-acm';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { AwsProvider } from '../../api/types.ts';
import { type ClientContext, type Provider, type ProviderClient, ProviderError } from '../types.ts';
import { sharedAwsAgents } from './agents.ts';
import { CertificateManagerReader } from './certificate-manager.ts';
import { sqsReceiver } from './change-feed.ts';
import { FIELD, staticCredentials, webIdentityCredentials, withRoleChain } from './credentials.ts';
import { awsClientOptions } from './options.ts';
import { ParameterStoreReader } from './parameter-store.ts';
import { SecretsManagerReader } from './secrets-manager.ts';
import { validateAwsStore } from './validate.ts';

export { SSM_MAX_BATCH } from './parameter-store.ts';
export { AWS_MAX_BATCH } from './secrets-manager.ts';

const SERVICES = ['SecretsManager', 'ParameterStore', 'CertificateManager'] as const;

export const awsProvider: Provider<AwsProvider> = {
  name: 'aws',
  validateStore: (spec, path, kind) => validateAwsStore(spec, path, kind),
  async newClient(spec: AwsProvider, ctx: ClientContext): Promise<ProviderClient> {
    const service = spec.service ?? 'SecretsManager';
    if (!(SERVICES as readonly string[]).includes(service)) {
      throw new ProviderError(
        'Invalid',
        `aws: ${FIELD}.service "${service}" is not supported; use ${SERVICES.join(', ')}`,
      );
    }
    const endpoint =
      service === 'ParameterStore'
        ? (ctx.endpoints.awsSsm ?? ctx.endpoints.aws)
        : service === 'CertificateManager'
          ? (ctx.endpoints.awsAcm ?? ctx.endpoints.aws)
          : ctx.endpoints.aws;
    // ESO's order: auth.jwt first, then auth.secretRef, then the default chain.
    const irsa = await webIdentityCredentials(spec, ctx, {
      region: spec.region ?? 'us-east-1',
      maxAttempts: ctx.maxAttempts,
      timeoutMs: ctx.timeoutMs,
    });
    const base = irsa ? undefined : await staticCredentials(spec, ctx);
    if (!base && !irsa) {
      // The SDK's default chain is this server's own identity: never for an unlisted SecretStore.
      ctx.requireAmbientIdentity(
        `${FIELD}.auth`,
        'the default AWS credential chain (IRSA, pod identity, instance role)',
      );
    }
    const options = awsClientOptions({
      spec,
      credentials: base,
      endpoint,
      maxAttempts: ctx.maxAttempts,
      timeoutMs: ctx.timeoutMs,
    });
    const credentials = withRoleChain(spec, ctx, irsa ?? options.credentials, {
      region: options.region,
      maxAttempts: options.maxAttempts,
      timeoutMs: ctx.timeoutMs,
    });
    if (credentials) options.credentials = credentials;
    const prefix = spec.prefix ?? '';
    // Every store's reader shares one connection pool (agents.ts); the change feed keeps `options`.
    const shared = { ...options, requestHandler: { ...options.requestHandler, ...sharedAwsAgents() } };
    if (service === 'ParameterStore') return new ParameterStoreReader(new SSMClient(shared), prefix);
    if (service === 'CertificateManager') return new CertificateManagerReader(new ACMClient(shared));
    const reader = new SecretsManagerReader(new SecretsManagerClient(shared), prefix);
    // The change feed reads its queue with the same credentials (docs/push-refresh.md).
    return Object.assign(reader, {
      changeFeed: (url: string) => sqsReceiver(url, options, ctx.endpoints.awsSqs, prefix),
    });
  },
};
