/**
 * Issue 11, item 5: only our own words leave the process. Through the API-server double and a
 * real replica (refresher + HTTPS webhook), third-party error text that quotes a secret value
 * must never reach an Event, a status, a log line, a refusal or the metrics:
 * - a `templateFrom` literal rendering invalid YAML (a value starting with `@`, a value holding
 *   `: `): the YAML parser quotes the text around the error;
 * - a template rendering a label the API server refuses: its Status message quotes the value;
 * - a provider answering with an error body that carries a value (AWS `__type` and `message`).
 * Each failure is still reported, in our words, with a code and a position or field.
 */
import { randomUUID } from 'node:crypto';
import https from 'node:https';
import t from 'tap';
import type { ExternalSecret } from '../../src/api/types.ts';
import { startCluster, waitFor } from '../cluster-helpers.ts';
import type { KubeApiServer } from '../fakes/kube-apiserver/index.ts';

const RUN = randomUUID().replaceAll('-', '').slice(0, 12);
/** Identifier-shaped on purpose: a filter that lets identifiers through would let these through. */
const CANARY = {
  yamlAt: `CANARYyamlat${RUN}`,
  yamlColon: `CANARYyamlcolon${RUN}`,
  label: `CANARYlabel${RUN}`,
  awsType: `CanaryType${RUN}`,
  awsMessage: `CANARYawsmessage${RUN}`,
  cmList: `CANARYcmlist${RUN}`,
  cmScalar: `CANARYcmscalar${RUN}`,
};

function es(name: string, key: string, template: Record<string, unknown>): ExternalSecret {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name, namespace: 'default', uid: `uid-${name}` },
    spec: {
      refreshInterval: '1h',
      secretStoreRef: { name: 'aws-store', kind: 'SecretStore' },
      target: { name: `${name}-target`, template: { engineVersion: 'v2', ...template } },
      data: [{ secretKey: 'value', remoteRef: { key, property: 'value' } }],
    },
  } as ExternalSecret;
}

function readyCondition(api: KubeApiServer, name: string): { status?: string; message?: string } | undefined {
  const obj = api.get('externalsecrets', 'default', name) as
    | { status?: { conditions?: { type: string; status?: string; message?: string }[] } }
    | undefined;
  return obj?.status?.conditions?.find((c) => c.type === 'Ready');
}

/** A write as kubectl sends it (admin token, through admission); the raw Status text back. */
function apiPost(api: KubeApiServer, path: string, body: object): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${api.url}${path}`,
      {
        method: 'POST',
        ca: api.caPem,
        headers: { authorization: 'Bearer admin-token', 'content-type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

t.test('YAML errors, API-server Status messages and provider error bodies leave no value', async (t) => {
  const { api, aws, startReplica } = await startCluster(t);
  aws.put('app/yaml-at', JSON.stringify({ value: `@${CANARY.yamlAt}` }));
  aws.put('app/yaml-colon', JSON.stringify({ value: `x: ${CANARY.yamlColon}` }));
  aws.put('app/label', JSON.stringify({ value: `${CANARY.label} not a label` }));
  aws.put('app/cm-list', JSON.stringify({ value: CANARY.cmList }));
  aws.put('app/cm-scalar', JSON.stringify({ value: CANARY.cmScalar }));
  // templateFrom from a ConfigMap, KeysAndValues: the secret value lands where a string is due.
  api.put({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'tpl', namespace: 'default' },
    data: { list: 'password: [{{ .value }}]\n', scalar: '{{ .value }}' },
  } as never);
  const replica = await startReplica('pod-0');

  // ---- refresh: the three failures, each reported in our words
  api.put(es('yaml-at', 'app/yaml-at', { templateFrom: [{ literal: 'password: {{ .value }}\n' }] }));
  api.put(es('yaml-colon', 'app/yaml-colon', { templateFrom: [{ literal: 'password: {{ .value }}\n' }] }));
  api.put(es('label', 'app/label', { metadata: { labels: { leak: '{{ .value }}' } } }));
  const kv = (key: string) => ({
    templateFrom: [{ configMap: { name: 'tpl', items: [{ key, templateAs: 'KeysAndValues' }] } }],
  });
  api.put(es('cm-list', 'app/cm-list', kv('list')));
  api.put(es('cm-scalar', 'app/cm-scalar', kv('scalar')));

  const failed = async (name: string) =>
    waitFor(`${name}: Ready=False`, () => {
      const c = readyCondition(api, name);
      return c?.status === 'False' ? c : undefined;
    });
  t.match(
    (await failed('yaml-at')).message,
    /^spec\.target\.template\.templateFrom\[0\]\.literal: the rendered template is not valid YAML at line 1, column 11 \(BAD_SCALAR_START\)$/,
    'the YAML error: position and code',
  );
  t.match(
    (await failed('yaml-colon')).message,
    /templateFrom\[0\]\.literal: the rendered template is not valid YAML at line 1, column \d+ \([A-Z_]+\)$/,
  );
  t.match(
    (await failed('label')).message,
    /^create secret default\/label-target: API server refused the request: 422 Invalid \(field metadata\.labels\)$/,
    'the API server refusal: code, reason, field',
  );
  t.equal(
    (await failed('cm-list')).message,
    'spec.target.template.templateFrom[0].configMap.items[0]: the rendered template has a list or map where a string value is expected (quote it, or use toJson) at line 1, column 11',
    'a KeysAndValues list value: position only',
  );
  t.equal(
    (await failed('cm-scalar')).message,
    'spec.target.template.templateFrom[0].configMap.items[0]: the rendered template is not a map at line 1, column 1',
  );
  // After the others: a batch holding a failing key fails as a whole.
  aws.fault(
    { type: 'error', status: 400, errorType: CANARY.awsType, message: CANARY.awsMessage },
    { key: 'app/broken' },
  );
  api.put(es('broken', 'app/broken', {}));
  t.match(
    (await failed('broken')).message,
    /aws: (?:secret "app\/broken"|batch of \d+ secrets): unrecognised error \(HTTP 400\)$/,
    'the provider error: the key and the status',
  );
  await waitFor('the Warning Events', () =>
    ['yaml-at', 'yaml-colon', 'label', 'broken'].every((n) =>
      api
        .list('events', 'default')
        .some(
          (e) =>
            (e as { involvedObject?: { name?: string }; type?: string }).involvedObject?.name === n &&
            (e as { type?: string }).type === 'Warning',
        ),
    ),
  );

  // ---- admission over HTTPS: a placeholder Secret whose key answers with a canary body
  const refused = await apiPost(api, '/api/v1/namespaces/default/secrets', {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 'placeholder',
      labels: { 'esw.io/inject': 'true' },
      annotations: { 'esw.io/store': 'aws-store' },
    },
    stringData: { x: '${ref:app/broken}' },
  });
  t.equal(refused.status, 422, `refused by the webhook (${refused.text})`);
  t.match(refused.text, /aws: secret \\?"app\/broken\\?": unrecognised error \(HTTP 400\)/);

  // ---- the scan
  const surfaces: Record<string, string> = {
    events: JSON.stringify(api.list('events')),
    statuses: JSON.stringify(api.list('externalsecrets').map((o) => (o as { status?: unknown }).status)),
    'logs (debug)': replica.lines.join('\n'),
    'refusal through the API server': refused.text,
    metrics: await replica.metrics.registry.metrics(),
    'Secrets written (all but data)': JSON.stringify(
      api.list('secrets', 'default').map((s) => ({ ...s, data: undefined })),
    ),
  };
  t.ok(replica.lines.length > 10, `logs captured (${replica.lines.length} lines)`);
  for (const [surface, text] of Object.entries(surfaces)) {
    const leaked = Object.entries(CANARY).filter(([, c]) => text.includes(c));
    t.same(
      leaked.map(([k]) => k),
      [],
      `${surface}: no canary`,
    );
  }
});
