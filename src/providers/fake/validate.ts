/**
 * Static checks of `spec.provider.fake` (ESO's ValidateStore): every data entry needs a key and a
 * value. external-secrets.io/v1beta1 also allows `valueMap` (removed in v1).
 */
import { type FieldError, fieldErrors } from '../../api/field-errors.ts';
import { optArray, optString, optStringMap, reqObject, reqString } from '../../api/schema.ts';
import type { StoreContext } from '../../api/store-refs.ts';
import type { StoreKind } from '../../api/types.ts';

export function validateFakeStore(
  spec: unknown,
  path: string,
  _kind: StoreKind,
  context?: Partial<StoreContext>,
): FieldError[] {
  const errors: FieldError[] = [];
  const fake = reqObject(spec, path, errors);
  if (!fake) return errors;
  const v1beta1 = context?.apiVersion === 'external-secrets.io/v1beta1';
  if (fake.data === undefined || fake.data === null) {
    errors.push(fieldErrors.required(`${path}.data`, 'a list of {key, value} entries (may be empty)'));
    return errors;
  }
  const data = optArray(fake.data, `${path}.data`, errors) ?? [];
  data.forEach((raw, i) => {
    const p = `${path}.data[${i}]`;
    const entry = reqObject(raw, p, errors);
    if (!entry) return;
    reqString(entry.key, `${p}.key`, errors);
    optString(entry.version, `${p}.version`, errors);
    const value = optString(entry.value, `${p}.value`, errors);
    const valueMap = v1beta1 ? optStringMap(entry.valueMap, `${p}.valueMap`, errors) : undefined;
    if (
      value === undefined &&
      valueMap === undefined &&
      (entry.value === undefined || entry.value === null)
    ) {
      errors.push(fieldErrors.required(`${p}.value`, v1beta1 ? 'set value or valueMap' : undefined));
    }
  });
  return errors;
}
