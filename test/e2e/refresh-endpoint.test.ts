/**
 * POST /refresh on the cluster double (docs/push-refresh.md): two replicas with
 * `--refresh-endpoint`; a rotation job's token (TokenReview) allowed `create` on
 * `secretstores/refresh` of one store (SubjectAccessReview) asks the replica that does *not*
 * lead. The request is recorded on the store, the leader refreshes the dependents of the named
 * key only — one provider call, past a ten-minute value cache — and nothing else is read.
 * Outsiders get one 401 and one 403 whatever they name; canaries never leak.
 */
import t from 'tap';
import type { KubeObject } from '../../src/api/types.ts';
import type { Metrics } from '../../src/observability/metrics.ts';
import { refreshRequestOf } from '../../src/refresher/triggers.ts';
import {
  AWS_STORE,
  password,
  passwordExternalSecret,
  type Replica,
  startCluster,
  waitFor,
} from '../cluster-helpers.ts';
import { request } from '../helpers/https.ts';
import { metricSum, SNI } from '../push-refresh-helpers.ts';

const CANARY = `CANARY-rf-${Math.random().toString(36).slice(2, 8)}`;
const ROTATOR = 'system:serviceaccount:default:rotator';
const value = (gen: string, key: string) => `${CANARY}-${gen}-${key}`;

const es = (name: string, key: string) =>
  passwordExternalSecret(name, 'default', AWS_STORE, { key, property: 'password' });
const triggers = (metrics: Metrics) => metricSum(metrics, 'refreshTriggers', { source: 'endpoint' });

t.test('POST /refresh on a replica that does not lead', async (t) => {
  const { api, aws, caCert, startReplica } = await startCluster(t, {
    api: {
      users: { 'rotator-token': ROTATOR, 'stranger-token': 'system:serviceaccount:default:stranger' },
      authorize: (a) =>
        (a.user.includes('external-secrets-webhook') && a.resource !== 'secretstores') ||
        (a.user === ROTATOR &&
          a.verb === 'create' &&
          a.group === 'external-secrets.io' &&
          a.resource === 'secretstores' &&
          a.subresource === 'refresh' &&
          a.namespace === 'default' &&
          a.name === 'aws-store'),
    },
  });
  for (const k of ['rot/a', 'rot/b']) aws.put(k, JSON.stringify({ password: value('v1', k) }));
  api.put(es('es-a', 'rot/a'));
  api.put(es('es-b', 'rot/b'));
  const args = ['--refresh-endpoint', '--refresh-caller-interval', '1h'];
  // Long enough that a loaded machine never moves the lease during the test: which replica leads
  // is what the test is about.
  const lease = ['--lease-duration', '60s', '--renew-deadline', '40s', '--retry-period', '1s'];
  const replicas = [
    await startReplica('esw-0', [...lease, ...args], { cacheTtlMs: 600_000 }),
    await startReplica('esw-1', [...lease, ...args], { cacheTtlMs: 600_000 }),
  ];
  const leader = await waitFor('a leader', () => replicas.find((r) => r.runtime.elector?.isLeader()));
  const follower = replicas.find((r) => r !== leader) as Replica;
  await waitFor('targets synced', () => password(api, 'default', 'es-b-target') === value('v1', 'rot/b'));
  await waitFor('targets synced', () => password(api, 'default', 'es-a-target') === value('v1', 'rot/a'));
  await waitFor('the follower knows the store', () =>
    follower.runtime.registry.getStore('SecretStore', 'aws-store', 'default'),
  );

  const post = (body: unknown, token?: string) =>
    request(`https://127.0.0.1:${follower.server.refresh?.port}/refresh`, body, {
      ca: caCert,
      servername: SNI,
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
  const store = { kind: 'SecretStore', namespace: 'default', name: 'aws-store' };

  t.test('the owner refreshes the named key’s dependents, one call', async (t) => {
    for (const k of ['rot/a', 'rot/b']) aws.put(k, JSON.stringify({ password: value('v2', k) }));
    aws.resetCounts();
    const res = await post({ ...store, keys: ['rot/a'] }, 'rotator-token');
    t.equal(res.status, 202, res.text);
    await waitFor('es-a refreshed', () => password(api, 'default', 'es-a-target') === value('v2', 'rot/a'));
    t.equal(aws.count('GetSecretValue') + aws.count('BatchGetSecretValue'), 1, 'one provider call');
    t.equal(password(api, 'default', 'es-b-target'), value('v1', 'rot/b'), 'another key’s dependents wait');
    t.ok(leader.runtime.elector?.isLeader(), 'still the leader');
    t.equal(await triggers(leader.metrics), 1, 'the leader took it');
    t.equal(await triggers(follower.metrics), 0, 'the follower only recorded it');
    const recorded = refreshRequestOf(api.get('secretstores', 'default', 'aws-store') as KubeObject);
    t.same(recorded?.keys, ['rot/a'], 'recorded on the store');
    t.equal(leader.server.refresh !== undefined, true, 'every replica serves the endpoint');
  });

  t.test('outsiders: one 401, one 403, whatever they name', async (t) => {
    const none = await post(store);
    const forged = await post(store, 'forged');
    t.equal(none.status, 401);
    t.same([forged.status, forged.text], [none.status, none.text]);
    const forbidden = await post(store, 'stranger-token');
    const unknown = await post({ ...store, name: 'no-such-store' }, 'stranger-token');
    const keyed = await post({ ...store, keys: ['rot/a'] }, 'stranger-token');
    t.equal(forbidden.status, 403);
    t.same([unknown.status, unknown.text], [forbidden.status, forbidden.text], 'unknown store');
    t.same([keyed.status, keyed.text], [forbidden.status, forbidden.text], 'an existing key');
    // The stranger's burst of 5 (three above): then the same 429 for any store.
    await post(store, 'stranger-token');
    await post(store, 'stranger-token');
    const limited = await post(store, 'stranger-token');
    const limitedUnknown = await post({ ...store, name: 'no-such-store' }, 'stranger-token');
    t.equal(limited.status, 429);
    t.same([limitedUnknown.status, limitedUnknown.text], [limited.status, limited.text]);
    t.equal(
      (await post({ ...store, name: 'no-such-store' }, 'rotator-token')).status,
      403,
      'rotator: not that one',
    );
  });

  t.test('the admission routes are not on the refresh port, nor /refresh on the webhook port', async (t) => {
    const mutate = await request(
      `https://127.0.0.1:${follower.server.refresh?.port}/mutate`,
      {},
      { ca: caCert, servername: SNI },
    );
    t.equal(mutate.status, 404);
    const onWebhook = await request(`https://127.0.0.1:${follower.server.port}/refresh`, store, {
      ca: caCert,
      servername: SNI,
      headers: { authorization: 'Bearer rotator-token' },
    });
    t.equal(onWebhook.status, 404);
  });

  t.test('no canary anywhere', async (t) => {
    for (const r of replicas) {
      t.notOk(r.lines.join('\n').includes(CANARY), `${r.podName} logs`);
      t.notOk((await r.metrics.registry.metrics()).includes(CANARY), `${r.podName} metrics`);
    }
    const where = [...api.list('events'), ...api.list('externalsecrets'), ...api.list('secretstores')];
    t.notOk(JSON.stringify(where).includes(CANARY), 'Events, statuses, stores');
  });
});
