/**
 * Vault failures become typed ProviderErrors, within the caller's deadline, with messages that
 * name the key only: Vault's error strings and response bodies (canaries here) never leak.
 */
import t from 'tap';
import { type EswError, isEswError } from '../../src/errors.ts';
import { CANARY, deadline, rejectsKind, setupVault, text } from './vault-context.ts';

const spec = (url: string) => ({
  server: url,
  path: 'secret',
  auth: { tokenSecretRef: { name: 'vault', key: 'token' } },
});
const TOKEN = {
  secrets: { 'vault/token': 'tok' },
  prepare: (f: { addToken(t: string): void }) => f.addToken('tok'),
};

t.test('HTTP statuses', async (t) => {
  const { fake, client } = await setupVault(t, spec, { ...TOKEN, maxAttempts: 3 });
  fake.putKv2('secret', 'db', { password: CANARY });
  const body = { errors: [`error text with ${CANARY}`], data: { data: { password: CANARY } } };
  const cases: [number, string, number][] = [
    // status, kind, requests made (transient statuses are retried up to maxAttempts)
    [400, 'Invalid', 1],
    [404, 'NotFound', 1],
    [405, 'Invalid', 1],
    [429, 'Throttled', 1],
    [500, 'Unavailable', 3],
    [502, 'Unavailable', 3],
    [503, 'Unavailable', 3],
  ];
  for (const [status, kind, attempts] of cases) {
    fake.fault('secret/data/db', { status, body });
    const before = fake.counts.requests;
    const e = await rejectsKind(t, client.getSecret({ key: 'db' }, deadline()), kind, `HTTP ${status}`);
    t.match(e.message, /"db"/, 'names the key');
    t.match(e.message, `HTTP ${status}`, 'names the status');
    t.equal(fake.counts.requests - before, attempts, `HTTP ${status}: ${attempts} request(s)`);
  }

  fake.fault('secret/data/db', { status: 503, body: { errors: ['Vault is sealed'] }, times: 2 });
  t.match(
    text(await client.getSecret({ key: 'db' }, deadline())),
    CANARY,
    'sealed twice, then served: retried',
  );
});

t.test('a 200 that is not a KV answer', async (t) => {
  const { fake, client } = await setupVault(t, spec, TOKEN);
  fake.fault('secret/data/html', { status: 200, body: `<html>${CANARY}</html>` });
  await rejectsKind(t, client.getSecret({ key: 'html' }, deadline()), 'Unavailable', 'not JSON');
  fake.fault('secret/data/v1like', { status: 200, body: { data: { password: CANARY } } });
  await rejectsKind(
    t,
    client.getSecret({ key: 'v1like' }, deadline()),
    'Invalid',
    'a KV v1 answer on a v2 store',
  );
  fake.fault('secret/data/scalar', { status: 200, body: { data: { data: CANARY } } });
  await rejectsKind(t, client.getSecret({ key: 'scalar' }, deadline()), 'Invalid', 'data.data not an object');
});

t.test('403 with a valid token is Forbidden, without a login', async (t) => {
  const { fake, client } = await setupVault(t, spec, TOKEN);
  fake.deny('secret/data/db');
  const e = await rejectsKind(t, client.getSecret({ key: 'db' }, deadline()), 'Forbidden', 'policy');
  t.equal(e.message, 'vault: secret "db": permission denied (HTTP 403)');
});

t.test('connection reset: retried, then Unavailable', async (t) => {
  const { fake, client } = await setupVault(t, spec, { ...TOKEN, maxAttempts: 2 });
  fake.putKv2('secret', 'db', { a: 1 });
  fake.fault('secret/data/db', { reset: true, times: 1 });
  t.equal(text(await client.getSecret({ key: 'db' }, deadline())), '{"a":1}', 'one reset: retried');

  fake.fault('secret/data/db', { reset: true });
  const before = fake.counts.requests;
  const e = await rejectsKind(t, client.getSecret({ key: 'db' }, deadline()), 'Unavailable', 'always reset');
  t.match(e.message, /connection failed \(ECONNRESET\)/);
  t.equal(fake.counts.requests - before, 2, 'maxAttempts requests');
});

t.test('an unreachable Vault is Unavailable', async (t) => {
  const { fake, client } = await setupVault(t, spec, { ...TOKEN, maxAttempts: 1 });
  await fake.close();
  const e = await rejectsKind(t, client.getSecret({ key: 'db' }, deadline()), 'Unavailable', 'closed port');
  t.match(e.message, /ECONNREFUSED/);
});

t.test('deadline: a slow Vault yields Unavailable before it answers', async (t) => {
  const { fake, client } = await setupVault(t, spec, TOKEN);
  fake.putKv2('secret', 'db', { password: CANARY });
  fake.fault('secret/data/db', { delayMs: 60_000 });
  const controller = new AbortController();
  const pending = client.getSecret({ key: 'db' }, { signal: controller.signal });
  for (let i = 0; i < 500 && fake.counts.requests === 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.equal(fake.counts.requests, 1, 'the read reached Vault and is held');
  controller.abort();
  const e = await rejectsKind(t, pending, 'Unavailable', 'deadline');
  t.match(e.message, /deadline exceeded/);
  t.equal(fake.counts.requests, 1, 'no retry after the deadline');

  await rejectsKind(
    t,
    client.getSecret({ key: 'db' }, { signal: AbortSignal.abort() }),
    'Unavailable',
    'pre-aborted',
  );
  t.equal(fake.counts.requests, 1, 'an aborted signal sends nothing');

  // The per-request timeout (ctx.timeoutMs) bounds a request even without a caller deadline.
  const short = await setupVault(t, spec, { ...TOKEN, timeoutMs: 200, maxAttempts: 1 });
  short.fake.putKv2('secret', 'db', { a: 1 });
  short.fake.fault('secret/data/db', { delayMs: 60_000 });
  const timedOut = await rejectsKind(
    t,
    short.client.getSecret({ key: 'db' }, deadline(60_000)),
    'Unavailable',
    'timeout',
  );
  t.match(timedOut.message, /ECONNABORTED|ETIMEDOUT/);
});

t.test('login failures are typed too', async (t) => {
  const appRole = (url: string) => ({
    server: url,
    path: 'secret',
    auth: { appRole: { roleId: 'r', secretRef: { name: 's', key: 'id' } } },
  });
  const { fake, client } = await setupVault(t, appRole, {
    secrets: { 's/id': 'sid' },
    prepare: (f) => f.addAppRole('r', 'sid'),
  });
  fake.fault('auth/approle/login', { status: 429, body: { errors: [CANARY] }, times: 1 });
  await rejectsKind(t, client.getSecret({ key: 'db' }, deadline()), 'Throttled', 'login throttled');
  fake.fault('auth/approle/login', { status: 503, body: { errors: [CANARY] } });
  const e = await rejectsKind(
    t,
    client.getSecret({ key: 'db' }, deadline()),
    'Unavailable',
    'login unavailable',
  );
  t.match(e.message, /login with approle at auth\/approle/);
  fake.clearFaults();
  fake.putKv2('secret', 'db', { ok: true });
  t.equal(text(await client.getSecret({ key: 'db' }, deadline())), '{"ok":true}', 'recovers once Vault does');
  t.equal(fake.counts.logins, 1, 'failed logins are not cached');
});

t.test('credential read failures pass through untouched', async (t) => {
  const { client } = await setupVault(t, spec, { secrets: {} });
  try {
    await client.getSecret({ key: 'db' }, deadline());
    t.fail('expected a rejection');
  } catch (err: unknown) {
    t.ok(isEswError(err), 'the context error, not a Vault error');
    t.equal((err as EswError).code, 'ESW_CREDENTIALS');
  }
});
