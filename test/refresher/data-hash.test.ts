/**
 * The data-hash annotation of a Secret target is ESO's (esutils.ObjectHash of the data:
 * sha3-224 of Go's `%+v` of a map[string][]byte), proven against Go itself, so a target ESO
 * wrote is intact after a migration — no provider call, no write — and a target this webhook
 * wrote in its earlier sha256 format stays intact, and costs no write, until its data changes.
 */
import t from 'tap';
import type { ExternalSecret, Secret } from '../../src/api/types.ts';
import {
  ES_HASH_ANNOTATION,
  esoResourceVersion,
  MANAGED_LABEL,
} from '../../src/refresher/external-secret.ts';
import {
  dataHash,
  ESO_HASH_MAX_BYTES,
  esoDataHash,
  type SecretData,
} from '../../src/refresher/secret-data.ts';
import { loadOracle } from '../oracles/oracle.ts';
import { rng } from '../rng.ts';
import { b64, harness, introExternalSecret, unb64 } from './harness.ts';

const KEY_CHARS = 'abcXYZ019-._';

function cases(): SecretData[] {
  const out: SecretData[] = [
    new Map(),
    new Map([['a', Buffer.alloc(0)]]),
    new Map([['password', Buffer.from('s3cr3t')]]),
    // Byte order of keys: '-' < '.' < '0' < 'A' < '_' < 'a'.
    new Map(['a', '_', 'A', '0', '.', '-', 'aa', 'a.b'].map((k) => [k, Buffer.from(k)])),
    new Map([['bin', Buffer.from([0, 1, 127, 128, 255, 10, 32])]]),
    new Map([['utf8', Buffer.from('é€😀 "quoted" [brackets] map[x:y]', 'utf8')]]),
  ];
  const r = rng(20261202);
  // Values longer than the 16 KiB chunk the hash streams its text through.
  const big = Buffer.alloc(50_000);
  for (let b = 0; b < big.length; b++) big[b] = Math.floor(r() * 256);
  out.push(
    new Map([
      ['big', big],
      ['ones', Buffer.alloc(20_000, 1)],
      ['z', Buffer.from([100, 9, 99])],
    ]),
  );
  for (let i = 0; i < 200; i++) {
    const m: SecretData = new Map();
    const n = Math.floor(r() * 6);
    for (let j = 0; j < n; j++) {
      const len = 1 + Math.floor(r() * 12);
      let k = '';
      for (let c = 0; c < len; c++) k += KEY_CHARS[Math.floor(r() * KEY_CHARS.length)];
      const v = Buffer.alloc(Math.floor(r() * 40));
      for (let b = 0; b < v.length; b++) v[b] = Math.floor(r() * 256);
      m.set(k, v);
    }
    out.push(m);
  }
  return out;
}

const oracle = loadOracle('objecthash');
t.test(
  'esoDataHash is ESO’s ObjectHash of the data, case by case (Go oracle)',
  { skip: oracle.skip ?? false },
  async (t) => {
    const all = cases();
    const input = all.map((m) => Object.fromEntries([...m].map(([k, v]) => [k, v.toString('base64')])));
    const want = oracle.run!(input) as string[];
    t.equal(want.length, all.length);
    let differ = 0;
    all.forEach((m, i) => {
      if (esoDataHash(m) !== want[i]) differ++;
    });
    t.equal(differ, 0, `${all.length} data maps, the same hash as Go`);
    t.match(want[0], /^[0-9a-f]{56}$/, 'sha3-224, hex');
  },
);

const DB = 'my-app/database-credentials';
const TARGET = 'default/database-credentials';
const MINUTE = 60_000;

/** A target as a writer left it: the data, the managed label, our controller reference, a hash. */
function storedTarget(es: ExternalSecret, data: SecretData, hash: string): Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 'database-credentials',
      namespace: 'default',
      resourceVersion: '1',
      labels: { [MANAGED_LABEL]: 'true' },
      annotations: { [ES_HASH_ANNOTATION]: hash },
      ownerReferences: [
        {
          apiVersion: 'external-secrets.io/v1',
          kind: 'ExternalSecret',
          name: es.metadata?.name ?? '',
          uid: es.metadata?.uid ?? '',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    type: 'Opaque',
    data: Object.fromEntries([...data].map(([k, v]) => [k, v.toString('base64')])),
  };
}

function migrated(hashOf: (d: SecretData) => string) {
  const h = harness();
  h.remote.values.set(DB, '{"username":"u","password":"1"}');
  const es = introExternalSecret();
  const data: SecretData = new Map([
    ['password', Buffer.from('1')],
    ['username', Buffer.from('u')],
  ]);
  h.kube.secrets.set(TARGET, storedTarget(es, data, hashOf(data)));
  // The status the previous writer left: synced 10 minutes ago, this very object.
  es.status = {
    refreshTime: new Date(h.clock.now() - 10 * MINUTE).toISOString(),
    syncedResourceVersion: esoResourceVersion(es),
    conditions: [{ type: 'Ready', status: 'True', reason: 'SecretSynced', message: 'secret synced' }],
  };
  h.refresher.upsertExternalSecret(es);
  h.refresher.start();
  return { h, es };
}

t.test('a target ESO wrote is intact here: no provider call, no write, until the interval', async (t) => {
  const { h } = migrated(esoDataHash);
  await h.refresher.tick();
  t.equal(h.remote.calls, 0, 'no provider call');
  t.equal(h.kube.secretWrites(), 0, 'no write');
  // Its interval comes (jitter included): one read, the same data, still no write.
  h.clock.advance(120 * MINUTE);
  await h.refresher.tick();
  t.ok(h.remote.calls > 0, 'refreshed');
  t.equal(h.kube.secretWrites(), 0, 'unchanged data, ESO’s hash kept: no write');
  // A changed value is written with ESO's hash of the new data.
  h.remote.values.set(DB, '{"username":"u","password":"2"}');
  h.clock.advance(120 * MINUTE);
  await h.refresher.tick();
  const s = h.kube.secrets.get(TARGET);
  t.equal(unb64(s?.data?.password), '2');
  t.equal(
    s?.metadata?.annotations?.[ES_HASH_ANNOTATION],
    esoDataHash(
      new Map([
        ['password', Buffer.from('2')],
        ['username', Buffer.from('u')],
      ]),
    ),
  );
});

t.test('an ESO-hashed target edited by hand is restored', async (t) => {
  const { h } = migrated(esoDataHash);
  const edited = h.kube.tamper('default', 'database-credentials', { password: b64('hacked') });
  h.refresher.targetSecretChanged(edited, false);
  await h.refresher.tick();
  t.equal(unb64(h.kube.secrets.get(TARGET)?.data?.password), '1');
});

t.test(
  'a target in the earlier sha256 format stays intact and unwritten until its data changes',
  async (t) => {
    const { h } = migrated(dataHash);
    const legacy = h.kube.secrets.get(TARGET)?.metadata?.annotations?.[ES_HASH_ANNOTATION];
    t.match(legacy, /^[0-9a-f]{64}$/);
    await h.refresher.tick();
    t.equal(h.kube.secretWrites(), 0, 'intact: no write for the format alone');
    h.clock.advance(120 * MINUTE);
    await h.refresher.tick();
    t.ok(h.remote.calls > 0, 'refreshed');
    t.equal(h.kube.secretWrites(), 0, 'refreshed, same data: still no write');
    // Edited by hand: still recognised as edited, and restored (the restored data matches the
    // hash it carries: kept as it is).
    const edited = h.kube.tamper('default', 'database-credentials', { password: b64('hacked') });
    h.refresher.targetSecretChanged(edited, false);
    await h.refresher.tick();
    t.equal(unb64(h.kube.secrets.get(TARGET)?.data?.password), '1', 'restored');
    t.equal(h.kube.secrets.get(TARGET)?.metadata?.annotations?.[ES_HASH_ANNOTATION], legacy);
    // New data: written with ESO's hash.
    h.remote.values.set(DB, '{"username":"u","password":"2"}');
    h.clock.advance(120 * MINUTE);
    await h.refresher.tick();
    const s = h.kube.secrets.get(TARGET);
    t.equal(unb64(s?.data?.password), '2');
    t.match(s?.metadata?.annotations?.[ES_HASH_ANNOTATION], /^[0-9a-f]{56}$/, 'rewritten: ESO’s format');
  },
);

t.test(
  'data over 64 KiB carries the sha256; a large target ESO wrote is rewritten once, then left',
  async (t) => {
    const big = 'x'.repeat(ESO_HASH_MAX_BYTES);
    const { h } = migrated(esoDataHash);
    // ESO wrote the large value with its own hash.
    h.remote.values.set(DB, JSON.stringify({ username: 'u', password: big }));
    const data: SecretData = new Map([
      ['password', Buffer.from(big)],
      ['username', Buffer.from('u')],
    ]);
    const es = introExternalSecret();
    h.kube.secrets.set(TARGET, storedTarget(es, data, esoDataHash(data)));
    const edited = h.kube.secrets.get(TARGET) as Secret;
    h.refresher.targetSecretChanged(edited, false);
    await h.refresher.tick();
    const s = h.kube.secrets.get(TARGET);
    t.equal(h.kube.secretWrites(), 1, 'read as changed once: one write');
    t.equal(s?.metadata?.annotations?.[ES_HASH_ANNOTATION], dataHash(data), 'the sha256 of the data');
    t.equal(unb64(s?.data?.password), big);
    h.clock.advance(120 * MINUTE);
    await h.refresher.tick();
    t.ok(h.remote.calls > 0, 'refreshed');
    t.equal(h.kube.secretWrites(), 1, 'then intact: no more writes');
  },
);
