/**
 * A small JSON reader that keeps the source span of every value. The External Secrets Operator
 * answers `property` lookups with gjson, which returns objects, arrays and integers as their
 * *original text*; keeping spans lets us do the same (no re-formatting, no precision loss on
 * large integers such as account IDs) where `JSON.parse` would not.
 */

import { ownWords } from '../observability/sanitize.ts';

export type JsonNode =
  | { kind: 'object'; start: number; end: number; entries: [string, JsonNode][] }
  | { kind: 'array'; start: number; end: number; items: JsonNode[] }
  | { kind: 'string'; start: number; end: number; value: string }
  | { kind: 'number' | 'true' | 'false' | 'null'; start: number; end: number };

/** Thrown for text that is not one JSON value. Carries a position, never the text. */
export class JsonSyntaxError extends Error {
  readonly position: number;
  constructor(position: number) {
    super(`invalid JSON at offset ${position}`);
    this.name = 'JsonSyntaxError';
    this.position = position;
  }
}
ownWords(JsonSyntaxError);

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON forbids raw control characters in strings
const STRING_BODY = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const MAX_DEPTH = 512;

/** Parses `text` as exactly one JSON value (surrounding whitespace allowed). */
export function parseJsonSpans(text: string): JsonNode {
  let pos = 0;

  const skipWs = (): void => {
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) pos++;
      else break;
    }
  };

  const parseString = (): { value: string; start: number; end: number } => {
    STRING_BODY.lastIndex = pos;
    const m = STRING_BODY.exec(text);
    if (!m) throw new JsonSyntaxError(pos);
    const start = pos;
    pos += m[0].length;
    // The matched literal is valid JSON; let the engine unescape it.
    return { value: JSON.parse(m[0]) as string, start, end: pos };
  };

  const parseValue = (depth: number): JsonNode => {
    if (depth > MAX_DEPTH) throw new JsonSyntaxError(pos);
    skipWs();
    const start = pos;
    const c = text[pos];
    if (c === '{') {
      pos++;
      const entries: [string, JsonNode][] = [];
      skipWs();
      if (text[pos] === '}') {
        pos++;
        return { kind: 'object', start, end: pos, entries };
      }
      for (;;) {
        skipWs();
        if (text[pos] !== '"') throw new JsonSyntaxError(pos);
        const k = parseString().value;
        skipWs();
        if (text[pos] !== ':') throw new JsonSyntaxError(pos);
        pos++;
        entries.push([k, parseValue(depth + 1)]);
        skipWs();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === '}') {
          pos++;
          return { kind: 'object', start, end: pos, entries };
        }
        throw new JsonSyntaxError(pos);
      }
    }
    if (c === '[') {
      pos++;
      const items: JsonNode[] = [];
      skipWs();
      if (text[pos] === ']') {
        pos++;
        return { kind: 'array', start, end: pos, items };
      }
      for (;;) {
        items.push(parseValue(depth + 1));
        skipWs();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === ']') {
          pos++;
          return { kind: 'array', start, end: pos, items };
        }
        throw new JsonSyntaxError(pos);
      }
    }
    if (c === '"') {
      const s = parseString();
      return { kind: 'string', ...s };
    }
    for (const lit of ['true', 'false', 'null'] as const) {
      if (text.startsWith(lit, pos)) {
        pos += lit.length;
        return { kind: lit, start, end: pos };
      }
    }
    NUMBER.lastIndex = pos;
    const m = NUMBER.exec(text);
    if (!m) throw new JsonSyntaxError(pos);
    pos += m[0].length;
    return { kind: 'number', start, end: pos };
  };

  const node = parseValue(0);
  skipWs();
  if (pos !== text.length) throw new JsonSyntaxError(pos);
  return node;
}

/** The source text of a node. */
export function rawText(text: string, node: JsonNode): string {
  return text.slice(node.start, node.end);
}
