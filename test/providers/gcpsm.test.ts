/**
 * The `gcpsm` provider: the real SecretManagerServiceClient (google-gax, gRPC) against the
 * in-process gRPC fake built from the SDK's own protos.json.
 */
import { randomUUID } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { JWT } from 'google-auth-library';
import t, { type Test } from 'tap';
import type { GcpSmProvider, SecretKeySelector } from '../../src/api/types.ts';
import { crc32c } from '../../src/providers/gcpsm/crc32c.ts';
import { gcpSmProvider } from '../../src/providers/gcpsm/index.ts';
import {
  gcpCallOptions,
  gcpClientOptions,
  listFilter,
  parentName,
  secretVersionName,
} from '../../src/providers/gcpsm/options.ts';
import { type ClientContext, type ProviderClient, ProviderError } from '../../src/providers/types.ts';
import { GcpSecretManagerFake, GrpcCode } from '../fakes/gcp-secret-manager.ts';
import { restoreEnv } from '../helpers/env.ts';
import { ambientIdentity, strictIdentity } from './identity-context.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const PROJECT = 'my-project';
const CANARY = `CANARY-${randomUUID()}`;
const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');
const deadline = (ms = 10_000) => ({ signal: AbortSignal.timeout(ms) });

interface Setup {
  fake: GcpSecretManagerFake;
  client: ProviderClient;
  ctx: ClientContext;
  reads: { selector: SecretKeySelector; field: string }[];
}

async function setup(
  t: Test,
  spec: GcpSmProvider = { projectID: PROJECT },
  opts: { maxAttempts?: number; secrets?: Record<string, string>; ambient?: boolean } = {},
): Promise<Setup> {
  const fake = new GcpSecretManagerFake();
  const { host, port } = await fake.start();
  t.teardown(() => fake.close());
  const reads: Setup['reads'] = [];
  const ctx: ClientContext = {
    store: { kind: 'SecretStore', name: 'gcp', namespace: 'default' },
    namespace: 'default',
    async readSecretKey(selector, field) {
      reads.push({ selector, field });
      const v = opts.secrets?.[`${selector.name}/${selector.key}`];
      if (v === undefined) throw new Error('no such secret key');
      return v;
    },
    endpoints: { gcp: { host, port, insecure: true } },
    maxAttempts: opts.maxAttempts ?? 3,
    timeoutMs: 5_000,
    // Most cases use the channel's own credentials (insecure override): as a ClusterSecretStore.
    ...(opts.ambient === false ? strictIdentity : ambientIdentity),
  };
  const client = await gcpSmProvider.newClient(spec, ctx);
  t.teardown(() => client.close());
  return { fake, client, ctx, reads };
}

async function rejectsKind(t: Test, p: Promise<unknown>, kind: string, msg: string): Promise<ProviderError> {
  try {
    await p;
  } catch (err: unknown) {
    t.ok(err instanceof ProviderError, `${msg}: a ProviderError`);
    const e = err as ProviderError;
    t.equal(e.kind, kind, `${msg}: kind ${kind}`);
    t.notMatch(e.message, CANARY, `${msg}: no canary in the message`);
    return e;
  }
  t.fail(`${msg}: expected a rejection`);
  throw new Error('unreachable');
}

function thrownKind(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err: unknown) {
    return err instanceof ProviderError ? err.kind : 'not a ProviderError';
  }
  return undefined;
}

t.test('option mapper', async (t) => {
  const authClient = new JWT({ email: 'esw@my-project.iam.gserviceaccount.com', key: CANARY });
  const withKey = gcpClientOptions({ projectID: PROJECT }, authClient, undefined);
  t.equal(withKey.authClient, authClient, 'the client built from the key is the auth client');
  t.equal(withKey.credentials, undefined, 'no credential JSON reaches the library');
  t.equal(withKey.projectId, PROJECT);
  t.equal(withKey.apiEndpoint, undefined, 'global endpoint by default');
  t.equal(withKey.sslCreds, undefined, 'TLS to Google by default');

  const adc = gcpClientOptions({ projectID: PROJECT }, undefined, undefined);
  t.equal(adc.authClient, undefined, 'no key: Application Default Credentials');

  const regional = gcpClientOptions({ projectID: PROJECT, location: 'europe-west1' }, undefined, undefined);
  t.equal(regional.apiEndpoint, 'secretmanager.europe-west1.rep.googleapis.com', 'regional endpoint');

  const test = gcpClientOptions({ projectID: PROJECT }, undefined, {
    host: '127.0.0.1',
    port: 1234,
    insecure: true,
  });
  t.equal(test.apiEndpoint, '127.0.0.1');
  t.equal(test.port, 1234);
  t.ok(test.sslCreds, 'insecure channel credentials');
  t.equal(test.universeDomain, 'googleapis.com', 'universe pinned: no auth lookup');
  const ca = { host: '127.0.0.1', port: 1234, insecure: false, ca: rootCertificates[0] ?? '' };
  const tlsOnly = gcpClientOptions({ projectID: PROJECT }, undefined, ca);
  const tlsAuth = gcpClientOptions({ projectID: PROJECT }, authClient, ca);
  t.ok(tlsOnly.sslCreds?._isSecure(), 'a TLS channel trusting the CA');
  t.not(tlsAuth.sslCreds, tlsOnly.sslCreds, 'with an auth client: its token composed onto the channel');
  t.equal(tlsAuth.universeDomain, 'googleapis.com');

  t.equal(parentName({ projectID: 'p' }), 'projects/p');
  t.equal(parentName({ projectID: 'p', location: 'us-east1' }), 'projects/p/locations/us-east1');
  t.equal(secretVersionName({ projectID: 'p' }, 'db', undefined), 'projects/p/secrets/db/versions/latest');
  t.equal(secretVersionName({ projectID: 'p' }, 'db', ''), 'projects/p/secrets/db/versions/latest');
  t.equal(secretVersionName({ projectID: 'p' }, 'db', '7'), 'projects/p/secrets/db/versions/7');
  t.equal(
    secretVersionName({ projectID: 'p', location: 'l' }, 'db', '2'),
    'projects/p/locations/l/secrets/db/versions/2',
  );
  t.equal(
    thrownKind(() => secretVersionName({ projectID: 'p' }, 'a/b', undefined)),
    'Invalid',
    'a key with /',
  );
  t.equal(
    thrownKind(() => secretVersionName({ projectID: 'p' }, 'db', '1/../2')),
    'Invalid',
    'a version with /',
  );

  t.equal(listFilter({}), '');
  t.equal(
    listFilter({ tags: { env: 'prod', team: 'a' }, path: 'app-' }),
    'labels.env=prod labels.team=a name:app-',
  );

  const signal = new AbortController().signal;
  const call = gcpCallOptions({ maxAttempts: 4, timeoutMs: 1500 }, signal);
  t.equal(call.timeout, 1500);
  t.equal(call.signal, signal, 'the deadline signal cancels the call');
  t.same(call.retry?.retryCodes, [14], 'only UNAVAILABLE is retried');
  t.equal(call.retry?.backoffSettings?.maxRetries, 4, 'attempts bounded by maxAttempts');
  t.equal(call.retry?.backoffSettings?.totalTimeoutMillis, undefined, 'gax forbids both bounds');
  t.equal(gcpCallOptions({ maxAttempts: 0, timeoutMs: 10 }, signal).retry?.backoffSettings?.maxRetries, 1);
});

t.test('values and versions', async (t) => {
  const { fake, client } = await setup(t);
  const binary = Uint8Array.from([0, 255, 1, 254, 10, 13]);
  fake.addSecret({ project: PROJECT, id: 'db', versions: ['{"user":"v1"}', '{"user":"v2"}', binary] });

  t.same(await client.getSecret({ key: 'db' }, deadline()), binary, 'latest = newest version, raw bytes');
  t.equal(text(await client.getSecret({ key: 'db', version: '1' }, deadline())), '{"user":"v1"}');
  t.equal(text(await client.getSecret({ key: 'db', version: '2' }, deadline())), '{"user":"v2"}');
  t.equal(text(await client.getSecret({ key: 'db', version: 'latest' }, deadline())).length, 6);
  t.same(fake.accessedNames, [
    `projects/${PROJECT}/secrets/db/versions/latest`,
    `projects/${PROJECT}/secrets/db/versions/1`,
    `projects/${PROJECT}/secrets/db/versions/2`,
    `projects/${PROJECT}/secrets/db/versions/latest`,
  ]);

  fake.addVersion(PROJECT, 'db', 'third');
  t.equal(text(await client.getSecret({ key: 'db' }, deadline())), 'third', 'a new version becomes latest');

  fake.addSecret({ project: PROJECT, id: 'empty-value', versions: [''] });
  t.equal(
    (await client.getSecret({ key: 'empty-value' }, deadline())).length,
    0,
    'an empty payload is empty bytes',
  );
});

t.test('payload checksum: CRC32C verified, a damaged payload refused', async (t) => {
  t.equal(crc32c(Buffer.from('123456789')), 0xe3069283, 'the CRC32C check value');
  t.equal(crc32c(new Uint8Array()), 0);
  const { fake, client } = await setup(t);
  fake.addSecret({ project: PROJECT, id: 'intact', versions: [CANARY] });
  fake.addSecret({ project: PROJECT, id: 'damaged', versions: [CANARY] });
  fake.corruptChecksums.add('damaged');
  t.equal(text(await client.getSecret({ key: 'intact' }, deadline())), CANARY);
  const e = await rejectsKind(
    t,
    client.getSecret({ key: 'damaged' }, deadline()),
    'Unavailable',
    'bad checksum',
  );
  t.match(e.message, /checksum mismatch/);
});

t.test('regional secrets use the location in resource names', async (t) => {
  const { fake, client } = await setup(t, { projectID: PROJECT, location: 'europe-west1' });
  fake.addSecret({ project: PROJECT, location: 'europe-west1', id: 'api', versions: ['regional'] });
  fake.addSecret({ project: PROJECT, id: 'api', versions: ['global'] });
  t.equal(text(await client.getSecret({ key: 'api' }, deadline())), 'regional');
  t.equal(fake.accessedNames[0], `projects/${PROJECT}/locations/europe-west1/secrets/api/versions/latest`);
});

t.test('findSecrets: name regexp, labels, path, pagination', async (t) => {
  const { fake, client } = await setup(t);
  fake.maxPageSize = 2;
  fake.addSecret({ project: PROJECT, id: 'app-db', versions: ['old', 'db'], labels: { env: 'prod' } });
  fake.addSecret({ project: PROJECT, id: 'app-cache', versions: ['cache'], labels: { env: 'dev' } });
  fake.addSecret({ project: PROJECT, id: 'app-queue', versions: ['queue'], labels: { env: 'prod' } });
  fake.addSecret({ project: PROJECT, id: 'other-db', versions: ['other'], labels: { env: 'prod' } });
  fake.addSecret({ project: PROJECT, id: 'app-noversion', versions: [], labels: { env: 'prod' } });
  fake.addSecret({ project: 'elsewhere', id: 'app-foreign', versions: ['x'] });

  const byName = await client.findSecrets?.({ name: { regexp: '^app-' } }, deadline());
  t.same(
    [...(byName ?? new Map()).entries()].map(([k, v]) => [k, text(v)]),
    [
      ['app-cache', 'cache'],
      ['app-db', 'db'],
      ['app-queue', 'queue'],
    ],
    'matching secrets at their latest version; a secret without versions is skipped',
  );
  t.ok(fake.calls.ListSecrets >= 3, 'pages followed');
  t.same(
    fake.listRequests.map((r) => r.parent),
    fake.listRequests.map(() => `projects/${PROJECT}`),
  );

  const byLabel = await client.findSecrets?.({ tags: { env: 'prod' } }, deadline());
  t.same([...(byLabel ?? new Map()).keys()], ['app-db', 'app-queue', 'other-db'], 'labels filter');
  t.equal(fake.listRequests.at(-1)?.filter, 'labels.env=prod', 'labels filtered by the server');

  const byPath = await client.findSecrets?.(
    { path: 'app-', tags: { env: 'prod' }, name: { regexp: 'q' } },
    deadline(),
  );
  t.same([...(byPath ?? new Map()).keys()], ['app-queue'], 'path prefix, labels and name combine');

  await rejectsKind(
    t,
    client.findSecrets?.({ name: { regexp: '(' } }, deadline()) ?? Promise.resolve(),
    'Invalid',
    'bad regexp',
  );

  fake.setFault('*', { code: GrpcCode.PERMISSION_DENIED, details: CANARY });
  await rejectsKind(
    t,
    client.findSecrets?.({ name: { regexp: '.' } }, deadline()) ?? Promise.resolve(),
    'Forbidden',
    'list denied',
  );
});

t.test('service-account key from the store, read once', async (t) => {
  const key = JSON.stringify({
    type: 'service_account',
    client_email: 'a@b',
    private_key: `-----BEGIN PRIVATE KEY-----\n${CANARY}\n-----END PRIVATE KEY-----\n`,
  });
  const { fake, client, reads } = await setup(
    t,
    {
      projectID: PROJECT,
      auth: { secretRef: { secretAccessKeySecretRef: { name: 'gcp-sa', key: 'key.json' } } },
    },
    { secrets: { 'gcp-sa/key.json': key } },
  );
  fake.addSecret({ project: PROJECT, id: 'db', versions: ['v'] });
  t.equal(text(await client.getSecret({ key: 'db' }, deadline())), 'v');
  t.same(fake.authorizations, [], 'the test channel fetched and sent no token');
  t.same(reads, [
    {
      selector: { name: 'gcp-sa', key: 'key.json' },
      field: 'spec.provider.gcpsm.auth.secretRef.secretAccessKeySecretRef',
    },
  ]);

  const ctx = {
    store: { kind: 'SecretStore' as const, name: 'gcp', namespace: 'default' },
    namespace: 'default',
    readSecretKey: async () => `not json ${CANARY}`,
    endpoints: {},
    maxAttempts: 1,
    timeoutMs: 1000,
    ...strictIdentity,
  };
  await rejectsKind(
    t,
    gcpSmProvider.newClient(
      { projectID: PROJECT, auth: { secretRef: { secretAccessKeySecretRef: { name: 'x' } } } },
      ctx,
    ),
    'Invalid',
    'a malformed key',
  );
  await rejectsKind(
    t,
    gcpSmProvider.newClient(
      { auth: { secretRef: { secretAccessKeySecretRef: { name: 'x', key: 'k' } } } },
      ctx,
    ),
    'Invalid',
    'a key without projectID',
  );
  await rejectsKind(
    t,
    gcpSmProvider.newClient(
      { projectID: PROJECT, auth: { workloadIdentity: { serviceAccountRef: { name: 'sa' } } } },
      ctx,
    ),
    'Invalid',
    'per-store workload identity without ServiceAccount tokens is refused, not served with our own identity',
  );
});

t.test('Application Default Credentials are refused for a SecretStore the admin did not allow', async (t) => {
  await t.rejects(setup(t, { projectID: PROJECT }, { ambient: false }), {
    code: 'ESW_IDENTITY_FORBIDDEN',
    message: /spec\.provider\.gcpsm\.auth: Application Default Credentials/,
  });
});

t.test('without projectID: the project of the default credentials', async (t) => {
  restoreEnv(t, ['GOOGLE_CLOUD_PROJECT']);
  process.env.GOOGLE_CLOUD_PROJECT = 'detected-project';
  const { fake, client } = await setup(t, {});
  fake.addSecret({ project: 'detected-project', id: 'db', versions: ['found'] });
  t.equal(text(await client.getSecret({ key: 'db' }, deadline())), 'found');
  t.equal(text(await client.getSecret({ key: 'db' }, deadline())), 'found');
  t.same(fake.accessedNames, [
    'projects/detected-project/secrets/db/versions/latest',
    'projects/detected-project/secrets/db/versions/latest',
  ]);
  const found = await client.findSecrets?.({ name: { regexp: 'db' } }, deadline());
  t.same([...(found ?? new Map()).keys()], ['db']);
  t.equal(fake.listRequests[0]?.parent, 'projects/detected-project');
});

t.test('gRPC status codes become typed errors', async (t) => {
  const { fake, client } = await setup(t, { projectID: PROJECT }, { maxAttempts: 3 });
  const cases: [string, number, string][] = [
    ['denied', GrpcCode.PERMISSION_DENIED, 'Forbidden'],
    ['unauthenticated', GrpcCode.UNAUTHENTICATED, 'Forbidden'],
    ['throttled', GrpcCode.RESOURCE_EXHAUSTED, 'Throttled'],
    ['internal', GrpcCode.INTERNAL, 'Unavailable'],
    ['bad-arg', GrpcCode.INVALID_ARGUMENT, 'Invalid'],
    ['precondition', GrpcCode.FAILED_PRECONDITION, 'Invalid'],
  ];
  for (const [id, code, kind] of cases) {
    fake.addSecret({ project: PROJECT, id, versions: [CANARY] });
    fake.setFault(id, { code, details: `details with ${CANARY}` });
    const e = await rejectsKind(t, client.getSecret({ key: id }, deadline()), kind, id);
    t.match(e.message, `"${id}"`, 'the message names the key');
    t.equal(fake.accessCalls.get(id), 1, `${id}: not retried`);
  }

  await rejectsKind(t, client.getSecret({ key: 'missing' }, deadline()), 'NotFound', 'missing secret');
  fake.addSecret({ project: PROJECT, id: 'one', versions: [CANARY] });
  await rejectsKind(
    t,
    client.getSecret({ key: 'one', version: '9' }, deadline()),
    'NotFound',
    'missing version',
  );
  fake.disableVersion(PROJECT, 'one', 1);
  await rejectsKind(
    t,
    client.getSecret({ key: 'one', version: '1' }, deadline()),
    'Invalid',
    'disabled version',
  );

  fake.addSecret({ project: PROJECT, id: 'flaky', versions: ['ok'] });
  fake.setFault('flaky', { code: GrpcCode.UNAVAILABLE, times: 1 });
  t.equal(text(await client.getSecret({ key: 'flaky' }, deadline())), 'ok', 'UNAVAILABLE once: retried');
  t.equal(fake.accessCalls.get('flaky'), 2);

  fake.addSecret({ project: PROJECT, id: 'down', versions: [CANARY] });
  fake.setFault('down', { code: GrpcCode.UNAVAILABLE, details: CANARY });
  await rejectsKind(t, client.getSecret({ key: 'down' }, deadline()), 'Unavailable', 'always UNAVAILABLE');
  t.equal(fake.accessCalls.get('down'), 3, 'exactly maxAttempts attempts');
});

t.test('deadline: a slow server yields Unavailable before it answers', async (t) => {
  const { fake, client } = await setup(t);
  fake.addSecret({ project: PROJECT, id: 'slow', versions: [CANARY] });
  fake.delayMs = 60_000;
  const controller = new AbortController();
  const pending = client.getSecret({ key: 'slow' }, { signal: controller.signal });
  // Abort once the server holds the call: the error must not wait for the server's answer.
  for (let i = 0; i < 500 && fake.calls.AccessSecretVersion === 0; i++)
    await new Promise((r) => setTimeout(r, 10));
  t.equal(fake.calls.AccessSecretVersion, 1, 'the call reached the server');
  controller.abort();
  const e = await rejectsKind(t, pending, 'Unavailable', 'aborted call');
  t.match(e.message, /deadline/);
  for (let i = 0; i < 500 && fake.cancelled === 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.equal(fake.cancelled, 1, 'the abort cancelled the gRPC call on the server too');

  await rejectsKind(
    t,
    client.getSecret({ key: 'slow' }, { signal: AbortSignal.abort() }),
    'Unavailable',
    'already aborted',
  );
  t.equal(fake.calls.AccessSecretVersion, 1, 'an aborted signal makes no call');
});

t.test('an unreachable server is Unavailable', async (t) => {
  const { fake, client } = await setup(t, { projectID: PROJECT }, { maxAttempts: 2 });
  await fake.close();
  await rejectsKind(t, client.getSecret({ key: 'db' }, deadline()), 'Unavailable', 'server gone');
});

t.test(
  'validate (store status): ListSecrets of one item; PERMISSION_DENIED still proves the credentials',
  async (t) => {
    const { fake, client } = await setup(t);
    await client.validate?.(deadline());
    t.equal(fake.calls.ListSecrets, 1, 'one cheap call');
    fake.setFault('*', { code: GrpcCode.PERMISSION_DENIED, times: 1, details: CANARY });
    await client.validate?.(deadline());
    t.pass('not allowed to list, but authenticated: valid');
    fake.setFault('*', { code: GrpcCode.UNAUTHENTICATED, times: 1, details: CANARY });
    const err = await rejectsKind(
      t,
      client.validate?.(deadline()) ?? Promise.resolve(),
      'Forbidden',
      'unauthenticated',
    );
    t.match(err.message, /store check/);
  },
);
