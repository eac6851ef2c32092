/**
 * The schema walk of src/api/schema-check.ts as it was before it was specialised per kind and
 * version (commit "schema-check: …"), kept verbatim as the oracle of
 * schema-check-differential.test.ts: the specialised walk must answer exactly as this one.
 */

import { CRD_PATTERN_MATCHERS } from '../../src/api/crd-patterns.ts';
import { CauseType, type FieldError, fieldErrors } from '../../src/api/field-errors.ts';
import {
  classifyIn,
  classifyValue,
  FIELD_SUPPORT,
  NOT_SUPPORTED,
  SERVED,
  type SupportEntry,
  type SupportKind,
  type SupportTable,
  servedValues,
} from '../../src/api/field-support.ts';
import { typeError } from '../../src/api/schema.ts';
import type { SchemaNode, SchemaVersion } from '../../src/api/schema-table.ts';
import { schemaTree } from '../../src/api/schema-table.ts';
import { suggestion } from '../../src/api/suggest.ts';
import type { StrictFinding } from '../../src/api/validate-external-secret.ts';
import { compileGoRegexp, type GoRegexp } from '../../src/patterns/re2.ts';

interface SchemaCheckResult {
  errors: FieldError[];
  /** `unknown field "…"` warnings, at most MAX_UNKNOWN plus a count. */
  unknownFields: string[];
  /** The same findings with their error form, for `--strict`. */
  unknown: StrictFinding[];
  /** Warned fields and values. */
  warnings: string[];
}

/** The API server keeps warnings short; so does this (at most MAX_UNKNOWN, names shortened). */
const MAX_UNKNOWN = 20;
/** Top-level fields that are not the kind's own (checked by validate.ts and validate-meta.ts). */
const ROOT_SKIP = new Set(['apiVersion', 'kind', 'metadata', 'status']);

/** What a field not in the support table gets: a new ESO field nobody reviewed yet. */
const UNCLASSIFIED: SupportEntry = {
  status: 'refused',
  why: 'this field of the ESO schema is not reviewed for this webhook yet',
};

interface Walk {
  table: SupportTable;
  classes: Map<SchemaNode, SupportEntry>;
  handErrors: readonly FieldError[];
  result: SchemaCheckResult;
  found: { path: string; hint: string }[];
}

export function referenceCheckSchema(
  obj: Record<string, unknown>,
  kind: SupportKind,
  version: SchemaVersion,
  handErrors: readonly FieldError[] = [],
): SchemaCheckResult {
  const result: SchemaCheckResult = { errors: [], unknownFields: [], unknown: [], warnings: [] };
  const table = FIELD_SUPPORT[kind];
  const w: Walk = { table, classes: classCache(table), handErrors, result, found: [] };
  const root = schemaTree(kind, version);
  for (const [key, value] of Object.entries(obj)) {
    if (ROOT_SKIP.has(key)) continue;
    const child = root.children.get(key);
    if (child) visit(w, value, child, key, false);
    else unknownField(w, root, '', key);
  }
  for (const { path, hint } of w.found.slice(0, MAX_UNKNOWN)) {
    const warning = `unknown field "${path}"${hint}`;
    result.unknownFields.push(warning);
    result.unknown.push({ warning, error: fieldErrors.unknownField(path, hint) });
  }
  if (w.found.length > MAX_UNKNOWN) {
    const more = `${w.found.length - MAX_UNKNOWN} more unknown fields`;
    const warning = `… and ${more}`;
    result.unknownFields.push(warning);
    result.unknown.push({
      warning,
      error: { ...fieldErrors.unknownField('<root>', ''), message: `Unsupported value: … and ${more}` },
    });
  }
  return result;
}

function unknownField(w: Walk, node: SchemaNode, path: string, key: string): void {
  // Suggestions are bounded: only for the first MAX_UNKNOWN, among one object's fields.
  const hint = w.found.length < MAX_UNKNOWN ? suggestion(key, node.children.keys()) : '';
  w.found.push({ path: path ? `${path}.${shortKey(key)}` : shortKey(key), hint });
}

const caches = new Map<SupportTable, Map<SchemaNode, SupportEntry>>();
function classCache(table: SupportTable): Map<SchemaNode, SupportEntry> {
  let c = caches.get(table);
  if (!c) {
    c = new Map();
    caches.set(table, c);
  }
  return c;
}

function classOf(w: Walk, node: SchemaNode): SupportEntry {
  let c = w.classes.get(node);
  if (!c) {
    c = classifyIn(w.table, node.path)?.entry ?? UNCLASSIFIED;
    w.classes.set(node, c);
  }
  return c;
}

function isDefault(value: unknown, node: SchemaNode): boolean {
  const d = node.schema.default;
  if (d === undefined) return false;
  if (typeof d !== 'object' || d === null) return value === d;
  return JSON.stringify(value) === JSON.stringify(d);
}

function shortKey(key: string): string {
  return key.length > 64 ? `${key.slice(0, 61)}...` : key;
}

/** A hand-written rule already reported this field or one above it. */
function reported(w: Walk, path: string): boolean {
  if (w.handErrors.length === 0) return false;
  for (const e of w.handErrors) {
    if (e.field === path) return true;
    if (path.startsWith(e.field) && (path[e.field.length] === '.' || path[e.field.length] === '['))
      return true;
  }
  return false;
}

function visit(w: Walk, value: unknown, node: SchemaNode, path: string, warnedAbove: boolean): void {
  // null is absent, as the API server prunes it from a field that is not nullable.
  if (value === undefined || value === null) return;
  // The API server writes a field's default into every object: the default means "absent" and
  // is never refused or warned about (e.g. azurekv.useAzureSDK: false).
  const cls = isDefault(value, node) ? SERVED : classOf(w, node);
  if (cls.status === 'refused') {
    // Told even when a hand-written rule found a problem here too: fixing that would not help.
    w.result.errors.push(fieldErrors.forbidden(path, `${NOT_SUPPORTED}; ${cls.why}`));
    return;
  }
  let warned = warnedAbove;
  if (cls.status === 'warned' && !warnedAbove) {
    w.result.warnings.push(`${path} is ignored by external-secrets-webhook: ${cls.why}`);
    warned = true;
  }
  const quiet = reported(w, path);
  if (!checkValue(w, value, node, path, quiet)) return;
  if (cls.status === 'byValue' && !quiet) {
    const s = classifyValue(cls, value);
    if (s?.status === 'refused') {
      const served = servedValues(cls).map((v) => `"${v}"`);
      w.result.errors.push({
        field: path,
        message: `Unsupported value: ${JSON.stringify(value)}: ${NOT_SUPPORTED}; ${s.why}${served.length ? ` (supported values: ${served.join(', ')})` : ''}`,
        reason: CauseType.notSupported,
      });
    } else if (s?.status === 'warned') {
      w.result.warnings.push(
        `${path}: ${JSON.stringify(value)} is ignored by external-secrets-webhook: ${s.why}`,
      );
    }
  }

  if (Array.isArray(value)) {
    const items = node.items;
    if (!items) return;
    value.forEach((item, i) => {
      visit(w, item, items, `${path}[${i}]`, warned);
    });
    return;
  }
  if (typeof value !== 'object') return;
  const o = value as Record<string, unknown>;
  for (const key in o) {
    if (!Object.hasOwn(o, key)) continue;
    const child = o[key];
    const named = node.children.get(key);
    if (named) visit(w, child, named, `${path}.${key}`, warned);
    else if (node.values) visit(w, child, node.values, `${path}[${JSON.stringify(shortKey(key))}]`, warned);
    else if (!node.schema.preserveUnknown) unknownField(w, node, path, key);
  }
}

/**
 * The schema's rules for one value. False when the value is of the wrong type (nothing below it
 * is checked). `quiet`: a hand-written rule reported this field already; only the type matters.
 */
function checkValue(w: Walk, value: unknown, node: SchemaNode, path: string, quiet: boolean): boolean {
  const s = node.schema;
  const errors = w.result.errors;
  const expected = s.intOrString ? 'integer or string' : s.type;
  if (expected && !hasType(value, expected)) {
    if (!quiet) errors.push(typeError(path, value, expected));
    return false;
  }
  if (quiet) return true;
  if (s.enum && !s.enum.includes(value as string)) {
    errors.push(fieldErrors.unsupported(path, value, s.enum.map(String)));
    return true;
  }
  if (typeof value === 'string') checkString(errors, value, s, path);
  else if (typeof value === 'number') checkNumber(errors, value, s, path);
  else if (Array.isArray(value)) {
    if (s.minItems !== undefined && value.length < s.minItems)
      errors.push(
        fieldErrors.invalid(path, value.length, `${path} in body should have at least ${s.minItems} items`),
      );
    if (s.maxItems !== undefined && value.length > s.maxItems)
      errors.push({
        field: path,
        message: `Too many: ${value.length}: must have at most ${s.maxItems} items`,
        reason: CauseType.tooMany,
      });
  } else if (typeof value === 'object' && value !== null) {
    const o = value as Record<string, unknown>;
    const present =
      s.minProperties !== undefined || s.maxProperties !== undefined
        ? Object.keys(o).filter((k) => o[k] !== undefined && o[k] !== null).length
        : 0;
    if (s.minProperties !== undefined && present < s.minProperties)
      errors.push(
        fieldErrors.invalid(
          path,
          present,
          `${path} in body should have at least ${s.minProperties} properties`,
        ),
      );
    if (s.maxProperties !== undefined && present > s.maxProperties)
      errors.push({
        field: path,
        message: `Too many: ${present}: must have at most ${s.maxProperties} items`,
        reason: CauseType.tooMany,
      });
    for (const r of s.required ?? []) {
      if (o[r] !== undefined && o[r] !== null) continue;
      // The API server applies defaults before it validates.
      if (node.children.get(r)?.schema.default !== undefined) continue;
      const p = `${path}.${r}`;
      if (!reported(w, p)) errors.push(fieldErrors.required(p));
    }
  }
  return true;
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'array':
      return Array.isArray(value);
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'integer or string':
      return Number.isInteger(value) || typeof value === 'string';
    default:
      return true;
  }
}

const patterns = new Map<string, Pick<GoRegexp, 'test'> | undefined>();
/**
 * A CRD pattern (ESO's, not the tenant's) runs on tenant input: with Go's RE2 semantics, as the
 * API server runs it, on the linear-time engine every tenant-facing pattern uses — or, for the
 * three that nearly every field uses, a character loop with the same answers (crd-patterns.ts).
 * Compiled once.
 */
function patternOf(source: string): Pick<GoRegexp, 'test'> | undefined {
  if (!patterns.has(source)) {
    const matcher = CRD_PATTERN_MATCHERS.get(source);
    let re: Pick<GoRegexp, 'test'> | undefined;
    try {
      re = matcher ? { test: matcher } : compileGoRegexp(source);
    } catch {
      re = undefined;
    }
    patterns.set(source, re);
  }
  return patterns.get(source);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function checkString(errors: FieldError[], value: string, s: SchemaNode['schema'], path: string): void {
  // OpenAPI lengths count characters (code points), not UTF-16 units; a string has at most as
  // many code points as units, so they are counted only when the units alone cannot tell.
  const length =
    (s.maxLength !== undefined && value.length > s.maxLength) ||
    (s.minLength !== undefined && value.length >= s.minLength && value.length < 2 * s.minLength)
      ? codePoints(value)
      : value.length;
  if (s.maxLength !== undefined && length > s.maxLength) {
    // Too long: the pattern is not tried (it would only repeat the problem, slowly).
    errors.push(fieldErrors.tooLong(path, s.maxLength));
    return;
  }
  if (s.minLength !== undefined && length < s.minLength) {
    errors.push(
      value === ''
        ? fieldErrors.required(path)
        : fieldErrors.invalid(path, value, `${path} in body should be at least ${s.minLength} chars long`),
    );
    return;
  }
  if (s.pattern !== undefined) {
    const re = patternOf(s.pattern);
    if (re && !re.test(value))
      errors.push(fieldErrors.invalid(path, value, `${path} in body should match '${s.pattern}'`));
  }
  if (s.format === 'byte' && !BASE64.test(value.replace(/\s+/g, ''))) {
    errors.push(fieldErrors.invalid(path, '<bytes>', `${path} in body must be of type byte (base64)`));
  }
}

function codePoints(value: string): number {
  let n = 0;
  for (const _ of value) n++;
  return n;
}

const INT32 = 2 ** 31;

function checkNumber(errors: FieldError[], value: number, s: SchemaNode['schema'], path: string): void {
  if (s.format === 'int32' && (value < -INT32 || value >= INT32)) {
    errors.push(fieldErrors.invalid(path, value, `${path} in body must be of type int32`));
    return;
  }
  if (s.minimum !== undefined && (s.exclusiveMinimum ? value <= s.minimum : value < s.minimum)) {
    errors.push(
      fieldErrors.invalid(
        path,
        value,
        `${path} in body should be greater than ${s.exclusiveMinimum ? '' : 'or equal to '}${s.minimum}`,
      ),
    );
  }
  if (s.maximum !== undefined && (s.exclusiveMaximum ? value >= s.maximum : value > s.maximum)) {
    errors.push(
      fieldErrors.invalid(
        path,
        value,
        `${path} in body should be less than ${s.exclusiveMaximum ? '' : 'or equal to '}${s.maximum}`,
      ),
    );
  }
}
