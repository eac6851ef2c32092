import t from 'tap';
import {
  ambientAllowed,
  ambientIdentityUses,
  globMatch,
  identityErrors,
  parseNamespacePatterns,
} from '../../src/api/identity.ts';

const none = { ambientNamespaces: [], gcpExternalAccount: false };

t.test('globs: `*` is any run of characters, matched without backtracking blow-up', async (t) => {
  for (const [p, n, want] of [
    ['team-a', 'team-a', true],
    ['team-a', 'team-ab', false],
    ['team-*', 'team-a', true],
    ['team-*', 'team-', true],
    ['team-*', 'tea', false],
    ['*-prod', 'billing-prod', true],
    ['*-prod', 'billing-prod-2', false],
    ['a*b*c', 'aXbYc', true],
    ['a*b*c', 'aXbY', false],
    ['*', 'anything', true],
    ['*', '', true],
    ['x', '', false],
  ] as const) {
    t.equal(globMatch(p, n), want, `${p} ~ ${n}`);
  }
  // The worst case for a naive backtracking matcher: bounded by |pattern| × |name|.
  t.equal(globMatch(`${'*a'.repeat(30)}b`, 'a'.repeat(63)), false);
});

t.test('the flag value: names and globs, comma or space separated', async (t) => {
  t.same(parseNamespacePatterns(undefined), []);
  t.same(parseNamespacePatterns(' platform, team-* ,,ops '), ['platform', 'team-*', 'ops']);
  for (const bad of ['Team', 'a_b', 'a/b', 'x'.repeat(64), '-a']) {
    t.throws(() => parseNamespacePatterns(bad), /is not a namespace name or glob/, bad);
  }
});

t.test('who may use the ambient identity', async (t) => {
  const policy = { ambientNamespaces: ['platform-*'], gcpExternalAccount: false };
  t.ok(ambientAllowed(none, 'ClusterSecretStore', undefined), 'ClusterSecretStores always');
  t.notOk(ambientAllowed(none, 'SecretStore', 'default'), 'no SecretStore by default');
  t.ok(ambientAllowed(policy, 'SecretStore', 'platform-ops'));
  t.notOk(ambientAllowed(policy, 'SecretStore', 'team-a'));
  t.notOk(ambientAllowed(policy, 'SecretStore', undefined), 'unknown namespace: only `*` matches');
  t.ok(ambientAllowed({ ambientNamespaces: ['*'], gcpExternalAccount: false }, 'SecretStore', undefined));
});

t.test('every provider spec that would use this server identity, and only those', async (t) => {
  const fields = (provider: string, spec: unknown) =>
    ambientIdentityUses(provider, spec, `spec.provider.${provider}`).map((u) => `${u.field} ${u.kind}`);
  const sel = { name: 's', key: 'k' };
  t.same(fields('vault', { auth: { kubernetes: { role: 'r' } } }), [
    'spec.provider.vault.auth.kubernetes required',
  ]);
  t.same(fields('vault', { auth: { kubernetes: { role: 'r', secretRef: sel } } }), []);
  t.same(fields('vault', { auth: { kubernetes: { role: 'r', serviceAccountRef: { name: 'a' } } } }), []);
  t.same(fields('vault', { auth: { iam: { vaultRole: 'r' } } }), ['spec.provider.vault.auth.iam required']);
  t.same(
    fields('vault', { auth: { iam: { vaultRole: 'r', jwt: { serviceAccountRef: { name: 'a' } } } } }),
    [],
  );
  t.same(fields('vault', { auth: { gcp: { role: 'r' } } }), ['spec.provider.vault.auth.gcp required']);
  t.same(fields('vault', { auth: { tokenSecretRef: sel } }), []);
  t.same(fields('vault', {}), [], 'no auth at all: no token is sent (validation refuses it separately)');
  t.same(fields('aws', { region: 'r' }), ['spec.provider.aws.auth required']);
  t.same(fields('aws', { region: 'r', role: 'arn:aws:iam::1:role/x' }), ['spec.provider.aws.auth required']);
  t.same(fields('aws', { auth: { secretRef: {} } }), []);
  t.same(fields('aws', { auth: { jwt: { serviceAccountRef: { name: 'a' } } } }), []);
  t.same(fields('gcpsm', { projectID: 'p' }), ['spec.provider.gcpsm.auth required']);
  t.same(fields('gcpsm', { auth: { secretRef: {} } }), []);
  t.same(fields('gcpsm', { auth: { workloadIdentity: {} } }), []);
  t.same(fields('azurekv', { authType: 'ManagedIdentity' }), ['spec.provider.azurekv.authType forbidden']);
  t.same(fields('azurekv', { authType: 'WorkloadIdentity' }), [
    'spec.provider.azurekv.serviceAccountRef required',
  ]);
  t.same(fields('azurekv', { authType: 'WorkloadIdentity', serviceAccountRef: { name: 'a' } }), []);
  t.same(fields('azurekv', {}), [], 'ServicePrincipal (the default) names its Secrets');
  t.same(fields('fake', {}), []);
  t.same(fields('vault', 'garbage'), []);
  t.same(fields('aws', null), []);
});

t.test('field errors say what to set and who may', async (t) => {
  const errors = identityErrors(
    'vault',
    { auth: { kubernetes: { role: 'r' } } },
    'spec.provider.vault',
    'SecretStore',
    'team-a',
    none,
  );
  t.equal(errors.length, 1);
  t.match(errors, [
    {
      field: 'spec.provider.vault.auth.kubernetes',
      message:
        'Required value: a SecretStore must name secretRef or serviceAccountRef; otherwise this webhook would use its own ServiceAccount token, which only a ClusterSecretStore may use (or a SecretStore in a namespace a cluster admin lists in --allow-ambient-identity-namespaces)',
    },
  ]);
  const mi = identityErrors(
    'azurekv',
    { authType: 'ManagedIdentity' },
    'spec.provider.azurekv',
    'SecretStore',
    'a',
    none,
  );
  t.match(mi[0]?.message, /^Forbidden: a SecretStore must use authType ServicePrincipal/);
  t.same(identityErrors('aws', {}, 'spec.provider.aws', 'ClusterSecretStore', undefined, none), []);
});
