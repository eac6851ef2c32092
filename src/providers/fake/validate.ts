/**
 * Static checks of `spec.provider.fake` (ESO's ValidateStore): every data entry needs a key and a
 * value. ESO 2.9 has no `valueMap` in either version (it is an unknown field, pruned).
 */
import { type FieldError, fieldErrors } from '../../api/field-errors.ts';
import { optArray, optString, reqObject, reqString } from '../../api/schema.ts';
import type { StoreContext } from '../../api/store-refs.ts';
import type { StoreKind } from '../../api/types.ts';

export function validateFakeStore(
  spec: unknown,
  path: string,
  _kind: StoreKind,
  _context?: Partial<StoreContext>,
): FieldError[] {
  const errors: FieldError[] = [];
  const fake = reqObject(spec, path, errors);
  if (!fake) return errors;
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
    if (entry.value === undefined || entry.value === null) errors.push(fieldErrors.required(`${p}.value`));
    else optString(entry.value, `${p}.value`, errors);
  });
  return errors;
}
