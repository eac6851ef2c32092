/**
 * Placeholder syntax of opted-in Secrets (docs/placeholder-secrets.md):
 * - `${ref:KEY}`, `${ref:KEY#PROPERTY}`, `${ref:KEY#PROPERTY#VERSION}` inside a value; a value
 *   that is exactly one reference receives the raw bytes, references embedded in text are
 *   substituted as UTF-8 text;
 * - the GitOps form `ref.esw.io/<secretKey>: KEY#PROPERTY#VERSION` and `esw.io/data-from: KEY`
 *   (annotations, same `KEY#PROPERTY#VERSION` grammar without the `${ref:…}` wrapper);
 * - the `esw.io/refs` record (secretKey -> template), written at admission and read back by the
 *   refresher to resolve the Secret again.
 *
 * Inside a reference `\#`, `\}` and `\\` stand for `#`, `}` and `\`; any other backslash is kept
 * as it is, so gjson escapes in a property (`a\.b`) pass through untouched. A reference ends at
 * the first unescaped `}` and may not span lines or hold another `${`.
 *
 * Errors are ESW_REF_SYNTAX (422) naming the Secret key and the offending reference text:
 * references name remote keys, never values.
 */
import { EswError } from '../errors.ts';
import { sortByText } from './sort.ts';

export const PlaceholderLabel = { inject: 'esw.io/inject' } as const;

export const PlaceholderAnnotation = {
  store: 'esw.io/store',
  storeKind: 'esw.io/store-kind',
  refreshInterval: 'esw.io/refresh-interval',
  dataFrom: 'esw.io/data-from',
  refs: 'esw.io/refs',
  dataHash: 'esw.io/data-hash',
  /** Prefix of the GitOps form: `ref.esw.io/<secretKey>`. */
  refPrefix: 'ref.esw.io/',
} as const;

export const INJECT_LABEL = PlaceholderLabel.inject;
export const STORE_ANNOTATION = PlaceholderAnnotation.store;
export const STORE_KIND_ANNOTATION = PlaceholderAnnotation.storeKind;
export const REFRESH_ANNOTATION = PlaceholderAnnotation.refreshInterval;
export const DATA_FROM_ANNOTATION = PlaceholderAnnotation.dataFrom;
export const REFS_ANNOTATION = PlaceholderAnnotation.refs;
export const HASH_ANNOTATION = PlaceholderAnnotation.dataHash;
export const GITOPS_PREFIX = PlaceholderAnnotation.refPrefix;

/** The opening of a reference. Nothing stored by this project ever holds it literally. */
export const REF_OPEN = '${ref:';

/** One remote value: `key`, and `property` / `version` ('' when absent). */
export interface Reference {
  key: string;
  property: string;
  version: string;
}

export type TemplatePart = { text: string } | { ref: Reference };

/** A parsed value: literal text and references, in order. `source` is the text it came from. */
export interface Template {
  source: string;
  parts: TemplatePart[];
}

/** The bytes of a reference, resolved beforehand. */
export type ReferenceLookup = (ref: Reference) => Uint8Array;

/** Longest reference text quoted in an error message. */
const QUOTE_MAX = 80;

export function templateHasRefs(text: string): boolean {
  return text.includes(REF_OPEN);
}

/** True when bytes hold `${ref:` (binary-safe: the opening is ASCII). */
export function bytesHaveRefs(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes(REF_OPEN, 0, 'latin1');
}

/** Parses the text of a value; `secretKey` names it in error messages. */
export function parseTemplate(text: string, secretKey = ''): Template {
  const parts: TemplatePart[] = [];
  let literal = '';
  let i = 0;
  while (i < text.length) {
    const at = text.indexOf(REF_OPEN, i);
    if (at < 0) {
      literal += text.slice(i);
      break;
    }
    literal += text.slice(i, at);
    const bodyStart = at + REF_OPEN.length;
    const end = findReferenceEnd(text, bodyStart, secretKey);
    if (literal) parts.push({ text: literal });
    literal = '';
    parts.push({ ref: parseReferenceBody(text.slice(bodyStart, end), secretKey, text.slice(at, end + 1)) });
    i = end + 1;
  }
  if (literal) parts.push({ text: literal });
  return { source: text, parts };
}

/** Index of the `}` closing the reference whose body starts at `from`. */
function findReferenceEnd(text: string, from: number, secretKey: string): number {
  for (let j = from; j < text.length; j++) {
    const c = text[j];
    if (c === '\\' && text[j + 1] !== '\n' && text[j + 1] !== '\r') {
      j++;
      continue;
    }
    if (c === '}') return j;
    if (c === '\n' || c === '\r') break;
    if (c === '$' && text[j + 1] === '{') {
      throw syntax(secretKey, text.slice(from - REF_OPEN.length, j + 2), 'a reference may not contain "${"');
    }
  }
  const rest = text.slice(from - REF_OPEN.length).split(/[\r\n]/, 1)[0] ?? '';
  throw syntax(secretKey, rest, 'unterminated reference: "}" expected');
}

/**
 * `KEY`, `KEY#PROPERTY` or `KEY#PROPERTY#VERSION` (the body of `${ref:…}`, or the value of a
 * `ref.esw.io/*` / `esw.io/data-from` annotation). `quoted` is what error messages show.
 */
export function parseReferenceBody(body: string, secretKey = '', quoted = body): Reference {
  // Without an escape or a line break every "#" ends a field: split, instead of strings grown
  // character by character (~1 KB of intermediate strings per reference of every /mutate).
  const fields =
    body.includes('\\') || body.includes('\n') || body.includes('\r')
      ? scanFields(body, secretKey, quoted)
      : body.split('#');
  if (fields.length > 3) {
    throw syntax(secretKey, quoted, 'too many "#": the form is KEY, KEY#PROPERTY or KEY#PROPERTY#VERSION');
  }
  const [key = '', property = '', version = ''] = fields;
  if (key === '') throw syntax(secretKey, quoted, 'the remote key is empty');
  if (key.trim() !== key) throw syntax(secretKey, quoted, 'the remote key has leading or trailing spaces');
  if (version.trim() !== version)
    throw syntax(secretKey, quoted, 'the version has leading or trailing spaces');
  if (fields.length === 3 && version === '') {
    throw syntax(secretKey, quoted, 'the version is empty (drop the last "#" for the current version)');
  }
  return { key, property, version };
}

/** The fields of a body with escapes (`\#`, `\}`, `\\`) or line breaks (refused). */
function scanFields(body: string, secretKey: string, quoted: string): string[] {
  const fields: string[] = [''];
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c === '\\' && i + 1 < body.length) {
      const next = body[i + 1] as string;
      i++;
      fields[fields.length - 1] += next === '#' || next === '}' || next === '\\' ? next : c + next;
    } else if (c === '#') {
      fields.push('');
    } else if (c === '\n' || c === '\r') {
      throw syntax(secretKey, quoted, 'a reference may not span lines');
    } else {
      fields[fields.length - 1] += c;
    }
  }
  return fields;
}

/** The canonical text of a reference: `${ref:KEY#PROPERTY#VERSION}`, trailing empty parts dropped. */
/** The remoteRef a reference stands for (empty property / version left out). */
export function toRemoteRef(ref: Reference): { key: string; property?: string; version?: string } {
  return {
    key: ref.key,
    ...(ref.property ? { property: ref.property } : {}),
    ...(ref.version ? { version: ref.version } : {}),
  };
}

export function formatReference(ref: Reference): string {
  return `${REF_OPEN}${formatReferenceBody(ref)}}`;
}

/** `KEY#PROPERTY#VERSION` with the separators escaped, trailing empty parts dropped. */
export function formatReferenceBody(ref: Reference): string {
  const fields = [ref.key, ref.property, ref.version].map(escapeField);
  while (fields.length > 1 && fields[fields.length - 1] === '') fields.pop();
  return fields.join('#');
}

function escapeField(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === '#' || c === '}') out += `\\${c}`;
    else if (c === '\\') {
      // A backslash that could be read as an escape (before #, }, \ or the end) is doubled.
      const next = s[i + 1];
      out += next === undefined || next === '#' || next === '}' || next === '\\' ? '\\\\' : c;
    } else out += c;
  }
  return out;
}

/** A stable identity for de-duplicating lookups. */
export function referenceId(ref: Reference): string {
  return `${ref.key}\u0000${ref.property}\u0000${ref.version}`;
}

export function templateReferences(template: Template): Reference[] {
  const out: Reference[] = [];
  for (const p of template.parts) if ('ref' in p) out.push(p.ref);
  return out;
}

/** A template made of one reference (the GitOps annotation form). */
export function referenceTemplate(ref: Reference): Template {
  return { source: formatReference(ref), parts: [{ ref }] };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The bytes a template renders to. One whole-value reference: its bytes as they are (binary
 * safe). Otherwise text: a referenced value must be UTF-8 to be embedded (ESW_DECODE otherwise).
 */
export function renderTemplate(template: Template, lookup: ReferenceLookup, secretKey = ''): Buffer {
  const only = template.parts.length === 1 ? template.parts[0] : undefined;
  if (only && 'ref' in only) return Buffer.from(lookup(only.ref));
  const chunks: Buffer[] = [];
  for (const part of template.parts) {
    if ('text' in part) {
      chunks.push(Buffer.from(part.text, 'utf8'));
      continue;
    }
    const bytes = lookup(part.ref);
    try {
      utf8.decode(bytes);
    } catch {
      throw new EswError(
        'ESW_DECODE',
        `key "${secretKey}": the value of ${formatReference(part.ref)} is not UTF-8 text, so it cannot be embedded in text; use it as the whole value`,
      );
    }
    chunks.push(Buffer.from(bytes));
  }
  return Buffer.concat(chunks);
}

// ---------------------------------------------------------------- the esw.io/refs record

/** What a placeholder Secret declared: templates per Secret key, and `esw.io/data-from`. */
export interface RefsRecord {
  templates: Map<string, Template>;
  dataFrom?: Reference;
}

/** The record's entry for `esw.io/data-from` (not a valid Secret key, so it never collides). */
export const DATA_FROM_ENTRY = PlaceholderAnnotation.dataFrom;

/** A refs record entry's key, what serializeRefs sorts by. */
const entryKey = (entry: [string, string]): string => entry[0];

/**
 * The `esw.io/refs` annotation: JSON, secretKey -> template text, keys sorted. Every `$` is
 * written `\u0024` (still the same JSON string), so the stored object — and the admission patch
 * that writes it — never holds a literal `${ref:` for scanners and the validating guard to trip on.
 */
export function serializeRefs(record: RefsRecord): string {
  const entries: [string, string][] = [...record.templates].map(([k, t]) => [k, t.source]);
  if (record.dataFrom) entries.push([DATA_FROM_ENTRY, formatReference(record.dataFrom)]);
  sortByText(entries, entryKey);
  return JSON.stringify(Object.fromEntries(entries)).replaceAll('$', '\\u0024');
}

/** Reads an `esw.io/refs` annotation; undefined when it is absent or not a record this project wrote. */
export function parseRefsAnnotation(text: string | undefined): RefsRecord | undefined {
  if (typeof text !== 'string') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const record: RefsRecord = { templates: new Map() };
  try {
    for (const [k, v] of Object.entries(value)) {
      if (typeof v !== 'string') return undefined;
      if (k === DATA_FROM_ENTRY) {
        const t = parseTemplate(v, k);
        const only = t.parts.length === 1 ? t.parts[0] : undefined;
        if (!only || !('ref' in only)) return undefined;
        record.dataFrom = only.ref;
      } else {
        record.templates.set(k, parseTemplate(v, k));
      }
    }
  } catch {
    return undefined;
  }
  return record;
}

function syntax(secretKey: string, reference: string, problem: string): EswError {
  const quoted = reference.length > QUOTE_MAX ? `${reference.slice(0, QUOTE_MAX)}…` : reference;
  const where = secretKey ? `key "${secretKey}": ` : '';
  return new EswError('ESW_REF_SYNTAX', `${where}malformed reference "${quoted}": ${problem}`);
}
