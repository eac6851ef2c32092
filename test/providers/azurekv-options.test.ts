import t from 'tap';
import type { AzureKvProvider } from '../../src/api/types.ts';
import { parseObjectName } from '../../src/providers/azurekv/objects.ts';
import { azureCredentialPlan, azureKvClientOptions } from '../../src/providers/azurekv/options.ts';

const base: AzureKvProvider = {
  vaultUrl: 'https://my-vault.vault.azure.net',
  tenantId: 'tenant-1',
  authType: 'ServicePrincipal',
};

t.test('client options: bounded retries, timeout, no test hooks by default', async (t) => {
  const o = azureKvClientOptions({ spec: base, endpoints: {}, maxAttempts: 3, timeoutMs: 4_000 });
  t.equal(o.vaultUrl, 'https://my-vault.vault.azure.net');
  t.equal(o.cloud, 'PublicCloud');
  t.equal(o.authorityHost, 'https://login.microsoftonline.com');
  t.equal(o.scope, 'https://vault.azure.net/.default');
  t.same(o.client.retryOptions, { maxRetries: 2, retryDelayInMs: 200, maxRetryDelayInMs: 2_000 });
  t.equal(o.requestTimeoutMs, 4_000);
  t.notOk(o.client.tlsOptions, 'the system trust store unless the operator gives a CA');
  t.notOk(o.client.disableChallengeResourceVerification, 'the challenge resource is verified');

  const one = azureKvClientOptions({ spec: base, endpoints: {}, maxAttempts: 1, timeoutMs: 100 });
  t.equal(one.client.retryOptions?.maxRetries, 0, 'maxAttempts 1 = no retry');
  t.equal(one.client.retryOptions?.maxRetryDelayInMs, 200);
  const zero = azureKvClientOptions({ spec: base, endpoints: {}, maxAttempts: 0, timeoutMs: 100 });
  t.equal(zero.client.retryOptions?.maxRetries, 0, 'never negative');
});

t.test('environments map to their authority and Key Vault domain', async (t) => {
  const cases = [
    ['PublicCloud', 'https://login.microsoftonline.com', 'https://vault.azure.net/.default'],
    ['USGovernmentCloud', 'https://login.microsoftonline.us', 'https://vault.usgovcloudapi.net/.default'],
    ['ChinaCloud', 'https://login.chinacloudapi.cn', 'https://vault.azure.cn/.default'],
    ['GermanCloud', 'https://login.microsoftonline.de', 'https://vault.microsoftazure.de/.default'],
  ] as const;
  for (const [env, authority, scope] of cases) {
    const o = azureKvClientOptions({
      spec: { ...base, environmentType: env },
      endpoints: {},
      maxAttempts: 1,
      timeoutMs: 1_000,
    });
    t.equal(o.authorityHost, authority, `${env} authority`);
    t.equal(o.scope, scope, `${env} scope`);
  }
  const opts = (spec: AzureKvProvider) =>
    azureKvClientOptions({ spec: { ...base, ...spec }, endpoints: {}, maxAttempts: 1, timeoutMs: 1_000 });
  t.throws(() => opts({ environmentType: 'AzureStackCloud' }), /AzureStackCloud needs customCloudConfig/);
  t.throws(
    () => opts({ environmentType: 'GermanCloud', useAzureSDK: true }),
    /GermanCloud: Microsoft Cloud Deutschland was discontinued/,
    'as ESO: the new SDK has no German cloud',
  );
  t.equal(opts({ environmentType: 'GermanCloud' }).authorityHost, 'https://login.microsoftonline.de');
  t.throws(
    () => azureKvClientOptions({ spec: { tenantId: 'x' }, endpoints: {}, maxAttempts: 1, timeoutMs: 1 }),
    /vaultUrl is required/,
  );
});

t.test('operator overrides: CA, challenge verification, authority host', async (t) => {
  const o = azureKvClientOptions({
    spec: base,
    endpoints: {
      azureCa: '-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n',
      azureDisableChallengeResourceVerification: true,
      azureAuthorityHost: 'https://127.0.0.1:9999',
      aws: 'http://ignored',
    },
    maxAttempts: 2,
    timeoutMs: 1_000,
  });
  t.match(o.client.tlsOptions, { ca: /BEGIN CERTIFICATE/ });
  t.equal(o.client.disableChallengeResourceVerification, true);
  t.equal(o.authorityHost, 'https://127.0.0.1:9999');
});

t.test('credential plans per authType', async (t) => {
  t.same(azureCredentialPlan(base, { clientId: 'cid', clientSecret: 's3cr3t' }), {
    type: 'ClientSecret',
    tenantId: 'tenant-1',
    clientId: 'cid',
    clientSecret: 's3cr3t',
  });
  t.same(
    azureCredentialPlan(
      { ...base, tenantId: undefined },
      { clientId: 'cid', clientCertificate: 'PEM', tenantId: 't2' },
    ),
    { type: 'ClientCertificate', tenantId: 't2', clientId: 'cid', certificatePem: 'PEM' },
    'tenant from authSecretRef when the spec has none; certificate instead of secret',
  );
  t.throws(
    () => azureCredentialPlan({ ...base, tenantId: undefined }, { clientId: 'c', clientSecret: 's' }),
    /tenantId/,
  );
  t.throws(() => azureCredentialPlan(base, { clientSecret: 's' }), /clientId/);
  t.throws(() => azureCredentialPlan(base, { clientId: 'c' }), /clientSecret/);
  t.throws(
    () => azureCredentialPlan(base, { clientId: 'c', clientSecret: 's', clientCertificate: 'p' }),
    /not both/,
  );
  t.same(
    azureCredentialPlan({ ...base, authType: undefined }, { clientId: 'c', clientSecret: 's' }).type,
    'ClientSecret',
    'ServicePrincipal is the default',
  );

  const mi = { vaultUrl: base.vaultUrl, authType: 'ManagedIdentity' } as const;
  t.same(azureCredentialPlan(mi, {}), { type: 'ManagedIdentity' }, 'system-assigned');
  t.same(azureCredentialPlan({ ...mi, identityId: 'client-guid' }, {}), {
    type: 'ManagedIdentity',
    clientId: 'client-guid',
  });
  const rid =
    '/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/i';
  t.same(azureCredentialPlan({ ...mi, identityId: rid }, {}), { type: 'ManagedIdentity', resourceId: rid });

  const wi = { vaultUrl: base.vaultUrl, authType: 'WorkloadIdentity', tenantId: 'tw' } as const;
  t.same(
    azureCredentialPlan({ ...wi, serviceAccountRef: { name: 'app', namespace: 'ns' } }, { clientId: 'wc' }),
    {
      type: 'WorkloadIdentity',
      tenantId: 'tw',
      clientId: 'wc',
      serviceAccount: { name: 'app', namespace: 'ns' },
      audiences: ['api://AzureADTokenExchange'],
    },
  );
  // The ServiceAccount's annotations, as ESO reads them; spec audiences appended.
  t.same(
    azureCredentialPlan(
      {
        vaultUrl: base.vaultUrl,
        authType: 'WorkloadIdentity',
        serviceAccountRef: { name: 'app', audiences: ['x'] },
      },
      { saClientId: 'ac', saTenantId: 'at', ownClientId: 'own', ownTenantId: 'ot' },
    ),
    {
      type: 'WorkloadIdentity',
      tenantId: 'at',
      clientId: 'ac',
      serviceAccount: { name: 'app' },
      audiences: ['api://AzureADTokenExchange', 'x'],
    },
  );
  t.match(
    azureCredentialPlan(
      { ...wi, serviceAccountRef: { name: 'app' } },
      { clientId: 'wc', saClientId: 'wc', saTenantId: 'tw' },
    ),
    { clientId: 'wc', tenantId: 'tw' },
    'the same IDs twice are fine',
  );
  t.throws(
    () =>
      azureCredentialPlan(
        { ...wi, serviceAccountRef: { name: 'app' } },
        { clientId: 'wc', saClientId: 'other' },
      ),
    /authSecretRef.clientId and the ServiceAccount annotation azure.workload.identity\/client-id name different client IDs/,
  );
  t.throws(
    () =>
      azureCredentialPlan(
        { ...wi, serviceAccountRef: { name: 'app' } },
        { clientId: 'wc', saTenantId: 'other' },
      ),
    /different tenants/,
  );
  t.throws(
    () =>
      azureCredentialPlan(
        { vaultUrl: base.vaultUrl, authType: 'WorkloadIdentity', serviceAccountRef: { name: 'app' } },
        { saClientId: 'ac', ownTenantId: 'ot' },
      ),
    /needs a tenant: set tenantId, authSecretRef.tenantId or the ServiceAccount annotation azure.workload.identity\/tenant-id/,
    "a named ServiceAccount never borrows this server's tenant",
  );
  t.same(
    azureCredentialPlan(
      { vaultUrl: base.vaultUrl, authType: 'WorkloadIdentity' },
      { ownClientId: 'own', ownTenantId: 'ot' },
    ),
    {
      type: 'WorkloadIdentity',
      tenantId: 'ot',
      clientId: 'own',
      serviceAccount: {},
      audiences: ['api://AzureADTokenExchange'],
    },
    "no serviceAccountRef: this server's own identity, as ESO",
  );
  t.throws(
    () => azureCredentialPlan({ ...wi, serviceAccountRef: { name: 'app' } }, { ownClientId: 'own' }),
    /needs a client ID/,
    "a named ServiceAccount never borrows this server's client ID",
  );
});

t.test('custom clouds: AzureStackCloud and customCloudConfig as ESO reads them', async (t) => {
  const opts = (spec: AzureKvProvider) =>
    azureKvClientOptions({ spec: { ...base, ...spec }, endpoints: {}, maxAttempts: 1, timeoutMs: 1_000 });
  const stack = opts({
    vaultUrl: 'https://kv1.vault.local.azurestack.external',
    environmentType: 'AzureStackCloud',
    useAzureSDK: true,
    customCloudConfig: {
      activeDirectoryEndpoint: 'https://adfs.local.azurestack.external/adfs/',
      keyVaultDNSSuffix: '.vault.local.azurestack.external',
      resourceManagerEndpoint: 'https://management.local.azurestack.external/',
    },
  });
  t.equal(stack.authorityHost, 'https://adfs.local.azurestack.external/adfs/', 'the authority named');
  t.equal(stack.customAuthority, true, 'no instance discovery against the public cloud');
  t.equal(stack.scope, 'https://vault.local.azurestack.external/.default');
  t.equal(stack.newSdk, true);

  // customCloudConfig on a named cloud (AKS in China): its authority replaces the cloud's.
  const china = opts({
    environmentType: 'ChinaCloud',
    useAzureSDK: true,
    customCloudConfig: { activeDirectoryEndpoint: 'https://login.partner.microsoftonline.cn/' },
  });
  t.equal(china.authorityHost, 'https://login.partner.microsoftonline.cn/');
  t.equal(china.scope, 'https://vault.azure.cn/.default');

  t.throws(
    () => opts({ customCloudConfig: { activeDirectoryEndpoint: 'https://login.example' } }),
    /requires useAzureSDK: true/,
  );
  for (const bad of ['http://login.example', 'not a url', '', 'https://user:pw@login.example']) {
    t.throws(
      () =>
        opts({
          environmentType: 'AzureStackCloud',
          useAzureSDK: true,
          customCloudConfig: { activeDirectoryEndpoint: bad },
        }),
      /activeDirectoryEndpoint must be an https URL/,
      JSON.stringify(bad),
    );
  }
  // An operator's authority override (tests, proxies) still wins.
  const over = azureKvClientOptions({
    spec: {
      ...base,
      environmentType: 'AzureStackCloud',
      useAzureSDK: true,
      customCloudConfig: { activeDirectoryEndpoint: 'https://adfs.example/adfs' },
    },
    endpoints: { azureAuthorityHost: 'https://127.0.0.1:1' },
    maxAttempts: 1,
    timeoutMs: 1,
  });
  t.equal(over.authorityHost, 'https://127.0.0.1:1');
});

t.test('object names follow ESO: secret by default, typed prefixes', async (t) => {
  t.same(parseObjectName('secret/a/b'), { type: 'secret', name: 'a' }, 'later segments are ignored');
  t.same(parseObjectName('db-password'), { type: 'secret', name: 'db-password' });
  t.same(parseObjectName('secret/db-password'), { type: 'secret', name: 'db-password' });
  t.same(parseObjectName('key/signing'), { type: 'key', name: 'signing' });
  t.same(parseObjectName('cert/tls'), { type: 'cert', name: 'tls' });
});
