/**
 * Pure mapping from a `vault` store spec to node-vault options, and the KV paths a key reads
 * (after the External Secrets Operator's `buildPath`). No I/O: tested directly.
 */
import type NodeVault from 'node-vault';
import type { VaultProvider } from '../../api/types.ts';
import { ProviderError } from '../types.ts';
import { boundedTransport } from './transport.ts';

export interface VaultOverrides {
  /** PEM of the CA resolved from `caProvider` (a Secret); `caBundle` is decoded here. */
  caPem?: string;
  /** Timeout of one HTTP request, ms. */
  timeoutMs?: number;
  /** Client certificate and key (PEM) from `tls`, presented on every connection. */
  cert?: string;
  key?: string;
}

/** node-vault options, plus `rpDefaults` (read by node-vault, missing from its typings). */
export interface VaultClientOptions extends NodeVault.VaultOptions {
  rpDefaults: { strictSSL: boolean };
}

/**
 * - `endpoint`: `spec.server`, trailing slash removed; `apiVersion` v1.
 * - `noCustomHTTPVerbs`: LIST is sent as `GET ?list=1`, which proxies and fakes accept.
 * - `requestOptions.cert`/`key`: the client certificate of `tls` (mutual TLS).
 * - `requestOptions.ca`: the store's `caBundle` (base64 of PEM) and/or the caProvider's PEM;
 *   `rpDefaults.strictSSL`: TLS verification is never switched off (node-vault would honour
 *   VAULT_SKIP_VERIFY from the environment otherwise).
 * - `token` is never set here: the provider sends its own `X-Vault-Token` per request.
 * - `request-promise`: node-vault's transport with every answer bounded (`transport.ts`).
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
  if (overrides.cert && overrides.key) {
    requestOptions.cert = overrides.cert;
    requestOptions.key = overrides.key;
  }
  const options: VaultClientOptions = {
    apiVersion: 'v1',
    endpoint: spec.server.replace(/\/+$/, ''),
    noCustomHTTPVerbs: true,
    requestOptions,
    rpDefaults: { strictSSL: true },
    'request-promise': boundedTransport(),
  };
  return options;
}

/**
 * Header names a store's `headers` may not set: they would replace the token or the namespace
 * this provider sends (`Authorization: Bearer` is a token too), wrap every answer
 * (`X-Vault-Wrap-TTL`), or break the HTTP framing. Compared lower-case.
 */
export const RESERVED_HEADERS: readonly string[] = [
  'x-vault-token',
  'authorization',
  'x-vault-namespace',
  'x-vault-wrap-ttl',
  'host',
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'proxy-authorization',
  'proxy-connection',
  'expect',
];

/** HTTP token characters (RFC 9110), what a header name may be. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/;
/** Visible characters, spaces and tabs: no CR/LF (header injection), no other controls. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]{0,8192}$/;

/** Why `name: value` may not be a custom header, or undefined when it may. */
export function headerProblem(name: string, value: unknown): string | undefined {
  if (!HEADER_NAME.test(name)) return 'is not a valid HTTP header name';
  if (RESERVED_HEADERS.includes(name.toLowerCase())) {
    return 'is set by external-secrets-webhook itself (token, namespace or transport): use the store field for it';
  }
  if (typeof value !== 'string' || !HEADER_VALUE.test(value)) {
    return 'has a value with control characters or longer than 8192 characters';
  }
  return undefined;
}

/** The store's custom headers, each checked; Invalid naming the first that may not be sent. */
function customHeaders(spec: VaultProvider): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(spec.headers ?? {})) {
    const problem = headerProblem(name, value);
    if (problem) {
      throw new ProviderError('Invalid', `vault: spec.provider.vault.headers["${name}"] ${problem}`);
    }
    out[name] = value;
  }
  return out;
}

/**
 * Headers every read carries besides the token: the store's `headers` (as ESO's AddHeader, on
 * every request), `X-Vault-Namespace` for `namespace`, and `forwardInconsistent`, which asks a
 * performance standby to forward a request it cannot serve consistently to the active node (ESO
 * sends the same header). `readYourWrites` needs the `X-Vault-Index` of earlier writes: this
 * provider never writes, so there is nothing to carry.
 */
export function vaultRequestHeaders(spec: VaultProvider): Record<string, string> {
  const headers = customHeaders(spec);
  if (spec.namespace) headers['X-Vault-Namespace'] = spec.namespace;
  if (spec.forwardInconsistent) headers['X-Vault-Inconsistent'] = 'forward-active-node';
  return headers;
}

/**
 * Headers of the login and of the token's own calls (renew-self, lookup-self): as the reads, but
 * in `auth.namespace` when it is set (ESO switches the client to it for the login only).
 */
export function vaultLoginHeaders(spec: VaultProvider): Record<string, string> {
  const headers = vaultRequestHeaders(spec);
  const ns = spec.auth?.namespace;
  if (ns) headers['X-Vault-Namespace'] = ns;
  return headers;
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
