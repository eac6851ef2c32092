/**
 * AWS Parameter Store, Certificate Manager and `metadataPolicy: Fetch` end to end on the cluster
 * double: stores and ExternalSecrets go through the API server's admission chain (the validating
 * webhook), the refresher syncs them with the real SDK clients against the SSM, ACM and Secrets
 * Manager fakes, and nothing secret reaches logs, Events, statuses or metrics.
 */
import { createPrivateKey, randomUUID, X509Certificate } from 'node:crypto';
import { CustomObjectsApi } from '@kubernetes/client-node';
import t from 'tap';
import { createCertificates } from '../../src/server/certs.ts';
import { startCluster, targetData, waitFor } from '../cluster-helpers.ts';
import { AwsAcmFake } from '../fakes/aws-acm.ts';
import { AwsSsmFake } from '../fakes/aws-ssm.ts';

const CANARY = `CANARY-${randomUUID()}`;

const credentials = {
  secretRef: {
    accessKeyIDSecretRef: { name: 'aws-credentials', key: 'access-key' },
    secretAccessKeySecretRef: { name: 'aws-credentials', key: 'secret-access-key' },
  },
};

function store(name: string, service: string) {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind: 'SecretStore',
    metadata: { name, namespace: 'default' },
    spec: { provider: { aws: { service, region: 'eu-west-1', auth: credentials } } },
  };
}

function externalSecret(name: string, spec: Record<string, unknown>) {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name, namespace: 'default' },
    spec: { refreshInterval: '1h', target: { name: `${name}-target`, creationPolicy: 'Owner' }, ...spec },
  };
}

t.test('Parameter Store, ACM and tags sync through the admission chain and the refresher', async (t) => {
  const { api, aws, startReplica } = await startCluster(t);
  const [ssm, acm] = await Promise.all([AwsSsmFake.start(), AwsAcmFake.start()]);
  t.teardown(() => Promise.all([ssm.close(), acm.close()]));

  ssm.put('/payments/db', JSON.stringify({ user: 'app', password: 'old' }), { type: 'SecureString' });
  ssm.put('/payments/db', JSON.stringify({ user: 'app', password: CANARY }), {
    type: 'SecureString',
    labels: ['live'],
    tags: { team: 'payments', tier: 'gold' },
  });
  ssm.put('/payments/config/url', 'https://pay.example');
  ssm.put('/payments/config/timeout', '30');
  const issued = await createCertificates({ hosts: ['pay.example.com'] });
  const arn = acm.put({ cert: issued.cert, chain: issued.caCert, key: issued.key });
  aws.put('shared/api', CANARY, { tags: { owner: 'platform', 'cost<center>': 'a&b' } });

  const { server, lines, metrics } = await startReplica('esw-0', undefined, {
    endpoints: { awsSsm: ssm.endpoint, awsAcm: acm.endpoint },
    // The value cache on, as in production: the refresher's prefetch warms it for the sync.
    cacheTtlMs: 600_000,
  });
  await waitFor('replica ready', () => server.readiness().ready || undefined);

  const custom = api.kubeConfig({ token: 'admin-token' }).makeApiClient(CustomObjectsApi);
  const create = (plural: string, body: Record<string, unknown>) =>
    custom.createNamespacedCustomObject({
      group: 'external-secrets.io',
      version: 'v1',
      namespace: 'default',
      plural,
      body,
    });
  await create('secretstores', store('ssm', 'ParameterStore'));
  await create('secretstores', store('acm', 'CertificateManager'));

  await create(
    'externalsecrets',
    externalSecret('params', {
      secretStoreRef: { name: 'ssm', kind: 'SecretStore' },
      data: [
        { secretKey: 'password', remoteRef: { key: '/payments/db', property: 'password' } },
        { secretKey: 'old-password', remoteRef: { key: '/payments/db', version: '1', property: 'password' } },
        { secretKey: 'live-user', remoteRef: { key: '/payments/db', version: 'live', property: 'user' } },
        { secretKey: 'team', remoteRef: { key: '/payments/db', metadataPolicy: 'Fetch', property: 'team' } },
      ],
      dataFrom: [
        {
          find: { path: '/payments/config' },
          rewrite: [{ regexp: { source: '^/payments/config/', target: '' } }],
        },
      ],
    }),
  );
  await create(
    'externalsecrets',
    externalSecret('tls', {
      secretStoreRef: { name: 'acm', kind: 'SecretStore' },
      target: {
        name: 'tls-target',
        creationPolicy: 'Owner',
        template: {
          type: 'kubernetes.io/tls',
          data: {
            'tls.crt': '{{ .bundle | filterPEM "CERTIFICATE" }}',
            'tls.key': '{{ .bundle | filterPEM "PRIVATE KEY" }}',
          },
        },
      },
      data: [{ secretKey: 'bundle', remoteRef: { key: arn } }],
    }),
  );
  await create(
    'externalsecrets',
    externalSecret('tags', {
      secretStoreRef: { name: 'aws-store', kind: 'SecretStore' },
      data: [{ secretKey: 'all-tags', remoteRef: { key: 'shared/api', metadataPolicy: 'Fetch' } }],
      dataFrom: [{ extract: { key: 'shared/api', metadataPolicy: 'Fetch' } }],
    }),
  );

  const params = await waitFor('the Parameter Store target', () => targetData(api, 'params'));
  t.same(params, {
    password: CANARY,
    'old-password': 'old',
    'live-user': 'app',
    team: 'payments',
    url: 'https://pay.example',
    timeout: '30',
  });
  t.equal(ssm.count('GetParameter'), 0, 'no single reads: the three selectors went in one batch');
  t.ok(ssm.count('GetParameters') >= 1);
  t.ok(ssm.decryption.every(Boolean), 'SecureStrings are read decrypted');

  const tls = await waitFor('the ACM target', () => targetData(api, 'tls'));
  t.equal(
    new X509Certificate(tls['tls.crt'] as string).fingerprint256,
    new X509Certificate(issued.cert).fingerprint256,
    'the leaf comes first',
  );
  t.ok(
    new X509Certificate(tls['tls.crt'] as string).checkPrivateKey(createPrivateKey(tls['tls.key'] as string)),
    'tls.key is the key of tls.crt',
  );
  t.match(tls['tls.crt'], /^-----BEGIN CERTIFICATE-----[\s\S]+-----BEGIN CERTIFICATE-----/, 'leaf and chain');
  t.match(tls['tls.key'], /^-----BEGIN PRIVATE KEY-----/);
  t.equal((api.get('secrets', 'default', 'tls-target') as { type?: string }).type, 'kubernetes.io/tls');
  t.equal(acm.count('ExportCertificate'), 1);

  const tags = await waitFor('the tags target', () => targetData(api, 'tags'));
  t.same(tags, {
    'all-tags': '{"cost\\u003ccenter\\u003e":"a\\u0026b","owner":"platform"}',
    owner: 'platform',
    cost_center_: 'a&b',
  });
  t.equal(aws.count('DescribeSecret'), 1, 'two references to the tags (and the prefetch), one call');
  t.equal(aws.count('GetSecretValue') + aws.count('BatchGetSecretValue'), 0, 'the value is never read');

  for (const name of ['params', 'tls', 'tags']) {
    const ready = await waitFor(`${name} Ready`, () => {
      const es = api.get('externalsecrets', 'default', name) as {
        status?: { conditions?: { type: string; status: string }[] };
      };
      return es.status?.conditions?.find((c) => c.type === 'Ready')?.status;
    });
    t.equal(ready, 'True', `${name} is Ready`);
  }

  const events = JSON.stringify(api.list('events'));
  const statuses = JSON.stringify(api.list('externalsecrets').map((o) => (o as { status?: unknown }).status));
  const metricsText = await metrics.registry.metrics();
  for (const [where, text] of [
    ['logs', lines.join('\n')],
    ['events', events],
    ['statuses', statuses],
    ['metrics', metricsText],
  ] as const) {
    t.notOk(text.includes(CANARY), `no value in ${where}`);
    t.notOk(text.includes('PRIVATE KEY'), `no private key in ${where}`);
  }
});

t.test('what an ACM store cannot answer is refused by the API server, naming the field', async (t) => {
  const { api, startReplica } = await startCluster(t);
  const { server } = await startReplica('esw-0');
  await waitFor('replica ready', () => server.readiness().ready || undefined);
  const custom = api.kubeConfig({ token: 'admin-token' }).makeApiClient(CustomObjectsApi);
  await custom.createNamespacedCustomObject({
    group: 'external-secrets.io',
    version: 'v1',
    namespace: 'default',
    plural: 'secretstores',
    body: store('acm', 'CertificateManager'),
  });
  const refused = await custom
    .createNamespacedCustomObject({
      group: 'external-secrets.io',
      version: 'v1',
      namespace: 'default',
      plural: 'externalsecrets',
      body: externalSecret('bad', {
        secretStoreRef: { name: 'acm', kind: 'SecretStore' },
        data: [{ secretKey: 'crt', remoteRef: { key: 'my-cert', property: 'certificate' } }],
      }),
    })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  const body = JSON.stringify((refused as { body?: unknown })?.body ?? refused);
  t.match(body, /spec\.data\[0\]\.remoteRef\.key/);
  t.match(body, /an ACM remoteRef\.key is the certificate ARN/);
  t.match(body, /spec\.data\[0\]\.remoteRef\.property/);
  t.equal(api.get('externalsecrets', 'default', 'bad'), undefined, 'not stored');
});
