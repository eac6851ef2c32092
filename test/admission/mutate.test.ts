/**
 * mutateSecret against a small in-test Resolver (counting calls, throwing catalog errors): the
 * behaviour of the mutation itself — what is touched, the patch, idempotency, refusals.
 * test/admission/mutate-resolver.test.ts runs the same scenarios through the real resolver.
 */
import { randomUUID } from 'node:crypto';
import t from 'tap';
import { dataHash, mutateSecret } from '../../src/admission/mutate.ts';
import type { AdmissionRequest } from '../../src/admission/types.ts';
import type { RemoteRef, SecretStore } from '../../src/api/types.ts';
import { EswError } from '../../src/errors.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { extractMap, getProperty } from '../../src/refs/property.ts';
import type { LookupOptions, Resolver, StoreRef } from '../../src/resolve/types.ts';
import {
  applyPatch,
  b64,
  capturingLogger,
  decodedData,
  fixture,
  patchText,
  unb64,
  visibleText,
} from './mutate-helpers.ts';

const CANARY = `CANARY-${randomUUID()}`;

class TestResolver implements Resolver {
  readonly values = new Map<string, Uint8Array | Error>();
  readonly calls: { op: string; store: string; namespace: string; key: string; signal?: AbortSignal }[] = [];
  /** Stores that exist; 'forbidden' ones throw ESW_STORE_FORBIDDEN. */
  stores = new Set(['SecretStore/demo-store', 'ClusterSecretStore/demo-cluster-store']);
  forbidden = new Set<string>();
  hang = false;

  set(key: string, value: string | Uint8Array | Error): this {
    this.values.set(key, typeof value === 'string' ? Buffer.from(value) : value);
    return this;
  }

  checkStore(store: StoreRef, namespace: string): SecretStore {
    const id = `${store.kind}/${store.name}`;
    if (!this.stores.has(id))
      throw new EswError('ESW_STORE_NOT_FOUND', `${store.kind} "${store.name}" not found`);
    if (this.forbidden.has(id)) {
      throw new EswError(
        'ESW_STORE_FORBIDDEN',
        `${store.kind} "${store.name}" may not be used from "${namespace}"`,
      );
    }
    return { kind: store.kind, metadata: { name: store.name } };
  }

  async #raw(op: string, store: StoreRef, namespace: string, ref: RemoteRef, opts?: LookupOptions) {
    this.checkStore(store, namespace);
    this.calls.push({
      op,
      store: store.name,
      namespace,
      key: ref.key ?? '',
      ...(opts?.signal ? { signal: opts.signal } : {}),
    });
    if (this.hang) {
      await new Promise<never>(() => {}); // ignores the signal on purpose: the deadline must still hold
    }
    const v = this.values.get(ref.key ?? '');
    if (v instanceof Error) throw v;
    if (!v)
      throw new EswError('ESW_SECRET_NOT_FOUND', `remote secret "${ref.key}" of ${store.name}: not found`);
    return v;
  }

  async getValue(store: StoreRef, namespace: string, ref: RemoteRef, opts?: LookupOptions): Promise<Buffer> {
    const raw = await this.#raw('getValue', store, namespace, ref, opts);
    return Buffer.from(getProperty(raw, ref.property, { key: ref.key ?? '', store: store.name }));
  }

  async getMap(store: StoreRef, namespace: string, ref: RemoteRef, opts?: LookupOptions) {
    const raw = await this.#raw('getMap', store, namespace, ref, opts);
    const map = extractMap(raw, ref.property, { key: ref.key ?? '', store: store.name });
    return new Map([...map].map(([k, v]) => [k, Buffer.from(v)]));
  }

  async find(): Promise<Map<string, Buffer>> {
    throw new Error('not used');
  }

  async close(): Promise<void> {}
}

function resolver(): TestResolver {
  return new TestResolver()
    .set(
      'my-app/database-credentials',
      JSON.stringify({ username: 'db_user', password: 'supersecretpassword' }),
    )
    .set('my-app/api-key', 'demo-api-key-0123456789')
    .set('my-app/config', '{"host":"db.example.internal","port":5432,"tls":{"mode":"verify-full"}}')
    .set('my-app/registry', JSON.stringify({ user: 'robot', token: `tok"en-${CANARY}` }))
    .set('canary', JSON.stringify({ password: CANARY, nested: { v: CANARY } }));
}

const deps = (r: Resolver, extra: Partial<Parameters<typeof mutateSecret>[1]> = {}) => ({
  resolver: r,
  logger: silentLogger(),
  ...extra,
});

t.test(
  "the introduction's scenario: username and password filled from my-app/database-credentials",
  async (t) => {
    const r = resolver();
    const req = fixture('create-intro');
    const before = structuredClone(req.object);
    const result = await mutateSecret(req, deps(r));
    t.equal(result.allowed, true);
    t.equal(result.patchType, 'JSONPatch');
    t.same(req.object, before, "the request's object is only read: the patch carries every change");
    const out = applyPatch(req.object, result);
    t.same(decodedData(out), {
      username: 'db_user',
      password: 'supersecretpassword',
      url: 'postgres://db_user@db:5432/app',
    });
    t.equal(out.stringData, undefined);
    const refs = JSON.parse(out.metadata?.annotations?.['esw.io/refs'] ?? '{}') as Record<string, string>;
    t.same(refs, {
      password: '${ref:my-app/database-credentials#password}',
      url: 'postgres://${ref:my-app/database-credentials#username}@db:5432/app',
      username: '${ref:my-app/database-credentials#username}',
    });
    t.equal(out.metadata?.annotations?.['esw.io/data-hash'], dataHash(out.data ?? {}));
    t.match(out.metadata?.annotations?.['esw.io/data-hash'], /^[0-9a-f]{64}$/);
    t.notOk(patchText(result).includes('${ref:'), 'the patch never holds a literal placeholder');
    t.notOk(patchText(result).includes('supersecretpassword'), 'values travel base64 only');
    t.same(out.metadata?.labels, req.object.metadata?.labels, 'everything else untouched');
    t.equal(r.calls.length, 2, 'one lookup per distinct reference (username twice -> once)');
    t.ok(
      r.calls.every((c) => c.namespace === 'default' && c.store === 'demo-store' && c.signal),
      'store, namespace and the deadline signal reach the resolver',
    );
  },
);

t.test('single, embedded and multiple references, versions and nested properties', async (t) => {
  const req = fixture('create-multiple');
  const result = await mutateSecret(req, deps(resolver()));
  const out = applyPatch(req.object, result);
  t.same(decodedData(out), {
    dsn: 'db_user:supersecretpassword@db.example.internal:5432',
    'api-key': 'demo-api-key-0123456789',
    'api-key-old': 'demo-api-key-0123456789',
    'tls-mode': 'verify-full',
    literal: 'not a reference',
  });
  const refs = JSON.parse(out.metadata?.annotations?.['esw.io/refs'] ?? '{}') as Record<string, string>;
  t.same(Object.keys(refs), ['api-key', 'api-key-old', 'dsn', 'tls-mode'], 'literal values are not recorded');
  const ops = JSON.parse(patchText(result)) as { op: string; path: string }[];
  t.notOk(
    ops.some((o) => o.path === '/data/literal'),
    'an unchanged value is not in the patch',
  );
});

t.test('the version reaches the resolver', async (t) => {
  const r = resolver();
  const seen: RemoteRef[] = [];
  const getValue = r.getValue.bind(r);
  r.getValue = async (s, ns, ref, o) => {
    seen.push(ref);
    return getValue(s, ns, ref, o);
  };
  await mutateSecret(fixture('create-multiple'), deps(r));
  t.same(
    seen
      .filter((x) => x.key === 'my-app/api-key')
      .sort((a, b) => (a.version ?? '').localeCompare(b.version ?? '')),
    [{ key: 'my-app/api-key' }, { key: 'my-app/api-key', version: 'v1' }],
  );
});

t.test('binary values: a whole-value reference gets the raw bytes', async (t) => {
  const bytes = Buffer.from([0x30, 0x82, 0x00, 0xff, 0xfe, 0x80, 0x00, 0x01]);
  const r = resolver().set('bin/keystore', bytes);
  const req = fixture('create-binary');
  const out = applyPatch(req.object, await mutateSecret(req, deps(r)));
  t.same(Buffer.from(out.data?.['keystore.p12'] ?? '', 'base64'), bytes);
  t.equal(unb64(out.data?.note), 'keystore demo-api-key-0123456789');

  const embedded = fixture('create-binary');
  embedded.object.data = { x: b64('prefix ${ref:bin/keystore}') };
  const refused = await mutateSecret(embedded, deps(r));
  t.equal(refused.allowed, false);
  t.equal(refused.status?.code, 422);
  t.match(refused.status?.message, /key "x": the value of \$\{ref:bin\/keystore\} is not UTF-8 text/);
});

t.test('kubernetes.io/dockerconfigjson with references inside its JSON', async (t) => {
  const r = resolver().set(
    'my-app/registry',
    JSON.stringify({ user: 'robot', token: 'demo-registry-token' }),
  );
  const req = fixture('create-dockerconfigjson');
  const out = applyPatch(req.object, await mutateSecret(req, deps(r)));
  t.equal(out.type, 'kubernetes.io/dockerconfigjson');
  t.same(JSON.parse(unb64(out.data?.['.dockerconfigjson'])), {
    auths: { 'registry.example.com': { username: 'robot', password: 'demo-registry-token' } },
  });

  // A value that breaks the JSON is refused, naming the key and never the value.
  const bad = await mutateSecret(fixture('create-dockerconfigjson'), deps(resolver()));
  t.equal(bad.allowed, false);
  t.equal(bad.status?.code, 422);
  t.match(bad.status?.message, /\.dockerconfigjson" is not valid JSON/);
  t.notOk(visibleText(bad).includes(CANARY));
});

t.test('esw.io/data-from copies every top-level property; explicit keys win', async (t) => {
  const r = resolver();
  const req = fixture('create-data-from');
  req.object.data = { ...req.object.data, password: b64('${ref:my-app/api-key}') };
  const result = await mutateSecret(req, deps(r));
  const out = applyPatch(req.object, result);
  t.same(decodedData(out), {
    username: 'db_user',
    password: 'demo-api-key-0123456789',
    extra: 'demo-api-key-0123456789',
  });
  t.same(JSON.parse(out.metadata?.annotations?.['esw.io/refs'] ?? ''), {
    'esw.io/data-from': '${ref:my-app/database-credentials}',
    extra: '${ref:my-app/api-key}',
    password: '${ref:my-app/api-key}',
  });
  t.ok(r.calls.some((c) => c.op === 'getMap' && c.key === 'my-app/database-credentials'));
  const again = await mutateSecret({ ...req, object: out }, deps(r));
  t.same(again, { allowed: true }, 'reinvocation: nothing left to do');
});

t.test('the GitOps form: ref.esw.io/<key> annotations add keys with no data in the manifest', async (t) => {
  const req = fixture('create-gitops');
  t.equal(req.object.data, undefined);
  const result = await mutateSecret(req, deps(resolver()));
  const out = applyPatch(req.object, result);
  t.same(decodedData(out), {
    username: 'db_user',
    password: 'supersecretpassword',
    'api-key': 'demo-api-key-0123456789',
  });
  t.notOk(patchText(result).includes('${ref:'));
  t.same(
    await mutateSecret({ ...req, object: out }, deps(resolver())),
    { allowed: true },
    'no drift, no patch',
  );

  // GitOps bumps a version in the annotation: the key is resolved again.
  const bumped = structuredClone(out);
  (bumped.metadata?.annotations as Record<string, string>)['ref.esw.io/api-key'] = 'my-app/api-key';
  const r = resolver();
  const update = await mutateSecret({ ...req, operation: 'UPDATE', object: bumped, oldObject: out }, deps(r));
  t.ok(update.patch, 'a changed annotation is resolved again');
  t.same(
    JSON.parse(applyPatch(bumped, update).metadata?.annotations?.['esw.io/refs'] ?? '')['api-key'],
    '${ref:my-app/api-key}',
  );

  const invalid = fixture('create-gitops');
  (invalid.object.metadata?.annotations as Record<string, string>)['ref.esw.io/bad key'] = 'x';
  t.match(await mutateSecret(invalid, deps(resolver())), { allowed: false, status: { code: 422 } });
  const twice = fixture('create-gitops');
  twice.object.data = { username: b64('${ref:x}') };
  t.match(await mutateSecret(twice, deps(resolver())), {
    allowed: false,
    status: { code: 422, message: /key "username" is declared twice/ },
  });
});

t.test('stringData (callers other than the API server) wins over data and is removed', async (t) => {
  const req = fixture('create-stringdata');
  const result = await mutateSecret(req, deps(resolver()));
  const out = applyPatch(req.object, result);
  t.equal(out.stringData, undefined);
  t.same(decodedData(out), { username: 'db_user', password: 'supersecretpassword', kept: 'kept-literal' });
});

t.test('idempotent: reinvocation and the refresher writes get no patch', async (t) => {
  const r = resolver();
  const req = fixture('create-intro');
  const first = await mutateSecret(req, deps(r));
  const filled = applyPatch(req.object, first);
  const calls = r.calls.length;
  t.same(await mutateSecret({ ...req, object: filled }, deps(r)), { allowed: true }, 'reinvocation');
  const refresherWrite = structuredClone(filled);
  (refresherWrite.data as Record<string, string>).password = b64('rotated');
  t.same(
    await mutateSecret({ ...req, operation: 'UPDATE', object: refresherWrite, oldObject: filled }, deps(r)),
    { allowed: true },
    'an UPDATE with esw.io/refs and no references passes unchanged',
  );
  t.equal(r.calls.length, calls, 'and costs no lookup');
});

t.test('UPDATE: re-applying the placeholder manifest resolves again', async (t) => {
  const req = fixture('update-reapply');
  const result = await mutateSecret(req, deps(resolver()));
  const out = applyPatch(req.object, result);
  t.same(decodedData(out), {
    username: 'db_user',
    password: 'supersecretpassword',
    url: 'postgres://db_user@db:5432/app',
  });

  // kubectl edit of one key keeps the other, already filled keys recorded (and fresh).
  const filled = out;
  const edited = structuredClone(filled);
  (edited.data as Record<string, string>).extra = b64('${ref:my-app/api-key}');
  const r = resolver();
  const res = await mutateSecret({ ...req, object: edited, oldObject: filled }, deps(r));
  const after = applyPatch(edited, res);
  t.same(Object.keys(JSON.parse(after.metadata?.annotations?.['esw.io/refs'] ?? '')), [
    'extra',
    'password',
    'url',
    'username',
  ]);
  t.equal(unb64(after.data?.extra), 'demo-api-key-0123456789');
});

t.test('UPDATE moving a filled Secret to another store resolves it from that store at once', async (t) => {
  const req = fixture('create-intro');
  const filled = applyPatch(req.object, await mutateSecret(req, deps(resolver())));
  const moved = structuredClone(filled);
  const a = moved.metadata?.annotations as Record<string, string>;
  a['esw.io/store'] = 'demo-cluster-store';
  a['esw.io/store-kind'] = 'ClusterSecretStore';
  const r = resolver();
  const update = { ...req, operation: 'UPDATE' as const, object: moved, oldObject: filled };
  const result = await mutateSecret(update, deps(r));
  t.equal(result.allowed, true);
  t.ok(
    r.calls.length > 0 && r.calls.every((c) => c.store === 'demo-cluster-store'),
    'looked up in the new store',
  );
  t.same(decodedData(applyPatch(moved, result)), decodedData(filled));

  const forbidden = resolver();
  forbidden.forbidden.add('ClusterSecretStore/demo-cluster-store');
  t.match(await mutateSecret(update, deps(forbidden)), { allowed: false, status: { code: 403 } });
  const unchanged = { ...update, object: filled };
  t.same(await mutateSecret(unchanged, deps(forbidden)), { allowed: true }, 'same store: nothing to do');
});

t.test('dry-run requests are served the same, so kubectl diff shows the result', async (t) => {
  const req = { ...fixture('create-intro'), dryRun: true };
  const result = await mutateSecret(req, deps(resolver()));
  t.equal(result.allowed, true);
  t.equal(decodedData(applyPatch(req.object, result)).password, 'supersecretpassword');
});

t.test('only opted-in Secrets are touched; DELETE is allowed', async (t) => {
  const r = resolver();
  t.same(await mutateSecret(fixture('plain-secret'), deps(r)), { allowed: true });
  const del = { ...fixture('create-intro'), operation: 'DELETE' as const, object: null };
  t.same(await mutateSecret(del, deps(r)), { allowed: true });
  const other: AdmissionRequest = {
    ...fixture('create-intro'),
    kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
  };
  t.same(await mutateSecret(other, deps(r)), { allowed: true });
  const label = fixture('create-intro');
  (label.object.metadata?.labels as Record<string, string>)['esw.io/inject'] = 'false';
  t.same(await mutateSecret(label, deps(r)), { allowed: true });
  t.equal(r.calls.length, 0);
  const empty = fixture('create-intro');
  empty.object.data = { a: b64('plain') };
  const warned = await mutateSecret(empty, deps(r));
  t.equal(warned.allowed, true);
  t.equal(warned.patch, undefined);
  t.match(warned.warnings, [/holds no \$\{ref:…\} references/]);
});

t.test(
  'annotations: store required, store-kind and refresh-interval checked, soft problems warned',
  async (t) => {
    const noStore = fixture('create-intro');
    delete noStore.object.metadata?.annotations?.['esw.io/store'];
    t.match(await mutateSecret(noStore, deps(resolver())), {
      allowed: false,
      status: { code: 422, message: /annotation esw\.io\/store is required/ },
    });
    const kind = fixture('create-intro');
    (kind.object.metadata?.annotations as Record<string, string>)['esw.io/store-kind'] = 'VaultStore';
    t.match(await mutateSecret(kind, deps(resolver())), {
      allowed: false,
      status: { code: 422, message: /esw\.io\/store-kind: must be SecretStore or ClusterSecretStore/ },
    });
    for (const bad of ['hourly', '-1h', '1d']) {
      const interval = fixture('create-intro');
      (interval.object.metadata?.annotations as Record<string, string>)['esw.io/refresh-interval'] = bad;
      t.match(
        await mutateSecret(interval, deps(resolver())),
        {
          allowed: false,
          status: { code: 422, message: /esw\.io\/refresh-interval: ".*" is not a valid duration/ },
        },
        bad,
      );
    }
    const never = fixture('create-intro');
    const a = never.object.metadata?.annotations as Record<string, string>;
    a['esw.io/refresh-interval'] = '0';
    a['esw.io/stores'] = 'typo';
    const res = await mutateSecret(never, deps(resolver()));
    t.equal(res.allowed, true);
    t.match(res.warnings, [/refresh-interval is 0: .*never refreshed/, /unknown annotation esw\.io\/stores/]);

    const cluster = fixture('create-intro');
    const ca = cluster.object.metadata?.annotations as Record<string, string>;
    ca['esw.io/store'] = 'demo-cluster-store';
    ca['esw.io/store-kind'] = 'ClusterSecretStore';
    const r = resolver();
    t.equal((await mutateSecret(cluster, deps(r))).allowed, true);
    t.ok(r.calls.every((c) => c.store === 'demo-cluster-store'));
  },
);

t.test('refusals: status code and a message naming the reference and the store, never a value', async (t) => {
  const { logger, lines } = capturingLogger();
  const d = (r: Resolver, extra = {}) => ({ resolver: r, logger, ...extra });

  const syntax = fixture('create-intro');
  syntax.object.data = { password: b64(`${CANARY} \${ref:my-app/x#a#b#c}`) };
  const s = await mutateSecret(syntax, d(resolver()));
  t.match(s, {
    allowed: false,
    status: { code: 422, message: /ESW_REF_SYNTAX.*key "password".*too many "#"/ },
  });

  const missingKey = fixture('create-intro');
  missingKey.object.data = { password: b64('${ref:nope/missing#password}') };
  t.match(await mutateSecret(missingKey, d(resolver())), {
    allowed: false,
    status: { code: 404, message: /ESW_SECRET_NOT_FOUND.*\$\{ref:nope\/missing#password\}.*nope\/missing/ },
  });

  const missingProp = fixture('create-intro');
  missingProp.object.data = { password: b64('${ref:canary#nope}') };
  const p = await mutateSecret(missingProp, d(resolver()));
  t.match(p, { allowed: false, status: { code: 404, message: /ESW_PROPERTY_NOT_FOUND.*property "nope"/ } });

  const forbidden = resolver();
  forbidden.forbidden.add('SecretStore/demo-store');
  t.match(await mutateSecret(fixture('create-intro'), d(forbidden)), {
    allowed: false,
    status: { code: 403, message: /ESW_STORE_FORBIDDEN.*demo-store/ },
  });
  t.equal(forbidden.calls.length, 0, 'a store refused before any lookup');

  const unknownStore = fixture('create-intro');
  (unknownStore.object.metadata?.annotations as Record<string, string>)['esw.io/store'] = 'nope';
  t.match(await mutateSecret(unknownStore, d(resolver())), { allowed: false, status: { code: 404 } });

  const down = resolver().set(
    'my-app/database-credentials',
    new EswError(
      'ESW_PROVIDER_UNAVAILABLE',
      'remote secret "my-app/database-credentials": provider unavailable',
    ),
  );
  t.match(await mutateSecret(fixture('create-intro'), d(down)), {
    allowed: false,
    status: { code: 503, message: /ESW_PROVIDER_UNAVAILABLE.*\$\{ref:my-app\/database-credentials#/ },
  });

  const slow = resolver();
  slow.hang = true;
  const late = await mutateSecret(fixture('create-intro'), d(slow, { deadlineMs: 20 }));
  t.match(late, {
    allowed: false,
    status: { code: 503, message: /SecretStore "default\/demo-store": references not resolved within 20 ms/ },
  });
  t.ok(slow.calls[0]?.signal?.aborted, 'the deadline aborts the lookups');

  const bug = resolver().set('my-app/database-credentials', new TypeError(`cannot read ${CANARY}`));
  const b = await mutateSecret(fixture('create-intro'), d(bug));
  t.match(b, {
    allowed: false,
    status: { code: 503, message: /ESW_INTERNAL.*SecretStore "default\/demo-store"/ },
  });

  const injected = resolver().set('my-app/api-key', `x\${ref:canary#password}`);
  const inj = fixture('create-single');
  inj.object.data = { k: b64('${ref:my-app/api-key}') };
  t.match(await mutateSecret(inj, d(injected)), {
    allowed: false,
    status: { code: 422, message: /remote value itself holds/ },
  });

  for (const type of ['kubernetes.io/service-account-token', 'bootstrap.kubernetes.io/token']) {
    const priv = fixture('create-intro');
    priv.object.type = type;
    t.match(
      await mutateSecret(priv, d(resolver())),
      { allowed: false, status: { code: 403, message: /ESW_FORBIDDEN_TYPE/ } },
      type,
    );
  }

  const canaryOk = fixture('create-intro');
  canaryOk.object.data = { password: b64('${ref:canary#password}'), n: b64('x ${ref:canary#nested.v} y') };
  const ok = await mutateSecret(canaryOk, d(resolver(), { now: () => 0 }));
  t.equal(decodedData(applyPatch(canaryOk.object, ok)).password, CANARY);

  const all = lines.join('\n');
  t.ok(lines.length > 0, 'refusals are logged');
  t.notOk(all.includes(CANARY), 'no value in any log line');
  for (const r of [s, p, b, ok]) t.notOk(visibleText(r).includes(CANARY), 'no value in messages or warnings');
});

t.test('the 1 MiB limit on the filled Secret', async (t) => {
  const big = 'x'.repeat(600 * 1024);
  const r = resolver().set('big', big);
  const req = fixture('create-single');
  req.object.data = { a: b64('${ref:big}'), b: b64('${ref:big}') };
  const result = await mutateSecret(req, deps(r));
  t.match(result, { allowed: false, status: { code: 422, message: /ESW_SECRET_TOO_LARGE.*1 MiB/ } });
  t.notOk(visibleText(result).includes('xxxx'));
  const fits = fixture('create-single');
  fits.object.data = { a: b64('${ref:big}') };
  t.equal((await mutateSecret(fits, deps(r))).allowed, true, 'one copy fits');
  t.equal(
    r.calls.filter((c) => c.key === 'big').length,
    2,
    'one lookup per mutation for a repeated reference',
  );

  const many = fixture('create-single');
  many.object.data = { a: b64('${ref:my-app/api-key} '.repeat(15_000)) };
  const calls = r.calls.length;
  t.match(await mutateSecret(many, deps(r)), {
    allowed: false,
    status: { code: 422, message: /ESW_SECRET_TOO_LARGE.*esw\.io\/refs annotation/ },
  });
  t.equal(r.calls.length, calls, 'refused before any lookup');
});

t.test('hostile input never throws: every answer is a verdict', async (t) => {
  const r = resolver();
  const shapes: unknown[] = [
    { metadata: { labels: { 'esw.io/inject': 'true' } }, data: 5 },
    { metadata: { labels: { 'esw.io/inject': 'true' } }, data: { a: 1 } },
    {
      metadata: { labels: { 'esw.io/inject': 'true' }, annotations: { 'esw.io/store': 7 } },
      data: { a: b64('${ref:x}') },
    },
    { metadata: { labels: { 'esw.io/inject': 'true' } }, data: { a: 'not base64 ${ref:x}' } },
    {
      metadata: { labels: { 'esw.io/inject': 'true' } },
      data: { a: b64(Buffer.from([0xff, 0x24, 0x7b, 0x72, 0x65, 0x66, 0x3a])) },
    },
    { metadata: 'x' },
    { metadata: { labels: { 'esw.io/inject': 'true' } }, data: { '${ref:x}': b64('${ref:x}') } },
  ];
  for (const object of shapes) {
    const req = { ...fixture('create-intro'), object } as unknown as AdmissionRequest;
    const res = await mutateSecret(req, deps(r));
    t.type(res.allowed, 'boolean', JSON.stringify(object).slice(0, 60));
    if (!res.allowed) t.ok((res.status?.code ?? 0) < 500, 'a deterministic refusal, not a 5xx');
  }
});
