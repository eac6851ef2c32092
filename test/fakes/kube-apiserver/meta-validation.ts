/**
 * ObjectMeta validation as the API server runs it on every create and update (after mutating
 * admission): label values and the annotations' total size. Its messages are the API server's,
 * value included — a client that copies `Status.message` copies the value.
 */
import type { KObject } from './store.ts';

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_VALUE_MESSAGE =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const TOTAL_ANNOTATION_SIZE = 256 * 1024;

export interface FieldCause {
  reason: string;
  message: string;
  field: string;
}

/** The causes of a 422 Invalid, empty when the metadata is valid. */
export function validateObjectMeta(obj: KObject): FieldCause[] {
  const causes: FieldCause[] = [];
  const labels = (obj.metadata?.labels ?? {}) as Record<string, unknown>;
  for (const value of Object.values(labels)) {
    const v = String(value);
    if (v.length > 63) {
      causes.push({
        reason: 'FieldValueInvalid',
        message: `Invalid value: "${v}": must be no more than 63 characters`,
        field: 'metadata.labels',
      });
    } else if (!LABEL_VALUE.test(v)) {
      causes.push({
        reason: 'FieldValueInvalid',
        message: `Invalid value: "${v}": ${LABEL_VALUE_MESSAGE}`,
        field: 'metadata.labels',
      });
    }
  }
  const annotations = (obj.metadata?.annotations ?? {}) as Record<string, unknown>;
  let size = 0;
  for (const [k, v] of Object.entries(annotations))
    size += Buffer.byteLength(k) + Buffer.byteLength(String(v));
  if (size > TOTAL_ANNOTATION_SIZE) {
    causes.push({
      reason: 'FieldValueTooLong',
      message: `Too long: must have at most ${TOTAL_ANNOTATION_SIZE} bytes`,
      field: 'metadata.annotations',
    });
  }
  return causes;
}
