/** The resources the double serves, for routing and for the discovery documents. */

export interface ResourceDef {
  group: string;
  versions: string[];
  /** Plural, as in the URL. */
  resource: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames: string[];
  /** Has a `/status` subresource: the main resource ignores status, `/status` changes only it. */
  status: boolean;
  /**
   * Keeps metadata.generation, bumped when spec changes: custom resources (and CRDs) do; the
   * core kinds served here (Secret, ConfigMap, Event, Namespace, Lease) have none.
   */
  generation: boolean;
}

const VERBS = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];

export const RESOURCES: ResourceDef[] = [
  def('', ['v1'], 'secrets', 'Secret', true, []),
  def('', ['v1'], 'configmaps', 'ConfigMap', true, ['cm']),
  def('', ['v1'], 'events', 'Event', true, ['ev']),
  def('', ['v1'], 'namespaces', 'Namespace', false, ['ns']),
  def('', ['v1'], 'serviceaccounts', 'ServiceAccount', true, ['sa']),
  def('coordination.k8s.io', ['v1'], 'leases', 'Lease', true, []),
  // An example custom resource: generic targets (spec.target.manifest) write one.
  def('example.com', ['v1'], 'databases', 'Database', true, ['db']),
  // The custom resources of ESO's generic-target guide (test/e2e/generic-target-docs.test.ts).
  def('argoproj.io', ['v1alpha1'], 'applications', 'Application', true, ['app']),
  def('config.example.com', ['v1'], 'appconfigs', 'AppConfig', true, []),
  def('external-secrets.io', ['v1', 'v1beta1'], 'externalsecrets', 'ExternalSecret', true, ['es'], true),
  def('external-secrets.io', ['v1', 'v1beta1'], 'secretstores', 'SecretStore', true, ['ss'], true),
  def(
    'external-secrets.io',
    ['v1', 'v1beta1'],
    'clustersecretstores',
    'ClusterSecretStore',
    false,
    ['css'],
    true,
  ),
  def(
    'external-secrets.io',
    ['v1', 'v1beta1'],
    'clusterexternalsecrets',
    'ClusterExternalSecret',
    false,
    ['ces'],
    true,
  ),
  def(
    'admissionregistration.k8s.io',
    ['v1'],
    'mutatingwebhookconfigurations',
    'MutatingWebhookConfiguration',
    false,
    [],
  ),
  def(
    'admissionregistration.k8s.io',
    ['v1'],
    'validatingwebhookconfigurations',
    'ValidatingWebhookConfiguration',
    false,
    [],
  ),
  // Accepted and stored so CRD manifests can be applied; they do not create new resources.
  def(
    'apiextensions.k8s.io',
    ['v1'],
    'customresourcedefinitions',
    'CustomResourceDefinition',
    false,
    ['crd', 'crds'],
    true,
  ),
];

function def(
  group: string,
  versions: string[],
  resource: string,
  kind: string,
  namespaced: boolean,
  shortNames: string[],
  status = false,
): ResourceDef {
  const generation = group === 'external-secrets.io' || group === 'apiextensions.k8s.io';
  return {
    group,
    versions,
    resource,
    singular: kind.toLowerCase(),
    kind,
    namespaced,
    shortNames,
    status,
    generation,
  };
}

export function findResource(group: string, version: string, resource: string): ResourceDef | undefined {
  return RESOURCES.find((r) => r.group === group && r.resource === resource && r.versions.includes(version));
}

export function resourceByName(resource: string): ResourceDef | undefined {
  return RESOURCES.find((r) => r.resource === resource);
}

export function resourceByKind(apiVersion: string, kind: string): ResourceDef | undefined {
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.lastIndexOf('/')) : '';
  return RESOURCES.find((r) => r.group === group && r.kind === kind);
}

export function apiVersionOf(group: string, version: string): string {
  return group === '' ? version : `${group}/${version}`;
}

export function discoveryResourceList(group: string, version: string): object {
  const resources = RESOURCES.filter((r) => r.group === group && r.versions.includes(version)).flatMap(
    (r) => {
      const main = {
        name: r.resource,
        singularName: r.singular,
        namespaced: r.namespaced,
        kind: r.kind,
        verbs: VERBS,
        ...(r.shortNames.length > 0 ? { shortNames: r.shortNames } : {}),
      };
      const status = {
        name: `${r.resource}/status`,
        singularName: '',
        namespaced: r.namespaced,
        kind: r.kind,
        verbs: ['get', 'patch', 'update'],
      };
      // ServiceAccounts: the TokenRequest subresource (create only).
      const token = {
        name: `${r.resource}/token`,
        singularName: '',
        namespaced: true,
        group: 'authentication.k8s.io',
        version: 'v1',
        kind: 'TokenRequest',
        verbs: ['create'],
      };
      return [main, ...(r.status ? [status] : []), ...(r.kind === 'ServiceAccount' ? [token] : [])];
    },
  );
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: apiVersionOf(group, version), resources };
}

export function discoveryGroups(): object {
  const groups = new Map<string, string[]>();
  for (const r of RESOURCES) {
    if (r.group === '') continue;
    const vs = groups.get(r.group) ?? [];
    for (const v of r.versions) if (!vs.includes(v)) vs.push(v);
    groups.set(r.group, vs);
  }
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [...groups].map(([name, versions]) => ({
      name,
      versions: versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
      preferredVersion: { groupVersion: `${name}/${versions[0]}`, version: versions[0] },
    })),
  };
}
