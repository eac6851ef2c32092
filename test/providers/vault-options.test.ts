/** Pure parts of the vault provider: client options, KV paths, JSON output, renewal margin. */
import t from 'tap';
import { ProviderError } from '../../src/providers/types.ts';
import { goJson } from '../../src/providers/vault/index.ts';
import {
  headerProblem,
  kvDataPath,
  kvLayout,
  kvListPath,
  kvMetadataPath,
  kvReadPath,
  vaultClientOptions,
  vaultLoginHeaders,
  vaultRequestHeaders,
} from '../../src/providers/vault/options.ts';
import { renewMarginMs } from '../../src/providers/vault/session.ts';
import { CANARY } from './vault-context.ts';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

function thrown(fn: () => unknown): ProviderError | undefined {
  try {
    fn();
  } catch (err: unknown) {
    if (err instanceof ProviderError) return err;
    throw err;
  }
  return undefined;
}

t.test('vaultClientOptions', async (t) => {
  const o = vaultClientOptions({ server: 'https://vault.example:8200/', namespace: 'team-a' });
  t.equal(o.endpoint, 'https://vault.example:8200', 'trailing slash removed');
  t.equal(o.apiVersion, 'v1');
  t.equal(o.noCustomHTTPVerbs, true, 'LIST as GET ?list=1');
  t.equal(o.namespace, undefined, 'the namespace travels in the request headers');
  t.equal(o.token, undefined, 'no token in the options: sent per request');
  t.same(o.rpDefaults, { strictSSL: true }, 'TLS verification cannot be disabled by the environment');
  t.same(o.requestOptions, {}, 'no CA: system roots');

  const withCa = vaultClientOptions(
    { server: 'https://v', caBundle: Buffer.from(PEM).toString('base64') },
    { caPem: PEM.replace('MIIB', 'MIIC'), timeoutMs: 2500 },
  );
  t.equal(
    withCa.requestOptions?.ca,
    `${PEM}\n${PEM.replace('MIIB', 'MIIC')}`,
    'caBundle decoded, caProvider appended',
  );
  t.equal(withCa.requestOptions?.timeout, 2500, 'per-request timeout');
  const mtls = vaultClientOptions({ server: 'https://v' }, { cert: 'C', key: 'K' });
  t.same([mtls.requestOptions?.cert, mtls.requestOptions?.key], ['C', 'K'], 'client certificate of tls');

  t.equal(thrown(() => vaultClientOptions({}))?.kind, 'Invalid', 'server required');
  t.equal(thrown(() => vaultClientOptions({ server: 'not a url' }))?.kind, 'Invalid');
  t.equal(thrown(() => vaultClientOptions({ server: 'ftp://v' }))?.kind, 'Invalid');
  const bad = thrown(() =>
    vaultClientOptions({ server: 'https://v', caBundle: Buffer.from(CANARY).toString('base64') }),
  );
  t.equal(bad?.kind, 'Invalid', 'caBundle that is not a PEM');
  t.notMatch(bad?.message ?? '', CANARY, 'the bundle is not echoed');
});

t.test('vaultRequestHeaders', async (t) => {
  t.same(vaultRequestHeaders({}), {});
  t.same(vaultRequestHeaders({ forwardInconsistent: true }), {
    'X-Vault-Inconsistent': 'forward-active-node',
  });
  t.same(vaultRequestHeaders({ readYourWrites: true }), {}, 'nothing to carry without writes');
  t.same(vaultRequestHeaders({ namespace: 'team-a', headers: { 'X-Tenant': 'a' } }), {
    'X-Tenant': 'a',
    'X-Vault-Namespace': 'team-a',
  });
  t.same(
    vaultLoginHeaders({
      namespace: 'team-a/app',
      auth: { namespace: 'team-a' },
      headers: { 'X-Tenant': 'a' },
    }),
    { 'X-Tenant': 'a', 'X-Vault-Namespace': 'team-a' },
    'the login in auth.namespace, with the custom headers',
  );
  t.same(
    vaultLoginHeaders({ namespace: 'team-a' }),
    { 'X-Vault-Namespace': 'team-a' },
    'default: the store namespace',
  );
  for (const name of [
    'X-Vault-Token',
    'authorization',
    'X-VAULT-NAMESPACE',
    'X-Vault-Wrap-TTL',
    'Host',
    'Content-Length',
  ]) {
    t.match(headerProblem(name, 'v'), /set by external-secrets-webhook/, `${name} refused`);
    const e = thrown(() => vaultRequestHeaders({ headers: { [name]: CANARY } }));
    t.equal(e?.kind, 'Invalid', `${name} refused at use`);
    t.notMatch(e?.message ?? '', CANARY, 'the value is not echoed');
  }
  t.match(headerProblem('Bad Name', 'v'), /not a valid HTTP header name/);
  t.match(headerProblem('X-Ok', 'a\r\nX-Vault-Token: t'), /control characters/, 'no header injection');
  t.equal(headerProblem('X-Ok', 'fine value'), undefined);
});

t.test('KV paths follow ESO buildPath', async (t) => {
  const v2 = kvLayout({ path: 'secret/path', version: 'v2' });
  const v1 = kvLayout({ path: 'secret/path', version: 'v1' });
  const v2none = kvLayout({});
  const v1none = kvLayout({ version: 'v1' });
  t.same(kvLayout({ path: '/kv/' }), { mount: 'kv', version: 'v2' }, 'v2 by default, slashes trimmed');

  // The table of ESO's buildPath comment.
  t.equal(kvDataPath(v2, 'foo'), 'secret/path/data/foo');
  t.equal(kvDataPath(v1, 'foo'), 'secret/path/foo');
  t.equal(kvDataPath(v2, 'secret/path/foo'), 'secret/path/data/foo');
  t.equal(kvDataPath(v2, 'secret/path/data/foo'), 'secret/path/data/foo');
  t.equal(kvDataPath(v1, 'secret/path/foo'), 'secret/path/foo');
  t.equal(kvDataPath(v2none, 'secret/path/foo'), 'secret/data/path/foo');
  t.equal(kvDataPath(v2none, 'secret/path/data/foo'), 'secret/path/data/foo');
  t.equal(kvDataPath(v1none, 'secret/path/foo'), 'secret/path/foo');
  t.equal(kvDataPath(v2, 'nested/deep/key'), 'secret/path/data/nested/deep/key');
  t.equal(thrown(() => kvDataPath(v2, ''))?.kind, 'Invalid');

  t.equal(kvReadPath(v2, 'app', undefined), 'secret/path/data/app');
  t.equal(kvReadPath(v2, 'app', '3'), 'secret/path/data/app?version=3');
  t.equal(kvReadPath(v1, 'app', '3'), 'secret/path/app', 'KV v1 has no versions: ignored, as ESO');
  t.equal(kvReadPath(v2, 'a b/c?d', undefined), 'secret/path/data/a%20b/c%3Fd', 'segments URL-encoded');
  t.equal(thrown(() => kvReadPath(v2, 'app', 'latest'))?.kind, 'Invalid', 'v2 versions are numbers');

  t.equal(kvListPath(v2, ''), 'secret/path/metadata/');
  t.equal(kvListPath(v2, 'team/'), 'secret/path/metadata/team/');
  t.equal(kvListPath(v1, 'team'), 'secret/path/team/');
  t.equal(thrown(() => kvListPath(v2none, ''))?.kind, 'Invalid', 'find needs the mount');
  t.equal(kvMetadataPath(v2, 'team/db'), 'secret/path/metadata/team/db');
  t.equal(thrown(() => kvMetadataPath(v1, 'x'))?.kind, 'Invalid', 'tags need KV v2');
});

t.test('goJson writes what Go json.Marshal writes for a map', async (t) => {
  t.equal(
    goJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } }),
    '{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}',
  );
  t.equal(
    goJson({ html: '<a href="x">&</a>' }),
    '{"html":"\\u003ca href=\\"x\\"\\u003e\\u0026\\u003c/a\\u003e"}',
  );
  t.same(JSON.parse(goJson({ s: 'a\u2028b' })), { s: 'a\u2028b' }, 'still valid JSON');
});

t.test('renewal margin', async (t) => {
  t.equal(renewMarginMs(3_600_000), 720_000, 'a fifth of an hour');
  t.equal(renewMarginMs(20_000), 5_000, 'at least 5 s');
  t.equal(renewMarginMs(6_000), 3_000, 'at most half the lease');
});
