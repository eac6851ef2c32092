/** metadata checks shared by the three kinds: what the API server enforces on any object. */
import { type FieldError, fieldErrors } from './field-errors.ts';
import { checkDnsLabel, checkDnsSubdomain, type Obj, optObject, optString, optStringMap } from './schema.ts';

export function validateMetadata(obj: Obj, namespaced: boolean, errors: FieldError[]): Obj | undefined {
  if (obj.metadata === undefined || obj.metadata === null) {
    errors.push(fieldErrors.required('metadata.name', 'name or generateName is required'));
    return undefined;
  }
  const meta = optObject(obj.metadata, 'metadata', errors);
  if (!meta) return undefined;
  const name = optString(meta.name, 'metadata.name', errors);
  const generateName = optString(meta.generateName, 'metadata.generateName', errors);
  if (!name && !generateName) {
    errors.push(fieldErrors.required('metadata.name', 'name or generateName is required'));
  } else if (name) {
    checkDnsSubdomain(name, 'metadata.name', errors);
  }
  const ns = optString(meta.namespace, 'metadata.namespace', errors);
  if (namespaced && ns) checkDnsLabel(ns, 'metadata.namespace', errors);
  optStringMap(meta.labels, 'metadata.labels', errors);
  optStringMap(meta.annotations, 'metadata.annotations', errors);
  return meta;
}

/** `<Kind>/<ns>/<name>` (cluster-scoped or namespace unknown: `<Kind>/<name>`), for messages. */
export function objectId(obj: unknown): string {
  const o = (typeof obj === 'object' && obj !== null ? obj : {}) as Obj;
  const kind = typeof o.kind === 'string' ? o.kind : '<unknown kind>';
  const meta = (typeof o.metadata === 'object' && o.metadata !== null ? o.metadata : {}) as Obj;
  const name =
    typeof meta.name === 'string' && meta.name
      ? meta.name
      : typeof meta.generateName === 'string'
        ? `${meta.generateName}*`
        : '<unnamed>';
  const ns =
    typeof meta.namespace === 'string' && meta.namespace && kind !== 'ClusterSecretStore'
      ? meta.namespace
      : '';
  return ns ? `${kind}/${ns}/${name}` : `${kind}/${name}`;
}
