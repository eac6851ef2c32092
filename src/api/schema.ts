/**
 * Schema helpers shared by the ExternalSecret, store and provider validators: what the ESO CRDs
 * (OpenAPI v3 schemas) enforce in the API server, re-enforced here because a webhook-only
 * deployment may run without those CRDs. Every helper appends to an error list and never throws,
 * so one pass reports every problem of an object. Wording follows the Kubernetes API server.
 */
// The API server's three name patterns: the schema walk's character loops, held to Go's answers
// (crd-patterns.ts), so each pattern has one implementation here, not a loop and a JS RegExp.
import { isDnsLabel, isDnsSubdomain, isSecretKey } from './crd-patterns.ts';
import { type FieldError, fieldErrors } from './field-errors.ts';

export type Obj = Record<string, unknown>;

const DNS_SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS_LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const SECRET_KEY_MSG =
  "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name', or 'KEY_NAME', or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

export function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The OpenAPI type name of a JSON value, as the API server prints it. */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

export function typeError(path: string, value: unknown, expected: string): FieldError {
  return fieldErrors.typeInvalid(path, typeName(value), `${path} in body must be of type ${expected}`);
}

/** An optional object field: undefined when absent (or null) or of the wrong type (error added). */
export function optObject(value: unknown, path: string, errors: FieldError[]): Obj | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) {
    errors.push(typeError(path, value, 'object'));
    return undefined;
  }
  return value;
}

export function optArray(value: unknown, path: string, errors: FieldError[]): unknown[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) {
    errors.push(typeError(path, value, 'array'));
    return undefined;
  }
  return value;
}

export function optString(value: unknown, path: string, errors: FieldError[]): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    errors.push(typeError(path, value, 'string'));
    return undefined;
  }
  return value;
}

export function optBoolean(value: unknown, path: string, errors: FieldError[]): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') {
    errors.push(typeError(path, value, 'boolean'));
    return undefined;
  }
  return value;
}

export function optInteger(value: unknown, path: string, errors: FieldError[]): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    errors.push(typeError(path, value, 'integer'));
    return undefined;
  }
  return value;
}

/** A required object field: `Required value` when absent. */
export function reqObject(
  value: unknown,
  path: string,
  errors: FieldError[],
  detail?: string,
): Obj | undefined {
  if (value === undefined || value === null) {
    errors.push(fieldErrors.required(path, detail));
    return undefined;
  }
  return optObject(value, path, errors);
}

/** A required string: `Required value` when absent or empty (an empty key can never be fetched). */
export function reqString(
  value: unknown,
  path: string,
  errors: FieldError[],
  detail?: string,
): string | undefined {
  if (value === undefined || value === null || value === '') {
    errors.push(fieldErrors.required(path, detail));
    return undefined;
  }
  return optString(value, path, errors);
}

/** A string map (labels, tags, template data): every value must be a string. */
export function optStringMap(value: unknown, path: string, errors: FieldError[]): Obj | undefined {
  const map = optObject(value, path, errors);
  if (!map) return undefined;
  for (const [k, v] of Object.entries(map)) {
    const key = k.length > 64 ? `${k.slice(0, 61)}...` : k;
    if (typeof v !== 'string') errors.push(typeError(`${path}[${JSON.stringify(key)}]`, v, 'string'));
  }
  return map;
}

export function checkEnum(
  value: unknown,
  path: string,
  allowed: readonly string[],
  errors: FieldError[],
): string | undefined {
  const s = optString(value, path, errors);
  if (s === undefined) return undefined;
  if (!allowed.includes(s)) {
    errors.push(fieldErrors.unsupported(path, s, allowed));
    return undefined;
  }
  return s;
}

/** Kubernetes object name (ConfigMap, Secret, store, ServiceAccount): DNS-1123 subdomain, 253 max. */
export function checkDnsSubdomain(value: string, path: string, errors: FieldError[]): boolean {
  if (value.length > 253) {
    errors.push(fieldErrors.tooLong(path, 253));
    return false;
  }
  if (!isDnsSubdomain(value)) {
    errors.push(fieldErrors.invalid(path, value, DNS_SUBDOMAIN_MSG));
    return false;
  }
  return true;
}

/** Namespace names: DNS-1123 label, 63 max. */
export function checkDnsLabel(value: string, path: string, errors: FieldError[]): boolean {
  if (value.length > 63) {
    errors.push(fieldErrors.tooLong(path, 63));
    return false;
  }
  if (!isDnsLabel(value)) {
    errors.push(fieldErrors.invalid(path, value, DNS_LABEL_MSG));
    return false;
  }
  return true;
}

/** A key of a Secret or ConfigMap: `^[-._a-zA-Z0-9]+$`, 253 max. */
export function checkSecretKey(value: string, path: string, errors: FieldError[]): boolean {
  if (value.length > 253) {
    errors.push(fieldErrors.tooLong(path, 253));
    return false;
  }
  if (!isSecretKey(value)) {
    errors.push(fieldErrors.invalid(path, value, SECRET_KEY_MSG));
    return false;
  }
  return true;
}

/** Optional name field with the DNS-1123 subdomain pattern (the CRDs' MinLength 1 included). */
export function optName(value: unknown, path: string, errors: FieldError[]): string | undefined {
  const s = optString(value, path, errors);
  if (s === undefined) return undefined;
  if (s === '') {
    errors.push(fieldErrors.required(path));
    return undefined;
  }
  return checkDnsSubdomain(s, path, errors) ? s : undefined;
}

export function reqName(value: unknown, path: string, errors: FieldError[]): string | undefined {
  if (value === undefined || value === null || value === '') {
    errors.push(fieldErrors.required(path));
    return undefined;
  }
  return optName(value, path, errors);
}

/** Names the fields present in `obj` among `keys` (null counts as absent, as after pruning). */
export function presentKeys(obj: Obj, keys: readonly string[]): string[] {
  return keys.filter((k) => obj[k] !== undefined && obj[k] !== null);
}

/** `a, b or c` for messages. */
export function oneOfList(keys: readonly string[]): string {
  if (keys.length <= 1) return keys.join('');
  return `${keys.slice(0, -1).join(', ')} or ${keys[keys.length - 1]}`;
}

/** Label selector as the API server and `metav1.LabelSelectorAsSelector` accept it. */
export function checkLabelSelector(value: unknown, path: string, errors: FieldError[]): void {
  const sel = optObject(value, path, errors);
  if (!sel) return;
  optStringMap(sel.matchLabels, `${path}.matchLabels`, errors);
  const exprs = optArray(sel.matchExpressions, `${path}.matchExpressions`, errors) ?? [];
  exprs.forEach((raw, i) => {
    const p = `${path}.matchExpressions[${i}]`;
    const expr = reqObject(raw, p, errors);
    if (!expr) return;
    reqString(expr.key, `${p}.key`, errors);
    const op = expr.operator;
    if (op === undefined || op === null || op === '') {
      errors.push(fieldErrors.required(`${p}.operator`));
    } else {
      checkEnum(op, `${p}.operator`, ['In', 'NotIn', 'Exists', 'DoesNotExist'], errors);
    }
    const values = optArray(expr.values, `${p}.values`, errors);
    if ((op === 'In' || op === 'NotIn') && (!values || values.length === 0)) {
      errors.push(
        fieldErrors.required(`${p}.values`, `must be specified when \`operator\` is 'In' or 'NotIn'`),
      );
    }
    if ((op === 'Exists' || op === 'DoesNotExist') && values && values.length > 0) {
      errors.push(
        fieldErrors.forbidden(
          `${p}.values`,
          `may not be specified when \`operator\` is 'Exists' or 'DoesNotExist'`,
        ),
      );
    }
  });
}
