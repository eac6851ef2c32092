/**
 * One walk of an object alongside its generated schema table (src/api/schema-table.ts) and the
 * field-support table (src/api/field-support.ts):
 *
 * - fields the schema does not define: warnings (`unknown field "spec.x"`, with the nearest known
 *   field when one is close: `(did you mean "property"?)`), because the API server prunes them
 *   and they have no effect; `esw validate --strict` makes them errors;
 * - what the CRD schema enforces (types, enums, required fields, patterns, lengths, bounds),
 *   worded like the API server, for deployments that validate without the CRDs installed and for
 *   `esw validate`; skipped where a hand-written rule already reported the same field or one
 *   above it, so each problem is told once, in the more helpful words;
 * - the field-support classes: a refused field or value is an error naming it, a warned one a
 *   warning.
 *
 * The walk never throws, visits each value once, and stops below a refused or ill-typed field.
 */
import { compileGoRegexp, type GoRegexp } from '../patterns/re2.ts';
import { CRD_PATTERN_MATCHERS } from './crd-patterns.ts';
import { CauseType, type FieldError, fieldErrors } from './field-errors.ts';
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
} from './field-support.ts';
import { typeError } from './schema.ts';
import type { FieldSchema, SchemaNode, SchemaVersion } from './schema-table.ts';
import { schemaTree } from './schema-table.ts';
import { suggestion } from './suggest.ts';
import type { StrictFinding } from './validate-external-secret.ts';

export interface SchemaCheckResult {
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
  handErrors: readonly FieldError[];
  result: SchemaCheckResult;
  found: { path: string; hint: string }[];
  /**
   * Where the walk is, as steps (a name, an index, a map key) with their kinds, the first
   * `depth` of each: the path string is built only when a message or a hand-written error needs
   * it, never for a valid value.
   */
  steps: (string | number)[];
  stepKinds: StepKind[];
  depth: number;
}

/**
 * The step stacks of every walk: one walk runs at a time (nothing it calls validates), and
 * arrays that keep their size are not grown again on every admission (a walk overwrites what the
 * one before left).
 */
const STEPS: (string | number)[] = [];
const STEP_KINDS: StepKind[] = [];

/** A step's kind: `.name`, `[index]`, `["map key"]`. */
const NAME = 0;
const INDEX = 1;
const MAP_KEY = 2;
type StepKind = typeof NAME | typeof INDEX | typeof MAP_KEY;

/**
 * A schema node with what the walk asks of it per value worked out once per kind and version:
 * the rules in one object shape (the generated schemas have many shapes, and reading them was
 * most of the walk's time), the default's JSON, the support class (on first use).
 */
class CheckNode {
  readonly node: SchemaNode;
  readonly rules: Rules;
  /** `x-kubernetes-int-or-string` or the type; undefined: any. */
  readonly expected: string | undefined;
  readonly hasDefault: boolean;
  /** The default of an object or array field as JSON, compared with the value's JSON. */
  readonly defaultJson: string | undefined;
  /** The first key of an object default: a value whose JSON starts with another is not it. */
  readonly defaultFirstKey: string | undefined;
  /**
   * Named properties. An object without a prototype rather than a Map: the walk's hottest lookup
   * (keyed by the value's own property names) is cheaper, and a tenant's `constructor` or
   * `toString` finds nothing.
   */
  readonly children: Record<string, CheckNode | undefined> = Object.create(null);
  items: CheckNode | undefined = undefined;
  values: CheckNode | undefined = undefined;
  cls: SupportEntry | undefined = undefined;

  constructor(node: SchemaNode) {
    const s = node.schema;
    this.node = node;
    this.rules = rulesOf(s);
    this.expected = s.intOrString ? 'integer or string' : s.type;
    const d = s.default;
    this.hasDefault = d !== undefined;
    this.defaultJson = typeof d === 'object' && d !== null ? JSON.stringify(d) : undefined;
    this.defaultFirstKey = this.defaultJson?.startsWith('{') ? firstJsonKey(d as object) : undefined;
    for (const [key, child] of node.children) this.children[key] = new CheckNode(child);
    if (node.items) this.items = new CheckNode(node.items);
    if (node.values) this.values = new CheckNode(node.values);
  }
}

/** The schema's rules the walk checks, every field present (one shape for every node). */
type Rules = { readonly [K in keyof Required<FieldSchema>]: FieldSchema[K] | undefined };

function rulesOf(s: FieldSchema): Rules {
  return {
    type: s.type,
    intOrString: s.intOrString,
    preserveUnknown: s.preserveUnknown,
    nullable: s.nullable,
    required: s.required,
    enum: s.enum,
    default: s.default,
    pattern: s.pattern,
    format: s.format,
    minimum: s.minimum,
    maximum: s.maximum,
    exclusiveMinimum: s.exclusiveMinimum,
    exclusiveMaximum: s.exclusiveMaximum,
    minLength: s.minLength,
    maxLength: s.maxLength,
    minItems: s.minItems,
    maxItems: s.maxItems,
    minProperties: s.minProperties,
    maxProperties: s.maxProperties,
    celRules: s.celRules,
  };
}

/**
 * The check tree of each kind and version, built on first use (the tables are fixed); per kind,
 * as the support class cached on a node is that kind's.
 */
const checkTrees = new Map<SupportKind, Map<SchemaVersion, CheckNode>>();
function checkTree(kind: SupportKind, version: SchemaVersion): CheckNode {
  let versions = checkTrees.get(kind);
  if (!versions) {
    versions = new Map();
    checkTrees.set(kind, versions);
  }
  let tree = versions.get(version);
  if (!tree) {
    tree = new CheckNode(schemaTree(kind, version));
    versions.set(version, tree);
  }
  return tree;
}

export function checkSchema(
  obj: Record<string, unknown>,
  kind: SupportKind,
  version: SchemaVersion,
  handErrors: readonly FieldError[] = [],
): SchemaCheckResult {
  const result: SchemaCheckResult = { errors: [], unknownFields: [], unknown: [], warnings: [] };
  const w: Walk = {
    table: FIELD_SUPPORT[kind],
    handErrors,
    result,
    found: [],
    steps: STEPS,
    stepKinds: STEP_KINDS,
    depth: 0,
  };
  const root = checkTree(kind, version);
  for (const key in obj) {
    if (!Object.hasOwn(obj, key) || ROOT_SKIP.has(key)) continue;
    const child = root.children[key];
    if (child) descend(w, obj[key], child, NAME, key, false);
    else unknownField(w, root, key);
  }
  for (let i = 0; i < w.found.length && i < MAX_UNKNOWN; i++) {
    const { path, hint } = w.found[i] as { path: string; hint: string };
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

/** The concrete path of where the walk is: `spec.data[1].remoteRef`, `…data["tls.crt"]`. */
function pathOf(w: Walk): string {
  let path = '';
  for (let i = 0; i < w.depth; i++) {
    const step = w.steps[i] as string | number;
    const kind = w.stepKinds[i];
    if (kind === INDEX) path += `[${step}]`;
    else if (kind === MAP_KEY) path += `[${JSON.stringify(shortKey(step as string))}]`;
    else path += i === 0 ? step : `.${step}`;
  }
  return path;
}

function unknownField(w: Walk, node: CheckNode, key: string): void {
  // Suggestions are bounded: only for the first MAX_UNKNOWN, among one object's fields.
  const hint = w.found.length < MAX_UNKNOWN ? suggestion(key, node.node.children.keys()) : '';
  w.found.push({ path: w.depth > 0 ? `${pathOf(w)}.${shortKey(key)}` : shortKey(key), hint });
}

function classOf(w: Walk, node: CheckNode): SupportEntry {
  if (!node.cls) node.cls = classifyIn(w.table, node.node.path)?.entry ?? UNCLASSIFIED;
  return node.cls;
}

function isDefault(value: unknown, node: CheckNode): boolean {
  if (!node.hasDefault) return false;
  if (node.defaultJson === undefined) return value === node.rules.default;
  // Most objects are not their default (spec.target's is {creationPolicy, deletionPolicy}): told
  // by their first key without writing their JSON, for the plain objects a parser makes.
  const first = node.defaultFirstKey;
  if (first !== undefined && isPlainObject(value) && firstJsonKey(value) !== first) return false;
  return JSON.stringify(value) === node.defaultJson;
}

function isPlainObject(value: unknown): value is object {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return (
    (proto === Object.prototype || proto === null) &&
    typeof (value as { toJSON?: unknown }).toJSON !== 'function'
  );
}

/** The key JSON.stringify writes first: own, enumerable, with a value it writes. */
function firstJsonKey(o: object): string | undefined {
  for (const key in o) {
    if (!Object.hasOwn(o, key)) continue;
    const v = (o as Record<string, unknown>)[key];
    if (v !== undefined && typeof v !== 'function' && typeof v !== 'symbol') return key;
  }
  return undefined;
}

function shortKey(key: string): string {
  return key.length > 64 ? `${key.slice(0, 61)}...` : key;
}

/** A hand-written rule already reported this field or one above it. */
function reported(w: Walk, path: string): boolean {
  for (const e of w.handErrors) {
    if (e.field === path) return true;
    if (path.startsWith(e.field) && (path[e.field.length] === '.' || path[e.field.length] === '['))
      return true;
  }
  return false;
}

/** Visits `value` one step below where the walk is. */
function descend(
  w: Walk,
  value: unknown,
  node: CheckNode,
  kind: StepKind,
  step: string | number,
  warnedAbove: boolean,
): void {
  const depth = w.depth;
  w.steps[depth] = step;
  w.stepKinds[depth] = kind;
  w.depth = depth + 1;
  visit(w, value, node, warnedAbove);
  w.depth = depth;
}

function visit(w: Walk, value: unknown, node: CheckNode, warnedAbove: boolean): void {
  // null is absent, as the API server prunes it from a field that is not nullable.
  if (value === undefined || value === null) return;
  // The API server writes a field's default into every object: the default means "absent" and
  // is never refused or warned about (e.g. azurekv.useAzureSDK: false).
  const cls = isDefault(value, node) ? SERVED : classOf(w, node);
  if (cls.status === 'refused') {
    // Told even when a hand-written rule found a problem here too: fixing that would not help.
    w.result.errors.push(fieldErrors.forbidden(pathOf(w), `${NOT_SUPPORTED}; ${cls.why}`));
    return;
  }
  let warned = warnedAbove;
  if (cls.status === 'warned' && !warnedAbove) {
    w.result.warnings.push(`${pathOf(w)} is ignored by external-secrets-webhook: ${cls.why}`);
    warned = true;
  }
  const quiet = w.handErrors.length > 0 && reported(w, pathOf(w));
  if (!checkValue(w, value, node, quiet)) return;
  if (cls.status === 'byValue' && !quiet) {
    const s = classifyValue(cls, value);
    if (s?.status === 'refused') {
      const served = servedValues(cls).map((v) => `"${v}"`);
      w.result.errors.push({
        field: pathOf(w),
        message: `Unsupported value: ${JSON.stringify(value)}: ${NOT_SUPPORTED}; ${s.why}${served.length ? ` (supported values: ${served.join(', ')})` : ''}`,
        reason: CauseType.notSupported,
      });
    } else if (s?.status === 'warned') {
      w.result.warnings.push(
        `${pathOf(w)}: ${JSON.stringify(value)} is ignored by external-secrets-webhook: ${s.why}`,
      );
    }
  }

  if (Array.isArray(value)) {
    const items = node.items;
    if (!items) return;
    // A hole is absent, as for any value (visit returns on undefined).
    for (let i = 0; i < value.length; i++) descend(w, value[i], items, INDEX, i, warned);
    return;
  }
  if (typeof value !== 'object') return;
  const o = value as Record<string, unknown>;
  for (const key in o) {
    if (!Object.hasOwn(o, key)) continue;
    const child = o[key];
    const named = node.children[key];
    if (named) descend(w, child, named, NAME, key, warned);
    else if (node.values) descend(w, child, node.values, MAP_KEY, key, warned);
    else if (!node.rules.preserveUnknown) unknownField(w, node, key);
  }
}

/**
 * The schema's rules for one value. False when the value is of the wrong type (nothing below it
 * is checked). `quiet`: a hand-written rule reported this field already; only the type matters.
 */
function checkValue(w: Walk, value: unknown, node: CheckNode, quiet: boolean): boolean {
  const s = node.rules;
  const errors = w.result.errors;
  const expected = node.expected;
  if (expected && !hasType(value, expected)) {
    if (!quiet) errors.push(typeError(pathOf(w), value, expected));
    return false;
  }
  if (quiet) return true;
  if (s.enum && !s.enum.includes(value as string)) {
    errors.push(fieldErrors.unsupported(pathOf(w), value, s.enum.map(String)));
    return true;
  }
  if (typeof value === 'string') checkString(w, value, s);
  else if (typeof value === 'number') checkNumber(w, value, s);
  else if (Array.isArray(value)) {
    if (s.minItems !== undefined && value.length < s.minItems) {
      const path = pathOf(w);
      errors.push(
        fieldErrors.invalid(path, value.length, `${path} in body should have at least ${s.minItems} items`),
      );
    }
    if (s.maxItems !== undefined && value.length > s.maxItems)
      errors.push({
        field: pathOf(w),
        message: `Too many: ${value.length}: must have at most ${s.maxItems} items`,
        reason: CauseType.tooMany,
      });
  } else if (typeof value === 'object' && value !== null) {
    const o = value as Record<string, unknown>;
    const present = s.minProperties !== undefined || s.maxProperties !== undefined ? presentCount(o) : 0;
    if (s.minProperties !== undefined && present < s.minProperties) {
      const path = pathOf(w);
      errors.push(
        fieldErrors.invalid(
          path,
          present,
          `${path} in body should have at least ${s.minProperties} properties`,
        ),
      );
    }
    if (s.maxProperties !== undefined && present > s.maxProperties)
      errors.push({
        field: pathOf(w),
        message: `Too many: ${present}: must have at most ${s.maxProperties} items`,
        reason: CauseType.tooMany,
      });
    const required = s.required;
    for (let i = 0; required !== undefined && i < required.length; i++) {
      const r = required[i] as string;
      if (o[r] !== undefined && o[r] !== null) continue;
      // The API server applies defaults before it validates.
      if (node.children[r]?.hasDefault) continue;
      const p = `${pathOf(w)}.${r}`;
      if (!reported(w, p)) errors.push(fieldErrors.required(p));
    }
  }
  return true;
}

/**
 * The properties of `o` that are set. Not a closure in checkValue: the scope it would capture
 * `o` from was allocated for every object value, with or without a bound to count.
 */
function presentCount(o: Record<string, unknown>): number {
  let n = 0;
  for (const k of Object.keys(o)) if (o[k] !== undefined && o[k] !== null) n++;
  return n;
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

function checkString(w: Walk, value: string, s: Rules): void {
  const errors = w.result.errors;
  // OpenAPI lengths count characters (code points), not UTF-16 units; a string has at most as
  // many code points as units, so they are counted only when the units alone cannot tell.
  const length =
    (s.maxLength !== undefined && value.length > s.maxLength) ||
    (s.minLength !== undefined && value.length >= s.minLength && value.length < 2 * s.minLength)
      ? codePoints(value)
      : value.length;
  if (s.maxLength !== undefined && length > s.maxLength) {
    // Too long: the pattern is not tried (it would only repeat the problem, slowly).
    errors.push(fieldErrors.tooLong(pathOf(w), s.maxLength));
    return;
  }
  if (s.minLength !== undefined && length < s.minLength) {
    const path = pathOf(w);
    errors.push(
      value === ''
        ? fieldErrors.required(path)
        : fieldErrors.invalid(path, value, `${path} in body should be at least ${s.minLength} chars long`),
    );
    return;
  }
  if (s.pattern !== undefined) {
    const re = patternOf(s.pattern);
    if (re && !re.test(value)) {
      const path = pathOf(w);
      errors.push(fieldErrors.invalid(path, value, `${path} in body should match '${s.pattern}'`));
    }
  }
  if (s.format === 'byte' && !BASE64.test(value.replace(/\s+/g, ''))) {
    const path = pathOf(w);
    errors.push(fieldErrors.invalid(path, '<bytes>', `${path} in body must be of type byte (base64)`));
  }
}

function codePoints(value: string): number {
  let n = 0;
  for (const _ of value) n++;
  return n;
}

const INT32 = 2 ** 31;

function checkNumber(w: Walk, value: number, s: Rules): void {
  const errors = w.result.errors;
  if (s.format === 'int32' && (value < -INT32 || value >= INT32)) {
    const path = pathOf(w);
    errors.push(fieldErrors.invalid(path, value, `${path} in body must be of type int32`));
    return;
  }
  if (s.minimum !== undefined && (s.exclusiveMinimum ? value <= s.minimum : value < s.minimum)) {
    const path = pathOf(w);
    errors.push(
      fieldErrors.invalid(
        path,
        value,
        `${path} in body should be greater than ${s.exclusiveMinimum ? '' : 'or equal to '}${s.minimum}`,
      ),
    );
  }
  if (s.maximum !== undefined && (s.exclusiveMaximum ? value >= s.maximum : value > s.maximum)) {
    const path = pathOf(w);
    errors.push(
      fieldErrors.invalid(
        path,
        value,
        `${path} in body should be less than ${s.exclusiveMaximum ? '' : 'or equal to '}${s.maximum}`,
      ),
    );
  }
}
