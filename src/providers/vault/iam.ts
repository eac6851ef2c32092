/**
 * Vault's `aws` auth method, IAM flavour (ESO's auth_iam.go with Vault's api/auth/aws): the
 * login carries a sts:GetCallerIdentity request signed with SigV4 by the store's AWS
 * credentials; Vault replays it to STS to learn who is calling. Nothing is sent to AWS from
 * here except the optional AssumeRole of `role`.
 *
 * - credentials, in ESO's order: `jwt.serviceAccountRef` (the ServiceAccount's IRSA role,
 *   `eks.amazonaws.com/role-arn`, assumed with a TokenRequest token), `secretRef` (access key,
 *   secret key, optional session token), or — for stores allowed this server's identity only —
 *   the SDK's default chain (IRSA, pod identity, instance role);
 * - `role`: an AWS role assumed on top (with `externalID`), as ESO does;
 * - the request: `POST https://sts.<region>.amazonaws.com/` (region default us-east-1, the
 *   regional endpoint Vault's client signs for), body `Action=GetCallerIdentity&Version=2011-06-15`,
 *   `X-Vault-AWS-IAM-Server-ID` signed in when `vaultAwsIamServerID` is set;
 * - the login body: `role` (vaultRole), `iam_http_request_method`, and base64 of the URL, the
 *   body and the headers (JSON as Go's http.Header: canonical names, lists of values).
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { fromNodeProviderChain, fromTemporaryCredentials, fromWebToken } from '@aws-sdk/credential-providers';
import { SignatureV4 } from '@smithy/signature-v4';
import type { VaultProvider } from '../../api/types.ts';
import { stsClientConfig } from '../aws/credentials.ts';
import { type ClientContext, ProviderError } from '../types.ts';

type IamAuth = NonNullable<NonNullable<VaultProvider['auth']>['iam']>;

const FIELD = 'spec.provider.vault.auth.iam';
export const GET_CALLER_IDENTITY = 'Action=GetCallerIdentity&Version=2011-06-15';

interface AwsKeys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** The login body of `auth/<path>/login` for `iam`. */
export async function iamLoginBody(
  iam: IamAuth,
  ctx: ClientContext,
  now: () => number,
): Promise<Record<string, string>> {
  const region = iam.region || 'us-east-1';
  const keys = await iamCredentials(iam, ctx, region);
  return signedCallerIdentity(keys, region, iam.vaultAwsIamServerID, iam.vaultRole ?? '', now);
}

async function iamCredentials(iam: IamAuth, ctx: ClientContext, region: string): Promise<AwsKeys> {
  type Provider = () => Promise<AwsKeys>;
  let base: AwsKeys | Provider | undefined;
  const settings = { region, maxAttempts: ctx.maxAttempts, timeoutMs: ctx.timeoutMs };
  const ref = iam.secretRef;
  if (iam.jwt) {
    // ESO's first choice (CredsFromServiceAccount): the IRSA role of a named ServiceAccount.
    base = await irsaCredentials(iam.jwt.serviceAccountRef, ctx, settings);
  } else if (ref) {
    if (!ref.accessKeyIDSecretRef || !ref.secretAccessKeySecretRef) {
      throw new ProviderError(
        'Invalid',
        `vault: ${FIELD}.secretRef needs accessKeyIDSecretRef and secretAccessKeySecretRef`,
      );
    }
    const keys: AwsKeys = {
      accessKeyId: (
        await ctx.readSecretKey(ref.accessKeyIDSecretRef, `${FIELD}.secretRef.accessKeyIDSecretRef`)
      ).trim(),
      secretAccessKey: (
        await ctx.readSecretKey(ref.secretAccessKeySecretRef, `${FIELD}.secretRef.secretAccessKeySecretRef`)
      ).trim(),
    };
    // ESO: the session token is optional.
    if (ref.sessionTokenSecretRef?.name) {
      keys.sessionToken = (
        await ctx.readSecretKey(ref.sessionTokenSecretRef, `${FIELD}.secretRef.sessionTokenSecretRef`)
      ).trim();
    }
    base = keys;
  } else {
    // Without credentials ESO uses its controller's identity: only stores an admin trusts may.
    ctx.requireAmbientIdentity(
      `${FIELD}`,
      'its own AWS identity (the default credential chain: IRSA, pod identity, instance role)',
    );
    base = fromNodeProviderChain() as Provider;
  }
  if (iam.role) {
    const assumed = fromTemporaryCredentials({
      params: {
        RoleArn: iam.role,
        RoleSessionName: `external-secrets-webhook-${ctx.store.name}`.slice(0, 64),
        ...(iam.externalID ? { ExternalId: iam.externalID } : {}),
      },
      masterCredentials: base,
      clientConfig: stsClientConfig(ctx, settings),
    });
    try {
      return await assumed();
    } catch {
      // The SDK's message may quote STS's body; ours names the field and the role.
      throw new ProviderError('Forbidden', `vault: ${FIELD}.role: could not assume role "${iam.role}"`);
    }
  }
  if (typeof base === 'function') {
    try {
      return await base();
    } catch {
      throw new ProviderError(
        'Forbidden',
        `vault: ${FIELD}: no AWS credentials in this server's environment`,
      );
    }
  }
  return base;
}

const ROLE_ARN_ANNOTATION = 'eks.amazonaws.com/role-arn';
const AUDIENCE_ANNOTATION = 'eks.amazonaws.com/audience';

/**
 * `jwt.serviceAccountRef`, as ESO: the role of the ServiceAccount's `eks.amazonaws.com/role-arn`
 * annotation, assumed with AssumeRoleWithWebIdentity and a TokenRequest token whose audiences are
 * the `eks.amazonaws.com/audience` annotation (default `sts.amazonaws.com`) and the selector's.
 */
async function irsaCredentials(
  sa: { name?: string; namespace?: string; audiences?: string[] } | undefined,
  ctx: ClientContext,
  settings: { region: string; maxAttempts: number; timeoutMs: number },
): Promise<AwsKeys> {
  const field = `${FIELD}.jwt.serviceAccountRef`;
  if (!sa?.name) throw new ProviderError('Invalid', `vault: ${field}.name is required`);
  if (!ctx.serviceAccountAnnotations || !ctx.serviceAccountToken) {
    throw new ProviderError(
      'Invalid',
      `vault: ${field}: ServiceAccounts and their tokens are only available in cluster mode`,
    );
  }
  const selector = { name: sa.name, ...(sa.namespace ? { namespace: sa.namespace } : {}) };
  const annotations = await ctx.serviceAccountAnnotations(selector, field);
  const roleArn = annotations[ROLE_ARN_ANNOTATION];
  if (!roleArn) {
    throw new ProviderError(
      'Invalid',
      `vault: ${field}: ServiceAccount "${sa.name}" has no ${ROLE_ARN_ANNOTATION} annotation (an IAM role must be associated with it)`,
    );
  }
  const audiences = [annotations[AUDIENCE_ANNOTATION] || 'sts.amazonaws.com', ...(sa.audiences ?? [])];
  const webIdentityToken = await ctx.serviceAccountToken({ ...selector, audiences });
  try {
    return await fromWebToken({
      roleArn,
      roleSessionName: 'external-secrets-provider-vault',
      webIdentityToken,
      clientConfig: stsClientConfig(ctx, settings),
    })();
  } catch {
    // The SDK's message may quote STS's body; ours names the field and the role.
    throw new ProviderError(
      'Forbidden',
      `vault: ${field}: AssumeRoleWithWebIdentity of role "${roleArn}" was refused`,
    );
  }
}

/** The signed sts:GetCallerIdentity request as Vault's aws login expects it. */
export async function signedCallerIdentity(
  keys: AwsKeys,
  region: string,
  serverId: string | undefined,
  vaultRole: string,
  now: () => number,
): Promise<Record<string, string>> {
  const hostname = `sts.${region}.amazonaws.com`;
  const headers: Record<string, string> = {
    host: hostname,
    'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
  };
  if (serverId) headers['x-vault-aws-iam-server-id'] = serverId;
  const signer = new SignatureV4({
    service: 'sts',
    region,
    credentials: keys,
    sha256: NodeSha256,
    // Go's signer (which Vault's client uses) adds no X-Amz-Content-Sha256 for STS.
    applyChecksum: false,
  });
  const signed = await signer.sign(
    {
      method: 'POST',
      protocol: 'https:',
      hostname,
      path: '/',
      query: {},
      headers,
      body: GET_CALLER_IDENTITY,
    },
    { signingDate: new Date(now()) },
  );
  const goHeaders: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(signed.headers)) goHeaders[canonicalHeader(name)] = [value];
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  return {
    role: vaultRole,
    iam_http_request_method: 'POST',
    iam_request_url: b64(`https://${hostname}/`),
    iam_request_body: b64(GET_CALLER_IDENTITY),
    iam_request_headers: b64(JSON.stringify(goHeaders)),
  };
}

/** Go's textproto.CanonicalMIMEHeaderKey: `x-amz-date` → `X-Amz-Date`. */
function canonicalHeader(name: string): string {
  return name
    .toLowerCase()
    .split('-')
    .map((w) => (w ? w[0]?.toUpperCase() + w.slice(1) : w))
    .join('-');
}

/** The hash the signer needs (SHA-256, HMAC when given a key), on node:crypto. */
class NodeSha256 {
  readonly #h: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#h = secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#h.update(toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#h.digest());
  }
  reset(): void {
    throw new Error('not supported');
  }
}

function toBuffer(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}
