/**
 * ESO semantics on the cluster double, through the real cluster runtime (informers, refresher,
 * admission over HTTPS) with `--controller-class esw`, as when running beside ESO:
 * - objects of another controller class are left untouched: admitted without our judgement, never
 *   synced (no target, no status, no Event), and a placeholder Secret naming such a store is
 *   refused;
 * - the rest is served as ESO serves it (see the other subtests).
 */
import t from 'tap';
import type { KubeObject } from '../../src/api/types.ts';
import type { Metrics } from '../../src/observability/metrics.ts';
import { b64, startCluster, unb64, waitFor } from '../cluster-helpers.ts';
import type { KubeApiServer } from '../fakes/kube-apiserver/index.ts';
import { request } from '../helpers/https.ts';

const CANARY = `CANARY-es-${Math.random().toString(36).slice(2, 8)}`;
const LEASE = ['--lease-duration', '3s', '--renew-deadline', '2s', '--retry-period', '500ms'];

/** POST through the double's admission chain (the webhook validates / mutates), as kubectl would. */
async function create(api: KubeApiServer, path: string, body: object) {
  const res = await request(`${api.url}${path}`, body, {
    ca: api.caPem,
    headers: { authorization: 'Bearer admin-token' },
  });
  return { status: res.status, body: res.json<{ message?: string; kind?: string }>() };
}

async function syncs(metrics: Metrics, result: string): Promise<number> {
  const values = (await metrics.managedSyncs.get()).values;
  return values
    .filter((v) => v.labels.kind === 'ExternalSecret' && v.labels.result === result)
    .reduce((n, v) => n + v.value, 0);
}

const awsSpec = (controller?: string) => ({
  ...(controller ? { controller } : {}),
  provider: {
    aws: {
      service: 'SecretsManager',
      region: 'us-east-1',
      auth: {
        secretRef: {
          accessKeyIDSecretRef: { name: 'aws-credentials', key: 'access-key' },
          secretAccessKeySecretRef: { name: 'aws-credentials', key: 'secret-access-key' },
        },
      },
    },
  },
});

const es = (name: string, store: string, spec: Record<string, unknown> = {}): KubeObject =>
  ({
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name, namespace: 'default' },
    spec: {
      refreshInterval: '1h',
      secretStoreRef: { name: store, kind: 'SecretStore' },
      target: { name: `${name}-target` },
      data: [{ secretKey: 'password', remoteRef: { key: 'app/db', property: 'password' } }],
      ...spec,
    },
  }) as KubeObject;

t.test('ESO semantics beside ESO (--controller-class esw)', async (t) => {
  const { api, aws, startReplica } = await startCluster(t);
  aws.put('app/db', `{"username":"u","password":"${CANARY}"}`);
  // aws-store (from startCluster) names no class: beside ESO it is ESO's. esw-store is ours.
  api.put({
    apiVersion: 'external-secrets.io/v1',
    kind: 'SecretStore',
    metadata: { name: 'esw-store', namespace: 'default' },
    spec: awsSpec('esw'),
  });
  const replica = await startReplica('esw-0', ['--controller-class', 'esw', ...LEASE], { cacheTtlMs: 0 });
  await waitFor('ready', () => replica.server.readiness().ready || undefined);

  t.test('objects of another controller class are left untouched', async (t) => {
    // A store ESO serves and we do not (onepassword): admitted as it is.
    const opStore = await create(api, '/apis/external-secrets.io/v1/namespaces/default/secretstores', {
      apiVersion: 'external-secrets.io/v1',
      kind: 'SecretStore',
      metadata: { name: 'op', namespace: 'default' },
      spec: {
        controller: 'default',
        provider: { onepassword: { connectHost: 'https://op', vaults: { v: 1 } } },
      },
    });
    t.equal(opStore.status, 201, 'an unserved provider of another class is admitted');
    // An ExternalSecret of ESO's (it uses aws-store) with a generator, which we refuse for ours.
    const generator = {
      dataFrom: [
        {
          sourceRef: {
            generatorRef: {
              apiVersion: 'generators.external-secrets.io/v1alpha1',
              kind: 'Password',
              name: 'pw',
            },
          },
        },
      ],
    };
    const theirs = es('theirs', 'aws-store', generator);
    const admitted = await create(
      api,
      '/apis/external-secrets.io/v1/namespaces/default/externalsecrets',
      theirs,
    );
    t.equal(admitted.status, 201, 'an ExternalSecret using another class’s store is admitted as it is');
    const refused = await create(
      api,
      '/apis/external-secrets.io/v1/namespaces/default/externalsecrets',
      es('mine-with-generator', 'esw-store', generator),
    );
    t.equal(refused.status, 422, 'the same spec on our store is judged, and refused');

    // Ours syncs; theirs is skipped by the refresher: no target, no status, no Event, ever.
    const skippedBefore = await syncs(replica.metrics, 'skipped');
    api.put(es('theirs-plain', 'aws-store'));
    api.put(es('mine', 'esw-store'));
    await waitFor('our target', () => api.get('secrets', 'default', 'mine-target'));
    await waitFor(
      'the foreign one taken and skipped',
      async () => (await syncs(replica.metrics, 'skipped')) > skippedBefore,
    );
    t.equal(
      unb64((api.get('secrets', 'default', 'mine-target') as { data: Record<string, string> }).data.password),
      CANARY,
    );
    for (const name of ['theirs', 'theirs-plain']) {
      t.notOk(api.get('secrets', 'default', `${name}-target`), `${name}: no target`);
      t.notOk(
        (api.get('externalsecrets', 'default', name) as { status?: unknown }).status,
        `${name}: no status`,
      );
      const events = api
        .list('events', 'default')
        .filter((e) => (e as { involvedObject?: { name?: string } }).involvedObject?.name === name);
      t.same(events, [], `${name}: no Event`);
    }
    t.equal(api.writes('secrets', 'create'), 1, 'one Secret created in all: ours');

    // A placeholder Secret naming ESO's store is refused: never stored with a literal placeholder.
    const placeholder = await create(api, '/api/v1/namespaces/default/secrets', {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 'ph',
        namespace: 'default',
        labels: { 'esw.io/inject': 'true' },
        annotations: { 'esw.io/store': 'aws-store' },
      },
      data: { password: b64('${ref:app/db#password}') },
    });
    t.equal(placeholder.status, 403, 'a placeholder Secret naming it is refused');
    t.match(placeholder.body.message, /not served here.*left to ESO's default controller/);
    t.notOk(api.get('secrets', 'default', 'ph'));
  });

  t.test(
    'CreatedOnce: a spec change, a label and force-sync sync nothing; a deleted target is recreated',
    async (t) => {
      aws.put('app/once', '{"password":"first"}');
      api.put(
        es('once', 'esw-store', {
          refreshPolicy: 'CreatedOnce',
          data: [{ secretKey: 'password', remoteRef: { key: 'app/once', property: 'password' } }],
        }),
      );
      const ready = () => {
        const o = api.get('externalsecrets', 'default', 'once') as {
          status?: { conditions?: { status: string }[] };
        };
        return o.status?.conditions?.[0]?.status === 'True' ? o : undefined;
      };
      const synced = await waitFor('once synced', ready);
      const target = () =>
        api.get('secrets', 'default', 'once-target') as { data: Record<string, string> } | undefined;
      t.equal(unb64(target()?.data.password), 'first');
      aws.put('app/once', '{"password":"second","username":"u"}');
      const asked = () => aws.asked.filter((a) => a.ids.includes('app/once')).length;
      const askedBefore = asked();
      const statusBefore = JSON.stringify((synced as { status?: unknown }).status);
      const skipped = await syncs(replica.metrics, 'skipped');
      const changed = structuredClone(synced) as KubeObject & { spec: { data: unknown[] } };
      changed.metadata = { ...changed.metadata, labels: { team: 'x' }, annotations: { 'force-sync': '1' } };
      changed.spec.data = [
        ...changed.spec.data,
        { secretKey: 'username', remoteRef: { key: 'app/once', property: 'username' } },
      ];
      api.put(changed);
      await waitFor(
        'the change seen and gated',
        async () => (await syncs(replica.metrics, 'skipped')) > skipped,
      );
      t.same(target()?.data, { password: b64('first') }, 'the target is as first written');
      t.equal(asked(), askedBefore, 'no provider call');
      t.equal(
        JSON.stringify((api.get('externalsecrets', 'default', 'once') as { status?: unknown }).status),
        statusBefore,
        'no status write',
      );
      api.remove('secrets', 'default', 'once-target');
      await waitFor('recreated', () => target());
      t.same(
        Object.fromEntries(Object.entries(target()?.data ?? {}).map(([k, v]) => [k, unb64(v)])),
        { password: 'second', username: 'u' },
        'a missing target is created again, from the current spec and values (as ESO)',
      );
    },
  );

  t.test('rewrite merge, later dataFrom entries and data win', async (t) => {
    aws.put(
      'app/parts',
      JSON.stringify({ base: '{"host":"db","port":5432,"user":"app"}', override: '{"user":"admin"}' }),
    );
    aws.put('app/extra', '{"host":"db2","tls":"on"}');
    api.put(
      es('merged', 'esw-store', {
        data: [{ secretKey: 'user', remoteRef: { key: 'app/db', property: 'username' } }],
        dataFrom: [
          {
            extract: { key: 'app/parts' },
            rewrite: [{ merge: { priority: ['override'], conflictPolicy: 'Ignore' } }],
          },
          { extract: { key: 'app/extra' } },
        ],
      }),
    );
    const target = await waitFor('merged target', () => api.get('secrets', 'default', 'merged-target'));
    const data = Object.fromEntries(
      Object.entries((target as { data: Record<string, string> }).data).map(([k, v]) => [k, unb64(v)]),
    );
    t.same(data, { host: 'db2', port: '5432', user: 'u', tls: 'on' });
  });
});
