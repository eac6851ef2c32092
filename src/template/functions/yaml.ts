/**
 * ESO's toYaml / fromYaml (sigs.k8s.io/yaml over go-yaml v2): toYaml goes through JSON first
 * (so maps have sorted keys and numbers are JSON's), then emits YAML as go-yaml v2 does — plain
 * scalars where YAML 1.1 would read them back as the same string, double quotes for strings that
 * would read as another type (`"true"`, `"1"`, `""`), single quotes for other unsafe strings,
 * literal blocks (`|-`) for multi-line strings, and lines folded at 80 columns.
 * fromYaml parses YAML 1.1 into a dict; a document that is not a map gives a dict with "Error".
 */
import { parseDocument } from 'yaml';
import { formatFloat } from '../fmt.ts';
import { GoInt, GoMap, GoSlice, GoStruct, list, sortedKeys, type Value } from '../values.ts';
import { decodeJson, encodeJson } from './json.ts';

const WIDTH = 80;

/** YAML 1.1 scalars that would not read back as a string (go-yaml v2's resolve table). */
function resolvesToNonString(s: string): boolean {
  if (s === '' || s === '~') return true;
  if (
    /^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL)$/.test(
      s,
    )
  )
    return true;
  if (/^[-+]?(\.inf|\.Inf|\.INF)$/.test(s) || /^(\.nan|\.NaN|\.NAN)$/.test(s)) return true;
  if (/^[-+]?(0|[1-9][0-9_]*)$/.test(s)) return true;
  if (/^[-+]?0b[01_]+$/.test(s) || /^[-+]?0x[0-9a-fA-F_]+$/.test(s) || /^[-+]?0[0-7_]+$/.test(s)) return true;
  if (/^[-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+]?[0-9]+)?$/.test(s) && /[0-9]/.test(s)) return true;
  if (/^[-+]?[0-9][0-9_]*([eE][-+]?[0-9]+)$/.test(s)) return true;
  if (/^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$/.test(s)) return true;
  if (s === '<<') return true;
  return false;
}

/** Whether go-yaml's emitter may write `s` as a plain scalar (a simplified analyze_scalar). */
function plainAllowed(s: string, isKey: boolean): boolean {
  if (s === '') return false;
  if (
    /^[-?:,[\]{}#&*!|>'"%@`]/.test(s) &&
    !(/^[-?:]/.test(s) && s.length > 1 && !/^[-?:][ \t]/.test(s) && s[0] !== ':')
  )
    return false;
  if (s.startsWith('---') || s.startsWith('...')) return false;
  if (/^[ \t]|[ \t]$/.test(s)) return false;
  if (/[:][ \t]|[:]$| #/.test(s)) return false;
  if (/[,[\]{}]/.test(s)) return false;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters Go and YAML quote
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufeff]/.test(s)) return false;
  if (!isKey && s.length > 0 && /\t/.test(s)) return false;
  return true;
}

function doubleQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (c === 0) out += '\\0';
    else if (c === 7) out += '\\a';
    else if (c === 8) out += '\\b';
    else if (c === 9) out += '\\t';
    else if (c === 10) out += '\\n';
    else if (c === 11) out += '\\v';
    else if (c === 12) out += '\\f';
    else if (c === 13) out += '\\r';
    else if (c === 27) out += '\\e';
    else if (c === 0x85) out += '\\N';
    else if (c === 0xa0) out += '\\_';
    else if (c === 0x2028) out += '\\L';
    else if (c === 0x2029) out += '\\P';
    else if (c < 0x20 || c === 0x7f || (c >= 0x80 && c < 0xa0) || c === 0xfeff)
      out += `\\x${c.toString(16).toUpperCase().padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** Fold a plain or single-quoted scalar at spaces past the width, as go-yaml's emitter does. */
function fold(text: string, column: number, indent: number): string {
  let out = '';
  let col = column;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (
      ch === ' ' &&
      col > WIDTH &&
      text[i + 1] !== ' ' &&
      i > 0 &&
      text[i - 1] !== ' ' &&
      i + 1 < text.length
    ) {
      out += `\n${' '.repeat(indent)}`;
      col = indent;
      continue;
    }
    out += ch;
    col++;
  }
  return out;
}

function scalar(s: string, column: number, indent: number, isKey: boolean): string {
  if (s.includes('\n') && !isKey) {
    const chomp = s.endsWith('\n') ? (/\n\n$/.test(s) ? '+' : '') : '-';
    const body = s.endsWith('\n') ? s.slice(0, chomp === '+' ? -1 : -1) : s;
    const lead = /^[ \t]/.test(s) || /^\n/.test(s) ? '2' : '';
    const pad = ' '.repeat(indent);
    const lines = body.split('\n').map((l) => (l === '' ? '' : pad + l));
    return `|${lead}${chomp}\n${lines.join('\n')}`;
  }
  if (resolvesToNonString(s)) return doubleQuote(s);
  if (plainAllowed(s, isKey)) return isKey ? s : fold(s, column, indent + 2);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters Go and YAML quote
  if (/[\u0000-\u001f\u007f-\u009f\ufeff\u2028\u2029]/.test(s)) return doubleQuote(s);
  return isKey ? `'${s.replace(/'/g, "''")}'` : `'${fold(s.replace(/'/g, "''"), column + 1, indent + 2)}'`;
}

function emit(v: Value, indent: number, column: number): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return '.nan';
    if (!Number.isFinite(v)) return v > 0 ? '.inf' : '-.inf';
    return formatFloat(v, 'g', -1);
  }
  if (v instanceof GoInt) return v.v.toString();
  if (typeof v === 'string') return scalar(v, column, indent, false);
  if (v instanceof GoSlice) {
    if (v.items.length === 0) return '[]';
    return `\n${v.items
      .map((item) => {
        const pad = ' '.repeat(indent);
        if (item instanceof GoMap && item.m.size > 0) {
          const inner = emitMap(item, indent + 2).replace(/^ +/, '');
          return `${pad}- ${inner}`;
        }
        const body = emit(item, indent + 2, indent + 2);
        return body.startsWith('\n') ? `${pad}-${body}` : `${pad}- ${body}`;
      })
      .join('\n')}`;
  }
  if (v instanceof GoMap) {
    if (v.m.size === 0) return '{}';
    return `\n${emitMap(v, indent)}`;
  }
  return 'null';
}

function emitMap(m: GoMap, indent: number): string {
  const pad = ' '.repeat(indent);
  return sortedKeys(m)
    .map((k) => {
      const key = scalar(k, indent, indent, true);
      const val = m.m.get(k) ?? null;
      const childIndent = val instanceof GoSlice ? indent : indent + 2;
      const body = emit(val, childIndent, indent + key.length + 2);
      return body.startsWith('\n') ? `${pad}${key}:${body}` : `${pad}${key}: ${body}`;
    })
    .join('\n');
}

/** Values as they come back from JSON (what sigs.k8s.io/yaml marshals). */
function throughJson(v: Value): Value {
  const json = encodeJson(v, { indent: '', escapeHtml: true, limit: Number.MAX_SAFE_INTEGER });
  const back = decodeJson(json);
  // JSON numbers that are integers are ints in YAML.
  const fix = (x: Value): Value => {
    if (typeof x === 'number' && Number.isInteger(x) && Math.abs(x) < 2 ** 63) {
      return new GoInt(BigInt(x), 'int');
    }
    if (x instanceof GoSlice) return list(x.items.map(fix));
    if (x instanceof GoMap) return new GoMap(new Map([...x.m].map(([k, y]) => [k, fix(y)])), 'interface {}');
    return x;
  };
  return fix(back);
}

export function toYaml(v: Value): string {
  try {
    const value = v instanceof GoStruct ? throughJson(v) : throughJson(v);
    const out = emit(value, 0, 0);
    return out.startsWith('\n') ? out.slice(1) : out;
  } catch {
    return '';
  }
}

function fromJs(x: unknown): Value {
  if (x === null || x === undefined) return null;
  if (typeof x === 'string' || typeof x === 'boolean') return x;
  if (typeof x === 'number') return x;
  if (typeof x === 'bigint') return Number(x);
  if (Array.isArray(x)) return list(x.map(fromJs));
  if (x instanceof Map)
    return new GoMap(new Map([...x].map(([k, y]) => [String(k), fromJs(y)])), 'interface {}');
  if (x instanceof Date) return x.toISOString();
  if (typeof x === 'object')
    return new GoMap(new Map(Object.entries(x).map(([k, y]) => [k, fromJs(y)])), 'interface {}');
  return null;
}

export function fromYaml(s: string): GoMap {
  const out = new GoMap(new Map(), 'interface {}');
  try {
    const doc = parseDocument(s, { version: '1.1', uniqueKeys: false });
    if (doc.errors.length > 0) throw new Error('yaml');
    const js = doc.toJS({ mapAsMap: false, maxAliasCount: 100 }) as unknown;
    if (js === null || js === undefined) return out;
    if (typeof js !== 'object' || Array.isArray(js)) {
      // As sigs.k8s.io/yaml reports a document that is not a map.
      const kind = Array.isArray(js)
        ? 'array'
        : typeof js === 'number'
          ? 'number'
          : typeof js === 'boolean'
            ? 'bool'
            : 'string';
      out.put(
        'Error',
        `error unmarshaling JSON: while decoding JSON: json: cannot unmarshal ${kind} into Go value of type map[string]interface {}`,
      );
      return out;
    }
    const v = fromJs(js) as GoMap;
    for (const [k, x] of v.m) out.put(k, x);
    return out;
  } catch {
    out.put('Error', 'error converting YAML to JSON: the document is not a YAML map');
    return out;
  }
}
