/**
 * Composition root: builds the store registry, resolver and admission handlers for one process,
 * standalone (stores from manifest files) or in a cluster (informers, refresher, leader
 * election). main.ts and the end-to-end tests both start the server through here.
 */

import { mutateSecret } from './admission/mutate.ts';
import { MutationMemo } from './admission/mutate-memo.ts';
import type { AdmissionRequest } from './admission/types.ts';
import { type ValidateDeps, validateAdmission } from './admission/validate.ts';
import { ValidationMemo } from './admission/validate-memo.ts';
import type { IdentityPolicy } from './api/identity.ts';
import { loadManifestFiles, type ManifestDocument } from './api/manifests.ts';
import { validateObject } from './api/validate.ts';
import type { Logger } from './observability/logger.ts';
import type { Metrics } from './observability/metrics.ts';
import { createProviders } from './providers/registry.ts';
import type { EndpointOverrides } from './providers/types.ts';
import type { ServiceAccountReader, ServiceAccountTokenSource } from './resolve/credentials.ts';
import { MemoryRegistry } from './resolve/memory-registry.ts';
import { StoreResolver } from './resolve/resolver.ts';
import type { SecretReader, StoreRegistry } from './resolve/types.ts';
import type { AdmissionHandler } from './server/app.ts';
import type { EventGridEndpoint } from './server/event-grid.ts';
import type { RefreshEndpoint } from './server/refresh.ts';

export interface Runtime {
  registry: MemoryRegistry;
  resolver: StoreResolver;
  validate: AdmissionHandler;
  mutate: AdmissionHandler;
  /** Reasons this process is not ready (informers not synced…); empty when ready. */
  notReady: () => string[];
  close: () => Promise<void>;
  /** POST /refresh (cluster mode with --refresh-endpoint). */
  refresh?: RefreshEndpoint | undefined;
  /** Event Grid deliveries (cluster mode with --event-grid-endpoint). */
  eventGrid?: EventGridEndpoint | undefined;
}

export interface RuntimeOptions {
  logger: Logger;
  metrics: Metrics;
  admissionDeadlineMs: number;
  cacheTtlMs: number;
  endpoints?: EndpointOverrides;
  /** The resolver's clock (cache TTL, `fetchedAfter`); tests share one with the refresher. */
  now?: () => number;
  /** Which SecretStores may use this server's own identity; default none (ClusterSecretStores only). */
  identity?: IdentityPolicy;
  /**
   * Cluster mode: `--generic-target-kinds`, so admission refuses a `spec.target.manifest` kind the
   * refresher would not write. Undefined (standalone): not checked.
   */
  genericTargetKinds?: readonly string[];
  /** Service-account tokens (TokenRequest); cluster mode only. */
  serviceAccountToken?: ServiceAccountTokenSource;
  /** ServiceAccount annotations (AWS role, Azure client id); cluster mode only. */
  serviceAccounts?: ServiceAccountReader;
  /** This server's own ServiceAccount token file (tests); default the in-cluster mount. */
  ownTokenPath?: string;
  /** `--controller-class`: the stores served (src/api/controller-class.ts); undefined: all. */
  controllerClass?: string;
  /**
   * Cluster mode: `--credentials-recheck`, how long a client's credential Secrets are trusted
   * before a lookup re-reads them. Undefined (standalone: `--stores` reloads say it): never.
   */
  credentialsRecheckMs?: number;
}

const STORE_KINDS = new Set(['SecretStore', 'ClusterSecretStore']);

/** Standalone: stores, their credential Secrets and Namespaces come from manifest files. */
export async function createStandaloneRuntime(storeFiles: string[], opts: RuntimeOptions): Promise<Runtime> {
  const registry = new MemoryRegistry();
  loadIntoRegistry(registry, await loadManifestFiles(storeFiles), opts.logger, opts.identity);
  return createRuntime(registry, registry, opts);
}

export function loadIntoRegistry(
  registry: MemoryRegistry,
  docs: ManifestDocument[],
  logger: Logger,
  identity?: IdentityPolicy,
): void {
  for (const { file, object } of docs) {
    if (STORE_KINDS.has(object.kind ?? '')) {
      const { errors, warnings } = validateObject(object, identity ? { identity } : {});
      const id = `${object.kind}/${object.metadata?.name ?? ''}`;
      if (errors.length > 0) {
        logger.error({ file, store: id, errors }, 'store is invalid; skipped');
        continue;
      }
      if (warnings.length > 0) logger.warn({ file, store: id, warnings }, 'store has warnings');
    }
    registry.upsert(object);
  }
}

export function createRuntime(
  registry: MemoryRegistry,
  secrets: SecretReader,
  opts: RuntimeOptions,
  extra: { notReady?: () => string[]; close?: () => Promise<void> } = {},
): Runtime {
  const resolver = new StoreResolver({
    registry,
    secrets,
    providers: createProviders(),
    logger: opts.logger,
    metrics: opts.metrics,
    cacheTtlMs: opts.cacheTtlMs,
    callTimeoutMs: opts.admissionDeadlineMs,
    ...(opts.endpoints ? { endpoints: opts.endpoints } : {}),
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.identity ? { identity: opts.identity } : {}),
    ...(opts.serviceAccountToken ? { serviceAccountToken: opts.serviceAccountToken } : {}),
    ...(opts.serviceAccounts ? { serviceAccounts: opts.serviceAccounts } : {}),
    ...(opts.ownTokenPath ? { ownTokenPath: opts.ownTokenPath } : {}),
    ...(opts.controllerClass !== undefined ? { controllerClass: opts.controllerClass } : {}),
    ...(opts.credentialsRecheckMs ? { credentialsRecheckMs: opts.credentialsRecheckMs } : {}),
  });
  const mutateDeps = {
    resolver,
    logger: opts.logger,
    deadlineMs: opts.admissionDeadlineMs,
    memo: new MutationMemo(),
  };
  // Fixed for the life of the process: the validation memo keys on the request and the registry.
  const validateDeps: ValidateDeps = {
    ...(opts.identity ? { identity: opts.identity } : {}),
    ...(opts.controllerClass !== undefined ? { controllerClass: opts.controllerClass } : {}),
    ...(opts.genericTargetKinds ? { genericTargetKinds: opts.genericTargetKinds } : {}),
  };
  const validateMemo = new ValidationMemo();
  // What a review the memo does not keep (a CREATE) is validated with: built once, not per review.
  const withRegistry: ValidateDeps = { ...validateDeps, registry };
  const validate = (recorded: StoreRegistry | undefined, request: AdmissionRequest) =>
    validateAdmission(
      request,
      recorded === registry ? withRegistry : { ...validateDeps, ...(recorded ? { registry: recorded } : {}) },
    );
  return {
    registry,
    resolver,
    validate: (request) => validateMemo.answer(request, registry, validate),
    mutate: (request) => mutateSecret(request, mutateDeps),
    notReady: extra.notReady ?? (() => []),
    close: async () => {
      await extra.close?.();
      await resolver.close();
    },
  };
}
