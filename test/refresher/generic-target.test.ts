/**
 * Generic targets' pure parts: the --generic-target-kinds list, ConfigMap values (UTF-8 in
 * `data`, other bytes in `binaryData`), the digests that tell an intact target from an edited
 * one, and what a custom resource's render refuses (the cluster behaviour is in
 * test/e2e/generic-targets.test.ts).
 */
import t from 'tap';
import type { ExternalSecret } from '../../src/api/types.ts';
import { parseServeConfig } from '../../src/config.ts';
import { renderCustomResource } from '../../src/refresher/external-secret.ts';
import {
  checkGenericTarget,
  configMapData,
  configMapDigest,
  contentDigest,
  objectDigest,
  parseGenericTargetKinds,
  toConfigMapFields,
  withConfigMapDigest,
  withContentDigest,
} from '../../src/refresher/generic-target.ts';

t.test('--generic-target-kinds', async (t) => {
  t.same(parseGenericTargetKinds(undefined), []);
  t.same(parseGenericTargetKinds(' v1/ConfigMap , example.com/v1/Database,ConfigMap'), [
    'ConfigMap',
    'example.com/v1/Database',
  ]);
  t.throws(() => parseGenericTargetKinds('Secret'), /Secret is not a generic target kind/);
  t.throws(() => parseGenericTargetKinds('v1/Secret'), /Secret is not a generic target kind/);
  t.throws(
    () => parseGenericTargetKinds('configmaps'),
    /expected Kind \(core group\) or group\/version\/Kind/,
  );
  t.throws(
    () => parseServeConfig(['--generic-target-kinds', 'example.com/Database']),
    /--generic-target-kinds: "example.com\/Database"/,
  );
  t.same(parseServeConfig(['--generic-target-kinds', 'ConfigMap']).genericTargetKinds, ['ConfigMap']);
});

t.test('checkGenericTarget refuses Secret, a kind not allowed, an incomplete manifest', async (t) => {
  const allowed = ['ConfigMap'];
  t.doesNotThrow(() => checkGenericTarget({ apiVersion: 'v1', kind: 'ConfigMap' }, allowed));
  t.throws(
    () => checkGenericTarget({ apiVersion: 'v1', kind: 'Secret' }, ['Secret']),
    /not a generic target/,
  );
  t.throws(
    () => checkGenericTarget({ apiVersion: 'example.com/v1', kind: 'Database' }, allowed),
    /"example.com\/v1\/Database" is not allowed here/,
  );
  t.throws(() => checkGenericTarget({ apiVersion: '', kind: 'ConfigMap' }, allowed), /required/);
});

t.test(
  'ConfigMap values: UTF-8 in data, other bytes in binaryData; digests survive projection',
  async (t) => {
    const data = new Map([
      ['text', Buffer.from('héllo')],
      ['bin', Buffer.from([0xff, 0x00, 0xfe])],
    ]);
    const fields = toConfigMapFields(data);
    t.same(fields, {
      data: { text: 'héllo' },
      binaryData: { bin: Buffer.from([0xff, 0x00, 0xfe]).toString('base64') },
    });
    t.same(toConfigMapFields(new Map([['a', Buffer.from('x')]])), { data: { a: 'x' } });
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, ...fields };
    t.same(configMapData(cm), data);
    const projected = withConfigMapDigest(cm);
    t.equal(projected.data, undefined, 'values dropped');
    t.equal(projected.binaryData, undefined);
    t.equal(configMapDigest(projected), configMapDigest(cm), 'the digest is remembered');
    t.not(configMapDigest({ ...cm, data: { text: 'edited' } }), configMapDigest(cm));
  },
);

t.test('content digest: key order does not matter, metadata and status do not count', async (t) => {
  const a = { apiVersion: 'example.com/v1', kind: 'Database', spec: { a: 1, b: { c: [1, 2] } } };
  const b = { kind: 'Database', spec: { b: { c: [1, 2] }, a: 1 }, apiVersion: 'example.com/v1' };
  t.equal(contentDigest(a), contentDigest(b));
  t.equal(contentDigest({ ...a, metadata: { name: 'x' }, status: { ok: true } }), contentDigest(a));
  t.not(contentDigest({ ...a, spec: { a: 2 } }), contentDigest(a));
  const projected = withContentDigest({ ...a, metadata: { name: 'x' } });
  t.equal((projected as { spec?: unknown }).spec, undefined, 'content dropped');
  t.equal(objectDigest(projected), contentDigest(a));
});

t.test('a custom resource render refuses metadata paths and a changed kind', async (t) => {
  const manifest = { apiVersion: 'example.com/v1', kind: 'Database' };
  const es = (templateFrom: unknown[]): ExternalSecret =>
    ({
      apiVersion: 'external-secrets.io/v1',
      kind: 'ExternalSecret',
      metadata: { name: 'e', namespace: 'default' },
      spec: { target: { manifest, template: { templateFrom } } },
    }) as ExternalSecret;
  const data = new Map([['password', Buffer.from('CANARY-unit')]]);
  t.throws(
    () =>
      renderCustomResource(
        es([{ target: 'metadata.namespace', literal: 'x' }]),
        manifest,
        data,
        new Map(),
        undefined,
      ),
    /metadata is not written by a template/,
  );
  t.throws(
    () =>
      renderCustomResource(es([{ target: 'kind', literal: 'Secret' }]), manifest, data, new Map(), undefined),
    /kind is not written by a template/,
  );
  const ok = renderCustomResource(
    es([{ target: 'spec.database', literal: 'password: "{{ .password }}"' }]),
    manifest,
    data,
    new Map(),
    {
      apiVersion: 'example.com/v1',
      kind: 'Database',
      spec: { database: { host: 'kept' }, other: 1 },
    } as never,
  );
  t.same(
    ok.content.spec,
    { database: { host: 'kept', password: 'CANARY-unit' }, other: 1 },
    'merged one level',
  );
  try {
    renderCustomResource(
      es([{ target: 'spec.database', literal: 'a: [' }]),
      manifest,
      data,
      new Map(),
      undefined,
    );
    t.fail('expected an error');
  } catch (err: unknown) {
    t.match((err as Error).message, /templateFrom\[0\]\.literal: the rendered template is not valid YAML/);
  }
});
