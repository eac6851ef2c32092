/**
 * bench:known-targets-memory — what the managed-Secret cache retains per target Secret with the
 * refresher's fingerprint (src/refresher/known-targets.ts) against identity and resourceVersion
 * alone: N managed Secrets parsed from JSON as watch events are, projected as cluster mode does
 * (data dropped, its hash kept), kept by each `keep`, a fingerprint remembered for every one;
 * heap used after a forced collection, per Secret.
 *
 *   node --expose-gc bench/known-targets-memory.ts      (BENCH_N=10000, BENCH_RUNS=3)
 */
import type { ExternalSecret, KubeObject, Secret } from '../src/api/types.ts';
import { identityOnly, slim } from '../src/kube/informer.ts';
import { internStrings } from '../src/kube/intern.ts';
import { targetFingerprint } from '../src/refresher/external-secret.ts';
import { KnownTargets } from '../src/refresher/known-targets.ts';
import { withDataDigest } from '../src/refresher/secret-data.ts';
import { machine, saveResult } from './lib.ts';
import { attachMap } from './refresher-fixtures.ts';

const N = Number(process.env.BENCH_N ?? 10_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

/** The i-th managed Secret as a watch event carries it (the scale scenario's shape). */
function eventText(i: number): string {
  const ns = `ns-${Math.floor(i / 100)}`;
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: `es-${i}`,
      namespace: ns,
      uid: `0b7c${i.toString(16).padStart(8, '0')}-1111-2222-3333-444455556666`,
      resourceVersion: String(100_000 + i),
      labels: { 'reconcile.external-secrets.io/managed': 'true' },
      annotations: { 'reconcile.external-secrets.io/data-hash': 'f'.repeat(56) },
      ownerReferences: [
        { apiVersion: 'external-secrets.io/v1', kind: 'ExternalSecret', name: `es-${i}`, uid: `u-${i}` },
      ],
    },
    type: 'Opaque',
    data: {
      username: Buffer.from(`user-${i}`).toString('base64'),
      password: Buffer.from(`pw-${i}`).toString('base64'),
    },
  });
}

function heapAfterGc(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

const es = (i: number): ExternalSecret => ({
  apiVersion: 'external-secrets.io/v1',
  kind: 'ExternalSecret',
  metadata: { name: `es-${i}`, namespace: `ns-${Math.floor(i / 100)}`, uid: `u-${i}` },
  spec: { target: { name: `es-${i}` } },
});

/** Bytes retained per Secret by a cache of N entries kept by `keep` (then `after` on each). */
function measure(keep: (o: KubeObject) => KubeObject, after?: (cache: Map<string, KubeObject>) => void) {
  const base = heapAfterGc();
  const cache = new Map<string, KubeObject>();
  for (let i = 0; i < N; i++) {
    const projected = internStrings(withDataDigest(slim(JSON.parse(eventText(i)) as Secret) as Secret));
    cache.set(`ns-${Math.floor(i / 100)}/es-${i}`, keep(projected as KubeObject));
  }
  after?.(cache);
  const used = heapAfterGc() - base;
  if (cache.size !== N) throw new Error('lost entries');
  return used / N;
}

const rows: { identity: number; fingerprint: number }[] = [];
for (let run = 0; run < RUNS; run++) {
  const identity = measure(identityOnly);
  const known = new KnownTargets();
  const fingerprint = measure(known.keep, (cache) => {
    attachMap(known, cache);
    for (let i = 0; i < N; i++) {
      const desired = {
        type: undefined,
        data: new Map([
          ['username', Buffer.from(`user-${i}`)],
          ['password', Buffer.from(`pw-${i}`)],
        ]),
        labels: {},
        annotations: {},
      };
      known.remember(
        `ns-${Math.floor(i / 100)}`,
        `es-${i}`,
        String(100_000 + i),
        targetFingerprint(es(i), desired),
      );
    }
  });
  rows.push({ identity: Math.round(identity), fingerprint: Math.round(fingerprint) });
  console.error(
    `run ${run + 1}: identity ${Math.round(identity)} B, with fingerprint ${Math.round(fingerprint)} B per Secret`,
  );
}
console.log(`\n${machine()}\n`);
console.log(`| run | identity + resourceVersion | + fingerprint | difference |\n|---:|---:|---:|---:|`);
for (const [i, r] of rows.entries())
  console.log(`| ${i + 1} | ${r.identity} B | ${r.fingerprint} B | ${r.fingerprint - r.identity} B |`);
console.log(`written to ${await saveResult('known-targets-memory', { n: N, rows })}`);
