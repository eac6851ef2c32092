import { createPrivateKey, X509Certificate } from 'node:crypto';
import t, { type Test } from 'tap';
import type { AwsProvider, SecretKeySelector } from '../../src/api/types.ts';
import { randomPassphrase } from '../../src/providers/aws/certificate-manager.ts';
import { awsProvider } from '../../src/providers/aws/index.ts';
import type { ClientContext, ProviderClient } from '../../src/providers/types.ts';
import { createCertificates } from '../../src/server/certs.ts';
import { AwsAcmFake } from '../fakes/aws-acm.ts';
import { strictIdentity } from './identity-context.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

const spec: AwsProvider = {
  service: 'CertificateManager',
  region: 'eu-west-1',
  prefix: 'not-used-by-acm/',
  auth: {
    secretRef: {
      accessKeyIDSecretRef: { name: 'aws-creds', key: 'access-key' },
      secretAccessKeySecretRef: { name: 'aws-creds', key: 'secret-key' },
    },
  },
};

function ctx(endpoint: string): ClientContext {
  return {
    store: { kind: 'SecretStore', name: 'acm-store', namespace: 'default' },
    namespace: 'default',
    readSecretKey: async (sel: SecretKeySelector) => (sel.key === 'access-key' ? 'AKIDACM' : 'acm-secret'),
    endpoints: { aws: 'http://127.0.0.1:9', awsAcm: endpoint },
    maxAttempts: 1,
    timeoutMs: 2_000,
    ...strictIdentity,
  };
}

const signal = () => AbortSignal.timeout(5_000);
const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

async function setup(t: Test) {
  const fake = await AwsAcmFake.start();
  const client: ProviderClient = await awsProvider.newClient(spec, ctx(fake.endpoint));
  t.teardown(async () => {
    await client.close();
    await fake.close();
  });
  return { fake, client };
}

/** PEM blocks of a bundle, in order. */
function blocks(pem: string): { type: string; pem: string }[] {
  return [...pem.matchAll(/-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----/g)].map((m) => ({
    type: m[1] as string,
    pem: m[0],
  }));
}

t.test('export: certificate, chain and decrypted PKCS#8 key in one PEM bundle, as ESO', async (t) => {
  const { fake, client } = await setup(t);
  const issued = await createCertificates({ hosts: ['app.example.com'] });
  const arn = fake.put({ cert: `${issued.cert}\n\n`, chain: issued.caCert, key: issued.key });

  const out = text(await client.getSecret({ key: arn }, { signal: signal() }));
  const parts = blocks(out);
  t.same(
    parts.map((p) => p.type),
    ['CERTIFICATE', 'CERTIFICATE', 'PRIVATE KEY'],
    'leaf, chain, then an unencrypted PRIVATE KEY block',
  );
  t.ok(out.endsWith('-----END PRIVATE KEY-----\n'), 'one final newline');
  t.notMatch(out, /\n\n/, 'trailing newlines of each part are trimmed, parts joined by one \\n');
  const leaf = new X509Certificate(parts[0]?.pem as string);
  t.ok(leaf.checkPrivateKey(createPrivateKey(parts[2]?.pem as string)), 'the key is the certificate key');
  t.ok(leaf.verify(new X509Certificate(parts[1]?.pem as string).publicKey), 'the chain signs the leaf');
  t.notMatch(out, /ENCRYPTED/);

  t.equal(fake.count('DescribeCertificate'), 1);
  t.equal(fake.count('ExportCertificate'), 1);
  t.same(
    fake.asked.map((a) => a.names[0]),
    [arn, arn],
    'the key is the ARN; the store prefix does not apply',
  );
  t.equal(fake.passphrases[0]?.length, 32);
});

t.test(
  'ExportCertificate only when the serial changes (renewal); DescribeCertificate each read',
  async (t) => {
    const { fake, client } = await setup(t);
    const first = await createCertificates({ hosts: ['app.example.com'] });
    const arn = fake.put({ cert: first.cert, chain: first.caCert, key: first.key });
    const a = text(await client.getSecret({ key: arn }, { signal: signal() }));
    const b = text(await client.getSecret({ key: arn }, { signal: signal() }));
    t.equal(a, b);
    t.equal(fake.count('DescribeCertificate'), 2, 'the serial is checked on every read (free call)');
    t.equal(fake.count('ExportCertificate'), 1, 'the paid export happens once');

    const renewed = await createCertificates({
      hosts: ['app.example.com'],
      ca: { cert: first.caCert, key: first.caKey },
    });
    fake.put({ cert: renewed.cert, chain: first.caCert, key: renewed.key }, arn);
    const c = text(await client.getSecret({ key: arn }, { signal: signal() }));
    t.not(c, a, 'the renewed certificate');
    t.equal(fake.count('ExportCertificate'), 2);
    t.not(fake.passphrases[0]?.digest, fake.passphrases[1]?.digest, 'a fresh passphrase per export');
  },
);

t.test('refusals: not exportable, unknown or malformed ARN, versions; no AWS text', async (t) => {
  const { fake, client } = await setup(t);
  const issued = await createCertificates({ hosts: ['x.example.com'] });
  const locked = fake.put({ cert: issued.cert, key: issued.key, exportable: false });
  await t.rejects(client.getSecret({ key: locked }, { signal: signal() }), {
    name: 'ProviderError',
    kind: 'Invalid',
    message: `aws: certificate "${locked}" is not exportable (Options.Export is not ENABLED)`,
  });
  t.equal(fake.count('ExportCertificate'), 0, 'never exported');
  const missing = 'arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-4000-8000-999999999999';
  await t.rejects(client.getSecret({ key: missing }, { signal: signal() }), {
    kind: 'NotFound',
    message: `aws: certificate "${missing}": ResourceNotFoundException (HTTP 400)`,
  });
  await t.rejects(client.getSecret({ key: 'db-cert' }, { signal: signal() }), {
    kind: 'Invalid',
    message: 'aws: certificate "db-cert": ValidationException (HTTP 400)',
  });
  await t.rejects(client.getSecret({ key: locked, version: '2' }, { signal: signal() }), {
    name: 'ProviderError',
    kind: 'Invalid',
  });
  fake.fault(
    { type: 'error', status: 400, errorType: 'RequestInProgressException' },
    { op: 'DescribeCertificate' },
  );
  await t.rejects(client.getSecret({ key: locked }, { signal: signal() }), {
    name: 'ProviderError',
    kind: 'Unavailable',
  });
  t.equal(client.getSecrets, undefined, 'no batch API');
  t.equal(client.findSecrets, undefined, 'ESO lists no certificates');
  t.equal(client.getMetadata, undefined, 'no metadata');
});

t.test('passphrases: 32 characters of [a-zA-Z0-9]', async (t) => {
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const p = randomPassphrase();
    t.match(p, /^[a-zA-Z0-9]{32}$/);
    seen.add(p);
  }
  t.equal(seen.size, 50);
});
