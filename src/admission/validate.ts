/**
 * POST /validate: ExternalSecret / SecretStore / ClusterSecretStore specs are checked with every
 * rule in src/api (all errors at once, field-pathed); opted-in Secrets get the safety net that
 * refuses a literal placeholder. Pure: no HTTP here.
 */

import { foreignStoreOf, servesStore } from '../api/controller-class.ts';
import type { IdentityPolicy } from '../api/identity.ts';
import { refSupportErrors } from '../api/ref-support.ts';
import type { ExternalSecret, KubeObject, SecretStore, StoreKind } from '../api/types.ts';
import { GROUP } from '../api/types.ts';
import { validateObject } from '../api/validate.ts';
import type { StoreRegistry } from '../resolve/types.ts';
import { guardSecret } from './secret-guard.ts';
import { type AdmissionRequest, type AdmissionResult, allow, deny, denyInvalid } from './types.ts';

const ESO_KINDS = new Set(['ExternalSecret', 'SecretStore', 'ClusterSecretStore', 'ClusterExternalSecret']);

export interface ValidateDeps {
  /**
   * When present, an ExternalSecret naming a store that is not known yet gets a warning, and one
   * asking a known store's provider for what it does not serve is refused (api/ref-support.ts).
   */
  registry?: StoreRegistry;
  /** Which SecretStores may use this server's own identity; default none. */
  identity?: IdentityPolicy;
  /**
   * `--controller-class`: a store of another class, and an ExternalSecret using one, are allowed
   * as they are — ESO's webhook validates them, by ESO's rules, not ours (this webhook serves
   * fewer providers and fields). Undefined: everything is validated.
   */
  controllerClass?: string;
  /**
   * `--generic-target-kinds` (cluster mode; standalone when the flag is given): an ExternalSecret
   * (or ClusterExternalSecret) whose target manifest names another kind is refused — the
   * refresher would only report it (src/api/generic-kinds.ts). Undefined: not checked.
   */
  genericTargetKinds?: readonly string[];
}

export function validateAdmission(request: AdmissionRequest, deps: ValidateDeps = {}): AdmissionResult {
  if (request.operation === 'DELETE' || request.operation === 'CONNECT') return allow();
  const { group, kind } = request.kind;
  if (group === '' && kind === 'Secret') return guardSecret(request);
  if (group !== GROUP || !ESO_KINDS.has(kind)) return allow();

  const object = request.object;
  if (!object) return deny(400, `${kind} is missing from the request`);
  const typed = typedObject(object, request);
  if (deps.controllerClass !== undefined && leftToOtherClass(typed, kind, request.namespace, deps))
    return allow();
  // The deps hold the options (identity, generic target kinds) under the same names.
  const { errors, warnings } = validateObject(typed, deps);
  const registry = deps.registry;
  if (kind === 'ExternalSecret' && registry) {
    storeWarnings(typed as ExternalSecret, request.namespace, registry, warnings);
    refSupportErrors(typed as ExternalSecret, registry, request.namespace, errors);
  }
  if (errors.length === 0) return allow(warnings);
  const name = object.metadata?.name ?? object.metadata?.generateName ?? '';
  return denyInvalid({ kind, group: GROUP, name }, errors, warnings);
}

/**
 * The object with the apiVersion, kind and namespace of the request: the API server fills them
 * on the object, a hand-made review may not. A copy only when one is missing (or the kind
 * differs), so the common review's object is validated as it came, not copied first.
 */
function typedObject(object: KubeObject, request: AdmissionRequest): KubeObject {
  const { group, kind, version } = request.kind;
  const metadata = object.metadata;
  const namespace = request.namespace;
  const withNamespace = metadata && namespace && !metadata.namespace;
  if (object.apiVersion !== undefined && object.apiVersion !== null && object.kind === kind && !withNamespace)
    return object;
  const typed = { ...object, apiVersion: object.apiVersion ?? `${group}/${version}`, kind };
  if (withNamespace) typed.metadata = { ...metadata, namespace };
  return typed;
}

/** Another controller's object (src/api/controller-class.ts): not ours to judge. */
function leftToOtherClass(
  object: unknown,
  kind: string,
  namespace: string | undefined,
  deps: ValidateDeps,
): boolean {
  const ours = deps.controllerClass as string;
  if (kind === 'ExternalSecret') {
    const registry = deps.registry;
    return (
      registry !== undefined &&
      foreignStoreOf(object as ExternalSecret, ours, (k, n) => registry.getStore(k, n, namespace)) !==
        undefined
    );
  }
  if (kind === 'ClusterExternalSecret') {
    // Its ExternalSecrets' spec: a ClusterSecretStore of another class leaves it to that
    // controller (a SecretStore is per target namespace: not known here).
    const registry = deps.registry;
    const spec = (object as { spec?: { externalSecretSpec?: unknown } }).spec?.externalSecretSpec;
    return (
      registry !== undefined &&
      typeof spec === 'object' &&
      spec !== null &&
      foreignStoreOf({ spec } as ExternalSecret, ours, (k, n) =>
        k === 'ClusterSecretStore' ? registry.getStore(k, n, undefined) : undefined,
      ) !== undefined
    );
  }
  // A store; a class that is not a string is validated (and refused by the schema).
  const controller = (object as { spec?: { controller?: unknown } }).spec?.controller;
  if (controller !== undefined && controller !== null && typeof controller !== 'string') return false;
  return !servesStore(object as SecretStore, ours);
}

/**
 * A warning onto `warnings` for each store the ExternalSecret names that is not known, in the
 * order named, each store once. Most name one store: the ids of those seen are kept, and written,
 * only from the second on.
 */
function storeWarnings(
  es: ExternalSecret,
  namespace: string | undefined,
  registry: StoreRegistry,
  warnings: string[],
): void {
  const seen: Seen = { namespace, registry, warnings, first: undefined, ids: undefined };
  const spec = es.spec;
  if (spec?.secretStoreRef) noteStore(spec.secretStoreRef, seen);
  noteEntries(spec?.data, seen);
  noteEntries(spec?.dataFrom, seen);
}

/**
 * The stores named by `data` or `dataFrom` entries. Before the schema's errors are returned:
 * `data: [null]` or `dataFrom: 3` must reach the tenant as field errors, not throw here.
 */
function noteEntries(list: unknown, seen: Seen): void {
  if (!Array.isArray(list)) return;
  for (const d of list as unknown[]) {
    const storeRef = (d as { sourceRef?: { storeRef?: unknown } } | null)?.sourceRef?.storeRef;
    if (storeRef && typeof storeRef === 'object') noteStore(storeRef as StoreRefLike, seen);
  }
}

type StoreRefLike = { name?: string; kind?: StoreKind };

interface Seen {
  namespace: string | undefined;
  registry: StoreRegistry;
  warnings: string[];
  /** The first store reference with a name. */
  first: StoreRefLike | undefined;
  /** `kind/name` of those seen, from the second reference with a name on. */
  ids: Set<string> | undefined;
}

function noteStore(ref: StoreRefLike, seen: Seen): void {
  if (!ref.name) return;
  const kind = ref.kind ?? 'SecretStore';
  if (seen.first === undefined) seen.first = ref;
  else {
    seen.ids ??= new Set([storeId(seen.first)]);
    const id = storeId(ref);
    if (seen.ids.has(id)) return;
    seen.ids.add(id);
  }
  const namespace = seen.namespace;
  if (!seen.registry.getStore(kind, ref.name, namespace)) {
    seen.warnings.push(
      `${kind} "${ref.name}" was not found${kind === 'SecretStore' ? ` in namespace "${namespace ?? 'default'}"` : ''}; the ExternalSecret will not sync until it exists`,
    );
  }
}

function storeId(ref: StoreRefLike): string {
  return `${ref.kind ?? 'SecretStore'}/${ref.name}`;
}
