/**
 * Kubernetes faults through the API-server double against a cluster-mode replica (informers,
 * leader election, refresher, the real AWS SDK on its fake): a 409 storm and 500s on Secret
 * writes, dropped watches, a compacted history (410 Gone) and an API-server restart. The
 * informers recover, no ExternalSecret change or remote value is lost (the target reaches the
 * latest), and readiness (what /readyz serves) is false while the informers are down and true
 * again after. Every wait is bounded.
 */
import t from 'tap';
import { externalSecret, startCluster, targetData, waitFor } from '../cluster-helpers.ts';
import { request } from '../helpers/https.ts';

const creds = (user: string, password: string) => JSON.stringify({ username: user, password });

t.test(
  '409s, 500s, dropped watches, 410 and a restart lose no update; readiness tells the truth',
  async (t) => {
    const { api, aws, caCert, startReplica } = await startCluster(t);
    aws.put('app/a', creds('a', 'a-1'));
    aws.put('app/b', creds('b', 'b-1'));
    aws.put('app/c', creds('c', 'c-1'));
    aws.put('app/d', creds('d', 'd-1'));
    const replica = await startReplica('esw-0');
    const { server } = replica;
    await waitFor('ready', () => server.readiness().ready);
    const readyz = async () =>
      (
        await request(`https://127.0.0.1:${server.port}/readyz`, undefined, {
          ca: caCert,
          servername: 'external-secrets-webhook',
        })
      ).status;
    t.equal(await readyz(), 200, '/readyz answers 200 once synced');

    api.put(externalSecret('app', 'app/a'));
    const reaches = (password: string, what: string) =>
      waitFor(what, () => targetData(api, 'app')?.password === password).then(() =>
        t.pass(`${what}: the target holds ${password}`),
      );
    await reaches('a-1', 'first sync');

    // A storm of 409s on Secret updates: the write is retried (re-read, replaced) until it lands.
    const updatesBefore = api.writes('secrets', 'update');
    api.failNext({ verb: 'update', resource: 'secrets', code: 409, count: 12 });
    aws.put('app/a', creds('a', 'a-2'));
    await reaches('a-2', '409 storm');
    t.ok(api.writes('secrets', 'update') > updatesBefore, 'the update landed after the conflicts');

    // 500s on Secret requests (each failed sync backs off 2 s, then 4 s: two keep it short).
    api.failNext({ verb: '*', resource: 'secrets', code: 500, count: 2 });
    aws.put('app/a', creds('a', 'a-3'));
    await reaches('a-3', '500s');

    // Dropped watches whose resumption fails: not ready meanwhile; the change made while the
    // watches were down still arrives.
    api.failNext({ verb: 'watch', code: 500, count: 6 });
    api.dropWatches();
    api.put(externalSecret('app', 'app/b'));
    const down = await waitFor('not ready while the watches are down', () => {
      const r = server.readiness();
      return r.ready ? undefined : r;
    });
    t.match(down.reasons.join('\n'), /informer/, `readiness names the informers: ${down.reasons[0]}`);
    await waitFor('ready again', () => server.readiness().ready);
    t.equal(await readyz(), 200, '/readyz 200 again');
    await reaches('b-1', 'ExternalSecret changed while the watches were down');

    // 410 Gone: the history is compacted, the resumed watches must relist.
    const listsBefore = api.requests({ verb: 'list' }).length;
    api.compact();
    api.dropWatches();
    api.put(externalSecret('app', 'app/c'));
    await reaches('c-1', 'ExternalSecret changed across a 410');
    await waitFor('a relist after 410', () => api.requests({ verb: 'list' }).length > listsBefore);
    t.pass('the informers relisted after 410 Gone');
    await waitFor('ready after 410', () => server.readiness().ready);

    // An API-server restart: every connection dropped, state kept.
    api.restart();
    api.put(externalSecret('app', 'app/d'));
    aws.put('app/d', creds('d', 'd-2'));
    await reaches('d-2', 'after an API-server restart');
    await waitFor('ready after the restart', () => server.readiness().ready);
    t.equal(await readyz(), 200, '/readyz 200 after the restart');

    const es = api.get('externalsecrets', 'default', 'app') as {
      status?: { conditions?: { type: string; status: string }[] };
    };
    await waitFor('Ready=True', () => {
      const o = api.get('externalsecrets', 'default', 'app') as typeof es;
      return o.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    });
    t.pass('the ExternalSecret is Ready=True at the end');
    t.same(targetData(api, 'app'), { username: 'd', password: 'd-2' }, 'complete, latest data');
  },
);
