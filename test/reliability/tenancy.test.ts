/**
 * Tenancy, end to end at both entry points — admission (the runtime's mutate and validate
 * handlers, which the HTTPS server calls) and refresh (the Refresher on the same StoreResolver):
 * another namespace's SecretStore is refused, ClusterSecretStore conditions (namespaces,
 * namespaceSelector, namespaceRegexes) are enforced, privileged Secret types are refused as
 * ExternalSecret template types, as existing targets and as placeholder Secrets, and hostile
 * templates cannot read the environment, the filesystem or run code.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jsonpatch from 'fast-json-patch';
import t, { type Test } from 'tap';
import type { AdmissionRequest } from '../../src/admission/types.ts';
import type { ExternalSecret, KubeObject, Secret } from '../../src/api/types.ts';
import { validateObject } from '../../src/api/validate.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { createProviders } from '../../src/providers/registry.ts';
import { PlaceholderRefresh } from '../../src/refresher/placeholder.ts';
import { Refresher } from '../../src/refresher/refresher.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { StoreResolver } from '../../src/resolve/resolver.ts';
import { createRuntime } from '../../src/runtime.ts';
import { MemoryKube } from '../refresher/memory-kube.ts';
import { namespace, store } from '../resolve/fixtures.ts';

const CANARY = `CANARY-${randomUUID()}`;
const fake = { fake: { data: [{ key: 'app/db', value: JSON.stringify({ password: CANARY }) }] } };
const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');

const CLUSTER_STORES = {
  'by-name': [{ namespaces: ['team-a'] }],
  'by-selector': [{ namespaceSelector: { matchLabels: { tier: 'gold' } } }],
  'by-regex': [{ namespaceRegexes: ['^team-a$'] }],
} as const;

function world(t: Test) {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (l: string) => lines.push(l) } });
  const registry = new MemoryRegistry();
  registry.upsert(namespace('team-a', { tier: 'gold' }));
  registry.upsert(namespace('team-b', { tier: 'free' }));
  registry.upsert(store('SecretStore', 'team-store', 'team-a', fake));
  for (const [name, conditions] of Object.entries(CLUSTER_STORES)) {
    registry.upsert(store('ClusterSecretStore', name, undefined, fake, { conditions: [...conditions] }));
  }
  const metrics = createMetrics();
  const runtime = createRuntime(registry, registry, {
    logger,
    metrics,
    admissionDeadlineMs: 60_000, // not a deadline test: a loaded machine (SDKs load on first use) must not turn a fill into a refusal
    cacheTtlMs: 30_000,
  });
  t.teardown(() => runtime.close());
  const resolver = new StoreResolver({ registry, secrets: registry, providers: createProviders(), logger });
  t.teardown(() => resolver.close());
  const kube = new MemoryKube();
  const refresher = new Refresher({ resolver, kube, logger, metrics });
  t.teardown(() => refresher.stop());
  refresher.start();
  return { runtime, refresher, kube, lines, registry, logger };
}

function placeholder(
  ns: string,
  annotations: Record<string, string>,
  type = 'Opaque',
): AdmissionRequest & { object: Secret } {
  const object: Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'app', namespace: ns, labels: { 'esw.io/inject': 'true' }, annotations },
    type,
    data: { password: b64('${ref:app/db#password}') },
  };
  return {
    uid: randomUUID(),
    kind: { group: '', version: 'v1', kind: 'Secret' },
    resource: { group: '', version: 'v1', resource: 'secrets' },
    name: 'app',
    namespace: ns,
    operation: 'CREATE',
    object,
    oldObject: null,
    dryRun: false,
  };
}

function externalSecret(
  ns: string,
  name: string,
  storeRef: { name: string; kind: 'SecretStore' | 'ClusterSecretStore' },
  target: NonNullable<ExternalSecret['spec']>['target'] = {},
): ExternalSecret {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name, namespace: ns, uid: `uid-${ns}-${name}`, generation: 1 },
    spec: {
      refreshInterval: '1h',
      secretStoreRef: storeRef,
      target: { name: `${name}-target`, ...target },
      data: [{ secretKey: 'password', remoteRef: { key: 'app/db', property: 'password' } }],
    },
  };
}

t.test('admission: another namespace SecretStore is 403, own namespace is served', async (t) => {
  const { runtime, lines } = world(t);
  const cross = await runtime.mutate(placeholder('team-b', { 'esw.io/store': 'team-a/team-store' }));
  t.match(cross, { allowed: false, status: { code: 403, message: /ESW_STORE_FORBIDDEN/ } });
  t.match(cross.status?.message, /team-a\/team-store/, 'names the store');
  const plain = await runtime.mutate(placeholder('team-b', { 'esw.io/store': 'team-store' }));
  t.match(plain, { allowed: false, status: { code: 404 } }, 'by name alone it does not exist in team-b');
  const own = await runtime.mutate(placeholder('team-a', { 'esw.io/store': 'team-store' }));
  t.equal(own.allowed, true, 'team-a uses its own store');
  t.notOk(JSON.stringify([cross, plain]).includes(CANARY), 'no value in a refusal');
  t.same(
    lines.filter((l) => l.includes(CANARY)),
    [],
  );
});

t.test('admission: ClusterSecretStore conditions enforced', async (t) => {
  const { runtime } = world(t);
  for (const name of Object.keys(CLUSTER_STORES)) {
    const annotations = { 'esw.io/store': name, 'esw.io/store-kind': 'ClusterSecretStore' };
    const allowed = await runtime.mutate(placeholder('team-a', annotations));
    t.equal(allowed.allowed, true, `${name}: team-a matches (${allowed.status?.message})`);
    const refused = await runtime.mutate(placeholder('team-b', annotations));
    t.match(refused, { allowed: false, status: { code: 403 } }, `${name}: team-b refused`);
    t.match(refused.status?.message, new RegExp(name), `${name}: the message names the store`);
    t.notOk(JSON.stringify(refused).includes(CANARY));
  }
});

t.test('admission: privileged types refused as placeholder Secrets, before any lookup', async (t) => {
  const { runtime } = world(t);
  for (const type of ['kubernetes.io/service-account-token', 'bootstrap.kubernetes.io/token']) {
    const r = await runtime.mutate(placeholder('team-a', { 'esw.io/store': 'team-store' }, type));
    t.match(r, { allowed: false, status: { code: 403, message: /ESW_FORBIDDEN_TYPE/ } }, type);
    t.notOk(r.patch, `${type}: no patch`);
  }
});

async function settle(refresher: Refresher): Promise<void> {
  // Every object is due at once on its first pass; two ticks are plenty and bounded.
  await refresher.tick();
  await refresher.tick();
}

t.test(
  'refresh: another namespace store and excluded namespaces get Ready=False and no Secret',
  async (t) => {
    const { refresher, kube, lines } = world(t);
    const objects = [
      externalSecret('team-b', 'cross', { name: 'team-store', kind: 'SecretStore' }),
      externalSecret('team-a', 'own', { name: 'team-store', kind: 'SecretStore' }),
      ...Object.keys(CLUSTER_STORES).flatMap((name) => [
        externalSecret('team-a', `in-${name}`, { name, kind: 'ClusterSecretStore' }),
        externalSecret('team-b', `out-${name}`, { name, kind: 'ClusterSecretStore' }),
      ]),
    ];
    for (const o of objects) refresher.upsertExternalSecret(o);
    await settle(refresher);
    for (const o of objects) {
      const ns = o.metadata?.namespace as string;
      const name = o.metadata?.name as string;
      const target = kube.secrets.get(`${ns}/${name}-target`);
      const ready = kube.statuses.get(`${ns}/${name}`)?.conditions?.find((c) => c.type === 'Ready');
      if (ns === 'team-a') {
        t.equal(unb64(target?.data?.password), CANARY, `${ns}/${name}: synced`);
        t.equal(ready?.status, 'True');
      } else {
        t.notOk(target, `${ns}/${name}: no Secret`);
        t.equal(ready?.status, 'False', `${ns}/${name}: Ready=False (${ready?.message})`);
        t.notOk(ready?.message?.includes(CANARY));
      }
    }
    const forbidden = kube.statuses.get('team-b/out-by-name')?.conditions?.[0]?.message ?? '';
    t.match(forbidden, /by-name/, 'the condition names the store');
    t.notOk(JSON.stringify(kube.events).includes(CANARY), 'no value in an Event');
    t.same(
      lines.filter((l) => l.includes(CANARY)),
      [],
    );
  },
);

t.test(
  'privileged types as ExternalSecret templates: refused by validation and by the refresher',
  async (t) => {
    const { runtime, refresher, kube } = world(t);
    for (const type of ['kubernetes.io/service-account-token', 'bootstrap.kubernetes.io/token']) {
      const es = externalSecret(
        'team-a',
        `priv-${type.split('/')[0]?.split('.')[0]}`,
        { name: 'team-store', kind: 'SecretStore' },
        {
          template: { type, metadata: { annotations: { 'kubernetes.io/service-account.name': 'default' } } },
        },
      );
      const { errors } = validateObject(es as unknown as KubeObject);
      t.ok(
        errors.some((e) => e.field === 'spec.target.template.type'),
        `${type}: validation names spec.target.template.type`,
      );
      const review = await runtime.validate({
        uid: randomUUID(),
        kind: { group: 'external-secrets.io', version: 'v1', kind: 'ExternalSecret' },
        resource: { group: 'external-secrets.io', version: 'v1', resource: 'externalsecrets' },
        name: es.metadata?.name as string,
        namespace: 'team-a',
        operation: 'CREATE',
        object: es as unknown as KubeObject,
        oldObject: null,
        dryRun: false,
      } as AdmissionRequest);
      t.equal(review.allowed, false, `${type}: /validate refuses it`);

      // Had it reached the cluster anyway (webhook down, failurePolicy Ignore), the refresher
      // still writes nothing.
      refresher.upsertExternalSecret(es);
      await settle(refresher);
      t.notOk(kube.secrets.get(`team-a/${es.metadata?.name}-target`), `${type}: no Secret written`);
      t.match(kube.statuses.get(`team-a/${es.metadata?.name}`)?.conditions?.[0], {
        status: 'False',
        message: /may not be managed/,
      });
    }
  },
);

t.test('an existing privileged Secret is never written as a target', async (t) => {
  const { refresher, kube } = world(t);
  for (const [i, type] of [
    'kubernetes.io/service-account-token',
    'bootstrap.kubernetes.io/token',
  ].entries()) {
    for (const creationPolicy of ['Owner', 'Merge', 'Orphan'] as const) {
      const name = `victim-${i}-${creationPolicy.toLowerCase()}`;
      await kube.createSecret('team-a', {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace: 'team-a' },
        type,
        data: { token: b64('issued-by-kubernetes') },
      });
      const es = externalSecret(
        'team-a',
        `into-${name}`,
        { name: 'team-store', kind: 'SecretStore' },
        { name, creationPolicy },
      );
      refresher.upsertExternalSecret(es);
      await settle(refresher);
      const victim = kube.secrets.get(`team-a/${name}`);
      t.same(victim?.data, { token: b64('issued-by-kubernetes') }, `${type} ${creationPolicy}: untouched`);
      t.match(kube.statuses.get(`team-a/into-${name}`)?.conditions?.[0], { status: 'False' });
    }
  }
});

t.test('hostile templates cannot read the environment, the filesystem or run code', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'esw-tenancy-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const ENV_CANARY = `ENV-CANARY-${randomUUID()}`;
  const FILE_CANARY = `FILE-CANARY-${randomUUID()}`;
  const file = join(dir, 'secret.txt');
  await writeFile(file, FILE_CANARY);
  process.env.ESW_TENANCY_CANARY = ENV_CANARY;
  t.teardown(() => {
    delete process.env.ESW_TENANCY_CANARY;
  });
  const { refresher, kube, lines } = world(t);
  const hostile: Record<string, string> = {
    env: '{{ env "ESW_TENANCY_CANARY" }}',
    expandenv: '{{ expandenv "$ESW_TENANCY_CANARY" }}',
    getenv: '{{ getenv "ESW_TENANCY_CANARY" }}',
    readFile: `{{ readFile "${file}" }}`,
    include: `{{ include "${file}" . }}`,
    template: `{{ template "${file}" }}`,
    files: `{{ .Files.Get "${file}" }}`,
    ctor: '{{ .constructor.constructor "return process.env.ESW_TENANCY_CANARY" }}',
    proto: '{{ .__proto__.constructor }}',
    call: '{{ call .password.constructor "return process" }}',
    exec: '{{ exec "cat" "/etc/hostname" }}',
    printfProto: '{{ printf "%v" .constructor }}',
    indexProto: '{{ index . "__proto__" }}',
  };
  const names = Object.keys(hostile);
  for (const [i, key] of names.entries()) {
    refresher.upsertExternalSecret(
      externalSecret(
        'team-a',
        `hostile-${i}`,
        { name: 'team-store', kind: 'SecretStore' },
        { template: { engineVersion: 'v2', data: { out: hostile[key] as string } } },
      ),
    );
  }
  const processMarkers = [ENV_CANARY, FILE_CANARY, '[native code]', process.execPath];
  await settle(refresher);
  let refused = 0;
  for (const [i, key] of names.entries()) {
    const target = kube.secrets.get(`team-a/hostile-${i}-target`);
    const status = kube.statuses.get(`team-a/hostile-${i}`);
    const out = unb64(target?.data?.out);
    if (!target) refused++;
    const seen = JSON.stringify({ out, status });
    for (const m of processMarkers)
      t.notOk(seen.includes(m), `${key}: nothing of the process (${m.slice(0, 20)})`);
  }
  t.ok(
    refused >= names.length - 3,
    `most hostile templates are refused outright (${refused}/${names.length})`,
  );
  const everything = JSON.stringify({
    secrets: [...kube.secrets.values()],
    statuses: [...kube.statuses.values()],
    events: kube.events,
    lines,
  });
  t.notOk(everything.includes(ENV_CANARY), 'the environment is never read');
  t.notOk(everything.includes(FILE_CANARY), 'the filesystem is never read');
});

t.test('refresh: a privileged Secret carrying a placeholder record is never written', async (t) => {
  const { runtime, kube, lines, logger } = world(t);
  const request = placeholder('team-a', { 'esw.io/store': 'team-store' });
  const filled = await runtime.mutate(request);
  t.equal(filled.allowed, true, 'an Opaque placeholder is filled (to get a genuine record)');
  const ops = JSON.parse(
    Buffer.from(filled.patch ?? 'W10=', 'base64').toString('utf8'),
  ) as jsonpatch.Operation[];
  const record = jsonpatch.applyPatch(structuredClone(request.object), ops, true, false)
    .newDocument as Secret;
  t.ok(record.metadata?.annotations?.['esw.io/refs'], 'the record of references is there');
  const syncer = new PlaceholderRefresh(runtime.resolver, logger);
  for (const type of ['kubernetes.io/service-account-token', 'bootstrap.kubernetes.io/token']) {
    const name = `priv-${type.length}`;
    // Labelled and annotated while the webhook was not asked (installed later, or bypassed).
    await kube.createSecret('team-a', {
      ...record,
      metadata: { ...record.metadata, name, namespace: 'team-a' },
      type,
      data: { password: b64('issued-by-kubernetes') },
    });
    const outcome = await syncer.sync((await kube.getSecret('team-a', name)) as Secret, {
      fetchedAfter: 0,
      kube,
    });
    t.match(outcome, { result: 'error', error: { code: 'ESW_FORBIDDEN_TYPE' } }, `${type}: refused`);
    t.same(
      kube.secrets.get(`team-a/${name}`)?.data,
      { password: b64('issued-by-kubernetes') },
      `${type}: untouched`,
    );
  }
  t.equal(kube.writes.replace, 0, 'no replace at all');
  t.same(
    lines.filter((l) => l.includes(CANARY)),
    [],
  );
});
