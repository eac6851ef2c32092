/**
 * Property paths as gjson reads them (`remoteRef.property`, a placeholder's `#PROPERTY`): the
 * one parser shared by admission (which refuses what the runtime would refuse) and the resolver
 * (src/refs/property.ts).
 *
 * Components are read as gjson's `parseObjectPath` reads them: `.` separates, a backslash takes
 * the next character literally and is dropped, an unescaped `*` or `?` makes the component a
 * wildcard over object keys (glob.ts). As in gjson, escapes are removed before matching, so in
 * a component that has an unescaped wildcard an escaped `*` is a wildcard too (`a\\*?`).
 */
import { EswError } from '../errors.ts';
import { Glob, MAX_GLOB_LENGTH } from './glob.ts';

export interface PathPart {
  /** The component as gjson matches object keys: escapes removed. */
  text: string;
  /** Present when the component has an unescaped `*` or `?`. */
  glob?: Glob;
  /** The component is exactly `#` (no escape). */
  count: boolean;
  /** Digits only, unescaped: also an array index. */
  index?: number;
}

/**
 * Splits a path into components. A wildcard component longer than MAX_GLOB_LENGTH characters is
 * refused (ESW_REF_SYNTAX): the one bound on a tenant's property path. ESO's first lookup reads
 * the whole property as one component (escapeDots), so in effect a property that holds a
 * wildcard is at most MAX_GLOB_LENGTH characters long.
 */
export function parsePath(path: string): PathPart[] {
  const parts: PathPart[] = [];
  let text = '';
  let raw = '';
  let wild = false;
  const flush = () => {
    const part: PathPart = { text, count: raw === '#' };
    if (wild) {
      if (text.length > MAX_GLOB_LENGTH) {
        throw new EswError(
          'ESW_REF_SYNTAX',
          `a property with a wildcard is ${text.length} characters long; at most ${MAX_GLOB_LENGTH} are accepted`,
        );
      }
      part.glob = new Glob(text);
    }
    if (/^\d+$/.test(raw)) part.index = Number(raw);
    parts.push(part);
    text = '';
    raw = '';
    wild = false;
  };
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    if (c === '\\') {
      raw += c;
      if (i + 1 < path.length) {
        text += path[++i]!;
        raw += path[i]!;
      }
    } else if (c === '.') {
      flush();
    } else {
      if (c === '*' || c === '?') wild = true;
      text += c;
      raw += c;
    }
  }
  flush();
  return parts;
}

/**
 * ESO first reads a property with every `.` escaped, so that a top-level key holding dots wins
 * (`strings.ReplaceAll(property, ".", "\\.")` in its providers), then as a path.
 */
export function escapeDots(property: string): string {
  return property.replaceAll('.', '\\.');
}

/** Admission's question: undefined when `property` can be looked up, else the reason. */
export function checkPropertyPath(property: string): string | undefined {
  // Only a wildcard component can be refused: a property without `*` or `?` (nearly all of
  // them) is not parsed, which allocated its parts on every admission.
  if (!property.includes('*') && !property.includes('?')) return undefined;
  try {
    parsePath(property);
    if (property.includes('.')) parsePath(escapeDots(property));
    return undefined;
  } catch (err: unknown) {
    if (err instanceof EswError) return err.message;
    throw err;
  }
}
