/**
 * Issue 11, item 7: big or deep objects are refused early and clearly. Through the real HTTPS
 * server with an AWS store (the AWS fake counts every call):
 * - 300,000 annotations inside 3 MiB, or annotations over Kubernetes' 256 KiB: a 422 naming the
 *   bound, before any reference is resolved (zero provider calls);
 * - an annotation value that is not a string but a value nested 100,000 levels deep: a 422, not a
 *   503 ESW_INTERNAL (a recursive String() overflowed the stack);
 * - an ExternalSecret nesting 10,000 levels inside `spec.target.template` (which keeps unknown
 *   fields): a 422;
 * - JSON the webhook parses from tenant text stays bounded: a deep `esw.io/refs` record is not
 *   ours (the Secret is filled), a remote value nested deeper than the reader allows is a clear 404.
 */
import { randomUUID } from 'node:crypto';
import t, { type Test } from 'tap';
import type { AdmissionResponse } from '../../src/admission/types.ts';
import type { KubeObject } from '../../src/api/types.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { createRuntime } from '../../src/runtime.ts';
import { createCertificates } from '../../src/server/certs.ts';
import { AwsSecretsManagerFake } from '../fakes/aws-secrets-manager.ts';
import { request } from '../helpers/https.ts';
import { serveHttps } from '../helpers/serve-https.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';
const b64 = (s: string) => Buffer.from(s).toString('base64');

async function setup(t: Test) {
  const aws = await AwsSecretsManagerFake.start();
  t.teardown(() => aws.close());
  aws.put('app/db', JSON.stringify({ username: 'u', password: 'p' }));
  const depth = 100_000;
  aws.put('app/deep', `${'['.repeat(depth)}1${']'.repeat(depth)}`);
  const registry = new MemoryRegistry();
  registry.upsert({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'aws-creds', namespace: 'default' },
    data: { id: b64('AKIDEXAMPLE'), key: b64('secret-key') },
  } as KubeObject);
  registry.upsert({
    apiVersion: 'external-secrets.io/v1',
    kind: 'SecretStore',
    metadata: { name: 'aws', namespace: 'default', uid: 'uid-aws', generation: 1 },
    spec: {
      provider: {
        aws: {
          service: 'SecretsManager',
          region: 'us-east-1',
          auth: {
            secretRef: {
              accessKeyIDSecretRef: { name: 'aws-creds', key: 'id' },
              secretAccessKeySecretRef: { name: 'aws-creds', key: 'key' },
            },
          },
        },
      },
    },
  } as KubeObject);
  const logger = createLogger({ level: 'silent' });
  const metrics = createMetrics();
  const runtime = createRuntime(registry, registry, {
    logger,
    metrics,
    admissionDeadlineMs: 60_000,
    cacheTtlMs: 0,
    endpoints: { aws: aws.endpoint },
  });
  t.teardown(() => runtime.close());
  const certs = await createCertificates({ hosts: ['localhost', '127.0.0.1'] });
  const server = await serveHttps(t, runtime, { bundle: certs, logger, metrics });
  /** POSTs raw JSON text (deep values cannot go through JSON.stringify). */
  const post = async (path: string, body: string): Promise<AdmissionResponse> => {
    const res = await request(`https://127.0.0.1:${server.port}${path}`, body, { ca: certs.caCert });
    t.equal(res.status, 200, `${path}: a verdict in a 200, never an HTTP error`);
    return res.json<{ response: AdmissionResponse }>().response;
  };
  const calls = () => aws.count('GetSecretValue') + aws.count('BatchGetSecretValue');
  return { post, calls };
}

/** A review of a placeholder Secret; `annotations` and `extra` are raw JSON text. */
function secretReview(
  annotations: string,
  opts: { data?: Record<string, string>; labels?: string } = {},
): string {
  const data = opts.data ?? { password: b64('${ref:app/db#password}') };
  return `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"${randomUUID()}","kind":{"group":"","version":"v1","kind":"Secret"},"resource":{"group":"","version":"v1","resource":"secrets"},"name":"s","namespace":"default","operation":"CREATE","dryRun":false,"object":{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"default","labels":${opts.labels ?? '{"esw.io/inject":"true"}'},"annotations":{"esw.io/store":"aws"${annotations}}},"type":"Opaque","data":${JSON.stringify(data)}}}}`;
}

t.test('annotations: count and total size refused before any lookup', async (t) => {
  const { post, calls } = await setup(t);

  // 300,000 annotations: about 3 MiB, within what the API server accepts in a request.
  const many = Array.from({ length: 300_000 }, (_, i) => `,"${i.toString(36)}":""`).join('');
  const body = secretReview(many);
  t.ok(Buffer.byteLength(body) < 3 * 1024 * 1024, `${Buffer.byteLength(body)} bytes`);
  const tooMany = await post('/mutate', body);
  t.match(tooMany, {
    allowed: false,
    status: {
      code: 422,
      message:
        'Secret "default/s" refused (ESW_VALIDATION): metadata.annotations: more than 1024 annotations (this webhook\'s limit)',
    },
  });
  t.equal(calls(), 0, 'refused before any provider call');

  // Few annotations, more than 256 KiB together: Kubernetes' own limit, refused up front too.
  const big = `,"a":"${'x'.repeat(200 * 1024)}","b":"${'y'.repeat(60 * 1024)}"`;
  const tooBig = await post('/mutate', secretReview(big));
  t.match(tooBig.status, {
    code: 422,
    message: /metadata\.annotations: Too long: must have at most 262144 bytes/,
  });
  t.equal(calls(), 0, 'refused before any provider call');

  // The same checks on /validate (the validating webhook sees opted-in Secrets too).
  t.match((await post('/validate', body)).status, { code: 422, message: /more than 1024 annotations/ });

  // Within bounds: filled as usual.
  const ok = await post('/mutate', secretReview(',"team":"platform"'));
  t.equal(ok.allowed, true, 'a normal Secret is filled');
  t.ok(calls() > 0, 'and its reference was resolved');
});

t.test('values that are not strings, or too deep, are a 422 — never a 503', async (t) => {
  const { post, calls } = await setup(t);
  const depth = 100_000;
  const deepArray = `${'['.repeat(depth)}${']'.repeat(depth)}`;
  const deepAnnotation = await post('/mutate', secretReview(`,"esw.io/notes":${deepArray}`));
  t.match(deepAnnotation.status, {
    code: 422,
    message:
      'Secret "default/s" refused (ESW_VALIDATION): metadata.annotations["esw.io/notes"] must be a string',
  });
  const deepLabel = await post(
    '/mutate',
    secretReview('', { labels: `{"esw.io/inject":"true","app":${deepArray}}` }),
  );
  t.match(deepLabel.status, { code: 422, message: /metadata\.labels\["app"\] must be a string/ });
  const longLabel = await post(
    '/mutate',
    secretReview('', { labels: `{"esw.io/inject":"true","app":"${'a'.repeat(64)}"}` }),
  );
  t.match(longLabel.status, { code: 422, message: /must be no more than 63 characters/ });
  t.equal(calls(), 0, 'nothing was resolved for any of them');

  // Nesting anywhere in the object, e.g. under the Secret's own fields.
  const deepField = secretReview('').replace('"type":"Opaque"', `"type":"Opaque","extra":${deepArray}`);
  t.match((await post('/mutate', deepField)).status, {
    code: 422,
    message: /the object is nested deeper than 64 levels/,
  });
});

t.test('an ExternalSecret nested deep inside spec.target.template is refused by /validate', async (t) => {
  const { post } = await setup(t);
  const depth = 10_000;
  const deep = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
  const es = `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"${randomUUID()}","kind":{"group":"external-secrets.io","version":"v1","kind":"ExternalSecret"},"resource":{"group":"external-secrets.io","version":"v1","resource":"externalsecrets"},"name":"es","namespace":"default","operation":"CREATE","object":{"apiVersion":"external-secrets.io/v1","kind":"ExternalSecret","metadata":{"name":"es","namespace":"default"},"spec":{"secretStoreRef":{"name":"aws"},"target":{"template":{"unknown":${deep}}},"data":[{"secretKey":"a","remoteRef":{"key":"app/db"}}]}}}}`;
  t.match(await post('/validate', es), {
    allowed: false,
    status: {
      code: 422,
      message:
        'ExternalSecret "default/es" refused (ESW_VALIDATION): the object is nested deeper than 64 levels',
    },
  });
});

t.test('tenant JSON the webhook parses stays bounded', async (t) => {
  const { post } = await setup(t);
  // A deep esw.io/refs record (inside 256 KiB) is not a record this project wrote: ignored, and
  // the Secret's references are resolved as for a new Secret.
  const depth = 50_000;
  const refs = JSON.stringify(`${'['.repeat(depth)}${']'.repeat(depth)}`);
  const filled = await post('/mutate', secretReview(`,"esw.io/refs":${refs}`));
  t.equal(filled.allowed, true, `filled (${filled.status?.message})`);
  t.ok(filled.patch, 'with a patch');
  // A remote value nested 100,000 levels deep: the property reader stops at its depth bound.
  const deepValue = await post('/mutate', secretReview('', { data: { x: b64('${ref:app/deep#0}') } }));
  t.match(deepValue.status, { code: 404, message: /property "0" not found: remote secret "app\/deep"/ });
});
