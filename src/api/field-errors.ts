/**
 * Field-pathed validation errors, worded like the Kubernetes API server's
 * (`spec.data[1].remoteRef.key: Required value`) and typed with its cause types, so a refusal
 * reaches users the way the API server's own does: `status.details.causes[]`, one
 * `{field, message, reason}` per error, which kubectl prints one per line.
 */

/** metav1.CauseType values (k8s.io/apimachinery/pkg/apis/meta/v1), as field.ErrorType maps them. */
export const CauseType = {
  required: 'FieldValueRequired',
  invalid: 'FieldValueInvalid',
  typeInvalid: 'FieldValueTypeInvalid',
  notSupported: 'FieldValueNotSupported',
  forbidden: 'FieldValueForbidden',
  duplicate: 'FieldValueDuplicate',
  tooLong: 'FieldValueTooLong',
  tooMany: 'FieldValueTooMany',
  notFound: 'FieldValueNotFound',
  internal: 'InternalError',
} as const;

export type CauseType = (typeof CauseType)[keyof typeof CauseType];

export interface FieldError {
  /** `spec.data[1].remoteRef.key` */
  field: string;
  /** `Required value`, `Invalid value: "x": must be …`, `Unsupported value: …` */
  message: string;
  reason: CauseType;
}

export const fieldErrors = {
  required(field: string, detail?: string): FieldError {
    return {
      field,
      message: detail ? `Required value: ${detail}` : 'Required value',
      reason: CauseType.required,
    };
  },
  invalid(field: string, value: unknown, detail: string): FieldError {
    return {
      field,
      message: `Invalid value: ${JSON.stringify(truncate(value))}: ${detail}`,
      reason: CauseType.invalid,
    };
  },
  /** A value of the wrong JSON type; `typeName` is what was found (`string`, `array`…). */
  typeInvalid(field: string, typeName: string, detail: string): FieldError {
    return {
      field,
      message: `Invalid value: ${JSON.stringify(typeName)}: ${detail}`,
      reason: CauseType.typeInvalid,
    };
  },
  unsupported(field: string, value: unknown, supported: readonly string[], hint = ''): FieldError {
    return {
      field,
      message: `Unsupported value: ${JSON.stringify(truncate(value))}: supported values: ${supported.map((s) => `"${s}"`).join(', ')}${hint}`,
      reason: CauseType.notSupported,
    };
  },
  /** A field the schema does not define (the API server prunes it): `--strict` makes it an error. */
  unknownField(field: string, hint: string, effect = 'the API server drops it'): FieldError {
    return {
      field,
      message: `Unsupported value: unknown field, ${effect}${hint}`,
      reason: CauseType.notSupported,
    };
  },
  forbidden(field: string, detail: string): FieldError {
    return { field, message: `Forbidden: ${detail}`, reason: CauseType.forbidden };
  },
  duplicate(field: string, value: unknown): FieldError {
    return {
      field,
      message: `Duplicate value: ${JSON.stringify(truncate(value))}`,
      reason: CauseType.duplicate,
    };
  },
  tooLong(field: string, max: number): FieldError {
    return { field, message: `Too long: may not be more than ${max} bytes`, reason: CauseType.tooLong };
  },
  /** Kubernetes' field.TooMany wording. */
  tooMany(field: string, actual: number, max: number): FieldError {
    return {
      field,
      message: `Too many: ${actual}: must have at most ${max} items`,
      reason: CauseType.tooMany,
    };
  },
  internal(field: string, detail: string): FieldError {
    return { field, message: `Internal error: ${detail}`, reason: CauseType.internal };
  },
};

function truncate(value: unknown): unknown {
  if (typeof value === 'string' && value.length > 64) return `${value.slice(0, 61)}...`;
  if (typeof value === 'object' && value !== null) return '<object>';
  return value;
}

/** metav1.StatusCause: the JSON key of its `Type` is `reason`. */
export interface StatusCause {
  reason: CauseType;
  message: string;
  field: string;
}

/** metav1.StatusDetails, the part of a Status kubectl reads to print causes one per line. */
export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes: StatusCause[];
}

export function statusCauses(errors: readonly FieldError[]): StatusCause[] {
  return errors.map((e) => ({ reason: e.reason, message: e.message, field: e.field }));
}

/**
 * The message of an invalid object, as the API server words it (`Kind.group "name" is invalid:
 * …`), one error per line when there are several so that clients printing only the message stay
 * readable.
 */
export function invalidMessage(qualifiedKind: string, name: string, errors: readonly FieldError[]): string {
  const head = `${qualifiedKind} "${name}" is invalid:`;
  if (errors.length === 1) {
    const e = errors[0] as FieldError;
    return `${head} ${e.field}: ${e.message}`;
  }
  return `${head}\n${errors.map((e) => `* ${e.field}: ${e.message}`).join('\n')}`;
}
