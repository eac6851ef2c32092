/**
 * `esw validate [--strict] [-o json] PATH…`: offline validation with the webhook's own rules and
 * messages, for CI pipelines and pre-commit. PATH is a file, a directory (recursive: .yaml, .yml,
 * .json) or `-` (standard input). ExternalSecret, SecretStore and ClusterSecretStore objects are
 * validated as POST /validate does; Secrets that carry `esw.io/` labels or annotations or
 * `${ref:…}` values are checked as placeholder Secrets (lint-placeholder.ts).
 *
 * Text output, one line per finding, with the line of the field when it can be found:
 *   `<file>:<line>: <Kind>/<ns>/<name>: <field>: <message>` (an error),
 *   `warning: <file>:<line>: <Kind>/<ns>/<name>: <warning>`, and a summary line last.
 * `-o json` prints one report: every object with `details.causes[]` as the API server's Status
 * carries them (`{field, message, reason}`), warnings, unreadable inputs and the summary.
 *
 * Exit codes (docs/cli.md): 0 all valid, 1 an object is invalid (with --strict: also an unknown
 * field, annotation, label or kind), 2 an input could not be read or parsed.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { type Document, isMap, isNode, isScalar, isSeq, LineCounter, parseAllDocuments } from 'yaml';
import { lintPlaceholderSecret, looksLikePlaceholder } from '../admission/lint-placeholder.ts';
import { type FieldError, fieldErrors, type StatusCause, statusCauses } from '../api/field-errors.ts';
import type { IdentityPolicy } from '../api/identity.ts';
import { isObject, type Obj } from '../api/schema.ts';
import { didYouMean, suggestion } from '../api/suggest.ts';
import { API_VERSIONS, GROUP } from '../api/types.ts';
import { OTHER_ESO_KINDS, VALIDATED_KINDS, type ValidationResult, validateObject } from '../api/validate.ts';
import { objectId } from '../api/validate-meta.ts';

export interface ValidateOptions {
  strict: boolean;
  output: 'text' | 'json';
  /** Which SecretStores may use the webhook's own identity, as the server's flags say. */
  identity?: IdentityPolicy;
  /** `--generic-target-kinds`, as the server's flag: given, a manifest of another kind is refused. */
  genericTargetKinds?: readonly string[] | undefined;
  io: { out: (s: string) => void; err: (s: string) => void; stdin: () => Promise<string> };
}

export type ObjectStatus = 'Valid' | 'Invalid' | 'Skipped';

export interface ObjectReport {
  file: string;
  /** 1-based line of the object's first line. */
  line: number;
  document: number;
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  name?: string;
  status: ObjectStatus;
  /** Why a Skipped object was not validated. */
  reason?: string;
  /** metav1.StatusDetails, as a refusal by the webhook carries them; causes have a line too. */
  details?: { name?: string; group: string; kind: string; causes: (StatusCause & { line?: number })[] };
  warnings: string[];
  /** The line each warning is about (the unknown field's, else the object's). */
  warningLines?: number[];
}

export interface InputProblem {
  file: string;
  line?: number;
  column?: number;
  reason: 'Unreadable' | 'YAMLSyntax' | 'NotAnObject';
  message: string;
}

export interface ValidateReport {
  results: ObjectReport[];
  problems: InputProblem[];
  summary: { valid: number; invalid: number; skipped: number; unreadable: number; warnings: number };
  exitCode: number;
}

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);
/** Directory walks are bounded: a PATH of `/` should fail clearly, not run for hours. */
const MAX_FILES = 10_000;
/** YAML errors per document printed in full (each with its code frame). */
const MAX_SYNTAX_ERRORS = 5;

export async function runValidate(paths: string[], opts: ValidateOptions): Promise<number> {
  const report = await validatePaths(
    paths,
    opts.strict,
    opts.io.stdin,
    opts.identity,
    opts.genericTargetKinds,
  );
  if (opts.output === 'json') opts.io.out(`${JSON.stringify(report, null, 2)}\n`);
  else for (const line of textLines(report)) opts.io.out(`${line}\n`);
  return report.exitCode;
}

export async function validatePaths(
  paths: string[],
  strict: boolean,
  stdin: () => Promise<string> = async () => '',
  identity?: IdentityPolicy,
  genericTargetKinds?: readonly string[],
): Promise<ValidateReport> {
  const results: ObjectReport[] = [];
  const problems: InputProblem[] = [];
  const inputs: { file: string; read: () => Promise<string> }[] = [];
  for (const path of paths) {
    if (path === '-') {
      inputs.push({ file: '<stdin>', read: stdin });
      continue;
    }
    try {
      if ((await stat(path)).isDirectory()) {
        const files = await walk(path);
        if (files.length === 0)
          problems.push({
            file: path,
            reason: 'Unreadable',
            message: 'no .yaml, .yml or .json file in the directory',
          });
        for (const file of files) inputs.push({ file, read: () => readFile(file, 'utf8') });
      } else inputs.push({ file: path, read: () => readFile(path, 'utf8') });
    } catch (err: unknown) {
      problems.push({ file: path, reason: 'Unreadable', message: readProblem(err) });
    }
  }
  for (const input of inputs) {
    let text: string;
    try {
      text = await input.read();
    } catch (err: unknown) {
      problems.push({ file: input.file, reason: 'Unreadable', message: readProblem(err) });
      continue;
    }
    validateText(input.file, text, strict, results, problems, { identity, genericTargetKinds });
  }
  const count = (s: ObjectStatus) => results.filter((r) => r.status === s).length;
  const summary = {
    valid: count('Valid'),
    invalid: count('Invalid'),
    skipped: count('Skipped'),
    unreadable: problems.length,
    warnings: results.reduce((n, r) => n + r.warnings.length, 0),
  };
  const exitCode = summary.unreadable > 0 ? 2 : summary.invalid > 0 ? 1 : 0;
  return { results, problems, summary, exitCode };
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  const stack = [dir];
  while (stack.length > 0) {
    const current = stack.pop() as string;
    const entries = await readdir(current, { withFileTypes: true });
    for (const e of entries.sort((a, b) => (a.name < b.name ? 1 : -1))) {
      const p = join(current, e.name);
      // Hidden directories (.git) and dependencies are never manifests of this project.
      if (e.isDirectory() && !e.name.startsWith('.') && e.name !== 'node_modules') stack.push(p);
      else if (e.isFile() && EXTENSIONS.has(extname(e.name).toLowerCase())) out.push(p);
      if (out.length > MAX_FILES) throw new Error(`more than ${MAX_FILES} manifest files under ${dir}`);
    }
  }
  return out.sort();
}

function validateText(
  file: string,
  text: string,
  strict: boolean,
  results: ObjectReport[],
  problems: InputProblem[],
  rules: Rules,
): void {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter });
  if (!Array.isArray(docs)) return; // an empty stream
  docs.forEach((doc, i) => {
    const document = i + 1;
    if (doc.errors.length > 0) {
      for (const e of doc.errors.slice(0, MAX_SYNTAX_ERRORS)) {
        const pos = e.linePos?.[0];
        problems.push({
          file,
          ...(pos ? { line: pos.line, column: pos.col } : {}),
          reason: 'YAMLSyntax',
          message: `YAML syntax error in document ${document}: ${e.message.trimEnd()}`,
        });
      }
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err: unknown) {
      problems.push({
        file,
        reason: 'YAMLSyntax',
        message: `document ${document} cannot be read: ${readProblem(err)}`,
      });
      return;
    }
    if (value === null || value === undefined) return;
    const docLine = lineCounter.linePos(doc.range[0]).line;
    if (!isObject(value)) {
      problems.push({
        file,
        line: docLine,
        reason: 'NotAnObject',
        message: `document ${document} is not a Kubernetes object (a mapping)`,
      });
      return;
    }
    const isList = value.kind === 'List' && Array.isArray(value.items);
    const items = isList ? (value.items as unknown[]) : [value];
    items.forEach((item, j) => {
      const prefix = isList ? ['items', j] : [];
      const at = (field: string) => lineOf(doc, lineCounter, [...prefix, ...fieldPath(field)]) ?? docLine;
      results.push(checkObject(item, { file, document, line: at(''), at }, strict, rules));
    });
  });
}

/** The server's flags that change what validates: identity confinement, generic target kinds. */
interface Rules {
  identity?: IdentityPolicy | undefined;
  genericTargetKinds?: readonly string[] | undefined;
}

interface Where {
  file: string;
  document: number;
  line: number;
  at: (field: string) => number;
}

function checkObject(item: unknown, where: Where, strict: boolean, rules: Rules): ObjectReport {
  const obj: Obj = isObject(item) ? item : {};
  const meta = isObject(obj.metadata) ? obj.metadata : {};
  const base: ObjectReport = {
    file: where.file,
    line: where.line,
    document: where.document,
    ...(typeof obj.apiVersion === 'string' ? { apiVersion: obj.apiVersion } : {}),
    ...(typeof obj.kind === 'string' ? { kind: obj.kind } : {}),
    ...(typeof meta.namespace === 'string' ? { namespace: meta.namespace } : {}),
    ...(typeof meta.name === 'string' ? { name: meta.name } : {}),
    status: 'Skipped',
    warnings: [],
  };
  const kind = typeof obj.kind === 'string' ? obj.kind : '';
  const apiVersion = typeof obj.apiVersion === 'string' ? obj.apiVersion : '';
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';

  let result: ValidationResult;
  let qualifiedGroup = GROUP;
  let unknownKind = false;
  if (
    (VALIDATED_KINDS as readonly string[]).includes(kind) &&
    (group === GROUP || apiVersion === '' || didYouMean(apiVersion, API_VERSIONS))
  ) {
    result = validateObject(obj, {
      ...(rules.identity ? { identity: rules.identity } : {}),
      ...(rules.genericTargetKinds ? { genericTargetKinds: rules.genericTargetKinds } : {}),
    });
  } else if (group === GROUP && !(OTHER_ESO_KINDS as readonly string[]).includes(kind)) {
    // A kind the group does not have: the API server answers "no matches for kind".
    const hint = suggestion(kind, [...VALIDATED_KINDS, ...OTHER_ESO_KINDS]);
    const error = fieldErrors.unsupported('kind', kind, [...VALIDATED_KINDS, ...OTHER_ESO_KINDS], hint);
    const warning = `unknown kind "${kind}" in ${GROUP}${hint}`;
    unknownKind = true;
    result = { errors: [], warnings: [warning], unknown: [{ warning, error }] };
  } else if (apiVersion === 'v1' && kind === 'Secret' && looksLikePlaceholder(obj)) {
    qualifiedGroup = '';
    result = lintPlaceholderSecret(obj);
  } else {
    return {
      ...base,
      reason:
        group === GROUP
          ? `${kind} is not validated by esw`
          : `only ${VALIDATED_KINDS.join(', ')} and placeholder Secrets are validated`,
    };
  }
  const unknown = result.unknown ?? [];
  const errors: FieldError[] = [...result.errors, ...(strict ? unknown.map((u) => u.error) : [])];
  const warnings = strict
    ? result.warnings.filter((w) => !unknown.some((u) => u.warning === w))
    : result.warnings;
  const report: ObjectReport = {
    ...base,
    // An unknown kind is not "valid": nothing was checked.
    status: errors.length > 0 ? 'Invalid' : unknownKind ? 'Skipped' : 'Valid',
    ...(unknownKind && errors.length === 0 ? { reason: `unknown kind "${kind}"` } : {}),
    warnings,
    // The line each warning is about, for editors and CI annotations.
    warningLines: warnings.map((w) => {
      const field = unknown.find((u) => u.warning === w)?.error.field;
      return field ? where.at(field) : where.line;
    }),
  };
  if (errors.length > 0) {
    report.details = {
      ...(base.name ? { name: base.name } : {}),
      group: qualifiedGroup,
      kind: kind || '<unknown kind>',
      causes: statusCauses(errors).map((c) => ({ ...c, line: where.at(c.field) })),
    };
  }
  return report;
}

/** `spec.data[1].remoteRef.key` / `metadata.annotations[esw.io/store]` -> YAML path segments. */
export function fieldPath(field: string): (string | number)[] {
  const out: (string | number)[] = [];
  const re = /([^.[\]]+)|\[([^\]]*)\]/g;
  for (let m = re.exec(field); m; m = re.exec(field)) {
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(/^\d+$/.test(m[2]) ? Number(m[2]) : m[2].replace(/^"|"$/g, ''));
  }
  return out[0] === '<root>' ? [] : out;
}

/**
 * The line of the deepest part of `path` that exists: the line of its key (`remoteRef:`), so a
 * missing field points at the mapping that lacks it; a sequence item, the line of its `-`.
 */
function lineOf(doc: Document, lc: LineCounter, path: (string | number)[]): number | undefined {
  let node: unknown = doc.contents;
  let line = isNode(node) && node.range ? lc.linePos(node.range[0]).line : undefined;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      if (!pair) break;
      if (isNode(pair.key) && pair.key.range) line = lc.linePos(pair.key.range[0]).line;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      if (!isNode(item)) break;
      if (item.range) line = lc.linePos(item.range[0]).line;
      node = item;
    } else break;
  }
  return line;
}

function readProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (typeof code === 'string' && code.startsWith('E')) return `cannot read (${code})`;
  return err instanceof Error ? err.message : String(err);
}

function textLines(report: ValidateReport): string[] {
  const lines: string[] = [];
  for (const p of report.problems) {
    lines.push(
      `${p.file}${p.line ? `:${p.line}${p.column ? `:${p.column}` : ''}` : ''}: error: ${p.message}`,
    );
  }
  for (const r of report.results) {
    const id = objectId({ kind: r.kind, metadata: { name: r.name, namespace: r.namespace } });
    const where = `${r.file}:${r.line}`;
    r.warnings.forEach((w, i) => {
      lines.push(`warning: ${r.file}:${r.warningLines?.[i] ?? r.line}: ${id}: ${w}`);
    });
    if (r.status === 'Skipped') {
      lines.push(`${where}: skipping ${id}: ${r.reason}`);
      continue;
    }
    for (const c of r.details?.causes ?? [])
      lines.push(`${r.file}:${c.line ?? r.line}: ${id}: ${c.field}: ${c.message}`);
    if (r.status === 'Valid') lines.push(`${where}: ${id}: valid`);
  }
  const s = report.summary;
  const extra = [
    ...(s.skipped > 0 ? [`${s.skipped} skipped`] : []),
    ...(s.unreadable > 0 ? [`${s.unreadable} unreadable`] : []),
    ...(s.warnings > 0 ? [`${s.warnings} warning${s.warnings === 1 ? '' : 's'}`] : []),
  ];
  lines.push([`${s.valid} valid`, `${s.invalid} invalid`, ...extra].join(', '));
  return lines;
}
