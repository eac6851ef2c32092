/**
 * AWS Secrets Manager on @aws-sdk/client-secrets-manager.
 * - values: GetSecretValue (SecretString as UTF-8, SecretBinary raw), ESO's version semantics;
 * - batch: BatchGetSecretValue, 20 ids a call, per-key errors (current versions only: a ref with
 *   a version goes through GetSecretValue, because the batch API takes no version); a batch
 *   refused as a whole, other than for throttling or an outage, is asked again key by key;
 * - find: ListSecrets (name regexp client-side, tags as filters, path as a name prefix), then
 *   the values in batches.
 * Credentials: `auth.secretRef` static keys, else the SDK's default chain (IRSA, pod identity,
 * instance role); `role` is assumed on top of either.
 */
import {
  BatchGetSecretValueCommand,
  type Filter,
  GetSecretValueCommand,
  ListSecretsCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { AwsProvider, FindRef } from '../../api/types.ts';
import { compileNameRegexp } from '../find-name.ts';
import {
  type CallOptions,
  type ClientContext,
  type Provider,
  type ProviderClient,
  ProviderError,
  type RemoteKey,
} from '../types.ts';
import { awsBatchKeyError, awsError } from './errors.ts';
import {
  type AwsStaticCredentials,
  awsClientOptions,
  awsRoleChain,
  awsSecretId,
  versionSelector,
} from './options.ts';
import { validateAwsStore } from './validate.ts';

const FIELD = 'spec.provider.aws';
export const AWS_MAX_BATCH = 20;
/** Stop listing after this many secrets: a find that matches more is a mistake, not a workload. */
const MAX_FIND_RESULTS = 10_000;

export const awsProvider: Provider<AwsProvider> = {
  name: 'aws',
  validateStore: (spec, path, kind) => validateAwsStore(spec, path, kind),
  async newClient(spec: AwsProvider, ctx: ClientContext): Promise<ProviderClient> {
    if (spec.service && spec.service !== 'SecretsManager') {
      throw new ProviderError(
        'Invalid',
        `aws: service "${spec.service}" is not supported; use SecretsManager`,
      );
    }
    if (spec.auth?.jwt) {
      // ESO takes the role from the ServiceAccount's eks.amazonaws.com/role-arn annotation; this
      // server does not read ServiceAccounts, and must not fall back to its own identity.
      throw new ProviderError(
        'Invalid',
        `aws: ${FIELD}.auth.jwt (per-store IRSA) is not supported; use auth.secretRef, role, or no auth (this server's identity)`,
      );
    }
    const credentials = await staticCredentials(spec, ctx);
    if (!credentials) {
      // The SDK's default chain is this server's own identity: never for an unlisted SecretStore.
      ctx.requireAmbientIdentity(
        `${FIELD}.auth`,
        'the default AWS credential chain (IRSA, pod identity, instance role)',
      );
    }
    const options = awsClientOptions({
      spec,
      credentials,
      endpoint: ctx.endpoints.aws,
      maxAttempts: ctx.maxAttempts,
      timeoutMs: ctx.timeoutMs,
    });
    // additionalRoles then role, each assumed with the credentials of the previous step.
    for (const role of awsRoleChain(spec, ctx.store.name)) {
      options.credentials = fromTemporaryCredentials({
        params: {
          RoleArn: role.roleArn,
          RoleSessionName: role.sessionName,
          ...(role.externalId ? { ExternalId: role.externalId } : {}),
          ...(role.tags ? { Tags: role.tags } : {}),
          ...(role.transitiveTagKeys ? { TransitiveTagKeys: role.transitiveTagKeys } : {}),
        },
        ...(options.credentials ? { masterCredentials: options.credentials } : {}),
        clientConfig: {
          region: options.region,
          maxAttempts: options.maxAttempts,
          ...(ctx.endpoints.awsSts ? { endpoint: ctx.endpoints.awsSts } : {}),
        },
      });
    }
    return new AwsClient(new SecretsManagerClient(options), spec.prefix ?? '');
  },
};

async function staticCredentials(
  spec: AwsProvider,
  ctx: ClientContext,
): Promise<AwsStaticCredentials | undefined> {
  const ref = spec.auth?.secretRef;
  if (!ref?.accessKeyIDSecretRef && !ref?.secretAccessKeySecretRef) return undefined;
  if (!ref.accessKeyIDSecretRef || !ref.secretAccessKeySecretRef) {
    throw new ProviderError(
      'Invalid',
      `aws: ${FIELD}.auth.secretRef needs both accessKeyIDSecretRef and secretAccessKeySecretRef`,
    );
  }
  const base = `${FIELD}.auth.secretRef`;
  const creds: AwsStaticCredentials = {
    accessKeyId: (await ctx.readSecretKey(ref.accessKeyIDSecretRef, `${base}.accessKeyIDSecretRef`)).trim(),
    secretAccessKey: (
      await ctx.readSecretKey(ref.secretAccessKeySecretRef, `${base}.secretAccessKeySecretRef`)
    ).trim(),
  };
  if (ref.sessionTokenSecretRef?.name) {
    creds.sessionToken = (
      await ctx.readSecretKey(ref.sessionTokenSecretRef, `${base}.sessionTokenSecretRef`)
    ).trim();
  }
  return creds;
}

export class AwsClient implements ProviderClient {
  readonly maxBatch = AWS_MAX_BATCH;
  readonly #sm: SecretsManagerClient;
  /** ESO's `prefix`, prepended to every key asked for (not to names found by a find). */
  readonly #prefix: string;

  constructor(sm: SecretsManagerClient, prefix = '') {
    this.#sm = sm;
    this.#prefix = prefix;
  }

  async getSecret(ref: RemoteKey, opts: CallOptions): Promise<Uint8Array> {
    return this.#getOne(ref, opts, this.#prefix);
  }

  async #getOne(ref: RemoteKey, opts: CallOptions, prefix: string): Promise<Uint8Array> {
    const subject = `secret "${ref.key}"${ref.version ? ` version "${ref.version}"` : ''}`;
    try {
      const out = await this.#sm.send(
        new GetSecretValueCommand({
          SecretId: awsSecretId({ prefix }, ref.key),
          ...versionSelector(ref.version),
        }),
        { abortSignal: opts.signal },
      );
      return secretBytes(out, subject);
    } catch (err: unknown) {
      throw awsError(err, subject, opts.signal);
    }
  }

  async getSecrets(refs: RemoteKey[], opts: CallOptions): Promise<(Uint8Array | ProviderError)[]> {
    return this.#getSecrets(refs, opts, this.#prefix);
  }

  async #getSecrets(
    refs: RemoteKey[],
    opts: CallOptions,
    prefix: string,
  ): Promise<(Uint8Array | ProviderError)[]> {
    const results: (Uint8Array | ProviderError)[] = new Array(refs.length);
    const current: number[] = [];
    await Promise.all(
      refs.map(async (ref, i) => {
        // The batch API serves current versions only; pinned versions go one by one.
        if (ref.version && ref.version !== 'AWSCURRENT') {
          results[i] = await this.#getOne(ref, opts, prefix).catch((e: unknown) =>
            awsError(e, `secret "${ref.key}"`),
          );
        } else {
          current.push(i);
        }
      }),
    );
    for (let start = 0; start < current.length; start += AWS_MAX_BATCH) {
      const chunk = current.slice(start, start + AWS_MAX_BATCH);
      const ids = chunk.map((i) => `${prefix}${(refs[i] as RemoteKey).key}`);
      try {
        // The same key twice in one call is an InvalidParameterException for the whole call.
        const found = await this.#batch([...new Set(ids)], opts.signal);
        for (const [n, i] of chunk.entries())
          results[i] = found.get(ids[n] as string) ?? missing(refs[i] as RemoteKey);
      } catch (err: unknown) {
        const e = awsError(err, `batch of ${ids.length} secrets`, opts.signal);
        // Refused as a whole (one malformed id, a policy without BatchGetSecretValue): ask for
        // each key alone, so one bad key does not fail the others. Not when AWS is throttling or
        // down — more calls would only make that worse.
        if (chunk.length > 1 && e.kind !== 'Throttled' && e.kind !== 'Unavailable' && !opts.signal?.aborted) {
          await Promise.all(
            chunk.map(async (i) => {
              results[i] = await this.#getOne(refs[i] as RemoteKey, opts, prefix).catch((one: unknown) =>
                awsError(one, `secret "${(refs[i] as RemoteKey).key}"`, opts.signal),
              );
            }),
          );
        } else for (const i of chunk) results[i] = e;
      }
    }
    return results;
  }

  async findSecrets(find: FindRef, opts: CallOptions): Promise<Map<string, Uint8Array>> {
    const re = find.name?.regexp !== undefined ? compileNameRegexp(find.name.regexp) : undefined;
    const filters: Filter[] = [];
    for (const [k, v] of Object.entries(find.tags ?? {})) {
      filters.push({ Key: 'tag-key', Values: [k] }, { Key: 'tag-value', Values: [v] });
    }
    if (find.path) filters.push({ Key: 'name', Values: [find.path] });
    const names: string[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await this.#sm.send(
          new ListSecretsCommand({
            MaxResults: 100,
            ...(filters.length ? { Filters: filters } : {}),
            ...(token ? { NextToken: token } : {}),
          }),
          { abortSignal: opts.signal },
        );
        for (const s of page.SecretList ?? []) {
          if (!s.Name) continue;
          if (find.path && !s.Name.startsWith(find.path)) continue;
          if (re && !re.test(s.Name)) continue;
          // Filters match any tag key and any tag value; ESO requires each pair to match exactly.
          const tags = new Map((s.Tags ?? []).map((t) => [t.Key, t.Value]));
          if (!Object.entries(find.tags ?? {}).every(([k, v]) => tags.get(k) === v)) continue;
          names.push(s.Name);
        }
        token = page.NextToken;
      } while (token && names.length < MAX_FIND_RESULTS);
    } catch (err: unknown) {
      throw awsError(err, 'ListSecrets', opts.signal);
    }
    // Found names are full names: the store's prefix is not added again.
    const values = await this.#getSecrets(
      names.map((key) => ({ key })),
      opts,
      '',
    );
    const out = new Map<string, Uint8Array>();
    names.forEach((name, i) => {
      const v = values[i];
      if (v instanceof ProviderError) throw v;
      if (v) out.set(name, v);
    });
    return out;
  }

  async close(): Promise<void> {
    this.#sm.destroy();
  }

  async #batch(ids: string[], signal: AbortSignal): Promise<Map<string, Uint8Array | ProviderError>> {
    const found = new Map<string, Uint8Array | ProviderError>();
    let token: string | undefined;
    do {
      const out = await this.#sm.send(
        new BatchGetSecretValueCommand({ SecretIdList: ids, ...(token ? { NextToken: token } : {}) }),
        { abortSignal: signal },
      );
      for (const v of out.SecretValues ?? []) {
        // Answers carry Name and ARN; the caller may have asked by either.
        const id = ids.find((i) => i === v.Name || i === v.ARN) ?? v.Name ?? '';
        try {
          found.set(id, secretBytes(v, `secret "${id}"`));
        } catch (err: unknown) {
          found.set(id, awsError(err, `secret "${id}"`));
        }
      }
      for (const e of out.Errors ?? []) {
        if (e.SecretId) found.set(e.SecretId, awsBatchKeyError(e.ErrorCode, e.SecretId, e.Message));
      }
      token = out.NextToken;
    } while (token);
    return found;
  }
}

function secretBytes(out: { SecretString?: string; SecretBinary?: Uint8Array }, subject: string): Uint8Array {
  if (out.SecretString !== undefined) return new TextEncoder().encode(out.SecretString);
  if (out.SecretBinary !== undefined) return out.SecretBinary;
  throw new ProviderError('Invalid', `aws: ${subject} has neither SecretString nor SecretBinary`);
}

function missing(ref: RemoteKey): ProviderError {
  return new ProviderError('NotFound', `aws: secret "${ref.key}": ResourceNotFoundException`);
}
