/**
 * The `gcpsm` provider: GCP Secret Manager through @google-cloud/secret-manager (gRPC).
 *
 * - Credentials: the service-account key JSON in `auth.secretRef.secretAccessKeySecretRef`,
 *   checked and turned into an auth client field by field (credentials.ts: no file, URL or
 *   program a JSON names is ever used); else ESO's per-store identities `auth.workloadIdentity`
 *   and `auth.workloadIdentityFederation` (workload-identity.ts: TokenRequest or AWS keys, STS,
 *   impersonation); else Application Default Credentials (this server's own identity:
 *   ClusterSecretStores and allowed namespaces only).
 * - Project: `projectID`, else (without a key) the project of the default credentials.
 * - getSecret: AccessSecretVersion of `projects/<p>[/locations/<l>]/secrets/<key>/versions/<v>`,
 *   `v` = `latest` when the ref has no version. The raw payload bytes are returned, after a
 *   check against `payload.dataCrc32c` when the server sends it (a mismatch is Unavailable).
 * - getMetadata (metadataPolicy Fetch): GetSecret's labels and annotations (metadata.ts).
 * - changeFeed: Secret Manager notifications through a Pub/Sub subscription (change-feed.ts).
 * - findSecrets: ListSecrets under the store's parent, labels (`tags`) and `path` as the
 *   server-side filter, `name.regexp` and the `path` prefix checked here, then the latest
 *   version of each match. A listed secret without any version is skipped.
 */
import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import type { AuthClient } from 'google-auth-library';
import type { FindRef, GcpSmProvider } from '../../api/types.ts';
import type { ChangeFeedReceiver } from '../../feeds/types.ts';
import { withDeadline } from '../deadline.ts';
import { compileNameRegexp } from '../find-name.ts';
import {
  type CallOptions,
  type ClientContext,
  type Provider,
  type ProviderClient,
  ProviderError,
  type RemoteKey,
} from '../types.ts';
import { pubsubReceiver } from './change-feed.ts';
import { crc32c } from './crc32c.ts';
import { gcpAuthClient, parseGcpCredential } from './credentials.ts';
import { gcpDeadline, gcpError } from './errors.ts';
import { gcpSmSelection, metadataDocument } from './metadata.ts';
import {
  type CallLimits,
  type GcpEndpointOverride,
  gcpCallOptions,
  gcpClientOptions,
  listFilter,
  parentName,
  secretName,
  secretVersionName,
} from './options.ts';
import { validateGcpSmStore } from './validate.ts';
import { authorize, federationClient, workloadIdentityClient } from './workload-identity.ts';

/** ListSecrets pages read by one findSecrets (bounded loop). */
const MAX_PAGES = 100;
const PAGE_SIZE = 250;
/** Concurrent AccessSecretVersion calls of one findSecrets. */
const FIND_CONCURRENCY = 4;

const CREDENTIALS_FIELD = 'spec.provider.gcpsm.auth.secretRef.secretAccessKeySecretRef';

export const gcpSmProvider: Provider<GcpSmProvider> = {
  name: 'gcpsm',
  validateStore: (spec, path, kind) => validateGcpSmStore(spec, path, kind),
  ...gcpSmSelection,
  async newClient(spec: GcpSmProvider, ctx: ClientContext): Promise<ProviderClient> {
    const keyRef = spec.auth?.secretRef?.secretAccessKeySecretRef;
    const wi = spec.auth?.workloadIdentity;
    const wif = spec.auth?.workloadIdentityFederation;
    let authClient: AuthClient | undefined;
    let authField: string | undefined;
    let store = spec;
    // ESO's order: a key, then workload identity, then federation, then the default credentials.
    if (keyRef) {
      if (!spec.projectID) {
        throw new ProviderError(
          'Invalid',
          'gcpsm: spec.provider.gcpsm.projectID is required with auth.secretRef',
        );
      }
      // Parsed and checked here, the client built from its fields: never fromJSON (credentials.ts).
      const credential = parseGcpCredential(await ctx.readSecretKey(keyRef, CREDENTIALS_FIELD), {
        allowExternalAccount: ctx.allowGcpExternalAccount,
        field: CREDENTIALS_FIELD,
      });
      authClient = await gcpAuthClient(credential, { field: CREDENTIALS_FIELD });
    } else if (wi) {
      const built = await workloadIdentityClient(wi, ctx);
      authClient = built.client;
      authField = 'spec.provider.gcpsm.auth.workloadIdentity';
      // As ESO: without projectID, the secrets live in the cluster's project.
      if (!spec.projectID) store = { ...spec, projectID: built.clusterProject };
    } else if (wif) {
      if (!spec.projectID) {
        throw new ProviderError(
          'Invalid',
          'gcpsm: spec.provider.gcpsm.projectID is required with auth.workloadIdentityFederation',
        );
      }
      authClient = await federationClient(wif, ctx);
      authField = 'spec.provider.gcpsm.auth.workloadIdentityFederation';
    } else {
      ctx.requireAmbientIdentity(
        'spec.provider.gcpsm.auth',
        'Application Default Credentials (the metadata server, GOOGLE_APPLICATION_CREDENTIALS)',
      );
    }
    const options = gcpClientOptions(store, authClient, ctx.endpoints.gcp);
    const client = new GcpSmClient(new SecretManagerServiceClient(options), store, {
      maxAttempts: ctx.maxAttempts,
      timeoutMs: ctx.timeoutMs,
    });
    if (authClient && authField) {
      const federated = authClient;
      const field = authField;
      client.authorize = () => authorize(federated, field);
    }
    // The change feed: the same credentials (the ambient ones were allowed above or refused).
    client.feedAuth = { authClient, override: ctx.endpoints.gcpPubsub };
    return client;
  },
};

interface ListedSecret {
  name?: string | null;
}

export class GcpSmClient implements ProviderClient {
  readonly #client: SecretManagerServiceClient;
  readonly #spec: GcpSmProvider;
  readonly #limits: CallLimits;
  #detected: Promise<GcpSmProvider> | undefined;
  /**
   * Gets the federated access token unless the auth client holds one that is not due (before
   * every call, and again when the channel could not get one), so that a refused exchange is
   * reported as such, in our words, rather than as an unavailable service.
   */
  authorize: (() => Promise<void>) | undefined;
  /** What the change feed is opened with: this client's credentials, the Pub/Sub endpoint. */
  feedAuth: { authClient: AuthClient | undefined; override: GcpEndpointOverride | undefined } = {
    authClient: undefined,
    override: undefined,
  };

  constructor(client: SecretManagerServiceClient, spec: GcpSmProvider, limits: CallLimits) {
    this.#client = client;
    this.#spec = spec;
    this.#limits = limits;
  }

  async getSecret(ref: RemoteKey, opts: CallOptions): Promise<Uint8Array> {
    const subject = ref.version ? `secret "${ref.key}" version "${ref.version}"` : `secret "${ref.key}"`;
    const name = secretVersionName(await this.#project(opts.signal), ref.key, ref.version);
    const [response] = await this.#call(subject, opts.signal, () =>
      this.#client.accessSecretVersion({ name }, gcpCallOptions(this.#limits, opts.signal)),
    );
    const data = toBytes(response.payload?.data);
    const checksum = response.payload?.dataCrc32c;
    if (checksum !== null && checksum !== undefined && String(checksum) !== String(crc32c(data))) {
      throw new ProviderError('Unavailable', `gcpsm: ${subject}: payload checksum mismatch`);
    }
    return data;
  }

  /** metadataPolicy Fetch: the secret's labels and annotations (GetSecret), never its payload. */
  async getMetadata(ref: RemoteKey, opts: CallOptions): Promise<Uint8Array> {
    const subject = `metadata of secret "${ref.key}"`;
    const name = secretName(await this.#project(opts.signal), ref.key);
    const [secret] = await this.#call(subject, opts.signal, () =>
      this.#client.getSecret({ name }, gcpCallOptions(this.#limits, opts.signal)),
    );
    return metadataDocument(
      secret.annotations as Record<string, string> | null | undefined,
      secret.labels as Record<string, string> | null | undefined,
    );
  }

  async findSecrets(find: FindRef, opts: CallOptions): Promise<Map<string, Uint8Array>> {
    const parent = parentName(await this.#project(opts.signal));
    const nameRe = find.name?.regexp ? compileNameRegexp(find.name.regexp) : undefined;
    const filter = listFilter(find);
    const ids: string[] = [];
    let pageToken = '';
    for (let page = 0; page < MAX_PAGES; page++) {
      const request = { parent, filter, pageSize: PAGE_SIZE, pageToken };
      const [secrets, , response] = await this.#call(`secrets of ${parent}`, opts.signal, () =>
        this.#client.listSecrets(request, {
          ...gcpCallOptions(this.#limits, opts.signal),
          autoPaginate: false,
        }),
      );
      for (const s of secrets as ListedSecret[]) {
        const id = secretId(s.name);
        if (!id) continue;
        if (find.path && !id.startsWith(find.path)) continue;
        if (nameRe && !nameRe.test(id)) continue;
        ids.push(id);
      }
      pageToken = response?.nextPageToken ?? '';
      if (!pageToken) break;
    }
    const out = new Map<string, Uint8Array>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < ids.length) {
        const id = ids[next++] as string;
        try {
          out.set(id, await this.getSecret({ key: id }, opts));
        } catch (err: unknown) {
          if (!(err instanceof ProviderError && err.kind === 'NotFound')) throw err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(FIND_CONCURRENCY, ids.length) }, worker));
    // Stable order: listing order, whatever order the reads finished in.
    return new Map(ids.filter((id) => out.has(id)).map((id) => [id, out.get(id) as Uint8Array]));
  }

  /**
   * The store check: ListSecrets of one item in the store's project. PERMISSION_DENIED for the
   * listing is success: the credentials authenticated, the store may read named secrets only.
   */
  async validate(opts: CallOptions): Promise<void> {
    const parent = parentName(await this.#project(opts.signal));
    try {
      await this.#call(`secrets of ${parent} (store check)`, opts.signal, () =>
        this.#client.listSecrets(
          { parent, pageSize: 1 },
          { ...gcpCallOptions(this.#limits, opts.signal), autoPaginate: false },
        ),
      );
    } catch (err: unknown) {
      if (err instanceof ProviderError && err.message.endsWith('(PERMISSION_DENIED)')) return;
      throw err;
    }
  }

  /**
   * The change feed (`esw.io/change-feed: projects/<p>/subscriptions/<s>`, change-feed.ts): Secret
   * Manager notifications by Pub/Sub streaming pull, with this store's credentials.
   */
  changeFeed(address: string): ChangeFeedReceiver {
    return pubsubReceiver({
      subscription: address,
      authClient: this.feedAuth.authClient,
      override: this.feedAuth.override,
      authorize: this.authorize,
      store: (signal) => this.#project(signal),
    });
  }

  async close(): Promise<void> {
    await this.#client.close();
  }

  /**
   * The spec with its project: `projectID`, else the project of the Application Default
   * Credentials (GOOGLE_CLOUD_PROJECT, the key file, the metadata server), as ESO does on GKE.
   * Detected once; a failed detection is retried by the next call.
   */
  async #project(signal: AbortSignal): Promise<GcpSmProvider> {
    if (this.#spec.projectID) return this.#spec;
    this.#detected ??= this.#client.getProjectId().then(
      (projectID) => ({ ...this.#spec, projectID }),
      (err: unknown) => {
        this.#detected = undefined;
        throw err;
      },
    );
    const detected = this.#detected;
    try {
      return await this.#call('project ID', signal, () => detected);
    } catch (err: unknown) {
      if (err instanceof ProviderError && err.kind === 'Unavailable' && !signal.aborted) {
        throw new ProviderError(
          'Invalid',
          'gcpsm: spec.provider.gcpsm.projectID is not set and no project could be detected from the default credentials',
        );
      }
      throw err;
    }
  }

  /** Runs one SDK call: deadline-bounded, errors mapped, nothing of the response in messages. */
  async #call<T>(subject: string, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    const prepare = this.authorize;
    if (prepare)
      await withDeadline(
        signal,
        prepare,
        () => gcpDeadline('access token'),
        (e) => e as Error,
      );
    let authFailed = false;
    try {
      return await withDeadline(
        signal,
        fn,
        () => gcpDeadline(subject),
        (err) => {
          authFailed = isCredentialsFailure(err);
          return gcpError(err, subject);
        },
      );
    } catch (err: unknown) {
      // The channel could not get an access token: ask the auth client again, outside gRPC,
      // for the reason in our words (a refused exchange, a missing ServiceAccount…).
      const authorize = this.authorize;
      if (authFailed && authorize && !signal.aborted) {
        await withDeadline(
          signal,
          authorize,
          () => gcpDeadline('access token'),
          (e) => e as Error,
        );
      }
      throw err;
    }
  }
}

/** The id of `projects/<p>[/locations/<l>]/secrets/<id>` (the API returns project numbers). */
function secretId(name: string | null | undefined): string | undefined {
  if (!name) return undefined;
  const i = name.lastIndexOf('/secrets/');
  return i < 0 ? undefined : name.slice(i + '/secrets/'.length);
}

function toBytes(data: Uint8Array | string | null | undefined): Uint8Array {
  if (data === null || data === undefined) return new Uint8Array();
  // The REST fallback transport returns bytes as base64 text.
  if (typeof data === 'string') return Buffer.from(data, 'base64');
  return data;
}

/** grpc-js's status when the call credentials (the auth client) failed. */
function isCredentialsFailure(err: unknown): boolean {
  const details = (err as { details?: unknown } | null)?.details;
  return typeof details === 'string' && details.startsWith('Getting metadata from plugin failed');
}
