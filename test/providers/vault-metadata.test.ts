/**
 * metadataPolicy Fetch on Vault KV v2 with the real node-vault client against the fake Vault:
 * custom_metadata and ESO's system fields from `<mount>/metadata/<path>`, never the data, read
 * and selected as ESO 2.9 does.
 */
import t from 'tap';
import { vaultSelection } from '../../src/providers/vault/metadata.ts';
import { CANARY, deadline, rejectsKind, setupVault, text } from './vault-context.ts';

const tokenSpec = (path?: string) => (url: string) => ({
  server: url,
  ...(path ? { path } : {}),
  auth: { tokenSecretRef: { name: 'vault', key: 'token' } },
});
const TOKEN = {
  secrets: { 'vault/token': 'root-token' },
  prepare: (f: { addToken(t: string): void }) => f.addToken('root-token'),
};

const select = (doc: Uint8Array, property?: string) =>
  text(
    vaultSelection.selectValue!({}, doc, {
      key: 'app/db',
      property,
      metadata: true,
      store: 's',
    }) as Uint8Array,
  );

t.test('the metadata path, the document, the selection', async (t) => {
  const { fake, client } = await setupVault(t, tokenSpec('secret'), TOKEN);
  fake.putKv2(
    'secret',
    'app/db',
    { password: CANARY },
    { owner: 'a&b', 'team.name': 'pay', cfg: '{"tier":"gold"}' },
  );
  fake.putKv2('secret', 'app/db', { password: CANARY });
  const doc = await client.getMetadata!({ key: 'app/db' }, deadline());
  t.equal(fake.requests.at(-1), 'GET /v1/secret/metadata/app/db');
  t.notOk(text(doc).includes(CANARY), 'the data is never read');
  t.equal(
    select(doc),
    '{"cfg":"{\\"tier\\":\\"gold\\"}","created_time":"2024-01-01T00:00:00.000000001Z","current_version":"2",' +
      '"delete_version_after":"0s","owner":"a\\u0026b","team.name":"pay"}',
    "custom_metadata and ESO's three system fields, as Go marshals the map",
  );
  t.equal(select(doc, 'owner'), 'a&b');
  t.equal(select(doc, 'team.name'), 'pay', 'an entry named by the property wins');
  t.equal(select(doc, 'current_version'), '2');
  t.throws(() => select(doc, 'absent'), { code: 'ESW_PROPERTY_NOT_FOUND' });
  const map = vaultSelection.selectMap!({}, doc, { key: 'app/db', metadata: true, store: 's' });
  t.equal(text(map?.get('owner') as Uint8Array), 'a&b');
  t.equal(text(map?.get('current_version') as Uint8Array), '2');

  // A key naming the mount (and data/) reads the same metadata, as ESO's buildMetadataPath.
  await client.getMetadata!({ key: 'secret/data/app/db' }, deadline());
  t.equal(fake.requests.at(-1), 'GET /v1/secret/metadata/app/db');
  await rejectsKind(t, client.getMetadata!({ key: 'app/absent' }, deadline()), 'NotFound', 'no secret');
});

t.test('without a mount the key names it: its data/ becomes metadata/', async (t) => {
  const { fake, client } = await setupVault(t, tokenSpec(), TOKEN);
  fake.putKv2('secret', 'app/db', { a: '1' }, { env: 'prod' });
  const doc = await client.getMetadata!({ key: 'secret/data/app/db' }, deadline());
  t.equal(fake.requests.at(-1), 'GET /v1/secret/metadata/app/db');
  t.equal(select(doc, 'env'), 'prod');
  await rejectsKind(
    t,
    client.getMetadata!({ key: 'secret/app/db' }, deadline()),
    'Invalid',
    'not a KV v2 path',
  );
});

t.test('a secret without entries reads empty and cannot be extracted, as in ESO', async (t) => {
  const empty = new TextEncoder().encode('{}');
  t.equal(select(empty), '');
  t.equal(select(empty, 'x'), '');
  t.throws(() => vaultSelection.selectMap!({}, empty, { key: 'k', metadata: true, store: 's' }), {
    code: 'ESW_DECODE',
  });
});

t.test('KV v1 has no metadata', async (t) => {
  const { client } = await setupVault(t, (url) => ({ ...tokenSpec('kv')(url), version: 'v1' }), TOKEN);
  await rejectsKind(t, client.getMetadata!({ key: 'a' }, deadline()), 'Invalid', 'KV v1');
});
