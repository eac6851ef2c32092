/**
 * What the admission handlers cost on their own, in process, without HTTP: the body's secure JSON
 * parse (fastify's parser), `/validate` of the bench's ExternalSecret CREATE (validated every
 * time), of the same UPDATE again (the validation memo), a warm `/mutate` (the render memo) and
 * a `/mutate` of a new manifest with every value cached (the memo's miss path), each through the
 * runtime as `esw serve` builds it with bench/fixtures/stores.yaml, and the metrics the server
 * counts for each review. These are the levers' own figures; bench/admission.ts measures the
 * whole server.
 *
 * Each figure is the best of BENCH_BATCHES (100) batches of 2,000 calls, µs per call: on a
 * shared machine the best batch is the one least disturbed. With BENCH_COMPARE=<another
 * build>/dist/main.js, that build's handlers are measured too, batch for batch alternating.
 *
 * Beside it, the bytes each call allocates (run with `node --expose-gc`, else the column is
 * left out): a forced young-generation collection, 200 calls, the growth of `heapUsed` ÷ 200; a
 * trial during which a collection ran (a PerformanceObserver's 'gc' entries) is dropped, as its
 * growth is not the calls'; the median of 10 clean trials, and how many trials it took. A young
 * collection, not a full one: after a full collection the next 200 calls allocated up to 3 KB
 * more each, a different amount each trial (a CREATE 4.2–7.8 KB on one build) — a server under
 * load runs young collections, rarely a full one. Allocation is a cost inside the server beyond
 * its own time (bench/RESULTS.md, "1. Admission").
 *
 *   npm run build && nice -n -15 taskset -c 0 node --expose-gc bench/admission-pieces.ts
 *
 * BENCH_COLD=1 adds a column measured closer to how the server runs a handler: with its caches
 * cold. Before each call (not timed) a 4 MiB buffer is written at every cache line, so the
 * handler's code and data have left the core's L2 as they have after a request's TLS, HTTP and
 * allocation in the server; the median of 2,000 single calls, builds alternating by round. A
 * CREATE costs ~2.5× cold what it costs in the hot loop (7 µs against 2.8; the server's own
 * histogram says 10–12 µs, so this is a floor), and a lever that only pays in a hot loop shows
 * here as what it is (bench/RESULTS.md, "1. Admission").
 *
 * BENCH_ONLY=<text>: only the pieces whose name contains it — e.g. for a CPU profile of one
 * handler, `BENCH_ONLY='ExternalSecret CREATE' node --cpu-prof bench/admission-pieces.ts` (self
 * time per call: the profile's ÷ BENCH_BATCHES × 2,000).
 */

import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { StringDecoder } from 'node:string_decoder';
import { setImmediate as turn } from 'node:timers/promises';
import secureJson from 'secure-json-parse';
import {
  appliedValidateReview,
  distinctMutateReview,
  mutateReview,
  unchangedUpdateReview,
  uncheckedKindReview,
  validateReview,
} from './admission-reviews.ts';
import { machine } from './lib.ts';

const batches = Number(process.env.BENCH_BATCHES ?? 100);
const CALLS = 2000;
const root = join(import.meta.dirname, '..');

interface Build {
  name: string;
  validate: (request: unknown) => unknown;
  mutate: (request: unknown) => unknown;
  parse: (body: unknown) => { ok: boolean; request?: unknown; error?: string };
  objectBoundsProblem: (object: unknown) => string | undefined;
  /** The admission lane's body read of one chunk (src/server/app.ts). */
  readBody: (chunk: Buffer) => string;
  reviewResponseJson: (apiVersion: string, uid: string, result: unknown) => string;
  metrics: {
    admissionRequests: { inc: (labels: object) => void };
    admissionDuration: { observe: (labels: object, value: number) => void };
  };
}

/** The runtime of a compiled build (dist/), as `esw serve --stores` builds it. */
async function load(name: string, dist: string): Promise<Build> {
  const { createStandaloneRuntime } = await import(join(dist, 'runtime.js'));
  const { createLogger } = await import(join(dist, 'observability/logger.js'));
  const { createMetrics } = await import(join(dist, 'observability/metrics.js'));
  const { parseAdmissionReview, reviewResponseJson } = await import(join(dist, 'admission/review.js'));
  const { objectBoundsProblem } = await import(join(dist, 'admission/object-bounds.js'));
  const { BodyText } = await import(join(dist, 'server/app.js'));
  const metrics = createMetrics();
  const runtime = await createStandaloneRuntime([join(root, 'bench/fixtures/stores.yaml')], {
    logger: createLogger({ level: 'warn' }),
    metrics,
    admissionDeadlineMs: 8000,
    cacheTtlMs: 300_000,
  });
  return {
    name,
    validate: runtime.validate,
    mutate: runtime.mutate,
    parse: parseAdmissionReview,
    objectBoundsProblem,
    readBody: BodyText
      ? (chunk) => {
          const body = new BodyText();
          body.add(chunk);
          return body.text();
        }
      : setEncodingRead,
    reviewResponseJson,
    metrics,
  };
}

/**
 * The body read of a build without `BodyText` (before 2026-12-03 noon): `req.setEncoding('utf8')`
 * made a StringDecoder per request, each chunk went through it into a string, and the stream
 * ended it — the same calls, without the stream around them.
 */
function setEncodingRead(chunk: Buffer): string {
  const decoder = new StringDecoder('utf8');
  let body = '';
  body += decoder.write(chunk);
  return body + decoder.end();
}

const builds = [await load('this build', join(root, 'dist'))];
if (process.env.BENCH_COMPARE) {
  builds.push(await load('BENCH_COMPARE build', dirname(process.env.BENCH_COMPARE)));
}

/** fastify's JSON parser with the options fastify gives it (prototype poisoning refused). */
const parseBody = (body: string) =>
  secureJson.parse(body, undefined, { protoAction: 'error', constructorAction: 'error' });

function requestOf(build: Build, body: string): unknown {
  const parsed = build.parse(parseBody(body));
  if (!parsed.ok) throw new Error(`bench: ${parsed.error}`);
  return parsed.request;
}

const objectOf = (body: string): unknown =>
  (parseBody(body) as { request: { object: unknown } }).request.object;

interface Piece {
  name: string;
  run: (build: Build) => () => unknown;
}

const pieces: Piece[] = [
  { name: 'secure JSON parse, the CREATE body', run: () => () => parseBody(validateReview) },
  { name: 'secure JSON parse, the UPDATE body', run: () => () => parseBody(unchangedUpdateReview) },
  { name: 'secure JSON parse, the /mutate body', run: () => () => parseBody(mutateReview) },
  {
    name: 'secure JSON parse, the CREATE body as `kubectl apply` makes it',
    run: () => () => parseBody(appliedValidateReview),
  },
  {
    name: '/validate handler, ExternalSecret CREATE',
    run: (b) => {
      const r = requestOf(b, validateReview);
      return () => b.validate(r);
    },
  },
  {
    name: '/validate handler, ExternalSecret CREATE as `kubectl apply` makes it',
    run: (b) => {
      const r = requestOf(b, appliedValidateReview);
      return () => b.validate(r);
    },
  },
  {
    name: '/validate handler, the same UPDATE again (memo)',
    run: (b) => {
      const r = requestOf(b, unchangedUpdateReview);
      return () => b.validate(r);
    },
  },
  {
    name: '/validate handler, a kind it does not check',
    run: (b) => {
      const r = requestOf(b, uncheckedKindReview);
      return () => b.validate(r);
    },
  },
  {
    name: '/mutate handler, warm (memo)',
    run: (b) => {
      const r = requestOf(b, mutateReview);
      return () => b.mutate(r);
    },
  },
  {
    // Every first admission of a Secret on a warm webhook: the memo misses, the values are all
    // cached. A distinct annotation per call, as bench/admission.ts sends it; the bodies parsed
    // before timing (the parse is the piece above), CALLS of them taken in turn, so no call
    // follows one with the same manifest. The answer's JSON too, as app.ts writes it: a kept
    // result's is written when kept, any other's when answered, so only both together compare.
    name: '/mutate handler + its answer, a new manifest each call (memo miss)',
    run: (b) => {
      const requests = Array.from({ length: CALLS }, () =>
        requestOf(b, distinctMutateReview.replace('[<id>]', randomUUID())),
      );
      let i = 0;
      return () =>
        b.reviewResponseJson('admission.k8s.io/v1', 'bench-mutate', b.mutate(requests[i++ % CALLS]));
    },
  },
  {
    // As the lane reads it: one chunk (the body almost always arrives whole), decoded as UTF-8.
    name: "the lane's body read, the CREATE body as `kubectl apply` makes it",
    run: (b) => {
      const chunk = Buffer.from(appliedValidateReview);
      return () => b.readBody(chunk);
    },
  },
  {
    name: 'parseAdmissionReview, the CREATE body',
    run: (b) => {
      const body = parseBody(validateReview);
      return () => b.parse(body);
    },
  },
  {
    name: 'parseAdmissionReview, the CREATE body as `kubectl apply` makes it',
    run: (b) => {
      const body = parseBody(appliedValidateReview);
      return () => b.parse(body);
    },
  },
  {
    name: 'objectBoundsProblem, the CREATE object',
    run: (b) => {
      const object = objectOf(validateReview);
      return () => b.objectBoundsProblem(object);
    },
  },
  {
    // managedFields and the last-applied annotation: what a cluster adds to the object.
    name: 'objectBoundsProblem, the CREATE object as `kubectl apply` makes it',
    run: (b) => {
      const object = objectOf(appliedValidateReview);
      return () => b.objectBoundsProblem(object);
    },
  },
  {
    name: "reviewResponseJson, the CREATE's answer",
    run: (b) => {
      const result = b.validate(requestOf(b, validateReview));
      return () => b.reviewResponseJson('admission.k8s.io/v1', 'bench-validate', result);
    },
  },
  {
    // What src/server/app.ts counts for each allowed review, labels built per request as there.
    name: 'metrics of an allowed review (counter + histogram)',
    run: (b) => () => {
      const operation = 'validate';
      const kind = 'ExternalSecret';
      const labels = { operation, kind, result: 'allowed' };
      b.metrics.admissionRequests.inc(labels);
      b.metrics.admissionDuration.observe(labels, 0.0002);
    },
  },
];

// The mutation's values into the cache first (the first one is fetched), as after warm-up.
for (const b of builds) await b.mutate(requestOf(b, mutateReview));

const gc = (globalThis as { gc?: (options: { type: 'minor' }) => void }).gc;
const TRIAL_CALLS = 200;
const TRIALS = 10;
/** Start times of the collections the observer has seen (performance.now()'s clock). */
const collections: number[] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) collections.push(e.startTime);
}).observe({ entryTypes: ['gc'] });

/**
 * Bytes one call of `fn` allocates: the median of TRIALS trials in which no collection ran, and
 * the trials it took. A turn of the event loop after each lets the observer report.
 */
async function bytesPerCall(
  fn: () => unknown,
  gc: (options: { type: 'minor' }) => void,
): Promise<{ bytes: number; clean: number; trials: number }> {
  const clean: number[] = [];
  let trials = 0;
  while (clean.length < TRIALS && trials < 10 * TRIALS) {
    trials++;
    gc({ type: 'minor' });
    await turn();
    const start = performance.now();
    const before = process.memoryUsage().heapUsed;
    for (let c = 0; c < TRIAL_CALLS; c++) fn();
    const after = process.memoryUsage().heapUsed;
    await turn();
    if (collections.some((t) => t >= start)) continue;
    clean.push((after - before) / TRIAL_CALLS);
  }
  collections.length = 0;
  clean.sort((a, b) => a - b);
  return { bytes: clean[Math.floor(clean.length / 2)] ?? Number.NaN, clean: clean.length, trials };
}

const cold = process.env.BENCH_COLD === '1';
const COLD_ROUNDS = 20;
const COLD_CALLS_PER_ROUND = 100;
const EVICT = new Uint8Array(4 * 1024 * 1024);
/**
 * Each build's median µs of a call made with the caches cold (BENCH_COLD): every cache line of
 * EVICT written before each call, outside the time.
 */
function coldMedians(fns: (() => unknown)[]): number[] {
  const times = fns.map((): number[] => []);
  for (let round = 0; round < COLD_ROUNDS; round++) {
    for (let k = 0; k < fns.length; k++) {
      const i = round % 2 === 0 ? k : fns.length - 1 - k;
      const fn = fns[i] as () => unknown;
      for (let c = 0; c < COLD_CALLS_PER_ROUND; c++) {
        for (let b = 0; b < EVICT.length; b += 64) EVICT[b] = (EVICT[b] as number) + 1;
        const start = process.hrtime.bigint();
        fn();
        (times[i] as number[]).push(Number(process.hrtime.bigint() - start) / 1000);
      }
    }
  }
  return times.map((t) => t.sort((a, b) => a - b)[Math.floor(t.length / 2)] as number);
}

console.log(`${machine()}; best of ${batches} batches of ${CALLS} calls, µs per call`);
if (cold) {
  console.log(
    `cold µs: median of ${COLD_ROUNDS * COLD_CALLS_PER_ROUND} single calls, each after ${EVICT.length / 1024 / 1024} MiB written at every cache line`,
  );
}
console.log(
  gc
    ? `bytes per call: median of ${TRIALS} trials of ${TRIAL_CALLS} calls after a young collection, none during one (clean/tried)\n`
    : 'bytes per call: run with node --expose-gc for them\n',
);
const columns = builds.flatMap((b) => [
  `${b.name} µs`,
  ...(cold ? [`${b.name} cold µs`] : []),
  ...(gc ? [`${b.name} B`] : []),
]);
console.log(`| piece | ${columns.join(' | ')} |`);
console.log(`|---|${columns.map(() => '---:').join('|')}|`);
const only = process.env.BENCH_ONLY;
for (const piece of pieces.filter((p) => only === undefined || p.name.includes(only))) {
  const fns = builds.map((b) => piece.run(b));
  const best = builds.map(() => Infinity);
  for (let batch = 0; batch < batches; batch++) {
    fns.forEach((fn, i) => {
      const start = process.hrtime.bigint();
      for (let c = 0; c < CALLS; c++) fn();
      best[i] = Math.min(best[i] as number, Number(process.hrtime.bigint() - start) / CALLS / 1000);
    });
  }
  const coldUs = cold ? coldMedians(fns) : [];
  const cells: string[] = [];
  for (const [i, fn] of fns.entries()) {
    cells.push((best[i] as number).toFixed(2));
    if (cold) cells.push((coldUs[i] as number).toFixed(2));
    if (!gc) continue;
    const { bytes, clean, trials } = await bytesPerCall(fn, gc);
    cells.push(`${Math.round(bytes).toLocaleString('en')} (${clean}/${trials})`);
  }
  console.log(`| ${piece.name} | ${cells.join(' | ')} |`);
}
