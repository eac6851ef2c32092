/**
 * `--generic-target-kinds` outside cluster mode: `esw validate` and standalone `esw serve` take
 * the flag and refuse, with the webhook's own words, the manifest kinds a cluster with that flag
 * refuses; without the flag they do not guess (docs/cli.md).
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { validateAdmission } from '../../src/admission/validate.ts';
import type { KubeObject } from '../../src/api/types.ts';
import { startRuntime } from '../../src/cli/serve.ts';
import { parseServeConfig } from '../../src/config.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { restoreEnv } from '../helpers/env.ts';
import { esw } from '../helpers/esw.ts';

const root = join(import.meta.dirname, '..', '..');
const FIXTURE = join(root, 'test', 'fixtures', 'manifests', 'valid', 'generic-targets.yaml');

const refused = (out: string) =>
  out
    .split('\n')
    .filter((l) => l.includes('generic target kind'))
    .map((l) => /ExternalSecret\/\/?([^:]+):/.exec(l)?.[1] ?? l)
    .sort();

t.test(
  'esw validate --generic-target-kinds: the kinds not listed are refused, on the manifest field',
  async (t) => {
    // Without the flag, offline validation cannot know the cluster's list: nothing is refused.
    const none = await esw(['validate', FIXTURE]);
    t.equal(none.code, 0, none.out);
    t.notMatch(none.out, /generic target kind/);

    const cm = await esw(['validate', '--generic-target-kinds', 'ConfigMap', FIXTURE]);
    t.equal(cm.code, 1, 'an object is invalid');
    t.same(refused(cm.out), ['argocd-app', 'custom-resource-config']);
    t.match(
      cm.out,
      /argocd-app: spec\.target\.manifest: Forbidden: generic target kind "argoproj\.io\/v1alpha1\/Application" is not allowed on this cluster \(allowed: ConfigMap; the operator sets --generic-target-kinds\)/,
    );

    const all = await esw([
      'validate',
      '--generic-target-kinds=ConfigMap,argoproj.io/v1alpha1/Application,config.example.com/v1/AppConfig',
      FIXTURE,
    ]);
    t.equal(all.code, 0, all.out);

    // Given empty: no kind is allowed (a cluster without the flag).
    const empty = await esw(['validate', '--generic-target-kinds=', FIXTURE]);
    t.equal(empty.code, 1);
    t.same(refused(empty.out), [
      'application-config',
      'argocd-app',
      'custom-resource-config',
      'labeled-config',
      'templated-config',
    ]);
    t.match(empty.out, /allowed: none;/);

    // The environment variable, as for serve.
    restoreEnv(t, ['ESW_GENERIC_TARGET_KINDS']);
    process.env.ESW_GENERIC_TARGET_KINDS = 'ConfigMap';
    const fromEnv = await esw(['validate', FIXTURE]);
    t.same(refused(fromEnv.out), ['argocd-app', 'custom-resource-config']);
  },
);

t.test('esw validate: a malformed list is a usage error naming the flag', async (t) => {
  const bad = await esw(['validate', '--generic-target-kinds', 'Secret', FIXTURE]);
  t.equal(bad.code, 2);
  t.match(bad.err, /--generic-target-kinds: Secret is not a generic target kind/);
  const odd = await esw(['validate', '--generic-target-kinds', 'config map', FIXTURE]);
  t.equal(odd.code, 2);
  t.match(
    odd.err,
    /--generic-target-kinds: "config map": expected Kind \(core group\) or group\/version\/Kind/,
  );
});

const CES = `apiVersion: external-secrets.io/v1
kind: ClusterExternalSecret
metadata:
  name: fan-out
spec:
  namespaceSelectors:
  - matchLabels:
      team: a
  externalSecretSpec:
    secretStoreRef:
      name: vault-backend
      kind: ClusterSecretStore
    target:
      name: app-config
      manifest:
        apiVersion: v1
        kind: ConfigMap
    data:
    - secretKey: host
      remoteRef:
        key: config/host
`;

t.test(
  'a ClusterExternalSecret is refused for the kind of the ExternalSecrets it would create',
  async (t) => {
    const r = await esw(['validate', '--generic-target-kinds', 'example.com/v1/Database', '-'], CES);
    t.equal(r.code, 1);
    t.match(
      r.out,
      /spec\.externalSecretSpec\.target\.manifest: Forbidden: generic target kind "ConfigMap" is not allowed on this cluster/,
    );
    t.equal((await esw(['validate', '--generic-target-kinds', 'ConfigMap', '-'], CES)).code, 0);
  },
);

const docs = parseAllDocuments(readFileSync(FIXTURE, 'utf8')).map((d) => d.toJS() as KubeObject);
const review = (object: KubeObject) => ({
  uid: 'u',
  kind: { group: 'external-secrets.io', version: 'v1', kind: object.kind ?? '' },
  resource: { group: 'external-secrets.io', version: 'v1', resource: 'externalsecrets' },
  namespace: 'default',
  operation: 'CREATE' as const,
  object,
});

t.test('the CLI refuses with the words POST /validate uses', async (t) => {
  const kinds = ['ConfigMap'];
  const cli = await esw(['validate', '-o', 'json', '--generic-target-kinds', 'ConfigMap', FIXTURE]);
  const report = JSON.parse(cli.out) as {
    results: { name: string; details?: { causes: { field: string; message: string }[] } }[];
  };
  let refusedBoth = 0;
  for (const doc of docs) {
    const server = validateAdmission(review(doc), { genericTargetKinds: kinds });
    const causes = report.results.find((r) => r.name === doc.metadata?.name)?.details?.causes ?? [];
    t.same(
      causes.map((c) => `${c.field}: ${c.message}`),
      (server.status?.details?.causes ?? []).map((c) => `${c.field}: ${c.message}`),
      `${doc.metadata?.name}: the same causes`,
    );
    if (causes.length > 0 && server.allowed === false) refusedBoth++;
  }
  t.equal(refusedBoth, 2, 'the Argo CD Application and the AppConfig, by both');
});

t.test('standalone esw serve: the flag, when given, is checked at admission', async (t) => {
  const stores = join(root, 'examples', 'stores.yaml');
  const logger = createLogger({ destination: { write: () => undefined } });
  const argo = docs.find((d) => d.metadata?.name === 'argocd-app') as KubeObject;
  const cm = docs.find((d) => d.metadata?.name === 'application-config') as KubeObject;

  // Explicit certificate paths: startRuntime writes development certificates only for the defaults.
  const tls = ['--tls-cert', 'x.crt', '--tls-key', 'x.key'];
  const given = parseServeConfig(['--stores', stores, ...tls, '--generic-target-kinds', 'ConfigMap'], {});
  t.equal(given.mode, 'standalone');
  const runtime = await startRuntime(given, logger, createMetrics());
  t.teardown(() => runtime.close());
  const denied = await runtime.validate(review(argo));
  t.equal(denied.allowed, false);
  t.match(denied.status?.details?.causes, [
    {
      field: 'spec.target.manifest',
      message: /generic target kind "argoproj\.io\/v1alpha1\/Application" is not allowed/,
    },
  ]);
  t.equal((await runtime.validate(review(cm))).allowed, true);

  // Not given: standalone mode writes no target, so it does not guess a list.
  const plain = await startRuntime(
    parseServeConfig(['--stores', stores, ...tls], {}),
    logger,
    createMetrics(),
  );
  t.teardown(() => plain.close());
  t.equal((await plain.validate(review(argo))).allowed, true);
});
