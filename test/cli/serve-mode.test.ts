/**
 * `esw serve` says which mode it runs in, against which API server and namespace, in its first
 * log line; cluster mode only when asked for (--kubeconfig here; inside a pod, see
 * test/config.test.ts), against the API-server double.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { stringify } from 'yaml';
import { startRuntime } from '../../src/cli/serve.ts';
import { parseServeConfig } from '../../src/config.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { KubeApiServer } from '../fakes/kube-apiserver/index.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ destination: { write: (l: string) => lines.push(JSON.parse(l)) } });
  return { lines, logger };
}

t.test('--kubeconfig: cluster mode, logged with the API server and the namespace', async (t) => {
  const api = await KubeApiServer.start({ users: { 'admin-token': 'kubernetes-admin' } });
  t.teardown(() => api.close());
  const dir = t.testdir({});
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(
    kubeconfig,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'd',
          cluster: {
            server: api.url,
            'certificate-authority-data': Buffer.from(api.caPem).toString('base64'),
          },
        },
      ],
      users: [{ name: 'u', user: { token: 'admin-token' } }],
      contexts: [{ name: 'd', context: { cluster: 'd', user: 'u' } }],
      'current-context': 'd',
    }),
  );
  const config = parseServeConfig(
    [
      '--kubeconfig',
      kubeconfig,
      '--no-refresher',
      '--namespace',
      'esw-system',
      '--tls-cert',
      join(dir, 'tls.crt'),
      '--tls-key',
      join(dir, 'tls.key'),
    ],
    {},
  );
  const { lines, logger } = capture();
  const runtime = await startRuntime(config, logger, createMetrics());
  t.equal(Buffer.poolSize, 8 * 1024, "Node's 8 KiB Buffer slabs: a kept small Buffer pins 8 KiB, not 64");
  t.teardown(() => runtime.close());
  t.match(lines[0], {
    msg: 'cluster mode',
    mode: 'cluster',
    server: api.url,
    kubeconfig,
    namespace: 'esw-system',
    certMode: 'files',
    refresher: false,
    host: '0.0.0.0',
  });
});

t.test('no --kubeconfig: standalone, logged with the store files, whatever KUBECONFIG says', async (t) => {
  const config = parseServeConfig(
    [
      '--stores',
      join(import.meta.dirname, '..', '..', 'examples', 'stores.yaml'),
      '--tls-cert',
      'x.crt',
      '--tls-key',
      'x.key',
    ],
    {
      KUBECONFIG: '/nonexistent/kubeconfig',
    },
  );
  const { lines, logger } = capture();
  const runtime = await startRuntime(config, logger, createMetrics());
  t.teardown(() => runtime.close());
  t.match(lines[0], { msg: 'standalone mode: stores from files', mode: 'standalone', host: '127.0.0.1' });
  t.match(lines[0]?.stores, [/examples\/stores\.yaml$/]);
});
