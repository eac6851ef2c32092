/**
 * SSRF and token theft through object annotations (Bank-Vaults CVE-2026-54725: a Vault address
 * taken from a Secret's annotation): a placeholder Secret carrying every address-, role- and
 * token-like annotation a tenant might try, pointing at a listener standing in for an attacker.
 * The listener never receives a request; the value comes from the store's own server, with the
 * store's own token; unknown `esw.io/*` annotations come back as warnings.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import jsonpatch from 'fast-json-patch';
import t from 'tap';
import type { AdmissionRequest } from '../../src/admission/types.ts';
import type { KubeObject, Secret } from '../../src/api/types.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { MemoryRegistry } from '../../src/resolve/memory-registry.ts';
import { createRuntime } from '../../src/runtime.ts';
import { VaultFake } from '../fakes/vault.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const TOKEN = `CANARY-token-${randomUUID()}`;

t.test('no annotation can name an address, a role or a token', async (t) => {
  const attacker: string[] = [];
  const listener = http.createServer((req, res) => {
    attacker.push(`${req.method} ${req.url} ${JSON.stringify(req.headers)}`);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"data":{"data":{"password":"from-the-attacker"}}}');
  });
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  t.teardown(() => {
    listener.closeAllConnections();
    listener.close();
  });
  const evil = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;

  const vault = new VaultFake();
  const vaultUrl = await vault.start();
  t.teardown(() => vault.close());
  vault.addToken(TOKEN);
  vault.putKv2('secret', 'app/db', { password: 'from-the-store' });

  const lines: string[] = [];
  const registry = new MemoryRegistry();
  registry.upsert({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'vault-token', namespace: 'default' },
    data: { token: b64(TOKEN) },
  } as KubeObject);
  registry.upsert({
    apiVersion: 'external-secrets.io/v1',
    kind: 'SecretStore',
    metadata: { name: 'vault', namespace: 'default', uid: 'uid-vault', generation: 1 },
    spec: {
      provider: {
        vault: {
          server: vaultUrl,
          path: 'secret',
          version: 'v2',
          auth: { tokenSecretRef: { name: 'vault-token', key: 'token' } },
        },
      },
    },
  } as KubeObject);
  const runtime = createRuntime(registry, registry, {
    logger: createLogger({ level: 'debug', destination: { write: (l: string) => lines.push(l) } }),
    metrics: createMetrics(),
    admissionDeadlineMs: 60_000, // not a deadline test: a loaded machine (SDKs load on first use) must not turn a fill into a refusal
    cacheTtlMs: 0,
  });
  t.teardown(() => runtime.close());

  const hostile: Record<string, string> = {
    'esw.io/vault-addr': evil,
    'esw.io/server': evil,
    'esw.io/endpoint': evil,
    'esw.io/address': evil,
    'esw.io/role': 'admin',
    'esw.io/token': 'attacker-token',
    'esw.io/auth-path': 'kubernetes-evil',
    'vault.security.banzaicloud.io/vault-addr': evil,
    'vault.security.banzaicloud.io/vault-role': 'admin',
    'vault.hashicorp.com/agent-inject': 'true',
    'vault.hashicorp.com/service': evil,
  };
  const object: Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 'app',
      namespace: 'default',
      labels: { 'esw.io/inject': 'true' },
      annotations: { 'esw.io/store': 'vault', ...hostile },
    },
    type: 'Opaque',
    data: { password: b64('${ref:app/db#password}'), url: b64(`${evil}/\${ref:app/db#password}`) },
  };
  const request: AdmissionRequest & { object: Secret } = {
    uid: randomUUID(),
    kind: { group: '', version: 'v1', kind: 'Secret' },
    resource: { group: '', version: 'v1', resource: 'secrets' },
    name: 'app',
    namespace: 'default',
    operation: 'CREATE',
    object,
    oldObject: null,
    dryRun: false,
  };
  const result = await runtime.mutate(request);
  t.equal(result.allowed, true, `filled (${result.status?.message})`);
  const ops = JSON.parse(
    Buffer.from(result.patch ?? 'W10=', 'base64').toString('utf8'),
  ) as jsonpatch.Operation[];
  const out = jsonpatch.applyPatch(structuredClone(object), ops, true, false).newDocument as Secret;
  t.equal(
    Buffer.from(out.data?.password ?? '', 'base64').toString(),
    'from-the-store',
    'from the store server',
  );
  t.equal(
    Buffer.from(out.data?.url ?? '', 'base64').toString(),
    `${evil}/from-the-store`,
    'an address in data is only text',
  );
  t.same(attacker, [], 'the attacker listener received nothing');
  t.ok(vault.counts.reads >= 1, 'the store server was asked');
  t.ok(
    vault.headers.every((h) => h['x-vault-token'] === TOKEN),
    "only the store's own token was ever sent",
  );
  const warned = (result.warnings ?? []).join('\n');
  for (const a of Object.keys(hostile).filter((k) => k.startsWith('esw.io/'))) {
    t.match(warned, a, `${a}: a warning says it is not ours`);
  }
  t.notOk(lines.join('\n').includes(TOKEN), 'the token is in no log line');
});
