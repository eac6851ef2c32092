/**
 * deploy/ is the chart's default render, so `kubectl apply -k deploy/` and `helm install` install
 * the same objects. Edit deploy/chart, then run `npm run deploy:render`; a test fails when the
 * committed files differ from a fresh render.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { helmBinary } from './binaries.ts';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
export const RELEASE = 'external-secrets-webhook';
export const NAMESPACE = 'external-secrets-webhook';

export const RENDERS = [
  { file: 'deploy/webhook.yaml', set: [] as string[] },
  { file: 'deploy/cert-manager/webhook.yaml', set: ['certificates.mode=cert-manager'] },
];

const HEADER = '# Rendered from deploy/chart by `npm run deploy:render`: edit the chart, not this file.\n';

export async function render(set: string[]): Promise<string> {
  const helm = await helmBinary();
  const args = ['template', RELEASE, join(root, 'deploy/chart'), '--namespace', NAMESPACE];
  for (const s of set) args.push('--set', s);
  const { stdout } = await run(helm, args, { maxBuffer: 16 * 1024 * 1024 });
  return HEADER + stdout;
}

if (import.meta.main) {
  for (const r of RENDERS) {
    const text = await render(r.set);
    const path = join(root, r.file);
    const old = await readFile(path, 'utf8').catch(() => '');
    if (old !== text) {
      await writeFile(path, text);
      console.log(`wrote ${r.file}`);
    } else {
      console.log(`${r.file} is up to date`);
    }
  }
}
