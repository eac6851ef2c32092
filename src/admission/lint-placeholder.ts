/**
 * Static checks of a placeholder Secret, for `esw validate`: what the mutating webhook would
 * refuse before any provider call (reference syntax, the store annotations, the refresh
 * interval), and the mistakes it cannot see because the Secret never reaches it — a misspelt
 * `esw.io/` label or annotation, references in a Secret that is not opted in. Nothing here
 * reads or prints a value: messages name keys and annotations only.
 */
import { CauseType, type FieldError, fieldErrors } from '../api/field-errors.ts';
import { isObject, type Obj } from '../api/schema.ts';
import { didYouMean, suggestion } from '../api/suggest.ts';
import type { StrictFinding, ValidationResult } from '../api/validate-external-secret.ts';
import { isEswError } from '../errors.ts';
import { decodeBase64Strict } from '../refs/decoding.ts';
import {
  bytesHaveRefs,
  PlaceholderAnnotation,
  PlaceholderLabel,
  parseReferenceBody,
  parseTemplate,
  templateHasRefs,
} from '../refs/placeholder.ts';
import { readPlaceholderSettings } from './mutate.ts';

const ANNOTATIONS: readonly string[] = Object.values(PlaceholderAnnotation).filter((a) => !a.endsWith('/'));
const LABELS: readonly string[] = Object.values(PlaceholderLabel);
const EVERY_NAME: readonly string[] = [...ANNOTATIONS, ...LABELS];
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
const IGNORED = 'the webhook ignores it';

/** True when a Secret carries anything of this project: then `esw validate` checks it. */
export function looksLikePlaceholder(secret: Obj): boolean {
  const meta = isObject(secret.metadata) ? secret.metadata : {};
  const names = [
    ...Object.keys(isObject(meta.labels) ? meta.labels : {}),
    ...Object.keys(isObject(meta.annotations) ? meta.annotations : {}),
  ];
  return (
    names.some((n) => n.includes('esw.io/') || didYouMean(n, EVERY_NAME) !== undefined) ||
    valueEntries(secret).some((v) => v.hasRefs)
  );
}

export function lintPlaceholderSecret(secret: Obj): ValidationResult {
  const errors: FieldError[] = [];
  const warnings: string[] = [];
  const unknown: StrictFinding[] = [];
  const meta = isObject(secret.metadata) ? secret.metadata : {};
  const labels = isObject(meta.labels) ? meta.labels : {};
  const annotations = isObject(meta.annotations) ? meta.annotations : {};
  const unknownName = (field: string, what: string, name: string, candidates: readonly string[]) => {
    const hint = suggestion(name, candidates);
    const warning = `unknown ${what} ${name} is ignored${hint}`;
    warnings.push(warning);
    unknown.push({ warning, error: fieldErrors.unknownField(field, hint, IGNORED) });
  };

  for (const name of Object.keys(labels)) {
    if (LABELS.includes(name)) continue;
    if (name.includes('esw.io/') || didYouMean(name, LABELS)) {
      unknownName(`metadata.labels[${name}]`, 'label', name, ANNOTATIONS.includes(name) ? [] : LABELS);
      if (ANNOTATIONS.includes(name)) warnings.push(`${name} is an annotation, not a label`);
    }
  }
  for (const name of Object.keys(annotations)) {
    if (ANNOTATIONS.includes(name) || name.startsWith(PlaceholderAnnotation.refPrefix)) continue;
    if (LABELS.includes(name)) {
      const hint = ` (${name} is a label, not an annotation)`;
      const warning = `annotation ${name} is ignored${hint}`;
      warnings.push(warning);
      unknown.push({
        warning,
        error: fieldErrors.unknownField(`metadata.annotations[${name}]`, hint, IGNORED),
      });
    } else if (name.includes('esw.io/') || didYouMean(name, ANNOTATIONS)) {
      unknownName(`metadata.annotations[${name}]`, 'annotation', name, ANNOTATIONS);
    }
  }

  const inject = labels[PlaceholderLabel.inject];
  const optedIn = inject === 'true';
  if (inject !== undefined && !optedIn) {
    errors.push(
      fieldErrors.unsupported(
        `metadata.labels[${PlaceholderLabel.inject}]`,
        inject,
        ['true'],
        ': only "true" opts in',
      ),
    );
  }

  const entries = valueEntries(secret);
  const gitops = Object.keys(annotations).filter((a) => a.startsWith(PlaceholderAnnotation.refPrefix));
  const holdsRefs =
    entries.some((e) => e.hasRefs) || gitops.length > 0 || PlaceholderAnnotation.dataFrom in annotations;
  if (!optedIn) {
    if (holdsRefs && inject === undefined) {
      errors.push(
        fieldErrors.required(
          `metadata.labels[${PlaceholderLabel.inject}]`,
          'the Secret holds ${ref:…} references but is not labelled esw.io/inject: "true": the webhook would never fill it',
        ),
      );
    }
    return { errors, warnings, unknown };
  }

  try {
    const settings = readPlaceholderSettings(annotations);
    warnings.push(...settings.warnings);
    if (!settings.store && holdsRefs) {
      errors.push(
        fieldErrors.required(
          `metadata.annotations[${PlaceholderAnnotation.store}]`,
          'the Secret holds references but names no store',
        ),
      );
    }
  } catch (err: unknown) {
    if (!isEswError(err)) throw err;
    errors.push({
      field: 'metadata.annotations',
      message: `Invalid value: ${err.message}`,
      reason: CauseType.invalid,
    });
  }

  for (const e of entries) {
    if (!e.hasRefs) continue;
    if (e.text === undefined) {
      errors.push(fieldErrors.invalid(e.field, '<bytes>', 'the value holds "${ref:" but is not UTF-8 text'));
      continue;
    }
    syntaxCheck(errors, e.field, () => parseTemplate(e.text as string, e.key));
  }
  for (const annotation of gitops) {
    const field = `metadata.annotations[${annotation}]`;
    const key = annotation.slice(PlaceholderAnnotation.refPrefix.length);
    const value = annotations[annotation];
    if (!SECRET_KEY.test(key)) errors.push(fieldErrors.invalid(field, key, 'not a valid Secret key'));
    else if (typeof value === 'string')
      syntaxCheck(errors, field, () => parseReferenceBody(value, key, `${annotation}: ${value}`));
  }
  const dataFrom = annotations[PlaceholderAnnotation.dataFrom];
  if (typeof dataFrom === 'string') {
    syntaxCheck(errors, `metadata.annotations[${PlaceholderAnnotation.dataFrom}]`, () =>
      parseReferenceBody(dataFrom, '', `${PlaceholderAnnotation.dataFrom}: ${dataFrom}`),
    );
  }
  if (!holdsRefs) {
    warnings.push(
      `the Secret is labelled ${PlaceholderLabel.inject}="true" but holds no \${ref:…} references and no ${PlaceholderAnnotation.refPrefix}* annotations: the webhook stores it unchanged`,
    );
  }
  return { errors, warnings, unknown };
}

function syntaxCheck(errors: FieldError[], field: string, parse: () => unknown): void {
  try {
    parse();
  } catch (err: unknown) {
    if (!isEswError(err)) throw err;
    // ESW_REF_SYNTAX messages quote the reference text (key names), never a resolved value.
    errors.push({ field, message: `Invalid value: ${err.message}`, reason: CauseType.invalid });
  }
}

interface ValueEntry {
  key: string;
  field: string;
  text: string | undefined;
  hasRefs: boolean;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function valueEntries(secret: Obj): ValueEntry[] {
  const out: ValueEntry[] = [];
  if (isObject(secret.data)) {
    for (const [key, v] of Object.entries(secret.data)) {
      if (typeof v !== 'string') continue;
      const bytes = decodeBase64Strict(Buffer.from(v, 'latin1'), 'std');
      if (!bytes || !bytesHaveRefs(bytes)) continue;
      let text: string | undefined;
      try {
        text = utf8.decode(bytes);
      } catch {
        text = undefined;
      }
      out.push({ key, field: `data[${key}]`, text, hasRefs: true });
    }
  }
  if (isObject(secret.stringData)) {
    for (const [key, v] of Object.entries(secret.stringData)) {
      if (typeof v === 'string' && templateHasRefs(v))
        out.push({ key, field: `stringData[${key}]`, text: v, hasRefs: true });
    }
  }
  return out;
}
