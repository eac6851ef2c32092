/**
 * Tags as ESO returns them for `metadataPolicy: Fetch`: a JSON object of tag key -> value,
 * written as Go's `json.Marshal` writes a `map[string]string` (keys in byte order, `<`, `>`,
 * `&`, U+2028 and U+2029 escaped). With no `property` these bytes are the Secret's value, so
 * they must be the bytes ESO writes.
 */

interface Tag {
  Key?: string | undefined;
  Value?: string | undefined;
}

export function tagsJson(tags: readonly Tag[]): string {
  const map = new Map<string, string>();
  // A later duplicate wins, as assigning into a Go map does.
  for (const t of tags) if (t.Key !== undefined) map.set(t.Key, t.Value ?? '');
  const keys = [...map.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return `{${keys.map((k) => `${goString(k)}:${goString(map.get(k) as string)}`).join(',')}}`;
}

/** A Go JSON string: JSON.stringify's escapes plus the HTML-safe ones Go adds. */
function goString(s: string): string {
  // Lone surrogates cannot come from AWS (its strings are UTF-8); Go would write U+FFFD.
  const wellFormed = s.toWellFormed();
  return JSON.stringify(wellFormed).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
