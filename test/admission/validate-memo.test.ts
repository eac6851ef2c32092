/**
 * The answer memo of /validate: a repeated UPDATE gets the kept verdict only while every store
 * its validation looked at is the very object it was. Each invalidation test first proves the
 * memo answered (`hits`), then changes one thing the verdict depends on and checks the answer
 * follows it — without the rule it guards, the test fails.
 */
import t from 'tap';
import type { AdmissionRequest, AdmissionResult } from '../../src/admission/types.ts';
import { type ValidateDeps, validateAdmission } from '../../src/admission/validate.ts';
import {
  VALIDATE_MEMO_MAX_ENTRIES,
  VALIDATE_MEMO_MAX_OBJECT_CHARS,
  ValidationMemo,
} from '../../src/admission/validate-memo.ts';
import type { KubeObject } from '../../src/api/types.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { admissionRequest } from '../helpers/admission-review.ts';

const NS = 'team-a';

function store(name: string, provider: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind: 'SecretStore',
    metadata: { name, namespace: NS },
    spec: { provider, ...extra },
  } as KubeObject;
}
const vault = { vault: { server: 'https://vault:8200', path: 'secret' } };
const fake = { fake: { data: [] } };

/** An ExternalSecret reading by path from store `s`: the fake provider cannot, Vault can. */
function review(opts: { namespace?: string; name?: string; operation?: string; key?: string } = {}) {
  const ns = opts.namespace ?? NS;
  const es = {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name: opts.name ?? 'es', namespace: ns },
    spec: {
      secretStoreRef: { name: 's' },
      dataFrom: [{ find: { path: opts.key ?? 'app/' } }],
    },
  };
  return admissionRequest('ExternalSecret', es, {
    namespace: ns,
    operation: (opts.operation ?? 'UPDATE') as AdmissionRequest['operation'],
  });
}

function setup(deps: Omit<ValidateDeps, 'registry'> = {}) {
  const registry = new MemoryRegistry();
  const memo = new ValidationMemo();
  let validations = 0;
  const validate = (request: AdmissionRequest): AdmissionResult =>
    memo.answer(request, registry, (recorded) => {
      validations++;
      return validateAdmission(request, { ...deps, ...(recorded ? { registry: recorded } : {}) });
    });
  return { registry, memo, validate, validations: () => validations };
}

const plain = (request: AdmissionRequest, registry: MemoryRegistry) =>
  validateAdmission(request, { registry });

t.test('a repeated object gets the kept verdict, frozen, with no validation', async (t) => {
  const { registry, memo, validate, validations } = setup();
  registry.upsert(store('s', vault));
  const first = validate(review());
  t.same(first, { allowed: true });
  const again = validate(review());
  t.equal(memo.hits, 1);
  t.equal(validations(), 1, 'validated once');
  t.equal(again, first, 'the kept result itself');
  t.ok(Object.isFrozen(again), 'shared, so it cannot be changed by a caller');
  t.same(again, plain(review(), registry), 'what validation says');

  const refused = validate(review({ name: 'Not_A_Name' }));
  t.equal(refused.allowed, false);
  t.equal(validate(review({ name: 'Not_A_Name' })), refused, 'a refusal is kept as well');
  t.throws(() => refused.status?.details?.causes?.push({ field: 'x', message: 'y', reason: 'z' } as never));
  t.equal(validations(), 2);
});

t.test('a store created, changed or deleted since is never answered from the memo', async (t) => {
  const { registry, memo, validate } = setup();
  const missing = validate(review());
  t.equal(missing.allowed, true);
  t.match(missing.warnings, [/SecretStore "s" was not found/]);
  t.equal(validate(review()), missing);
  t.equal(memo.hits, 1);

  registry.upsert(store('s', vault));
  const created = validate(review());
  t.same(created, { allowed: true }, 'created: no warning any more');
  t.equal(memo.hits, 1, 'not from the memo');

  registry.upsert(store('s', fake));
  const changed = validate(review());
  t.equal(changed.allowed, false, 'changed to a provider that cannot find by path: refused');
  t.match(changed.status?.message, /dataFrom\[0\]\.find\.path/);
  t.same(changed, plain(review(), registry));
  t.equal(memo.hits, 1);

  registry.upsert(store('s', fake, { retrySettings: { maxRetries: 1 } }));
  t.equal(validate(review()).allowed, false);
  t.equal(memo.hits, 1, 'any new version of the store (even one with the same verdict) is looked at again');
  validate(review());
  t.equal(memo.hits, 2, 'and kept in turn');

  registry.remove(store('s', fake));
  const deleted = validate(review());
  t.equal(deleted.allowed, true, 'deleted: accepted with the warning again');
  t.match(deleted.warnings, [/was not found/]);
  t.equal(memo.hits, 2);
});

t.test('a change elsewhere in the registry keeps the verdict', async (t) => {
  const { registry, memo, validate } = setup();
  registry.upsert(store('s', vault));
  validate(review());
  registry.upsert(store('other', fake));
  registry.upsert({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'elsewhere' } } as KubeObject);
  validate(review());
  t.equal(memo.hits, 1);
});

t.test('an entry answers only its namespace and an equal object', async (t) => {
  const { registry, memo, validate } = setup();
  registry.upsert(store('s', vault));
  t.same(validate(review()), { allowed: true });
  const elsewhere = validate(review({ namespace: 'team-b' }));
  t.match(elsewhere.warnings, [/not found in namespace "team-b"/], 'a SecretStore is per namespace');
  t.equal(validate(review({ key: 'other/' })).allowed, true);
  t.equal(validate(review({ name: 'es-2' })).allowed, true);
  t.equal(memo.hits, 0, 'nothing shared between different requests');
  t.equal(memo.size, 3, 'one entry per kind, namespace and name: the other object took its place');
  t.equal(validate(review({ key: 'other/' })).allowed, true);
  t.equal(memo.hits, 1, 'the object kept is answered');
  const reordered = review({ key: 'other/' });
  const { metadata, spec } = reordered.object as unknown as Record<string, unknown>;
  reordered.object = {
    spec,
    metadata,
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
  } as unknown as KubeObject;
  validate(reordered);
  t.equal(memo.hits, 1, 'the same fields in another order are another object');
});

t.test('what is not kept: CREATEs (never repeated), other operations, Secrets, large objects', async (t) => {
  const { registry, memo, validate, validations } = setup();
  registry.upsert(store('s', vault));
  t.same(validate(review({ operation: 'CREATE' })), { allowed: true });
  validate(review({ operation: 'CREATE' }));
  validate(review({ operation: 'DELETE' }));
  validate(review({ operation: 'DELETE' }));
  const secret = {
    uid: 'u',
    kind: { group: '', version: 'v1', kind: 'Secret' },
    resource: { group: '', version: 'v1', resource: 'secrets' },
    namespace: NS,
    operation: 'CREATE',
    object: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x', namespace: NS } },
  } as AdmissionRequest;
  validate(secret);
  validate(secret);
  const large = review({ key: `${'k'.repeat(VALIDATE_MEMO_MAX_OBJECT_CHARS)}/` });
  validate(large);
  validate(large);
  t.equal(memo.size, 0);
  t.equal(memo.hits, 0);
  t.equal(validations(), 8);
});

t.test('bounded in entries', async (t) => {
  const { registry, memo, validate } = setup();
  registry.upsert(store('s', vault));
  for (let i = 0; i < VALIDATE_MEMO_MAX_ENTRIES + 10; i++) validate(review({ name: `es-${i}` }));
  t.equal(memo.size, VALIDATE_MEMO_MAX_ENTRIES);
  validate(review({ name: 'es-0' }));
  t.equal(memo.hits, 0, 'the oldest went first');
  validate(review({ name: `es-${VALIDATE_MEMO_MAX_ENTRIES + 9}` }));
  t.equal(memo.hits, 1);
});

t.test(
  'a store of another controller class leaves the object alone, as long as it is that store',
  async (t) => {
    const { registry, memo, validate } = setup({ controllerClass: 'ours' });
    registry.upsert(store('s', fake, { controller: 'theirs' }));
    t.same(validate(review()), { allowed: true }, "another class's store: not ours to judge");
    t.same(validate(review()), { allowed: true });
    t.equal(memo.hits, 1);
    registry.upsert(store('s', fake, { controller: 'ours' }));
    t.equal(validate(review()).allowed, false, 'now ours: judged, and refused');
  },
);
