/**
 * `templateFrom[].configMap` and `.secret` as ESO's templating.Parser applies them: `templateAs`
 * Values / KeysAndValues, `target` Data / Labels / Annotations, entry order (configMap, secret,
 * literal), `template.data` winning over templateFrom, `mergePolicy`, a missing object or key as
 * Ready=False naming it (never a value), and a changed source re-syncing its readers at once.
 */
import t from 'tap';
import type { ExternalSecret, ExternalSecretTemplate, TemplateFrom } from '../../src/api/types.ts';
import { b64, harness, introExternalSecret, unb64 } from './harness.ts';

const ES = 'default/database-credentials-secret';
const TARGET = 'default/database-credentials';
const CANARY = 'CANARY-tf-7f3a';

function withTemplate(template: ExternalSecretTemplate): ExternalSecret {
  return introExternalSecret({
    target: { name: 'database-credentials', creationPolicy: 'Owner', template },
  });
}

function setup() {
  const h = harness();
  h.remote.values.set('my-app/database-credentials', JSON.stringify({ username: 'app', password: CANARY }));
  return h;
}

const decoded = (data: Record<string, string> | undefined) =>
  Object.fromEntries(Object.entries(data ?? {}).map(([k, v]) => [k, unb64(v)]));

t.test('each templateAs × target, in ESO order', async (t) => {
  const h = setup();
  h.kube.configMaps.set('default/tpl', {
    metadata: { name: 'tpl', namespace: 'default' },
    data: {
      dsn: 'postgres://{{ .username }}:{{ .password }}@db',
      pair: 'user: {{ .username }}\npass: "{{ .password }}"\n',
      team: '{{ .username | upper }}',
      both: 'owner: "{{ .username }}"\nrotated: "yes"\n',
    },
    binaryData: { bin: b64('{{ .password }}') },
  });
  h.kube.secrets.set('default/tpl-secret', {
    metadata: { name: 'tpl-secret', namespace: 'default' },
    data: { conf: b64('[db]\nuser={{ .username }}\n'), kv: b64('extra: "{{ .username }}-x"\n') },
  });
  const from: TemplateFrom[] = [
    { configMap: { name: 'tpl', items: [{ key: 'dsn' }, { key: 'pair', templateAs: 'KeysAndValues' }] } },
    { target: 'Labels', configMap: { name: 'tpl', items: [{ key: 'team', templateAs: 'Values' }] } },
    {
      target: 'Annotations',
      configMap: { name: 'tpl', items: [{ key: 'both', templateAs: 'KeysAndValues' }] },
    },
    {
      secret: { name: 'tpl-secret', items: [{ key: 'conf' }, { key: 'kv', templateAs: 'KeysAndValues' }] },
      literal: 'extra: "from-literal"\n',
    },
    { target: 'Labels', secret: { name: 'tpl-secret', items: [{ key: 'kv', templateAs: 'KeysAndValues' }] } },
    { target: 'Annotations', secret: { name: 'tpl-secret', items: [{ key: 'conf', templateAs: 'Values' }] } },
  ];
  h.refresher.upsertExternalSecret(withTemplate({ templateFrom: from, data: { dsn: 'data-wins' } }));
  h.refresher.start();
  await h.refresher.tick();
  const s = h.kube.secrets.get(TARGET);
  t.same(
    decoded(s?.data),
    {
      dsn: 'data-wins',
      user: 'app',
      pass: CANARY,
      conf: '[db]\nuser=app\n',
      extra: 'from-literal',
    },
    'Values to its key, KeysAndValues as a map; the literal after the secret items; data wins; Replace drops the provider keys',
  );
  t.match(s?.metadata?.labels, { team: 'APP', extra: 'app-x' });
  t.match(s?.metadata?.annotations, { owner: 'app', rotated: 'yes', conf: '[db]\nuser=app\n' });
  t.match(h.kube.statuses.get(ES)?.conditions?.[0], { status: 'True', reason: 'SecretSynced' });
  await h.refresher.stop();
});

t.test('mergePolicy Merge keeps the provider keys under the rendered ones', async (t) => {
  const h = setup();
  h.kube.configMaps.set('default/tpl', {
    metadata: { name: 'tpl', namespace: 'default' },
    data: { username: '{{ .username }}-rendered' },
  });
  h.refresher.upsertExternalSecret(
    withTemplate({
      mergePolicy: 'Merge',
      templateFrom: [{ configMap: { name: 'tpl', items: [{ key: 'username' }] } }],
    }),
  );
  h.refresher.start();
  await h.refresher.tick();
  t.same(decoded(h.kube.secrets.get(TARGET)?.data), { username: 'app-rendered', password: CANARY });
  await h.refresher.stop();
});

t.test('templateFrom to labels only, Replace: the data is empty (ESO: a template is present)', async (t) => {
  const h = setup();
  h.kube.configMaps.set('default/tpl', {
    metadata: { name: 'tpl', namespace: 'default' },
    data: { team: 'a' },
  });
  h.refresher.upsertExternalSecret(
    withTemplate({
      templateFrom: [{ target: 'Labels', configMap: { name: 'tpl', items: [{ key: 'team' }] } }],
    }),
  );
  h.refresher.start();
  await h.refresher.tick();
  const s = h.kube.secrets.get(TARGET);
  t.same(s?.data, {});
  t.match(s?.metadata?.labels, { team: 'a' });
  await h.refresher.stop();
});

t.test('a missing ConfigMap, Secret or key: Ready=False naming it; the target is kept', async (t) => {
  const h = setup();
  h.kube.configMaps.set('default/tpl', {
    metadata: { name: 'tpl', namespace: 'default' },
    data: { a: '{{ .password }}' },
  });
  // Another namespace's ConfigMap of the same name is never read.
  h.kube.configMaps.set('other/gone', { metadata: { name: 'gone', namespace: 'other' }, data: { a: 'x' } });
  const cases: [TemplateFrom, RegExp][] = [
    [
      { configMap: { name: 'gone', items: [{ key: 'a' }] } },
      /^spec\.target\.template\.templateFrom\[0\]\.configMap\.items\[0\]: ConfigMap "default\/gone" not found/,
    ],
    [
      { configMap: { name: 'tpl', items: [{ key: 'a' }, { key: 'b' }] } },
      /^spec\.target\.template\.templateFrom\[0\]\.configMap\.items\[1\]: ConfigMap "default\/tpl" has no key "b"$/,
    ],
    [
      { secret: { name: 'nope', items: [{ key: 'a' }] } },
      /^spec\.target\.template\.templateFrom\[0\]\.secret\.items\[0\]: Secret "default\/nope" not found/,
    ],
    [
      { configMap: { name: 'tpl', items: [{ key: 'a', templateAs: 'KeysAndValues' }] } },
      /^spec\.target\.template\.templateFrom\[0\]\.configMap\.items\[0\]: the rendered template is not a map at line 1, column 1$/,
    ],
  ];
  h.refresher.start();
  for (const [from, message] of cases) {
    h.refresher.upsertExternalSecret(withTemplate({ templateFrom: [from] }));
    await h.refresher.tick();
    const c = h.kube.statuses.get(ES)?.conditions?.[0];
    t.match(c, { status: 'False', reason: 'SecretSyncedError' });
    t.match(c?.message, message);
    h.refresher.deleteExternalSecret(withTemplate({}));
    h.kube.statuses.clear();
  }
  t.notOk(h.kube.secrets.get(TARGET), 'nothing written');
  const text = JSON.stringify([h.kube.events, [...h.kube.statuses.values()], h.lines]);
  t.notMatch(text, /CANARY/, 'no value in events, status or logs');
  await h.refresher.stop();
});

t.test('a changed source re-renders its readers at once, nobody else', async (t) => {
  const h = setup();
  h.kube.configMaps.set('default/tpl', {
    metadata: { name: 'tpl', namespace: 'default' },
    data: { greeting: 'hello {{ .username }}' },
  });
  const reader = withTemplate({
    templateFrom: [{ configMap: { name: 'tpl', items: [{ key: 'greeting' }] } }],
  });
  const other = introExternalSecret({ target: { name: 'other-target' } }, 'other');
  h.refresher.upsertExternalSecret(reader);
  h.refresher.upsertExternalSecret(other);
  h.refresher.start();
  await h.refresher.tick();
  t.same(decoded(h.kube.secrets.get(TARGET)?.data), { greeting: 'hello app' });
  const otherWrites = h.kube.secrets.get('default/other-target')?.metadata?.resourceVersion;

  h.kube.configMaps.set('default/tpl', {
    metadata: { name: 'tpl', namespace: 'default' },
    data: { greeting: 'bye {{ .username }}' },
  });
  // Same name in another namespace: not ours.
  h.refresher.templateSourceChanged('ConfigMap', { metadata: { name: 'tpl', namespace: 'other' } });
  t.equal(h.refresher.queueDepth > 0, true);
  await h.refresher.tick();
  t.same(decoded(h.kube.secrets.get(TARGET)?.data), { greeting: 'hello app' }, 'not re-rendered yet');

  h.refresher.templateSourceChanged('ConfigMap', { metadata: { name: 'tpl', namespace: 'default' } });
  await h.refresher.tick();
  t.same(decoded(h.kube.secrets.get(TARGET)?.data), { greeting: 'bye app' }, 're-rendered, no clock advance');
  t.equal(
    h.kube.secrets.get('default/other-target')?.metadata?.resourceVersion,
    otherWrites,
    'the other ExternalSecret is not touched',
  );

  // Once the reader stops naming it, a change no longer reaches it.
  h.refresher.upsertExternalSecret({
    ...reader,
    metadata: { ...reader.metadata, generation: 2 },
    spec: { ...reader.spec, target: { name: 'database-credentials' } },
  });
  await h.refresher.tick();
  const before = h.kube.secretWrites();
  h.refresher.templateSourceChanged('ConfigMap', { metadata: { name: 'tpl', namespace: 'default' } });
  await h.refresher.tick();
  t.equal(h.kube.secretWrites(), before, 'no longer a reader');
  await h.refresher.stop();
});

t.test('CreatedOnce: a changed source is gated like any change (ESO never re-renders it)', async (t) => {
  const h = setup();
  h.kube.configMaps.set('default/tpl', { metadata: { name: 'tpl', namespace: 'default' }, data: { g: '1' } });
  const es = withTemplate({ templateFrom: [{ configMap: { name: 'tpl', items: [{ key: 'g' }] } }] });
  es.spec = { ...es.spec, refreshPolicy: 'CreatedOnce' };
  h.refresher.upsertExternalSecret(es);
  h.refresher.start();
  await h.refresher.tick();
  h.kube.configMaps.set('default/tpl', { metadata: { name: 'tpl', namespace: 'default' }, data: { g: '2' } });
  h.refresher.templateSourceChanged('ConfigMap', { metadata: { name: 'tpl', namespace: 'default' } });
  await h.refresher.tick();
  t.same(decoded(h.kube.secrets.get(TARGET)?.data), { g: '1' });
  await h.refresher.stop();
});

t.test(
  'a Secret that is an ExternalSecret target does not re-sync its readers at once (no loop)',
  async (t) => {
    const h = setup();
    // 'reader' renders its own target's key with a random suffix: each sync changes its target.
    const reader = introExternalSecret(
      {
        target: {
          name: 'database-credentials',
          template: {
            mergePolicy: 'Merge',
            templateFrom: [{ secret: { name: 'database-credentials', items: [{ key: 'username' }] } }],
            data: { nonce: '{{ randAlphaNum 8 }}' },
          },
        },
      },
      'reader',
    );
    h.kube.secrets.set(TARGET, {
      metadata: { name: 'database-credentials', namespace: 'default' },
      data: { username: b64('{{ .username }}') },
    });
    h.refresher.upsertExternalSecret(reader);
    h.refresher.start();
    await h.refresher.tick();
    const writes = h.kube.secretWrites();
    h.refresher.templateSourceChanged('Secret', {
      metadata: { name: 'database-credentials', namespace: 'default' },
    });
    t.equal(h.refresher.queueDepth, 1, 'only its routine refresh is queued');
    await h.refresher.tick();
    t.equal(h.kube.secretWrites(), writes, 'not synced again by its own write');
    await h.refresher.stop();
  },
);

t.test('KeysAndValues and literal read YAML as ESO (YAML 1.1 scalars into strings)', async (t) => {
  const h = setup();
  h.kube.configMaps.set('default/tpl', {
    metadata: { name: 'tpl', namespace: 'default' },
    data: { kv: 'port: 5432\nenabled: yes\nmode: 0x1F\nratio: 1e6\nempty: ~\nuser: {{ .username }}\n' },
  });
  h.refresher.upsertExternalSecret(
    withTemplate({
      templateFrom: [
        { configMap: { name: 'tpl', items: [{ key: 'kv', templateAs: 'KeysAndValues' }] } },
        { literal: 'off: off\n<<: {merged: "m"}\n' },
      ],
    }),
  );
  h.refresher.start();
  await h.refresher.tick();
  t.same(decoded(h.kube.secrets.get(TARGET)?.data), {
    port: '5432',
    enabled: 'true',
    mode: '31',
    ratio: '1e+06',
    empty: '',
    user: 'app',
    false: 'false',
    merged: 'm',
  });
  await h.refresher.stop();
});

t.test('the sync budget covers ConfigMap and Secret templates too', async (t) => {
  const h = setup();
  h.kube.configMaps.set('default/tpl', {
    metadata: { name: 'tpl', namespace: 'default' },
    // Each within the limits; together past the sync's 250,000 steps.
    data: Object.fromEntries(
      ['a', 'b', 'c', 'd', 'e', 'f'].map((k) => [k, '{{ range $i := until 50000 }}{{ end }}']),
    ),
  });
  h.refresher.upsertExternalSecret(
    withTemplate({
      templateFrom: [
        { configMap: { name: 'tpl', items: ['a', 'b', 'c', 'd', 'e', 'f'].map((key) => ({ key })) } },
      ],
    }),
  );
  h.refresher.start();
  await h.refresher.tick();
  const c = h.kube.statuses.get(ES)?.conditions?.[0];
  t.match(c, { status: 'False', reason: 'SecretSyncedError' });
  t.match(c?.message, /^template exceeded its 250000 evaluation step budget/);
  t.notOk(h.kube.secrets.get(TARGET));
  await h.refresher.stop();
});
