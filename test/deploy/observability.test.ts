/**
 * The chart's observability pack: ServiceMonitor, PrometheusRule and the Grafana dashboard are
 * opt-in, point at what the chart serves, and every metric a dashboard panel or an alert reads
 * exists on the real server's /metrics (with the labels its selectors use). PromQL is parsed with
 * Prometheus' own grammar (@prometheus-io/lezer-promql), so a typo in an expression fails too.
 * Also: the serving-certificate expiry metric is set on start and on every reload.
 */
import { execFile } from 'node:child_process';
import { X509Certificate as X509 } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parser } from '@prometheus-io/lezer-promql';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { helmBinary } from '../../scripts/binaries.ts';
import { NAMESPACE } from '../../scripts/render-deploy.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { createStandaloneRuntime } from '../../src/runtime.ts';
import { createCertificates } from '../../src/server/certs.ts';
import { startServer } from '../../src/server/serve.ts';
import { request } from '../helpers/https.ts';

const run = promisify(execFile);
const root = join(import.meta.dirname, '../..');
// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are checked field by field
type Obj = Record<string, any>;

const PACK = [
  'metrics.serviceMonitor.enabled=true',
  'metrics.prometheusRule.enabled=true',
  'metrics.dashboard.enabled=true',
];

async function render(set: string[]): Promise<Obj[]> {
  const args = ['template', 'external-secrets-webhook', join(root, 'deploy/chart'), '--namespace', NAMESPACE];
  for (const s of set) args.push('--set', s);
  const { stdout } = await run(await helmBinary(), args, { maxBuffer: 16 << 20 });
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as Obj)
    .filter((o) => o && typeof o === 'object');
}

const objects = await render(PACK);
const find = (kind: string) =>
  objects.find(
    (o) => o.kind === kind && (kind !== 'ConfigMap' || o.metadata.name.endsWith('-dashboard')),
  ) as Obj;
const rule = find('PrometheusRule');
const dashboard = JSON.parse(find('ConfigMap').data['external-secrets-webhook.json']) as Obj;

interface Expr {
  where: string;
  expr: string;
}
const exprs: Expr[] = [
  ...rule.spec.groups.flatMap((g: Obj) =>
    g.rules.map((r: Obj) => ({ where: `alert ${r.alert}`, expr: String(r.expr) })),
  ),
  ...dashboard.panels.flatMap((p: Obj) =>
    p.targets.map((tg: Obj) => ({
      where: `panel "${p.title}"`,
      // Grafana's variables, as Grafana substitutes them.
      expr: String(tg.expr).replaceAll('$__rate_interval', '5m').replaceAll('$namespace', NAMESPACE),
    })),
  ),
];

/** Metric names and `{label…}` matchers of every vector selector in a PromQL expression. */
function selectors(expr: string): { metric: string; labels: string[]; error: boolean }[] {
  const out: { metric: string; labels: string[]; error: boolean }[] = [];
  let error = false;
  parser.parse(expr).iterate({
    enter(node) {
      if (node.type.isError) error = true;
      if (node.name !== 'VectorSelector') return;
      const id = node.node.getChild('Identifier');
      const labels: string[] = [];
      node.node.cursor().iterate((n) => {
        if (n.name === 'LabelName') labels.push(expr.slice(n.from, n.to));
      });
      if (id) out.push({ metric: expr.slice(id.from, id.to), labels, error: false });
    },
  });
  return out.map((s) => ({ ...s, error }));
}

t.test('each part is opt-in: the default render has none of them', async (t) => {
  const plain = await render([]);
  t.notOk(plain.some((o) => ['ServiceMonitor', 'PrometheusRule'].includes(o.kind)));
  t.notOk(plain.some((o) => o.kind === 'ConfigMap'));
  for (const one of PACK) {
    const kinds = (await render([one])).map((o) => o.kind);
    t.equal(
      kinds.filter((k) => ['ServiceMonitor', 'PrometheusRule', 'ConfigMap'].includes(k)).length,
      1,
      one,
    );
  }
});

t.test('the ServiceMonitor scrapes the Service port over HTTPS, verifying the certificate', async (t) => {
  const sm = find('ServiceMonitor');
  const svc = find('Service');
  t.equal(sm.apiVersion, 'monitoring.coreos.com/v1');
  t.same(sm.spec.selector.matchLabels, svc.spec.selector, 'selects the webhook Service');
  for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) t.equal(svc.metadata.labels[k], v);
  const ep = sm.spec.endpoints[0];
  t.ok(
    svc.spec.ports.some((p: Obj) => p.name === ep.port),
    `the Service has a port named ${ep.port}`,
  );
  t.match(ep, { scheme: 'https', path: '/metrics' });
  t.match(ep.tlsConfig, { ca: { secret: { name: 'external-secrets-webhook-tls', key: 'ca.crt' } } });
  t.equal(ep.tlsConfig.serverName, `external-secrets-webhook.${NAMESPACE}.svc`);
});

t.test('the alerts the issue asks for are there, each with a severity and a summary', async (t) => {
  const rules = rule.spec.groups.flatMap((g: Obj) => g.rules) as Obj[];
  const names = rules.map((r) => r.alert);
  t.same(names, [
    'EswAdmissionRefusedUnavailable',
    'EswAdmissionRefusalsHigh',
    'EswProviderErrors',
    'EswSyncFailures',
    'EswSecretsStale',
    'EswCertificateExpiresSoon',
    'EswNoLeader',
  ]);
  for (const r of rules) {
    t.ok(['warning', 'critical'].includes(r.labels.severity), `${r.alert}: severity`);
    t.ok(r.annotations.summary && r.annotations.description, `${r.alert}: summary and description`);
    t.match(r.expr, `namespace="${NAMESPACE}"`, `${r.alert}: only this release's pods`);
  }
  t.match(rules.find((r) => r.alert === 'EswCertificateExpiresSoon')?.expr, /< 7 \* 86400/);
  const noRefresher = await render([...PACK, 'refresher.enabled=false']);
  const ruleNames = (noRefresher.find((o) => o.kind === 'PrometheusRule') as Obj).spec.groups[0].rules.map(
    (r: Obj) => r.alert,
  );
  t.notOk(ruleNames.includes('EswNoLeader'), 'no leader is expected without a refresher');
  const doc = await readFile(join(root, 'docs', 'operations.md'), 'utf8');
  for (const name of names) t.match(doc, `\`${name}\``, `docs/operations.md explains ${name}`);
});

t.test('every metric a panel or an alert reads exists on the real /metrics, with its labels', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'esw-metrics-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const bundle = await createCertificates({ hosts: ['localhost'], validityDays: 30 });
  const tls = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
  await writeFile(tls.certFile, bundle.cert);
  await writeFile(tls.keyFile, bundle.key);
  const metrics = createMetrics();
  const runtime = await createStandaloneRuntime([join(root, 'examples', 'stores.yaml')], {
    logger: silentLogger(),
    metrics,
    admissionDeadlineMs: 5_000,
    cacheTtlMs: 0,
  });
  t.teardown(() => runtime.close());
  const server = await startServer(runtime, {
    port: 0,
    host: '127.0.0.1',
    tls,
    logger: silentLogger(),
    metrics,
    certPollMs: 600_000,
  });
  t.teardown(() => server.shutdown('test teardown'));
  const scrape = async () =>
    (await request(`https://127.0.0.1:${server.port}/metrics`, undefined, { ca: bundle.caCert })).text;

  // What /metrics declares: `# TYPE name kind`; a histogram also serves name_bucket/_sum/_count.
  const text = await scrape();
  const served = new Map<string, string[]>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name = '', kind] = m;
    const labels =
      (metrics.registry.getSingleMetric(name) as unknown as { labelNames?: string[] })?.labelNames ?? [];
    served.set(name, labels);
    if (kind === 'histogram')
      for (const s of ['_bucket', '_sum', '_count']) served.set(name + s, [...labels, 'le']);
  }
  t.ok(served.size > 10);
  // Labels Prometheus adds to every scraped series.
  const targetLabels = ['namespace', 'pod', 'job', 'instance', 'service', 'container', 'endpoint'];
  let count = 0;
  for (const { where, expr } of exprs) {
    for (const s of selectors(expr)) {
      count++;
      t.notOk(s.error, `${where}: ${expr} parses`);
      if (s.metric === 'up') continue;
      t.ok(served.has(s.metric), `${where}: ${s.metric} is on /metrics`);
      for (const l of s.labels) {
        t.ok(
          [...(served.get(s.metric) ?? []), ...targetLabels].includes(l),
          `${where}: ${s.metric} has label ${l}`,
        );
      }
    }
  }
  t.ok(count >= exprs.length, `selectors checked: ${count}`);

  // Refusals are counted by code.
  const invalid = JSON.parse(
    await readFile(join(root, 'examples', 'admission', 'validate-invalid-externalsecret.json'), 'utf8'),
  );
  await request(`https://127.0.0.1:${server.port}/validate`, invalid, { ca: bundle.caCert });
  t.match(
    await scrape(),
    /^esw_admission_refusals_total\{operation="validate",kind="ExternalSecret",code="422"\} 1$/m,
  );

  // Expiry on start…
  const expiry = async () =>
    Number(/^esw_serving_certificate_expiry_timestamp_seconds (\S+)$/m.exec(await scrape())?.[1]);
  const first = Math.floor((await expiry()) as number);
  t.equal(
    first,
    Math.floor(new Date(new X509(bundle.cert).validTo).getTime() / 1000),
    'the certificate’s notAfter',
  );
  // …and on every reload.
  const next = await createCertificates({
    hosts: ['localhost'],
    validityDays: 60,
    ca: { cert: bundle.caCert, key: bundle.caKey },
  });
  await writeFile(tls.keyFile, next.key);
  await writeFile(tls.certFile, next.cert);
  t.ok(server.watcher.reload(), 'the new pair is swapped in');
  t.equal(Math.floor(await expiry()), Math.floor(new Date(new X509(next.cert).validTo).getTime() / 1000));
  t.ok((await expiry()) > first + 29 * 86400, 'moved by the 30 extra days');
});
