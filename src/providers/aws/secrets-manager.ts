/**
 * AWS Secrets Manager on @aws-sdk/client-secrets-manager.
 * - values: GetSecretValue (SecretString as UTF-8, SecretBinary raw), ESO's version semantics;
 * - batch: BatchGetSecretValue, 20 ids a call, per-key errors (current versions only: a ref with
 *   a version goes through GetSecretValue, because the batch API takes no version); a batch
 *   refused as a whole, other than for throttling or an outage, is asked again key by key;
 * - find: ListSecrets (name regexp client-side, tags as filters, path as a name prefix), then
 *   the values in batches;
 * - metadata (`metadataPolicy: Fetch`): DescribeSecret's tags as ESO returns them.
 */
import {
  BatchGetSecretValueCommand,
  DescribeSecretCommand,
  type Filter,
  GetSecretValueCommand,
  ListSecretsCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { FindRef } from '../../api/types.ts';
import { compileNameRegexp } from '../find-name.ts';
import { type CallOptions, type ProviderClient, ProviderError, type RemoteKey } from '../types.ts';
import { awsBatchKeyError, awsError, awsProbe } from './errors.ts';
import { awsSecretId, versionSelector } from './options.ts';
import { tagsJson } from './tags.ts';

export const AWS_MAX_BATCH = 20;
/** Stop listing after this many secrets: a find that matches more is a mistake, not a workload. */
export const MAX_FIND_RESULTS = 10_000;

export class SecretsManagerReader implements ProviderClient {
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

  /**
   * ESO's `metadataPolicy: Fetch`: DescribeSecret, and the secret's tags as a JSON object (Go's
   * encoding, keys sorted); the resolver selects `property` from it. Tags belong to the secret,
   * not to a version, so `version` plays no part (as in ESO).
   */
  async getMetadata(ref: RemoteKey, opts: CallOptions): Promise<Uint8Array> {
    const subject = `secret "${ref.key}" (tags)`;
    try {
      const out = await this.#sm.send(
        new DescribeSecretCommand({ SecretId: awsSecretId({ prefix: this.#prefix }, ref.key) }),
        { abortSignal: opts.signal },
      );
      return new TextEncoder().encode(tagsJson(out.Tags ?? []));
    } catch (err: unknown) {
      throw awsError(err, subject, opts.signal);
    }
  }

  /** The store check: ListSecrets of one item (credentials, region, endpoint). */
  async validate(opts: CallOptions): Promise<void> {
    await awsProbe(
      () => this.#sm.send(new ListSecretsCommand({ MaxResults: 1 }), { abortSignal: opts.signal }),
      'ListSecrets (store check)',
      opts.signal,
    );
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
        if (e.SecretId)
          found.set(e.SecretId, awsBatchKeyError(e.ErrorCode, `secret "${e.SecretId}"`, e.Message));
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
