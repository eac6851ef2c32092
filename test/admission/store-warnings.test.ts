/**
 * /validate warns about each store an ExternalSecret names that is not known yet — the default
 * store, then those of data[].sourceRef and dataFrom[].sourceRef in order — once per store
 * (kind and name), whatever the number of entries naming it. Fixed text, as before the warnings
 * were written straight onto the review's list.
 */
import t from 'tap';
import type { AdmissionRequest } from '../../src/admission/types.ts';
import { validateAdmission } from '../../src/admission/validate.ts';
import type { KubeObject } from '../../src/api/types.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';

const registry = new MemoryRegistry();
registry.upsert({
  apiVersion: 'external-secrets.io/v1',
  kind: 'SecretStore',
  metadata: { name: 'known', namespace: 'team-a' },
  spec: { provider: { fake: { data: [] } } },
} as KubeObject);

const from = (name: string, kind?: string) => ({ storeRef: kind ? { name, kind } : { name } });
let keys = 0;
const data = (sourceRef?: object) => ({
  secretKey: `k${keys++}`,
  remoteRef: { key: 'a' },
  ...(sourceRef ? { sourceRef } : {}),
});

const request: AdmissionRequest = {
  uid: 'u',
  kind: { group: 'external-secrets.io', version: 'v1', kind: 'ExternalSecret' },
  resource: { group: 'external-secrets.io', version: 'v1', resource: 'externalsecrets' },
  namespace: 'team-a',
  operation: 'CREATE',
  object: {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name: 'es', namespace: 'team-a' },
    spec: {
      secretStoreRef: { name: 'a' },
      data: [
        data(),
        data(from('a')),
        data(from('b', 'ClusterSecretStore')),
        data(from('known')),
        data(from('a', 'SecretStore')),
        data(from('c')),
      ],
      dataFrom: [
        { extract: { key: 'x' }, sourceRef: from('b', 'ClusterSecretStore') },
        { extract: { key: 'x' }, sourceRef: from('d', 'ClusterSecretStore') },
        { extract: { key: 'x' }, sourceRef: from('c') },
        { extract: { key: 'x' }, sourceRef: from('b') },
      ],
    },
  } as KubeObject,
};

t.test('each store not found, once, in the order named', async (t) => {
  const result = validateAdmission(request, { registry });
  t.equal(result.allowed, true);
  t.same(result.warnings, [
    'SecretStore "a" was not found in namespace "team-a"; the ExternalSecret will not sync until it exists',
    'ClusterSecretStore "b" was not found; the ExternalSecret will not sync until it exists',
    'SecretStore "c" was not found in namespace "team-a"; the ExternalSecret will not sync until it exists',
    'ClusterSecretStore "d" was not found; the ExternalSecret will not sync until it exists',
    'SecretStore "b" was not found in namespace "team-a"; the ExternalSecret will not sync until it exists',
  ]);
});
