/**
 * The gcpsm workload identity clients one by one: google-auth-library's external-account
 * clients against the STS + IAM Credentials fake, with a hand-built ClientContext. What the
 * resolver tests do not reach: the rules checked again at use (stores admitted before them),
 * and how each kind of exchange failure is reported.
 */
import { randomUUID } from 'node:crypto';
import t, { type Test } from 'tap';
import {
  authorize,
  federationClient,
  gkeIdentity,
  workloadIdentityClient,
} from '../../src/providers/gcpsm/workload-identity.ts';
import { type ClientContext, ProviderError } from '../../src/providers/types.ts';
import { GcpStsFake } from '../fakes/gcp-sts.ts';
import { strictIdentity } from './identity-context.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const CANARY = `CANARY-${randomUUID()}`;
const AUDIENCE = '//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/k';
const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

function context(sts: GcpStsFake, opts: Partial<ClientContext> = {}): ClientContext {
  return {
    store: { kind: 'SecretStore', name: 's', namespace: 'team-a' },
    namespace: 'team-a',
    async readSecretKey(selector) {
      if (selector.key === 'aws_access_key_id') return 'AKIDUNIT';
      if (selector.key === 'aws_secret_access_key') return CANARY;
      throw new ProviderError('NotFound', 'no such key');
    },
    serviceAccountToken: async (sel) =>
      `${b64url({ alg: 'none' })}.${b64url({ sub: `system:serviceaccount:team-a:${sel.name}`, aud: sel.audiences ?? ['k8s'] })}.${CANARY}`,
    serviceAccountAnnotations: async () => ({}),
    endpoints: { gcpSts: sts.tokenUrl, gcpIamCredentials: sts.url },
    maxAttempts: 1,
    timeoutMs: 5_000,
    ...strictIdentity,
    ...opts,
  };
}

async function refusal(t: Test, p: Promise<unknown>, kind: string, message: RegExp): Promise<void> {
  try {
    await p;
    t.fail('expected a refusal');
  } catch (err: unknown) {
    t.ok(err instanceof ProviderError, 'a ProviderError');
    t.equal((err as ProviderError).kind, kind);
    t.match((err as Error).message, message);
    t.notMatch((err as Error).message, CANARY, 'no token or Google text in the message');
    t.equal((err as Error).cause, undefined, 'no cause: the library error holds the request');
  }
}

t.test('the rules, checked again at use', async (t) => {
  const sts = await GcpStsFake.start();
  t.teardown(() => sts.close());
  const ctx = context(sts);
  await refusal(
    t,
    federationClient({ credConfig: { name: 'cm', key: 'k' } }, ctx),
    'Invalid',
    /credConfig is not supported/,
  );
  await refusal(
    t,
    federationClient({ audience: AUDIENCE }, ctx),
    'Invalid',
    /exactly one of serviceAccountRef or awsSecurityCredentials/,
  );
  await refusal(
    t,
    federationClient({ serviceAccountRef: { name: 'a' } }, ctx),
    'Invalid',
    /audience is required/,
  );
  await refusal(
    t,
    federationClient(
      { audience: AUDIENCE, serviceAccountRef: { name: 'a' }, gcpServiceAccountEmail: 'x@evil.example/..' },
      ctx,
    ),
    'Invalid',
    /gcpServiceAccountEmail is not a service account email/,
  );
  await refusal(
    t,
    federationClient({ audience: AUDIENCE, awsSecurityCredentials: { region: 'eu-west-1' } }, ctx),
    'Invalid',
    /awsSecurityCredentials needs awsCredentialsSecretRef.name and region/,
  );
  const noKeys = context(sts, {
    readSecretKey: async () => {
      throw Object.assign(new Error('Secret "team-a/aws": key "aws_access_key_id" not found'), {});
    },
  });
  await t.rejects(
    federationClient(
      {
        audience: AUDIENCE,
        awsSecurityCredentials: { awsCredentialsSecretRef: { name: 'aws' }, region: 'r' },
      },
      noKeys,
    ),
    /not found/,
    'a Secret that cannot be read is reported as read',
  );
  const { serviceAccountToken: _drop, ...noTokens } = ctx;
  await refusal(
    t,
    workloadIdentityClient(
      { serviceAccountRef: { name: 'a' }, clusterProjectID: 'p', clusterLocation: 'l', clusterName: 'c' },
      noTokens,
    ),
    'Invalid',
    /ServiceAccount tokens are unavailable here/,
  );
  await refusal(t, workloadIdentityClient({}, ctx), 'Invalid', /serviceAccountRef.name is required/);
  const { serviceAccountAnnotations: _a, ...noAccounts } = ctx;
  await refusal(
    t,
    federationClient({ audience: AUDIENCE, serviceAccountRef: { name: 'a' } }, noAccounts),
    'Invalid',
    /ServiceAccounts cannot be read here/,
  );
  t.same(gkeIdentity({ project: 'p', location: 'l', name: 'c' }), {
    pool: 'p.svc.id.goog',
    provider: 'https://container.googleapis.com/v1/projects/p/locations/l/clusters/c',
  });
});

t.test('exchange failures by kind: refused, throttled, unavailable, unreachable', async (t) => {
  const sts = await GcpStsFake.start();
  t.teardown(() => sts.close());
  sts.providers.set(AUDIENCE, 'k8s');
  const field = 'spec.provider.gcpsm.auth.workloadIdentityFederation';
  const client = () =>
    federationClient({ audience: AUDIENCE, serviceAccountRef: { name: 'app' } }, context(sts));
  for (const [status, kind, message] of [
    [403, 'Forbidden', /token exchange \(Google STS\) refused \(HTTP 403\)/],
    [429, 'Throttled', /token exchange \(Google STS\) throttled \(HTTP 429\)/],
    [500, 'Unavailable', /token exchange \(Google STS\) failed \(HTTP 500\)/],
  ] as const) {
    sts.fail = { path: 'token', status, body: JSON.stringify({ error: 'x', error_description: CANARY }) };
    await refusal(t, authorize(await client(), field), kind, message);
  }
  sts.fail = undefined;
  // Granted: a second authorize reuses the token (no second exchange).
  const ok = await client();
  await authorize(ok, field);
  await authorize(ok, field);
  t.equal(sts.exchanges.filter((e) => !e.refused).length, 1, 'one exchange for two authorizations');
  t.equal((await ok.getRequestHeaders()).get('authorization')?.startsWith('Bearer ya29.fake-'), true);
  // Nobody listening.
  const gone = await client();
  await sts.close();
  await refusal(t, authorize(gone, field), 'Unavailable', /could not get an access token|failed/);
});
