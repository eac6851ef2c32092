/**
 * Where the Kubernetes API is: `--kubeconfig`, else `KUBECONFIG`, else the in-cluster service
 * account, else nowhere (standalone mode: stores come from `--stores` manifests).
 */
import { KubeConfig } from '@kubernetes/client-node';

/**
 * `env` (default process.env) decides which source applies; the in-cluster configuration itself
 * is read by client-node from process.env and the service-account files.
 */
export function loadKubeConfig(
  opts: { kubeconfig?: string | undefined; env?: NodeJS.ProcessEnv } = {},
): KubeConfig | undefined {
  const env = opts.env ?? process.env;
  const file = opts.kubeconfig || env.KUBECONFIG?.split(process.platform === 'win32' ? ';' : ':')[0];
  if (file) {
    const kc = new KubeConfig();
    kc.loadFromFile(file);
    return kc;
  }
  if (env.KUBERNETES_SERVICE_HOST) {
    const kc = new KubeConfig();
    kc.loadFromCluster();
    return kc;
  }
  return undefined;
}

/** The namespace of the current context (in cluster: the pod's), default `default`. */
export function currentNamespace(kc: KubeConfig): string {
  return kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
}
