/**
 * POST /refresh (src/server/refresh.ts) on its own listener's app, with the real Kubernetes adapter
 * (src/kube/refresh-kube.ts) against the API-server double's TokenReview and SubjectAccessReview,
 * and an injected clock for the rate limits:
 * - no token and a bad token: the same 401; a caller not allowed: the same 403 for a store that
 *   exists and one that does not (the store is not even looked up);
 * - an allowed caller: 404 for an unknown store, 202 and the request recorded on the store;
 * - per-caller and per-address rate limits with Retry-After; TokenReview results cached;
 * - token audiences; bodies checked field by field, never echoed.
 */
import t, { type Test } from 'tap';
import type { KubeObject, SecretStore } from '../../src/api/types.ts';
import { KubeHttp } from '../../src/kube/http.ts';
import { ApiRefreshKube } from '../../src/kube/refresh-kube.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { REFRESH_REQUEST_ANNOTATION, refreshRequestOf } from '../../src/refresher/triggers.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { buildRefreshApp } from '../../src/server/app.ts';
import { RefreshEndpoint } from '../../src/server/refresh.ts';
import { TOKEN_REVIEW_PATH } from '../fakes/kube-apiserver/auth.ts';
import { KubeApiServer } from '../fakes/kube-apiserver/index.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const store = (kind: string, name: string, namespace?: string): SecretStore => ({
  apiVersion: 'external-secrets.io/v1',
  kind,
  metadata: { name, ...(namespace ? { namespace } : {}) },
  spec: { provider: { fake: { data: [] } } },
});

async function setup(t: Test, opts: { audiences?: string[]; callerIntervalMs?: number } = {}) {
  const api = await KubeApiServer.start({
    users: {
      'webhook-token': 'system:serviceaccount:esw:esw',
      'rotator-token': 'system:serviceaccount:team-a:rotator',
      'stranger-token': 'system:serviceaccount:team-b:stranger',
      'other-audience-token': 'system:serviceaccount:team-a:rotator',
    },
    tokenAudiences: { 'other-audience-token': ['vault'] },
    // RBAC as docs/push-refresh.md's example: the rotator may refresh team-a's "aws" store only.
    authorize: (a) =>
      a.user === 'system:serviceaccount:team-a:rotator' &&
      a.verb === 'create' &&
      a.group === 'external-secrets.io' &&
      a.resource === 'secretstores' &&
      a.subresource === 'refresh' &&
      a.namespace === 'team-a' &&
      (a.name === 'aws' || a.name === 'gone'),
  });
  t.teardown(() => api.close());
  const registry = new MemoryRegistry();
  for (const s of [store('SecretStore', 'aws', 'team-a'), store('SecretStore', 'vault', 'team-a')]) {
    api.put(s);
    registry.upsert(s);
  }
  let now = Date.parse('2026-12-02T10:00:00Z');
  const clock = { now: () => now, advance: (ms: number) => (now += ms) };
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (l: string) => lines.push(l) } });
  const metrics = createMetrics();
  const http = new KubeHttp(api.kubeConfig({ token: 'webhook-token' }));
  t.teardown(() => http.close());
  const refresh = new RefreshEndpoint({
    kube: new ApiRefreshKube(http, (kind, name, ns) => registry.getStore(kind, name, ns)),
    logger,
    metrics,
    now: clock.now,
    callerIntervalMs: opts.callerIntervalMs ?? 5_000,
    ...(opts.audiences ? { audiences: opts.audiences } : {}),
  });
  const app = buildRefreshApp({ logger, metrics, refresh });
  t.teardown(() => app.close());
  const post = async (body: unknown, token?: string) => {
    const res = await app.inject({
      method: 'POST',
      url: '/refresh',
      headers: {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      payload: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.statusCode, body: res.body, headers: res.headers };
  };
  return { api, clock, lines, metrics, post };
}

const ask = (name: string, keys?: string[]) => ({
  kind: 'SecretStore',
  namespace: 'team-a',
  name,
  ...(keys ? { keys } : {}),
});

t.test('authentication and authorisation never tell an outsider what exists', async (t) => {
  const { api, post, lines } = await setup(t);
  const none = await post(ask('aws'));
  const bad = await post(ask('aws'), 'forged-token');
  t.equal(none.status, 401);
  t.equal(none.headers['www-authenticate'], 'Bearer');
  t.same([bad.status, bad.body], [none.status, none.body], 'no token and a bad token: one answer');
  t.same(
    api.requests({ path: 'subjectaccessreviews' }),
    [],
    'no access review for an unauthenticated caller',
  );

  const forbidden = await post(ask('aws'), 'stranger-token');
  const unknown = await post(ask('does-not-exist'), 'stranger-token');
  const otherKeys = await post(ask('aws', ['prod/db']), 'stranger-token');
  t.equal(forbidden.status, 403);
  t.same([unknown.status, unknown.body], [forbidden.status, forbidden.body], 'unknown store: same 403');
  t.same([otherKeys.status, otherKeys.body], [forbidden.status, forbidden.body], 'keys change nothing');
  t.notOk(forbidden.body.includes('aws'), 'the answer names no store');
  const notAllowedStore = await post(ask('vault'), 'rotator-token');
  t.same([notAllowedStore.status, notAllowedStore.body], [forbidden.status, forbidden.body]);
  t.notOk(api.get('secretstores', 'team-a', 'aws')?.metadata?.annotations, 'nothing recorded');
  t.notOk(lines.join('\n').includes('forged-token'), 'tokens never logged');
});

t.test('an allowed caller: 404 for an unknown store, 202 and the request recorded', async (t) => {
  const { api, post } = await setup(t);
  const gone = await post(ask('gone'), 'rotator-token');
  t.equal(gone.status, 404, 'allowed to refresh it, so may know it does not exist');
  const ok = await post(ask('aws', ['prod/db', 'prod/db', 'prod/api']), 'rotator-token');
  t.equal(ok.status, 202, ok.body);
  const answer = JSON.parse(ok.body) as { id: string; keys: number };
  t.equal(answer.keys, 2, 'keys counted once each');
  const stored = api.get('secretstores', 'team-a', 'aws') as SecretStore;
  const req = refreshRequestOf(stored);
  t.same(req?.keys, ['prod/db', 'prod/api'], 'keys recorded once each');
  t.equal(req?.id, answer.id);
  t.ok(stored.metadata?.annotations?.[REFRESH_REQUEST_ANNOTATION]);
  t.same(stored.spec, { provider: { fake: { data: [] } } }, 'the spec untouched');
  const all = await post(ask('aws'), 'rotator-token');
  t.equal(all.status, 202);
  t.equal(
    refreshRequestOf(api.get('secretstores', 'team-a', 'aws') as KubeObject)?.keys,
    undefined,
    'no keys: every key',
  );
});

t.test('bodies are checked field by field and never echoed', async (t) => {
  const { post, clock } = await setup(t);
  const cases: [unknown, RegExp][] = [
    ['[1]', /JSON object/],
    [{ kind: 'Secret', name: 'aws' }, /kind/],
    [{ kind: 'SecretStore', name: 'aws' }, /namespace/],
    [{ kind: 'ClusterSecretStore', name: 'aws', namespace: 'team-a' }, /namespace/],
    [{ kind: 'SecretStore', namespace: 'team-a', name: 'A_B' }, /name/],
    [{ ...ask('aws'), keys: [] }, /keys/],
    [{ ...ask('aws'), keys: ['x'.repeat(513)] }, /keys\[0\]/],
    [{ ...ask('aws'), keys: Array.from({ length: 101 }, (_, i) => `k${i}`) }, /keys/],
    [{ ...ask('aws'), secret: 'CANARY-body' }, /unknown field ..secret/],
  ];
  for (const [body, message] of cases) {
    clock.advance(5_000); // within the caller's rate
    const res = await post(body, 'rotator-token');
    t.equal(res.status, 400, JSON.stringify(body).slice(0, 80));
    t.match(res.body, message);
    t.notOk(res.body.includes('CANARY'), 'values never echoed');
  }
  t.equal((await post('{not json', 'rotator-token')).status, 400);
});

t.test('rate limits: per caller after authentication, per address before it', async (t) => {
  const { api, post, clock, metrics } = await setup(t, { callerIntervalMs: 60_000 });
  for (let i = 0; i < 5; i++) t.equal((await post(ask('vault'), 'stranger-token')).status, 403);
  const limited = await post(ask('vault'), 'stranger-token');
  t.equal(limited.status, 429, 'a burst of 5, then 429 — refused callers too');
  t.equal(limited.headers['retry-after'], '60');
  const unknown = await post(ask('nope'), 'stranger-token');
  t.same([unknown.status, unknown.body], [limited.status, limited.body], 'the same 429 whatever the store');
  t.equal((await post(ask('aws'), 'rotator-token')).status, 202, 'another caller is not limited');
  clock.advance(60_000);
  t.equal((await post(ask('vault'), 'stranger-token')).status, 403, 'one request a minute again');
  t.equal((await post(ask('vault'), 'stranger-token')).status, 429);
  // One TokenReview per token per 10 s: the stranger's 9 requests cost 2.
  t.equal(api.requests({ path: TOKEN_REVIEW_PATH }).length, 3, 'TokenReviews cached by token');

  // Unauthenticated floods from one address stop before the API server: 20 at once, then 2/s.
  api.clearRequests();
  let flooded = 0;
  for (let i = 0; i < 40; i++) if ((await post(ask('aws'), `bad-${i}`)).status === 429) flooded++;
  t.ok(flooded >= 19, `the address is limited (${flooded} of 40 answered 429)`);
  t.ok(api.requests({ path: TOKEN_REVIEW_PATH }).length <= 21, 'at most the burst reached TokenReview');
  const codes = (await metrics.refreshRequests.get()).values.map((v) => v.labels.code);
  t.ok(codes.includes('429') && codes.includes('403') && codes.includes('202'), 'answers counted by code');
});

t.test('a token issued for another audience is not accepted when an audience is set', async (t) => {
  const { post } = await setup(t, { audiences: ['external-secrets-webhook'] });
  t.equal((await post(ask('aws'), 'other-audience-token')).status, 401);
  t.equal((await post(ask('aws'), 'rotator-token')).status, 401, 'the API server audience only: not ours');
});

t.test('the API server unreachable: 503 with Retry-After, nothing said about the store', async (t) => {
  const { api, post, lines } = await setup(t);
  t.equal((await post(ask('aws'), 'rotator-token')).status, 202, 'the token is reviewed and cached');
  api.restart();
  await api.close();
  const review = await post(ask('aws'), 'rotator-token');
  t.equal(review.status, 503, 'the access review fails');
  t.equal(review.headers['retry-after'], '5');
  const token = await post(ask('aws'), 'stranger-token');
  t.same([token.status, token.body], [review.status, review.body], 'the token review fails: the same answer');
  t.ok(lines.some((l) => l.includes('SubjectAccessReview failed')));
  t.ok(lines.some((l) => l.includes('TokenReview failed')));
  t.notOk(lines.join('\n').includes('stranger-token'), 'tokens never logged');
});
