/**
 * ExternalSecret validation (external-secrets.io v1 and v1beta1): ESO's webhook rules
 * (`externalsecret_validator.go`), its CRD schema, and what ESO leaves to sync time but can be
 * known at admission (Go-duration syntax, RE2 regular expressions). All errors are collected.
 *
 * Enums come from the generated schema tables (schema-table.ts), per version: `CreateOrMerge`
 * and `rewrite[].merge` exist in v1 only; `refreshPolicy` belongs to v1 (ESO 2.9 accepts it in
 * v1beta1 too, older releases prune it there, so there it is a warning). Unknown fields, the
 * remaining schema rules and unsupported fields are checked by schema-check.ts.
 */

import { checkPropertyPath } from '../patterns/property-path.ts';
import { checkGoRegexp } from '../patterns/re2.ts';
import { parseTemplate, TemplateError } from '../template/index.ts';
import { CronError, parseSchedule } from './cron.ts';
import { formatDuration, parseDuration } from './duration.ts';
import { type FieldError, fieldErrors } from './field-errors.ts';
import {
  checkEnum,
  checkSecretKey,
  type Obj,
  oneOfList,
  optArray,
  optBoolean,
  optName,
  optObject,
  optString,
  optStringMap,
  presentKeys,
  reqName,
  reqObject,
  reqString,
  typeName,
} from './schema.ts';
import { enumAt } from './schema-table.ts';
import { validateMetadata } from './validate-meta.ts';

export interface ValidationResult {
  errors: FieldError[];
  warnings: string[];
  /**
   * Unknown fields, annotations and kinds: warnings (the same text is among `warnings`) that
   * `esw validate --strict` turns into errors.
   */
  unknown?: StrictFinding[];
}

export interface StrictFinding {
  warning: string;
  error: FieldError;
}

export type EsoVersion = 'v1' | 'v1beta1';

/**
 * The enum of an ExternalSecret field in the ESO schema of `version`, looked up in the table once
 * per field (finding a path's node parses it): the paths are this file's literals, a fixed set.
 */
const enums: Record<EsoVersion, Map<string, readonly string[]>> = { v1: new Map(), v1beta1: new Map() };
function enumOf(version: EsoVersion, path: string): readonly string[] {
  let values = enums[version].get(path);
  if (!values) {
    values = enumAt('ExternalSecret', version, path);
    enums[version].set(path, values);
  }
  return values;
}
const STORE_KINDS = enumAt('ExternalSecret', 'v1', 'spec.secretStoreRef.kind');
/** ESO: for a Secret target, templateFrom[].target is empty, Data, Annotations or Labels. */
const TEMPLATE_TARGETS = ['Data', 'Annotations', 'Labels'] as const;

/** Secret types whose contents Kubernetes itself issues or trusts for authentication. */
export const FORBIDDEN_SECRET_TYPES: readonly string[] = [
  'kubernetes.io/service-account-token',
  'bootstrap.kubernetes.io/token',
];

// Go's time.Duration is an int64 of nanoseconds.
const MAX_DURATION_MS = 9_223_372_036_854.775;

export function validateExternalSecret(obj: Obj, version: EsoVersion): ValidationResult {
  const errors: FieldError[] = [];
  const warnings: string[] = [];
  const v1 = version === 'v1';

  if (!v1) {
    warnings.push('external-secrets.io/v1beta1 ExternalSecret is deprecated; use external-secrets.io/v1');
  }
  validateMetadata(obj, true, errors);

  const spec = reqObject(obj.spec, 'spec', errors);
  if (!spec) return { errors, warnings };

  // secretStoreRef
  const storeRef = optObject(spec.secretStoreRef, 'spec.secretStoreRef', errors);
  if (storeRef) checkStoreRef(storeRef, 'spec.secretStoreRef', errors);
  const defaultStore = typeof storeRef?.name === 'string' && storeRef.name !== '';

  // target
  const target = optObject(spec.target, 'spec.target', errors);
  let creation: string | undefined = 'Owner';
  let deletion: string | undefined = 'Retain';
  if (target) {
    optName(target.name, 'spec.target.name', errors);
    if (target.creationPolicy !== undefined) {
      creation = checkEnum(
        target.creationPolicy,
        'spec.target.creationPolicy',
        enumOf(version, 'spec.target.creationPolicy'),
        errors,
      );
    }
    if (target.deletionPolicy !== undefined) {
      deletion = checkEnum(
        target.deletionPolicy,
        'spec.target.deletionPolicy',
        enumOf(version, 'spec.target.deletionPolicy'),
        errors,
      );
    }
    optBoolean(target.immutable, 'spec.target.immutable', errors);
    const template = optObject(target.template, 'spec.target.template', errors);
    // A generic target (target.manifest) takes field paths in templateFrom[].target.
    const generic = target.manifest !== undefined && target.manifest !== null;
    if (generic) validateManifest(target.manifest, errors);
    if (template) validateTemplate(template, 'spec.target.template', version, generic, errors, warnings);
  }
  validatePolicies(creation, deletion, errors);

  // refreshInterval, refreshPolicy
  validateRefreshInterval(spec.refreshInterval, errors, warnings);
  if (spec.refreshPolicy !== undefined && spec.refreshPolicy !== null) {
    checkEnum(spec.refreshPolicy, 'spec.refreshPolicy', enumOf(version, 'spec.refreshPolicy'), errors);
    if (!v1) {
      warnings.push(
        'spec.refreshPolicy belongs to external-secrets.io/v1; older ESO releases prune it from v1beta1 objects: use external-secrets.io/v1',
      );
    }
  }

  validateSyncWindows(spec.syncWindows, spec.refreshPolicy, errors, warnings);

  // data / dataFrom
  const data = optArray(spec.data, 'spec.data', errors) ?? [];
  const dataFrom = optArray(spec.dataFrom, 'spec.dataFrom', errors) ?? [];
  if (data.length === 0 && dataFrom.length === 0) {
    errors.push(fieldErrors.required('spec.data', 'either data or dataFrom should be specified'));
  }
  // Loops, not forEach closures: the scope they would share was allocated on every call. Holes
  // are skipped, as forEach skips them.
  let needsDefaultStore = false;
  for (let i = 0; i < data.length; i++) {
    if (!(i in data)) continue;
    const p = `spec.data[${i}]`;
    const entry = reqObject(data[i], p, errors);
    if (!entry) continue;
    const key = reqString(entry.secretKey, `${p}.secretKey`, errors);
    if (key !== undefined) checkSecretKey(key, `${p}.secretKey`, errors);
    const remote = reqObject(entry.remoteRef, `${p}.remoteRef`, errors);
    if (remote) validateRemoteRef(remote, `${p}.remoteRef`, errors);
    const src = optObject(entry.sourceRef, `${p}.sourceRef`, errors);
    if (src) checkSourceRef(src, `${p}.sourceRef`, errors);
    if (!hasSource(src)) needsDefaultStore = true;
  }
  if (deletion === 'Retain') checkDuplicateKeys(data, errors);

  for (let i = 0; i < dataFrom.length; i++) {
    if (!(i in dataFrom)) continue;
    const p = `spec.dataFrom[${i}]`;
    const entry = reqObject(dataFrom[i], p, errors);
    if (!entry) continue;
    validateDataFrom(entry, p, v1, errors, warnings);
    if (!hasSource(optObjectQuiet(entry.sourceRef))) needsDefaultStore = true;
  }

  if (needsDefaultStore && !defaultStore) {
    warnings.push(
      'spec.secretStoreRef.name is not set and some data or dataFrom entries have no sourceRef: they cannot be fetched from any store',
    );
  }
  return { errors, warnings };
}

function optObjectQuiet(value: unknown): Obj | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Obj) : undefined;
}

function hasSource(src: Obj | undefined): boolean {
  if (!src) return false;
  const store = optObjectQuiet(src.storeRef);
  return (
    (store !== undefined && typeof store.name === 'string' && store.name !== '') ||
    !!optObjectQuiet(src.generatorRef)
  );
}

function checkStoreRef(ref: Obj, path: string, errors: FieldError[]): void {
  optName(ref.name, `${path}.name`, errors);
  if (ref.kind !== undefined && ref.kind !== null && ref.kind !== '')
    checkEnum(ref.kind, `${path}.kind`, STORE_KINDS, errors);
}

function checkGeneratorRef(value: unknown, path: string, errors: FieldError[]): void {
  const ref = reqObject(value, path, errors);
  if (!ref) return;
  optString(ref.apiVersion, `${path}.apiVersion`, errors);
  reqString(ref.kind, `${path}.kind`, errors, 'the generator kind, e.g. "Password"');
  reqName(ref.name, `${path}.name`, errors);
}

/** StoreSourceRef / StoreGeneratorSourceRef: the CRDs say MinProperties=1, MaxProperties=1. */
function checkSourceRef(src: Obj, path: string, errors: FieldError[]): void {
  const set = presentKeys(src, ['storeRef', 'generatorRef']);
  if (set.length !== 1) {
    errors.push(
      fieldErrors.invalid(
        path,
        src,
        set.length === 0
          ? 'must have exactly one of storeRef or generatorRef'
          : 'must have exactly one of storeRef or generatorRef, not both',
      ),
    );
  }
  const store = optObject(src.storeRef, `${path}.storeRef`, errors);
  if (store) {
    if (store.name === undefined || store.name === null || store.name === '') {
      errors.push(fieldErrors.required(`${path}.storeRef.name`));
    }
    checkStoreRef(store, `${path}.storeRef`, errors);
  }
  if (src.generatorRef !== undefined && src.generatorRef !== null)
    checkGeneratorRef(src.generatorRef, `${path}.generatorRef`, errors);
}

/** ESO's validatePolicies, plus CreateOrMerge (ours): it may merge into a Secret it does not own. */
function validatePolicies(
  creation: string | undefined,
  deletion: string | undefined,
  errors: FieldError[],
): void {
  if (
    deletion === 'Delete' &&
    (creation === 'Merge' || creation === 'None' || creation === 'CreateOrMerge')
  ) {
    errors.push(
      fieldErrors.invalid(
        'spec.target.deletionPolicy',
        deletion,
        `deletionPolicy=Delete must not be used when the controller doesn't own the secret (creationPolicy=${creation}). Please set creationPolicy=Owner`,
      ),
    );
  }
  if (deletion === 'Merge' && creation === 'None') {
    errors.push(
      fieldErrors.invalid(
        'spec.target.deletionPolicy',
        deletion,
        'deletionPolicy=Merge must not be used with creationPolicy=None. There is no Secret to merge with',
      ),
    );
  }
}

function validateRefreshInterval(value: unknown, errors: FieldError[], warnings: string[]): void {
  if (value === undefined || value === null) return;
  if (typeof value !== 'string') {
    // YAML `refreshInterval: 0` is a number; the CRD declares a string.
    errors.push(
      fieldErrors.invalid(
        'spec.refreshInterval',
        typeName(value),
        `spec.refreshInterval in body must be of type string: quote it, e.g. "${typeof value === 'number' ? value : '1h'}"`,
      ),
    );
    return;
  }
  const s = value;
  const ms = parseDuration(s);
  if (ms === undefined) {
    errors.push(
      fieldErrors.invalid(
        'spec.refreshInterval',
        s,
        'must be a Go duration such as "1h", "30m", "1h30m" or "0" (units ns, us, ms, s, m, h)',
      ),
    );
    return;
  }
  if (Math.abs(ms) > MAX_DURATION_MS) {
    errors.push(
      fieldErrors.invalid('spec.refreshInterval', s, 'duration out of range (at most about 2562047h)'),
    );
    return;
  }
  if (ms < 0) {
    warnings.push(`spec.refreshInterval ${formatDuration(ms)} is negative: it disables refreshing, like "0"`);
  } else if (ms > 0 && ms < 1000) {
    warnings.push(`spec.refreshInterval ${formatDuration(ms)} is very short: every sync calls the provider`);
  }
}

/** A tenant bound: each window is evaluated when a refresh comes due. ESO sets none. */
export const MAX_SYNC_WINDOWS = 64;

/**
 * syncWindows: the CRD checks kind, required fields and the schedule's shape (schema-check.ts);
 * here each schedule must parse as robfig/cron does (ESO would treat it as a window that never
 * opens) and each duration as a Go duration (ESO could not even decode the object).
 */
function validateSyncWindows(
  value: unknown,
  refreshPolicy: unknown,
  errors: FieldError[],
  warnings: string[],
): void {
  const sw = optObject(value, 'spec.syncWindows', errors);
  if (!sw) return;
  const windows = optArray(sw.windows, 'spec.syncWindows.windows', errors) ?? [];
  if (windows.length > MAX_SYNC_WINDOWS) {
    errors.push(fieldErrors.tooMany('spec.syncWindows.windows', windows.length, MAX_SYNC_WINDOWS));
    return;
  }
  // A loop, not a forEach closure: its scope was allocated on every call, windows or not.
  for (let i = 0; i < windows.length; i++) {
    if (!(i in windows)) continue;
    const p = `spec.syncWindows.windows[${i}]`;
    const w = optObject(windows[i], p, errors);
    if (!w) continue;
    if (typeof w.schedule === 'string' && w.schedule !== '') {
      try {
        parseSchedule(w.schedule);
      } catch (err) {
        if (!(err instanceof CronError)) throw err;
        errors.push(fieldErrors.invalid(`${p}.schedule`, w.schedule, `not a cron schedule: ${err.message}`));
      }
    }
    if (typeof w.duration === 'string') {
      const ms = parseDuration(w.duration);
      if (ms === undefined || Math.abs(ms) > MAX_DURATION_MS) {
        errors.push(
          fieldErrors.invalid(`${p}.duration`, w.duration, 'must be a Go duration such as "8h" or "30m"'),
        );
      } else if (ms <= 0) {
        warnings.push(`${p}.duration ${formatDuration(ms)} is not positive: the window never stays open`);
      }
    }
  }
  const policy = refreshPolicy ?? 'Periodic';
  if (policy !== 'Periodic' && windows.length > 0) {
    warnings.push(
      `spec.syncWindows only gate periodic refreshes; with refreshPolicy ${JSON.stringify(policy)} they have no effect`,
    );
  }
}

function validateRemoteRef(ref: Obj, path: string, errors: FieldError[]): void {
  reqString(ref.key, `${path}.key`, errors, 'the name of the secret in the provider');
  const property = optString(ref.property, `${path}.property`, errors);
  const problem = property ? checkPropertyPath(property) : undefined;
  if (problem) errors.push(fieldErrors.invalid(`${path}.property`, property, problem));
  optString(ref.version, `${path}.version`, errors);
  // The same enums in both versions.
  for (const f of ['metadataPolicy', 'conversionStrategy', 'decodingStrategy'] as const) {
    if (ref[f] !== undefined)
      checkEnum(ref[f], `${path}.${f}`, enumOf('v1', `spec.data[].remoteRef.${f}`), errors);
  }
}

function checkRegexp(value: string, path: string, errors: FieldError[]): void {
  const problem = checkGoRegexp(value);
  if (problem) errors.push(fieldErrors.invalid(path, value, problem));
}

function validateFind(find: Obj, path: string, errors: FieldError[]): void {
  optString(find.path, `${path}.path`, errors);
  const name = optObject(find.name, `${path}.name`, errors);
  if (name) {
    const re = optString(name.regexp, `${path}.name.regexp`, errors);
    if (re) checkRegexp(re, `${path}.name.regexp`, errors);
  }
  optStringMap(find.tags, `${path}.tags`, errors);
  for (const f of ['conversionStrategy', 'decodingStrategy'] as const) {
    if (find[f] !== undefined)
      checkEnum(find[f], `${path}.${f}`, enumOf('v1', `spec.dataFrom[].find.${f}`), errors);
  }
}

function validateDataFrom(
  entry: Obj,
  path: string,
  v1: boolean,
  errors: FieldError[],
  warnings: string[],
): void {
  const src = optObject(entry.sourceRef, `${path}.sourceRef`, errors);
  const generator = src !== undefined && src.generatorRef !== undefined && src.generatorRef !== null;
  const storeOverride = src !== undefined && src.storeRef !== undefined && src.storeRef !== null;
  const kinds = presentKeys(entry, ['extract', 'find']);
  if (generator) kinds.push('sourceRef.generatorRef');
  if (kinds.length === 0 && !storeOverride) {
    errors.push(fieldErrors.invalid(path, entry, 'must have exactly one of extract, find or sourceRef'));
  } else if (kinds.length > 1) {
    errors.push(
      fieldErrors.invalid(
        path,
        entry,
        `must have exactly one of extract, find or sourceRef, found ${kinds.join(' and ')} (a generatorRef cannot be combined with extract or find)`,
      ),
    );
  } else if (kinds.length === 0) {
    warnings.push(
      `${path} has only sourceRef.storeRef: add extract or find to say what to fetch from that store`,
    );
  }
  const extract = optObject(entry.extract, `${path}.extract`, errors);
  if (extract) validateRemoteRef(extract, `${path}.extract`, errors);
  const find = optObject(entry.find, `${path}.find`, errors);
  if (find) validateFind(find, `${path}.find`, errors);
  if (src) checkSourceRef(src, `${path}.sourceRef`, errors);

  const rewrites = optArray(entry.rewrite, `${path}.rewrite`, errors) ?? [];
  const ops = v1 ? ['merge', 'regexp', 'transform'] : ['regexp', 'transform'];
  rewrites.forEach((raw, i) => {
    const p = `${path}.rewrite[${i}]`;
    const rw = reqObject(raw, p, errors);
    if (!rw) return;
    const set = presentKeys(rw, ops);
    if (set.length !== 1)
      errors.push(fieldErrors.invalid(p, rw, `must have exactly one of ${oneOfList(ops)}`));
    const re = optObject(rw.regexp, `${p}.regexp`, errors);
    if (re) {
      const source = reqString(
        re.source,
        `${p}.regexp.source`,
        errors,
        'the regular expression to match keys',
      );
      if (source) checkRegexp(source, `${p}.regexp.source`, errors);
      if (re.target === undefined || re.target === null)
        errors.push(fieldErrors.required(`${p}.regexp.target`));
      else optString(re.target, `${p}.regexp.target`, errors);
    }
    const tr = optObject(rw.transform, `${p}.transform`, errors);
    if (tr) {
      const tpl = reqString(tr.template, `${p}.transform.template`, errors);
      if (tpl !== undefined) checkTemplateSyntax(tpl, `${p}.transform.template`, errors);
    }
    const merge = v1 ? optObject(rw.merge, `${p}.merge`, errors) : undefined;
    if (merge) {
      const into = optString(merge.into, `${p}.merge.into`, errors);
      optArray(merge.priority, `${p}.merge.priority`, errors);
      if (merge.conflictPolicy !== undefined)
        checkEnum(
          merge.conflictPolicy,
          `${p}.merge.conflictPolicy`,
          enumOf('v1', 'spec.dataFrom[].rewrite[].merge.conflictPolicy'),
          errors,
        );
      const strategy =
        merge.strategy === undefined
          ? 'Extract'
          : checkEnum(
              merge.strategy,
              `${p}.merge.strategy`,
              enumOf('v1', 'spec.dataFrom[].rewrite[].merge.strategy'),
              errors,
            );
      if (strategy === 'JSON' && !into)
        errors.push(fieldErrors.required(`${p}.merge.into`, 'strategy JSON needs the target key'));
    }
  });
}

/** Up to this many entries, keys are compared pairwise: no Set for the few most objects have. */
const FEW_KEYS = 8;

/** ESO's validateDuplicateKeys: checked when deletionPolicy is Retain (the default). */
function checkDuplicateKeys(data: unknown[], errors: FieldError[]): void {
  const seen = data.length > FEW_KEYS ? new Set<string>() : undefined;
  for (let i = 0; i < data.length; i++) {
    if (!(i in data)) continue;
    const key = secretKeyOf(data[i]);
    if (key === undefined) continue;
    if (seen ? seen.has(key) : keyBefore(data, i, key))
      errors.push(fieldErrors.duplicate(`spec.data[${i}].secretKey`, key));
    seen?.add(key);
  }
}

function secretKeyOf(raw: unknown): string | undefined {
  const key = optObjectQuiet(raw)?.secretKey;
  return typeof key === 'string' && key !== '' ? key : undefined;
}

/** `key` is the secretKey of an entry before `end` (holes skipped). */
function keyBefore(data: unknown[], end: number, key: string): boolean {
  for (let j = 0; j < end; j++) if (j in data && secretKeyOf(data[j]) === key) return true;
  return false;
}

/** A templateFrom[].target field path of a generic target: dot-separated field names. */
const FIELD_PATH = /^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$/;

/**
 * `spec.target.manifest` (ESO 2.9 generic targets). A Secret is refused: the ordinary target
 * writes Secrets, with the type checks a generic write would skip. Which kinds a cluster allows
 * is the refresher's flag (`--generic-target-kinds`); it reports a refused kind in the status.
 */
function validateManifest(raw: unknown, errors: FieldError[]): void {
  const m = optObject(raw, 'spec.target.manifest', errors);
  if (!m) return;
  if (m.kind === 'Secret' && (m.apiVersion === 'v1' || m.apiVersion === undefined))
    errors.push(
      fieldErrors.forbidden(
        'spec.target.manifest.kind',
        'Secret is not a generic target: omit spec.target.manifest to write a Secret',
      ),
    );
}

function validateTemplate(
  t: Obj,
  path: string,
  version: EsoVersion,
  generic: boolean,
  errors: FieldError[],
  warnings: string[],
): void {
  const at = (field: string) => enumOf(version, `spec.target.template.${field}`);
  const type = optString(t.type, `${path}.type`, errors);
  if (type !== undefined && FORBIDDEN_SECRET_TYPES.includes(type)) {
    errors.push(
      fieldErrors.forbidden(
        `${path}.type`,
        `Secrets of type "${type}" authenticate to the cluster itself and may not be created from an external store`,
      ),
    );
  }
  if (t.engineVersion !== undefined)
    checkEnum(t.engineVersion, `${path}.engineVersion`, at('engineVersion'), errors);
  if (t.mergePolicy !== undefined) checkEnum(t.mergePolicy, `${path}.mergePolicy`, at('mergePolicy'), errors);
  const meta = optObject(t.metadata, `${path}.metadata`, errors);
  if (meta) {
    for (const field of ['annotations', 'labels'] as const) {
      const m = optStringMap(meta[field], `${path}.metadata.${field}`, errors) ?? {};
      for (const [k, v] of Object.entries(m)) {
        if (typeof v === 'string') checkTemplateSyntax(v, `${path}.metadata.${field}.${k}`, errors);
      }
    }
  }
  for (const [k, v] of Object.entries(optStringMap(t.data, `${path}.data`, errors) ?? {})) {
    if (typeof v === 'string') checkTemplateSyntax(v, `${path}.data.${k}`, errors);
  }
  const from = optArray(t.templateFrom, `${path}.templateFrom`, errors) ?? [];
  from.forEach((raw, i) => {
    const p = `${path}.templateFrom[${i}]`;
    const tf = reqObject(raw, p, errors);
    if (!tf) return;
    // ESO 2.9 leaves the v1 field free (field paths of generic targets); for a Secret it allows
    // these only. v1beta1's schema enum says the same.
    if (tf.target !== undefined && tf.target !== '' && !generic)
      checkEnum(tf.target, `${p}.target`, TEMPLATE_TARGETS, errors);
    else if (typeof tf.target === 'string' && tf.target !== '' && !FIELD_PATH.test(tf.target))
      errors.push(
        fieldErrors.invalid(
          `${p}.target`,
          tf.target,
          'Data, Annotations, Labels or a field path of the target such as spec.database',
        ),
      );
    const literal = optString(tf.literal, `${p}.literal`, errors);
    if (literal !== undefined) checkTemplateSyntax(literal, `${p}.literal`, errors);
    for (const src of ['configMap', 'secret'] as const) {
      const ref = optObject(tf[src], `${p}.${src}`, errors);
      if (!ref) continue;
      reqName(ref.name, `${p}.${src}.name`, errors);
      // The schema has no namespace here (Kubernetes prunes it): say so, rather than let a
      // manifest that means another namespace read a same-named object of this one.
      if (ref.namespace !== undefined)
        errors.push(
          fieldErrors.forbidden(
            `${p}.${src}.namespace`,
            `templateFrom reads a ${src === 'configMap' ? 'ConfigMap' : 'Secret'} of the ExternalSecret's own namespace only`,
          ),
        );
      if (ref.items === undefined || ref.items === null) {
        errors.push(fieldErrors.required(`${p}.${src}.items`, 'the keys to use as templates'));
        continue;
      }
      (optArray(ref.items, `${p}.${src}.items`, errors) ?? []).forEach((rawItem, j) => {
        const ip = `${p}.${src}.items[${j}]`;
        const item = reqObject(rawItem, ip, errors);
        if (!item) return;
        const key = reqString(item.key, `${ip}.key`, errors);
        if (key !== undefined) checkSecretKey(key, `${ip}.key`, errors);
        if (item.templateAs !== undefined)
          checkEnum(
            item.templateAs,
            `${ip}.templateAs`,
            at('templateFrom[].configMap.items[].templateAs'),
            errors,
          );
      });
    }
    if (presentKeys(tf, ['configMap', 'secret', 'literal']).length === 0) {
      warnings.push(`${p} has none of configMap, secret or literal: it renders nothing`);
    }
  });
}

/**
 * A template that Go's text/template would not parse fails every sync: refuse it at admission
 * with the parser's position (the same parser the refresher runs).
 */
function checkTemplateSyntax(source: string, path: string, errors: FieldError[]): void {
  try {
    parseTemplate(source, path);
  } catch (e) {
    if (!(e instanceof TemplateError)) throw e;
    errors.push(
      fieldErrors.invalid(path, '(template)', e.message.replace(/^template: /, 'template does not parse: ')),
    );
  }
}
