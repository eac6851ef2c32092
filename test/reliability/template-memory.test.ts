/**
 * Template memory on the cluster double (issue 11 item 2): templates that ask for gigabytes from
 * a few bytes — the 91-byte `replace` over `repeat`, `join` over `until`, a printf
 * width — leave their ExternalSecret Ready=False with a message naming the exhausted budget,
 * the webhook keeps serving, and admission refuses templates that do not parse. No secret value
 * reaches a status, an event or a log.
 */
import { CustomObjectsApi } from '@kubernetes/client-node';
import t from 'tap';
import type { ExternalSecret } from '../../src/api/types.ts';
import { externalSecret, startCluster, targetData, waitFor } from '../cluster-helpers.ts';

const CANARY = 'CANARY-template-memory-3f9a';
const HOSTILE: Record<string, string> = {
  // 91 bytes: a 512 KiB string with each of its 32,768 "0"s replaced by itself (16 GiB).
  'replace-repeat':
    '{{ $a := repeat 32768 "0123456789abcdef" }}{{ $b := replace "0" $a $a }}{{ len $b }} bytes!',
  'join-until': '{{ join .password (until 100000000) }}',
  'printf-width': '{{ printf "%*s" 2000000000 .password }}',
};

function templated(name: string, template: string): ExternalSecret {
  const es = externalSecret(name, 'app/db', '1h');
  es.spec = {
    ...es.spec,
    target: { ...es.spec?.target, template: { engineVersion: 'v2', data: { out: template } } },
  };
  return es;
}

t.test('hostile templates: Ready=False naming the budget, never an out-of-memory', async (t) => {
  const { api, aws, startReplica } = await startCluster(t);
  aws.put('app/db', JSON.stringify({ username: 'u', password: CANARY }));
  const replica = await startReplica('esw-0');
  await waitFor('ready', () => replica.server.readiness().ready);
  for (const [name, template] of Object.entries(HOSTILE)) api.put(templated(name, template));
  api.put(templated('fine', '{{ .username }}:{{ .password | len }}'));
  for (const name of Object.keys(HOSTILE)) {
    const cond = await waitFor(`${name} status`, () => {
      const o = api.get('externalsecrets', 'default', name) as
        | { status?: { conditions?: { type: string; status: string; message?: string }[] } }
        | undefined;
      return o?.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'False');
    });
    t.match(
      cond.message,
      /template exceeded its 1 MiB value budget in (replace|until|printf) at line 1, col \d+/,
      name,
    );
    t.notOk(api.get('secrets', 'default', `${name}-target`), `${name}: no target written`);
  }
  await waitFor(
    'the well-behaved ExternalSecret',
    () => targetData(api, 'fine')?.out === `u:${CANARY.length}`,
  );
  const everything = JSON.stringify({
    statuses: api.list('externalsecrets').map((o) => (o as { status?: unknown }).status),
    events: api.list('events'),
    logs: replica.lines,
  });
  t.notOk(everything.includes(CANARY), 'no secret value in statuses, events or logs');
});

t.test('admission refuses a template that does not parse', async (t) => {
  const { api, startReplica } = await startCluster(t);
  const replica = await startReplica('esw-0');
  await waitFor('ready', () => replica.server.readiness().ready);
  const client = api.kubeConfig({ token: 'admin-token' }).makeApiClient(CustomObjectsApi);
  const create = (name: string, template: string) =>
    client.createNamespacedCustomObject({
      group: 'external-secrets.io',
      version: 'v1',
      namespace: 'default',
      plural: 'externalsecrets',
      body: templated(name, template),
    });
  const err = await create('broken', '{{ .username | nosuchfunction }}').then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err, 'refused');
  t.match(
    String((err as { body?: unknown })?.body ?? err),
    /spec\.target\.template\.data\.out.*function \\?"nosuchfunction\\?" not defined/,
  );
  t.notOk(api.get('externalsecrets', 'default', 'broken'), 'not stored');
  await create('ok', '{{ .username | upper }}');
  t.ok(api.get('externalsecrets', 'default', 'ok'), 'a template that parses is admitted');
});
