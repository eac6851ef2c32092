/**
 * ClusterExternalSecret at admission: its own fields, and `spec.externalSecretSpec` held to every
 * rule of an ExternalSecret's spec, errors named under `spec.externalSecretSpec`.
 */
import t from 'tap';
import { validateObject } from '../../src/api/validate.ts';

const ces = (spec: Record<string, unknown>, apiVersion = 'external-secrets.io/v1') => ({
  apiVersion,
  kind: 'ClusterExternalSecret',
  metadata: { name: 'db' },
  spec: {
    namespaceSelectors: [{ matchLabels: { team: 'a' } }],
    externalSecretSpec: {
      secretStoreRef: { name: 'aws', kind: 'ClusterSecretStore' },
      refreshInterval: '1h',
      target: { name: 'db-creds' },
      data: [{ secretKey: 'password', remoteRef: { key: 'app/db', property: 'password' } }],
    },
    ...spec,
  },
});

const fields = (r: ReturnType<typeof validateObject>) => r.errors.map((e) => e.field);

t.test('a valid ClusterExternalSecret passes', async (t) => {
  const r = validateObject(
    ces({
      externalSecretName: 'db-creds',
      externalSecretMetadata: { labels: { a: 'b' }, annotations: { c: 'd' } },
      namespaces: ['team-b'],
      refreshTime: '1m',
    }),
  );
  t.same(r.errors, []);
  t.same(r.warnings, []);
});

t.test('externalSecretSpec gets every ExternalSecret rule, pathed under it', async (t) => {
  const r = validateObject(
    ces({
      externalSecretSpec: {
        secretStoreRef: { name: 'aws', kind: 'Bogus' },
        refreshInterval: '1 hour',
        data: [{ secretKey: 'password', remoteRef: {} }],
        dataFrom: [{ sourceRef: { generatorRef: { kind: 'Password', name: 'p' } } }],
      },
    }),
  );
  const f = fields(r);
  t.ok(f.includes('spec.externalSecretSpec.refreshInterval'), f.join(', '));
  t.ok(f.includes('spec.externalSecretSpec.data[0].remoteRef.key'), f.join(', '));
  t.ok(f.includes('spec.externalSecretSpec.secretStoreRef.kind'), f.join(', '));
  t.ok(
    f.some((x) => x.startsWith('spec.externalSecretSpec.dataFrom[0].sourceRef.generatorRef')),
    'generators refused as on an ExternalSecret',
  );
  t.notOk(
    f.some((x) => x.startsWith('spec.data') || x.startsWith('spec.refreshInterval')),
    'no ExternalSecret paths leak',
  );
});

t.test(
  'its own fields: selectors, refreshTime, externalSecretName, deprecated namespaceSelector',
  async (t) => {
    const r = validateObject(
      ces({
        namespaceSelectors: [{ matchExpressions: [{ key: 'team', operator: 'In', values: [] }] }],
        refreshTime: 'soon',
        externalSecretName: 'Not_A_Name',
      }),
    );
    const f = fields(r);
    t.ok(
      f.some((x) => x.startsWith('spec.namespaceSelectors[0].matchExpressions[0]')),
      f.join(', '),
    );
    t.ok(f.includes('spec.refreshTime'), f.join(', '));
    t.ok(f.includes('spec.externalSecretName'), f.join(', '));

    const old = validateObject(
      ces({ namespaceSelectors: undefined, namespaceSelector: { matchLabels: { a: 'b' } } }),
    );
    t.same(old.errors, []);
    t.ok(old.warnings.some((w) => /namespaceSelector is deprecated/.test(w)));

    const none = validateObject(ces({ namespaceSelectors: undefined }));
    t.ok(none.warnings.some((w) => /creates no ExternalSecret/.test(w)));
  },
);

t.test('unknown fields warn; v1beta1 is deprecated; a missing externalSecretSpec is required', async (t) => {
  const r = validateObject(ces({ bogus: 1 }, 'external-secrets.io/v1beta1'));
  t.ok(
    r.warnings.some((w) => /bogus/.test(w)),
    r.warnings.join('\n'),
  );
  t.ok(r.warnings.some((w) => /v1beta1 ClusterExternalSecret is deprecated/.test(w)));
  const missing = validateObject(ces({ externalSecretSpec: undefined }));
  t.ok(fields(missing).includes('spec.externalSecretSpec'), fields(missing).join(', '));
});
