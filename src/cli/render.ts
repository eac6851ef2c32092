/**
 * `esw render [--strict] FILE --stores FILE…`: what the webhook would store for a placeholder
 * Secret, resolved locally against stores read from files (standalone mode, no cluster). Every
 * Secret in FILE goes through the same `mutateSecret` as POST /mutate (a CREATE request); the
 * patch is applied to a copy and the result printed as YAML, one document per Secret.
 * A Secret the webhook would never see (not labelled `esw.io/inject: "true"`) is refused rather
 * than printed unchanged; with --strict, so is a Secret that would come back with warnings (one
 * that holds no reference, for instance).
 * Exit codes (docs/cli.md): 0 all rendered, 1 a Secret was refused (the refusal on stderr), 2 a
 * file could not be read or holds no Secret.
 */
import { readFile } from 'node:fs/promises';
import jsonpatch, { type Operation } from 'fast-json-patch';
import { stringify } from 'yaml';
import { lintPlaceholderSecret } from '../admission/lint-placeholder.ts';
import { mutateSecret } from '../admission/mutate.ts';
import type { AdmissionRequest } from '../admission/types.ts';
import { CauseType } from '../api/field-errors.ts';
import { parseManifests } from '../api/manifests.ts';
import type { Obj } from '../api/schema.ts';
import type { KubeObject } from '../api/types.ts';
import { errorMessage } from '../errors.ts';
import { silentLogger } from '../observability/logger.ts';
import { createMetrics } from '../observability/metrics.ts';
import { PlaceholderLabel } from '../refs/placeholder.ts';
import { createStandaloneRuntime } from '../runtime.ts';

export async function runRender(
  file: string,
  storeFiles: string[],
  out: (s: string) => void,
  err: (s: string) => void = (s) => process.stderr.write(s),
  opts: { strict?: boolean } = {},
): Promise<number> {
  let secrets: KubeObject[];
  try {
    secrets = parseManifests(await readFile(file, 'utf8'), file)
      .map((d) => d.object)
      .filter((o) => o.kind === 'Secret' && (o.apiVersion ?? 'v1') === 'v1');
  } catch (e: unknown) {
    err(`${file}: error: ${readProblem(e)}\n`);
    return 2;
  }
  if (secrets.length === 0) {
    err(`${file}: error: no Secret (apiVersion v1) in the file\n`);
    return 2;
  }

  const logger = silentLogger();
  let runtime: Awaited<ReturnType<typeof createStandaloneRuntime>>;
  try {
    runtime = await createStandaloneRuntime(storeFiles, {
      logger,
      metrics: createMetrics(),
      admissionDeadlineMs: 8000,
      cacheTtlMs: 30_000,
    });
  } catch (e: unknown) {
    err(`error: the stores could not be loaded: ${readProblem(e)}\n`);
    return 2;
  }
  try {
    const rendered: string[] = [];
    for (const [i, secret] of secrets.entries()) {
      const name = secret.metadata?.name ?? secret.metadata?.generateName ?? '';
      const namespace = secret.metadata?.namespace ?? 'default';
      const request: AdmissionRequest = {
        uid: `esw-render-${i + 1}`,
        kind: { group: '', version: 'v1', kind: 'Secret' },
        resource: { group: '', version: 'v1', resource: 'secrets' },
        requestKind: { group: '', version: 'v1', kind: 'Secret' },
        ...(name ? { name } : {}),
        namespace,
        operation: 'CREATE',
        object: secret,
        oldObject: null,
        dryRun: true,
      };
      const labels = secret.metadata?.labels ?? {};
      if (labels[PlaceholderLabel.inject] !== 'true') {
        const lint = lintPlaceholderSecret(secret as Obj);
        const hints = [
          ...lint.warnings.filter((w) => w.includes('did you mean')),
          ...lint.errors
            .filter((e) => e.reason === CauseType.notSupported)
            .map((e) => `${e.field}: ${e.message}`),
        ];
        err(
          `error: Secret "${namespace}/${name}" is not labelled ${PlaceholderLabel.inject}: "true": the webhook would store it unchanged${hints.length > 0 ? ` (${hints.join('; ')})` : ''}\n`,
        );
        return 1;
      }
      const result = await mutateSecret(request, { resolver: runtime.resolver, logger });
      for (const w of result.warnings ?? []) err(`warning: Secret "${namespace}/${name}": ${w}\n`);
      if (!result.allowed) {
        err(`error: ${result.status?.message ?? 'refused'}\n`);
        return 1;
      }
      if (opts.strict && (result.warnings ?? []).length > 0) {
        err(`error: Secret "${namespace}/${name}" has warnings (--strict)\n`);
        return 1;
      }
      let object: KubeObject = structuredClone(secret);
      if (result.patch) {
        const ops = JSON.parse(Buffer.from(result.patch, 'base64').toString('utf8')) as Operation[];
        object = jsonpatch.applyPatch(object, ops, false, false).newDocument;
      }
      rendered.push(stringify(object));
    }
    out(rendered.join('---\n'));
    return 0;
  } finally {
    await runtime.close();
  }
}

/** File and YAML problems name the file and the place, never a document's content. */
function readProblem(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (typeof code === 'string' && code.startsWith('E')) return `cannot read file (${code})`;
  return errorMessage(e);
}
