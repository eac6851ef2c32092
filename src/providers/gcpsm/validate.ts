import type { FieldError } from '../../api/field-errors.ts';
import type { StoreKind } from '../../api/types.ts';

// Placeholder until the validation rules land (owned by the validation work).
export function validateGcpSmStore(_spec: unknown, _path: string, _kind: StoreKind): FieldError[] {
  return [];
}
