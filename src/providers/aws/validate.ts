/**
 * Static checks of `spec.provider.aws`: the CRD schema (service enum, region required) and ESO's
 * `ValidateStore` (referent rule on credential references, SecretsManager delete settings).
 */
import { type FieldError, fieldErrors } from '../../api/field-errors.ts';
import {
  checkEnum,
  optArray,
  optBoolean,
  optInteger,
  optObject,
  optString,
  optStringMap,
  reqObject,
  reqString,
} from '../../api/schema.ts';
import { enumAt } from '../../api/schema-table.ts';
import {
  checkSecretKeySelector,
  checkServiceAccountSelector,
  type StoreContext,
  storeContext,
} from '../../api/store-refs.ts';
import type { StoreKind } from '../../api/types.ts';

/** From the ESO schema; which of them this webhook serves is src/api/field-support.ts's business. */
export const AWS_SERVICES = enumAt('SecretStore', 'v1', 'spec.provider.aws.service');
// What the AWS SDK's endpoint resolver accepts as a region: a host label.
const REGION = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;

export function validateAwsStore(
  spec: unknown,
  path: string,
  kind: StoreKind,
  context?: Partial<StoreContext>,
): FieldError[] {
  const errors: FieldError[] = [];
  const ctx = storeContext(kind, context);
  const aws = reqObject(spec, path, errors);
  if (!aws) return errors;

  if (aws.service === undefined || aws.service === null || aws.service === '') {
    errors.push(
      fieldErrors.required(`${path}.service`, `one of ${AWS_SERVICES.map((v) => `"${v}"`).join(', ')}`),
    );
  } else {
    const version = ctx.apiVersion === 'external-secrets.io/v1beta1' ? 'v1beta1' : 'v1';
    checkEnum(
      aws.service,
      `${path}.service`,
      enumAt('SecretStore', version, `spec.provider.aws.service`),
      errors,
    );
  }

  const region = reqString(aws.region, `${path}.region`, errors, 'the AWS region, e.g. "us-east-1"');
  if (region !== undefined && !REGION.test(region)) {
    errors.push(
      fieldErrors.invalid(
        `${path}.region`,
        region,
        'region not found: must be an AWS region such as "us-east-1"',
      ),
    );
  }
  optString(aws.role, `${path}.role`, errors);
  optString(aws.externalID, `${path}.externalID`, errors);
  optString(aws.prefix, `${path}.prefix`, errors);
  (optArray(aws.additionalRoles, `${path}.additionalRoles`, errors) ?? []).forEach((r, i) => {
    optString(r, `${path}.additionalRoles[${i}]`, errors);
  });
  (optArray(aws.transitiveTagKeys, `${path}.transitiveTagKeys`, errors) ?? []).forEach((r, i) => {
    optString(r, `${path}.transitiveTagKeys[${i}]`, errors);
  });
  (optArray(aws.sessionTags, `${path}.sessionTags`, errors) ?? []).forEach((raw, i) => {
    const p = `${path}.sessionTags[${i}]`;
    const tag = reqObject(raw, p, errors);
    if (!tag) return;
    reqString(tag.key, `${p}.key`, errors);
    if (tag.value === undefined || tag.value === null) errors.push(fieldErrors.required(`${p}.value`));
    else optString(tag.value, `${p}.value`, errors);
  });
  if (aws.sessionTagsPolicy !== undefined) {
    checkEnum(aws.sessionTagsPolicy, `${path}.sessionTagsPolicy`, ['None', 'Simple', 'Custom'], errors);
  }
  optStringMap(aws.customSessionTags, `${path}.customSessionTags`, errors);

  const sm = optObject(aws.secretsManager, `${path}.secretsManager`, errors);
  if (sm) {
    const force = optBoolean(
      sm.forceDeleteWithoutRecovery,
      `${path}.secretsManager.forceDeleteWithoutRecovery`,
      errors,
    );
    const days = optInteger(sm.recoveryWindowInDays, `${path}.secretsManager.recoveryWindowInDays`, errors);
    if (days !== undefined && days !== 0 && (days < 7 || days > 30)) {
      errors.push(
        fieldErrors.invalid(
          `${path}.secretsManager.recoveryWindowInDays`,
          days,
          'must be between 7 and 30 days',
        ),
      );
    } else if (days !== undefined && days !== 0 && force === true) {
      errors.push(
        fieldErrors.forbidden(
          `${path}.secretsManager.forceDeleteWithoutRecovery`,
          'conflicts with recoveryWindowInDays: set only one of them',
        ),
      );
    }
  }

  const auth = optObject(aws.auth, `${path}.auth`, errors);
  if (auth) {
    const ref = optObject(auth.secretRef, `${path}.auth.secretRef`, errors);
    if (ref) {
      const p = `${path}.auth.secretRef`;
      checkSecretKeySelector(ref.accessKeyIDSecretRef, `${p}.accessKeyIDSecretRef`, errors, ctx);
      checkSecretKeySelector(ref.secretAccessKeySecretRef, `${p}.secretAccessKeySecretRef`, errors, ctx);
      if (ref.sessionTokenSecretRef !== undefined && ref.sessionTokenSecretRef !== null) {
        checkSecretKeySelector(ref.sessionTokenSecretRef, `${p}.sessionTokenSecretRef`, errors, ctx);
      }
    }
    const jwt = optObject(auth.jwt, `${path}.auth.jwt`, errors);
    if (jwt && jwt.serviceAccountRef !== undefined && jwt.serviceAccountRef !== null) {
      checkServiceAccountSelector(jwt.serviceAccountRef, `${path}.auth.jwt.serviceAccountRef`, errors, ctx);
    }
  }
  return errors;
}
