/** Shared set-up of the vault provider tests: a fake Vault, a clock, a client context. */
import { randomUUID } from 'node:crypto';
import type { Test } from 'tap';
import type { SecretKeySelector, VaultProvider } from '../../src/api/types.ts';
import { EswError } from '../../src/errors.ts';
import { type ClientContext, type ProviderClient, ProviderError } from '../../src/providers/types.ts';
import { createVaultProvider } from '../../src/providers/vault/index.ts';
import { VaultFake, type VaultFakeOptions } from '../fakes/vault.ts';
import { ambientIdentity, strictIdentity } from './identity-context.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

export const CANARY = `CANARY-${randomUUID()}`;

export interface VaultSetup {
  fake: VaultFake;
  client: ProviderClient;
  clock: { now: number };
  /** Credential reads the provider made, `name/key` each. */
  reads: string[];
  saTokenRequests: unknown[];
}

export interface SetupOptions {
  /** Credential Secret keys by `name/key`. */
  secrets?: Record<string, string>;
  /** A fixed token, or one made from the request (e.g. a JWT carrying its audiences). */
  serviceAccountToken?: string | ((selector: { name?: string; audiences?: string[] }) => string);
  /** Annotations of ServiceAccounts by name (serviceAccountAnnotations). */
  serviceAccounts?: Record<string, Record<string, string>>;
  maxAttempts?: number;
  timeoutMs?: number;
  fake?: VaultFakeOptions;
  /** Endpoint overrides of the client context (the STS fake of iam's role). */
  endpoints?: ClientContext['endpoints'];
  /** The store may use this server's identity (a ClusterSecretStore's rule). */
  ambient?: boolean;
  /** Called with the started fake before the client is built (set the spec's server from it). */
  prepare?: (fake: VaultFake) => void;
}

export async function setupVault(
  t: Test,
  spec: (url: string) => VaultProvider,
  opts: SetupOptions = {},
): Promise<VaultSetup> {
  const clock = { now: 1_700_000_000_000 };
  const fake = new VaultFake({ now: () => clock.now, ...opts.fake });
  const url = await fake.start();
  t.teardown(() => fake.close());
  opts.prepare?.(fake);
  const reads: string[] = [];
  const saTokenRequests: unknown[] = [];
  const ctx: ClientContext = {
    store: { kind: 'SecretStore', name: 'vault', namespace: 'default' },
    namespace: 'default',
    async readSecretKey(selector: SecretKeySelector) {
      const id = `${selector.name}/${selector.key}`;
      reads.push(id);
      const v = opts.secrets?.[id];
      // As the resolver's context does: a catalog error naming the Secret, never a value.
      if (v === undefined) throw new EswError('ESW_CREDENTIALS', `test: no credential ${id}`);
      return v;
    },
    endpoints: opts.endpoints ?? {},
    maxAttempts: opts.maxAttempts ?? 3,
    timeoutMs: opts.timeoutMs ?? 5_000,
    ...(opts.ambient ? ambientIdentity : strictIdentity),
  };
  if (opts.serviceAccountToken !== undefined) {
    const token = opts.serviceAccountToken;
    ctx.serviceAccountToken = async (selector) => {
      saTokenRequests.push(selector);
      return typeof token === 'function' ? token(selector) : token;
    };
  }
  if (opts.serviceAccounts) {
    const accounts = opts.serviceAccounts;
    ctx.serviceAccountAnnotations = async (selector, field) => {
      const a = selector.name ? accounts[selector.name] : undefined;
      if (!a)
        throw new EswError('ESW_CREDENTIALS', `test: ServiceAccount ${selector.name} (${field}) not found`);
      return a;
    };
  }
  // Backoff sleeps are skipped: retries are counted, not timed.
  const provider = createVaultProvider({ now: () => clock.now, sleep: async () => {} });
  const client = await provider.newClient(spec(url), ctx);
  t.teardown(() => client.close());
  return { fake, client, clock, reads, saTokenRequests };
}

export const deadline = (ms = 10_000) => ({ signal: AbortSignal.timeout(ms) });
export const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

/** Awaits a rejection and checks its kind and that no canary leaked into its message. */
export async function rejectsKind(
  t: Test,
  p: Promise<unknown>,
  kind: string,
  what: string,
): Promise<ProviderError> {
  try {
    await p;
  } catch (err: unknown) {
    t.ok(err instanceof ProviderError, `${what}: a ProviderError`);
    const e = err as ProviderError;
    t.equal(e.kind, kind, `${what}: kind ${kind}`);
    t.notMatch(e.message, CANARY, `${what}: no canary in the message`);
    t.notMatch(String(e.stack), CANARY, `${what}: no canary in the stack`);
    t.equal(e.cause, undefined, `${what}: no cause carrying a response`);
    return e;
  }
  t.fail(`${what}: expected a rejection`);
  return new ProviderError('Invalid', 'unreachable');
}
