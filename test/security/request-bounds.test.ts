/**
 * Issue 11, item 6: memory through the port is bounded. Through the real HTTPS server:
 * - requests reserve their declared body size before the body is read; one that would take the
 *   bytes in flight past the budget is answered 429 with Retry-After at once (its body is never
 *   sent here), while smaller requests still fit — accounting, not RSS;
 * - the body limit is the largest AdmissionReview the API server sends (6 MiB, computed in
 *   src/server/request-bounds.ts): such a review is served, one byte more is a 413 in our words;
 * - the budget's default follows the container's memory limit, through flag, env and the chart;
 *   the chart's NetworkPolicy narrows the webhook port to what the cluster lets us know.
 * Requests are held open deterministically (headers sent, body not), and the test waits for the
 * server's own gauge of bytes in flight, never for time.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { parseAllDocuments } from 'yaml';
import { NAMESPACE, render } from '../../scripts/render-deploy.ts';
import { allow } from '../../src/admission/types.ts';
import { parseServeConfig } from '../../src/config.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { createCertificates } from '../../src/server/certs.ts';
import {
  BODY_LIMIT,
  defaultInflightBytes,
  MAX_REVIEW_BYTES,
  memoryLimit,
  parseBytes,
} from '../../src/server/request-bounds.ts';
import { startServer } from '../../src/server/serve.ts';
import { admissionReview } from '../helpers/admission-review.ts';
import { RawConnection } from '../helpers/raw-http.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const MiB = 1024 * 1024;

function review(uid: string, object: object, oldObject: object | null = null, pad = 0): string {
  const text = JSON.stringify(
    admissionReview('Secret', object, {
      uid,
      name: 's',
      namespace: 'default',
      operation: oldObject ? 'UPDATE' : 'CREATE',
      userInfo: {
        username: 'system:serviceaccount:argocd:argocd-application-controller',
        uid: '7d0f1c2e-0000-4000-8000-000000000000',
        groups: Array.from({ length: 40 }, (_, i) => `oidc:group-${i}`),
      },
      oldObject,
      dryRun: false,
    }),
  );
  return text + ' '.repeat(pad);
}

async function serve(t: Test, maxInflightBytes: number) {
  const dir = await mkdtemp(join(tmpdir(), 'esw-bounds-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const certs = await createCertificates({ hosts: ['localhost', '127.0.0.1'] });
  const tls = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
  await writeFile(tls.certFile, certs.cert);
  await writeFile(tls.keyFile, certs.key);
  const logger = createLogger({ level: 'silent' });
  const metrics = createMetrics();
  const server = await startServer(
    { validate: () => allow(), mutate: () => allow(), notReady: () => [] },
    { port: 0, host: '127.0.0.1', tls, logger, metrics, certPollMs: 60_000, maxInflightBytes },
  );
  t.teardown(() => server.shutdown('test'));
  const inflight = async () => (await metrics.admissionInflightBytes.get()).values[0]?.value ?? 0;
  /** Waits until the server has reserved exactly `bytes` (its own gauge; no timing). */
  const inflightIs = async (bytes: number) => {
    for (let i = 0; i < 100_000 && (await inflight()) !== bytes; i++) {
      await new Promise((r) => setImmediate(r));
    }
    return inflight();
  };
  const open = () => RawConnection.open(server.port, certs.caCert);
  return { server, metrics, certs, open, inflightIs };
}

t.test(
  'bytes in flight are bounded: the request beyond the budget gets 429 before its body is read',
  async (t) => {
    const { open, inflightIs, metrics } = await serve(t, 2 * BODY_LIMIT);
    const big = 5 * MiB;
    // Two requests declare 5 MiB each and send no body: both are in flight, holding 10 MiB.
    const held = [await open(), await open()];
    for (const c of held)
      c.send('POST', '/mutate', { 'content-type': 'application/json', 'content-length': big });
    t.equal(await inflightIs(2 * big), 2 * big, 'two bodies reserved before any byte of them arrived');

    // A third 5 MiB request does not fit: 429 at once, with Retry-After, its body never sent.
    const third = await open();
    third.send('POST', '/mutate', { 'content-type': 'application/json', 'content-length': big });
    const refused = await third.response();
    t.equal(refused.status, 429);
    t.equal(refused.headers['retry-after'], '1');
    t.match(JSON.parse(refused.body), { code: 'ESW_BUSY', message: /too many request bytes in flight/ });
    third.destroy();

    // A body without Content-Length (chunked) is counted as it arrives: 3 MiB do not fit in the
    // 2 MiB left, so it is refused part-way, with the same 429.
    const chunked = await open();
    chunked.send('POST', '/validate', { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const mib = 'x'.repeat(MiB);
    for (let i = 0; i < 3; i++) chunked.socket.write(`${MiB.toString(16)}\r\n${mib}\r\n`);
    const cut = await chunked.response();
    t.equal(cut.status, 429, 'no Content-Length: refused when its bytes do not fit');
    t.equal(cut.headers['retry-after'], '1');
    t.match(JSON.parse(cut.body), { code: 'ESW_BUSY' });
    chunked.destroy();
    t.equal(await inflightIs(2 * big), 2 * big, 'what the chunked request held was given back');

    // A small request fits next to the held ones and is served normally, chunked or not.
    const small = await open();
    const smallBody = review('small', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' } });
    small.post('/validate', smallBody);
    t.equal((await small.response()).status, 200, 'what fits is served');
    small.send('POST', '/validate', { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    small.socket.write(`${Buffer.byteLength(smallBody).toString(16)}\r\n${smallBody}\r\n0\r\n\r\n`);
    t.equal((await small.response()).status, 200, 'a small chunked request is served too');
    small.destroy();
    t.equal(await inflightIs(2 * big), 2 * big, 'the small requests gave their bytes back');

    // One held client goes away: its reservation is released, and a 5 MiB request fits again.
    held[0]?.destroy();
    t.equal(await inflightIs(big), big, 'released when its connection closed');
    const fits = await open();
    fits.post(
      '/mutate',
      review('fits', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' } }, null, big - 600),
    );
    const served = await fits.response();
    t.equal(served.status, 200, 'served once there is room');
    fits.destroy();
    held[1]?.destroy();
    t.equal(await inflightIs(0), 0, 'nothing held at the end');
    const busy = (await metrics.admissionRequests.get()).values.filter((v) => v.labels.result === 'busy');
    t.equal(
      busy.reduce((n, v) => n + v.value, 0),
      2,
      'refusals counted as result="busy"',
    );
  },
);

t.test('the body limit is the largest AdmissionReview the API server sends', async (t) => {
  t.equal(MAX_REVIEW_BYTES, 6_269_616, 'the computation in src/server/request-bounds.ts');
  t.equal(BODY_LIMIT, 6 * MiB);
  const { open } = await serve(t, 2 * BODY_LIMIT);

  // An UPDATE of a Secret at Kubernetes' limits: 1 MiB of data (binary, so base64 in JSON),
  // 256 KiB of annotations made of characters Go's JSON encoder writes as \u003c, twice.
  const data: Record<string, string> = {};
  for (let i = 0; i < 16; i++)
    data[`k${String(i).padStart(2, '0')}`] = randomBytes(64 * 1024 - 3).toString('base64');
  const annotations: Record<string, string> = {};
  for (let i = 0; i < 4; i++) annotations[`a${i}`] = '<'.repeat(64 * 1024 - 2);
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 's',
      namespace: 'default',
      uid: '1b4f5e3c-0000-4000-8000-000000000000',
      resourceVersion: '123456',
      labels: { 'esw.io/inject': 'true', 'app.kubernetes.io/name': 'app' },
      annotations,
      managedFields: [
        {
          manager: 'kubectl',
          operation: 'Apply',
          apiVersion: 'v1',
          fieldsType: 'FieldsV1',
          fieldsV1: { 'f:data': Object.fromEntries(Object.keys(data).map((k) => [`f:${k}`, {}])) },
        },
      ],
    },
    type: 'Opaque',
    data,
  };
  const largest = review('largest', secret, secret).replaceAll('<', '\\u003c');
  const bytes = Buffer.byteLength(largest);
  t.ok(
    bytes > 5.5 * MiB && bytes <= BODY_LIMIT,
    `the largest review is ${bytes} bytes, within ${BODY_LIMIT}`,
  );
  const c = await open();
  c.post('/validate', largest);
  t.equal((await c.response()).status, 200, 'served');

  // One byte over the limit: 413 in our words, answered from the header alone.
  const over = await open();
  over.send('POST', '/validate', { 'content-type': 'application/json', 'content-length': BODY_LIMIT + 1 });
  const refused = await over.response();
  t.equal(refused.status, 413);
  t.same(JSON.parse(refused.body), {
    code: 'ESW_BAD_REQUEST',
    message: `request body is larger than ${BODY_LIMIT} bytes, the largest AdmissionReview the API server sends`,
  });
  over.destroy();
  c.destroy();
});

t.test('the budget follows the memory limit: flag, env, cgroup, chart', async (t) => {
  t.equal(parseBytes('48Mi'), 48 * MiB);
  t.equal(parseBytes('50331648'), 50_331_648);
  t.equal(parseBytes('64M'), 64_000_000);
  t.equal(parseBytes('12 apples'), undefined);
  t.equal(defaultInflightBytes(512 * MiB), 32 * MiB, '1/16 of the chart default limit');
  t.equal(defaultInflightBytes(64 * MiB), BODY_LIMIT, 'never less than one largest request');
  t.equal(defaultInflightBytes(undefined), 32 * MiB, 'no limit known: as for 512Mi');

  const dir = t.testdir({ v2: 'max\n', v2limit: '1073741824\n', v1: '9223372036854771712\n' });
  t.equal(memoryLimit({}, [join(dir, 'v2')]), undefined, 'cgroup v2 "max": no limit');
  t.equal(memoryLimit({}, [join(dir, 'missing'), join(dir, 'v2limit')]), 1024 * MiB);
  t.equal(memoryLimit({}, [join(dir, 'v1')]), undefined, 'cgroup v1 without a limit');
  t.equal(memoryLimit({ ESW_MEMORY_LIMIT: '536870912' }, [join(dir, 'v2limit')]), 512 * MiB, 'env first');

  t.equal(parseServeConfig([], { ESW_MEMORY_LIMIT: String(256 * MiB) }).maxInflightBytes, 16 * MiB);
  t.equal(parseServeConfig(['--max-inflight-bytes', '48Mi'], {}).maxInflightBytes, 48 * MiB);
  t.equal(parseServeConfig([], { ESW_MAX_INFLIGHT_BYTES: '40Mi' }).maxInflightBytes, 40 * MiB);
  t.throws(() => parseServeConfig(['--max-inflight-bytes', '1Mi'], {}), /at least 6291456 bytes/);

  // The chart: the container's limit reaches the server through the Downward API, and the value
  // becomes the flag the server reads.
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests are read field by field
  const docs = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as any);
  const container = (objs: ReturnType<typeof docs>) =>
    objs.find((o) => o?.kind === 'Deployment').spec.template.spec.containers[0];
  const byDefault = container(docs(await render([])));
  const memEnv = byDefault.env.find((e: { name: string }) => e.name === 'ESW_MEMORY_LIMIT');
  t.same(memEnv.valueFrom, { resourceFieldRef: { containerName: 'webhook', resource: 'limits.memory' } });
  t.equal(byDefault.resources.limits.memory, '512Mi');
  const env = { POD_NAMESPACE: NAMESPACE, ESW_MEMORY_LIMIT: String(512 * MiB) };
  t.equal(
    parseServeConfig(byDefault.args.slice(1), env).maxInflightBytes,
    32 * MiB,
    'default: 1/16 of 512Mi',
  );
  const set = container(docs(await render(['maxInflightBytes=48Mi'])));
  t.equal(parseServeConfig(set.args.slice(1), env).maxInflightBytes, 48 * MiB, 'the value wins');
});

t.test('the NetworkPolicy narrows the webhook port as far as the cluster lets us know', async (t) => {
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests are read field by field
  const policy = async (set: string[]): Promise<any> =>
    parseAllDocuments(await render(set))
      .map((d) => d.toJS())
      .find((o) => o?.kind === 'NetworkPolicy');
  const byDefault = await policy([]);
  t.same(byDefault.spec.policyTypes, ['Ingress']);
  t.same(
    byDefault.spec.ingress,
    [{ ports: [{ port: 8443, protocol: 'TCP' }] }],
    'port 8443 only, any source',
  );

  const apiServers = await policy(['networkPolicy.apiServerCIDRs={10.0.0.0/28}']);
  t.same(apiServers.spec.ingress[0].from, [{ ipBlock: { cidr: '10.0.0.0/28' } }]);

  const notPods = await policy(['networkPolicy.podCIDRs={10.244.0.0/16,fd00:10:244::/56}']);
  t.same(notPods.spec.ingress[0].from, [
    { ipBlock: { cidr: '0.0.0.0/0', except: ['10.244.0.0/16'] } },
    { ipBlock: { cidr: '::/0', except: ['fd00:10:244::/56'] } },
  ]);
  t.same(notPods.spec.ingress[0].ports, [{ port: 8443, protocol: 'TCP' }]);

  const both = await policy([
    'networkPolicy.apiServerCIDRs={10.0.0.0/28}',
    'networkPolicy.podCIDRs={10.244.0.0/16}',
  ]);
  t.same(both.spec.ingress[0].from, [{ ipBlock: { cidr: '10.0.0.0/28' } }], 'known API servers win');

  // Konnectivity carries the API server's calls from pods: name them next to the pod network.
  const konnectivity = await policy([
    'networkPolicy.podCIDRs={10.244.0.0/16}',
    'networkPolicy.apiServerPeers[0].namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name=kube-system',
  ]);
  t.same(konnectivity.spec.ingress[0].from, [
    { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } } },
    { ipBlock: { cidr: '0.0.0.0/0', except: ['10.244.0.0/16'] } },
    { ipBlock: { cidr: '::/0' } },
  ]);

  const egress = await policy([
    'networkPolicy.egress[0].ports[0].port=53',
    'networkPolicy.egress[0].ports[0].protocol=UDP',
  ]);
  t.same(egress.spec.policyTypes, ['Ingress', 'Egress']);
  t.same(egress.spec.egress, [{ ports: [{ port: 53, protocol: 'UDP' }] }]);
});

t.test('the refused request is answered even when a client sends its body anyway', async (t) => {
  const { open, inflightIs } = await serve(t, BODY_LIMIT);
  const held = await open();
  held.send('POST', '/mutate', { 'content-type': 'application/json', 'content-length': BODY_LIMIT });
  t.equal(await inflightIs(BODY_LIMIT), BODY_LIMIT);
  // The API server writes the whole body without waiting: the 429 still comes, and the
  // connection stays usable.
  const eager = await open();
  const body = review('eager', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' } });
  eager.post('/validate', body);
  t.equal((await eager.response()).status, 429);
  held.destroy();
  t.equal(await inflightIs(0), 0);
  eager.post('/validate', body);
  t.equal((await eager.response()).status, 200, 'the same connection serves the next request');
  eager.destroy();
});
