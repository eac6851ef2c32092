/**
 * AWS Systems Manager Parameter Store (`service: ParameterStore`) on @aws-sdk/client-ssm, with
 * ESO's semantics (pkg/provider/aws/parameterstore):
 * - a key is `prefix + remoteRef.key`, and `version` is appended as SSM's selector
 *   (`name:3` a version, `name:label` a label); values are read with decryption (SecureString);
 * - batch: GetParameters, 10 names a call (the SSM limit), selectors included; names SSM lists as
 *   invalid are NotFound; a batch refused as a whole, other than for throttling or an outage, is
 *   asked again name by name;
 * - find: `name.regexp` and/or `path` through GetParametersByPath (recursive, decrypted; `path`
 *   defaults to `/`), falling back to DescribeParameters + GetParameters when the policy lacks
 *   ssm:GetParametersByPath, as ESO does; `tags` through DescribeParameters (`tag:KEY` filters,
 *   the path as a recursive `Path` filter), then the values 10 a call;
 * - metadata (`metadataPolicy: Fetch`): ListTagsForResource, the tags as ESO returns them.
 */
import {
  DescribeParametersCommand,
  GetParameterCommand,
  GetParametersByPathCommand,
  GetParametersCommand,
  ListTagsForResourceCommand,
  type Parameter,
  type ParameterStringFilter,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import type { FindRef } from '../../api/types.ts';
import { compileNameRegexp } from '../find-name.ts';
import { type CallOptions, type ProviderClient, ProviderError, type RemoteKey } from '../types.ts';
import { awsError, awsProbe } from './errors.ts';
import { MAX_FIND_RESULTS } from './secrets-manager.ts';
import { tagsJson } from './tags.ts';

/** GetParameters takes at most 10 names. */
export const SSM_MAX_BATCH = 10;
/** DescribeParameters pages hold at most 50, GetParametersByPath pages at most 10. */
const DESCRIBE_PAGE = 50;
const BY_PATH_PAGE = 10;

export class ParameterStoreReader implements ProviderClient {
  readonly maxBatch = SSM_MAX_BATCH;
  readonly batchesVersions = true;
  readonly #ssm: SSMClient;
  readonly #prefix: string;

  constructor(ssm: SSMClient, prefix = '') {
    this.#ssm = ssm;
    this.#prefix = prefix;
  }

  /** ESO's parameterNameWithVersion: prefix + key, then `:version` when one is asked for. */
  #name(ref: RemoteKey, prefix = this.#prefix): string {
    return `${prefix}${ref.key}${ref.version ? `:${ref.version}` : ''}`;
  }

  async getSecret(ref: RemoteKey, opts: CallOptions): Promise<Uint8Array> {
    return this.#getOne(ref, opts, this.#prefix);
  }

  async #getOne(ref: RemoteKey, opts: CallOptions, prefix: string): Promise<Uint8Array> {
    const subject = describe(ref);
    try {
      const out = await this.#ssm.send(
        new GetParameterCommand({ Name: this.#name(ref, prefix), WithDecryption: true }),
        { abortSignal: opts.signal },
      );
      return parameterBytes(out.Parameter, subject);
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
    // A name asked twice is sent once; every index asking for it gets the answer.
    const byName = new Map<string, number[]>();
    refs.forEach((ref, i) => {
      const name = this.#name(ref, prefix);
      const at = byName.get(name);
      if (at) at.push(i);
      else byName.set(name, [i]);
    });
    const names = [...byName.keys()];
    for (let start = 0; start < names.length; start += SSM_MAX_BATCH) {
      const chunk = names.slice(start, start + SSM_MAX_BATCH);
      const first = (name: string) => refs[(byName.get(name) as number[])[0] as number] as RemoteKey;
      const answer = (name: string, value: Uint8Array | ProviderError) => {
        for (const i of byName.get(name) ?? []) results[i] = value;
      };
      try {
        const found = await this.#batch(chunk, opts.signal);
        for (const name of chunk) answer(name, found.get(name) ?? notFound(first(name)));
      } catch (err: unknown) {
        const e = awsError(err, `batch of ${chunk.length} parameters`, opts.signal);
        // Refused as a whole (a malformed name, a policy without GetParameters, a key SSM may
        // not decrypt): ask each name alone, so one bad name does not fail the others. Not when
        // AWS is throttling or down: more calls would only make that worse.
        if (chunk.length > 1 && e.kind !== 'Throttled' && e.kind !== 'Unavailable' && !opts.signal.aborted) {
          await Promise.all(
            chunk.map(async (name) => {
              const ref = first(name);
              answer(
                name,
                await this.#getOne(ref, opts, prefix).catch((one: unknown) =>
                  awsError(one, describe(ref), opts.signal),
                ),
              );
            }),
          );
        } else for (const name of chunk) answer(name, e);
      }
    }
    return results;
  }

  /** One GetParameters call: requested name (with its selector) -> bytes or per-name error. */
  async #batch(names: string[], signal: AbortSignal): Promise<Map<string, Uint8Array | ProviderError>> {
    const out = await this.#ssm.send(new GetParametersCommand({ Names: names, WithDecryption: true }), {
      abortSignal: signal,
    });
    const found = new Map<string, Uint8Array | ProviderError>();
    const asked = new Set(names);
    for (const p of out.Parameters ?? []) {
      // SSM answers with the parameter's Name (or ARN, when asked by ARN) and the selector asked.
      for (const id of [p.Name, p.ARN]) {
        const name = `${id ?? ''}${p.Selector ?? ''}`;
        if (!id || !asked.has(name)) continue;
        try {
          found.set(name, parameterBytes(p, `parameter "${name}"`));
        } catch (err: unknown) {
          found.set(name, awsError(err, `parameter "${name}"`));
        }
      }
    }
    // InvalidParameters: names that do not exist (or versions and labels they do not have).
    return found;
  }

  async findSecrets(find: FindRef, opts: CallOptions): Promise<Map<string, Uint8Array>> {
    const re = find.name?.regexp !== undefined ? compileNameRegexp(find.name.regexp) : undefined;
    const match = (name: string) => !re || re.test(name);
    if (find.tags && Object.keys(find.tags).length > 0) {
      return this.#values(await this.#describe(find, match, opts), opts);
    }
    const out = new Map<string, Uint8Array>();
    let token: string | undefined;
    try {
      do {
        const page = await this.#ssm.send(
          new GetParametersByPathCommand({
            Path: find.path ?? '/',
            Recursive: true,
            WithDecryption: true,
            MaxResults: BY_PATH_PAGE,
            ...(token ? { NextToken: token } : {}),
          }),
          { abortSignal: opts.signal },
        );
        for (const p of page.Parameters ?? []) {
          if (!p.Name || !match(p.Name)) continue;
          out.set(p.Name, parameterBytes(p, `parameter "${p.Name}"`));
        }
        token = page.NextToken;
      } while (token && out.size < MAX_FIND_RESULTS);
    } catch (err: unknown) {
      const e = awsError(err, 'GetParametersByPath', opts.signal);
      // ESO falls back to DescribeParameters when the policy lacks ssm:GetParametersByPath.
      if (e.kind === 'Forbidden' && !opts.signal.aborted) {
        return this.#values(await this.#describe(find, match, opts), opts);
      }
      throw e;
    }
    return out;
  }

  /** DescribeParameters with `tag:KEY` and `Path` filters: the names that match. */
  async #describe(find: FindRef, match: (name: string) => boolean, opts: CallOptions): Promise<string[]> {
    const filters: ParameterStringFilter[] = Object.entries(find.tags ?? {}).map(([k, v]) => ({
      Key: `tag:${k}`,
      Option: 'Equals',
      Values: [v],
    }));
    if (find.path) filters.push({ Key: 'Path', Option: 'Recursive', Values: [find.path] });
    const names: string[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await this.#ssm.send(
          new DescribeParametersCommand({
            MaxResults: DESCRIBE_PAGE,
            ...(filters.length ? { ParameterFilters: filters } : {}),
            ...(token ? { NextToken: token } : {}),
          }),
          { abortSignal: opts.signal },
        );
        for (const p of page.Parameters ?? []) if (p.Name && match(p.Name)) names.push(p.Name);
        token = page.NextToken;
      } while (token && names.length < MAX_FIND_RESULTS);
    } catch (err: unknown) {
      throw awsError(err, 'DescribeParameters', opts.signal);
    }
    return names;
  }

  /** The current values of found names (full names: the prefix is not added again), 10 a call. */
  async #values(names: string[], opts: CallOptions): Promise<Map<string, Uint8Array>> {
    const values = await this.#getSecrets(
      names.map((key) => ({ key })),
      opts,
      '',
    );
    const out = new Map<string, Uint8Array>();
    names.forEach((name, i) => {
      const v = values[i];
      if (v instanceof ProviderError) {
        // Deleted between the listing and the read: absent, as if listed a moment later.
        if (v.kind === 'NotFound') return;
        throw v;
      }
      if (v) out.set(name, v);
    });
    return out;
  }

  /**
   * ESO's `metadataPolicy: Fetch`: ListTagsForResource of the parameter, its tags as a JSON
   * object. Tags belong to the parameter, not to a version: the name is asked without one.
   */
  async getMetadata(ref: RemoteKey, opts: CallOptions): Promise<Uint8Array> {
    const subject = `parameter "${ref.key}" (tags)`;
    try {
      const out = await this.#ssm.send(
        new ListTagsForResourceCommand({
          ResourceType: 'Parameter',
          ResourceId: `${this.#prefix}${ref.key}`,
        }),
        { abortSignal: opts.signal },
      );
      return new TextEncoder().encode(tagsJson(out.TagList ?? []));
    } catch (err: unknown) {
      throw awsError(err, subject, opts.signal);
    }
  }

  /** The store check: DescribeParameters of one item (credentials, region, endpoint). */
  async validate(opts: CallOptions): Promise<void> {
    await awsProbe(
      () => this.#ssm.send(new DescribeParametersCommand({ MaxResults: 1 }), { abortSignal: opts.signal }),
      'DescribeParameters (store check)',
      opts.signal,
    );
  }

  async close(): Promise<void> {
    this.#ssm.destroy();
  }
}

function describe(ref: RemoteKey): string {
  return `parameter "${ref.key}"${ref.version ? ` version "${ref.version}"` : ''}`;
}

function parameterBytes(p: Parameter | undefined, subject: string): Uint8Array {
  if (p?.Value === undefined) throw new ProviderError('Invalid', `aws: ${subject} has no value`);
  return new TextEncoder().encode(p.Value);
}

function notFound(ref: RemoteKey): ProviderError {
  return new ProviderError('NotFound', `aws: ${describe(ref)}: ParameterNotFound`);
}
