/**
 * The `vault` provider: HashiCorp Vault KV v1 and v2 through node-vault.
 *
 * - getSecret: KV v2 reads `<mount>/data/<key>[?version=N]` and returns the JSON of
 *   `data.data`; KV v1 reads `<mount>/<key>` and returns the JSON of `data` (keys sorted and
 *   HTML-escaped as Go's json.Marshal does, so the whole value matches ESO byte for byte). A
 *   soft-deleted version is NotFound. Paths follow ESO's buildPath (see options.ts).
 * - getMetadata (metadataPolicy Fetch, KV v2): `<mount>/metadata/<key>`'s custom_metadata and
 *   ESO's system fields, shaped and selected in metadata.ts.
 * - findSecrets: LIST (`<mount>/metadata/<path>` on v2, `<mount>/<path>` on v1) recursively,
 *   names relative to the mount, filtered by `name.regexp` and, on v2, by `tags` against each
 *   secret's `custom_metadata` (one metadata read per candidate); then one read per match.
 *   Bounded to 10,000 names and 32 folder levels. Needs `spec.path` (the mount).
 * - auth: `tokenSecretRef`, `appRole`, `kubernetes`, `userPass`, `ldap`, `jwt`, `cert` and `iam`
 *   (auth.ts, iam.ts; see session.ts for reuse and renewal), in `auth.namespace` when set.
 *   `gcp` is rejected as Invalid.
 * - `headers` on every request (reserved ones refused, options.ts); `tls`: a client certificate
 *   on every connection.
 * - `forwardInconsistent` sends `X-Vault-Inconsistent: forward-active-node`; `readYourWrites`
 *   has no effect (this provider never writes).
 * - Requests carry a per-request timeout; transient failures (5xx, sealed, connection reset)
 *   are retried up to `maxAttempts` with backoff; every call is bounded by its AbortSignal.
 */
import NodeVault from 'node-vault';
import type { FindRef, SecretKeySelector, VaultProvider } from '../../api/types.ts';
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
import { asObject, authMethod, checkKeyPair, FIELD, type LoginFn, loginOf } from './auth.ts';
import { kindOfStatus, statusOf, vaultDeadline, vaultError } from './errors.ts';
import { kvMetadataReadPath, metadataDocument, vaultSelection } from './metadata.ts';
import {
  type KvLayout,
  kvLayout,
  kvListPath,
  kvMetadataPath,
  kvReadPath,
  vaultClientOptions,
  vaultLoginHeaders,
  vaultRequestHeaders,
} from './options.ts';
import { VaultSession } from './session.ts';
import { validateVaultStore } from './validate.ts';

const MAX_NAMES = 10_000;
const MAX_DEPTH = 32;
const FIND_CONCURRENCY = 4;

export interface VaultProviderDeps {
  /** Clock for token leases, ms since epoch. */
  now?: () => number;
  /** Backoff sleep between retries; must resolve early when `signal` aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export function createVaultProvider(deps: VaultProviderDeps = {}): Provider<VaultProvider> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? abortableSleep;
  return {
    name: 'vault',
    validateStore: (spec, path, kind) => validateVaultStore(spec, path, kind),
    ...vaultSelection,
    async newClient(spec: VaultProvider, ctx: ClientContext): Promise<ProviderClient> {
      const login = authMethod(spec, ctx, { now });
      const headers = vaultRequestHeaders(spec);
      const loginHeaders = vaultLoginHeaders(spec);
      const caPem = await caProviderPem(spec, ctx);
      const clientTls = await clientCertificate(spec, ctx);
      const options = vaultClientOptions(spec, { caPem, timeoutMs: ctx.timeoutMs, ...clientTls });
      const client = NodeVault(options);
      // Credentials, paths and the namespace come from the store only, never from VAULT_*
      // environment variables; the namespace travels in each request's headers (a login may use
      // another one than the reads: auth.namespace).
      const internals = client as unknown as { token: string; namespace?: string; pathPrefix: string };
      internals.token = '';
      internals.pathPrefix = '';
      internals.namespace = undefined;
      return new VaultClient(client, kvLayout(spec), login, {
        now,
        sleep,
        maxAttempts: Math.max(1, Math.floor(ctx.maxAttempts)),
        headers,
        loginHeaders,
      });
    },
  };
}

export const vaultProvider: Provider<VaultProvider> = createVaultProvider();

interface ClientDeps {
  /** Headers of every read (besides the token). */
  headers: Record<string, string>;
  /** Headers of the login and of the token's own calls (renew, lookup): auth.namespace. */
  loginHeaders: Record<string, string>;
  now: () => number;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  maxAttempts: number;
}

export class VaultClient implements ProviderClient {
  readonly #vault: NodeVault.client;
  readonly #layout: KvLayout;
  readonly #session: VaultSession;
  readonly #deps: ClientDeps;

  constructor(vault: NodeVault.client, layout: KvLayout, login: LoginFn, deps: ClientDeps) {
    this.#vault = vault;
    this.#layout = layout;
    this.#deps = deps;
    const never = new AbortController().signal;
    this.#session = new VaultSession(
      {
        // Shared by concurrent callers, so not tied to one caller's signal: each caller stops
        // waiting at its own deadline, the login itself is bounded by the request timeout.
        login: () => login(vault, deps.loginHeaders),
        renewSelf: async (token) => {
          const body = await this.#request(
            'POST',
            'auth/token/renew-self',
            token,
            never,
            {},
            deps.loginHeaders,
          );
          return loginOf(body, 'token renewal');
        },
        lookupSelf: async (token) => {
          try {
            await this.#request('GET', 'auth/token/lookup-self', token, never, undefined, deps.loginHeaders);
            return true;
          } catch (err: unknown) {
            const status = statusOf(err);
            if (status === 403 || status === 401) return false;
            throw err;
          }
        },
      },
      deps.now,
    );
  }

  async getSecret(ref: RemoteKey, opts: CallOptions): Promise<Uint8Array> {
    const subject = ref.version ? `secret "${ref.key}" version "${ref.version}"` : `secret "${ref.key}"`;
    return this.#run(subject, opts.signal, async () => {
      const path = kvReadPath(this.#layout, ref.key, ref.version);
      const body = await this.#authed((token) => this.#request('GET', path, token, opts.signal));
      return encodeValue(this.#secretData(body, subject));
    });
  }

  /** metadataPolicy Fetch: `<mount>/metadata/<path>` (custom_metadata and ESO's system fields). */
  async getMetadata(ref: RemoteKey, opts: CallOptions): Promise<Uint8Array> {
    const subject = `metadata of secret "${ref.key}"`;
    return this.#run(subject, opts.signal, async () => {
      const path = kvMetadataReadPath(this.#layout, ref.key);
      const body = await this.#authed((token) => this.#request('GET', path, token, opts.signal));
      return metadataDocument(asObject(asObject(body)?.data));
    });
  }

  async findSecrets(find: FindRef, opts: CallOptions): Promise<Map<string, Uint8Array>> {
    const subject = `secrets under "${find.path ?? ''}"`;
    return this.#run(subject, opts.signal, async () => {
      const tags = Object.entries(find.tags ?? {});
      if (tags.length > 0 && this.#layout.version === 'v1') {
        throw new ProviderError('Invalid', 'vault: find by tags needs KV v2 (custom_metadata)');
      }
      const nameRe = find.name?.regexp ? compileNameRegexp(find.name.regexp) : undefined;
      const names: string[] = [];
      await this.#listFolder(find.path ?? '', 0, names, opts.signal);
      let candidates = nameRe ? names.filter((n) => nameRe.test(n)) : names;
      if (tags.length > 0) {
        const matches = await mapLimit(candidates, async (name) => {
          const path = kvMetadataPath(this.#layout, name);
          const body = await this.#authed((token) => this.#request('GET', path, token, opts.signal));
          const custom = (asObject(asObject(body)?.data)?.custom_metadata ?? {}) as Record<string, unknown>;
          return tags.every(([k, v]) => custom[k] === v);
        });
        candidates = candidates.filter((_, i) => matches[i]);
      }
      const values = await mapLimit(candidates, async (name) => {
        try {
          return await this.getSecret({ key: name }, opts);
        } catch (err: unknown) {
          // Listed but without a readable current version (soft-deleted): skipped, as ESO does.
          if (err instanceof ProviderError && err.kind === 'NotFound') return undefined;
          throw err;
        }
      });
      const out = new Map<string, Uint8Array>();
      candidates.forEach((name, i) => {
        const v = values[i];
        if (v) out.set(name, v);
      });
      return out;
    });
  }

  /**
   * The store check, as ESO's: log in (or read the token) and `auth/token/lookup-self`, which
   * every token may call; a refusal means the credentials are not valid.
   */
  async validate(opts: CallOptions): Promise<void> {
    return this.#run('token lookup (store check)', opts.signal, async () => {
      const token = await this.#session.token();
      await this.#request('GET', 'auth/token/lookup-self', token, opts.signal);
    });
  }

  async close(): Promise<void> {
    this.#vault.stopAllRenewals();
  }

  async #listFolder(folder: string, depth: number, out: string[], signal: AbortSignal): Promise<void> {
    if (depth > MAX_DEPTH)
      throw new ProviderError('Invalid', `vault: folders nested deeper than ${MAX_DEPTH}`);
    const path = kvListPath(this.#layout, folder);
    let body: unknown;
    try {
      body = await this.#authed((token) => this.#request('LIST', path, token, signal));
    } catch (err: unknown) {
      if (statusOf(err) === 404) return; // Vault answers an empty folder with 404.
      throw err;
    }
    const keys = asObject(asObject(body)?.data)?.keys;
    if (!Array.isArray(keys)) return;
    const base = folder.replace(/^\/+|\/+$/g, '');
    for (const k of keys) {
      if (typeof k !== 'string' || k === '') continue;
      const full = base ? `${base}/${k}` : k;
      if (k.endsWith('/')) {
        await this.#listFolder(full, depth + 1, out, signal);
      } else {
        if (out.length >= MAX_NAMES)
          throw new ProviderError('Invalid', `vault: more than ${MAX_NAMES} secrets to find`);
        out.push(full);
      }
    }
  }

  #secretData(body: unknown, subject: string): Record<string, unknown> {
    const data = asObject(asObject(body)?.data);
    // A 200 that is not a Vault answer (an HTML page from a proxy…): not a reason to say NotFound.
    if (!data)
      throw new ProviderError('Unavailable', `vault: ${subject}: unexpected response (no data object)`);
    if (this.#layout.version === 'v1') return data;
    if (!('data' in data)) {
      throw new ProviderError('Invalid', `vault: ${subject}: no data field: is the mount KV v1?`);
    }
    if (data.data === null) {
      throw new ProviderError('NotFound', `vault: ${subject}: not found (deleted version)`);
    }
    const v2 = asObject(data.data);
    if (!v2) throw new ProviderError('Invalid', `vault: ${subject}: not a KV v2 secret`);
    return v2;
  }

  /**
   * Runs `fn` with the session token. A 403 asks Vault whether the token is still valid: if
   * not (expired, revoked), the session logs in again — once, shared — and `fn` runs again;
   * if it is, the 403 is a policy denial and no login is spent on it.
   */
  async #authed<T>(fn: (token: string) => Promise<T>): Promise<T> {
    const token = await this.#session.token();
    try {
      return await fn(token);
    } catch (err: unknown) {
      if (statusOf(err) !== 403) throw err;
      // A token already replaced (another caller re-logged in) needs no check: just retry.
      if (this.#session.isCurrent(token)) {
        if (await this.#session.stillValid(token)) throw err;
        this.#session.invalidate(token);
      }
      return fn(await this.#session.token());
    }
  }

  /** One HTTP request through node-vault, retried on transient failures up to maxAttempts. */
  async #request(
    method: 'GET' | 'LIST' | 'POST',
    path: string,
    token: string | undefined,
    signal: AbortSignal,
    body?: unknown,
    headers: Record<string, string> = this.#deps.headers,
  ): Promise<unknown> {
    const options = {
      headers: token ? { ...headers, 'X-Vault-Token': token } : { ...headers },
    };
    for (let attempt = 1; ; attempt++) {
      try {
        if (method === 'LIST') return await this.#vault.list(path, options);
        if (method === 'POST') return await this.#vault.write(path, body, options);
        return await this.#vault.read(path, options);
      } catch (err: unknown) {
        const status = statusOf(err);
        const transient = status === undefined ? isNetworkError(err) : kindOfStatus(status) === 'Unavailable';
        if (!transient || attempt >= this.#deps.maxAttempts || signal.aborted) throw err;
        await this.#deps.sleep(Math.min(50 * 2 ** (attempt - 1), 1_000), signal);
        if (signal.aborted) throw err;
      }
    }
  }

  /** Bounds `op` by the caller's deadline and maps every failure to a ProviderError. */
  async #run<T>(subject: string, signal: AbortSignal, op: () => Promise<T>): Promise<T> {
    return withDeadline(
      signal,
      op,
      () => vaultDeadline(subject),
      (err) => vaultError(err, subject),
    );
  }
}

// ---------------------------------------------------------------- CA

/** `caProvider`: a PEM from a Secret or (as ESO) a ConfigMap's `data`, under the store's namespace rules. */
async function caProviderPem(spec: VaultProvider, ctx: ClientContext): Promise<string | undefined> {
  const ca = spec.caProvider;
  if (!ca) return undefined;
  const selector: SecretKeySelector = {};
  if (ca.name) selector.name = ca.name;
  if (ca.key) selector.key = ca.key;
  if (ca.namespace) selector.namespace = ca.namespace;
  if (ca.type === 'Secret') return ctx.readSecretKey(selector, `${FIELD}.caProvider`);
  if (ca.type === 'ConfigMap' && ctx.readConfigMapKey)
    return ctx.readConfigMapKey(selector, `${FIELD}.caProvider`);
  throw new ProviderError(
    'Invalid',
    ca.type === 'ConfigMap'
      ? `vault: ${FIELD}.caProvider: this server cannot read ConfigMaps here; use a Secret or caBundle`
      : `vault: caProvider type "${ca.type ?? ''}" is not supported (use Secret, ConfigMap or caBundle)`,
  );
}

/**
 * `tls`: the client certificate presented on every connection (mutual TLS), read when the client
 * is built, as ESO does; keys default to `tls.crt` and `tls.key`.
 */
async function clientCertificate(
  spec: VaultProvider,
  ctx: ClientContext,
): Promise<{ cert?: string; key?: string }> {
  const t = spec.tls;
  if (!t?.certSecretRef && !t?.keySecretRef) return {};
  if (!t.certSecretRef || !t.keySecretRef) {
    throw new ProviderError('Invalid', `vault: ${FIELD}.tls needs both certSecretRef and keySecretRef`);
  }
  const key = await ctx.readSecretKey(
    { ...t.keySecretRef, key: t.keySecretRef.key || 'tls.key' },
    `${FIELD}.tls.keySecretRef`,
  );
  const cert = await ctx.readSecretKey(
    { ...t.certSecretRef, key: t.certSecretRef.key || 'tls.crt' },
    `${FIELD}.tls.certSecretRef`,
  );
  checkKeyPair(cert, key, `${FIELD}.tls`, 'certSecretRef and keySecretRef');
  return { cert, key };
}

// ---------------------------------------------------------------- helpers

function isNetworkError(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return (
    typeof code === 'string' &&
    [
      'ECONNRESET',
      'ECONNREFUSED',
      'ECONNABORTED',
      'ETIMEDOUT',
      'EPIPE',
      'ERR_BAD_RESPONSE',
      'EAI_AGAIN',
    ].includes(code)
  );
}

/** JSON as Go's json.Marshal writes a map: keys sorted, `<`, `>`, `&`, U+2028/9 escaped. */
export function goJson(value: unknown): string {
  return JSON.stringify(sortKeys(value)).replace(/[<>&\u2028\u2029]/g, (c) => {
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  const o = asObject(v);
  if (!o) return v;
  return Object.fromEntries(
    Object.keys(o)
      .sort()
      .map((k) => [k, sortKeys(o[k])]),
  );
}

const encoder = new TextEncoder();
function encodeValue(data: Record<string, unknown>): Uint8Array {
  return encoder.encode(goJson(data));
}

async function mapLimit<T, R>(items: T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(FIND_CONCURRENCY, items.length) }, worker));
  return out;
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
