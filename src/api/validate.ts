/**
 * Admission-time validation of the External Secrets Operator resources, shared by the webhook's
 * POST /validate and `esw validate`. `validateObject` dispatches on apiVersion and kind and
 * returns every error of the object (field-pathed, worded like the API server) and warnings
 * (unknown fields the API server would prune, deprecations). It never throws on any input.
 *
 * Two layers: the hand-written rules (ESO's webhook, cross-field rules, better words), then one
 * walk against the generated schema table and the field-support table (schema-check.ts), which
 * adds what the CRD schema enforces, the unknown fields, and refuses what this webhook does not
 * serve.
 */
import { errorMessage } from '../errors.ts';
import { CauseType, type FieldError, fieldErrors } from './field-errors.ts';
import { genericTargetKindErrors } from './generic-kinds.ts';
import { DEFAULT_IDENTITY_POLICY, type IdentityPolicy } from './identity.ts';
import { isObject } from './schema.ts';
import { checkSchema } from './schema-check.ts';
import { suggestion } from './suggest.ts';
import { API_VERSIONS, StoreKind } from './types.ts';
import { validateClusterExternalSecret } from './validate-cluster-external-secret.ts';
import {
  type EsoVersion,
  type ValidationResult,
  validateExternalSecret,
} from './validate-external-secret.ts';
import { validateSecretStore } from './validate-store.ts';

export type { ValidationResult } from './validate-external-secret.ts';
export { validateExternalSecret } from './validate-external-secret.ts';
export { validateSecretStore } from './validate-store.ts';

export const VALIDATED_KINDS = [
  'ExternalSecret',
  'SecretStore',
  'ClusterSecretStore',
  'ClusterExternalSecret',
] as const;
/** The other kinds ESO 2.9 defines in the external-secrets.io group: known, not validated here. */
export const OTHER_ESO_KINDS = ['PushSecret', 'ClusterPushSecret'] as const;

export interface ValidateOptions {
  /**
   * Which SecretStores may use this server's own identity (src/api/identity.ts). Default: none
   * (only ClusterSecretStores), so a manifest valid here is never refused by a stricter server.
   */
  identity?: IdentityPolicy;
  /**
   * `--generic-target-kinds`: a `spec.target.manifest` naming another kind is refused (cluster
   * mode always; standalone and `esw validate` when the flag is given). Undefined: not checked.
   */
  genericTargetKinds?: readonly string[];
}

export function validateObject(obj: unknown, opts: ValidateOptions = {}): ValidationResult {
  if (!isObject(obj)) {
    return {
      errors: [
        {
          field: '<root>',
          message: 'Invalid value: the object must be a mapping (a Kubernetes object)',
          reason: CauseType.invalid,
        },
      ],
      warnings: [],
    };
  }
  const errors: FieldError[] = [];
  const kind = obj.kind;
  if (typeof kind !== 'string' || kind === '') {
    errors.push(fieldErrors.required('kind', `one of ${VALIDATED_KINDS.join(', ')}`));
  } else if (!(VALIDATED_KINDS as readonly string[]).includes(kind)) {
    errors.push(fieldErrors.unsupported('kind', kind, VALIDATED_KINDS, suggestion(kind, VALIDATED_KINDS)));
  }
  const apiVersion = obj.apiVersion;
  if (typeof apiVersion !== 'string' || apiVersion === '') {
    errors.push(fieldErrors.required('apiVersion', API_VERSIONS.join(' or ')));
  } else if (!(API_VERSIONS as readonly string[]).includes(apiVersion)) {
    errors.push(
      fieldErrors.unsupported('apiVersion', apiVersion, API_VERSIONS, suggestion(apiVersion, API_VERSIONS)),
    );
  }
  if (errors.length > 0) return { errors, warnings: [] };

  const version: EsoVersion = apiVersion === 'external-secrets.io/v1beta1' ? 'v1beta1' : 'v1';
  try {
    const hand =
      kind === 'ExternalSecret'
        ? validateExternalSecret(obj, version)
        : kind === 'ClusterExternalSecret'
          ? validateClusterExternalSecret(obj, version)
          : validateSecretStore(
              obj,
              kind === 'SecretStore' ? StoreKind.SecretStore : StoreKind.ClusterSecretStore,
              version,
              opts.identity ?? DEFAULT_IDENTITY_POLICY,
            );
    const schema = checkSchema(obj, kind as (typeof VALIDATED_KINDS)[number], version, hand.errors);
    const kinds = opts.genericTargetKinds ? genericTargetKindErrors(obj, opts.genericTargetKinds) : NONE;
    return {
      errors: joined(hand.errors, kinds, schema.errors),
      warnings: joined(schema.unknownFields, hand.warnings, schema.warnings),
      unknown: schema.unknown,
    };
  } catch (err: unknown) {
    // A bug here must not turn into a 500 or accept the object silently.
    const msg = errorMessage(err);
    return {
      errors: [fieldErrors.internal('<root>', `validation failed: ${msg}`)],
      warnings: [],
    };
  }
}

const NONE: readonly FieldError[] = Object.freeze([]);

/**
 * The lists one after another: the one list that has items itself rather than a copy (`first`
 * when none has) — most validations find nothing, or only in one layer. Each list is its layer's
 * own new one, or empty (NONE), so the result is the caller's to extend.
 */
function joined<T>(first: T[], second: readonly T[], third: readonly T[]): T[] {
  if (second.length === 0 && third.length === 0) return first;
  if (first.length === 0 && third.length === 0) return second as T[];
  if (first.length === 0 && second.length === 0) return third as T[];
  return [...first, ...second, ...third];
}
