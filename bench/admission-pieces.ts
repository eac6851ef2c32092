/**
 * What the admission handlers cost on their own, in process, without HTTP: the body's secure JSON
 * parse (fastify's parser), `/validate` of the bench's ExternalSecret CREATE (validated every
 * time), of the same UPDATE again (the validation memo) and a warm `/mutate` (the render memo),
 * each through the runtime as `esw serve` builds it with bench/fixtures/stores.yaml, and the
 * metrics the server counts for each review. These are the levers' own figures;
 * bench/admission.ts measures the whole server.
 *
 * Each figure is the best of BENCH_BATCHES (100) batches of 2,000 calls, µs per call: on a
 * shared machine the best batch is the one least disturbed. With BENCH_COMPARE=<another
 * build>/dist/main.js, that build's handlers are measured too, batch for batch alternating.
 *
 *   npm run build && nice -n -15 taskset -c 0 node bench/admission-pieces.ts
 *
 * BENCH_ONLY=<text>: only the pieces whose name contains it — e.g. for a CPU profile of one
 * handler, `BENCH_ONLY='ExternalSecret CREATE' node --cpu-prof bench/admission-pieces.ts` (self
 * time per call: the profile's ÷ BENCH_BATCHES × 2,000).
 */
import { dirname, join } from 'node:path';
import secureJson from 'secure-json-parse';
import { mutateReview, unchangedUpdateReview, validateReview } from './admission-reviews.ts';
import { machine } from './lib.ts';

const batches = Number(process.env.BENCH_BATCHES ?? 100);
const CALLS = 2000;
const root = join(import.meta.dirname, '..');

interface Build {
  name: string;
  validate: (request: unknown) => unknown;
  mutate: (request: unknown) => unknown;
  parse: (body: unknown) => { ok: boolean; request?: unknown; error?: string };
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
  const { parseAdmissionReview } = await import(join(dist, 'admission/review.js'));
  const metrics = createMetrics();
  const runtime = await createStandaloneRuntime([join(root, 'bench/fixtures/stores.yaml')], {
    logger: createLogger({ level: 'warn' }),
    metrics,
    admissionDeadlineMs: 8000,
    cacheTtlMs: 300_000,
  });
  return { name, validate: runtime.validate, mutate: runtime.mutate, parse: parseAdmissionReview, metrics };
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

interface Piece {
  name: string;
  run: (build: Build) => () => unknown;
}

const pieces: Piece[] = [
  { name: 'secure JSON parse, the CREATE body', run: () => () => parseBody(validateReview) },
  { name: 'secure JSON parse, the UPDATE body', run: () => () => parseBody(unchangedUpdateReview) },
  { name: 'secure JSON parse, the /mutate body', run: () => () => parseBody(mutateReview) },
  {
    name: '/validate handler, ExternalSecret CREATE',
    run: (b) => {
      const r = requestOf(b, validateReview);
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
    name: '/mutate handler, warm (memo)',
    run: (b) => {
      const r = requestOf(b, mutateReview);
      return () => b.mutate(r);
    },
  },
  {
    // What src/server/app.ts counts for each allowed review, labels built per request as there.
    name: 'metrics of an allowed review (counter + histogram)',
    run: (b) => () => {
      const operation = 'validate';
      const kind = 'ExternalSecret';
      b.metrics.admissionRequests.inc({ operation, kind, result: 'allowed' });
      b.metrics.admissionDuration.observe({ operation, kind, result: 'allowed' }, 0.0002);
    },
  },
];

// The mutation's values into the cache first (the first one is fetched), as after warm-up.
for (const b of builds) await b.mutate(requestOf(b, mutateReview));

console.log(`${machine()}; best of ${batches} batches of ${CALLS} calls, µs per call\n`);
console.log(`| piece | ${builds.map((b) => b.name).join(' | ')} |`);
console.log(`|---|${builds.map(() => '---:').join('|')}|`);
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
  console.log(`| ${piece.name} | ${best.map((v) => v.toFixed(2)).join(' | ')} |`);
}
