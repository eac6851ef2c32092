/**
 * A generic target (a ConfigMap, a custom resource) edited or deleted while no replica watched
 * it: as a Secret target (startup-tamper.test.ts), the object scheduled from its status at a
 * start or gain looks its target up in its kind's managed cache (GenericTargets.state, the cache
 * filled as the informer fills it: managed label only, projected with its content digest) and is
 * restored at the first round if the target is edited, or absent where that means deleted
 * (Owner). A custom kind's informer starts after discovery, possibly after the gain: when it
 * lists (`targetKindListed`), the owned objects it shows edited or deleted are restored then, the
 * intact ones keep their round. No timing.
 */
import t from 'tap';
import type { ConfigMap, ExternalSecret, KubeObject } from '../../src/api/types.ts';
import { createLogger, silentLogger } from '../../src/observability/logger.ts';
import { MANAGED_LABEL } from '../../src/refresher/external-secret.ts';
import {
  configMapIntact,
  objectIntact,
  withConfigMapDigest,
  withContentDigest,
} from '../../src/refresher/generic-target.ts';
import { flagEdited, GenericTargets } from '../../src/refresher/known-targets.ts';
import { ConflictError } from '../../src/refresher/ports.ts';
import { Refresher } from '../../src/refresher/refresher.ts';
import { ES_HASH_ANNOTATION } from '../../src/refresher/secret-data.ts';
import { harness, introExternalSecret, readyAtVersion } from './harness.ts';
import { MemoryKube } from './memory-kube.ts';

const DB = 'my-app/database-credentials';
const CANARY = `CANARY-gs-${Math.random().toString(36).slice(2, 8)}`;
const KIND = 'example.com/v1/Database';
const CM = { apiVersion: 'v1', kind: 'ConfigMap' };
const DATABASE = { apiVersion: 'example.com/v1', kind: 'Database' };

/** MemoryKube with the generic writes: ConfigMaps and custom resources, versioned. */
class GenericKube extends MemoryKube {
  /** `apiVersion/kind/ns/name` -> object (ConfigMaps under `v1/ConfigMap/...`). */
  readonly objects = new Map<string, KubeObject>();
  genericWrites = 0;
  #rv = 1_000;

  #put(ns: string, obj: KubeObject, create: boolean): KubeObject {
    const key = `${obj.apiVersion}/${obj.kind}/${ns}/${obj.metadata?.name}`;
    const current = this.objects.get(key);
    if (create ? current : current?.metadata?.resourceVersion !== obj.metadata?.resourceVersion)
      throw new ConflictError(key);
    this.genericWrites++;
    const stored = {
      ...structuredClone(obj),
      metadata: { ...obj.metadata, namespace: ns, resourceVersion: String(++this.#rv) },
    };
    this.objects.set(key, stored);
    return structuredClone(stored);
  }

  get(m: { apiVersion: string; kind: string }, name: string): KubeObject | undefined {
    return this.objects.get(`${m.apiVersion}/${m.kind}/default/${name}`);
  }

  override async getConfigMap(ns: string, name: string): Promise<ConfigMap | undefined> {
    return this.getObject('v1', 'ConfigMap', ns, name) as Promise<ConfigMap | undefined>;
  }
  async createConfigMap(ns: string, cm: ConfigMap): Promise<ConfigMap> {
    return this.#put(ns, cm, true) as ConfigMap;
  }
  async replaceConfigMap(ns: string, cm: ConfigMap): Promise<ConfigMap> {
    return this.#put(ns, cm, false) as ConfigMap;
  }
  async getObject(apiVersion: string, kind: string, ns: string, name: string) {
    const o = this.objects.get(`${apiVersion}/${kind}/${ns}/${name}`);
    return o ? structuredClone(o) : undefined;
  }
  async createObject(ns: string, obj: KubeObject): Promise<KubeObject> {
    return this.#put(ns, obj, true);
  }
  async replaceObject(ns: string, obj: KubeObject): Promise<KubeObject> {
    return this.#put(ns, obj, false);
  }
}

type Harness = ReturnType<typeof harness>;
type Target = NonNullable<ExternalSecret['spec']>['target'];

/** An ExternalSecret writing `name` as the generic kind `manifest`. */
function genericEs(
  manifest: { apiVersion: string; kind: string },
  name: string,
  over: Partial<NonNullable<Target>> = {},
): ExternalSecret {
  return introExternalSecret({ target: { name, creationPolicy: 'Owner', manifest, ...over } }, `${name}-es`);
}

/**
 * A managed cache as its informer fills it, listed from the cluster as it is now (the managed
 * label's objects of one kind, projected as cluster.ts projects them), or not listed yet.
 */
class Cache {
  listed = false;
  readonly cache = new Map<string, KubeObject>();
  readonly kube: GenericKube;
  readonly m: { apiVersion: string; kind: string };
  constructor(kube: GenericKube, m: { apiVersion: string; kind: string }) {
    this.kube = kube;
    this.m = m;
  }
  list(): void {
    this.cache.clear();
    for (const o of this.kube.objects.values()) {
      if (o.apiVersion !== this.m.apiVersion || o.kind !== this.m.kind) continue;
      if (o.metadata?.labels?.[MANAGED_LABEL] !== 'true') continue;
      const copy = structuredClone(o);
      const kept =
        o.kind === 'ConfigMap'
          ? flagEdited(withConfigMapDigest(copy as ConfigMap), configMapIntact)
          : flagEdited(withContentDigest(copy), objectIntact);
      this.cache.set(`${o.metadata?.namespace}/${o.metadata?.name}`, kept);
    }
    this.listed = true;
  }
}

/** A replica started now, its ConfigMap and Database caches as given (cluster.ts's wiring). */
function replica(h: Harness, kube: GenericKube, caches: { cm: Cache; db: Cache }): Refresher {
  const generic = new GenericTargets();
  generic.watch('ConfigMap', caches.cm);
  generic.watch(KIND, caches.db);
  return new Refresher({
    resolver: h.resolver,
    kube,
    logger: createLogger({ level: 'debug', destination: { write: (l: string) => h.lines.push(l) } }),
    now: h.clock.now,
    genericTargetKinds: ['ConfigMap', KIND],
    targetState: (target) => (target.includes('|') ? generic.state(target) : 'unknown'),
  });
}

/** Synced once by a first replica, which then went away: the objects with the status it wrote. */
async function syncedOnce(h: Harness, kube: GenericKube, ess: ExternalSecret[]): Promise<ExternalSecret[]> {
  const first = new Refresher({
    resolver: h.resolver,
    kube,
    logger: silentLogger(),
    now: h.clock.now,
    genericTargetKinds: ['ConfigMap', KIND],
  });
  for (const es of ess) first.upsertExternalSecret(es);
  first.start();
  await first.scheduled();
  const synced = await first.tick();
  if (synced !== ess.length) throw new Error(`the first replica synced ${synced} of ${ess.length}`);
  await first.stop();
  return ess.map((es) => ({ ...es, status: kube.statuses.get(`default/${es.metadata?.name}`) }));
}

/** A labelled ConfigMap whose values no longer match its data-hash: edited by hand. */
function editedConfigMap(kube: GenericKube, name: string): void {
  kube.objects.set(`v1/ConfigMap/default/${name}`, {
    ...CM,
    metadata: {
      name,
      namespace: 'default',
      resourceVersion: '7',
      labels: { [MANAGED_LABEL]: 'true' },
      annotations: { [ES_HASH_ANNOTATION]: 'written' },
    },
    data: { password: 'hacked' },
  } as KubeObject);
}

/** Edits the stored object's values by hand (a ConfigMap's data, a Database's spec.data). */
function tamper(kube: GenericKube, m: { apiVersion: string; kind: string }, name: string): void {
  const o = kube.get(m, name) as KubeObject & { data?: object; spec?: { data?: object } };
  if (m.kind === 'ConfigMap') o.data = { password: 'hacked', username: 'u' };
  else o.spec = { ...o.spec, data: { password: 'hacked', username: 'u' } };
  o.metadata = { ...o.metadata, resourceVersion: '999' };
}

const password = (o: KubeObject | undefined) =>
  (o as { data?: { password?: string }; spec?: { data?: { password?: string } } } | undefined)?.data
    ?.password ?? (o as { spec?: { data?: { password?: string } } } | undefined)?.spec?.data?.password;

/** Started with `ess` present: each one's due (undefined: urgent). */
async function firstDue(r: Refresher, ess: ExternalSecret[]): Promise<(number | undefined)[]> {
  for (const es of ess) r.upsertExternalSecret(es);
  r.start();
  await r.scheduled();
  return ess.map((es) => r.dueOf(es));
}

function setup() {
  const h = harness();
  h.remote.values.set(DB, `{"username":"u","password":"${CANARY}"}`);
  const kube = new GenericKube();
  const caches = { cm: new Cache(kube, CM), db: new Cache(kube, DATABASE) };
  return { h, kube, caches };
}

t.test(
  'ConfigMap targets: an edited one restored at the first round, an intact one keeps its round',
  async (t) => {
    const { h, kube, caches } = setup();
    const [edited, intact] = await syncedOnce(h, kube, [genericEs(CM, 'edited'), genericEs(CM, 'intact')]);
    tamper(kube, CM, 'edited');
    caches.cm.list();
    const writes = kube.genericWrites;
    const r = replica(h, kube, caches);
    const [editedDue, intactDue] = await firstDue(r, [edited as ExternalSecret, intact as ExternalSecret]);
    t.equal(editedDue, undefined, 'edited: urgent, though its status says it is up to date');
    t.ok((intactDue ?? 0) > h.clock.now(), 'intact: at its round');
    t.equal(await r.tick(), 1, 'one sync: the edited target');
    t.equal(password(kube.get(CM, 'edited')), CANARY, 'restored');
    t.equal(kube.genericWrites, writes + 1, 'one write');
    t.notOk(
      h.lines.some((l) => l.includes(CANARY)),
      'no value in any log line',
    );
    await r.stop();
  },
);

t.test(
  'an Owner ConfigMap target deleted while no replica ran: created again at the first round',
  async (t) => {
    const { h, kube, caches } = setup();
    const [es] = await syncedOnce(h, kube, [genericEs(CM, 'deleted')]);
    kube.objects.delete('v1/ConfigMap/default/deleted');
    caches.cm.list();
    const r = replica(h, kube, caches);
    t.same(await firstDue(r, [es as ExternalSecret]), [undefined], 'urgent');
    t.equal(await r.tick(), 1, 'one sync');
    t.equal(password(kube.get(CM, 'deleted')), CANARY, 'created again');
    await r.stop();
  },
);

t.test('ConfigMap targets: what proves nothing, or is never restored, keeps its round', async (t) => {
  const cases: [string, Partial<NonNullable<Target>>, 'edited' | 'absent', boolean][] = [
    ['Merge, absent (a Merge target may carry no label)', { creationPolicy: 'Merge' }, 'absent', true],
    ['CreateOrMerge, absent', { creationPolicy: 'CreateOrMerge' }, 'absent', true],
    ['Orphan, edited', { creationPolicy: 'Orphan' }, 'edited', true],
    ['Orphan, absent', { creationPolicy: 'Orphan' }, 'absent', true],
    ['None, edited', { creationPolicy: 'None' }, 'edited', true],
    ['Owner, edited, the cache not listed (unknown)', { creationPolicy: 'Owner' }, 'edited', false],
    ['Owner, absent, the cache not listed (unknown)', { creationPolicy: 'Owner' }, 'absent', false],
  ];
  for (const [name, over, found, listed] of cases) {
    const { h, kube, caches } = setup();
    if (found === 'edited') editedConfigMap(kube, 'target');
    if (listed) caches.cm.list();
    const es = readyAtVersion(h, genericEs(CM, 'target', over));
    const r = replica(h, kube, caches);
    const [due] = await firstDue(r, [es]);
    t.ok((due ?? 0) > h.clock.now(), `${name}: at its round`);
    await r.stop();
  }
});

t.test('ConfigMap, Merge, edited: restored as an update event would', async (t) => {
  const { h, kube, caches } = setup();
  editedConfigMap(kube, 'target');
  caches.cm.list();
  const es = readyAtVersion(h, genericEs(CM, 'target', { creationPolicy: 'Merge' }));
  const r = replica(h, kube, caches);
  t.same(await firstDue(r, [es]), [undefined], 'urgent');
  await r.stop();
});

t.test(
  'custom kind listed before the start: an edited one restored, an intact one keeps its round',
  async (t) => {
    const { h, kube, caches } = setup();
    const [edited, intact] = await syncedOnce(h, kube, [
      genericEs(DATABASE, 'edited'),
      genericEs(DATABASE, 'intact'),
    ]);
    tamper(kube, DATABASE, 'edited');
    caches.db.list();
    const r = replica(h, kube, caches);
    const [editedDue, intactDue] = await firstDue(r, [edited as ExternalSecret, intact as ExternalSecret]);
    t.equal(editedDue, undefined, 'edited: urgent');
    t.ok((intactDue ?? 0) > h.clock.now(), 'intact: at its round');
    t.equal(await r.tick(), 1, 'one sync');
    t.equal(password(kube.get(DATABASE, 'edited')), CANARY, 'restored');
    await r.stop();
  },
);

t.test(
  'custom kind listed after the gain: the edited and the deleted restored, the intact one keeps its round',
  async (t) => {
    const { h, kube, caches } = setup();
    const ess = await syncedOnce(h, kube, [
      genericEs(DATABASE, 'edited'),
      genericEs(DATABASE, 'deleted'),
      genericEs(DATABASE, 'intact'),
      genericEs(CM, 'other-kind'),
    ]);
    tamper(kube, DATABASE, 'edited');
    kube.objects.delete('example.com/v1/Database/default/deleted');
    tamper(kube, CM, 'other-kind');
    const r = replica(h, kube, caches);
    const before = await firstDue(r, ess);
    t.ok(
      before.every((due) => (due ?? 0) > h.clock.now()),
      'its informer not listed yet, the ConfigMap one neither: all at their round',
    );

    caches.db.list();
    r.targetKindListed(KIND);
    await r.scheduled();
    const [edited, deleted, intact, otherKind] = ess.map((es) => r.dueOf(es));
    t.equal(edited, undefined, 'edited: urgent once its kind has listed');
    t.equal(deleted, undefined, 'deleted (Owner): urgent');
    t.equal(intact, before[2], 'intact: its round as it was');
    t.equal(otherKind, before[3], 'a target of another kind: untouched');
    const writes = kube.genericWrites;
    t.equal(await r.tick(), 2, 'two syncs');
    t.equal(kube.genericWrites, writes + 2, 'two writes');
    t.equal(password(kube.get(DATABASE, 'edited')), CANARY, 'restored');
    t.equal(password(kube.get(DATABASE, 'deleted')), CANARY, 'created again');
    t.notOk(
      h.lines.some((l) => l.includes(CANARY)),
      'no value in any log line',
    );
    await r.stop();
  },
);

t.test(
  'custom kind listed after the gain: what is never restored, or not owned, is left alone',
  async (t) => {
    const cases: [string, Partial<NonNullable<Target>>][] = [
      ['Merge, absent', { creationPolicy: 'Merge' }],
      ['Orphan, absent', { creationPolicy: 'Orphan' }],
      ['None, absent', { creationPolicy: 'None' }],
    ];
    for (const [name, over] of cases) {
      const { h, kube, caches } = setup();
      const es = readyAtVersion(h, genericEs(DATABASE, 'target', over));
      const r = replica(h, kube, caches);
      const [due] = await firstDue(r, [es]);
      caches.db.list();
      r.targetKindListed(KIND);
      await r.scheduled();
      t.equal(r.dueOf(es), due, `${name}: its round as it was`);
      await r.stop();
    }
    // Stopped before the kind lists: nothing is queued for a replica that owns nothing.
    const { h, kube, caches } = setup();
    const es = readyAtVersion(h, genericEs(DATABASE, 'target'));
    const r = replica(h, kube, caches);
    await firstDue(r, [es]);
    await r.stop();
    const kept = r.dueOf(es);
    caches.db.list();
    r.targetKindListed(KIND);
    await r.scheduled();
    t.equal(r.dueOf(es), kept, 'stopped: absent, but not queued urgent');
  },
);
