/**
 * ESO's fromYaml (sigs.k8s.io/yaml over go-yaml v2): YAML 1.1 into a dict; a document that does
 * not parse, or is not a map, gives a dict holding only "Error" (ESO's behaviour: it tolerates
 * errors inside templates). toYaml is yaml-emit.ts.
 */
import { parseDocument } from 'yaml';
import { GoMap, list, type Value } from '../values.ts';

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
