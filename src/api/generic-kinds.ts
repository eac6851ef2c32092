/**
 * Which kinds `spec.target.manifest` (ESO 2.9 generic targets) may name where the operator lists
 * them in `--generic-target-kinds`: one rule for POST /validate, standalone `esw serve` and
 * `esw validate`, so CI refuses what the cluster refuses.
 */
import { type FieldError, fieldErrors } from './field-errors.ts';
import { isObject } from './schema.ts';

/**
 * How a kind is named in `--generic-target-kinds`: `Kind` for the core group (`ConfigMap`),
 * `group/version/Kind` otherwise (`example.com/v1/Database`).
 */
export function genericKindId(apiVersion: string, kind: string): string {
  return apiVersion === 'v1' ? kind : `${apiVersion}/${kind}`;
}

/**
 * The refusal of a manifest kind not in `allowed`, on an ExternalSecret's `spec.target.manifest`
 * or a ClusterExternalSecret's `spec.externalSecretSpec.target.manifest` (the ExternalSecrets it
 * creates would be refused). A missing apiVersion or kind, and `kind: Secret`, are the schema's
 * and validateManifest's to report.
 */
export function genericTargetKindErrors(obj: unknown, allowed: readonly string[]): FieldError[] {
  if (!isObject(obj) || !isObject(obj.spec)) return [];
  const [spec, at] =
    obj.kind === 'ClusterExternalSecret'
      ? [obj.spec.externalSecretSpec, 'spec.externalSecretSpec.target.manifest']
      : [obj.spec, 'spec.target.manifest'];
  if (!isObject(spec) || !isObject(spec.target) || !isObject(spec.target.manifest)) return [];
  const { apiVersion, kind } = spec.target.manifest;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string' || apiVersion === '' || kind === '')
    return [];
  const id = genericKindId(apiVersion, kind);
  if (id === 'Secret' || allowed.includes(id)) return [];
  return [
    fieldErrors.forbidden(
      at,
      `generic target kind "${id}" is not allowed on this cluster (allowed: ${allowed.join(', ') || 'none'}; the operator sets --generic-target-kinds)`,
    ),
  ];
}
