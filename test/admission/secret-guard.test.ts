/**
 * The validating safety net: an opted-in Secret that still holds a reference is refused, so a
 * literal placeholder is never stored even when the mutating call was skipped.
 */
import t from 'tap';
import { mutateSecret } from '../../src/admission/mutate.ts';
import { guardSecret } from '../../src/admission/secret-guard.ts';
import { validateAdmission } from '../../src/admission/validate.ts';
import type { Secret } from '../../src/api/types.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import type { Resolver } from '../../src/resolve/types.ts';
import { applyPatch, b64, fixture } from './mutate-helpers.ts';

t.test('a Secret that still holds a reference is refused with 422, naming the keys only', async (t) => {
  const unfilled = fixture('create-intro');
  const result = guardSecret(unfilled);
  t.equal(result.allowed, false);
  t.equal(result.status?.code, 422);
  t.match(result.status?.message, /key\(s\) "password", "url", "username"/);
  t.notOk(result.status?.message.includes('my-app/database-credentials'), 'no value text quoted');
  t.same(validateAdmission(unfilled), result, 'POST /validate routes Secrets to the guard');

  const viaStringData = fixture('create-stringdata');
  viaStringData.object.data = {};
  t.match(guardSecret(viaStringData), { allowed: false, status: { code: 422 } }, 'stringData too');

  const gitopsOnly = fixture('create-gitops');
  t.same(
    guardSecret(gitopsOnly),
    { allowed: true },
    'annotations are references by design, not placeholders',
  );
});

t.test('filled, unlabelled and deleted Secrets pass', async (t) => {
  t.same(guardSecret(fixture('plain-secret')), { allowed: true }, 'no inject label: not ours');
  t.same(guardSecret({ ...fixture('create-intro'), operation: 'DELETE', object: null }), { allowed: true });
  const filled = fixture('create-intro');
  filled.object.data = { password: b64('supersecretpassword'), note: b64('${ref is not a reference') };
  t.same(guardSecret(filled), { allowed: true });
  const notBase64 = fixture('create-intro');
  notBase64.object.data = { a: '${ref:x}' };
  t.same(
    guardSecret(notBase64),
    { allowed: true },
    'data that is not base64 cannot hold a decoded reference',
  );
});

t.test('what mutateSecret produces always passes the guard', async (t) => {
  const values: Record<string, string> = {
    'my-app/database-credentials': JSON.stringify({ username: 'db_user', password: 'supersecretpassword' }),
    'my-app/api-key': 'k',
  };
  const resolver = {
    checkStore: () => ({}),
    getValue: async (_s: unknown, _n: string, ref: { key?: string; property?: string }) => {
      const raw = values[ref.key ?? ''] ?? '';
      return Buffer.from(ref.property ? String(JSON.parse(raw)[ref.property]) : raw);
    },
    getMap: async () => new Map(),
    find: async () => new Map(),
    close: async () => {},
  } as unknown as Resolver;
  for (const name of ['create-intro', 'create-gitops', 'create-stringdata', 'update-reapply'] as const) {
    const req = fixture(name);
    const result = await mutateSecret(req, { resolver, logger: silentLogger() });
    t.equal(result.allowed, true, name);
    const stored: Secret = applyPatch(req.object, result);
    t.same(guardSecret({ ...req, object: stored }), { allowed: true }, `${name}: the filled Secret passes`);
  }
});
