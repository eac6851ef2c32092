import t from 'tap';
import { deny } from '../../src/admission/types.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { ADMISSION_BUCKETS, createMetrics } from '../../src/observability/metrics.ts';
import { buildApp } from '../../src/server/app.ts';
import { admissionReview } from '../helpers/admission-review.ts';

const review = (uid: string, kind: string, group = 'external-secrets.io') =>
  admissionReview(kind, { metadata: { name: 'n' } }, { uid, group, namespace: 'default' });

/** The value of one sample line of the Prometheus text format, or undefined. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.lastIndexOf('}'));
    const got = Object.fromEntries(
      body.split(/,(?=\w+=)/).map((kv) => {
        const i = kv.indexOf('=');
        return [kv.slice(0, i), JSON.parse(kv.slice(i + 1)) as string];
      }),
    );
    if (Object.entries(labels).every(([k, v]) => got[k] === v))
      return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

t.test('/metrics counts admissions by operation, kind and result after known traffic', async (t) => {
  const metrics = createMetrics();
  const app = buildApp({
    logger: silentLogger(),
    metrics,
    validate: (req) => (req.name === 'bad' ? deny(422, 'invalid') : { allowed: true }),
    mutate: () => ({ allowed: true, patchType: 'JSONPatch', patch: Buffer.from('[]').toString('base64') }),
    readiness: () => ({ ready: true, reasons: [] }),
  });
  t.teardown(() => app.close());
  const post = (url: string, payload: unknown) =>
    app.inject({ method: 'POST', url, payload: payload as object });

  for (const uid of ['a', 'b']) await post('/validate', review(uid, 'ExternalSecret'));
  await post('/validate', {
    ...review('c', 'SecretStore'),
    request: { ...review('c', 'SecretStore').request, name: 'bad' },
  });
  for (const uid of ['d', 'e', 'f']) await post('/mutate', review(uid, 'Secret', ''));
  await post('/validate', review('g', 'Pod', ''));
  await post('/validate', { not: 'a review' });

  const res = await app.inject({ method: 'GET', url: '/metrics' });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /text\/plain/);
  const text = res.body;
  const counter = 'esw_admission_requests_total';
  t.equal(sample(text, counter, { operation: 'validate', kind: 'ExternalSecret', result: 'allowed' }), 2);
  t.equal(sample(text, counter, { operation: 'validate', kind: 'SecretStore', result: 'denied' }), 1);
  t.equal(sample(text, counter, { operation: 'mutate', kind: 'Secret', result: 'patched' }), 3);
  t.equal(
    sample(text, counter, { operation: 'validate', kind: 'other', result: 'allowed' }),
    1,
    'unknown kinds are bounded',
  );
  t.equal(sample(text, counter, { operation: 'validate', kind: 'unknown', result: 'bad_request' }), 1);

  const hist = 'esw_admission_duration_seconds';
  t.equal(sample(text, `${hist}_count`, { operation: 'mutate', kind: 'Secret', result: 'patched' }), 3);
  for (const le of ADMISSION_BUCKETS) {
    t.ok(text.includes(`le="${le}"`), `bucket ${le}s, as the API server's webhook histogram`);
  }
  t.equal(
    sample(text, `${hist}_bucket`, { operation: 'mutate', kind: 'Secret', result: 'patched', le: '+Inf' }),
    3,
  );
  t.notOk(/uid="|name="[a-g]"/.test(text), 'no unbounded label (uid, object name) on admission metrics');
});
