/**
 * The built-in certificate mode (`--cert-mode builtin`): no cert-manager, nothing to prepare.
 *
 * One Secret (default `external-secrets-webhook-tls`) holds the state every replica shares:
 *   tls.crt, tls.key    the serving certificate, signed by ca.crt
 *   ca.crt, ca.key      the CA that signs it
 *   ca-next.crt/.key    a new CA announced in caBundle but not yet signing (CA rotation, step 1)
 *   ca-previous.crt     the CA just replaced, kept in caBundle while old certificates are served
 * The caBundle of the project's webhook configurations is ca.crt + ca-next.crt + ca-previous.crt.
 *
 * Whoever first finds no Secret creates it (create -> 409 -> read the winner's); the leader (or
 * every replica when there is no leader election) renews the serving certificate at 2/3 of its
 * lifetime with the same CA — so caBundle stays valid — and rotates the CA in three steps spaced
 * by `overlapMs` so no request ever meets a certificate its caBundle does not trust:
 *   1. new CA generated, caBundle = old + new                   (API servers learn the new CA)
 *   2. serving certificate from the new CA, caBundle = new + old (replicas pick it up)
 *   3. caBundle = new
 * Every replica writes the Secret's tls.crt/tls.key to its local files (an emptyDir); the
 * server's CertificateWatcher hot-reloads them, so nothing restarts. Writes use resourceVersion
 * preconditions (optimistic concurrency), so replicas racing each other converge on one state.
 */
// First: @peculiar/x509 needs the Reflect metadata API and certs.ts sets its crypto provider.
import 'reflect-metadata';
import '../server/certs.ts';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type {
  V1MutatingWebhookConfiguration,
  V1Secret,
  V1ValidatingWebhookConfiguration,
} from '@kubernetes/client-node';
import * as x509lib from '@peculiar/x509';
import { errorMessage } from '../errors.ts';
import { type Logger, objectRef } from '../observability/logger.ts';
import { writeFileAtomic } from '../server/atomic-file.ts';
import {
  type CertificateAuthority,
  certificateHosts,
  createCertificateAuthority,
  createCertificates,
  serviceDnsNames,
} from '../server/certs.ts';
import { KubeApiError, KubeHttp, namespacedPath } from './http.ts';
import type { KubeSource } from './kubeconfig.ts';

const DAY_MS = 86_400_000;

/** Secret keys and annotation of the built-in mode. */
export const CERT_SECRET_KEYS = {
  cert: 'tls.crt',
  key: 'tls.key',
  ca: 'ca.crt',
  caKey: 'ca.key',
  nextCa: 'ca-next.crt',
  nextCaKey: 'ca-next.key',
  previousCa: 'ca-previous.crt',
} as const;
/** When the current CA rotation step began (ISO 8601); absent when no rotation is under way. */
export const CA_STEP_ANNOTATION = 'esw.io/ca-rotation-step-since';

export interface CertBootstrapOptions {
  kubeConfig: KubeSource;
  /** The process's HTTP path to the API server; default one of its own for `kubeConfig`. */
  http?: KubeHttp;
  namespace: string;
  secretName: string;
  /** The webhook's Service name: the serving certificate's SANs are its DNS names. */
  service: string;
  mutatingWebhooks: string[];
  validatingWebhooks: string[];
  /** Where this replica's server reads its certificate (an emptyDir in the Deployment). */
  certFile: string;
  keyFile: string;
  logger: Logger;
  /**
   * Whether this replica may renew and patch now (the leader, within the renew deadline of its
   * Lease: asked right before each such write); anyone creates a missing Secret. Default: always.
   */
  mayWrite?: () => boolean;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
  /** Serving certificate lifetime; default 90 days. */
  servingValidityMs?: number;
  /** CA lifetime; default 10 years. */
  caValidityMs?: number;
  /** Renew when this fraction of the lifetime has passed; default 2/3. */
  renewFraction?: number;
  /** Time between CA rotation steps; must exceed syncPeriodMs plus API-server propagation. Default 10 min. */
  overlapMs?: number;
  /** How often each replica re-reads the Secret and the leader reconciles; default 30 s. */
  syncPeriodMs?: number;
}

/** The state in the Secret, decoded. */
export interface CertState {
  cert: string;
  key: string;
  ca: CertificateAuthority;
  nextCa?: CertificateAuthority;
  previousCa?: string;
  stepSince?: Date;
}

export interface ReconcileResult {
  /** What the leader changed in the Secret this pass ('created', 'renewed', 'ca-next', …). */
  actions: string[];
  /** True when this replica's cert files changed. */
  filesWritten: boolean;
  /** Webhook configurations whose caBundle was updated. */
  patched: string[];
  /** Webhook configurations not found (not installed yet, or being uninstalled). */
  missing: string[];
}

export class CertBootstrap {
  readonly #o: Required<Omit<CertBootstrapOptions, 'kubeConfig' | 'http'>>;
  readonly #core: ReturnType<typeof coreCalls>;
  readonly #admission: ReturnType<typeof admissionCalls>;
  #loop: Promise<void> | undefined;
  #stopped = false;
  #wake: (() => void) | undefined;
  #ready = false;
  #lastError: string | undefined;
  #lastMissing = false;

  constructor(opts: CertBootstrapOptions) {
    this.#o = {
      mayWrite: () => true,
      now: () => new Date(),
      sleep: (ms) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, ms);
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        }),
      servingValidityMs: 90 * DAY_MS,
      caValidityMs: 3650 * DAY_MS,
      renewFraction: 2 / 3,
      overlapMs: 10 * 60_000,
      syncPeriodMs: 30_000,
      ...opts,
    };
    const http = opts.http ?? new KubeHttp(opts.kubeConfig);
    this.#core = coreCalls(http);
    this.#admission = admissionCalls(http);
  }

  get hosts(): string[] {
    return serviceDnsNames(this.#o.service, this.#o.namespace);
  }

  /** Reasons this replica is not ready yet (no certificate written). */
  notReady(): string[] {
    if (this.#ready) return [];
    return [`serving certificate not written yet${this.#lastError ? `: ${this.#lastError}` : ''}`];
  }

  /**
   * Reconciles until this replica's cert files exist (the server cannot start without them),
   * retrying API errors every `retryMs` at most `attempts` times, then keeps reconciling every
   * syncPeriodMs in the background until stop().
   */
  async start(opts: { retryMs?: number; attempts?: number } = {}): Promise<void> {
    const attempts = opts.attempts ?? 60;
    for (let i = 1; ; i++) {
      try {
        await this.reconcile();
        break;
      } catch (err: unknown) {
        this.#lastError = errorMessage(err);
        if (i >= attempts) throw err;
        this.#o.logger.warn({ err: this.#lastError, attempt: i }, 'certificate bootstrap failed; retrying');
        await this.#o.sleep(opts.retryMs ?? 2_000);
      }
    }
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    // Helm and kustomize create webhook configurations after the Deployment: while one is
    // missing, look again soon (1 s, doubling up to syncPeriodMs) so the caBundle lands quickly.
    let missingStreak = this.#lastMissing ? 1 : 0;
    while (!this.#stopped) {
      const wait =
        missingStreak > 0 ? Math.min(this.#o.syncPeriodMs, 500 * 2 ** missingStreak) : this.#o.syncPeriodMs;
      await this.#o.sleep(wait);
      if (this.#stopped) return;
      try {
        const res = await this.reconcile();
        missingStreak = res.missing.length > 0 ? missingStreak + 1 : 0;
      } catch (err: unknown) {
        // The current files stay valid for weeks; the next pass retries.
        this.#lastError = errorMessage(err);
        this.#o.logger.warn({ err: this.#lastError }, 'certificate reconcile failed; retrying');
      }
    }
  }

  /** One pass: ensure the Secret, renew/rotate (leader), patch caBundle (leader), write files. */
  async reconcile(): Promise<ReconcileResult> {
    const result: ReconcileResult = { actions: [], filesWritten: false, patched: [], missing: [] };
    let state: CertState | undefined;
    for (let attempt = 0; attempt < 5 && !state; attempt++) {
      state = await this.#ensureSecret(result);
    }
    if (!state)
      throw new Error(`Secret ${this.#o.namespace}/${this.#o.secretName}: too many write conflicts`);
    if (this.#o.mayWrite()) {
      await this.#syncCaBundle(caBundle(state), result);
    }
    result.filesWritten = await this.#writeFiles(state);
    this.#ready = true;
    this.#lastError = undefined;
    this.#lastMissing = result.missing.length > 0;
    return result;
  }

  /** Reads (or creates) the Secret and applies the leader's transitions; undefined on a 409. */
  async #ensureSecret(result: ReconcileResult): Promise<CertState | undefined> {
    const { namespace, secretName: name } = this.#o;
    let secret: V1Secret;
    try {
      secret = await this.#core.readNamespacedSecret({ name, namespace });
    } catch (err: unknown) {
      if (!isStatus(err, 404)) throw err;
      const state = await this.#fresh();
      try {
        await this.#core.createNamespacedSecret({ namespace, body: this.#toSecret(state) });
        result.actions.push('created');
        this.#o.logger.info(
          { secret: objectRef(namespace, name) },
          'created the webhook CA and serving certificate',
        );
        return state;
      } catch (createErr: unknown) {
        if (isStatus(createErr, 409)) return undefined; // another replica won: read theirs
        throw createErr;
      }
    }
    let state = decodeState(secret);
    const actions: string[] = [];
    if (!state) {
      // Missing or unparsable keys (someone edited the Secret): start over with a new CA.
      state = await this.#fresh();
      actions.push('recreated');
    } else if (this.#o.mayWrite()) {
      const stored = { ...state };
      actions.push(...(await this.#advance(state)));
      // #advance reads the webhook configurations and signs: the deadline is asked again right
      // before the write. Refused, the Secret stays as stored, for the next leader to advance.
      if (actions.length > 0 && !this.#o.mayWrite()) {
        this.#o.logger.info(
          { actions },
          'certificate renewal left for the next leader: past the renew deadline',
        );
        return stored;
      }
    }
    if (actions.length === 0) return state;
    try {
      await this.#core.replaceNamespacedSecret({ name, namespace, body: this.#toSecret(state, secret) });
    } catch (err: unknown) {
      if (isStatus(err, 409)) return undefined; // changed under us: start the pass again
      throw err;
    }
    result.actions.push(...actions);
    this.#o.logger.info({ secret: objectRef(namespace, name), actions }, 'webhook certificates updated');
    return state;
  }

  async #fresh(): Promise<CertState> {
    const ca = await this.#newCa();
    return { ...(await this.#issue(ca)), ca };
  }

  async #newCa(): Promise<CertificateAuthority> {
    return createCertificateAuthority({
      validityDays: this.#o.caValidityMs / DAY_MS,
      now: this.#o.now,
      commonName: `${this.#o.service}.${this.#o.namespace} CA ${randomBytes(4).toString('hex')}`,
    });
  }

  async #issue(ca: CertificateAuthority): Promise<{ cert: string; key: string }> {
    const b = await createCertificates({
      hosts: this.hosts,
      ca,
      validityDays: this.#o.servingValidityMs / DAY_MS,
      now: this.#o.now,
    });
    return { cert: b.cert, key: b.key };
  }

  /** The leader's transitions, applied to `state` in place; returns what changed. */
  async #advance(state: CertState): Promise<string[]> {
    const now = this.#o.now().getTime();
    const actions: string[] = [];
    const stepDone = state.stepSince !== undefined && now - state.stepSince.getTime() >= this.#o.overlapMs;
    if (state.previousCa !== undefined && stepDone) {
      delete state.previousCa;
      delete state.stepSince;
      actions.push('ca-previous-dropped');
    } else if (state.nextCa && stepDone && !(await this.#configurationsTrust(state.nextCa.cert))) {
      // The caBundle write of step 1 did not land (API error, configuration recreated): the
      // overlap only starts once the API servers can know the new CA. This pass writes it.
      state.stepSince = new Date(now);
      actions.push('ca-next-pending');
    } else if (state.nextCa && stepDone) {
      state.previousCa = state.ca.cert;
      state.ca = state.nextCa;
      delete state.nextCa;
      state.stepSince = new Date(now);
      Object.assign(state, await this.#issue(state.ca));
      actions.push('ca-promoted');
    } else if (!state.nextCa && state.previousCa === undefined && this.#due(state.ca.cert, now)) {
      state.nextCa = await this.#newCa();
      state.stepSince = new Date(now);
      actions.push('ca-next');
    }
    if (!actions.includes('ca-promoted') && (await this.#servingNeedsRenewal(state, now))) {
      Object.assign(state, await this.#issue(state.ca));
      actions.push('renewed');
    }
    return actions;
  }

  /** True when every existing webhook of the project's configurations trusts `caPem`. */
  async #configurationsTrust(caPem: string): Promise<boolean> {
    const want = caPem.trim();
    const reads = [
      ...this.#o.mutatingWebhooks.map(
        (name) => () => this.#admission.readMutatingWebhookConfiguration({ name }),
      ),
      ...this.#o.validatingWebhooks.map(
        (name) => () => this.#admission.readValidatingWebhookConfiguration({ name }),
      ),
    ];
    for (const read of reads) {
      let webhooks: Array<{ clientConfig: { caBundle?: string } }>;
      try {
        webhooks = (await read()).webhooks ?? [];
      } catch (err: unknown) {
        if (isStatus(err, 404)) continue; // not installed: nothing calls us through it
        throw err;
      }
      for (const w of webhooks) {
        const bundle = Buffer.from(w.clientConfig.caBundle ?? '', 'base64').toString('utf8');
        if (!bundle.includes(want)) return false;
      }
    }
    return true;
  }

  #due(pem: string, now: number): boolean {
    const v = validity(pem);
    if (!v) return true;
    const renewAt = v.notBefore + (v.notAfter - v.notBefore) * this.#o.renewFraction;
    return now >= renewAt;
  }

  async #servingNeedsRenewal(state: CertState, now: number): Promise<boolean> {
    if (this.#due(state.cert, now)) return true;
    // Service renamed or moved namespace: the SANs must follow.
    const hosts = new Set(certificateHosts(state.cert));
    if (!this.hosts.every((h) => hosts.has(h))) return true;
    // Signed by a CA that is no longer the signing one (edited Secret).
    return !(await issuedBy(state.cert, state.ca.cert));
  }

  #toSecret(state: CertState, existing?: V1Secret): V1Secret {
    const k = CERT_SECRET_KEYS;
    const data: Record<string, string> = {
      [k.cert]: b64(state.cert),
      [k.key]: b64(state.key),
      [k.ca]: b64(state.ca.cert),
      [k.caKey]: b64(state.ca.key),
    };
    if (state.nextCa) {
      data[k.nextCa] = b64(state.nextCa.cert);
      data[k.nextCaKey] = b64(state.nextCa.key);
    }
    if (state.previousCa) data[k.previousCa] = b64(state.previousCa);
    const annotations = { ...(existing?.metadata?.annotations ?? {}) };
    delete annotations[CA_STEP_ANNOTATION];
    if (state.stepSince) annotations[CA_STEP_ANNOTATION] = state.stepSince.toISOString();
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      // The type is immutable: keep whatever a pre-created Secret has.
      type: existing?.type ?? 'kubernetes.io/tls',
      metadata: {
        ...(existing?.metadata ?? {}),
        name: this.#o.secretName,
        namespace: this.#o.namespace,
        labels: {
          ...(existing?.metadata?.labels ?? {}),
          'app.kubernetes.io/name': 'external-secrets-webhook',
          'app.kubernetes.io/component': 'webhook-certificate',
        },
        annotations,
      },
      data,
    };
  }

  /** Puts `bundle` into every webhook of the project's configurations (result.patched/missing). */
  async #syncCaBundle(bundle: string, result: ReconcileResult): Promise<void> {
    const want = b64(bundle);
    const changed = result.patched;
    const kinds = [
      {
        kind: 'MutatingWebhookConfiguration',
        names: this.#o.mutatingWebhooks,
        read: (name: string) => this.#admission.readMutatingWebhookConfiguration({ name }),
        replace: (name: string, body: V1MutatingWebhookConfiguration) =>
          this.#admission.replaceMutatingWebhookConfiguration({ name, body }),
      },
      {
        kind: 'ValidatingWebhookConfiguration',
        names: this.#o.validatingWebhooks,
        read: (name: string) => this.#admission.readValidatingWebhookConfiguration({ name }),
        replace: (name: string, body: V1ValidatingWebhookConfiguration) =>
          this.#admission.replaceValidatingWebhookConfiguration({ name, body }),
      },
    ];
    for (const k of kinds) {
      for (const name of k.names) {
        for (let attempt = 0; ; attempt++) {
          let cfg: V1MutatingWebhookConfiguration | V1ValidatingWebhookConfiguration;
          try {
            cfg = await k.read(name);
          } catch (err: unknown) {
            if (!isStatus(err, 404)) throw err;
            // Not installed (or being uninstalled): nothing to patch, and nothing calls us.
            this.#o.logger.warn(
              { webhookConfiguration: { kind: k.kind, name } },
              'webhook configuration not found; caBundle not set',
            );
            result.missing.push(`${k.kind}/${name}`);
            break;
          }
          const webhooks = cfg.webhooks ?? [];
          if (webhooks.every((w) => w.clientConfig.caBundle === want)) break;
          for (const w of webhooks) w.clientConfig.caBundle = want;
          // Past the renew deadline: the next leader's pass writes it.
          if (!this.#o.mayWrite()) return;
          try {
            await k.replace(name, cfg as never);
            changed.push(`${k.kind}/${name}`);
            this.#o.logger.info({ webhookConfiguration: { kind: k.kind, name } }, 'caBundle updated');
            break;
          } catch (err: unknown) {
            if (!isStatus(err, 409) || attempt >= 4) throw err;
          }
        }
      }
    }
  }

  /** Writes tls.crt/tls.key when they differ from the files; atomic renames, key first. */
  async #writeFiles(state: CertState): Promise<boolean> {
    const [cert, key] = await Promise.all([
      readFile(this.#o.certFile, 'utf8').catch(() => ''),
      readFile(this.#o.keyFile, 'utf8').catch(() => ''),
    ]);
    if (cert === state.cert && key === state.key) return false;
    await writeFileAtomic(this.#o.keyFile, state.key, 0o600);
    await writeFileAtomic(this.#o.certFile, state.cert, 0o644);
    this.#o.logger.info({ cert: this.#o.certFile }, 'serving certificate written');
    return true;
  }
}

/** The caBundle the webhook configurations must carry for `state`. */
export function caBundle(state: CertState): string {
  return [state.ca.cert, state.nextCa?.cert, state.previousCa]
    .filter((p): p is string => typeof p === 'string')
    .map((p) => (p.endsWith('\n') ? p : `${p}\n`))
    .join('');
}

/** The Secret's state, or undefined when a required key is missing or unparsable. */
export function decodeState(secret: V1Secret): CertState | undefined {
  const d = secret.data ?? {};
  const k = CERT_SECRET_KEYS;
  const get = (key: string) => (d[key] ? Buffer.from(d[key], 'base64').toString('utf8') : undefined);
  const cert = get(k.cert);
  const key = get(k.key);
  const ca = get(k.ca);
  const caKey = get(k.caKey);
  if (!cert || !key || !ca || !caKey) return undefined;
  if (!validity(cert) || !validity(ca)) return undefined;
  const state: CertState = { cert, key, ca: { cert: ca, key: caKey } };
  const nextCa = get(k.nextCa);
  const nextCaKey = get(k.nextCaKey);
  if (nextCa && nextCaKey && validity(nextCa)) state.nextCa = { cert: nextCa, key: nextCaKey };
  const previousCa = get(k.previousCa);
  if (previousCa && validity(previousCa)) state.previousCa = previousCa;
  const since = secret.metadata?.annotations?.[CA_STEP_ANNOTATION];
  if (since && !Number.isNaN(Date.parse(since))) state.stepSince = new Date(since);
  return state;
}

function validity(pem: string): { notBefore: number; notAfter: number } | undefined {
  try {
    const c = new x509lib.X509Certificate(pem);
    return { notBefore: c.notBefore.getTime(), notAfter: c.notAfter.getTime() };
  } catch {
    return undefined;
  }
}

async function issuedBy(certPem: string, caPem: string): Promise<boolean> {
  try {
    const ca = new x509lib.X509Certificate(caPem);
    return await new x509lib.X509Certificate(certPem).verify({
      publicKey: ca.publicKey,
      signatureOnly: true,
    });
  } catch {
    return false;
  }
}

function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}

function isStatus(err: unknown, code: number): boolean {
  return err instanceof KubeApiError && err.statusCode === code;
}

/** The Secret calls, on the project's HTTP path (client-node's generated API is never loaded). */
function coreCalls(http: KubeHttp) {
  const path = (namespace: string, name?: string) => namespacedPath('/api/v1', namespace, 'secrets', name);
  return {
    readNamespacedSecret: (a: { name: string; namespace: string }) =>
      http.request<V1Secret>('GET', path(a.namespace, a.name), {
        what: `get secret ${a.namespace}/${a.name}`,
      }),
    createNamespacedSecret: (a: { namespace: string; body: V1Secret }) =>
      http.request<V1Secret>('POST', path(a.namespace), {
        body: a.body,
        what: `create secret ${a.namespace}/${a.body.metadata?.name ?? ''}`,
      }),
    replaceNamespacedSecret: (a: { name: string; namespace: string; body: V1Secret }) =>
      http.request<V1Secret>('PUT', path(a.namespace, a.name), {
        body: a.body,
        what: `replace secret ${a.namespace}/${a.name}`,
      }),
  };
}

/** The webhook configuration calls (read and replace), on the project's HTTP path. */
function admissionCalls(http: KubeHttp) {
  const base = '/apis/admissionregistration.k8s.io/v1';
  const call =
    <T>(method: 'GET' | 'PUT', plural: string) =>
    (a: { name: string; body?: T }) =>
      http.request<T>(method, `${base}/${plural}/${encodeURIComponent(a.name)}`, {
        ...(a.body !== undefined ? { body: a.body } : {}),
        what: `${method === 'GET' ? 'get' : 'replace'} ${plural} ${a.name}`,
      });
  return {
    readMutatingWebhookConfiguration: call<V1MutatingWebhookConfiguration>(
      'GET',
      'mutatingwebhookconfigurations',
    ),
    replaceMutatingWebhookConfiguration: call<V1MutatingWebhookConfiguration>(
      'PUT',
      'mutatingwebhookconfigurations',
    ),
    readValidatingWebhookConfiguration: call<V1ValidatingWebhookConfiguration>(
      'GET',
      'validatingwebhookconfigurations',
    ),
    replaceValidatingWebhookConfiguration: call<V1ValidatingWebhookConfiguration>(
      'PUT',
      'validatingwebhookconfigurations',
    ),
  };
}
