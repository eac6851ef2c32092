import { generateKeyPairSync, randomUUID } from 'node:crypto';
import t from 'tap';
import { gcpAuthClient, parseGcpCredential } from '../../src/providers/gcpsm/credentials.ts';
import { ProviderError } from '../../src/providers/types.ts';

const CANARY = `CANARY-${randomUUID()}`;
const field = 'spec.provider.gcpsm.auth.secretRef.secretAccessKeySecretRef';
const strict = { allowExternalAccount: false, field };
const allowed = { allowExternalAccount: true, field };
const pem = generateKeyPairSync('rsa', { modulusLength: 2048 })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();
const key = {
  type: 'service_account',
  project_id: 'p',
  private_key_id: 'kid',
  private_key: pem,
  client_email: 'a@p.iam.gserviceaccount.com',
  token_uri: 'https://oauth2.googleapis.com/token',
  client_id: '1',
};
const external = {
  type: 'external_account',
  audience: '//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/k',
  subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
  token_url: 'https://sts.googleapis.com/v1/token',
  service_account_impersonation_url:
    'https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/a@p.iam.gserviceaccount.com:generateAccessToken',
};

function refusal(json: string, policy = strict): string {
  try {
    parseGcpCredential(json, policy);
  } catch (err: unknown) {
    t.ok(err instanceof ProviderError && err.kind === 'Invalid', 'an Invalid ProviderError');
    t.notMatch((err as Error).message, CANARY, 'the JSON is never echoed');
    t.notMatch((err as Error).message, 'PRIVATE KEY');
    return (err as Error).message;
  }
  t.fail('accepted');
  return '';
}

t.test('service_account keys are parsed into explicit fields', async (t) => {
  t.same(parseGcpCredential(JSON.stringify(key), strict), {
    type: 'service_account',
    clientEmail: key.client_email,
    privateKey: pem,
    privateKeyId: 'kid',
    projectId: 'p',
  });
  const client = await gcpAuthClient(parseGcpCredential(JSON.stringify(key), strict), { field });
  t.equal((client as unknown as { email: string }).email, key.client_email);
  t.equal((client as unknown as { useJWTAccessWithScope: boolean }).useJWTAccessWithScope, true);
  const headers = await client.getRequestHeaders('https://secretmanager.googleapis.com/');
  t.match(headers.get('authorization'), /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/, 'a self-signed JWT, no network');
});

t.test('what a credential JSON may not do', async (t) => {
  for (const [what, json, policy, message] of [
    ['not JSON', `{${CANARY}`, strict, /the credential is not valid JSON/],
    ['an array', '[1]', strict, /not a JSON object/],
    ['no type', JSON.stringify({ private_key: CANARY }), strict, /credential type \(none\) is not accepted/],
    [
      'authorized_user',
      JSON.stringify({ type: 'authorized_user', refresh_token: CANARY }),
      allowed,
      /"authorized_user" is not accepted/,
    ],
    ['no email', JSON.stringify({ ...key, client_email: undefined }), strict, /needs "client_email"/],
    ['a key that is no key', JSON.stringify({ ...key, private_key: CANARY }), strict, /needs "private_key"/],
    [
      'a foreign token_uri',
      JSON.stringify({ ...key, token_uri: 'http://127.0.0.1:1/t' }),
      strict,
      /"token_uri" must be Google's/,
    ],
    [
      'a foreign universe',
      JSON.stringify({ ...key, universe_domain: 'x.example' }),
      strict,
      /"universe_domain"/,
    ],
    [
      'a number where a string goes',
      JSON.stringify({ ...key, client_email: 5 }),
      strict,
      /"client_email" must be a string/,
    ],
    [
      'external_account, not allowed',
      JSON.stringify(external),
      strict,
      /needs a cluster admin to allow it \(--allow-gcp-external-account\)/,
    ],
    [
      'file source',
      JSON.stringify({ ...external, credential_source: { file: '/etc/passwd' } }),
      allowed,
      /"credential_source\.file" is not allowed/,
    ],
    [
      'url source',
      JSON.stringify({ ...external, credential_source: { url: 'http://169.254.169.254/' } }),
      allowed,
      /"credential_source\.url" is not allowed/,
    ],
    [
      'executable source',
      JSON.stringify({ ...external, credential_source: { executable: { command: 'id' } } }),
      allowed,
      /"credential_source\.executable" is not allowed/,
    ],
    [
      'aws source',
      JSON.stringify({ ...external, credential_source: { environment_id: 'aws1' } }),
      allowed,
      /"credential_source\.environment_id" is not allowed/,
    ],
    [
      'certificate source',
      JSON.stringify({ ...external, credential_source: { certificate: {} } }),
      allowed,
      /"credential_source\.certificate" is not allowed/,
    ],
    [
      'an unknown source',
      JSON.stringify({ ...external, credential_source: { other: 1 } }),
      allowed,
      /"credential_source" is not allowed/,
    ],
    [
      'a foreign token_url',
      JSON.stringify({ ...external, token_url: 'https://attacker.example/token' }),
      allowed,
      /"token_url" must be https:\/\/sts\.googleapis\.com\/v1\/token/,
    ],
    [
      'a foreign impersonation URL',
      JSON.stringify({ ...external, service_account_impersonation_url: 'https://attacker.example/x' }),
      allowed,
      /"service_account_impersonation_url" must be/,
    ],
    ['no audience', JSON.stringify({ ...external, audience: undefined }), allowed, /needs "audience"/],
  ] as const) {
    t.match(refusal(json, policy), message, what);
  }
});

t.test('an allowed external_account needs a subject-token supplier this server controls', async (t) => {
  const parsed = parseGcpCredential(JSON.stringify(external), allowed);
  t.same(parsed, {
    type: 'external_account',
    audience: external.audience,
    subjectTokenType: external.subject_token_type,
    serviceAccountImpersonationUrl: external.service_account_impersonation_url,
  });
  await t.rejects(gcpAuthClient(parsed, { field }), {
    kind: 'Invalid',
    message: /needs a subject token from a Kubernetes ServiceAccount/,
  });
  const supplied: string[] = [];
  const client = await gcpAuthClient(parsed, {
    field,
    subjectTokenSupplier: {
      getSubjectToken: async () => {
        supplied.push('asked');
        return 'k8s-token';
      },
    },
  });
  t.equal(client.constructor.name, 'IdentityPoolClient');
  t.same(supplied, [], 'building the client fetches nothing');
});
