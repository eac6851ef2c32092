import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { KubeClient } from '../../src/kube/client.ts';
import { currentNamespace, loadKubeConfig } from '../../src/kube/config.ts';
import { KubeApiServer } from '../fakes/kube-apiserver/index.ts';
import { writeKubeconfig } from '../fakes/kubectl.ts';
import { restoreEnv } from '../helpers/env.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

t.test('--kubeconfig, then KUBECONFIG, then in-cluster, else standalone', async (t) => {
  const api = await KubeApiServer.start();
  t.teardown(() => api.close());
  const dir = await mkdtemp(join(tmpdir(), 'esw-kubeconfig-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = await writeKubeconfig(join(dir, 'config'), api, { namespace: 'team' });

  const fromFlag = loadKubeConfig({ kubeconfig: file, env: {} });
  t.ok(fromFlag);
  if (!fromFlag) return;
  t.equal(currentNamespace(fromFlag), 'team');
  await new KubeClient(fromFlag).createSecret('team', { metadata: { name: 'via-file' } });
  t.ok(api.get('secrets', 'team', 'via-file'), 'a client built from the file reaches the API (CA verified)');

  const fromEnv = loadKubeConfig({
    env: { KUBECONFIG: `${file}:/nonexistent`, KUBERNETES_SERVICE_HOST: '10.0.0.1' },
  });
  t.equal(fromEnv?.getCurrentCluster()?.server, api.url, 'KUBECONFIG wins over in-cluster');

  // In cluster, client-node reads the service host and port from process.env itself.
  restoreEnv(t, ['KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT']);
  process.env.KUBERNETES_SERVICE_HOST = '10.0.0.1';
  process.env.KUBERNETES_SERVICE_PORT = '443';
  const inCluster = loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: '10.0.0.1' } });
  t.equal(inCluster?.getCurrentCluster()?.server, 'https://10.0.0.1:443', 'in-cluster service account');

  t.equal(loadKubeConfig({ env: {} }), undefined, 'no cluster: standalone');
});

t.test('recordEvent: a core/v1 Event about the object', async (t) => {
  const api = await KubeApiServer.start();
  t.teardown(() => api.close());
  const client = new KubeClient(api.kubeConfig());
  const es = {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name: 'db', namespace: 'app', uid: 'u-1' },
  };
  await client.recordEvent(es, { type: 'Normal', reason: 'Created', message: 'created Secret db' });
  const events = api.list('events', 'app');
  t.equal(events.length, 1);
  t.match(events[0], {
    type: 'Normal',
    reason: 'Created',
    message: 'created Secret db',
    involvedObject: { kind: 'ExternalSecret', name: 'db', namespace: 'app', uid: 'u-1' },
    source: { component: 'external-secrets-webhook' },
    metadata: { name: /^db\./ },
  });
});
