/**
 * `spec.target.template.templateFrom[].configMap` / `.secret`: the ConfigMaps and Secrets whose
 * keys hold templates, read as ESO's templating.Parser reads them — by name, in the
 * ExternalSecret's own namespace (the reference has no namespace field: another namespace's
 * objects can never be named), each one read once per sync. A ConfigMap's `data` counts, not its
 * `binaryData` (as ESO).
 */
import type { ExternalSecret, TemplateFrom } from '../api/types.ts';
import { EswError } from '../errors.ts';
import type { KubeWriter } from './ports.ts';
import { decodeData } from './secret-data.ts';

export type TemplateSourceKind = 'ConfigMap' | 'Secret';

/** The keys of one source object, or undefined when it does not exist. */
export type TemplateSources = Map<string, Map<string, Buffer> | undefined>;

export const sourceKey = (kind: TemplateSourceKind, name: string): string => `${kind}/${name}`;

/** The sources `es` reads (kind and name, in its namespace), each once. */
export function templateSourceRefs(es: ExternalSecret): { kind: TemplateSourceKind; name: string }[] {
  const seen = new Map<string, { kind: TemplateSourceKind; name: string }>();
  for (const tf of es.spec?.target?.template?.templateFrom ?? []) {
    for (const [kind, ref] of refsOf(tf)) {
      if (ref?.name) seen.set(sourceKey(kind, ref.name), { kind, name: ref.name });
    }
  }
  return [...seen.values()];
}

function refsOf(tf: TemplateFrom): [TemplateSourceKind, TemplateFrom['configMap']][] {
  return [
    ['ConfigMap', tf.configMap],
    ['Secret', tf.secret],
  ];
}

/** Reads every source `es` names, in its own namespace. */
export async function readTemplateSources(
  es: ExternalSecret,
  kube: Pick<KubeWriter, 'getSecret' | 'getConfigMap'>,
): Promise<TemplateSources> {
  const ns = es.metadata?.namespace ?? 'default';
  const out: TemplateSources = new Map();
  await Promise.all(
    templateSourceRefs(es).map(async ({ kind, name }) => {
      let data: Map<string, Buffer> | undefined;
      if (kind === 'ConfigMap') {
        const cm = await kube.getConfigMap(ns, name);
        data = cm
          ? new Map(Object.entries(cm.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'utf8')]))
          : undefined;
      } else {
        const secret = await kube.getSecret(ns, name);
        data = secret ? decodeData(secret.data) : undefined;
      }
      out.set(sourceKey(kind, name), data);
    }),
  );
  return out;
}

/**
 * The template text of `item` in a source, or a clear error naming the object and the key (ESO:
 * `error in configmap NAME: missing key KEY`), never a value.
 */
export function templateOf(
  sources: TemplateSources,
  kind: TemplateSourceKind,
  name: string,
  key: string,
  namespace: string,
  field: string,
): Buffer {
  const data = sources.get(sourceKey(kind, name));
  if (data === undefined) {
    throw new EswError(
      'ESW_TEMPLATE',
      `${field}: ${kind} "${namespace}/${name}" not found (templateFrom reads the ExternalSecret's own namespace)`,
    );
  }
  const value = data.get(key);
  if (value === undefined)
    throw new EswError('ESW_TEMPLATE', `${field}: ${kind} "${namespace}/${name}" has no key "${key}"`);
  return value;
}
