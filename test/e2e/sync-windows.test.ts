/**
 * syncWindows (ESO 2.9) on the cluster double, through the real cluster runtime (informers,
 * refresher, admission over HTTPS): windows that are open or closed at every instant, so the test
 * never depends on the time of day — `* * * * *` for 1h is always open (a firing each minute
 * keeps it open), so as a deny window it always blocks and as an allow window it always permits.
 * - an always-blocked ExternalSecret is synced once at creation and not again, while its
 *   unwindowed twin on the same key picks up the provider's new value;
 * - force-sync and a spec change still sync it (windows gate periodic refreshes only);
 * - an always-open allow window refreshes like no window;
 * - a schedule robfig/cron refuses is refused at admission, on its field.
 */
import t from 'tap';
import type { KubeObject } from '../../src/api/types.ts';
import { externalSecret, startCluster, targetData, waitFor } from '../cluster-helpers.ts';
import type { KubeApiServer } from '../fakes/kube-apiserver/index.ts';
import { request } from '../helpers/https.ts';

const LEASE = ['--lease-duration', '3s', '--renew-deadline', '2s', '--retry-period', '500ms'];
const ALWAYS = [{ schedule: '* * * * *', duration: '1h' }];

function windowed(name: string, kind: 'allow' | 'deny'): KubeObject {
  const es = externalSecret(name, 'app/db', '1s');
  return { ...es, spec: { ...es.spec, syncWindows: { kind, windows: ALWAYS } } } as KubeObject;
}

async function create(api: KubeApiServer, body: object) {
  const res = await request(
    `${api.url}/apis/external-secrets.io/v1/namespaces/default/externalsecrets`,
    body,
    {
      ca: api.caPem,
      headers: { authorization: 'Bearer admin-token' },
    },
  );
  return { status: res.status, body: res.json<{ message?: string }>() };
}

t.test('syncWindows on the cluster double', async (t) => {
  const { api, aws, startReplica } = await startCluster(t);
  aws.put('app/db', '{"username":"u","password":"v1"}');
  const replica = await startReplica('esw-0', LEASE, { cacheTtlMs: 0 });
  await waitFor('ready', () => replica.server.readiness().ready || undefined);

  for (const es of [
    windowed('held', 'deny'),
    windowed('open', 'allow'),
    externalSecret('free', 'app/db', '1s'),
  ]) {
    const res = await create(api, es);
    t.equal(res.status, 201, `${es.metadata?.name} admitted`);
  }
  await waitFor(
    'first syncs',
    () => ['held', 'open', 'free'].every((n) => targetData(api, n)?.password === 'v1') || undefined,
  );
  t.pass('a deny window does not hold the first sync');

  aws.put('app/db', '{"username":"u","password":"v2"}');
  // The unwindowed twin and the always-open one refresh (1 s interval) twice over...
  let seen = 0;
  await waitFor('the free and open ExternalSecrets refreshed', () => {
    if (targetData(api, 'free')?.password === 'v2' && targetData(api, 'open')?.password === 'v2') seen++;
    return seen >= 3 || undefined;
  });
  aws.put('app/db', '{"username":"u","password":"v3"}');
  await waitFor(
    'and again',
    () =>
      (targetData(api, 'free')?.password === 'v3' && targetData(api, 'open')?.password === 'v3') || undefined,
  );
  // ...while the held one, due every second as well, was deferred each time.
  t.equal(targetData(api, 'held')?.password, 'v1', 'the deny window held every periodic refresh');
  t.same(
    (api.get('externalsecrets', 'default', 'held') as { status?: { conditions?: { status: string }[] } })
      ?.status?.conditions?.[0]?.status,
    'True',
    'the held ExternalSecret stays Ready (held is not failed)',
  );

  // force-sync (ESO's documented kubectl annotate) is a change: never held.
  const held = api.get('externalsecrets', 'default', 'held') as KubeObject;
  api.put({
    ...held,
    metadata: {
      ...held.metadata,
      annotations: { ...held.metadata?.annotations, 'force-sync': '1764680000' },
    },
  });
  await waitFor(
    'force-sync refreshes the held one',
    () => targetData(api, 'held')?.password === 'v3' || undefined,
  );
  t.pass('force-sync is not held by a deny window');

  const refused = await create(api, {
    ...externalSecret('bad', 'app/db'),
    spec: {
      ...externalSecret('bad', 'app/db').spec,
      syncWindows: { kind: 'allow', windows: [{ schedule: '0 22 * * 7', duration: '8h' }] },
    },
  });
  t.equal(refused.status, 422, 'a schedule robfig refuses is refused');
  t.match(
    refused.body.message,
    /spec\.syncWindows\.windows\[0\]\.schedule: Invalid value: "0 22 \* \* 7": not a cron schedule: end of range \(7\) above maximum \(6\)/,
  );
});
