/**
 * Generic targets (`spec.target.manifest`, ESO 2.9) on the cluster double, through the real
 * cluster runtime with `--generic-target-kinds ConfigMap`:
 * - a ConfigMap target is created with the provider data (or rendered templates), the managed
 *   label, the data-hash annotation and our controller reference; updated when the remote
 *   changes; restored when edited or deleted by hand; deleted with deletionPolicy Delete;
 * - a kind the operator did not allow is refused at admission, and Ready=False saying so when it
 *   was stored anyway; Secret is refused at admission;
 *   the manifest names no namespace: the target is always in the ExternalSecret's own;
 * - the canary value never reaches a log line, an Event or the status.
 */
import t from 'tap';
import type { KubeObject } from '../../src/api/types.ts';
import { decodeData, esoDataHash } from '../../src/refresher/secret-data.ts';
import { startCluster, waitFor } from '../cluster-helpers.ts';
import type { KubeApiServer } from '../fakes/kube-apiserver/index.ts';
import { request } from '../helpers/https.ts';

const CANARY = `CANARY-gt-${Math.random().toString(36).slice(2, 8)}`;

const es = (
  name: string,
  target: Record<string, unknown>,
  key = 'gt/db',
  refreshInterval = '1s',
): KubeObject =>
  ({
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name, namespace: 'default' },
    spec: {
      refreshInterval,
      secretStoreRef: { name: 'aws-store', kind: 'SecretStore' },
      target: { name: `${name}-cm`, manifest: { apiVersion: 'v1', kind: 'ConfigMap' }, ...target },
      data: [{ secretKey: 'password', remoteRef: { key, property: 'password' } }],
    },
  }) as KubeObject;

type Cm = {
  data?: Record<string, string>;
  metadata?: {
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { uid: string; controller?: boolean; kind: string }[];
  };
};
const cm = (api: KubeApiServer, name: string) => api.get('configmaps', 'default', name) as Cm | undefined;

function ready(api: KubeApiServer, name: string) {
  const o = api.get('externalsecrets', 'default', name) as
    | { status?: { conditions?: { type: string; status: string; message?: string }[] } }
    | undefined;
  return o?.status?.conditions?.find((c) => c.type === 'Ready');
}

/** POST through the double's admission chain (the webhook validates), as kubectl would. */
async function create(api: KubeApiServer, body: object) {
  const res = await request(
    `${api.url}/apis/external-secrets.io/v1/namespaces/default/externalsecrets`,
    body,
    {
      ca: api.caPem,
      headers: { authorization: 'Bearer admin-token' },
    },
  );
  return { status: res.status, body: res.json<{ message?: string }>() };
}

t.test('generic ConfigMap targets', async (t) => {
  const { api, aws, startReplica } = await startCluster(t);
  aws.put('gt/db', JSON.stringify({ password: `${CANARY}-v1` }));
  aws.put('gt/gone', JSON.stringify({ password: `${CANARY}-gone` }));
  const replica = await startReplica('esw-0', undefined, {
    args: ['--generic-target-kinds', 'ConfigMap,example.com/v1/Database'],
  });
  await waitFor('ready', () => replica.server.readiness().ready || undefined);

  t.test('created with the provider data, updated, restored after an edit and a deletion', async (t) => {
    const res = await create(api, es('plain', {}));
    t.equal(res.status, 201, res.body.message ?? '');
    const first = await waitFor('ConfigMap written', () => {
      const c = cm(api, 'plain-cm');
      return c?.data?.password === `${CANARY}-v1` ? c : undefined;
    });
    const owner = api.get('externalsecrets', 'default', 'plain') as { metadata: { uid: string } };
    t.equal(first.metadata?.labels?.['reconcile.external-secrets.io/managed'], 'true');
    t.match(first.metadata?.annotations?.['reconcile.external-secrets.io/data-hash'], /^[0-9a-f]{64}$/);
    t.same(
      first.metadata?.ownerReferences?.map((o) => [o.kind, o.uid, o.controller]),
      [['ExternalSecret', owner.metadata.uid, true]],
    );
    await waitFor('Ready=True', () => ready(api, 'plain')?.status === 'True' || undefined);

    aws.put('gt/db', JSON.stringify({ password: `${CANARY}-v2` }));
    await waitFor(
      'ConfigMap updated',
      () => cm(api, 'plain-cm')?.data?.password === `${CANARY}-v2` || undefined,
    );

    // Edited by hand: restored (the managed ConfigMaps are watched).
    const current = cm(api, 'plain-cm') as Cm & KubeObject;
    api.put({ ...current, data: { password: 'tampered' } });
    await waitFor('edit restored', () => cm(api, 'plain-cm')?.data?.password === `${CANARY}-v2` || undefined);
    // Deleted by hand: recreated.
    t.ok(api.remove('configmaps', 'default', 'plain-cm'));
    await waitFor(
      'deletion restored',
      () => cm(api, 'plain-cm')?.data?.password === `${CANARY}-v2` || undefined,
    );
  });

  t.test('templates render into data, labels and annotations', async (t) => {
    const res = await create(
      api,
      es('tpl', {
        template: {
          metadata: { labels: { team: 'payments' } },
          data: { dsn: 'postgres://app:{{ .password }}@db' },
          templateFrom: [{ target: 'Annotations', literal: 'rendered: "yes"' }],
        },
      }),
    );
    t.equal(res.status, 201, res.body.message ?? '');
    const c = await waitFor('templated ConfigMap', () => cm(api, 'tpl-cm'));
    t.same(c.data, { dsn: `postgres://app:${CANARY}-v2@db` });
    t.equal(c.metadata?.labels?.team, 'payments');
    t.equal(c.metadata?.annotations?.rendered, 'yes');
  });

  t.test('creationPolicy Merge keeps the other keys; Orphan is not restored', async (t) => {
    api.put({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'shared-cm', namespace: 'default' },
      data: { 'app.properties': 'mode=prod' },
    });
    t.equal((await create(api, es('shared', { creationPolicy: 'Merge' }))).status, 201);
    const merged = await waitFor('merged', () =>
      cm(api, 'shared-cm')?.data?.password ? cm(api, 'shared-cm') : undefined,
    );
    t.same(merged.data, { 'app.properties': 'mode=prod', password: `${CANARY}-v2` });
    t.same(merged.metadata?.ownerReferences ?? [], [], 'Merge takes no ownership');
    t.equal(merged.metadata?.labels?.['reconcile.external-secrets.io/managed'], undefined);

    t.equal((await create(api, es('orphan', { creationPolicy: 'Orphan' }, 'gt/db', '1h'))).status, 201);
    const orphan = await waitFor('orphan written', () => cm(api, 'orphan-cm'));
    t.same(orphan.metadata?.ownerReferences ?? [], []);
    api.put({ ...(orphan as KubeObject), data: { password: 'edited' } });
    // The edit is kept: an Orphan target is not this ExternalSecret's to restore. The same
    // informer then reports an edit of an Owner target, restored: the Orphan's event came first.
    const owned = cm(api, 'plain-cm') as Cm & KubeObject;
    api.put({ ...owned, data: { password: 'tampered-again' } });
    await waitFor(
      'owner target restored',
      () => cm(api, 'plain-cm')?.data?.password === `${CANARY}-v2` || undefined,
    );
    t.equal(cm(api, 'orphan-cm')?.data?.password, 'edited');
  });

  t.test('deletionPolicy Delete removes the ConfigMap once the remote secret is gone', async (t) => {
    const res = await create(api, es('gone', { deletionPolicy: 'Delete' }, 'gt/gone'));
    t.equal(res.status, 201, res.body.message ?? '');
    await waitFor(
      'ConfigMap written',
      () => cm(api, 'gone-cm')?.data?.password === `${CANARY}-gone` || undefined,
    );
    aws.delete('gt/gone');
    await waitFor('ConfigMap deleted', () => cm(api, 'gone-cm') === undefined || undefined);
    const c = await waitFor('Ready', () => ready(api, 'gone'));
    t.equal(c.status, 'True');
  });

  t.test('a custom resource: spec.data, or a field-path template; restored after an edit', async (t) => {
    const db = (name: string) =>
      api.get('databases', 'default', name) as
        | (KubeObject & { spec?: Record<string, unknown>; data?: Record<string, string> })
        | undefined;
    const manifest = { apiVersion: 'example.com/v1', kind: 'Database' };
    t.equal((await create(api, es('crplain', { manifest }))).status, 201);
    const plain = await waitFor('spec.data written', () =>
      db('crplain-cm')?.spec?.data ? db('crplain-cm') : undefined,
    );
    t.same(plain.spec, { data: { password: `${CANARY}-v2` } });
    t.equal(plain.metadata?.labels?.['reconcile.external-secrets.io/managed'], 'true');
    const res = await create(
      api,
      es(
        'crtpl',
        {
          manifest,
          template: {
            data: { dsn: 'postgres://app:{{ .password }}@db' },
            templateFrom: [
              {
                target: 'spec.database',
                literal: 'host: db.internal\nport: 5432\npassword: "{{ .password }}"',
              },
            ],
          },
        },
        'gt/db',
        // Long: the restore below comes from the watch, never from the timer.
        '1h',
      ),
    );
    t.equal(res.status, 201, res.body.message ?? '');
    const c = await waitFor('field path written', () =>
      db('crtpl-cm')?.spec?.database ? db('crtpl-cm') : undefined,
    );
    t.same(c.spec, { database: { host: 'db.internal', port: 5432, password: `${CANARY}-v2` } });
    t.same(c.data, { dsn: `postgres://app:${CANARY}-v2@db` });
    // Edited or deleted by hand: restored at once (the allowed kinds are watched).
    api.put({ ...(c as object), spec: { database: { host: 'evil' } } });
    const host = () => (db('crtpl-cm')?.spec?.database as { host?: string } | undefined)?.host;
    await waitFor('restored', () => host() === 'db.internal');
    t.ok(api.remove('databases', 'default', 'crtpl-cm'));
    await waitFor('recreated', () => host() === 'db.internal');
  });

  t.test("without a template the ExternalSecret's labels and annotations are copied, as ESO", async (t) => {
    // ESO's applyTemplateToManifest (and setMetadata for a Secret): no template, the
    // ExternalSecret's own labels and annotations; a template, its metadata alone.
    const meta = { labels: { team: 'payments', tier: 'db' }, annotations: { 'example.com/owner': 'alice' } };
    // This webhook's own keys are never copied: esw.io/inject with esw.io/store would make the
    // target a placeholder Secret for the mutating webhook to rewrite.
    const own = {
      labels: { 'esw.io/inject': 'true' },
      annotations: { 'esw.io/store': 'aws-store', 'ref.esw.io/password': 'gt/db#password' },
    };
    const withMeta = (o: KubeObject): KubeObject => ({
      ...o,
      metadata: {
        ...(o.metadata ?? {}),
        labels: { ...meta.labels, ...own.labels },
        annotations: { ...meta.annotations, ...own.annotations },
      },
    });
    const manifest = { apiVersion: 'example.com/v1', kind: 'Database' };
    for (const object of [
      withMeta(es('metacm', {})),
      withMeta(es('metacr', { manifest })),
      withMeta(es('metasec', { manifest: undefined })),
      withMeta(es('metatpl', { template: { metadata: { labels: { only: 'template' } } } })),
    ]) {
      const res = await create(api, object);
      t.equal(res.status, 201, res.body.message ?? '');
    }
    type Meta = { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> } };
    const written = (resource: string, name: string) =>
      waitFor(`${resource} ${name}`, () => {
        const o = api.get(resource, 'default', name) as Meta | undefined;
        return o?.metadata?.annotations?.['reconcile.external-secrets.io/data-hash'] ? o : undefined;
      });
    for (const [resource, name] of [
      ['configmaps', 'metacm-cm'],
      ['databases', 'metacr-cm'],
      ['secrets', 'metasec-cm'],
    ] as const) {
      const o = await written(resource, name);
      t.match(o.metadata?.labels, { ...meta.labels, 'reconcile.external-secrets.io/managed': 'true' }, name);
      t.match(o.metadata?.annotations, meta.annotations, name);
      t.same(
        Object.keys({ ...o.metadata?.labels, ...o.metadata?.annotations }).filter((k) =>
          k.includes('esw.io/'),
        ),
        [],
        `${name}: no esw.io key`,
      );
    }
    // The Secret target carries ESO's data-hash (sha3-224 of its data, test/refresher/data-hash.test.ts).
    const sec = api.get('secrets', 'default', 'metasec-cm') as Meta & { data?: Record<string, string> };
    t.equal(
      sec.metadata?.annotations?.['reconcile.external-secrets.io/data-hash'],
      esoDataHash(decodeData(sec.data)),
    );
    const tpl = await written('configmaps', 'metatpl-cm');
    t.equal(tpl.metadata?.labels?.only, 'template');
    t.equal(tpl.metadata?.labels?.team, undefined, 'a template replaces the copy');
    t.equal(tpl.metadata?.annotations?.['example.com/owner'], undefined);

    // A label changed on the ExternalSecret reaches its target.
    const current = api.get('externalsecrets', 'default', 'metacm') as KubeObject;
    api.put({
      ...current,
      metadata: { ...current.metadata, labels: { ...current.metadata?.labels, tier: 'cache' } },
    });
    await waitFor('label updated', () =>
      cm(api, 'metacm-cm')?.metadata?.labels?.tier === 'cache' ? true : undefined,
    );
  });

  t.test('a kind the operator did not allow: refused at admission; Ready=False if stored', async (t) => {
    const object = es('crd', { name: 'db', manifest: { apiVersion: 'example.com/v2', kind: 'Database' } });
    const res = await create(api, object);
    t.equal(res.status, 422);
    t.match(res.body.message, /spec\.target\.manifest/);
    t.match(res.body.message, /"example\.com\/v2\/Database" is not allowed on this cluster/);
    // Stored without the webhook (admitted before the flag changed): the refresher says so.
    api.put(object);
    const c = await waitFor('Ready=False', () =>
      ready(api, 'crd')?.status === 'False' ? ready(api, 'crd') : undefined,
    );
    t.match(c?.message, /generic target kind "example\.com\/v2\/Database" is not allowed here/);
    t.match(c?.message, /--generic-target-kinds/);
    t.equal(api.get('databases', 'default', 'db'), undefined, 'nothing written');
  });

  t.test('Secret is refused as a manifest target; the manifest names no namespace', async (t) => {
    const secret = await create(api, es('sec', { manifest: { apiVersion: 'v1', kind: 'Secret' } }));
    t.equal(secret.status, 422);
    t.match(secret.body.message, /spec\.target\.manifest\.kind/);
    t.match(secret.body.message, /Secret is not a generic target/);
    const elsewhere = await create(
      api,
      es('elsewhere', { manifest: { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'kube-system' } }),
    );
    // The schema has no namespace there (the API server prunes it): the ConfigMap is written
    // into the ExternalSecret's own namespace, never another.
    t.equal(elsewhere.status, 201, elsewhere.body.message ?? '');
    await waitFor('written in default', () => cm(api, 'elsewhere-cm')?.data?.password?.startsWith(CANARY));
    t.equal(api.list('configmaps', 'kube-system').length, 0);
  });

  t.test('the canary never reaches logs, Events or status', async (t) => {
    const events = JSON.stringify(api.list('events'));
    const statuses = JSON.stringify(
      api.list('externalsecrets').map((o) => (o as { status?: unknown }).status),
    );
    t.notMatch(events, CANARY);
    t.notMatch(statuses, CANARY);
    t.notMatch(replica.lines.join('\n'), CANARY);
  });
});
