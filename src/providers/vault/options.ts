/**
 * Pure mapping from a `vault` store spec to node-vault options, and the KV paths a key reads
 * (after the External Secrets Operator's `buildPath`). No I/O: tested directly.
 */
import type NodeVault from 'node-vault';
import type { VaultProvider } from '../../api/types.ts';
import { ProviderError } from '../types.ts';

export interface VaultOverrides {
  /** PEM of the CA resolved from `caProvider` (a Secret); `caBundle` is decoded here. */
  caPem?: string;
  /** Timeout of one HTTP request, ms. */
  timeoutMs?: number;
}

/** node-vault options, plus `rpDefaults` (read by node-vault, missing from its typings). */
export interface VaultClientOptions extends NodeVault.VaultOptions {
  rpDefaults: { strictSSL: boolean };
}

/**
 * - `endpoint`: `spec.server`, trailing slash removed; `apiVersion` v1.
 * - `noCustomHTTPVerbs`: LIST is sent as `GET ?list=1`, which proxies and fakes accept.
 * - `namespace`: Vault Enterprise namespace, sent as `X-Vault-Namespace` on every request.
 * - `requestOptions.ca`: the store's `caBundle` (base64 of PEM) and/or the caProvider's PEM;
 *   `rpDefaults.strictSSL`: TLS verification is never switched off (node-vault would honour
 *   VAULT_SKIP_VERIFY from the environment otherwise).
 * - `token` is never set here: the provider sends its own `X-Vault-Token` per request.
 */
export function vaultClientOptions(spec: VaultProvider, overrides: VaultOverrides = {}): VaultClientOptions {
  if (!spec.server) throw new ProviderError('Invalid', 'vault: spec.provider.vault.server is required');
  let endpoint: URL;
  try {
    endpoint = new URL(spec.server);
  } catch {
    throw new ProviderError('Invalid', 'vault: spec.provider.vault.server is not a URL');
  }
  if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:') {
    throw new ProviderError('Invalid', 'vault: spec.provider.vault.server must be an http(s) URL');
  }
  const ca = [spec.caBundle ? decodeCaBundle(spec.caBundle) : undefined, overrides.caPem].filter(
    (pem): pem is string => pem !== undefined && pem !== '',
  );
  const requestOptions: NonNullable<NodeVault.VaultOptions['requestOptions']> = {};
  if (ca.length > 0) requestOptions.ca = ca.join('\n');
  if (overrides.timeoutMs !== undefined) requestOptions.timeout = overrides.timeoutMs;
  const options: VaultClientOptions = {
    apiVersion: 'v1',
    endpoint: spec.server.replace(/\/+$/, ''),
    noCustomHTTPVerbs: true,
    requestOptions,
    rpDefaults: { strictSSL: true },
  };
  if (spec.namespace) options.namespace = spec.namespace;
  return options;
}

/**
 * Headers every request carries besides the token. `forwardInconsistent` asks a performance
 * standby to forward a request it cannot serve consistently to the active node (ESO sends the
 * same header). `readYourWrites` needs the `X-Vault-Index` of earlier writes: this provider
 * never writes, so there is nothing to carry.
 */
export function vaultRequestHeaders(spec: VaultProvider): Record<string, string> {
  return spec.forwardInconsistent ? { 'X-Vault-Inconsistent': 'forward-active-node' } : {};
}

function decodeCaBundle(b64: string): string {
  const pem = Buffer.from(b64, 'base64').toString('utf8');
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ProviderError(
      'Invalid',
      'vault: spec.provider.vault.caBundle is not base64 of a PEM certificate',
    );
  }
  return pem;
}

// ---------------------------------------------------------------- KV paths

export interface KvLayout {
  /** The KV mount (`spec.path`), slashes trimmed; undefined = the key starts with the mount. */
  mount: string | undefined;
  version: 'v1' | 'v2';
}

export function kvLayout(spec: VaultProvider): KvLayout {
  const mount = spec.path?.replace(/^\/+|\/+$/g, '');
  return { mount: mount || undefined, version: spec.version === 'v1' ? 'v1' : 'v2' };
}

/**
 * The logical path of `key`, as ESO's buildPath:
 * - mount set: a leading `<mount>/` (and `data/` on v2) in the key is dropped, then
 *   `<mount>[/data]/<key>`;
 * - no mount, v2: `data` is inserted after the first segment unless the key has `/data/`;
 * - no mount, v1: the key as is.
 */
export function kvDataPath(layout: KvLayout, key: string): string {
  const clean = key.replace(/^\/+/, '');
  if (!clean) throw new ProviderError('Invalid', 'vault: an empty key');
  if (layout.mount !== undefined) {
    let rest = clean;
    if (rest.startsWith(`${layout.mount}/`)) {
      rest = rest.slice(layout.mount.length + 1);
      if (layout.version === 'v2' && rest.startsWith('data/')) rest = rest.slice('data/'.length);
    }
    return layout.version === 'v2' ? `${layout.mount}/data/${rest}` : `${layout.mount}/${rest}`;
  }
  if (layout.version === 'v2' && !clean.includes('/data/')) {
    const [first, ...others] = clean.split('/');
    return [first, 'data', ...others].join('/');
  }
  return clean;
}

/** The request path (URL-encoded segments) reading `key`, `?version=N` on KV v2. */
export function kvReadPath(layout: KvLayout, key: string, version: string | undefined): string {
  const path = encodePath(kvDataPath(layout, key));
  if (version === undefined || version === '' || layout.version === 'v1') return path;
  if (!/^[0-9]+$/.test(version)) {
    throw new ProviderError(
      'Invalid',
      `vault: version "${version}" of secret "${key}" is not a KV v2 version number`,
    );
  }
  return `${path}?version=${version}`;
}

/** LIST path of the folder `prefix` under the mount (`metadata/` on v2). Needs a mount. */
export function kvListPath(layout: KvLayout, prefix: string): string {
  if (layout.mount === undefined) {
    throw new ProviderError('Invalid', 'vault: dataFrom.find needs spec.provider.vault.path (the KV mount)');
  }
  const folder = prefix.replace(/^\/+|\/+$/g, '');
  const base = layout.version === 'v2' ? `${layout.mount}/metadata` : layout.mount;
  return encodePath(folder ? `${base}/${folder}/` : `${base}/`);
}

/** The KV v2 metadata path of a key relative to the mount. */
export function kvMetadataPath(layout: KvLayout, name: string): string {
  if (layout.mount === undefined || layout.version !== 'v2') {
    throw new ProviderError('Invalid', 'vault: find by tags needs a KV v2 mount in spec.provider.vault.path');
  }
  return encodePath(`${layout.mount}/metadata/${name.replace(/^\/+/, '')}`);
}

function encodePath(path: string): string {
  return path
    .split('/')
    .map((segment) => encodeURIComponent(segment))
    .join('/');
}
