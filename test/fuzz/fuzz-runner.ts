/**
 * Fuzzing /validate and /mutate with generated AdmissionReview bodies: malformed JSON, wrong
 * types, missing uid, deep nesting, huge strings, hostile references and templates.
 * Zero 5xx, every reply well-formed, the server healthy afterwards, and the canary value held
 * by the store never reaches a log line or a refusal message.
 *
 * Runs in its own process (spawned by admission-fuzz.test.ts): the test runner's async hooks
 * make each of the thousands of in-process requests several times slower.
 * Prints one JSON line: { runs, statuses, problems, leaked, healthy, failure }.
 */
import fc from 'fast-check';
import { parseManifests } from '../../src/api/manifests.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { createRuntime, loadIntoRegistry } from '../../src/runtime.ts';
import { buildApp } from '../../src/server/app.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
const CANARY = 'CANARY-fuzz-7f3a9c';

const STORES = `
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: fuzz-store, namespace: default }
spec:
  provider:
    fake:
      data:
        - key: app/db
          value: '{"username":"u","password":"${CANARY}","nested":{"list":["${CANARY}"]}}'
        - key: app/plain
          value: ${CANARY}
---
apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: { name: fuzz-cluster-store }
spec:
  conditions: [{ namespaces: [allowed] }]
  provider:
    fake:
      data: [{ key: app/plain, value: ${CANARY} }]
`;

const KINDS = [
  { group: '', version: 'v1', kind: 'Secret' },
  { group: 'external-secrets.io', version: 'v1', kind: 'ExternalSecret' },
  { group: 'external-secrets.io', version: 'v1beta1', kind: 'ExternalSecret' },
  { group: 'external-secrets.io', version: 'v1', kind: 'SecretStore' },
  { group: 'external-secrets.io', version: 'v1', kind: 'ClusterSecretStore' },
  { group: 'apps', version: 'v1', kind: 'Deployment' },
];

const hostileString = fc.oneof(
  fc.string(),
  fc.constantFrom(
    '${ref:app/db#password}',
    '${ref:app/db#nested.list.0}',
    '${ref:app/plain}',
    '${ref:app/db#missing}',
    '${ref:missing/key}',
    '${ref:',
    '${ref:}',
    '${ref:a#b#c#d}',
    '${ref:app/db#password}${ref:app/db#password}',
    'prefix ${ref:app/db#username} suffix',
    '{{ .password }}',
    '{{ .constructor.constructor("return process")() }}',
    '__proto__',
    'constructor',
    '(a+)+$',
    '((((((((((x))))))))))*',
  ),
  fc.string({ minLength: 0, maxLength: 5 }).map((s) => `\${ref:${s}}`),
);

const b64 = (s: string) => Buffer.from(s).toString('base64');

const secretObject = fc.record(
  {
    apiVersion: fc.constant('v1'),
    kind: fc.constant('Secret'),
    metadata: fc.record(
      {
        name: fc.oneof(fc.string(), fc.constant('s')),
        namespace: fc.constantFrom('default', 'other', 'allowed'),
        labels: fc.oneof(fc.constant({ 'esw.io/inject': 'true' }), fc.dictionary(fc.string(), fc.string())),
        annotations: fc.dictionary(
          fc.oneof(
            fc.constantFrom(
              'esw.io/store',
              'esw.io/store-kind',
              'esw.io/refresh-interval',
              'esw.io/data-from',
              'ref.esw.io/k',
              'esw.io/refs',
            ),
            fc.string(),
          ),
          fc.oneof(
            hostileString,
            fc.constantFrom('fuzz-store', 'fuzz-cluster-store', 'ClusterSecretStore', '1h', 'app/db'),
          ),
        ),
      },
      { requiredKeys: [] },
    ),
    type: fc.oneof(
      fc.constantFrom('Opaque', 'kubernetes.io/service-account-token', 'kubernetes.io/dockerconfigjson'),
      fc.string(),
    ),
    data: fc.dictionary(fc.string({ maxLength: 20 }), fc.oneof(hostileString.map(b64), fc.string())),
    stringData: fc.dictionary(fc.string({ maxLength: 20 }), hostileString),
  },
  { requiredKeys: [] },
);

const esoObject = fc.record(
  {
    apiVersion: fc.constantFrom('external-secrets.io/v1', 'external-secrets.io/v1beta1', 'bogus/v9'),
    kind: fc.constantFrom('ExternalSecret', 'SecretStore', 'ClusterSecretStore'),
    metadata: fc.record({ name: fc.string(), namespace: fc.string() }, { requiredKeys: [] }),
    spec: fc.oneof(
      fc.jsonValue({ maxDepth: 4 }),
      fc.record(
        {
          secretStoreRef: fc.record({ name: hostileString, kind: fc.string() }, { requiredKeys: [] }),
          refreshInterval: fc.oneof(fc.string(), fc.integer()),
          target: fc.jsonValue({ maxDepth: 3 }),
          data: fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 4 }),
          dataFrom: fc.array(
            fc.oneof(
              fc.record({ find: fc.record({ name: fc.record({ regexp: hostileString }) }) }),
              fc.record({
                rewrite: fc.array(
                  fc.record({ regexp: fc.record({ source: hostileString, target: fc.string() }) }),
                ),
              }),
              fc.jsonValue({ maxDepth: 3 }),
            ),
            { maxLength: 3 },
          ),
          provider: fc.jsonValue({ maxDepth: 4 }),
          conditions: fc.jsonValue({ maxDepth: 3 }),
        },
        { requiredKeys: [] },
      ),
    ),
  },
  { requiredKeys: [] },
);

const deep = fc.integer({ min: 50, max: 3000 }).map((depth) => {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
});

// Mostly well-formed reviews (so the handlers, not only the parser, are exercised), with every
// field sometimes of the wrong type.
const mostly = <T, U>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<U>) =>
  fc.oneof({ weight: 19, arbitrary: good }, { weight: 1, arbitrary: bad });

const request = fc.record(
  {
    uid: mostly(fc.uuid(), fc.oneof(fc.constant(''), fc.integer(), fc.constant(null))),
    kind: mostly(fc.constantFrom(...KINDS), fc.jsonValue({ maxDepth: 2 })),
    resource: fc.constant({ group: '', version: 'v1', resource: 'secrets' }),
    operation: mostly(fc.constantFrom('CREATE', 'UPDATE', 'DELETE', 'CONNECT'), fc.string()),
    namespace: mostly(fc.constantFrom('default', 'other', 'allowed'), fc.integer()),
    dryRun: mostly(fc.boolean(), fc.string()),
    object: fc.oneof(
      { weight: 4, arbitrary: secretObject },
      { weight: 4, arbitrary: esoObject },
      { weight: 1, arbitrary: deep },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
      { weight: 1, arbitrary: fc.constant(null) },
    ),
    oldObject: fc.oneof(secretObject, fc.constant(null)),
  },
  { requiredKeys: ['uid', 'kind', 'operation'] },
);

const body = fc.oneof(
  {
    weight: 6,
    arbitrary: request.map((r) =>
      JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: r }),
    ),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.string() },
  {
    weight: 1,
    arbitrary: deep.map((v) =>
      JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: v }),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 10_000, max: 400_000 }).map((n) =>
      JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid: 'big',
          kind: KINDS[0],
          operation: 'CREATE',
          namespace: 'default',
          object: {
            metadata: {
              name: 'x'.repeat(n),
              labels: { 'esw.io/inject': 'true' },
              annotations: { 'esw.io/store': 'fuzz-store' },
            },
            data: { k: b64('${ref:app/plain}'.repeat(n / 20)) },
          },
        },
      }),
    ),
  },
);

async function main() {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (l: string) => lines.push(l) } });
  const metrics = createMetrics();
  const registry = new MemoryRegistry();
  loadIntoRegistry(registry, parseManifests(STORES), logger);
  const runtime = createRuntime(registry, registry, {
    logger,
    metrics,
    admissionDeadlineMs: 2000,
    cacheTtlMs: 30_000,
  });
  const app = buildApp({
    logger,
    metrics,
    validate: runtime.validate,
    mutate: runtime.mutate,
    readiness: () => ({ ready: true, reasons: [] }),
  });
  const statuses: Record<number, number> = {};
  const problems: string[] = [];
  let failure: string | undefined;
  try {
    await fc.assert(
      fc.asyncProperty(body, fc.constantFrom('/validate', '/mutate'), async (payload, url) => {
        const res = await app.inject({
          method: 'POST',
          url,
          payload,
          headers: { 'content-type': 'application/json' },
        });
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        return wellFormed(res.statusCode, res.body, payload, problems, url);
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
  } catch (err: unknown) {
    failure = (err as Error).message.slice(0, 2000);
  }
  const health = await app.inject({ method: 'GET', url: '/healthz' });
  await app.close();
  await runtime.close();
  const leaked = lines.filter((l) => l.includes(CANARY)).slice(0, 3);
  process.stdout.write(
    `${JSON.stringify({ runs: RUNS, seed: SEED, statuses, problems: problems.slice(0, 5), leaked, healthy: health.statusCode === 200, logLines: lines.length, failure })}\n`,
  );
}

function wellFormed(status: number, text: string, payload: string, problems: string[], url: string): boolean {
  if (status >= 500) {
    problems.push(`${url} -> ${status}: ${text.slice(0, 200)}`);
    return false;
  }
  const reply = JSON.parse(text) as Record<string, unknown>;
  if (status !== 200) return typeof reply.code === 'string' && typeof reply.message === 'string';
  const response = reply.response as Record<string, unknown> | undefined;
  const sent = JSON.parse(payload) as { request?: { uid?: unknown } };
  if (reply.kind !== 'AdmissionReview' || !response) return false;
  if (response.uid !== sent.request?.uid || typeof response.allowed !== 'boolean') return false;
  if (!response.allowed) {
    const st = response.status as { code?: unknown; message?: unknown } | undefined;
    if (typeof st?.code !== 'number' || typeof st.message !== 'string') return false;
    if (st.message.includes(CANARY)) {
      problems.push(`refusal message carries the canary: ${st.message.slice(0, 200)}`);
      return false;
    }
  }
  if (JSON.stringify(response.warnings ?? []).includes(CANARY)) {
    problems.push('a warning carries the canary');
    return false;
  }
  if (response.patch !== undefined) {
    const ops = JSON.parse(Buffer.from(String(response.patch), 'base64').toString('utf8')) as unknown;
    if (!Array.isArray(ops) || response.patchType !== 'JSONPatch') return false;
    if (JSON.stringify(ops).includes('${ref:')) {
      problems.push('a patch still holds a literal placeholder');
      return false;
    }
  }
  return true;
}

await main();
