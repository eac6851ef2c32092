/**
 * The scale scenario of issue 12, seeded into the API-server double and the AWS fake: N
 * ExternalSecrets in N/100 namespaces (ExternalSecret i lives in `ns-<floor(i/100)>`), a
 * SecretStore `aws` in each namespace (AWS, static credentials from a Secret), every
 * ExternalSecret reading two properties of the AWS key `app/key-<i mod N/10>`, plus N unrelated
 * 1 KiB Secrets. Each namespace's 100 ExternalSecrets read 100 distinct keys, so one store holds
 * 100 distinct keys: the call economy is ceil(100 / 20) = 5 BatchGetSecretValue per store, N/20
 * in all, per refresh cycle — and no single GetSecretValue.
 *
 * Used by bench/scale.ts (the double in its own process) and by the scale tests (in process).
 */
import type { KubeApiServer, StoredEvent } from './kube-apiserver/index.ts';

export const SCALE_STORE = 'aws';

export interface ScaleLayout {
  externalSecrets: number;
  namespaces: number;
  keys: number;
  /** Unrelated Secrets (1 KiB of data each, no label). */
  otherSecrets: number;
  refreshInterval: string;
}

export function scaleLayout(
  n: number,
  opts: { refreshInterval?: string; otherSecrets?: number } = {},
): ScaleLayout {
  return {
    externalSecrets: n,
    namespaces: Math.max(1, Math.ceil(n / 100)),
    keys: Math.max(1, Math.ceil(n / 10)),
    otherSecrets: opts.otherSecrets ?? n,
    refreshInterval: opts.refreshInterval ?? '1h',
  };
}

export const namespaceOf = (i: number): string => `ns-${Math.floor(i / 100)}`;
export const keyOf = (i: number, layout: ScaleLayout): string => `app/key-${i % layout.keys}`;
export const remoteValue = (k: number): string =>
  JSON.stringify({ username: `user-${k}`, password: `pw-${k}` });

/**
 * The economy for one pass over every ExternalSecret: per store, one BatchGetSecretValue per 20
 * distinct keys it reads.
 */
export function batchEconomy(layout: ScaleLayout): number {
  let total = 0;
  for (let ns = 0; ns < layout.namespaces; ns++) {
    const keys = new Set<number>();
    for (let i = ns * 100; i < Math.min(layout.externalSecrets, ns * 100 + 100); i++)
      keys.add(i % layout.keys);
    total += Math.ceil(keys.size / 20);
  }
  return total;
}

interface Sink {
  put(obj: object): unknown;
}

/** Seeds the double (through `put`, no admission) and the AWS fake. */
export function seedScale(
  api: Sink,
  aws: { put(name: string, value: string): unknown },
  layout: ScaleLayout,
): void {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  for (let k = 0; k < layout.keys; k++) aws.put(`app/key-${k}`, remoteValue(k));
  for (let j = 0; j < layout.namespaces; j++) {
    const ns = `ns-${j}`;
    api.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    api.put({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'aws-credentials', namespace: ns },
      data: { 'access-key': b64(`AKID${j}`), 'secret-access-key': b64('wJalrXUtnFEMI') },
    });
    api.put({
      apiVersion: 'external-secrets.io/v1',
      kind: 'SecretStore',
      metadata: { name: SCALE_STORE, namespace: ns },
      spec: {
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
      },
    });
  }
  for (let i = 0; i < layout.externalSecrets; i++) {
    const key = keyOf(i, layout);
    api.put({
      apiVersion: 'external-secrets.io/v1',
      kind: 'ExternalSecret',
      metadata: { name: `es-${i}`, namespace: namespaceOf(i), labels: { app: `app-${i % 100}` } },
      spec: {
        refreshInterval: layout.refreshInterval,
        secretStoreRef: { name: SCALE_STORE, kind: 'SecretStore' },
        target: { name: `target-${i}`, creationPolicy: 'Owner' },
        data: [
          { secretKey: 'username', remoteRef: { key, property: 'username' } },
          { secretKey: 'password', remoteRef: { key, property: 'password' } },
        ],
      },
    });
  }
  const filler = 'x'.repeat(1024);
  for (let i = 0; i < layout.otherSecrets; i++) {
    api.put({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `other-${i}`, namespace: namespaceOf(i) },
      data: { blob: b64(filler) },
    });
  }
}

/**
 * Watches the double's store and keeps what the scale figures need: writes per target Secret
 * and the distinct data each one held, ExternalSecrets whose status is Ready, and when every
 * target was first written.
 */
export class ScaleObserver {
  readonly layout: ScaleLayout;
  /** target ns/name -> writes seen (create + updates). */
  readonly writes = new Map<string, number>();
  /** target ns/name -> distinct data (JSON) it was written with. */
  readonly data = new Map<string, Set<string>>();
  readonly ready = new Set<string>();
  statusWrites = 0;
  /** ExternalSecret ns/name -> status writes seen. */
  readonly statusWritesBy = new Map<string, number>();
  eventsCreated = 0;
  /** Date.now() when every target existed and every ExternalSecret was Ready. */
  completeAt: number | undefined;
  readonly #stop: () => void;

  constructor(api: Pick<KubeApiServer, 'subscribe'>, layout: ScaleLayout) {
    this.layout = layout;
    this.#stop = api.subscribe((ev) => this.#on(ev));
  }

  #on(ev: StoredEvent): void {
    const o = ev.object;
    const id = `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
    if (ev.def.resource === 'secrets' && o.metadata?.name?.startsWith('target-') && ev.type !== 'DELETED') {
      const before = JSON.stringify(ev.previous?.data ?? null);
      const now = JSON.stringify(o.data ?? null);
      if (ev.type === 'ADDED' || before !== now) {
        this.writes.set(id, (this.writes.get(id) ?? 0) + 1);
        const set = this.data.get(id);
        if (set) set.add(now);
        else this.data.set(id, new Set([now]));
      }
    } else if (ev.def.resource === 'externalsecrets' && ev.type === 'MODIFIED') {
      const status = o.status as { conditions?: { type: string; status: string }[] } | undefined;
      if (JSON.stringify(ev.previous?.status) !== JSON.stringify(o.status)) {
        this.statusWrites++;
        this.statusWritesBy.set(id, (this.statusWritesBy.get(id) ?? 0) + 1);
      }
      if (status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) this.ready.add(id);
    } else if (ev.def.resource === 'events' && ev.type === 'ADDED') {
      this.eventsCreated++;
    }
    if (
      this.completeAt === undefined &&
      this.writes.size >= this.layout.externalSecrets &&
      this.ready.size >= this.layout.externalSecrets
    ) {
      this.completeAt = Date.now();
    }
  }

  summary(): {
    targets: number;
    /** Target Secret writes that changed data, in all. */
    writesTotal: number;
    ready: number;
    maxWritesPerTarget: number;
    targetsWrittenTwice: number;
    targetsWithDifferentData: number;
    statusWrites: number;
    /** ExternalSecrets whose status was written more than once (a few names, for diagnosis). */
    statusRewritten: string[];
    eventsCreated: number;
  } {
    let max = 0;
    let twice = 0;
    let differing = 0;
    let total = 0;
    for (const n of this.writes.values()) {
      total += n;
      max = Math.max(max, n);
      if (n > 1) twice++;
    }
    for (const s of this.data.values()) if (s.size > 1) differing++;
    return {
      targets: this.writes.size,
      writesTotal: total,
      ready: this.ready.size,
      maxWritesPerTarget: max,
      targetsWrittenTwice: twice,
      targetsWithDifferentData: differing,
      statusWrites: this.statusWrites,
      statusRewritten: [...this.statusWritesBy]
        .filter(([, n]) => n > 1)
        .map(([id, n]) => `${id}×${n}`)
        .slice(0, 10),
      eventsCreated: this.eventsCreated,
    };
  }

  stop(): void {
    this.#stop();
  }
}
