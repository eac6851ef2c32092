/**
 * Log lines: one key per name (`jq` keeps only the last of duplicate keys, so a line that carried
 * the logger's `name` and an object's `name` lost one of them), and every field documented in
 * docs/operations.md. Checked two ways: every log call in src/ read statically, and the lines a
 * real server writes while admitting and refusing Secrets parsed for duplicate keys.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { mutateSecret } from '../../src/admission/mutate.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { createStandaloneRuntime } from '../../src/runtime.ts';

const root = join(import.meta.dirname, '..', '..');

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sources(p)));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** The top-level keys of the object literal passed to each log call (`logger.info({ … }, msg)`). */
function logCallKeys(text: string): { key: string; line: number }[] {
  const found: { key: string; line: number }[] = [];
  const call = /\.(trace|debug|info|warn|error|fatal|child)\(\s*\{/g;
  for (let m = call.exec(text); m; m = call.exec(text)) {
    const open = m.index + m[0].length - 1;
    let depth = 0;
    let end = open;
    for (; end < text.length; end++) {
      const c = text[end];
      if (c === '{' || c === '(' || c === '[') depth++;
      else if (c === '}' || c === ')' || c === ']') {
        depth--;
        if (depth === 0) break;
      }
    }
    const line = text.slice(0, m.index).split('\n').length;
    let part = '';
    depth = 0;
    const parts: string[] = [];
    for (const c of text.slice(open + 1, end)) {
      if ('{(['.includes(c)) depth++;
      if ('})]'.includes(c)) depth--;
      if (c === ',' && depth === 0) {
        parts.push(part);
        part = '';
      } else part += c;
    }
    parts.push(part);
    for (const p of parts.map((x) => x.trim()).filter(Boolean)) {
      found.push({ key: p.startsWith('...') ? p : (p.split(':')[0] ?? '').trim(), line });
    }
  }
  return found;
}

t.test('every log call in src/: no top-level name, no spread, every field documented', async (t) => {
  const doc = await readFile(join(root, 'docs', 'operations.md'), 'utf8');
  const table = doc.slice(doc.indexOf('## Logs'));
  const documented = new Set(
    [...table.matchAll(/^\| ([^|]+) \|/gm)].flatMap((m) =>
      [...(m[1] ?? '').matchAll(/`(\w+)`/g)].map((k) => k[1]),
    ),
  );
  let calls = 0;
  for (const file of await sources(join(root, 'src'))) {
    const rel = file.slice(root.length + 1);
    for (const { key, line } of logCallKeys(await readFile(file, 'utf8'))) {
      calls++;
      t.not(key, 'name', `${rel}:${line}: a top-level "name" duplicates the logger's own`);
      t.notOk(key.startsWith('...'), `${rel}:${line}: a spread may bring any key (${key})`);
      t.ok(documented.has(key), `${rel}:${line}: field "${key}" is documented in docs/operations.md`);
    }
  }
  t.ok(calls > 40, `found the log calls (${calls} fields)`);
});

/** Keys of one JSON object text, in order, duplicates kept (JSON.parse would drop them). */
function rawKeys(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') {
      let j = i + 1;
      while (line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      if (depth === 1 && line[j + 1] === ':') keys.push(line.slice(i + 1, j));
      i = j;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return keys;
}

t.test('lines a real runtime writes while filling and refusing Secrets have no duplicate key', async (t) => {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (l: string) => lines.push(l) } });
  const runtime = await createStandaloneRuntime([join(root, 'examples', 'stores.yaml')], {
    logger,
    metrics: createMetrics(),
    admissionDeadlineMs: 5_000,
    cacheTtlMs: 0,
  });
  t.teardown(() => runtime.close());
  const review = (name: string, ref: string) => ({
    uid: name,
    kind: { group: '', version: 'v1', kind: 'Secret' },
    resource: { group: '', version: 'v1', resource: 'secrets' },
    name,
    namespace: 'default',
    operation: 'CREATE' as const,
    object: {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name,
        namespace: 'default',
        labels: { 'esw.io/inject': 'true' },
        annotations: { 'esw.io/store': 'demo-store' },
      },
      stringData: { v: ref },
    },
  });
  t.equal(
    (await mutateSecret(review('filled', '${ref:my-app/api-key}'), { resolver: runtime.resolver, logger }))
      .allowed,
    true,
  );
  t.equal(
    (await mutateSecret(review('refused', '${ref:no/such-key}'), { resolver: runtime.resolver, logger }))
      .allowed,
    false,
  );
  t.ok(lines.length >= 2, 'the fill and the refusal were logged');
  for (const line of lines) {
    const keys = rawKeys(line);
    t.same(
      keys.filter((k, i) => keys.indexOf(k) !== i),
      [],
      `no duplicate key: ${line.slice(0, 160)}`,
    );
  }
  const refusal = lines
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => l.msg === 'placeholder Secret refused');
  t.match(refusal, { name: 'esw', secret: { namespace: 'default', name: 'refused' } });
});

t.test('"secret" carries only a {namespace, name} reference; anything else is censored', async (t) => {
  const lines: string[] = [];
  const logger = createLogger({ destination: { write: (l: string) => lines.push(l) } });
  const canary = `CANARY-${Math.random().toString(36).slice(2)}`;
  logger.info({ secret: { namespace: 'a', name: 'b' } }, 'ref');
  logger.info({ secret: canary }, 'a value by mistake');
  logger.info({ secret: { namespace: 'a', name: 'b', data: { k: canary } } }, 'a whole Secret by mistake');
  t.match(JSON.parse(lines[0] as string), { secret: { namespace: 'a', name: 'b' } });
  t.notMatch(lines.slice(1).join(''), canary);
  t.match(JSON.parse(lines[1] as string), { secret: '[REDACTED]' });
});
