/**
 * ClusterExternalSecret: the hand-written rules. `spec.externalSecretSpec` is the spec of every
 * ExternalSecret it creates, so it gets every rule of an ExternalSecret's spec (the errors named
 * under `spec.externalSecretSpec`); the rest is the namespace choice and the metadata of the
 * created objects. The generated schema and the field-support table add the rest (validate.ts).
 */
import { parseDuration } from './duration.ts';
import { type FieldError, fieldErrors } from './field-errors.ts';
import { checkLabelSelector, optArray, optObject, optString, reqObject } from './schema.ts';
import {
  type EsoVersion,
  type ValidationResult,
  validateExternalSecret,
} from './validate-external-secret.ts';
import { validateMetadata } from './validate-meta.ts';

type Obj = Record<string, unknown>;

const ES_SPEC = 'spec.externalSecretSpec';

export function validateClusterExternalSecret(obj: Obj, version: EsoVersion): ValidationResult {
  const errors: FieldError[] = [];
  const warnings: string[] = [];
  if (version !== 'v1') {
    warnings.push(
      'external-secrets.io/v1beta1 ClusterExternalSecret is deprecated; use external-secrets.io/v1',
    );
  }
  const meta = validateMetadata(obj, false, errors);
  const spec = reqObject(obj.spec, 'spec', errors);
  if (!spec) return { errors, warnings };

  if (spec.namespaceSelector !== undefined && spec.namespaceSelector !== null) {
    warnings.push('spec.namespaceSelector is deprecated; use spec.namespaceSelectors');
    checkLabelSelector(spec.namespaceSelector, 'spec.namespaceSelector', errors);
  }
  const selectors = optArray(spec.namespaceSelectors, 'spec.namespaceSelectors', errors) ?? [];
  selectors.forEach((s, i) => {
    if (s !== null) checkLabelSelector(s, `spec.namespaceSelectors[${i}]`, errors);
  });
  const names = optArray(spec.namespaces, 'spec.namespaces', errors) ?? [];
  if (
    (spec.namespaceSelector === undefined || spec.namespaceSelector === null) &&
    selectors.length === 0 &&
    names.length === 0
  ) {
    warnings.push(
      'spec: no namespaceSelectors, namespaceSelector or namespaces: this ClusterExternalSecret creates no ExternalSecret',
    );
  }

  const refresh = optString(spec.refreshTime, 'spec.refreshTime', errors);
  if (refresh !== undefined && parseDuration(refresh) === undefined) {
    errors.push(
      fieldErrors.invalid(
        'spec.refreshTime',
        refresh,
        'must be a Go duration such as "1h", "30m" or "1h30m" (units ns, us, ms, s, m, h)',
      ),
    );
  }

  const esMeta = optObject(spec.externalSecretMetadata, 'spec.externalSecretMetadata', errors);
  const name = optString(spec.externalSecretName, 'spec.externalSecretName', errors);

  const esSpec = reqObject(spec.externalSecretSpec, ES_SPEC, errors);
  if (!esSpec) return { errors, warnings };
  // The ExternalSecret it creates, checked as any ExternalSecret (its namespace is not known yet:
  // every namespace it lands in gets the same spec).
  const created = validateExternalSecret(
    {
      apiVersion: `external-secrets.io/${version}`,
      kind: 'ExternalSecret',
      metadata: {
        name: name || (typeof meta?.name === 'string' && meta.name) || 'cluster-external-secret',
        namespace: 'default',
        ...(esMeta?.labels !== undefined ? { labels: esMeta.labels } : {}),
        ...(esMeta?.annotations !== undefined ? { annotations: esMeta.annotations } : {}),
      },
      spec: esSpec,
    },
    'v1',
  );
  for (const e of created.errors) {
    const field = e.field.startsWith('spec.')
      ? `${ES_SPEC}.${e.field.slice(5)}`
      : e.field === 'spec'
        ? ES_SPEC
        : e.field.startsWith('metadata.labels')
          ? `spec.externalSecretMetadata.labels${e.field.slice('metadata.labels'.length)}`
          : e.field.startsWith('metadata.annotations')
            ? `spec.externalSecretMetadata.annotations${e.field.slice('metadata.annotations'.length)}`
            : undefined;
    // Metadata errors of the stand-in object (its name is checked by the schema) are not the user's.
    if (field !== undefined) errors.push({ ...e, field });
  }
  for (const w of created.warnings) {
    warnings.push(w.startsWith('spec.') ? `${ES_SPEC}.${w.slice(5)}` : w);
  }
  return { errors, warnings };
}
