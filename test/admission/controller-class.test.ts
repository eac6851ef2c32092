/**
 * --controller-class at admission: a store of another class, and an ExternalSecret using one, are
 * allowed as they are (ESO's webhook judges them, not ours: an unserved provider or a generator is
 * not refused); the same objects of our class are validated. A placeholder Secret naming another
 * class's store is refused (never stored with a literal placeholder), before any credential is read.
 */
import t from 'tap';
import type { AdmissionRequest } from '../../src/admission/types.ts';
import { validateAdmission } from '../../src/admission/validate.ts';
import { foreignStoreOf, servesStore } from '../../src/api/controller-class.ts';
import type { KubeObject, SecretStore } from '../../src/api/types.ts';
import { EswError } from '../../src/errors.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { createProviders } from '../../src/providers/registry.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { StoreResolver } from '../../src/resolve/resolver.ts';
import { admissionRequest } from '../helpers/admission-review.ts';

const NS = 'team-a';

function store(name: string, controller: string | undefined, provider: Record<string, unknown>): SecretStore {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind: 'SecretStore',
    metadata: { name, namespace: NS, uid: `uid-${name}`, resourceVersion: '1' },
    spec: { ...(controller !== undefined ? { controller } : {}), provider },
  };
}

const FAKE = { fake: { data: [{ key: 'k', value: 'v' }] } };
const ONEPASSWORD = { onepassword: { connectHost: 'https://op', vaults: { v: 1 } } };

function review(object: KubeObject, kind: string): AdmissionRequest {
  return admissionRequest(kind, object, { uid: 'u', namespace: NS });
}

/** An ExternalSecret that our rules refuse: a generator, which ESO serves. */
const withGenerator = (storeName: string): KubeObject =>
  ({
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name: 'es', namespace: NS },
    spec: {
      secretStoreRef: { name: storeName },
      dataFrom: [
        { extract: { key: 'k' } },
        {
          sourceRef: {
            generatorRef: {
              apiVersion: 'generators.external-secrets.io/v1alpha1',
              kind: 'Password',
              name: 'p',
            },
          },
        },
      ],
    },
  }) as KubeObject;

t.test('which stores a class serves (ESO rule, and unclassed stores only under "default")', async (t) => {
  t.equal(servesStore(store('a', undefined, FAKE), 'default'), true);
  t.equal(servesStore(store('a', '', FAKE), 'default'), true);
  t.equal(servesStore(store('a', 'default', FAKE), 'default'), true);
  t.equal(servesStore(store('a', 'eso', FAKE), 'default'), false);
  t.equal(servesStore(store('a', undefined, FAKE), 'esw'), false, 'beside ESO: unclassed stores are ESO’s');
  t.equal(servesStore(store('a', 'esw', FAKE), 'esw'), true);
  const stores = new Map([
    ['ours', store('ours', 'esw', FAKE)],
    ['theirs', store('theirs', 'default', FAKE)],
  ]);
  const lookup = (_k: string, n: string) => stores.get(n);
  const es = (names: string[]) => ({
    spec: {
      secretStoreRef: { name: names[0] },
      data: names.slice(1).map((n) => ({ secretKey: n, sourceRef: { storeRef: { name: n } } })),
    },
  });
  t.equal(foreignStoreOf(es(['ours']), 'esw', lookup), undefined);
  t.equal(
    foreignStoreOf(es(['ours', 'theirs']), 'esw', lookup)?.metadata?.name,
    'theirs',
    'any store counts',
  );
  t.equal(foreignStoreOf(es(['missing']), 'esw', lookup), undefined, 'a store not found is not foreign');
});

t.test('validation leaves another class alone and judges our own', async (t) => {
  const registry = new MemoryRegistry();
  registry.upsert(store('ours', 'esw', FAKE));
  registry.upsert(store('theirs', undefined, FAKE));
  const deps = { registry, controllerClass: 'esw' };

  const foreignStore = validateAdmission(review(store('op', 'default', ONEPASSWORD), 'SecretStore'), deps);
  t.same(foreignStore, { allowed: true }, 'an unserved provider of another class: allowed, no warning');
  const unclassed = validateAdmission(review(store('op', undefined, ONEPASSWORD), 'SecretStore'), deps);
  t.same(unclassed, { allowed: true }, 'beside ESO, an unclassed store is ESO’s');
  const ours = validateAdmission(review(store('op', 'esw', ONEPASSWORD), 'SecretStore'), deps);
  t.equal(ours.allowed, false, 'the same store of our class is refused');
  t.match(ours.status?.message, /onepassword provider is not served/);

  t.same(validateAdmission(review(withGenerator('theirs'), 'ExternalSecret'), deps), { allowed: true });
  const mine = validateAdmission(review(withGenerator('ours'), 'ExternalSecret'), deps);
  t.equal(mine.allowed, false, 'a generator in an ExternalSecret of our class is refused');
  t.match(mine.status?.message, /generatorRef/);

  // Without a class (esw validate), everything is judged.
  t.equal(
    validateAdmission(review(store('op', 'default', ONEPASSWORD), 'SecretStore'), { registry }).allowed,
    false,
  );
});

t.test('the resolver refuses another class’s store before reading any credential', async (t) => {
  const registry = new MemoryRegistry();
  registry.upsert(
    store('theirs', 'default', {
      aws: {
        service: 'SecretsManager',
        region: 'us-east-1',
        auth: { secretRef: { accessKeyIDSecretRef: { name: 'creds', key: 'id' } } },
      },
    }),
  );
  registry.upsert(store('ours', 'esw', FAKE));
  let reads = 0;
  const resolver = new StoreResolver({
    registry,
    secrets: {
      readSecret: async () => {
        reads++;
        return undefined;
      },
    },
    providers: createProviders(),
    logger: silentLogger(),
    controllerClass: 'esw',
  });
  t.teardown(() => resolver.close());
  const err = await resolver
    .getValue({ name: 'theirs', kind: 'SecretStore' }, NS, { key: 'k' })
    .catch((e: unknown) => e);
  t.ok(err instanceof EswError);
  t.equal((err as EswError).code, 'ESW_STORE_OTHER_CLASS');
  t.equal((err as EswError).status, 403);
  t.match((err as EswError).message, /controller class "default"; this webhook serves class "esw"/);
  t.equal(reads, 0, 'no credential read');
  t.equal((await resolver.getValue({ name: 'ours', kind: 'SecretStore' }, NS, { key: 'k' })).toString(), 'v');
});
