/**
 * templateFrom `configMap` and `secret` sources on the cluster double, through the real cluster
 * runtime (informers, refresher, admission over HTTPS):
 * - each `templateAs` × `target` renders as ESO renders it;
 * - a changed ConfigMap (or template Secret) re-renders its readers at once, long before their
 *   refresh interval — the informers watch metadata only (PartialObjectMetadata);
 * - a missing ConfigMap or key is Ready=False naming it; a ConfigMap of another namespace is
 *   never read, and a reference naming another namespace is refused at admission;
 * - the secret value (a canary) reaches no log line, Event or status.
 */
import t from 'tap';
import type { KubeObject } from '../../src/api/types.ts';
import { b64, startCluster, targetData, waitFor } from '../cluster-helpers.ts';
import type { KubeApiServer } from '../fakes/kube-apiserver/index.ts';
import { request } from '../helpers/https.ts';

const CANARY = `CANARY-tf-${Math.random().toString(36).slice(2, 8)}`;

const es = (name: string, template: Record<string, unknown>, namespace = 'default'): KubeObject =>
  ({
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name, namespace },
    spec: {
      // Long: every re-render below comes from a watched change, never from the timer.
      refreshInterval: '1h',
      secretStoreRef: { name: 'aws-store', kind: 'SecretStore' },
      target: { name: `${name}-target`, template },
      data: [
        { secretKey: 'username', remoteRef: { key: 'app/db', property: 'username' } },
        { secretKey: 'password', remoteRef: { key: 'app/db', property: 'password' } },
      ],
    },
  }) as KubeObject;

const configMap = (name: string, data: Record<string, string>, namespace = 'default'): KubeObject =>
  ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data }) as KubeObject;

function ready(api: KubeApiServer, name: string) {
  const o = api.get('externalsecrets', 'default', name) as
    | { status?: { conditions?: { type: string; status: string; message?: string }[] } }
    | undefined;
  return o?.status?.conditions?.find((c) => c.type === 'Ready');
}

t.test('templateFrom configMap and secret sources', async (t) => {
  const { api, aws, startReplica } = await startCluster(t);
  aws.put('app/db', JSON.stringify({ username: 'app', password: CANARY }));
  api.put(
    configMap('tpl', {
      dsn: 'postgres://{{ .username }}:{{ .password }}@db',
      pair: 'user: "{{ .username }}"\npass: "{{ .password }}"\n',
      team: '{{ .username | upper }}',
      kv: 'owner: "{{ .username }}"\n',
    }),
  );
  api.put({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'tpl-secret', namespace: 'default' },
    data: { conf: b64('user={{ .username }}'), kv: b64('tier: "{{ .username }}-gold"\n') },
  } as KubeObject);
  const replica = await startReplica('esw-0');
  await waitFor('ready', () => replica.server.readiness().ready || undefined);
  const clusterWide = (resource: string) =>
    api
      .requests({ method: 'GET' })
      .filter((r) => r.path.startsWith(`/api/v1/${resource}?`) && !/labelSelector=/.test(r.path));
  t.same(clusterWide('configmaps'), [], 'no ExternalSecret names a ConfigMap yet: none is watched');
  t.same(clusterWide('secrets'), [], 'nor any Secret beyond the labelled ones');

  t.test('each templateAs × target', async (t) => {
    api.put(
      es('all', {
        templateFrom: [
          {
            configMap: { name: 'tpl', items: [{ key: 'dsn' }, { key: 'pair', templateAs: 'KeysAndValues' }] },
          },
          { target: 'Labels', configMap: { name: 'tpl', items: [{ key: 'team', templateAs: 'Values' }] } },
          {
            target: 'Labels',
            secret: { name: 'tpl-secret', items: [{ key: 'kv', templateAs: 'KeysAndValues' }] },
          },
          {
            target: 'Annotations',
            configMap: { name: 'tpl', items: [{ key: 'kv', templateAs: 'KeysAndValues' }] },
          },
          { target: 'Annotations', secret: { name: 'tpl-secret', items: [{ key: 'conf' }] } },
          { secret: { name: 'tpl-secret', items: [{ key: 'conf', templateAs: 'Values' }] } },
        ],
      }),
    );
    const data = await waitFor('target', () => targetData(api, 'all'));
    t.same(data, {
      dsn: `postgres://app:${CANARY}@db`,
      user: 'app',
      pass: CANARY,
      conf: 'user=app',
    });
    const meta = (api.get('secrets', 'default', 'all-target') as KubeObject).metadata;
    t.match(meta?.labels, { team: 'APP', tier: 'app-gold' });
    t.match(meta?.annotations, { owner: 'app', conf: 'user=app' });
  });

  t.test('a changed ConfigMap or template Secret re-renders at once', async (t) => {
    api.put(configMap('greet', { hello: 'hello {{ .username }}' }));
    api.put(
      es('greeter', {
        mergePolicy: 'Merge',
        templateFrom: [
          { configMap: { name: 'greet', items: [{ key: 'hello' }] } },
          { secret: { name: 'tpl-secret', items: [{ key: 'conf' }] } },
        ],
      }),
    );
    await waitFor('first render', () => targetData(api, 'greeter')?.hello === 'hello app' || undefined);
    api.put(configMap('greet', { hello: 'bye {{ .username }}' }));
    await waitFor(
      're-rendered from the ConfigMap',
      () => targetData(api, 'greeter')?.hello === 'bye app' || undefined,
    );
    api.put({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'tpl-secret', namespace: 'default' },
      data: { conf: b64('login={{ .username }}'), kv: b64('tier: x\n') },
    } as KubeObject);
    await waitFor(
      're-rendered from the Secret',
      () => targetData(api, 'greeter')?.conf === 'login=app' || undefined,
    );
    t.equal(targetData(api, 'greeter')?.password, CANARY, 'Merge keeps the provider keys');
    // Metadata only: the informers never receive a ConfigMap's or a Secret's data.
    for (const resource of ['configmaps', 'secrets']) {
      const reads = api
        .requests({ method: 'GET' })
        .filter(
          (r) => r.path.startsWith(`/api/v1/${resource}?`) && (r.verb === 'list' || r.verb === 'watch'),
        );
      const unlabelled = reads.filter((r) => !/labelSelector=/.test(r.path));
      t.ok(unlabelled.length > 0, `${resource}: listed and watched`);
      t.ok(
        unlabelled.every((r) => /as=PartialObjectMetadata(List)?;g=meta\.k8s\.io;v=v1/.test(r.accept)),
        `${resource}: every cluster-wide list and watch asks for metadata only`,
      );
    }
  });

  t.test('a missing ConfigMap or key is Ready=False naming it; the target keeps its data', async (t) => {
    api.put(configMap('gone', { a: '{{ .password }}' }, 'kube-system'));
    api.put(es('missing-cm', { templateFrom: [{ configMap: { name: 'gone', items: [{ key: 'a' }] } }] }));
    const c = await waitFor('Ready=False', () =>
      ready(api, 'missing-cm')?.status === 'False' ? ready(api, 'missing-cm') : undefined,
    );
    t.match(
      c?.message,
      /^spec\.target\.template\.templateFrom\[0\]\.configMap\.items\[0\]: ConfigMap "default\/gone" not found/,
      "another namespace's ConfigMap of that name is not read",
    );
    t.notOk(api.get('secrets', 'default', 'missing-cm-target'));
    // The ConfigMap appears: the watch re-syncs the failed reader (no clock advance).
    api.put(configMap('gone', { a: 'here {{ .username }}' }));
    await waitFor('recovered', () => targetData(api, 'missing-cm')?.a === 'here app' || undefined);

    api.put(es('missing-key', { templateFrom: [{ configMap: { name: 'tpl', items: [{ key: 'nope' }] } }] }));
    const k = await waitFor('Ready=False', () =>
      ready(api, 'missing-key')?.status === 'False' ? ready(api, 'missing-key') : undefined,
    );
    t.equal(
      k?.message,
      'spec.target.template.templateFrom[0].configMap.items[0]: ConfigMap "default/tpl" has no key "nope"',
    );
  });

  t.test('a reference to another namespace is refused at admission', async (t) => {
    const res = await request(
      `${api.url}/apis/external-secrets.io/v1/namespaces/default/externalsecrets`,
      es('cross', {
        templateFrom: [{ configMap: { name: 'tpl', namespace: 'kube-system', items: [{ key: 'dsn' }] } }],
      }),
      { ca: api.caPem, headers: { authorization: 'Bearer admin-token' } },
    );
    t.equal(res.status, 422);
    t.match(
      res.json<{ message?: string }>().message,
      /templateFrom\[0\]\.configMap\.namespace: Forbidden: templateFrom reads a ConfigMap of the ExternalSecret's own namespace only/,
    );
    t.notOk(api.get('externalsecrets', 'default', 'cross'));
  });

  t.test('the canary reaches no log line, Event or status', async (t) => {
    const statuses = api.list('externalsecrets', 'default').map((o) => (o as { status?: unknown }).status);
    t.notMatch(JSON.stringify(api.list('events', 'default')), CANARY);
    t.notMatch(JSON.stringify(statuses), CANARY);
    t.notMatch(replica.lines.join('\n'), CANARY);
  });
});
