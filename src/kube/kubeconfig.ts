/**
 * The kubeconfig without the rest of @kubernetes/client-node. Importing that package's index (or
 * its `KubeConfig`, whose module imports the generated API) loads every generated API and model:
 * ~85 MiB of RSS in a process that talks to the API server only through src/kube/http.ts. This
 * class parses a kubeconfig file or the in-cluster service account exactly as client-node does —
 * with client-node's own light modules for the parts that carry its semantics (the entry parsers
 * of config_types.js, the token-file and exec-plugin authenticators), none of which imports the
 * generated code — and produces the same TLS settings and credential headers.
 *
 * What it does not do itself is handed to client-node's KubeConfig, loaded on first use: the
 * `oidc`, `azure` and `gcp` auth providers and a cluster's `proxy-url` (client-node builds the
 * proxy agent). A kubeconfig that uses none of them never loads the generated code.
 */
import fs from 'node:fs';
import type https from 'node:https';
import { isIPv6 } from 'node:net';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
// Light modules of client-node (node:fs and node:child_process only; see the header).
import {
  type Cluster,
  type Context,
  newClusters,
  newContexts,
  newUsers,
  type User,
} from '@kubernetes/client-node/dist/config_types.js';
import { ExecAuth } from '@kubernetes/client-node/dist/exec_auth.js';
import { FileAuth } from '@kubernetes/client-node/dist/file_auth.js';
import YAML from 'yaml';

export type { Cluster, Context, User };

/**
 * What this project needs of a kubeconfig: client-node's KubeConfig has the same methods (tests
 * pass one), and so does LeanKubeConfig.
 */
export interface KubeSource {
  getCurrentCluster(): Cluster | null;
  getCurrentContext(): string;
  getContextObject(name: string): Context | null;
  /** TLS settings (ca, cert, key, servername, rejectUnauthorized) and credential headers. */
  applyToHTTPSOptions(opts: https.RequestOptions): Promise<void>;
}

const SERVICEACCOUNT_ROOT = '/var/run/secrets/kubernetes.io/serviceaccount';
/** Auth providers only client-node's full KubeConfig implements. */
const DELEGATED_PROVIDERS = new Set(['oidc', 'azure', 'gcp']);

export class LeanKubeConfig implements KubeSource {
  clusters: Cluster[] = [];
  contexts: Context[] = [];
  users: User[] = [];
  currentContext = '';
  /** How client-node would load the same configuration, for what is delegated to it. */
  #load: ((kc: KubeConfig) => void) | undefined;
  #full: Promise<KubeConfig> | undefined;
  readonly #exec = new ExecAuth();
  readonly #file = new FileAuth();

  /** A kubeconfig file; relative certificate paths are taken from its directory. */
  loadFromFile(file: string): void {
    const text = fs.readFileSync(file, 'utf8');
    this.loadFromString(text);
    const root = path.dirname(file);
    const abs = (f: string) => (path.isAbsolute(f) ? f : path.join(root, f));
    for (const c of this.clusters) if (c.caFile) c.caFile = abs(c.caFile);
    for (const u of this.users) {
      if (u.certFile) u.certFile = abs(u.certFile);
      if (u.keyFile) u.keyFile = abs(u.keyFile);
    }
    this.#load = (kc) => kc.loadFromFile(file);
  }

  loadFromString(text: string): void {
    const obj = (YAML.parse(text) ?? {}) as Record<string, unknown>;
    this.clusters = newClusters(obj.clusters);
    this.contexts = newContexts(obj.contexts);
    this.users = newUsers(obj.users);
    this.currentContext = String(obj['current-context'] ?? '');
    this.#load = (kc) => kc.loadFromString(text);
  }

  /** The pod's service account: KUBERNETES_SERVICE_HOST/PORT, its CA, token file and namespace. */
  loadFromCluster(pathPrefix = ''): void {
    const host = process.env.KUBERNETES_SERVICE_HOST;
    const port = process.env.KUBERNETES_SERVICE_PORT;
    const scheme = port === '80' || port === '8080' || port === '8001' ? 'http' : 'https';
    const serverHost = host && isIPv6(host) ? `[${host}]` : host;
    this.clusters = [
      {
        name: 'inCluster',
        caFile: `${pathPrefix}${SERVICEACCOUNT_ROOT}/ca.crt`,
        server: `${scheme}://${serverHost}:${port}`,
        skipTLSVerify: false,
      },
    ];
    this.users = [
      {
        name: 'inClusterUser',
        authProvider: {
          name: 'tokenFile',
          config: { tokenFile: `${pathPrefix}${SERVICEACCOUNT_ROOT}/token` },
        },
      },
    ];
    const namespaceFile = `${pathPrefix}${SERVICEACCOUNT_ROOT}/namespace`;
    const namespace = fs.existsSync(namespaceFile) ? fs.readFileSync(namespaceFile, 'utf8') : undefined;
    this.contexts = [
      {
        cluster: 'inCluster',
        name: 'inClusterContext',
        user: 'inClusterUser',
        ...(namespace !== undefined ? { namespace } : {}),
      },
    ];
    this.currentContext = 'inClusterContext';
    this.#load = (kc) => kc.loadFromCluster(pathPrefix);
  }

  getCurrentContext(): string {
    return this.currentContext;
  }

  getContextObject(name: string): Context | null {
    return this.contexts.find((c) => c.name === name) ?? null;
  }

  getCurrentCluster(): Cluster | null {
    const ctx = this.getContextObject(this.currentContext);
    return ctx ? (this.clusters.find((c) => c.name === ctx.cluster) ?? null) : null;
  }

  getCurrentUser(): User | null {
    const ctx = this.getContextObject(this.currentContext);
    return ctx ? (this.users.find((u) => u.name === ctx.user) ?? null) : null;
  }

  /** True when client-node's KubeConfig has to produce the settings (see the header). */
  delegated(): boolean {
    const name = (this.getCurrentUser()?.authProvider as { name?: string } | undefined)?.name;
    return (
      Boolean(this.getCurrentCluster()?.proxyUrl) || (name !== undefined && DELEGATED_PROVIDERS.has(name))
    );
  }

  async applyToHTTPSOptions(opts: https.RequestOptions): Promise<void> {
    if (this.delegated()) {
      await (await this.#fullConfig()).applyToHTTPSOptions(opts);
      return;
    }
    const cluster = this.getCurrentCluster();
    const user = this.getCurrentUser();
    // As client-node: without a user there are no TLS settings and no credentials either.
    if (!user) return;
    if (cluster?.skipTLSVerify) opts.rejectUnauthorized = false;
    if (cluster?.tlsServerName) opts.servername = cluster.tlsServerName;
    const ca = cluster ? fileOrData(cluster.caFile, cluster.caData) : null;
    if (ca) opts.ca = ca;
    const cert = fileOrData(user.certFile, user.certData);
    if (cert) opts.cert = cert;
    const key = fileOrData(user.keyFile, user.keyData);
    if (key) opts.key = key;
    opts.headers ??= {};
    const headers = opts.headers as Record<string, string>;
    if (user.impersonateUser != null) headers['Impersonate-User'] = user.impersonateUser;
    // client-node's order: the exec plugin, then the token file; a static token wins over both.
    if (this.#exec.isAuthProvider(user)) await this.#exec.applyAuthentication(user, opts);
    else if (this.#file.isAuthProvider(user)) await this.#file.applyAuthentication(user, opts);
    if (user.token) headers.Authorization = `Bearer ${user.token}`;
    if (user.username) opts.auth = `${user.username}:${user.password}`;
    // As client-node's agent: plain HTTP only when the kubeconfig says not to verify TLS.
    if (cluster?.server?.startsWith('http:') && !cluster.skipTLSVerify)
      throw new Error('HTTP protocol is not allowed when skipTLSVerify is not set or false');
  }

  #fullConfig(): Promise<KubeConfig> {
    this.#full ??= import('@kubernetes/client-node').then(({ KubeConfig: Full }) => {
      const kc = new Full();
      this.#load?.(kc);
      return kc;
    });
    return this.#full;
  }
}

function fileOrData(file: string | undefined, data: string | undefined): Buffer | null {
  if (file) return fs.readFileSync(file);
  if (data) return Buffer.from(data, 'base64');
  return null;
}
