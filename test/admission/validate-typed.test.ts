/**
 * The API server fills apiVersion, kind and metadata.namespace on the object it sends; a
 * hand-made review may leave them out. /validate then validates the object as the request's
 * version, kind and namespace — and the answers below are the ones it gave when it copied every
 * object first (fixed text, not computed here): the copy is now made only when one is missing.
 */
import t from 'tap';
import type { AdmissionRequest } from '../../src/admission/types.ts';
import { validateAdmission } from '../../src/admission/validate.ts';
import type { KubeObject } from '../../src/api/types.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { admissionRequest } from '../helpers/admission-review.ts';

const registry = new MemoryRegistry();
registry.upsert({
  apiVersion: 'external-secrets.io/v1',
  kind: 'SecretStore',
  metadata: { name: 'vault', namespace: 'Team_A' },
  spec: { provider: { fake: { data: [] } } },
} as KubeObject);

function review(version: string, namespace: string, object: Record<string, unknown>): AdmissionRequest {
  return admissionRequest('ExternalSecret', object, { uid: 'u', version, namespace });
}

const DNS_LABEL =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DEPRECATED = 'external-secrets.io/v1beta1 ExternalSecret is deprecated; use external-secrets.io/v1';
const MISSING =
  'SecretStore "missing" was not found in namespace "team-a"; the ExternalSecret will not sync until it exists';
const data = [{ secretKey: 'k', remoteRef: { key: 'a' } }];

t.test('no apiVersion, kind or namespace: the request version, kind and namespace', async (t) => {
  const object = { metadata: { name: 'es' }, spec: { secretStoreRef: { name: 'vault' }, data } };
  const copy = structuredClone(object);
  t.same(validateAdmission(review('v1beta1', 'Team_A', object), { registry }), {
    allowed: false,
    status: {
      code: 422,
      reason: 'Invalid',
      message: `ExternalSecret.external-secrets.io "es" is invalid: metadata.namespace: Invalid value: "Team_A": ${DNS_LABEL}`,
      details: {
        name: 'es',
        group: 'external-secrets.io',
        kind: 'ExternalSecret',
        causes: [
          {
            reason: 'FieldValueInvalid',
            message: `Invalid value: "Team_A": ${DNS_LABEL}`,
            field: 'metadata.namespace',
          },
        ],
      },
    },
    warnings: [DEPRECATED],
  });
  t.same(object, copy, "the tenant's object is not written to");
});

t.test('another kind on the object: validated as the request kind', async (t) => {
  const object = {
    kind: 'PushSecret',
    metadata: { name: 'es' },
    spec: { secretStoreRef: { name: 'missing' }, refreshInterval: 5 },
  };
  t.same(validateAdmission(review('v1', 'team-a', object), { registry }), {
    allowed: false,
    status: {
      code: 422,
      reason: 'Invalid',
      message:
        'ExternalSecret.external-secrets.io "es" is invalid:\n* spec.refreshInterval: Invalid value: "integer": spec.refreshInterval in body must be of type string: quote it, e.g. "5"\n* spec.data: Required value: either data or dataFrom should be specified',
      details: {
        name: 'es',
        group: 'external-secrets.io',
        kind: 'ExternalSecret',
        causes: [
          {
            reason: 'FieldValueInvalid',
            message:
              'Invalid value: "integer": spec.refreshInterval in body must be of type string: quote it, e.g. "5"',
            field: 'spec.refreshInterval',
          },
          {
            reason: 'FieldValueRequired',
            message: 'Required value: either data or dataFrom should be specified',
            field: 'spec.data',
          },
        ],
      },
    },
    warnings: [MISSING],
  });
});

t.test("the object's own apiVersion; an empty namespace is the request's", async (t) => {
  const object = {
    apiVersion: 'external-secrets.io/v1beta1',
    metadata: { name: 'es', namespace: '' },
    spec: { secretStoreRef: { name: 'missing' }, data },
  };
  t.same(validateAdmission(review('v1', 'team-a', object), { registry }), {
    allowed: true,
    warnings: [DEPRECATED, MISSING],
  });
});

t.test('everything on the object: the same answer as when each was copied', async (t) => {
  const object = {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name: 'es', namespace: 'team-a' },
    spec: { secretStoreRef: { name: 'missing' }, data },
  };
  t.same(validateAdmission(review('v1', 'team-a', object), { registry }), {
    allowed: true,
    warnings: [MISSING],
  });
});
