/**
 * encoding/pem as Go decodes and encodes it: blocks are found after any leading text, headers
 * (`Key: value` lines) are kept, a block whose body is not base64 is skipped, and encoding
 * writes 64-column base64 between BEGIN and END lines.
 */

export interface PemBlock {
  type: string;
  headers: Map<string, string>;
  bytes: Buffer;
}

const BEGIN = '-----BEGIN ';
const END_MARK = '-----END ';
const DASHES = '-----';

function getLine(s: string): [string, string] {
  const i = s.indexOf('\n');
  const line = i < 0 ? s : s.slice(0, i);
  const rest = i < 0 ? '' : s.slice(i + 1);
  // Trailing blanks trimmed by a scan (a `[ \t\r]+$` RegExp is quadratic on long blank runs).
  let end = line.length;
  while (end > 0 && (line[end - 1] === ' ' || line[end - 1] === '\t' || line[end - 1] === '\r')) end--;
  return [line.slice(0, end), rest];
}

/** pem.Decode: the next block and the rest of the input, or undefined and the whole input. */
export function pemDecode(data: string): { block?: PemBlock; rest: string } {
  let rest = data;
  for (;;) {
    if (rest.startsWith(BEGIN)) rest = rest.slice(BEGIN.length);
    else {
      const i = rest.indexOf(`\n${BEGIN}`);
      if (i < 0) return { rest: data };
      rest = rest.slice(i + 1 + BEGIN.length);
    }
    const [typeLine, afterType] = getLine(rest);
    if (!typeLine.endsWith(DASHES)) continue;
    const type = typeLine.slice(0, -DASHES.length);
    rest = afterType;
    const headers = new Map<string, string>();
    for (;;) {
      if (rest === '') break;
      const [line, next] = getLine(rest);
      const colon = line.indexOf(':');
      if (colon < 0) break;
      headers.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
      rest = next;
    }
    let endIndex: number;
    let endTrailerIndex: number;
    if (headers.size === 0 && rest.startsWith(END_MARK.slice(0))) {
      endIndex = 0;
      endTrailerIndex = END_MARK.length;
    } else {
      const j = rest.indexOf(`\n${END_MARK}`);
      endIndex = j;
      endTrailerIndex = j + 1 + END_MARK.length;
    }
    if (endIndex < 0) continue;
    const endTrailer = rest.slice(endTrailerIndex);
    const endBlock = `${type}${DASHES}`;
    if (!endTrailer.startsWith(endBlock)) continue;
    const [lineAfter, restOfEnd] = getLine(endTrailer.slice(endBlock.length));
    if (lineAfter !== '') continue;
    const body = rest.slice(0, endIndex).replace(/[ \t\r\n]/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0) continue;
    return { block: { type, headers, bytes: Buffer.from(body, 'base64') }, rest: restOfEnd };
  }
}

/** pem.EncodeToMemory. */
export function pemEncode(block: { type: string; bytes: Buffer; headers?: Map<string, string> }): string {
  let out = `-----BEGIN ${block.type}-----\n`;
  const headers = block.headers ?? new Map<string, string>();
  if (headers.size > 0) {
    const keys = [...headers.keys()].filter((k) => k !== 'Proc-Type').sort();
    if (headers.has('Proc-Type')) keys.unshift('Proc-Type');
    for (const k of keys) out += `${k}: ${headers.get(k)}\n`;
    out += '\n';
  }
  const b64 = block.bytes.toString('base64');
  for (let i = 0; i < b64.length; i += 64) out += `${b64.slice(i, i + 64)}\n`;
  return `${out}-----END ${block.type}-----\n`;
}
