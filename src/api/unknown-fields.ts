/**
 * Fields the ESO CRD schemas do not define. The API server prunes them, so a typo such as
 * `proprety:` silently fetches something else: the webhook warns with the nearest known field
 * (`unknown field "spec.data[0].remoteRef.proprety" (did you mean "property"?)`), and
 * `esw validate --strict` makes each one an error. Candidates come from the field tables in
 * known-fields.ts.
 */
import { fieldErrors } from './field-errors.ts';
import type { Shape } from './known-fields.ts';
import { suggestion } from './suggest.ts';
import type { StrictFinding } from './validate-external-secret.ts';

/** The API server keeps warnings short; so does this (at most MAX_UNKNOWN, names shortened). */
const MAX_UNKNOWN = 20;

export interface UnknownFields {
  warnings: string[];
  /** The same findings with their error form, for --strict (at most MAX_UNKNOWN). */
  unknown: StrictFinding[];
}

export function checkUnknownFields(value: unknown, shape: Shape, into: UnknownFields): void {
  const found: { path: string; hint: string }[] = [];
  collect(value, shape, '', found);
  for (const { path, hint } of found.slice(0, MAX_UNKNOWN)) {
    const warning = `unknown field "${path}"${hint}`;
    into.warnings.push(warning);
    into.unknown.push({ warning, error: fieldErrors.unknownField(path, hint) });
  }
  if (found.length > MAX_UNKNOWN) {
    const more = `${found.length - MAX_UNKNOWN} more unknown fields`;
    const warning = `… and ${more}`;
    into.warnings.push(warning);
    into.unknown.push({
      warning,
      error: { ...fieldErrors.unknownField('<root>', ''), message: `Unsupported value: … and ${more}` },
    });
  }
}

function shortKey(key: string): string {
  return key.length > 64 ? `${key.slice(0, 61)}...` : key;
}

function collect(value: unknown, shape: Shape, path: string, found: { path: string; hint: string }[]): void {
  if (shape === 'leaf' || value === null || typeof value !== 'object') return;
  if (Array.isArray(shape)) {
    if (!Array.isArray(value)) return;
    value.forEach((item, i) => {
      collect(item, shape[0] as Shape, `${path}[${i}]`, found);
    });
    return;
  }
  if (Array.isArray(value)) return;
  const fields = shape as { readonly [field: string]: Shape };
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    const sub = Object.hasOwn(fields, key) ? fields[key] : undefined;
    if (sub === undefined) {
      // Bounded: at most a few hundred siblings, and only for fields that are wrong anyway.
      const hint = found.length < MAX_UNKNOWN ? suggestion(key, Object.keys(fields)) : '';
      found.push({ path: path ? `${path}.${shortKey(key)}` : shortKey(key), hint });
    } else collect(child, sub, path ? `${path}.${key}` : key, found);
  }
}
