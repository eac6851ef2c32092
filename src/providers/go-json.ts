/**
 * Go's encoding/json for the values ESO marshals from provider metadata (string maps, maps of
 * string maps, nil maps), so a metadata document reads byte for byte as ESO writes it:
 * - map keys sorted by their UTF-8 bytes (Go sorts strings bytewise, not by UTF-16 units);
 * - `<`, `>`, `&` as `\u003c`, `\u003e`, `\u0026`, U+2028 and U+2029 escaped, control
 *   characters as `\n`, `\r`, `\t`, `\b`, `\f` or `\u00XX` (json.Marshal's HTML escaping);
 * - a lone surrogate (invalid UTF-8 in Go) as U+FFFD;
 * - `null` for a nil map.
 */

/** A JSON value as ESO's metadata maps hold them. */
export type GoJsonValue = string | null | { readonly [key: string]: GoJsonValue };

export function goJsonString(s: string): string {
  let out = '"';
  for (const ch of s.toWellFormed()) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (c < 0x20) {
      if (c === 0x0a) out += '\\n';
      else if (c === 0x0d) out += '\\r';
      else if (c === 0x09) out += '\\t';
      else if (c === 0x08) out += '\\b';
      else if (c === 0x0c) out += '\\f';
      else out += `\\u00${c.toString(16).padStart(2, '0')}`;
    } else if (ch === '<' || ch === '>' || ch === '&') {
      out += `\\u00${c.toString(16).padStart(2, '0')}`;
    } else if (c === 0x2028 || c === 0x2029) out += `\\u${c.toString(16)}`;
    else out += ch;
  }
  return `${out}"`;
}

/** Go's sort order for strings: bytewise over UTF-8. */
export function compareGoStrings(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export function goJson(value: GoJsonValue): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return goJsonString(value);
  const keys = Object.keys(value).sort(compareGoStrings);
  return `{${keys.map((k) => `${goJsonString(k)}:${goJson(value[k] as GoJsonValue)}`).join(',')}}`;
}

/** `json.Marshal(map[string]string)` of a string map. */
export function goJsonStringMap(map: ReadonlyMap<string, string>): string {
  return goJson(Object.fromEntries(map));
}
