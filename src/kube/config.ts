/**
 * Where the Kubernetes API is: `--kubeconfig`, else `KUBECONFIG`, else the in-cluster service
 * account, else nowhere (standalone mode: stores come from `--stores` manifests).
 */
import { type KubeSource, LeanKubeConfig } from './kubeconfig.ts';

/**
 * `env` (default process.env) decides which source applies; the in-cluster configuration itself
 * is read from process.env and the service-account files, as client-node reads it (kubeconfig.ts:
 * the generated API of client-node is never loaded for it).
 */
export function loadKubeConfig(
  opts: { kubeconfig?: string | undefined; env?: NodeJS.ProcessEnv } = {},
): LeanKubeConfig | undefined {
  const env = opts.env ?? process.env;
  const file = opts.kubeconfig || env.KUBECONFIG?.split(process.platform === 'win32' ? ';' : ':')[0];
  if (file) {
    const kc = new LeanKubeConfig();
    kc.loadFromFile(file);
    return kc;
  }
  if (env.KUBERNETES_SERVICE_HOST) {
    const kc = new LeanKubeConfig();
    kc.loadFromCluster();
    return kc;
  }
  return undefined;
}

/** The namespace of the current context (in cluster: the pod's), default `default`. */
export function currentNamespace(kc: KubeSource): string {
  return kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
}
