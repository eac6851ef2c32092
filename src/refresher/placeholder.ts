/**
 * Refresh of placeholder Secrets: the templates recorded at admission in `esw.io/refs` are
 * resolved again (same resolver, same store annotations) and the Secret is replaced only when
 * its data changed — conditional on resourceVersion, so a concurrent edit is never overwritten.
 * A failure keeps the data as it is.
 */

import { dataHash, readPlaceholderSettings } from '../admission/mutate.ts';
import type { Secret } from '../api/types.ts';
import { EswError, errorMessage, isEswError } from '../errors.ts';
import { type Logger, objectRef } from '../observability/logger.ts';
import {
  bytesHaveRefs,
  PlaceholderAnnotation,
  parseRefsAnnotation,
  type Reference,
  referenceId,
  renderTemplate,
  templateReferences,
  toRemoteRef,
} from '../refs/placeholder.ts';
import type { Resolver, StoreRef } from '../resolve/types.ts';
import { PRIVILEGED_TYPES, type SyncOutcome } from './external-secret.ts';
import { ConflictError, type KubeWriter } from './ports.ts';
import { type PlaceholderSyncer, storeGroup } from './refresher.ts';

const MAX_CONFLICT_RETRIES = 5;

/** A remote key (at a version) a placeholder Secret reads. */
export interface RemoteKeyRef {
  key: string;
  version?: string;
}

export class PlaceholderRefresh implements PlaceholderSyncer {
  readonly #resolver: Resolver;
  readonly #logger: Logger;

  constructor(resolver: Resolver, logger: Logger) {
    this.#resolver = resolver;
    this.#logger = logger;
  }

  interval(secret: Secret): number {
    try {
      return readPlaceholderSettings(secret.metadata?.annotations ?? {}).refreshIntervalMs;
    } catch {
      return 0;
    }
  }

  phaseSeed(secret: Secret): { group: string; seed: string } {
    const annotations = secret.metadata?.annotations ?? {};
    const record = parseRefsAnnotation(annotations[PlaceholderAnnotation.refs]);
    const first = record?.dataFrom ?? [...(record?.templates.values() ?? [])].flatMap(templateReferences)[0];
    const kind = annotations[PlaceholderAnnotation.storeKind];
    return {
      group: storeGroup(
        kind,
        secret.metadata?.namespace ?? 'default',
        annotations[PlaceholderAnnotation.store] ?? '',
      ),
      seed: first?.key ?? `secret:${secret.metadata?.name ?? ''}`,
    };
  }

  /**
   * The store and remote keys the Secret reads (for a round's prefetch and for push refreshes);
   * undefined when its annotations cannot be read (the sync reports that).
   */
  reads(secret: Secret): { store: StoreRef; refs: RemoteKeyRef[] } | undefined {
    const annotations = secret.metadata?.annotations ?? {};
    const record = parseRefsAnnotation(annotations[PlaceholderAnnotation.refs]);
    let store: StoreRef | undefined;
    try {
      store = readPlaceholderSettings(annotations).store;
    } catch {
      return undefined;
    }
    if (!record || !store) return undefined;
    const refs = new Map<string, RemoteKeyRef>();
    const add = (r: Reference) =>
      refs.set(`${r.key}#${r.version}`, { key: r.key, ...(r.version ? { version: r.version } : {}) });
    for (const t of record.templates.values()) for (const r of templateReferences(t)) add(r);
    if (record.dataFrom) add(record.dataFrom);
    return { store, refs: [...refs.values()] };
  }

  async sync(secret: Secret, opts: { fetchedAfter: number; kube: KubeWriter }): Promise<SyncOutcome> {
    const ns = secret.metadata?.namespace ?? 'default';
    const name = secret.metadata?.name ?? '';
    // Its store belongs to another controller class: left alone, nothing read or written.
    if (this.#otherClass(secret)) return { result: 'skipped', otherClass: true };
    try {
      for (let attempt = 0; attempt <= MAX_CONFLICT_RETRIES; attempt++) {
        const current = await opts.kube.getSecret(ns, name);
        if (!current) return { result: 'skipped' };
        // Refused at admission; one labelled and annotated some other way is not written either.
        if (current.type && PRIVILEGED_TYPES.has(current.type)) {
          throw new EswError(
            'ESW_FORBIDDEN_TYPE',
            `Secret "${ns}/${name}" has type "${current.type}", which may not be managed`,
          );
        }
        const next = await this.#resolve(current, opts.fetchedAfter);
        if (!next) return { result: 'skipped' };
        const hash = dataHash(next);
        if (dataHash(current.data ?? {}) === hash) return { result: 'unchanged' };
        try {
          await opts.kube.replaceSecret(ns, {
            ...current,
            data: next,
            metadata: {
              ...current.metadata,
              annotations: {
                ...(current.metadata?.annotations ?? {}),
                [PlaceholderAnnotation.dataHash]: hash,
              },
            },
          });
          this.#logger.info({ secret: objectRef(ns, name) }, 'placeholder Secret refreshed');
          return { result: 'updated' };
        } catch (err: unknown) {
          if (err instanceof ConflictError) continue;
          throw err;
        }
      }
      throw new EswError('ESW_KUBE', `Secret "${ns}/${name}": too many conflicting writes`);
    } catch (err: unknown) {
      this.#logger.debug(
        { secret: objectRef(ns, name), err: errorMessage(err) },
        'placeholder refresh failed',
      );
      return { result: 'error', error: err };
    }
  }

  #otherClass(secret: Secret): boolean {
    let store: StoreRef | undefined;
    try {
      store = readPlaceholderSettings(secret.metadata?.annotations ?? {}).store;
    } catch {
      return false;
    }
    if (!store) return false;
    try {
      this.#resolver.checkStore(store, secret.metadata?.namespace ?? 'default');
      return false;
    } catch (err: unknown) {
      return isEswError(err) && err.code === 'ESW_STORE_OTHER_CLASS';
    }
  }

  /** The new base64 data, or undefined when the Secret carries no record of references. */
  async #resolve(secret: Secret, fetchedAfter: number): Promise<Record<string, string> | undefined> {
    const annotations = secret.metadata?.annotations ?? {};
    const record = parseRefsAnnotation(annotations[PlaceholderAnnotation.refs]);
    if (!record) return undefined;
    const { store } = readPlaceholderSettings(annotations);
    if (!store) throw new EswError('ESW_VALIDATION', `annotation ${PlaceholderAnnotation.store} is missing`);
    const ns = secret.metadata?.namespace ?? 'default';
    const unique = new Map<string, Reference>();
    for (const t of record.templates.values())
      for (const r of templateReferences(t)) unique.set(referenceId(r), r);
    const values = new Map<string, Buffer>();
    await Promise.all(
      [...unique].map(async ([id, ref]) => {
        values.set(id, await this.#resolver.getValue(store, ns, toRemoteRef(ref), { fetchedAfter }));
      }),
    );
    const data: Record<string, string> = { ...(secret.data ?? {}) };
    if (record.dataFrom) {
      const map = await this.#resolver.getMap(store, ns, toRemoteRef(record.dataFrom), { fetchedAfter });
      for (const [k, v] of map)
        if (!record.templates.has(k) && !bytesHaveRefs(v)) data[k] = v.toString('base64');
    }
    for (const [k, t] of record.templates) {
      const bytes = await renderTemplate(t, (ref) => values.get(referenceId(ref)) as Buffer, k);
      // A remote value that itself holds a reference is never stored (as at admission).
      if (bytesHaveRefs(bytes))
        throw new EswError('ESW_REF_SYNTAX', `key "${k}": the remote value holds a reference`);
      data[k] = bytes.toString('base64');
    }
    return data;
  }
}
