/**
 * The admission lane (src/server/app.ts `admissionLane`) answers the requests it takes with the
 * same bytes fastify answers them with, and hands everything else to fastify. Two apps over real
 * HTTPS, one with the lane and one without, get the same raw requests; status, headers (but the
 * date) and body must be equal. A fastify onRequest hook counts what fastify saw, so the test also
 * shows which requests the lane took: a lane that took nothing would pass the comparison alone.
 */
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import type { AdmissionResult } from '../../src/admission/types.ts';
import { validateAdmission } from '../../src/admission/validate.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics, metricsText } from '../../src/observability/metrics.ts';
import { buildApp } from '../../src/server/app.ts';
import { createCertificates } from '../../src/server/certs.ts';
import { admissionReview, type RequestFields } from '../helpers/admission-review.ts';
import { RawConnection } from '../helpers/raw-http.ts';

const BODY_LIMIT = 4096;
const CANARY = 'canary-lane-7f3a9c';
/** A result whose answer cannot be written (a bug): JSON.stringify throws on a BigInt. */
const UNSERIALISABLE: AdmissionResult = { allowed: true, warnings: [1n as unknown as string] };
const PATCH = Buffer.from(JSON.stringify([{ op: 'add', path: '/data/x', value: 'eA==' }])).toString('base64');

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const bundle = await createCertificates({ hosts: ['localhost', '127.0.0.1'] });

async function startApp(t: Test, admissionLane: boolean) {
  const metrics = createMetrics();
  const app = buildApp(
    {
      logger: createLogger({ level: 'silent' }),
      metrics,
      validate: (request) => {
        if (request.name === 'throws') throw new Error(`handler bug ${CANARY}`);
        if (request.name === 'unserialisable') return UNSERIALISABLE;
        return validateAdmission(request);
      },
      mutate: async (request) =>
        request.name === 'unserialisable'
          ? UNSERIALISABLE
          : request.name === 'patched'
            ? { allowed: true, patchType: 'JSONPatch', patch: PATCH }
            : { allowed: true },
      readiness: () => ({ ready: true, reasons: [] }),
    },
    {
      https: { cert: bundle.cert, key: bundle.key },
      bodyLimit: BODY_LIMIT,
      maxInflightBytes: BODY_LIMIT,
      admissionLane,
    },
  );
  let seenByFastify = 0;
  app.addHook('onRequest', (_req, _reply, done) => {
    seenByFastify++;
    done();
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => app.close());
  return {
    port: (app.server.address() as AddressInfo).port,
    seen: () => seenByFastify,
    /** The admission counters (the duration histogram differs from run to run). */
    counters: async () =>
      (await metricsText(metrics.registry))
        .split('\n')
        .filter((l) => /^esw_admission_(requests|refusals)_total\{/.test(l))
        .join('\n'),
    /** The body bytes reserved by requests in flight, from the gauge. */
    inflight: async () =>
      Number(/^esw_admission_inflight_bytes (\d+)$/m.exec(await metricsText(metrics.registry))?.[1]),
  };
}

/** One request on its own connection, exactly these bytes; the answer (without its date). */
async function exchange(port: number, raw: string): Promise<Reply> {
  const conn = await RawConnection.open(port, bundle.caCert);
  conn.socket.write(raw);
  const { status, headers, body } = await conn.response();
  await conn.closed();
  delete headers.date;
  return { status, headers, body };
}

function post(path: string, body: string, headers: Record<string, string> = {}): string {
  const all: Record<string, string> = {
    host: 'localhost',
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    connection: 'close',
    ...headers,
  };
  const lines = Object.entries(all)
    .filter(([, v]) => v !== '')
    .map(([k, v]) => `${k}: ${v}`);
  return `POST ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n${body}`;
}

function review(fields: RequestFields, object: unknown): string {
  return JSON.stringify(
    admissionReview('ExternalSecret', object, { uid: 'uid-lane', namespace: 'default', ...fields }),
  );
}

const externalSecret = (spec: unknown) => ({
  apiVersion: 'external-secrets.io/v1',
  kind: 'ExternalSecret',
  metadata: { name: 'db', namespace: 'default' },
  spec,
});
const validSpec = {
  secretStoreRef: { name: 'store', kind: 'SecretStore' },
  target: { name: 'db' },
  data: [{ secretKey: 'password', remoteRef: { key: 'db', property: 'password' } }],
};
const secretReview = (name: string) =>
  JSON.stringify({
    apiVersion: 'admission.k8s.io/v1beta1',
    kind: 'AdmissionReview',
    request: {
      uid: 'uid-mutate',
      kind: { group: '', version: 'v1', kind: 'Secret' },
      resource: { group: '', version: 'v1', resource: 'secrets' },
      operation: 'CREATE',
      namespace: 'default',
      name,
      object: { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'default' } },
    },
  });

/** [name, raw request, taken by the lane] */
const cases: [string, string, boolean][] = [
  ['a valid ExternalSecret', post('/validate', review({}, externalSecret(validSpec))), true],
  [
    "an invalid one: a 200 refusal with the field's path",
    post('/validate', review({}, externalSecret({ ...validSpec, refreshInterval: 'hourly' }))),
    true,
  ],
  ["the API server's query", post('/validate?timeout=10s', review({}, externalSecret(validSpec))), true],
  ['a handler that throws', post('/validate', review({ name: 'throws' }, externalSecret(validSpec))), true],
  ['an async /mutate with a patch', post('/mutate', secretReview('patched')), true],
  [
    'an answer that cannot be written',
    post('/validate', review({ name: 'unserialisable' }, externalSecret(validSpec))),
    true,
  ],
  ['an async answer that cannot be written', post('/mutate', secretReview('unserialisable')), true],
  ['a /mutate without one', post('/mutate?timeout=5s', secretReview('plain')), true],
  [
    'charset=utf-8',
    post('/mutate', secretReview('patched'), { 'content-type': 'application/json; charset=utf-8' }),
    true,
  ],
  ['not JSON', post('/validate', `{"nope": "${CANARY}`), true],
  ['prototype poisoning', post('/validate', '{"__proto__": {"x": 1}}'), true],
  ['constructor poisoning', post('/validate', '{"constructor": {"prototype": {"x": 1}}}'), true],
  ['JSON that is not an AdmissionReview', post('/mutate', `["${CANARY}"]`), true],
  ['null', post('/validate', 'null'), true],
  ['no request', post('/validate', '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}'), true],
  [
    'another content type',
    post('/validate', review({}, externalSecret(validSpec)), { 'content-type': 'text/plain' }),
    false,
  ],
  [
    'no content type',
    post('/validate', review({}, externalSecret(validSpec)), { 'content-type': '' }),
    false,
  ],
  ['an empty body', post('/validate', ''), false],
  ['a body over the limit', post('/validate', `"${'x'.repeat(BODY_LIMIT)}"`), false],
  [
    'a chunked body',
    `POST /validate HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n${chunked(review({}, externalSecret(validSpec)))}`,
    false,
  ],
  ['another route', post('/validate/', review({}, externalSecret(validSpec))), false],
  ['another method', 'GET /validate HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n', false],
  ['the health check', 'GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n', false],
];

function chunked(body: string): string {
  const half = Math.floor(body.length / 2);
  return [body.slice(0, half), body.slice(half)]
    .map((part) => `${Buffer.byteLength(part).toString(16)}\r\n${part}\r\n`)
    .concat('0\r\n\r\n')
    .join('');
}

t.test('the lane answers every request with the bytes fastify answers it with', async (t) => {
  const withLane = await startApp(t, true);
  const fastifyOnly = await startApp(t, false);
  for (const [name, raw, taken] of cases) {
    const laneSeen = withLane.seen();
    const fastifySeen = fastifyOnly.seen();
    const mine = await exchange(withLane.port, raw);
    const theirs = await exchange(fastifyOnly.port, raw);
    t.same(mine, theirs, `${name}: the same status, headers and body`);
    t.ok(mine.status >= 200 && mine.status < 600, `${name}: answered (${mine.status})`);
    t.notMatch(mine.body, CANARY, `${name}: nothing of the body in the answer`);
    t.equal(withLane.seen() - laneSeen, taken ? 0 : 1, `${name}: ${taken ? 'the lane' : 'fastify'} answered`);
    t.equal(fastifyOnly.seen() - fastifySeen, 1, `${name}: the app without the lane went through fastify`);
  }
  const counted = await withLane.counters();
  t.match(counted, /result="bad_request"/, 'refusals of what is not a review are counted');
  t.equal(counted, await fastifyOnly.counters(), 'the same admissions counted');
});

t.test('a request the in-flight budget cannot hold gets the same 429, and its bytes come back', async (t) => {
  for (const admissionLane of [true, false]) {
    const app = await startApp(t, admissionLane);
    // A request whose body has not all arrived holds its Content-Length: the whole budget here.
    const held = await RawConnection.open(app.port, bundle.caCert);
    held.socket.write(post('/validate', `"${'x'.repeat(BODY_LIMIT - 2)}"`).slice(0, -10));
    t.ok(
      await until(async () => (await app.inflight()) === BODY_LIMIT),
      'the held request reserved its bytes',
    );
    const refused = await exchange(app.port, post('/validate', review({}, externalSecret(validSpec))));
    t.equal(refused.status, 429, `lane ${admissionLane}: refused while the budget is held`);
    t.equal(refused.headers['retry-after'], '1');
    t.match(refused.body, /"code":"ESW_BUSY"/);
    held.destroy();
    await held.closed();
    t.ok(await until(async () => (await app.inflight()) === 0), 'its bytes come back when it is gone');
    const answered = await exchange(app.port, post('/validate', review({}, externalSecret(validSpec))));
    t.equal(answered.status, 200, `lane ${admissionLane}: answered once the held request is gone`);
    t.equal(await app.inflight(), 0, `lane ${admissionLane}: nothing left reserved after an answer`);
  }
});

/** Polls `check` until it holds, at most 500 times (events, not time: each poll is a round trip). */
async function until(check: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return true;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return false;
}

/**
 * The lane decodes a body that arrives in one chunk at once, and one that arrives in several
 * through a decoder as fastify does (src/server/app.ts `BodyText`). A target name whose
 * characters take 2, 3 and 4 bytes is echoed in the refusal, so the answer shows the text read.
 */
const wideName = 'db-é€😀';
const wideBody = Buffer.from(
  review({}, externalSecret({ ...validSpec, target: { name: wideName } })),
  'utf8',
);
const wideHead = (bytes: number) =>
  Buffer.from(
    `POST /validate HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: ${bytes}\r\nconnection: close\r\n\r\n`,
  );

/** The answer to `body` sent as the head with `parts[0]`, then each further part once the server has read the one before. */
async function sendInParts(app: Awaited<ReturnType<typeof startApp>>, parts: Buffer[]): Promise<Reply> {
  const bytes = parts.reduce((n, p) => n + p.length, 0);
  const conn = await RawConnection.open(app.port, bundle.caCert);
  conn.socket.write(Buffer.concat([wideHead(bytes), parts[0] as Buffer]));
  // The body's bytes are reserved when its head is read, with the part that came with it: what
  // is written next arrives as another chunk.
  if (parts.length > 1 && !(await until(async () => (await app.inflight()) === bytes)))
    throw new Error('the server did not read the head');
  for (const part of parts.slice(1)) conn.socket.write(part);
  const { status, headers, body } = await conn.response();
  await conn.closed();
  delete headers.date;
  return { status, headers, body };
}

t.test('a character split between two chunks of the body is read whole, as fastify reads it', async (t) => {
  const withLane = await startApp(t, true);
  const fastifyOnly = await startApp(t, false);
  // Two bytes into the four of 😀.
  const split = wideBody.indexOf(Buffer.from('😀')) + 2;
  const parts = [wideBody.subarray(0, split), wideBody.subarray(split)];
  const laneSeen = withLane.seen();
  const mine = await sendInParts(withLane, parts);
  t.equal(withLane.seen(), laneSeen, 'the lane answered');
  t.same(mine, await sendInParts(fastifyOnly, parts), 'the same status, headers and body');
  t.equal(mine.status, 200);
  t.match(mine.body, JSON.stringify(wideName).slice(1, -1), 'the name as sent, every character whole');
  t.same(mine, await sendInParts(withLane, [wideBody]), 'the same answer as the body in one chunk');
});

t.test('malformed UTF-8 in a body is read as fastify reads it, in one chunk or split', async (t) => {
  const withLane = await startApp(t, true);
  const fastifyOnly = await startApp(t, false);
  // A stray continuation byte, a lead byte without its continuation, an overlong form, a surrogate.
  const bad = Buffer.from([0x80, 0xc3, 0x28, 0xc0, 0xaf, 0xed, 0xa0, 0x80]);
  const at = wideBody.indexOf(Buffer.from('€'));
  const body = Buffer.concat([wideBody.subarray(0, at), bad, wideBody.subarray(at)]);
  for (const split of [undefined, at + 2, at + 6]) {
    const parts = split === undefined ? [body] : [body.subarray(0, split), body.subarray(split)];
    const mine = await sendInParts(withLane, parts);
    t.same(mine, await sendInParts(fastifyOnly, parts), `split at ${split ?? 'none'}: the same answer`);
    t.equal(mine.status, 200, `split at ${split ?? 'none'}: answered`);
    t.match(mine.body, '\ufffd', `split at ${split ?? 'none'}: the malformed bytes read as U+FFFD`);
  }
});

t.test('reviews read together are handled together, each answered with its own verdict', async (t) => {
  // The lane handles the reviews one poll phase read in one batch (src/server/phase-batch.ts):
  // written on 24 connections at once, each must come back with its own uid and verdict — half
  // of them invalid, each refusal naming its own field — and none may go to fastify.
  let handled = 0;
  const app = buildApp(
    {
      logger: createLogger({ level: 'silent' }),
      metrics: createMetrics(),
      validate: (request) => {
        handled++;
        return validateAdmission(request);
      },
      mutate: () => ({ allowed: true }),
      readiness: () => ({ ready: true, reasons: [] }),
    },
    {
      https: { cert: bundle.cert, key: bundle.key },
      bodyLimit: BODY_LIMIT,
      maxInflightBytes: 64 * BODY_LIMIT,
    },
  );
  let seenByFastify = 0;
  app.addHook('onRequest', (_req, _reply, done) => {
    seenByFastify++;
    done();
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => app.close());
  const port = (app.server.address() as AddressInfo).port;
  const n = 24;
  const conns = await Promise.all(Array.from({ length: n }, () => RawConnection.open(port, bundle.caCert)));
  const key = (i: number) => `key-${i}`;
  const bodies = conns.map((_, i) => {
    const spec =
      i % 2 === 0
        ? validSpec
        : { ...validSpec, data: [{ secretKey: `bad key ${i}!`, remoteRef: { key: key(i) } }] };
    return review({ uid: `uid-${i}` }, externalSecret(spec));
  });
  // Written in one turn: the server reads them in as few poll phases as the kernel delivers.
  for (const [i, conn] of conns.entries()) conn.post('/validate', bodies[i] as string);
  const answers = await Promise.all(conns.map((conn) => conn.response()));
  for (const conn of conns) conn.socket.destroy();
  t.equal(handled, n);
  t.equal(seenByFastify, 0, 'every review taken by the lane');
  answers.forEach((a, i) => {
    t.equal(a.status, 200);
    const response = JSON.parse(a.body).response;
    t.equal(response.uid, `uid-${i}`, `answer ${i} is its own request's`);
    t.equal(response.allowed, i % 2 === 0, `answer ${i}: its own verdict`);
    if (i % 2 === 1) t.match(response.status.message, `bad key ${i}!`, `refusal ${i} names its own value`);
  });
});
