/**
 * Controller classes (`spec.controller` of SecretStore and ClusterSecretStore), so this webhook
 * can run beside the External Secrets Operator without both serving the same objects.
 *
 * ESO's rule (`ShouldProcessStore`): a controller serves a store whose `spec.controller` is
 * empty or equals its class; an ExternalSecret is skipped when any store it names belongs to
 * another class (`shouldSkipUnmanagedStore`; a store not found does not count). ESO's own
 * controllers serve unclassed stores whatever their class. This webhook does so only under the
 * class `default` — ESO's default, the setting for replacing ESO — so that beside ESO, with a
 * class of its own, it serves only the stores that name that class and leaves every unclassed
 * store to ESO alone (docs/install.md, "Running beside ESO").
 */
import type { ExternalSecret, SecretStore, StoreKind } from './types.ts';

/** ESO's default `--controller-class`, and ours. */
export const DEFAULT_CONTROLLER_CLASS = 'default';

/** The class a store names ('' when none). */
export function storeClass(store: SecretStore | undefined): string {
  const c = store?.spec?.controller;
  return typeof c === 'string' ? c : '';
}

/** True when a controller of class `ours` serves this store. */
export function servesStore(store: SecretStore | undefined, ours: string): boolean {
  const theirs = storeClass(store);
  return theirs === '' ? ours === DEFAULT_CONTROLLER_CLASS : theirs === ours;
}

/** Why this webhook leaves a store alone, for refusals and logs. */
export function otherClassText(store: SecretStore | undefined, ours: string): string {
  const theirs = storeClass(store);
  return theirs === ''
    ? `it names no spec.controller, which is left to ESO's default controller; this webhook serves stores with spec.controller "${ours}"`
    : `it belongs to controller class "${theirs}"; this webhook serves class "${ours}"${ours === DEFAULT_CONTROLLER_CLASS ? ' (and stores naming none)' : ''}`;
}

/** Every store an ExternalSecret names: the default store and each entry's `sourceRef.storeRef`. */
export function storeRefsOf(es: ExternalSecret): { name: string; kind: StoreKind }[] {
  const refs: { name: string; kind: StoreKind }[] = [];
  const add = (ref: { name?: string; kind?: StoreKind } | undefined) => {
    if (!ref?.name) return;
    const kind = ref.kind === 'ClusterSecretStore' ? 'ClusterSecretStore' : 'SecretStore';
    if (!refs.some((r) => r.name === ref.name && r.kind === kind)) refs.push({ name: ref.name, kind });
  };
  add(es.spec?.secretStoreRef);
  for (const d of es.spec?.data ?? []) add(d.sourceRef?.storeRef);
  for (const d of es.spec?.dataFrom ?? []) add(d.sourceRef?.storeRef);
  return refs;
}

/**
 * The first store `es` names that a controller of class `ours` does not serve, or undefined when
 * it serves them all (stores not found count as served, as in ESO).
 */
export function foreignStoreOf(
  es: ExternalSecret,
  ours: string,
  lookup: (kind: StoreKind, name: string) => SecretStore | undefined,
): SecretStore | undefined {
  for (const ref of storeRefsOf(es)) {
    const store = lookup(ref.kind, ref.name);
    if (store && !servesStore(store, ours)) return store;
  }
  return undefined;
}
