/**
 * ESO's documented generic-target examples ("Targeting Custom Resources",
 * test/fixtures/manifests/valid/generic-targets.yaml) applied as written on the cluster double —
 * through the admission chain, synced by the real cluster runtime with the three kinds allowed —
 * write what ESO's guide says they write. The store they name, `vault-backend`, is the double's
 * AWS Secrets Manager store under that name (the fixture is not edited).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../src/api/types.ts';
import { startCluster, waitFor } from '../cluster-helpers.ts';
import { request } from '../helpers/https.ts';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'manifests', 'valid', 'generic-targets.yaml');
const CANARY = `CANARY-docs-${Math.random().toString(36).slice(2, 8)}`;

type Obj = KubeObject & {
  data?: Record<string, string>;
  spec?: Record<string, unknown>;
};

t.test("ESO's generic-target examples, as written, on the cluster double", async (t) => {
  const { api, aws, startReplica } = await startCluster(t, { storeName: 'vault-backend' });
  const values: Record<string, string> = {
    'config/database/host': 'db.internal',
    'config/api/endpoint': 'https://api.internal',
    'argocd/applications/my-app': JSON.stringify({ project: 'default', path: 'apps/my-app' }),
    'database/hostname': 'pg.internal',
    'database/name': 'payments',
    'database/password': CANARY,
    'database/host': 'pg.internal',
    'database/port': '5432',
    'database/username': 'app',
    'features/new-ui': 'true',
    'features/beta-api': 'false',
  };
  for (const [k, v] of Object.entries(values)) aws.put(k, v);
  const replica = await startReplica('esw-0', undefined, {
    args: [
      '--generic-target-kinds',
      'ConfigMap,argoproj.io/v1alpha1/Application,config.example.com/v1/AppConfig',
    ],
  });
  await waitFor('ready', () => replica.server.readiness().ready || undefined);

  const docs = parseAllDocuments(await readFile(FIXTURE, 'utf8')).map((d) => d.toJS() as KubeObject);
  t.equal(docs.length, 5);
  for (const doc of docs) {
    // Namespaced objects without a namespace: kubectl applies them to the current one.
    const res = await request(
      `${api.url}/apis/external-secrets.io/v1/namespaces/default/externalsecrets`,
      doc,
      { ca: api.caPem, headers: { authorization: 'Bearer admin-token' } },
    );
    t.equal(res.status, 201, `${doc.metadata?.name}: ${res.json<{ message?: string }>().message ?? ''}`);
  }
  const get = (resource: string, name: string) => api.get(resource, 'default', name) as Obj | undefined;
  const written = (resource: string, name: string) =>
    waitFor(`${resource}/${name}`, () => {
      const o = get(resource, name);
      return o?.metadata?.annotations?.['reconcile.external-secrets.io/data-hash'] ? o : undefined;
    });

  t.test('Basic ConfigMap: the provider data as the ConfigMap’s data', async (t) => {
    const cm = await written('configmaps', 'app-config');
    t.same(cm.data, { 'database-host': 'db.internal', 'api-endpoint': 'https://api.internal' });
    t.equal(cm.metadata?.labels?.['reconcile.external-secrets.io/managed'], 'true');
  });

  t.test('Argo CD Application: the extracted keys under spec.data', async (t) => {
    const app = await written('applications', 'my-application');
    t.same(app.spec, { data: { project: 'default', path: 'apps/my-app' } });
  });

  t.test('Templated ConfigMap: template.data rendered into data', async (t) => {
    const cm = await written('configmaps', 'database-config');
    t.same(cm.data, {
      'database.yaml': `host: pg.internal\nport: 5432\ndatabase: payments\nconnection_string: "postgresql://user:${CANARY}@pg.internal:5432/payments"\n`,
    });
  });

  t.test('Advanced path targeting: literal YAML at spec.database and spec.logging', async (t) => {
    const cr = await written('appconfigs', 'app-settings');
    t.same(cr.spec, {
      database: { host: 'pg.internal', port: 5432, credentials: { username: 'app', password: CANARY } },
      logging: { level: 'info', format: 'json' },
    });
  });

  t.test('Metadata and labels: template.metadata on the ConfigMap, data rendered', async (t) => {
    const cm = await written('configmaps', 'labeled-configmap');
    t.match(cm.metadata?.labels, {
      app: 'myapp',
      environment: 'production',
      'reconcile.external-secrets.io/managed': 'true',
    });
    t.equal(cm.metadata?.annotations?.description, 'Managed by External Secrets Operator');
    t.same(JSON.parse(cm.data?.['config.json'] ?? ''), { feature_flags: { new_ui: true, beta_api: false } });
  });

  t.test('every example Ready; the canary in no log line, Event or status', async (t) => {
    for (const doc of docs) {
      const name = doc.metadata?.name ?? '';
      const ready = await waitFor(`${name} Ready`, () => {
        const es = api.get('externalsecrets', 'default', name) as
          | { status?: { conditions?: { type: string; status: string }[] } }
          | undefined;
        return es?.status?.conditions?.find((c) => c.type === 'Ready');
      });
      t.equal(ready.status, 'True', name);
    }
    t.notMatch(JSON.stringify(api.list('events')), CANARY);
    t.notMatch(
      JSON.stringify(api.list('externalsecrets').map((o) => (o as { status?: unknown }).status)),
      CANARY,
    );
    t.notMatch(replica.lines.join('\n'), CANARY);
  });
});
