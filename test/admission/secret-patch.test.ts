/**
 * The patch of a filled placeholder Secret (src/admission/secret-patch.ts) against the way it was
 * written before: fast-json-patch's `compare` of the request's parts against a filled copy. The
 * oracle is that old step, kept here as it was in mutate.ts, loaded in place of secretPatch
 * (`t.mockImport`), so both builds of `mutateSecret` fill the same generated Secrets with the
 * same values; every answer must be the same bytes, and applied, the same Secret.
 */
import fc from 'fast-check';
import jsonpatch from 'fast-json-patch';
import t from 'tap';
import type * as MutateModule from '../../src/admission/mutate.ts';
import { mutateSecret, type SecretParts } from '../../src/admission/mutate.ts';
import { pointerToken, secretPatch } from '../../src/admission/secret-patch.ts';
import type { AdmissionRequest, AdmissionResult } from '../../src/admission/types.ts';
import type { RemoteRef, Secret, SecretStore } from '../../src/api/types.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { PlaceholderAnnotation } from '../../src/refs/placeholder.ts';
import type { Resolver } from '../../src/resolve/types.ts';
import { applyPatch, b64, patchText } from './mutate-helpers.ts';

/** The step secretPatch replaced: a filled copy (mutate.ts before), then compare. */
function comparePatch(
  secret: SecretParts,
  data: Record<string, string>,
  annotations: Record<string, string>,
): jsonpatch.Operation[] {
  const mutated: Secret = {
    ...(secret as Secret),
    data,
    metadata: { ...(secret as Secret).metadata, annotations },
  };
  delete mutated.stringData;
  return jsonpatch.compare(secret as object, mutated);
}

const REMOTE: Record<string, Record<string, string>> = {
  'app/db': { user: 'db_user', pass: 'p@ss/w~rd', empty: '', uni: 'ünï ✓' },
  'app/other': { v: 'v2', user: 'db_user' },
};
// esw.io/data-from maps: keys a Secret may not hold ('/', '~'), unicode, digits, "__proto__".
// Parsed as a provider's answer is: "__proto__" is then an own key.
const MAPS: Record<string, Record<string, string>> = {
  'maps/plain': { user: 'db_user', host: 'db', '7': 'seven' },
  'maps/odd': JSON.parse('{"a/b":"slash","c~d":"tilde","ü":"umlaut","10":"ten","__proto__":"proto"}'),
};

function remoteValue(ref: RemoteRef): Buffer {
  const v = REMOTE[ref.key ?? '']?.[ref.property ?? ''];
  if (v === undefined) throw new Error(`no remote ${ref.key}#${ref.property}`);
  return Buffer.from(v);
}

function remoteMap(ref: RemoteRef): Map<string, Buffer> {
  const m = MAPS[ref.key ?? ''];
  if (!m) throw new Error(`no remote map ${ref.key}`);
  return new Map(Object.entries(m).map(([k, v]) => [k, Buffer.from(v)]));
}

const resolver: Resolver = {
  checkStore: () => ({}) as SecretStore,
  getValue: async (_s, _n, ref) => remoteValue(ref),
  getMap: async (_s, _n, ref) => remoteMap(ref),
  cachedValues: (_s, _n, refs) => refs.map(remoteValue),
  cachedMap: (_s, _n, ref) => remoteMap(ref),
  find: async () => new Map(),
  close: async () => {},
};

const refs = Object.entries(REMOTE).flatMap(([key, props]) => Object.keys(props).map((p) => `${key}#${p}`));
const secretKey = fc.oneof(
  fc.stringMatching(/^[a-z][a-z0-9.-]{0,5}$/),
  fc.constantFrom('0', '1', '10', '_x', '.dot', 'constructor', 'toString', 'a-b'),
);
const text = fc.string({ unit: fc.constantFrom('a', ' ', '$', '{', '/', '~', 'é', '✓', '\n'), maxLength: 6 });
/** A value: plain text, a template of references, or text that is not base64 (in data). */
const value = fc.oneof(
  text.map((s) => ({ plain: s })),
  fc
    .tuple(text, fc.constantFrom(...refs), text)
    .filter(([a]) => !a.endsWith('$'))
    .map(([a, r, b]) => ({ template: `${a}\${ref:${r}}${b}` })),
  fc.constant({ raw: 'not base64!' }),
);
const otherAnnotations = fc.dictionary(
  fc.constantFrom(
    'example.com/a',
    'x~y/z',
    'kubectl.kubernetes.io/last-applied-configuration',
    'ü/ñ',
    'plain',
  ),
  fc.string({ maxLength: 5 }),
  { maxKeys: 3 },
);

type Value = { plain: string } | { template: string } | { raw: string };
const encoded = (v: Value): string => ('raw' in v ? v.raw : b64('plain' in v ? v.plain : v.template));
const asText = (v: Value): string => ('raw' in v ? v.raw : 'plain' in v ? v.plain : v.template);

const spec = fc.record({
  data: fc.oneof(fc.dictionary(secretKey, value, { maxKeys: 5 }), fc.constant(null), fc.constant(undefined)),
  stringData: fc.option(fc.dictionary(secretKey, value, { maxKeys: 3 }), { nil: undefined }),
  gitops: fc.dictionary(secretKey, fc.constantFrom(...refs), { maxKeys: 2 }),
  dataFrom: fc.option(fc.constantFrom('maps/plain', 'maps/odd'), { nil: undefined }),
  others: otherAnnotations,
  annotationsFirst: fc.boolean(),
  order: fc.shuffledSubarray(['metadata', 'data', 'stringData', 'type'], { minLength: 4 }),
  immutable: fc.boolean(),
  // The second admission: an UPDATE of the stored Secret, as is or edited.
  edit: fc.constantFrom('none', 'sorted', 'template', 'stringData', 'gitops', 'stale-hash'),
  editKey: secretKey,
  editRef: fc.constantFrom(...refs),
});

function request(operation: 'CREATE' | 'UPDATE', object: Secret, oldObject: Secret | null): AdmissionRequest {
  return {
    uid: 'u',
    kind: { group: '', version: 'v1', kind: 'Secret' },
    resource: { group: '', version: 'v1', resource: 'secrets' },
    name: 'generated',
    namespace: 'default',
    operation,
    userInfo: { username: 'tester' },
    object,
    oldObject,
  } as AdmissionRequest;
}

function build(s: typeof spec extends fc.Arbitrary<infer T> ? T : never): Secret {
  const annotations: Record<string, unknown> = s.annotationsFirst ? { ...s.others } : {};
  annotations[PlaceholderAnnotation.store] = 'store';
  for (const [k, r] of Object.entries(s.gitops)) annotations[`${PlaceholderAnnotation.refPrefix}${k}`] = r;
  if (s.dataFrom) annotations[PlaceholderAnnotation.dataFrom] = s.dataFrom;
  if (!s.annotationsFirst) Object.assign(annotations, s.others);
  const parts: Record<string, unknown> = {
    metadata: { name: 'generated', labels: { 'esw.io/inject': 'true' }, annotations },
    type: 'Opaque',
  };
  if (s.data !== undefined) {
    parts.data = s.data && Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, encoded(v)]));
  }
  if (s.stringData) {
    parts.stringData = Object.fromEntries(Object.entries(s.stringData).map(([k, v]) => [k, asText(v)]));
  }
  const object: Record<string, unknown> = { apiVersion: 'v1', kind: 'Secret' };
  for (const k of s.order) if (k in parts) object[k] = parts[k];
  if (s.immutable) object.immutable = false;
  // As the API server's JSON arrives: plain JSON, own keys only.
  return JSON.parse(JSON.stringify(object)) as Secret;
}

/** The stored Secret edited for an UPDATE (kubectl apply of a changed manifest, a stale hash). */
function edited(stored: Secret, s: typeof spec extends fc.Arbitrary<infer T> ? T : never): Secret {
  const next = structuredClone(stored);
  const annotations = next.metadata?.annotations as Record<string, unknown>;
  switch (s.edit) {
    case 'sorted': {
      // The API server returns annotations sorted: esw.io/data-hash before esw.io/refs.
      const sorted = Object.fromEntries(Object.entries(annotations).sort(([a], [b]) => (a < b ? -1 : 1)));
      (next.metadata as { annotations: unknown }).annotations = sorted;
      next.data = { ...next.data, [s.editKey]: b64(`\${ref:${s.editRef}}`) };
      break;
    }
    case 'template':
      next.data = { ...next.data, [s.editKey]: b64(`x\${ref:${s.editRef}}`) };
      break;
    case 'stringData':
      next.stringData = { [s.editKey]: `\${ref:${s.editRef}}` };
      break;
    case 'gitops':
      annotations[`${PlaceholderAnnotation.refPrefix}${s.editKey}`] = s.editRef;
      break;
    case 'stale-hash':
      annotations[PlaceholderAnnotation.dataHash] = 'stale';
      annotations[PlaceholderAnnotation.refs] = '{}';
      next.data = { ...next.data, [s.editKey]: b64(`\${ref:${s.editRef}}`) };
      break;
  }
  return next;
}

t.test('generated placeholder Secrets: the same patch as the filled copy diffed', async (t) => {
  const oracle = await t.mockImport<typeof MutateModule>('../../src/admission/mutate.ts', {
    '../../src/admission/secret-patch.ts': { secretPatch: comparePatch },
  });
  const deps = { resolver, logger: silentLogger() };
  const counts = { patched: 0, unchanged: 0, refused: 0, update: 0 };
  const same = (req: AdmissionRequest): AdmissionResult => {
    const ours = mutateSecret(req, deps) as AdmissionResult;
    const theirs = oracle.mutateSecret(structuredClone(req), deps) as AdmissionResult;
    t.equal(typeof (ours as Partial<Promise<unknown>>).then, 'undefined', 'answered synchronously');
    t.strictSame(ours, theirs, 'the same answer');
    if (patchText(ours) !== patchText(theirs)) {
      throw new Error(`patches differ:\n${patchText(ours)}\n${patchText(theirs)}`);
    }
    const object = req.object as Secret;
    t.strictSame(applyPatch(object, ours), applyPatch(object, theirs), 'the same Secret');
    if (!ours.allowed) counts.refused++;
    else if (ours.patch) counts.patched++;
    else counts.unchanged++;
    return ours;
  };
  fc.assert(
    fc.property(spec, (s) => {
      const created = build(s);
      const first = same(request('CREATE', created, null));
      if (!first.allowed) return;
      const stored = applyPatch(created, first);
      const again = same(request('UPDATE', edited(stored, s), stored));
      counts.update++;
      if (s.edit === 'none' && again.patch !== undefined) throw new Error('a stored Secret got a patch');
    }),
    { seed: 0x5ec7e7, numRuns: 400 },
  );
  // The generator reaches every kind of answer, or the comparison says little.
  t.ok(counts.patched > 300, `patched: ${counts.patched}`);
  t.ok(counts.unchanged > 20, `no patch: ${counts.unchanged}`);
  t.ok(counts.refused > 0, `refused: ${counts.refused}`);
  t.ok(counts.update > 200, `updates: ${counts.update}`);
});

t.test('the shapes a request can hand over, directly against compare', async (t) => {
  const annotations = (before: unknown) => ({
    ...(before as Record<string, string>),
    [PlaceholderAnnotation.refs]: '{"k":"r"}',
    [PlaceholderAnnotation.dataHash]: 'h',
  });
  const cases: Array<[string, SecretParts]> = [
    ['no data, no annotations', { metadata: {} }],
    ['data null, annotations null', { metadata: { annotations: null }, data: null }],
    ['annotations not a map', { metadata: { annotations: 'ab' }, data: {} }],
    [
      'both recorded, hash first',
      { metadata: { annotations: { 'esw.io/data-hash': 'x', 'esw.io/refs': 'y' } } },
    ],
    [
      'both recorded, refs first',
      { metadata: { annotations: { 'esw.io/refs': 'y', 'esw.io/data-hash': 'x' } } },
    ],
    [
      'both recorded, one equal',
      { metadata: { annotations: { 'esw.io/refs': '{"k":"r"}', 'esw.io/data-hash': 'x' } } },
    ],
    ['recorded as objects', { metadata: { annotations: { 'esw.io/refs': {}, 'a/b~c': 'v' } } }],
    // "__proto__" from JSON.parse is an own key; the filled map cannot hold it (it is removed).
    [
      '__proto__ in data',
      JSON.parse('{"metadata":{},"data":{"__proto__":"eA==","b":"eQ=="},"stringData":{"s":"1"}}'),
    ],
  ];
  for (const [name, secret] of cases) {
    const data: Record<string, string> = { b: 'eg==', '9': 'MQ==', 'a/b~c': 'YQ==' };
    const meta = (secret.metadata ?? {}) as { annotations?: unknown };
    const filled = annotations(typeof meta.annotations === 'object' ? meta.annotations : {});
    t.strictSame(secretPatch(secret, data, filled), comparePatch(secret, data, filled), name);
  }
});

t.test('JSON-pointer tokens escape "~" before "/"', async (t) => {
  t.equal(pointerToken('esw.io/refs'), 'esw.io~1refs');
  t.equal(pointerToken('a~1/b'), 'a~01~1b');
  t.equal(pointerToken('plain.key'), 'plain.key');
});
