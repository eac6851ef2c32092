/**
 * Event Grid deliveries on the refresh port's app (src/server/event-grid.ts, inject(), an
 * injected clock, an in-memory Secret reader):
 * - no credential, an unknown store, a store without the feed, a wrong, short or missing secret:
 *   the same 401 byte for byte, the body never read; the address's failures are limited (429
 *   before the body), the store's deliveries too;
 * - the Event Grid schema's validation answered, the CloudEvents OPTIONS consent given, events
 *   handed on as keys (the whole store past 400 keys), a failed hand-over is 503 for a retry;
 * - bodies bounded (1 MiB, 413), the secret never logged.
 */
import t, { type Test } from 'tap';
import type { Secret, SecretStore } from '../../src/api/types.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import type { StoreId } from '../../src/refresher/triggers.ts';
import { buildRefreshApp } from '../../src/server/app.ts';
import { EventGridEndpoint } from '../../src/server/event-grid.ts';
import { keyVaultEvent, toCloudEvent } from '../fakes/azure-event-grid.ts';

const SECRET = 'a-delivery-secret-of-enough-length';
const VAULT_URL = 'https://team-vault.vault.azure.net';
const b64 = (s: string) => Buffer.from(s).toString('base64');

function setup(t: Test, opts: { failAccept?: boolean; secret?: string } = {}) {
  const stores = new Map<string, SecretStore>();
  const put = (s: SecretStore) =>
    stores.set(`${s.kind}/${s.metadata?.namespace ?? ''}/${s.metadata?.name}`, s);
  const azure = (name: string, ns: string | undefined, annotations: Record<string, string>) =>
    ({
      apiVersion: 'external-secrets.io/v1',
      kind: ns ? 'SecretStore' : 'ClusterSecretStore',
      metadata: { name, ...(ns ? { namespace: ns } : {}), annotations },
      spec: { provider: { azurekv: { vaultUrl: VAULT_URL } } },
    }) as SecretStore;
  const feed = { 'esw.io/change-feed': 'event-grid', 'esw.io/change-feed-secret': 'eg/token' };
  put(azure('kv', 'team-a', feed));
  put(azure('no-feed', 'team-a', {}));
  put(azure('short', 'team-a', { ...feed, 'esw.io/change-feed-secret': 'eg/short' }));
  put(azure('missing', 'team-a', { ...feed, 'esw.io/change-feed-secret': 'absent/token' }));
  put(azure('cluster', undefined, { ...feed, 'esw.io/change-feed-secret': 'ops/eg/token' }));
  const secrets: Record<string, Secret> = {
    'team-a/eg': {
      metadata: { name: 'eg' },
      data: { token: b64(opts.secret ?? SECRET), short: b64('tiny') },
    },
    'ops/eg': { metadata: { name: 'eg' }, data: { token: b64(`${SECRET}-ops`) } },
  };
  let now = Date.parse('2026-12-02T10:00:00Z');
  const clock = { now: () => now, advance: (ms: number) => (now += ms) };
  const reads: string[] = [];
  const accepted: { store: StoreId; keys: string[] | undefined }[] = [];
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (l: string) => lines.push(l) } });
  const metrics = createMetrics();
  const endpoint = new EventGridEndpoint({
    store: (id) => stores.get(`${id.kind}/${id.namespace ?? ''}/${id.name}`),
    secrets: {
      readSecret: async (ns, name) => {
        reads.push(`${ns}/${name}`);
        return secrets[`${ns}/${name}`];
      },
    },
    accept: async (store, keys) => {
      if (opts.failAccept) throw new Error('the API server is unreachable');
      accepted.push({ store, keys });
    },
    logger,
    metrics,
    now: clock.now,
  });
  const app = buildRefreshApp({ logger, metrics, eventGrid: endpoint });
  t.teardown(() => app.close());
  const send = async (
    path: string,
    body: unknown,
    headers: Record<string, string> = { authorization: `Bearer ${SECRET}` },
    method: 'POST' | 'OPTIONS' = 'POST',
  ) => {
    const res = await app.inject({
      method,
      url: path,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    return { status: res.statusCode, body: res.body, headers: res.headers };
  };
  return { send, accepted, reads, lines, metrics, clock };
}

const KV = '/events/azure/secretstores/team-a/kv';
const event = (objectName = 'db') =>
  keyVaultEvent({ vaultName: 'team-vault', vaultUrl: VAULT_URL, objectName });

t.test('every refusal is the same 401; the body is not read before', async (t) => {
  const { send, accepted, reads } = setup(t);
  const body = [event()];
  const answers = [
    await send(KV, body, {}),
    await send(KV, body, { authorization: 'Bearer not-the-secret' }),
    await send(KV, body, { authorization: 'Basic abc' }),
    await send('/events/azure/secretstores/team-a/unknown', body),
    await send('/events/azure/secretstores/team-a/no-feed', body),
    await send('/events/azure/secretstores/team-a/short', body, { authorization: 'Bearer tiny' }),
    await send('/events/azure/secretstores/team-a/missing', body),
    await send('/events/azure/secretstores/Team_A/kv', body),
    await send('/events/azure/clustersecretstores/cluster', body),
    // Not JSON: still 401, as the body is never parsed for an unauthenticated caller.
    await send(KV, '{not json', { authorization: 'Bearer not-the-secret' }),
  ];
  for (const a of answers) {
    t.equal(a.status, 401);
    t.equal(a.body, answers[0]?.body, 'byte for byte');
    t.equal(a.headers['www-authenticate'], 'Bearer');
  }
  t.same(accepted, []);
  t.notOk(reads.includes('team-a/unknown'), 'an unknown store reads nothing');
});

t.test('deliveries in both schemas hand their keys on', async (t) => {
  const { send, accepted, metrics } = setup(t);
  const grid = await send(KV, [event('db'), event('api')]);
  t.equal(grid.status, 200);
  t.same(accepted.at(-1), {
    store: { kind: 'SecretStore', namespace: 'team-a', name: 'kv' },
    keys: ['db', 'secret/db', 'api', 'secret/api'],
  });
  const structured = await send(`${KV}?access_token=${SECRET}`, toCloudEvent(event('tls')), {
    'content-type': 'application/cloudevents+json; charset=utf-8',
  });
  t.equal(structured.status, 200, 'the access_token form');
  t.equal(structured.headers['cache-control'], 'private');
  t.same(accepted.at(-1)?.keys, ['tls', 'secret/tls']);
  const batch = await send(KV, [toCloudEvent(event('a')), toCloudEvent(event('a'))], {
    authorization: `Bearer ${SECRET}`,
    'content-type': 'application/cloudevents-batch+json; charset=utf-8',
  });
  t.equal(batch.status, 200);
  t.same(accepted.at(-1)?.keys, ['a', 'secret/a'], 'keys once each');
  const n = accepted.length;
  const quiet = await send(KV, [{ ...event(), eventType: 'Microsoft.KeyVault.SecretNearExpiry' }]);
  t.equal(quiet.status, 200);
  t.equal(accepted.length, n, 'nothing to refresh: nothing handed on');
  const other = await send(KV, [
    keyVaultEvent({ vaultName: 'x', vaultUrl: 'https://x.vault.azure.net', objectName: 'db' }),
  ]);
  t.equal(other.status, 200);
  t.equal(accepted.length, n, "another vault's event refreshes nothing");
  const many = await send(
    KV,
    Array.from({ length: 450 }, (_, i) => event(`k${i}`)),
  );
  t.equal(many.status, 200);
  t.same(accepted.at(-1)?.keys, undefined, 'past 400 keys: the whole store');
  const text = await metrics.registry.metrics();
  t.match(text, /esw_change_feed_events_total\{feed="azure-event-grid",result="refresh"\} \d+/);
  t.match(text, /esw_change_feed_events_total\{feed="azure-event-grid",result="ignored"\} 2/);
  t.match(text, /esw_change_feed_deliveries_total\{feed="azure-event-grid",code="200"\} 6/);
});

t.test('the handshakes', async (t) => {
  const { send } = setup(t);
  const validation = await send(KV, [
    {
      id: '1',
      topic: '',
      subject: '',
      eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
      eventTime: new Date().toISOString(),
      data: { validationCode: 'code-512', validationUrl: 'https://example.invalid/validate' },
      dataVersion: '2',
      metadataVersion: '1',
    },
  ]);
  t.equal(validation.status, 200);
  t.same(JSON.parse(validation.body), { validationResponse: 'code-512' });
  const options = await send(
    KV,
    undefined,
    {
      authorization: `Bearer ${SECRET}`,
      'webhook-request-origin': 'eventgrid.azure.net',
      'webhook-request-rate': '120',
    },
    'OPTIONS',
  );
  t.equal(options.status, 200);
  t.equal(options.headers['webhook-allowed-origin'], 'eventgrid.azure.net');
  t.equal(options.headers['webhook-allowed-rate'], '300');
  t.equal(options.headers.allow, 'POST, OPTIONS');
  const refused = await send(KV, undefined, { 'webhook-request-origin': 'eventgrid.azure.net' }, 'OPTIONS');
  t.equal(refused.status, 401);
  t.notOk(refused.headers['webhook-allowed-origin'], 'no consent without the secret');
  const bad = await send(KV, { hello: 'world' });
  t.equal(bad.status, 400);
  t.notOk(bad.body.includes('world'), 'never echoed');
});

t.test('rate limits: failures per address before the body, deliveries per store', async (t) => {
  const { send, clock, reads } = setup(t);
  const statuses: number[] = [];
  for (let i = 0; i < 25; i++)
    statuses.push((await send(KV, [event()], { authorization: 'Bearer wrong' })).status);
  t.same(statuses.slice(0, 20), Array(20).fill(401));
  t.same(statuses.slice(20), Array(5).fill(429), 'the address failed too often');
  const readsBefore = reads.length;
  const limited = await send(KV, [event()]);
  t.equal(limited.status, 429, 'even with the right secret, until the bucket refills');
  t.equal(reads.length, readsBefore, 'and nothing read for it');
  t.ok(Number(limited.headers['retry-after']) >= 1);
  clock.advance(60_000);
  const ok: number[] = [];
  for (let i = 0; i < 25; i++) ok.push((await send(KV, [event()])).status);
  t.same(ok.slice(0, 20), Array(20).fill(200));
  t.same(ok.slice(20), Array(5).fill(429), "the store's deliveries: a burst of 20");
  clock.advance(1_000);
  t.equal((await send(KV, [event()])).status, 200, 'five a second after that');
});

t.test('bounds, a failed hand-over, and no secret in the log', async (t) => {
  const { send, lines } = setup(t, { failAccept: true });
  const failed = await send(KV, [event()]);
  t.equal(failed.status, 503, 'Event Grid retries');
  t.equal(failed.headers['retry-after'], '30');
  const big = await send(KV, `[${'"x",'.repeat(300_000)}"x"]`);
  t.equal(big.status, 413);
  const bigUnauthenticated = await send(KV, `[${'"x",'.repeat(300_000)}"x"]`, { authorization: 'Bearer no' });
  t.equal(bigUnauthenticated.status, 401);
  t.notOk(
    lines.some((l) => l.includes(SECRET)),
    'the secret is never logged',
  );
  t.ok(lines.some((l) => l.includes('the refresh could not be requested')));
  const short = setup(t, { secret: 'too-short' });
  t.equal((await short.send(KV, [event()], { authorization: 'Bearer too-short' })).status, 401);
  t.ok(
    short.lines.some((l) => l.includes('shorter than 16')),
    'the operator is told why',
  );
  t.notOk(short.lines.some((l) => l.includes('too-short')));
});
