/**
 * "What validates, works" across two objects: an ExternalSecret asking a known store's provider
 * for something it does not serve (an Azure certificate, a find by path on the fake provider…) is
 * refused at admission, naming the field; the same reference to a store that serves it, or to a
 * store not known yet, is accepted.
 */
import t from 'tap';
import type { AdmissionRequest } from '../../src/admission/types.ts';
import { validateAdmission } from '../../src/admission/validate.ts';
import { REF_RULES } from '../../src/api/ref-support.ts';
import type { KubeObject } from '../../src/api/types.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { admissionRequest } from '../helpers/admission-review.ts';

const NS = 'team-a';

function store(name: string, provider: Record<string, unknown>, kind = 'SecretStore'): KubeObject {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind,
    metadata: kind === 'SecretStore' ? { name, namespace: NS } : { name },
    spec: { provider },
  } as KubeObject;
}

const registry = new MemoryRegistry();
registry.upsert(
  store('azure', { azurekv: { vaultUrl: 'https://v.vault.azure.net', authType: 'ManagedIdentity' } }),
);
registry.upsert(store('fake', { fake: { data: [] } }));
registry.upsert(store('vault-nomount', { vault: { server: 'https://vault:8200' } }));
registry.upsert(store('vault-kv1', { vault: { server: 'https://vault:8200', path: 'kv', version: 'v1' } }));
registry.upsert(store('vault-kv2', { vault: { server: 'https://vault:8200', path: 'secret' } }));
registry.upsert(
  store('aws', { aws: { service: 'SecretsManager', region: 'us-east-1' } }, 'ClusterSecretStore'),
);
registry.upsert(store('acm', { aws: { service: 'CertificateManager', region: 'us-east-1' } }));
registry.upsert(store('ssm', { aws: { service: 'ParameterStore', region: 'us-east-1' } }));
registry.upsert(store('gcp', { gcpsm: { projectID: 'p' } }));
const ARN = 'arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-aaaa-4bbb-8ccc-123456789abc';
const ref = (store: string, remoteRef: Record<string, unknown>) => ({
  secretStoreRef: { name: store },
  data: [{ secretKey: 'k', remoteRef }],
});

function review(spec: Record<string, unknown>): AdmissionRequest {
  const es = {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name: 'es', namespace: NS },
    spec,
  };
  return admissionRequest('ExternalSecret', es, { uid: 'u', namespace: NS });
}

const data = (store: string, key: string, kind = 'SecretStore') => ({
  secretStoreRef: { name: store, kind },
  data: [{ secretKey: 'k', remoteRef: { key } }],
});
const find = (store: string, f: Record<string, unknown>) => ({
  secretStoreRef: { name: store },
  dataFrom: [{ find: f }],
});

interface Case {
  name: string;
  spec: Record<string, unknown>;
  field: string;
  message: string;
}

const refused: Case[] = [
  {
    name: 'an Azure key, through dataFrom.extract',
    spec: { secretStoreRef: { name: 'azure' }, dataFrom: [{ extract: { key: 'key/signing' } }] },
    field: 'spec.dataFrom[0].extract',
    message:
      'Forbidden: not supported by external-secrets-webhook; dataFrom.extract reads secrets only, as in ESO',
  },
  {
    name: 'an Azure certificate, through dataFrom.extract',
    spec: { secretStoreRef: { name: 'azure' }, dataFrom: [{ extract: { key: 'cert/tls' } }] },
    field: 'spec.dataFrom[0].extract',
    message: 'read a key or certificate with data[].remoteRef',
  },

  {
    name: 'an Azure object of an unknown type',
    spec: data('azure', 'my-app/db'),
    field: 'spec.data[0].remoteRef.key',
    message: 'an Azure Key Vault object is',
  },
  {
    name: 'Azure find by path',
    spec: find('azure', { path: 'app-' }),
    field: 'spec.dataFrom[0].find.path',
    message: 'Forbidden: not supported by external-secrets-webhook; Azure Key Vault has no paths',
  },
  {
    name: 'fake find by path',
    spec: find('fake', { path: '/a', name: { regexp: '.*' } }),
    field: 'spec.dataFrom[0].find.path',
    message: 'the fake provider finds by name.regexp only',
  },
  {
    name: 'fake find by tags',
    spec: find('fake', { tags: { a: 'b' }, name: { regexp: '.*' } }),
    field: 'spec.dataFrom[0].find.tags',
    message: 'the fake provider finds by name.regexp only',
  },
  {
    name: 'fake find without a name regexp',
    spec: find('fake', { conversionStrategy: 'Default' }),
    field: 'spec.dataFrom[0].find',
    message: 'the fake provider finds by name.regexp only',
  },
  {
    name: 'vault find from a store without a KV mount',
    spec: find('vault-nomount', { name: { regexp: '.*' } }),
    field: 'spec.dataFrom[0].find',
    message: 'spec.provider.vault.path',
  },
  {
    name: 'vault find by tags on KV v1',
    spec: find('vault-kv1', { tags: { team: 'a' } }),
    field: 'spec.dataFrom[0].find.tags',
    message: 'needs KV v2',
  },
  {
    name: 'an ACM key that is not an ARN',
    spec: data('acm', 'db-cert'),
    field: 'spec.data[0].remoteRef.key',
    message:
      'Unsupported value: "db-cert": not supported by external-secrets-webhook; an ACM remoteRef.key is the certificate ARN',
  },
  {
    name: 'an ACM property',
    spec: ref('acm', { key: ARN, property: 'tls.crt' }),
    field: 'spec.data[0].remoteRef.property',
    message: 'Forbidden: not supported by external-secrets-webhook; an ACM certificate is one PEM bundle',
  },
  {
    name: 'an ACM version',
    spec: ref('acm', { key: ARN, version: '2' }),
    field: 'spec.data[0].remoteRef.version',
    message: 'ACM certificates have no versions',
  },
  {
    name: 'ACM metadata',
    spec: ref('acm', { key: ARN, metadataPolicy: 'Fetch' }),
    field: 'spec.data[0].remoteRef.metadataPolicy',
    message:
      'Unsupported value: "Fetch": not supported by external-secrets-webhook; ACM certificates have no metadata',
  },
  {
    name: 'ACM through dataFrom.extract',
    spec: { secretStoreRef: { name: 'acm' }, dataFrom: [{ extract: { key: ARN } }] },
    field: 'spec.dataFrom[0].extract',
    message: 'not a map',
  },
  {
    name: 'ACM find',
    spec: find('acm', { name: { regexp: '.*' } }),
    field: 'spec.dataFrom[0].find',
    message: 'ACM certificates are not listed',
  },
  {
    name: 'a Parameter Store path without a leading slash',
    spec: find('ssm', { path: 'team/app' }),
    field: 'spec.dataFrom[0].find.path',
    message: 'a Parameter Store path starts with "/"',
  },

  {
    name: 'Vault metadata on KV v1',
    spec: ref('vault-kv1', { key: 'db', metadataPolicy: 'Fetch' }),
    field: 'spec.data[0].remoteRef.metadataPolicy',
    message: 'KV v1 keeps no metadata',
  },
  {
    name: 'fake metadata',
    spec: ref('fake', { key: 'db', metadataPolicy: 'Fetch' }),
    field: 'spec.data[0].remoteRef.metadataPolicy',
    message: 'the fake provider has no metadata',
  },
  {
    name: 'a sourceRef store overrides the default store',
    spec: {
      secretStoreRef: { name: 'vault-kv2' },
      data: [{ secretKey: 'k', remoteRef: { key: 'blob/x' }, sourceRef: { storeRef: { name: 'azure' } } }],
    },
    field: 'spec.data[0].remoteRef.key',
    message: 'an Azure Key Vault object is',
  },
];

t.test('a reference the store’s provider does not serve is refused, naming the field', async (t) => {
  const hit = new Set<string>();
  for (const c of refused) {
    const r = validateAdmission(review(c.spec), { registry });
    t.equal(r.allowed, false, c.name);
    const cause = r.status?.details?.causes.find((x) => x.field === c.field);
    t.match(cause?.message, c.message, `${c.name}: ${c.field}`, { status: r.status });
    for (const rule of REF_RULES)
      if (cause?.message.endsWith(rule.why)) hit.add(`${rule.provider} ${rule.field} ${rule.when}`);
  }
  t.same(
    REF_RULES.map((r) => `${r.provider} ${r.field} ${r.when}`).filter((r) => !hit.has(r)),
    [],
    'every rule is exercised',
  );
});

t.test('what the provider serves, and stores not known yet, are accepted', async (t) => {
  const accepted: [string, Record<string, unknown>][] = [
    ['an Azure secret by name', data('azure', 'db-password')],
    ['an Azure secret/ name', data('azure', 'secret/db-password')],
    ['an Azure key', data('azure', 'key/signing')],
    [
      'Vault custom_metadata on KV v2',
      {
        secretStoreRef: { name: 'vault-kv2' },
        data: [{ secretKey: 'k', remoteRef: { key: 'db', metadataPolicy: 'Fetch' } }],
      },
    ],
    [
      'GCP labels (metadataPolicy Fetch), through extract',
      { secretStoreRef: { name: 'gcp' }, dataFrom: [{ extract: { key: 'db', metadataPolicy: 'Fetch' } }] },
    ],
    ['an Azure certificate', data('azure', 'cert/tls')],
    [
      'Azure tags (metadataPolicy Fetch) of a secret, and extract of its tags',
      {
        secretStoreRef: { name: 'azure' },
        data: [{ secretKey: 'k', remoteRef: { key: 'cert/tls', metadataPolicy: 'Fetch' } }],
        dataFrom: [{ extract: { key: 'db', metadataPolicy: 'Fetch' } }],
      },
    ],
    ['Azure find by name and tags', find('azure', { name: { regexp: '^db' }, tags: { team: 'a' } })],
    ['fake find by name', find('fake', { name: { regexp: '^/foo' } })],
    ['vault find with a mount, by tags on KV v2', find('vault-kv2', { path: 'app', tags: { team: 'a' } })],
    ['a key with a slash on AWS', data('aws', 'cert/tls', 'ClusterSecretStore')],
    ['an ACM certificate by ARN', data('acm', ARN)],
    [
      'a Parameter Store key, version and label',
      ref('ssm', { key: '/app/db', version: 'live', property: 'a' }),
    ],
    ['Parameter Store find by path', find('ssm', { path: '/team/app', name: { regexp: 'db' } })],
    ['Parameter Store find by tags', find('ssm', { tags: { team: 'a' } })],
    [
      'Secrets Manager tags (metadataPolicy Fetch)',
      {
        secretStoreRef: { name: 'aws', kind: 'ClusterSecretStore' },
        data: [{ secretKey: 'k', remoteRef: { key: 'db', metadataPolicy: 'Fetch', property: 'team' } }],
      },
    ],
    [
      'Parameter Store tags',
      { secretStoreRef: { name: 'ssm' }, dataFrom: [{ extract: { key: '/db', metadataPolicy: 'Fetch' } }] },
    ],
    ['a store not known yet', data('unknown-store', 'cert/tls')],
  ];
  for (const [name, spec] of accepted) {
    const r = validateAdmission(review(spec), { registry });
    t.equal(r.allowed, true, name, { status: r.status });
  }
  // Without a registry (esw validate), nothing is known about stores: nothing to refuse.
  t.equal(validateAdmission(review(data('azure', 'cert/tls'))).allowed, true);
});

t.test('malformed data and dataFrom entries are field errors, not an internal error', async (t) => {
  // The store lookups run beside the schema's checks: an entry that is not an object (or a list
  // that is not a list) must not make them throw, or the tenant gets ESW_INTERNAL instead of
  // the field at fault.
  const cases: [string, Record<string, unknown>, RegExp][] = [
    [
      'data: [null]',
      { secretStoreRef: { name: 'aws', kind: 'ClusterSecretStore' }, data: [null] },
      /spec\.data\[0\]/,
    ],
    ['data: 3', { secretStoreRef: { name: 'aws', kind: 'ClusterSecretStore' }, data: 3 }, /spec\.data/],
    [
      'dataFrom: {}',
      { secretStoreRef: { name: 'aws', kind: 'ClusterSecretStore' }, dataFrom: {} },
      /spec\.dataFrom/,
    ],
    [
      'dataFrom: ["x"]',
      { secretStoreRef: { name: 'aws', kind: 'ClusterSecretStore' }, dataFrom: ['x'] },
      /spec\.dataFrom\[0\]/,
    ],
  ];
  for (const [name, spec, field] of cases) {
    const r = validateAdmission(review(spec), { registry });
    t.equal(r.allowed, false, name);
    t.equal(r.status?.code, 422, `${name}: refused as invalid`, { status: r.status });
    t.match(r.status?.message ?? '', field, `${name}: the field is named`);
    t.notMatch(r.status?.message ?? '', /ESW_INTERNAL/, `${name}: not an internal error`);
  }
});
