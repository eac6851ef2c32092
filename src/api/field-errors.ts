/**
 * Field-pathed validation errors, worded like the Kubernetes API server's
 * (`spec.data[1].remoteRef.key: Required value`), so users recognise them.
 */
export interface FieldError {
  /** `spec.data[1].remoteRef.key` */
  field: string;
  /** `Required value`, `Invalid value: "x": must be …`, `Unsupported value: …` */
  message: string;
}

export const fieldErrors = {
  required(field: string, detail?: string): FieldError {
    return { field, message: detail ? `Required value: ${detail}` : 'Required value' };
  },
  invalid(field: string, value: unknown, detail: string): FieldError {
    return { field, message: `Invalid value: ${JSON.stringify(truncate(value))}: ${detail}` };
  },
  unsupported(field: string, value: unknown, supported: readonly string[]): FieldError {
    return {
      field,
      message: `Unsupported value: ${JSON.stringify(truncate(value))}: supported values: ${supported.map((s) => `"${s}"`).join(', ')}`,
    };
  },
  forbidden(field: string, detail: string): FieldError {
    return { field, message: `Forbidden: ${detail}` };
  },
  duplicate(field: string, value: unknown): FieldError {
    return { field, message: `Duplicate value: ${JSON.stringify(truncate(value))}` };
  },
  tooLong(field: string, max: number): FieldError {
    return { field, message: `Too long: may not be more than ${max} bytes` };
  },
};

function truncate(value: unknown): unknown {
  if (typeof value === 'string' && value.length > 64) return `${value.slice(0, 61)}...`;
  if (typeof value === 'object' && value !== null) return '<object>';
  return value;
}

export function formatFieldErrors(errors: FieldError[]): string {
  return errors.map((e) => `${e.field}: ${e.message}`).join('; ');
}
