/**
 * TokenRequest through the project's kube HTTP path against the API-server double: tokens the
 * double can verify, one request per (account, audiences) until 80 % of the lifetime has
 * passed, concurrent callers sharing it, failures not cached, 404 and RBAC 403 in clear words
 * that never carry a token; ServiceAccount annotations.
 */
import t from 'tap';
import { KubeHttp } from '../../src/kube/http.ts';
import { ServiceAccountTokens } from '../../src/kube/service-accounts.ts';
import { KubeApiServer, TOKEN_ISSUER } from '../fakes/kube-apiserver/index.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

t.test('TokenRequest: issued, verifiable, cached until near expiry, coalesced', async (t) => {
  let clock = Date.parse('2026-06-01T00:00:00Z');
  const api = await KubeApiServer.start({
    users: { 'esw-token': 'system:serviceaccount:esw:esw' },
    now: () => new Date(clock),
  });
  t.teardown(() => api.close());
  const http = new KubeHttp(api.kubeConfig({ token: 'esw-token' }));
  t.teardown(() => http.close());
  api.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a' } });
  api.put({
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: {
      name: 'app',
      namespace: 'team-a',
      annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/app' },
    },
  });
  const sa = new ServiceAccountTokens(http, { now: () => clock });

  const [a, b, c] = await Promise.all([
    sa.token({ namespace: 'team-a', name: 'app', audiences: ['sts.amazonaws.com'] }),
    sa.token({ namespace: 'team-a', name: 'app', audiences: ['sts.amazonaws.com'] }),
    sa.token({ namespace: 'team-a', name: 'app', audiences: ['sts.amazonaws.com'] }),
  ]);
  t.equal(a, b);
  t.equal(b, c);
  t.equal(api.tokenRequests().length, 1, 'concurrent callers share one TokenRequest');
  const claims = api.verifyToken(a, 'sts.amazonaws.com');
  t.ok(claims, 'the double verifies the token with its audience');
  t.equal(claims?.sub, 'system:serviceaccount:team-a:app');
  t.equal(claims?.exp && claims.exp - claims.iat, 600, 'ESO lifetime: 600 s');
  t.notOk(api.verifyToken(a, 'api://AzureADTokenExchange'), 'not valid for another audience');
  t.notOk(api.verifyToken(`${a.slice(0, -4)}AAAA`), 'a forged signature fails');
  t.same(api.tokenRequests()[0], {
    namespace: 'team-a',
    name: 'app',
    audiences: ['sts.amazonaws.com'],
    expirationSeconds: 600,
    user: 'system:serviceaccount:esw:esw',
  });

  for (let i = 0; i < 20; i++) {
    clock += 20_000; // 400 s in all: below 80 % of 600 s
    t.equal(await sa.token({ namespace: 'team-a', name: 'app', audiences: ['sts.amazonaws.com'] }), a);
  }
  t.equal(api.tokenRequests().length, 1, 'many syncs, one TokenRequest');

  // Another audience set is another token; no audience: the API server's own.
  const vaultToken = await sa.token({ namespace: 'team-a', name: 'app' });
  t.same(api.verifyToken(vaultToken)?.aud, [TOKEN_ISSUER]);
  t.equal(api.tokenRequests().length, 2);

  clock += 90_000; // 490 s: past 80 % of the lifetime
  const renewed = await sa.token({ namespace: 'team-a', name: 'app', audiences: ['sts.amazonaws.com'] });
  t.not(renewed, a, 'renewed near expiry');
  t.equal(api.tokenRequests().length, 3);
  t.equal(sa.requests, 3);

  t.same(await sa.serviceAccount('team-a', 'app'), {
    annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/app' },
  });
  t.equal(await sa.serviceAccount('team-a', 'missing'), undefined);
});

t.test('TokenRequest failures: not found, RBAC 403, not cached, no token in the message', async (t) => {
  const api = await KubeApiServer.start({ users: { 'esw-token': 'system:serviceaccount:esw:esw' } });
  t.teardown(() => api.close());
  const http = new KubeHttp(api.kubeConfig({ token: 'esw-token' }));
  t.teardown(() => http.close());
  api.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a' } });
  api.put({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'app', namespace: 'team-a' } });
  const sa = new ServiceAccountTokens(http);

  await t.rejects(sa.token({ namespace: 'team-a', name: 'nobody' }), {
    code: 'ESW_CREDENTIALS',
    message: 'ServiceAccount "team-a/nobody" not found',
  });

  const lift = api.forbid({ verb: 'create', resource: 'serviceaccounts/token', namespace: 'team-a' });
  const err = (await sa.token({ namespace: 'team-a', name: 'app' }).catch((e: unknown) => e)) as Error;
  t.match(err.message, /TokenRequest for ServiceAccount "team-a\/app": forbidden by the API server \(403\)/);
  t.match(err.message, /needs "create" on "serviceaccounts\/token" in namespace "team-a"/);
  t.equal(api.tokenRequests().length, 0);
  t.equal(api.requests({ path: '/serviceaccounts/app/token' }).at(-1)?.status, 403);

  lift();
  const token = await sa.token({ namespace: 'team-a', name: 'app' });
  t.ok(api.verifyToken(token), 'the refusal was not cached');
  t.notMatch(err.message, token.split('.')[0] ?? 'x');

  api.forbid({ verb: 'get', resource: 'serviceaccounts', namespace: 'team-a' });
  await t.rejects(sa.serviceAccount('team-a', 'app'), {
    message: /needs "get" on "serviceaccounts" in namespace "team-a"/,
  });

  // The API server's own rules: at least ten minutes.
  const short = await http
    .request('POST', '/api/v1/namespaces/team-a/serviceaccounts/app/token', {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 60 } },
    })
    .catch((e: unknown) => e);
  t.match((short as Error).message, /422 Invalid/);
});
