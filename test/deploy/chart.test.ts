/**
 * The chart and deploy/ checked with the real helm and kubectl binaries, and against the server
 * itself: the Deployment's args are parsed by the server's own config parser, the webhook paths
 * are the routes the app serves, the certificate SANs are the names the Service answers to.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { helmBinary, kubectlBinary } from '../../scripts/binaries.ts';
import { NAMESPACE, RENDERS, render } from '../../scripts/render-deploy.ts';
import { parseServeConfig } from '../../src/config.ts';
import { serviceDnsNames } from '../../src/server/certs.ts';

const run = promisify(execFile);
const root = join(import.meta.dirname, '../..');
// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are checked field by field
type Obj = Record<string, any>;

const parse = (text: string): Obj[] =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as Obj)
    .filter((o) => o && typeof o === 'object');
/**
 * kustomize output without the CRDs' openAPIV3Schema blocks: they are the ESO schemas (about 1 MB
 * of YAML, seconds to parse) and test/deploy/crds.test.ts checks them.
 */
const withoutSchemas = (text: string): string => text.replace(/^ {4}schema:\n(?: {5,}.*\n)*/gm, '');
const find = (objs: Obj[], kind: string, name?: string) =>
  objs.find((o) => o.kind === kind && (name === undefined || o.metadata?.name === name)) as Obj;
/** The container's literal env values plus the downward-API ones a pod would get. */
const podEnv = (container: Obj, namespace = NAMESPACE): Record<string, string> => ({
  POD_NAMESPACE: namespace,
  POD_NAME: 'pod-0',
  ...Object.fromEntries(
    (container.env as Obj[]).filter((e) => typeof e.value === 'string').map((e) => [e.name, e.value]),
  ),
});
const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

t.test('helm lint passes', async (t) => {
  const { stdout } = await run(await helmBinary(), ['lint', join(root, 'deploy/chart')]);
  t.match(stdout, /0 chart\(s\) failed/);
});

t.test('default render agrees with the server', async (t) => {
  const objs = parse(await render([]));
  const deploy = find(objs, 'Deployment');
  const pod = deploy.spec.template;
  const container = pod.spec.containers[0];
  const config = parseServeConfig(container.args.slice(1), podEnv(container));
  t.equal(container.args[0], 'serve');
  t.equal(config.port, 8443, 'the server listens where the container port points');
  t.equal(
    config.host,
    '0.0.0.0',
    'on the pod address, reachable by the API server (standalone binds 127.0.0.1)',
  );
  t.same(
    container.ports.map((p: Obj) => [p.name, p.containerPort]),
    [['https', 8443]],
  );
  t.equal(config.certMode, 'builtin');
  t.equal(config.tlsCert, '/etc/esw/tls/tls.crt');
  t.ok(
    pod.spec.containers[0].volumeMounts.some((m: Obj) => m.mountPath === '/etc/esw/tls'),
    'the certificate directory is mounted',
  );
  t.equal(container.readinessProbe.httpGet.path, '/readyz');
  t.equal(container.livenessProbe.httpGet.path, '/healthz');
  t.equal(container.readinessProbe.httpGet.scheme, 'HTTPS');

  const service = find(objs, 'Service');
  t.equal(
    service.metadata.name,
    config.webhookService,
    'the server knows its own Service name (certificate SANs)',
  );
  t.same(service.spec.ports[0], { name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' });
  t.ok(matches(service.spec.selector, pod.metadata.labels), 'the Service selects the pods');
  t.ok(matches(deploy.spec.selector.matchLabels, pod.metadata.labels), 'the Deployment selects its pods');
  t.ok(matches(find(objs, 'PodDisruptionBudget').spec.selector.matchLabels, pod.metadata.labels));
  t.ok(matches(find(objs, 'NetworkPolicy').spec.podSelector.matchLabels, pod.metadata.labels));
  t.same(find(objs, 'NetworkPolicy').spec.ingress[0].ports, [{ port: 8443, protocol: 'TCP' }]);

  const sa = `system:serviceaccount:${NAMESPACE}:${pod.spec.serviceAccountName}`;
  const crb = find(objs, 'ClusterRoleBinding');
  t.same(crb.subjects[0], {
    kind: 'ServiceAccount',
    name: pod.spec.serviceAccountName,
    namespace: NAMESPACE,
  });
  for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
    const cfg = find(objs, kind);
    for (const w of cfg.webhooks) {
      const expectedPath = kind.startsWith('Mutating') ? '/mutate' : '/validate';
      t.equal(w.clientConfig.service.path, expectedPath, `${w.name} calls ${expectedPath}`);
      t.equal(w.clientConfig.service.name, service.metadata.name);
      t.equal(w.clientConfig.service.namespace, NAMESPACE);
      t.equal(w.clientConfig.service.port, 443);
      t.same(w.admissionReviewVersions, ['v1']);
      t.equal(w.sideEffects, 'None');
      t.equal(w.failurePolicy, 'Fail');
      t.ok(
        w.timeoutSeconds <= 10 && w.timeoutSeconds * 1000 > config.admissionDeadlineMs,
        `${w.name}: timeout above the server deadline`,
      );
      const excluded = w.namespaceSelector.matchExpressions.find(
        (e: Obj) => e.key === 'kubernetes.io/metadata.name',
      );
      t.equal(excluded.operator, 'NotIn');
      t.ok(
        excluded.values.includes(NAMESPACE) && excluded.values.includes('kube-system'),
        `${w.name} skips its own namespace and kube-system`,
      );
      t.equal(
        w.matchConditions[0].expression,
        `request.userInfo.username != '${sa}'`,
        `${w.name} skips the refresher`,
      );
      const secrets = w.rules.some((r: Obj) => r.resources.includes('secrets'));
      if (secrets)
        t.same(
          w.objectSelector,
          { matchLabels: { 'esw.io/inject': 'true' } },
          `${w.name}: only opted-in Secrets`,
        );
      t.notOk(w.clientConfig.caBundle, 'built-in mode: caBundle is patched in by the leader');
    }
  }
  const mutating = find(objs, 'MutatingWebhookConfiguration');
  t.equal(
    mutating.metadata.name,
    config.mutatingWebhookName,
    'the built-in mode patches this configuration by name',
  );
  t.equal(find(objs, 'ValidatingWebhookConfiguration').metadata.name, config.validatingWebhookName);
  const rbac = find(objs, 'ClusterRole').rules.find(
    (r: Obj) => r.apiGroups[0] === 'admissionregistration.k8s.io',
  );
  t.same(rbac.resourceNames, [mutating.metadata.name], 'webhook configurations are patchable by name only');
  t.same(rbac.verbs, ['get', 'update'], 'read, then replace with a resourceVersion precondition');
  const role = find(objs, 'Role');
  t.equal(role.metadata.namespace, NAMESPACE);
  const certRule = role.rules.find((r: Obj) => r.resources.includes('secrets') && r.resourceNames);
  t.same(certRule?.resourceNames, [config.certSecret], 'the certificate Secret by name');
  t.same(certRule?.verbs, ['get', 'update']);
  t.ok(
    role.rules.some((r: Obj) => r.resources.includes('leases')),
    'leases only in its own namespace (Role)',
  );
  const clusterRules = find(objs, 'ClusterRole').rules as Obj[];
  t.notOk(
    clusterRules.some((r) => r.resources.includes('leases')),
    'no cluster-wide lease permission',
  );
  t.notOk(
    clusterRules.some((r) => r.verbs.includes('*') || r.resources.includes('*')),
    'no wildcard',
  );
});

t.test('cert-manager mode grants no webhook-configuration or certificate-Secret writes', async (t) => {
  const objs = parse(await render(['certificates.mode=cert-manager']));
  const rules = [...find(objs, 'ClusterRole').rules, ...find(objs, 'Role').rules] as Obj[];
  t.notOk(rules.some((r) => r.apiGroups.includes('admissionregistration.k8s.io')));
  t.notOk(rules.some((r) => r.resourceNames?.includes('external-secrets-webhook-tls')));
});

t.test('metrics scrape annotations are opt-in', async (t) => {
  const plain = find(parse(await render([])), 'Deployment');
  t.notOk(plain.spec.template.metadata.annotations);
  const scraped = find(parse(await render(['metrics.scrapeAnnotations=true'])), 'Deployment');
  t.equal(scraped.spec.template.metadata.annotations['prometheus.io/path'], '/metrics');
  t.equal(scraped.spec.template.metadata.annotations['prometheus.io/port'], '8443');
});

t.test(
  'a renamed release stays consistent: Service, SANs, webhook names, RBAC, refresher identity',
  async (t) => {
    const objs = parse(await render(['fullnameOverride=esw', 'certificates.mode=builtin']));
    const container = find(objs, 'Deployment').spec.template.spec.containers[0];
    const config = parseServeConfig(container.args.slice(1), podEnv(container));
    t.equal(config.webhookService, 'esw');
    t.equal(find(objs, 'Service').metadata.name, 'esw');
    t.equal(find(objs, 'MutatingWebhookConfiguration').metadata.name, config.mutatingWebhookName);
    t.equal(find(objs, 'ValidatingWebhookConfiguration').metadata.name, config.validatingWebhookName);
    const rule = find(objs, 'ClusterRole').rules.find(
      (r: Obj) => r.apiGroups[0] === 'admissionregistration.k8s.io',
    );
    t.same(rule.resourceNames, ['esw']);
    const sa = find(objs, 'ServiceAccount').metadata.name;
    for (const w of find(objs, 'MutatingWebhookConfiguration').webhooks) {
      t.equal(w.clientConfig.service.name, 'esw');
      t.equal(
        w.matchConditions[0].expression,
        `request.userInfo.username != 'system:serviceaccount:${NAMESPACE}:${sa}'`,
      );
    }
    const cm = parse(await render(['fullnameOverride=esw', 'certificates.mode=cert-manager']));
    t.same(find(cm, 'Certificate', 'esw-serving').spec.dnsNames, serviceDnsNames('esw', NAMESPACE));
  },
);

t.test('the pod is locked down and drains before it stops', async (t) => {
  const deploy = find(parse(await render([])), 'Deployment');
  const spec = deploy.spec.template.spec;
  const c = spec.containers[0];
  t.equal(deploy.spec.replicas, 2);
  t.equal(spec.securityContext.runAsNonRoot, true);
  t.equal(spec.securityContext.runAsUser, 65532);
  t.equal(spec.securityContext.seccompProfile.type, 'RuntimeDefault');
  t.same(c.securityContext.capabilities.drop, ['ALL']);
  t.equal(c.securityContext.readOnlyRootFilesystem, true);
  t.equal(c.securityContext.allowPrivilegeEscalation, false);
  t.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory);
  const preStop = c.lifecycle.preStop.sleep.seconds;
  t.ok(preStop > 0, 'preStop delay');
  t.ok(
    spec.terminationGracePeriodSeconds > preStop + 30,
    'grace period covers the drain and the longest admission',
  );
  t.equal(spec.topologySpreadConstraints[0].topologyKey, 'kubernetes.io/hostname');
});

t.test('cert-manager mode: SANs are the Service names, CA injected into both webhooks', async (t) => {
  const objs = parse(await render(['certificates.mode=cert-manager']));
  const serving = find(objs, 'Certificate', 'external-secrets-webhook-serving');
  t.same(serving.spec.dnsNames, serviceDnsNames('external-secrets-webhook', NAMESPACE));
  const deploy = find(objs, 'Deployment');
  t.equal(parseServeConfig(deploy.spec.template.spec.containers[0].args.slice(1), {}).certMode, 'files');
  t.equal(
    deploy.spec.template.spec.volumes.find((v: Obj) => v.name === 'tls').secret.secretName,
    serving.spec.secretName,
    'the pod mounts the Secret cert-manager writes',
  );
  for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
    t.equal(
      find(objs, kind).metadata.annotations['cert-manager.io/inject-ca-from'],
      `${NAMESPACE}/${serving.metadata.name}`,
    );
  }
  const bring = parse(await render(['certificates.mode=secret', 'certificates.caBundle=Q0E=']));
  t.equal(find(bring, 'MutatingWebhookConfiguration').webhooks[0].clientConfig.caBundle, 'Q0E=');
});

t.test('deploy/ is the chart default render, and kustomize builds it', async (t) => {
  for (const r of RENDERS) {
    const committed = await readFile(join(root, r.file), 'utf8');
    t.equal(committed, await render(r.set), `${r.file} is up to date (npm run deploy:render)`);
  }
  const crdFiles = await readdir(join(root, 'deploy/base/crds'));
  t.same(crdFiles.sort(), (await readdir(join(root, 'deploy/chart/crds'))).sort());
  for (const f of crdFiles) {
    t.equal(
      await readFile(join(root, 'deploy/chart/crds', f), 'utf8'),
      await readFile(join(root, 'deploy/base/crds', f), 'utf8'),
      `chart CRD ${f} is the same file`,
    );
  }
  const { stdout } = await run(await kubectlBinary(), ['kustomize', join(root, 'deploy')], {
    maxBuffer: 16 << 20,
  });
  const built = parse(withoutSchemas(stdout));
  const ids = (objs: Obj[]) => objs.map((o) => `${o.kind}/${o.metadata.name}`).sort();
  const chart = parse(await render([]));
  t.same(
    ids(built.filter((o) => o.kind !== 'Namespace' && o.kind !== 'CustomResourceDefinition')),
    ids(chart),
    'kustomize and helm install the same objects',
  );
  const crds = built.filter((o) => o.kind === 'CustomResourceDefinition');
  t.same(crds.map((c) => c.spec.names.shortNames[0]).sort(), ['ces', 'css', 'es', 'ss']);
  for (const crd of crds) {
    t.same(
      crd.spec.versions.map((v: Obj) => [v.name, v.served, v.storage]),
      [
        ['v1', true, true],
        ['v1beta1', true, false],
      ],
    );
    t.same(crd.spec.versions[0].subresources, { status: {} });
  }
  const ns = built.find((o) => o.kind === 'Namespace');
  t.equal(ns?.metadata.name, NAMESPACE);

  const cm = await run(await kubectlBinary(), ['kustomize', join(root, 'deploy/cert-manager')], {
    maxBuffer: 16 << 20,
  });
  const cmBuilt = parse(withoutSchemas(cm.stdout));
  t.same(
    ids(cmBuilt.filter((o) => o.kind !== 'Namespace' && o.kind !== 'CustomResourceDefinition')),
    ids(parse(await render(['certificates.mode=cert-manager']))),
    'deploy/cert-manager is the chart in cert-manager mode',
  );
  t.same(
    cmBuilt
      .filter((o) => o.kind === 'Certificate' || o.kind === 'Issuer')
      .map((o) => `${o.kind}/${o.metadata.name}`)
      .sort(),
    [
      'Certificate/external-secrets-webhook-ca',
      'Certificate/external-secrets-webhook-serving',
      'Issuer/external-secrets-webhook-ca',
      'Issuer/external-secrets-webhook-selfsigned',
    ],
  );
});

t.test('identity values reach the server as its identity policy', async (t) => {
  const plain = find(parse(await render([])), 'Deployment').spec.template.spec.containers[0];
  t.same(parseServeConfig(plain.args.slice(1), podEnv(plain)).identity, {
    ambientNamespaces: [],
    gcpExternalAccount: false,
  });
  const c = find(
    parse(
      await render([
        'identity.allowAmbientIdentityNamespaces={platform,team-*}',
        'identity.allowGcpExternalAccount=true',
      ]),
    ),
    'Deployment',
  ).spec.template.spec.containers[0];
  t.same(parseServeConfig(c.args.slice(1), podEnv(c)).identity, {
    ambientNamespaces: ['platform', 'team-*'],
    gcpExternalAccount: true,
  });
  await t.rejects(
    render(['identity.allowAmbientIdentityNamespaces={Team_A}']),
    /values don't meet the specifications|at '/,
    'a value that is no namespace name or glob is refused',
  );
});

t.test('values.schema.json refuses values that would render a broken install', async (t) => {
  for (const bad of [
    'certificates.mode=bogus',
    'failurePolicy=Never',
    'timeoutSeconds=31',
    'certificate.mode=builtin',
    'replicaCount=0',
  ]) {
    await t.rejects(render([bad]), /values don't meet the specifications|at '/, `--set ${bad} is refused`);
  }
  await t.rejects(render(['certificates.mode=secret']), /certificates\.caBundle is required/);
  await t.rejects(render(['clientCA.enabled=true']), /clientCA\.configMapName is required/);
});

t.test('RBAC is exactly the documented table (docs/install.md, "RBAC")', async (t) => {
  const objs = parse(await render([]));
  const flat = (rules: Obj[]) =>
    rules
      .flatMap((r) =>
        (r.resources as string[]).map(
          (res) =>
            `${r.apiGroups[0] || 'core'}/${res}${r.resourceNames ? `[${r.resourceNames}]` : ''}: ${r.verbs}`,
        ),
      )
      .sort();
  t.same(flat(find(objs, 'ClusterRole').rules), [
    'admissionregistration.k8s.io/mutatingwebhookconfigurations[external-secrets-webhook]: get,update',
    'admissionregistration.k8s.io/validatingwebhookconfigurations[external-secrets-webhook]: get,update',
    'core/configmaps: get,list,watch',
    'core/events: create',
    'core/namespaces: get,list,watch',
    'core/secrets: get,list,watch,create,update,patch,delete',
    'core/serviceaccounts/token: create',
    'core/serviceaccounts: get',
    'external-secrets.io/clusterexternalsecrets/status: patch',
    'external-secrets.io/clusterexternalsecrets: get,list,watch',
    'external-secrets.io/clustersecretstores/status: patch',
    'external-secrets.io/clustersecretstores: get,list,watch',
    'external-secrets.io/externalsecrets/status: update,patch',
    'external-secrets.io/externalsecrets: create,update,delete',
    'external-secrets.io/externalsecrets: get,list,watch',
    'external-secrets.io/secretstores/status: patch',
    'external-secrets.io/secretstores: get,list,watch',
  ]);
  t.same(flat(find(objs, 'Role').rules), [
    'coordination.k8s.io/leases: get,list,watch,create,update,delete',
    'core/secrets: create',
    'core/secrets[external-secrets-webhook-tls]: get,update',
  ]);
  const docs = await readFile(join(root, 'docs/install.md'), 'utf8');
  for (const verbs of [
    'update, patch |',
    'get, list, watch, create, update, delete |',
    '| `events` | create |',
    '| `secretstores/status`, `clustersecretstores/status` | patch |',
    '| `clusterexternalsecrets/status` | patch |',
    '| `externalsecrets` | create, update, delete |',
  ])
    t.ok(docs.includes(verbs), `docs/install.md lists "${verbs}"`);
});

t.test('POST /refresh: its own port, Service port and policy rule, and the RBAC it needs', async (t) => {
  const objs = parse(
    await render([
      'refreshEndpoint.enabled=true',
      'refreshEndpoint.audience=esw',
      'refreshEndpoint.from[0].namespaceSelector.matchLabels.team=rotation',
    ]),
  );
  const c = find(objs, 'Deployment').spec.template.spec.containers[0];
  const config = parseServeConfig(c.args.slice(1), podEnv(c));
  t.equal(config.refreshEndpoint, true);
  t.equal(config.refreshAudience, 'esw');
  const port = c.ports.find((p: Obj) => p.name === 'refresh');
  t.equal(config.refreshPort, port.containerPort, 'the container port is the one served');
  t.not(config.refreshPort, config.port, 'never the admission port');
  const svc = find(objs, 'Service').spec.ports.find((p: Obj) => p.name === 'refresh');
  t.equal(svc.targetPort, 'refresh');
  const rule = find(objs, 'NetworkPolicy').spec.ingress.find(
    (r: Obj) => r.ports[0].port === port.containerPort,
  );
  t.same(rule.from, [{ namespaceSelector: { matchLabels: { team: 'rotation' } } }]);
  const rules = find(objs, 'ClusterRole').rules as Obj[];
  const has = (group: string, resource: string, verb: string) =>
    rules.some(
      (r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb),
    );
  t.ok(has('authentication.k8s.io', 'tokenreviews', 'create'));
  t.ok(has('authorization.k8s.io', 'subjectaccessreviews', 'create'));
  t.ok(
    has('external-secrets.io', 'secretstores', 'patch') &&
      has('external-secrets.io', 'clustersecretstores', 'patch'),
  );
  const plain = parse(await render([]));
  const plainRules = find(plain, 'ClusterRole').rules as Obj[];
  t.notOk(
    plainRules.some((r) => r.verbs.includes('patch') && r.resources.includes('secretstores')),
    'off by default: no patch on stores',
  );
  t.notOk(find(plain, 'Service').spec.ports.some((p: Obj) => p.name === 'refresh'));
});

t.test('generic targets: off by default; each listed kind gets its flag and write RBAC only', async (t) => {
  const objs = parse(
    await render([
      'genericTargets.kinds[0]=ConfigMap',
      'genericTargets.kinds[1].apiVersion=example.com/v1',
      'genericTargets.kinds[1].kind=Database',
      'genericTargets.kinds[1].resource=databases',
    ]),
  );
  const c = find(objs, 'Deployment').spec.template.spec.containers[0];
  t.same(parseServeConfig(c.args.slice(1), podEnv(c)).genericTargetKinds, [
    'ConfigMap',
    'example.com/v1/Database',
  ]);
  const rules = find(objs, 'ClusterRole').rules as Obj[];
  const verbs = (group: string, resource: string) =>
    rules
      .filter((r) => r.apiGroups.includes(group) && r.resources.includes(resource))
      .flatMap((r) => r.verbs)
      .sort();
  t.same(verbs('', 'configmaps'), ['create', 'delete', 'get', 'list', 'update', 'watch']);
  t.same(verbs('example.com', 'databases'), ['create', 'delete', 'get', 'list', 'update', 'watch']);
  const plain = parse(await render([]));
  const pc = find(plain, 'Deployment').spec.template.spec.containers[0];
  t.same(parseServeConfig(pc.args.slice(1), podEnv(pc)).genericTargetKinds, []);
  t.notOk(
    (find(plain, 'ClusterRole').rules as Obj[]).some(
      (r) => r.resources.includes('configmaps') && r.verbs.includes('create'),
    ),
    'off by default: ConfigMaps are never written',
  );
});

t.test(
  'mutual TLS: the client CA is mounted where the server reads it, probes do not need a client certificate',
  async (t) => {
    const objs = parse(await render(['clientCA.enabled=true', 'clientCA.configMapName=apiserver-client-ca']));
    const spec = find(objs, 'Deployment').spec.template.spec;
    const c = spec.containers[0];
    const config = parseServeConfig(c.args.slice(1), podEnv(c));
    const mount = c.volumeMounts.find((m: Obj) => m.name === 'client-ca');
    t.equal(config.clientCa, `${mount.mountPath}/ca.crt`);
    t.equal(spec.volumes.find((v: Obj) => v.name === 'client-ca').configMap.name, 'apiserver-client-ca');
    t.ok(c.readinessProbe.tcpSocket && c.livenessProbe.tcpSocket, 'the kubelet has no client certificate');
    t.notOk(c.readinessProbe.httpGet);
  },
);

t.test('one replica: no disruption budget that would block node drains', async (t) => {
  t.notOk(find(parse(await render(['replicaCount=1'])), 'PodDisruptionBudget'));
  t.equal(find(parse(await render(['replicaCount=3'])), 'PodDisruptionBudget').spec.minAvailable, 1);
});

t.test(
  'Event Grid deliveries: the refresh port, Service port, policy rule, Ingress and patch on stores',
  async (t) => {
    const objs = parse(
      await render([
        'changeFeeds.eventGrid.enabled=true',
        'networkPolicy.enabled=true',
        'changeFeeds.eventGrid.from[0].namespaceSelector.matchLabels.team=ingress',
        'changeFeeds.eventGrid.ingress.enabled=true',
        'changeFeeds.eventGrid.ingress.host=esw-events.example.com',
        'changeFeeds.eventGrid.ingress.tlsSecretName=esw-events-tls',
      ]),
    );
    const c = find(objs, 'Deployment').spec.template.spec.containers[0];
    const config = parseServeConfig(c.args.slice(1), podEnv(c));
    t.equal(config.eventGridEndpoint, true);
    t.equal(config.refreshEndpoint, false, 'POST /refresh stays off');
    const port = c.ports.find((p: Obj) => p.name === 'refresh');
    t.equal(config.refreshPort, port.containerPort, 'the container port is the one served');
    t.equal(find(objs, 'Service').spec.ports.find((p: Obj) => p.name === 'refresh').targetPort, 'refresh');
    const rule = find(objs, 'NetworkPolicy').spec.ingress.find(
      (r: Obj) => r.ports[0].port === port.containerPort,
    );
    t.same(rule.from, [{ namespaceSelector: { matchLabels: { team: 'ingress' } } }]);
    const ingress = find(objs, 'Ingress').spec;
    t.same(ingress.tls, [{ hosts: ['esw-events.example.com'], secretName: 'esw-events-tls' }]);
    t.same(
      ingress.rules[0].http.paths,
      [
        {
          path: '/events/azure/',
          pathType: 'Prefix',
          backend: { service: { name: 'external-secrets-webhook', port: { name: 'refresh' } } },
        },
      ],
      'only the Event Grid paths, never /refresh nor admission',
    );
    const rules = find(objs, 'ClusterRole').rules as Obj[];
    t.ok(rules.some((r) => r.resources.includes('clustersecretstores') && r.verbs.includes('patch')));
    t.notOk(
      rules.some((r) => r.resources.includes('tokenreviews')),
      'nothing of POST /refresh',
    );
    t.notOk(
      parse(await render([])).some((o: Obj) => o?.kind === 'Ingress'),
      'no Ingress by default',
    );
  },
);

t.test('change feeds: patch on stores only with changeFeeds.enabled', async (t) => {
  const rules = find(parse(await render(['changeFeeds.enabled=true'])), 'ClusterRole').rules as Obj[];
  const patches = (resource: string) =>
    rules.some(
      (r) =>
        r.apiGroups.includes('external-secrets.io') &&
        r.resources.includes(resource) &&
        r.verbs.includes('patch'),
    );
  t.ok(patches('secretstores') && patches('clustersecretstores'));
  t.notOk(
    rules.some((r) => r.resources.includes('tokenreviews')),
    'nothing of POST /refresh besides',
  );
  await t.rejects(render(['changeFeeds.other=true']), /values don't meet the specifications|at '/);
});
