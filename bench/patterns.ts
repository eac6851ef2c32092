/**
 * The pattern engines (src/patterns/): what a tenant pattern costs on the paths that run it.
 * Compiling (cache miss and hit), `find.name.regexp` over a listing, a `rewrite` over keys, a
 * `namespaceRegexes` check, and a wildcard property lookup; native RegExp alongside for scale,
 * and `re2-wasm` when it is installed (`npm i --no-save re2-wasm`), for the engine choice.
 * Pathological inputs are timed once each to show they stay small. Bounded counts; no asserts.
 *
 *   node bench/patterns.ts
 */
import { createRequire } from 'node:module';
import { compileGoRegexp } from '../src/patterns/re2.ts';
import { getProperty } from '../src/refs/property.ts';
import { machine, saveResult } from './lib.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 200);

function rate(label: string, ops: number, fn: () => void): { label: string; perSecond: number } {
  fn(); // warm up once
  const start = process.hrtime.bigint();
  for (let r = 0; r < ROUNDS; r++) fn();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { label, perSecond: Math.round((ops * ROUNDS) / seconds) };
}

function once(label: string, fn: () => unknown): { label: string; ms: number } {
  const start = process.hrtime.bigint();
  fn();
  return { label, ms: Number(process.hrtime.bigint() - start) / 1e6 };
}

const names = Array.from({ length: 1000 }, (_, i) => `team-${i % 7 ? 'prod' : 'dev'}-db-${i}-password`);
const FIND = '^team-(prod|stage)-.*password$';
let sink = 0;

const rows = [
  rate('compile, cache miss (distinct patterns)', 100, () => {
    for (let i = 0; i < 100; i++) compileGoRegexp(`^team-(prod|stage)-${sink++}-.*password$`);
  }),
  rate('compile, cache hit', 1000, () => {
    for (let i = 0; i < 1000; i++) compileGoRegexp(FIND);
  }),
  rate('find.name.regexp test (per name)', names.length, () => {
    const re = compileGoRegexp(FIND);
    for (const n of names) if (re.test(n)) sink++;
  }),
  rate('native RegExp test, same pattern (per name)', names.length, () => {
    const re = new RegExp(FIND, 'u');
    for (const n of names) if (re.test(n)) sink++;
  }),
  rate('rewrite replaceAll (per key)', names.length, () => {
    const re = compileGoRegexp('^team-(?P<env>[a-z]+)-(.*)$');
    for (const n of names) sink += re.replaceAll(n, '${env}_$2').length;
  }),
  rate('namespaceRegexes test (per check)', 1000, () => {
    const re = compileGoRegexp('^team-[a-z]+$');
    for (let i = 0; i < 1000; i++) if (re.test('team-payments')) sink++;
  }),
];

const doc = new TextEncoder().encode(
  JSON.stringify(Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`key-${i}-name`, `v${i}`]))),
);
rows.push(
  rate('property lookup, exact key (50-key document)', 1000, () => {
    for (let i = 0; i < 1000; i++) sink += getProperty(doc, 'key-49-name', { key: 'k' }).length;
  }),
  rate('property lookup, wildcard key-4?-n*e (50-key document)', 1000, () => {
    for (let i = 0; i < 1000; i++) sink += getProperty(doc, 'key-4?-n*e', { key: 'k' }).length;
  }),
);

let re2wasm: { compiledBeforeAbort: number | 'no abort in 20,000' } | undefined;
try {
  const { RE2 } = createRequire(import.meta.url)('re2-wasm') as {
    RE2: new (p: string, f: string) => { test(s: string): boolean };
  };
  rows.push(
    rate('re2-wasm test, same pattern (per name)', names.length, () => {
      const re = new RE2(FIND, 'u');
      for (const n of names) if (re.test(n)) sink++;
    }),
  );
  const start = process.hrtime.bigint();
  for (let i = 0; i < 2000; i++) new RE2(`^team-(prod|stage)-${sink++}-.*password$`, 'u');
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  rows.push({ label: 're2-wasm compile (distinct patterns)', perSecond: Math.round(2000 / seconds) });
  // Compiled patterns live in a fixed 16 MiB WebAssembly heap that the GC does not reclaim.
  let compiled = 2000;
  try {
    for (; compiled < 20_000; compiled++) new RE2(`^team-(prod|stage)-${sink++}-.*password$`, 'u');
    re2wasm = { compiledBeforeAbort: 'no abort in 20,000' };
  } catch {
    re2wasm = { compiledBeforeAbort: compiled };
  }
} catch {
  // re2-wasm is not a dependency; install it without saving to compare.
}

const pathological = [
  once('(a+)+$ against 50,000 a and !', () => compileGoRegexp('(a+)+$').test(`${'a'.repeat(50_000)}!`)),
  once('(a|a)+c rewrite of 40 a', () => compileGoRegexp('(a|a)+c').replaceAll('a'.repeat(40), 'x')),
  once('property with 34 wildcards and d, 27-character key', () => {
    try {
      getProperty(new TextEncoder().encode('{"username_for_the_database_x":"u"}'), `${'*'.repeat(34)}d`, {
        key: 'k',
      });
    } catch {
      sink++;
    }
  }),
];

console.log(`\n${machine()}\n`);
console.log('| operation | per second |\n|---|---:|');
for (const r of rows) console.log(`| ${r.label} | ${r.perSecond.toLocaleString('en-US')} |`);
console.log('\n| pathological input (one run) | ms |\n|---|---:|');
for (const p of pathological) console.log(`| ${p.label} | ${p.ms.toFixed(1)} |`);
if (re2wasm)
  console.log(`\nre2-wasm: aborted (out of memory) after ${re2wasm.compiledBeforeAbort} compiled patterns`);
await saveResult('patterns', { machine: machine(), rows, pathological, re2wasm, sink });
