/**
 * Go's replacement-template expansion (`regexp.Regexp.Expand`, used by `ReplaceAllString`, which
 * is what ESO's `rewrite[].regexp.target` goes through):
 * - `$name` or `${name}`: a name is the longest run of letters, digits and `_`, so `$1x` means the
 *   group named `1x` (usually absent: nothing is inserted), not group 1 then `x`; write `${1}x`;
 * - a name that is a number (no leading zero) is that group; other names are named groups;
 * - a group that did not take part, or does not exist, inserts nothing;
 * - `$$` is a literal `$`; a `$` not followed by a valid name is kept as is.
 */

/** The matched text of group `i`, or undefined when it did not take part. */
export type GroupText = (i: number) => string | undefined;

const NAME_CHAR = /[\p{L}\p{Nd}_]/u;

/** A parsed template: literal text and group references, so a rewrite parses it once. */
export type TemplatePart = { text: string } | { group: number } | { name: string };

export function parseTemplate(template: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let text = '';
  let i = 0;
  while (i < template.length) {
    const dollar = template.indexOf('$', i);
    if (dollar < 0) {
      text += template.slice(i);
      break;
    }
    text += template.slice(i, dollar);
    i = dollar + 1;
    if (template[i] === '$') {
      text += '$';
      i++;
      continue;
    }
    const ref = extractName(template, i);
    if (!ref) {
      text += '$';
      continue;
    }
    if (text) parts.push({ text });
    text = '';
    parts.push(ref.num >= 0 ? { group: ref.num } : { name: ref.name });
    i = ref.end;
  }
  if (text) parts.push({ text });
  return parts;
}

/** Go's `extract`: the name after `$` (bare or in braces), its number, and where it ends. */
function extractName(s: string, at: number): { name: string; num: number; end: number } | undefined {
  let i = at;
  const brace = s[i] === '{';
  if (brace) i++;
  const start = i;
  while (i < s.length) {
    const cp = s.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    if (!NAME_CHAR.test(ch)) break;
    i += ch.length;
  }
  if (i === start) return undefined;
  const name = s.slice(start, i);
  if (brace) {
    if (s[i] !== '}') return undefined;
    i++;
  }
  let num = -1;
  // Go reads ASCII digits only (at most nine) and refuses leading zeros: `$01` names a group "01".
  if (/^(0|[1-9][0-9]{0,8})$/.test(name)) num = Number(name);
  return { name, num, end: i };
}

export function expandTemplate(
  parts: readonly TemplatePart[],
  names: readonly string[],
  group: GroupText,
): string {
  let out = '';
  for (const p of parts) {
    if ('text' in p) {
      out += p.text;
    } else if ('group' in p) {
      out += group(p.group) ?? '';
    } else {
      // With duplicate names, Go takes the leftmost group of that name that took part.
      for (let g = 0; g < names.length; g++) {
        if (names[g] !== p.name) continue;
        const text = group(g);
        if (text !== undefined) {
          out += text;
          break;
        }
      }
    }
  }
  return out;
}
