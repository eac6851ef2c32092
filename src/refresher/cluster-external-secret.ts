/**
 * ClusterExternalSecret, as ESO's controller (pkg/controllers/clusterexternalsecret): the leader
 * creates one ExternalSecret per selected namespace from `spec.externalSecretSpec` and keeps it
 * so; the refresher then syncs those like any other ExternalSecret.
 *
 * - Namespaces: those named in `spec.namespaces`, and those matching `spec.namespaceSelectors` or
 *   the deprecated `spec.namespaceSelector` (an empty selector matches every namespace); a
 *   namespace being deleted is skipped (neither provisioned nor failed).
 * - The ExternalSecret: `spec.externalSecretName` (default: the ClusterExternalSecret's name),
 *   labels and annotations from `spec.externalSecretMetadata` (replacing the object's, as ESO's
 *   CreateOrUpdate does), the `force-sync` annotation copied from the ClusterExternalSecret, the
 *   spec as given, and a controller ownerReference to the ClusterExternalSecret — deleting it
 *   garbage-collects them (ESO adds finalizers for the same end).
 * - Ownership: an ExternalSecret of that name this ClusterExternalSecret does not control is
 *   never overwritten: the namespace fails with ESO's "external secret already exists in
 *   namespace". One it controls is removed when its namespace stops matching, and every one when
 *   `externalSecretName` changes (the old name's).
 * - Status as ESO's: `externalSecretName`, `provisionedNamespaces` (sorted),
 *   `failedNamespaces` ({namespace, reason}, sorted), condition Ready True, or False with "one or
 *   more namespaces failed". Patched only when it changed.
 * - When: at once on a change of the ClusterExternalSecret (generation, labels, annotations), of
 *   a namespace (labels, creation, deletion) or of an ExternalSecret it controls (edited or
 *   deleted by hand), and every `spec.refreshTime` (default 1h). Reads come from the informer
 *   caches: a pass that finds everything in place makes no API call.
 * - A ClusterExternalSecret whose ExternalSecrets would read a ClusterSecretStore of another
 *   controller class is left alone.
 */
import { createHash } from 'node:crypto';
import { parseDuration } from '../api/duration.ts';
import type {
  ExternalSecret,
  KubeObject,
  LabelSelector,
  Namespace,
  OwnerReference,
  SecretStore,
} from '../api/types.ts';
import { errorMessage } from '../errors.ts';
import { isConflict, type KubeClient } from '../kube/client.ts';
import type { Logger } from '../observability/logger.ts';
import { ConditionError, matchesLabelSelector } from '../resolve/conditions.ts';
import { stableJson } from '../resolve/resolver.ts';
import { FORCE_SYNC, NotLeaderError } from './refresher.ts';
import { refuseLateWrites } from './write-deadline.ts';

export const CES_KIND = 'ClusterExternalSecret';
export const CES_GROUP = 'external-secrets.io';
/** ESO's messages. */
export const MSG_ALREADY_EXISTS = 'external secret already exists in namespace';
export const MSG_NAMESPACES_FAILED = 'one or more namespaces failed';
const DEFAULT_REFRESH_MS = 3_600_000;
/** The hash of the spec last written from the ClusterExternalSecret (names no value). */
export const SPEC_HASH_ANNOTATION = 'esw.io/ces-spec-hash';
const RETRY_MS = 2_000;

export interface ClusterExternalSecret extends KubeObject {
  spec?: {
    externalSecretSpec?: Record<string, unknown>;
    externalSecretName?: string;
    externalSecretMetadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
    namespaceSelector?: LabelSelector | null;
    namespaceSelectors?: (LabelSelector | null)[];
    namespaces?: string[];
    refreshTime?: string;
  };
  status?: CesStatus;
}

export interface CesStatus {
  externalSecretName?: string;
  provisionedNamespaces?: string[];
  failedNamespaces?: { namespace: string; reason?: string }[];
  conditions?: { type: string; status: string; message?: string }[];
}

/** What the fan-out writes, as a narrow port (the adapter on KubeClient is below). */
export interface CesWriter {
  createExternalSecret(namespace: string, es: ExternalSecret): Promise<void>;
  replaceExternalSecret(namespace: string, es: ExternalSecret): Promise<void>;
  /** Only the object with `uid`; a missing one is no error. */
  deleteExternalSecret(namespace: string, name: string, uid: string | undefined): Promise<void>;
  patchStatus(ces: ClusterExternalSecret, status: CesStatus): Promise<void>;
}

export interface CesSources {
  namespaces(): Iterable<Namespace>;
  externalSecret(namespace: string, name: string): ExternalSecret | undefined;
  /** For the controller class: the ClusterSecretStore of that name. */
  clusterStore(name: string): SecretStore | undefined;
}

export interface CesControllerOptions {
  kube: CesWriter;
  sources: CesSources;
  logger: Logger;
  /** True when this controller class serves the store (src/api/controller-class.ts). */
  serves: (store: SecretStore) => boolean;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => { cancel(): void };
  /**
   * Asked right before every write (create, replace, delete, status): false from the renew
   * deadline of the Lease that makes this replica the writer on (src/refresher/write-deadline.ts).
   * A refused pass writes nothing more and is left for the next holder, whose start() reconciles
   * every ClusterExternalSecret. Default: always.
   */
  mayWrite?: () => boolean;
}

interface State {
  ces: ClusterExternalSecret;
  due: number;
}

export class ClusterExternalSecrets {
  readonly #opts: CesControllerOptions;
  readonly #now: () => number;
  readonly #kube: CesWriter;
  readonly #all = new Map<string, State>();
  #running = false;
  #timer: { cancel(): void; at: number } | undefined;
  #ticking: Promise<number> | undefined;

  constructor(opts: CesControllerOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#kube = opts.mayWrite ? refuseLateWrites(opts.kube, opts.mayWrite) : opts.kube;
  }

  get running(): boolean {
    return this.#running;
  }

  // ---------------------------------------------------------------- inputs

  upsert(ces: ClusterExternalSecret): void {
    const name = ces.metadata?.name ?? '';
    const prev = this.#all.get(name);
    this.#all.set(name, { ces, due: prev && sameVersion(prev.ces, ces) ? prev.due : this.#now() });
    this.#wake();
  }

  remove(ces: ClusterExternalSecret): void {
    this.#all.delete(ces.metadata?.name ?? '');
  }

  /** A namespace was created, relabelled or deleted: every ClusterExternalSecret looks again. */
  namespaceChanged(): void {
    for (const s of this.#all.values()) s.due = Math.min(s.due, this.#now());
    this.#wake();
  }

  /** An ExternalSecret changed or went: its controlling ClusterExternalSecret looks again. */
  externalSecretChanged(es: ExternalSecret): void {
    const owner = controllerOf(es);
    if (!owner) return;
    const s = this.#all.get(owner.name);
    if (!s || s.ces.metadata?.uid !== owner.uid) return;
    s.due = Math.min(s.due, this.#now());
    this.#wake();
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    for (const s of this.#all.values()) s.due = this.#now();
    this.#wake();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#timer?.cancel();
    this.#timer = undefined;
    await this.#ticking;
  }

  /** Reconciles every ClusterExternalSecret due now and waits; returns how many ran. */
  tick(): Promise<number> {
    if (this.#ticking) return this.#ticking;
    const run = this.#drain().finally(() => {
      this.#ticking = undefined;
      this.#wake();
    });
    this.#ticking = run;
    return run;
  }

  async #drain(): Promise<number> {
    let ran = 0;
    for (;;) {
      if (!this.#running) return ran;
      const now = this.#now();
      const due = [...this.#all.values()].filter((s) => s.due <= now);
      if (due.length === 0) return ran;
      for (const state of due) {
        if (!this.#running) return ran;
        state.due = Number.POSITIVE_INFINITY;
        ran++;
        let retry = false;
        try {
          retry = await this.#reconcile(state.ces);
        } catch (err: unknown) {
          retry = true;
          if (err instanceof NotLeaderError)
            this.#opts.logger.debug(
              { clusterExternalSecret: state.ces.metadata?.name },
              'ClusterExternalSecret not reconciled: past the renew deadline; left for the next holder',
            );
          else
            this.#opts.logger.warn(
              { clusterExternalSecret: state.ces.metadata?.name, err: errorMessage(err) },
              'ClusterExternalSecret not reconciled; retrying',
            );
        }
        // Changed meanwhile: already due again.
        if (state.due !== Number.POSITIVE_INFINITY) continue;
        state.due = this.#now() + (retry ? RETRY_MS : refreshOf(state.ces));
      }
    }
  }

  // ---------------------------------------------------------------- one pass

  /** Returns true when it should be retried soon (a lost race). */
  async #reconcile(ces: ClusterExternalSecret): Promise<boolean> {
    if (ces.metadata?.deletionTimestamp) return false; // the garbage collector removes the rest
    if (this.#otherClass(ces)) return false;
    const cesName = ces.metadata?.name ?? '';
    const esName = ces.spec?.externalSecretName || cesName;
    const status = ces.status ?? {};
    const failed = new Map<string, string>();
    let retry = false;

    // A new externalSecretName: the old name's objects go (ESO's removeOldSecrets).
    const prevName = status.externalSecretName;
    if (prevName && prevName !== esName) {
      for (const ns of status.provisionedNamespaces ?? []) {
        try {
          await this.#deleteOwned(ces, ns, prevName);
        } catch (err: unknown) {
          if (err instanceof NotLeaderError) throw err;
          failed.set(ns, errorMessage(err));
        }
      }
      if (failed.size > 0) {
        await this.#writeStatus(ces, {
          externalSecretName: prevName,
          provisionedNamespaces: status.provisionedNamespaces ?? [],
          failed,
        });
        return true;
      }
    }

    let targets: Namespace[];
    try {
      targets = this.#targets(ces);
    } catch (err: unknown) {
      failed.set('unknown', errorMessage(err));
      await this.#writeStatus(ces, { externalSecretName: esName, provisionedNamespaces: [], failed });
      return false;
    }
    const selected = new Set(targets.map((n) => n.metadata?.name ?? ''));

    // Namespaces that stopped matching: the ExternalSecret this one created there goes.
    for (const ns of status.provisionedNamespaces ?? []) {
      if (selected.has(ns) || (prevName && prevName !== esName)) continue;
      try {
        await this.#deleteOwned(ces, ns, esName);
      } catch (err: unknown) {
        // A refused write ends the pass: the namespace did not fail.
        if (err instanceof NotLeaderError) throw err;
        failed.set(
          ns,
          `external secret in non matching namespace could not be deleted: ${errorMessage(err)}`,
        );
      }
    }

    const provisioned: string[] = [];
    for (const ns of targets) {
      const namespace = ns.metadata?.name ?? '';
      if (ns.metadata?.deletionTimestamp) continue;
      const existing = this.#opts.sources.externalSecret(namespace, esName);
      if (existing && !ownedBy(existing, ces)) {
        failed.set(namespace, MSG_ALREADY_EXISTS);
        continue;
      }
      try {
        await this.#apply(ces, namespace, esName, existing);
        provisioned.push(namespace);
      } catch (err: unknown) {
        if (err instanceof NotLeaderError) throw err;
        // A lost race (our cache behind our own write, or a concurrent edit): look again soon,
        // without reporting the namespace as failed meanwhile.
        if (isConflict(err)) retry = true;
        else failed.set(namespace, `could not create or update ExternalSecret: ${errorMessage(err)}`);
      }
    }
    if (retry) return true;
    await this.#writeStatus(ces, { externalSecretName: esName, provisionedNamespaces: provisioned, failed });
    return retry;
  }

  #otherClass(ces: ClusterExternalSecret): boolean {
    const spec = ces.spec?.externalSecretSpec as ExternalSecret['spec'] | undefined;
    const names = new Set<string>();
    const add = (ref: { name?: string; kind?: string } | undefined) => {
      if (ref?.name && ref.kind === 'ClusterSecretStore') names.add(ref.name);
    };
    add(spec?.secretStoreRef);
    for (const d of [...(spec?.data ?? []), ...(spec?.dataFrom ?? [])]) add(d.sourceRef?.storeRef);
    for (const name of names) {
      const store = this.#opts.sources.clusterStore(name);
      if (store && !this.#opts.serves(store)) return true;
    }
    return false;
  }

  /** ESO's GetTargetNamespaces: names first, then each selector, without duplicates. */
  #targets(ces: ClusterExternalSecret): Namespace[] {
    const spec = ces.spec ?? {};
    const selectors: { sel: LabelSelector; path: string }[] = [];
    if (spec.namespaceSelector)
      selectors.push({ sel: spec.namespaceSelector, path: 'spec.namespaceSelector' });
    (spec.namespaceSelectors ?? []).forEach((sel, i) => {
      if (sel) selectors.push({ sel, path: `spec.namespaceSelectors[${i}]` });
    });
    const names = new Set(spec.namespaces ?? []);
    const out: Namespace[] = [];
    for (const ns of this.#opts.sources.namespaces()) {
      const name = ns.metadata?.name ?? '';
      const labels = { ...(ns.metadata?.labels ?? {}), 'kubernetes.io/metadata.name': name };
      let match = names.has(name);
      for (const { sel, path } of selectors) {
        if (match) break;
        try {
          match = matchesLabelSelector(sel, labels, path);
        } catch (err: unknown) {
          if (err instanceof ConditionError)
            throw new ConditionError(`failed to convert label selector: ${err.message}`);
          throw err;
        }
      }
      if (match) out.push(ns);
    }
    return out;
  }

  async #deleteOwned(ces: ClusterExternalSecret, namespace: string, name: string): Promise<void> {
    const existing = this.#opts.sources.externalSecret(namespace, name);
    if (!existing || !ownedBy(existing, ces)) return;
    await this.#kube.deleteExternalSecret(namespace, name, existing.metadata?.uid);
    this.#opts.logger.info(
      { clusterExternalSecret: ces.metadata?.name, externalSecret: `${namespace}/${name}` },
      'ExternalSecret removed: its namespace no longer matches',
    );
  }

  async #apply(
    ces: ClusterExternalSecret,
    namespace: string,
    name: string,
    existing: ExternalSecret | undefined,
  ): Promise<void> {
    const meta = ces.spec?.externalSecretMetadata ?? {};
    const annotations: Record<string, string> = { ...(meta.annotations ?? {}) };
    const force = ces.metadata?.annotations?.[FORCE_SYNC];
    if (force !== undefined) annotations[FORCE_SYNC] = force;
    else delete annotations[FORCE_SYNC];
    const spec = (ces.spec?.externalSecretSpec ?? {}) as ExternalSecret['spec'];
    // The API server adds the CRD's defaults to what we write, so the stored spec never equals
    // ours: the hash of the spec we wrote says whether the ClusterExternalSecret changed since.
    annotations[SPEC_HASH_ANNOTATION] = specHash(spec);
    const owner: OwnerReference = {
      apiVersion: ces.apiVersion ?? `${CES_GROUP}/v1`,
      kind: CES_KIND,
      name: ces.metadata?.name ?? '',
      uid: ces.metadata?.uid ?? '',
      controller: true,
      blockOwnerDeletion: true,
    };
    const desired: ExternalSecret = {
      apiVersion: `${CES_GROUP}/v1`,
      kind: 'ExternalSecret',
      metadata: {
        name,
        namespace,
        ...(meta.labels && Object.keys(meta.labels).length ? { labels: { ...meta.labels } } : {}),
        ...(Object.keys(annotations).length ? { annotations } : {}),
        ownerReferences: [owner],
      },
      spec,
    };
    if (!existing) {
      await this.#kube.createExternalSecret(namespace, desired);
      this.#opts.logger.info(
        { clusterExternalSecret: owner.name, externalSecret: `${namespace}/${name}` },
        'ExternalSecret created',
      );
      return;
    }
    const others = (existing.metadata?.ownerReferences ?? []).filter(
      (r) => !(r.controller && r.uid === owner.uid),
    );
    const next: ExternalSecret = {
      ...desired,
      metadata: {
        ...existing.metadata,
        ...desired.metadata,
        labels: desired.metadata?.labels ?? {},
        annotations: desired.metadata?.annotations ?? {},
        ownerReferences: [...others, owner],
      },
    };
    if (
      // Every field we set is as we set it (an edit by hand is undone; defaults are not ours).
      subsetJson(next.spec ?? {}, existing.spec ?? {}) &&
      equalJson(existing.metadata?.labels ?? {}, next.metadata?.labels ?? {}) &&
      equalJson(existing.metadata?.annotations ?? {}, next.metadata?.annotations ?? {}) &&
      equalJson(existing.metadata?.ownerReferences ?? [], next.metadata?.ownerReferences ?? [])
    ) {
      return; // in place: no write
    }
    const { status: _status, ...body } = { ...next, status: undefined };
    await this.#kube.replaceExternalSecret(namespace, body);
  }

  async #writeStatus(
    ces: ClusterExternalSecret,
    r: { externalSecretName: string; provisionedNamespaces: string[]; failed: Map<string, string> },
  ): Promise<void> {
    const failedNamespaces = [...r.failed.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([namespace, reason]) => ({ namespace, reason }));
    const condition =
      r.failed.size === 0
        ? { type: 'Ready', status: 'True' }
        : { type: 'Ready', status: 'False', message: MSG_NAMESPACES_FAILED };
    const old = ces.status ?? {};
    const status: CesStatus = {
      externalSecretName: r.externalSecretName,
      provisionedNamespaces: [...r.provisionedNamespaces].sort(),
      failedNamespaces,
      conditions: [...(old.conditions ?? []).filter((c) => c.type !== 'Ready'), condition],
    };
    const comparable = (s: CesStatus) => ({
      externalSecretName: s.externalSecretName ?? '',
      provisionedNamespaces: s.provisionedNamespaces ?? [],
      failedNamespaces: s.failedNamespaces ?? [],
      conditions: s.conditions ?? [],
    });
    if (equalJson(comparable(old), comparable(status))) return;
    if (!this.#running) return;
    // Lists are replaced whole by a merge patch: an empty one is written as [] (not dropped).
    await this.#kube.patchStatus(ces, status);
  }

  #wake(): void {
    if (!this.#running || this.#ticking) return;
    let next = Number.POSITIVE_INFINITY;
    for (const s of this.#all.values()) if (s.due < next) next = s.due;
    if (!Number.isFinite(next)) return;
    const setTimer = this.#opts.setTimer;
    if (!setTimer) return;
    if (this.#timer && this.#timer.at <= next) return;
    this.#timer?.cancel();
    const at = next;
    const t = setTimer(
      () => {
        if (this.#timer?.at === at) this.#timer = undefined;
        void this.tick();
      },
      Math.max(0, at - this.#now()),
    );
    this.#timer = { cancel: () => t.cancel(), at };
  }
}

/** The adapter of CesWriter on the real API (src/kube/client.ts). */
export class ApiCesWriter implements CesWriter {
  readonly #client: KubeClient;
  constructor(client: KubeClient) {
    this.#client = client;
  }
  async createExternalSecret(namespace: string, es: ExternalSecret): Promise<void> {
    await this.#client.createExternalSecret(namespace, es);
  }
  async replaceExternalSecret(namespace: string, es: ExternalSecret): Promise<void> {
    await this.#client.replaceExternalSecret(namespace, es);
  }
  async deleteExternalSecret(namespace: string, name: string, uid: string | undefined): Promise<void> {
    await this.#client.deleteExternalSecret(namespace, name, uid);
  }
  async patchStatus(ces: ClusterExternalSecret, status: CesStatus): Promise<void> {
    await this.#client.patchClusterExternalSecretStatus(
      ces.metadata?.name ?? '',
      status as unknown as Record<string, unknown>,
    );
  }
}

/** The controller reference of an object, when it is a ClusterExternalSecret. */
function controllerOf(obj: KubeObject): OwnerReference | undefined {
  const ref = obj.metadata?.ownerReferences?.find((r) => r.controller);
  if (!ref || ref.kind !== CES_KIND || ref.apiVersion.split('/')[0] !== CES_GROUP) return undefined;
  return ref;
}

/** ESO's isExternalSecretOwnedBy: the controller reference names this ClusterExternalSecret. */
function ownedBy(es: ExternalSecret, ces: ClusterExternalSecret): boolean {
  const ref = controllerOf(es);
  return ref !== undefined && ref.name === ces.metadata?.name;
}

/** Generation, labels and annotations: what makes a pass due at once. */
function sameVersion(a: ClusterExternalSecret, b: ClusterExternalSecret): boolean {
  return (
    a.metadata?.generation === b.metadata?.generation &&
    a.metadata?.uid === b.metadata?.uid &&
    equalJson(a.metadata?.labels ?? {}, b.metadata?.labels ?? {}) &&
    equalJson(a.metadata?.annotations ?? {}, b.metadata?.annotations ?? {}) &&
    Boolean(a.metadata?.deletionTimestamp) === Boolean(b.metadata?.deletionTimestamp)
  );
}

function refreshOf(ces: ClusterExternalSecret): number {
  const raw = ces.spec?.refreshTime;
  const ms = raw === undefined ? undefined : parseDuration(raw);
  return ms !== undefined && ms > 0 ? ms : DEFAULT_REFRESH_MS;
}

function specHash(spec: unknown): string {
  return createHash('sha256')
    .update(stableJson(spec ?? {}))
    .digest('base64url')
    .slice(0, 22);
}

/** Every field of `want` is in `have` with the same value (objects: recursively). */
function subsetJson(want: unknown, have: unknown): boolean {
  if (typeof want !== 'object' || want === null || Array.isArray(want)) {
    if (Array.isArray(want) && Array.isArray(have)) {
      return want.length === have.length && want.every((x, i) => subsetJson(x, have[i]));
    }
    return equalJson(want, have);
  }
  if (typeof have !== 'object' || have === null || Array.isArray(have)) return false;
  return Object.entries(want).every(
    ([k, v]) => v === undefined || subsetJson(v, (have as Record<string, unknown>)[k]),
  );
}

/** Deep equality of JSON values, key order ignored. */
function equalJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => equalJson(x, bb[i]));
  }
  const ka = Object.keys(a as object).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b as object).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => equalJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
