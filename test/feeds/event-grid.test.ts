/**
 * Event Grid deliveries read (src/feeds/event-grid.ts): both schemas, the validation event, Key
 * Vault events to keys under every azurekv spelling, the vault check, bounds, the secret
 * annotation's forms — and, for the events the delivery fake builds, agreement with the real
 * `@azure/eventgrid` deserializer and `isSystemEvent`.
 */
import { EventGridDeserializer, isSystemEvent } from '@azure/eventgrid';
import t from 'tap';
import type { SecretStore } from '../../src/api/types.ts';
import { feedSecretRef, keyVaultChange, MAX_EVENTS, parseDelivery } from '../../src/feeds/event-grid.ts';
import { keyVaultEvent, toCloudEvent } from '../fakes/azure-event-grid.ts';

const store = (vaultUrl: string, kind = 'ClusterSecretStore', annotations: Record<string, string> = {}) =>
  ({
    apiVersion: 'external-secrets.io/v1',
    kind,
    metadata: { name: 'kv', ...(kind === 'SecretStore' ? { namespace: 'team-a' } : {}), annotations },
    spec: { provider: { azurekv: { vaultUrl } } },
  }) as SecretStore;
const PUBLIC = store('https://my-vault.vault.azure.net/');

t.test('both schemas and the validation event', async (t) => {
  const e = keyVaultEvent({
    vaultName: 'my-vault',
    vaultUrl: 'https://my-vault.vault.azure.net',
    objectName: 'db',
  });
  t.match(parseDelivery([e]), { kind: 'events', events: [e] }, 'Event Grid schema: an array');
  const ce = toCloudEvent(e);
  t.match(parseDelivery(ce), { kind: 'events', events: [ce] }, 'a structured CloudEvent');
  t.match(parseDelivery([ce, ce]), { kind: 'events' }, 'a CloudEvents batch');
  t.same(
    parseDelivery([
      { eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent', data: { validationCode: 'abc-123' } },
    ]),
    { kind: 'validation', code: 'abc-123' },
  );
  for (const bad of [
    {},
    'text',
    null,
    [],
    [{ eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent', data: {} }],
    [
      {
        eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
        data: { validationCode: 'x'.repeat(300) },
      },
    ],
    Array.from({ length: MAX_EVENTS + 1 }, () => e),
  ])
    t.equal(parseDelivery(bad).kind, 'invalid', JSON.stringify(bad).slice(0, 60));
});

t.test('Key Vault events to keys', async (t) => {
  const ev = (kind: 'Secret' | 'Key' | 'Certificate', type?: string) =>
    keyVaultEvent({
      kind,
      vaultName: 'my-vault',
      vaultUrl: 'https://my-vault.vault.azure.net',
      objectName: 'db',
      ...(type ? { type } : {}),
    });
  t.same(keyVaultChange(ev('Secret'), PUBLIC), { result: 'refresh', keys: ['db', 'secret/db'] });
  t.same(keyVaultChange(ev('Key'), PUBLIC), { result: 'refresh', keys: ['key/db'] });
  t.same(keyVaultChange(ev('Certificate'), PUBLIC), {
    result: 'refresh',
    keys: ['cert/db', 'db', 'secret/db', 'key/db'],
  });
  t.same(keyVaultChange(toCloudEvent(ev('Secret')), PUBLIC).keys, ['db', 'secret/db'], 'CloudEvents alike');
  for (const type of [
    'Microsoft.KeyVault.SecretNearExpiry',
    'Microsoft.KeyVault.SecretExpired',
    'Microsoft.KeyVault.CertificateExpired',
    'Microsoft.KeyVault.VaultAccessPolicyChanged',
    'Microsoft.Storage.BlobCreated',
  ])
    t.equal(keyVaultChange(ev('Secret', type), PUBLIC).result, 'ignored', type);
  // The service's documented example: "ObjectName " with a space, " <version>".
  const doc = {
    ...ev('Secret'),
    data: {
      Id: 'https://my-vault.vault.azure.net/secrets/db/1',
      VaultName: 'my-vault',
      'ObjectName ': 'db',
      Version: ' 1',
    },
  };
  t.same(keyVaultChange(doc, PUBLIC).keys, ['db', 'secret/db']);
  const lower = { ...ev('Secret'), data: { vaultName: 'MY-VAULT', objectName: 'db' } };
  t.same(keyVaultChange(lower, PUBLIC).keys, ['db', 'secret/db'], 'member and vault names in any case');
  for (const [why, e] of [
    ['no data', { ...ev('Secret'), data: undefined }],
    [
      'a name Key Vault would not allow',
      { ...ev('Secret'), data: { VaultName: 'my-vault', ObjectName: '../x' } },
    ],
    ['an overlong name', { ...ev('Secret'), data: { VaultName: 'my-vault', ObjectName: 'a'.repeat(128) } }],
    ['not an object', 42],
    ['no type', { data: {} }],
    ['another CloudEvents version', { ...toCloudEvent(ev('Secret')), specversion: '0.3' }],
  ] as const)
    t.equal(keyVaultChange(e, PUBLIC).result, 'unreadable', why);
});

t.test('only the store’s vault', async (t) => {
  const event = (vaultName: string, vaultUrl: string) =>
    keyVaultEvent({ vaultName, vaultUrl, objectName: 'db' });
  t.equal(keyVaultChange(event('other', 'https://other.vault.azure.net'), PUBLIC).result, 'ignored');
  for (const suffix of [
    'vault.azure.net',
    'vault.usgovcloudapi.net',
    'vault.azure.cn',
    'vault.microsoftazure.de',
  ]) {
    const s = store(`https://my-vault.${suffix}`);
    t.equal(keyVaultChange(event('my-vault', `https://elsewhere.example`), s).result, 'refresh', suffix);
  }
  // A vault reached under another host (a fake, a private name): the object's Id must be in it.
  const local = store('https://127.0.0.1:8443');
  t.equal(keyVaultChange(event('kv', 'https://127.0.0.1:8443'), local).result, 'refresh');
  t.equal(keyVaultChange(event('kv', 'https://127.0.0.1:9443'), local).result, 'ignored');
  // The topic names the vault too: it must agree.
  const mixed = event('my-vault', 'https://my-vault.vault.azure.net');
  mixed.topic = mixed.topic.replace(/vaults\/my-vault$/, 'vaults/other');
  t.equal(keyVaultChange(mixed, PUBLIC).result, 'ignored');
  t.equal(
    keyVaultChange(event('my-vault', 'https://my-vault.vault.azure.net'), store('not a url')).result,
    'ignored',
  );
  t.equal(
    keyVaultChange(
      event('my-vault', 'https://my-vault.vault.azure.net'),
      store('http://my-vault.vault.azure.net'),
    ).result,
    'ignored',
    'an http vault URL is no vault',
  );
});

t.test('the delivery secret annotation', async (t) => {
  const a = (kind: string, v?: string) =>
    feedSecretRef(
      store('https://x.vault.azure.net', kind, v === undefined ? {} : { 'esw.io/change-feed-secret': v }),
    );
  t.same(a('SecretStore', 'eg/token'), { namespace: 'team-a', name: 'eg', key: 'token' });
  t.same(a('ClusterSecretStore', 'ops/eg/token'), { namespace: 'ops', name: 'eg', key: 'token' });
  t.match(a('SecretStore'), { error: /required/ });
  t.match(
    a('SecretStore', 'ops/eg/token'),
    { error: /NAME\/KEY/ },
    "a SecretStore's Secret is in its own namespace",
  );
  t.match(a('ClusterSecretStore', 'eg/token'), { error: /NAMESPACE\/NAME\/KEY/ });
  t.match(a('SecretStore', 'Bad_Name/token'), { error: /NAME\/KEY/ });
});

t.test('the fake’s events are what the SDK reads as Key Vault system events', async (t) => {
  const deserializer = new EventGridDeserializer();
  const e = keyVaultEvent({
    vaultName: 'my-vault',
    vaultUrl: 'https://my-vault.vault.azure.net',
    objectName: 'db',
  });
  const [grid] = await deserializer.deserializeEventGridEvents(JSON.stringify([e]));
  t.ok(grid && isSystemEvent('Microsoft.KeyVault.SecretNewVersionCreated', grid));
  const [cloud] = await deserializer.deserializeCloudEvents(JSON.stringify(toCloudEvent(e)));
  t.ok(cloud && isSystemEvent('Microsoft.KeyVault.SecretNewVersionCreated', cloud));
  // Ours reads the same event from what the SDK hands back, whatever its member case.
  t.same(keyVaultChange({ ...grid, eventTime: String(grid?.eventTime) }, PUBLIC).keys, ['db', 'secret/db']);
});
