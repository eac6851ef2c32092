import t from 'tap';
import { validateObject } from '../../src/api/validate.ts';
import { DELETE, patch } from './manifest-patch.ts';

const ES_V1 = {
  apiVersion: 'external-secrets.io/v1',
  kind: 'ExternalSecret',
  metadata: { name: 'db', namespace: 'default' },
  spec: {
    refreshInterval: '1h',
    secretStoreRef: { name: 'store', kind: 'SecretStore' },
    target: { name: 'database-credentials' },
    data: [
      { secretKey: 'username', remoteRef: { key: 'my-app/db', property: 'username' } },
      { secretKey: 'password', remoteRef: { key: 'my-app/db', property: 'password' } },
    ],
  },
};
const ES_V1BETA1 = patch(ES_V1, { apiVersion: 'external-secrets.io/v1beta1' });

const STORE = (provider: Record<string, unknown>, kind = 'SecretStore') => ({
  apiVersion: 'external-secrets.io/v1',
  kind,
  metadata: kind === 'SecretStore' ? { name: 'store', namespace: 'team-a' } : { name: 'store' },
  spec: { provider },
});
const AWS = STORE({
  aws: {
    service: 'SecretsManager',
    region: 'us-east-1',
    auth: {
      secretRef: {
        accessKeyIDSecretRef: { name: 'aws', key: 'id' },
        secretAccessKeySecretRef: { name: 'aws', key: 'secret' },
      },
    },
  },
});
const VAULT = STORE({
  vault: {
    server: 'https://vault.example.com:8200',
    path: 'secret',
    version: 'v2',
    auth: { tokenSecretRef: { name: 'vault-token', key: 'token' } },
  },
});
const AZURE = STORE({
  azurekv: {
    vaultUrl: 'https://my-vault.vault.azure.net',
    tenantId: 'tenant',
    authSecretRef: { clientId: { name: 'sp', key: 'id' }, clientSecret: { name: 'sp', key: 'secret' } },
  },
});
const GCP = STORE({
  gcpsm: {
    projectID: 'my-project',
    auth: { secretRef: { secretAccessKeySecretRef: { name: 'gcp', key: 'key.json' } } },
  },
});
const FAKE = STORE({ fake: { data: [{ key: '/foo', value: 'bar' }] } });
const CSS_VAULT = patch(VAULT, { kind: 'ClusterSecretStore', 'metadata.namespace': DELETE });

interface Case {
  name: string;
  object: unknown;
  field: string;
  message: string;
}

const cases: Case[] = [
  // ---------------------------------------------------------------- ESO webhook: policies
  {
    name: 'deletionPolicy Delete with creationPolicy Merge',
    object: patch(ES_V1, { 'spec.target.deletionPolicy': 'Delete', 'spec.target.creationPolicy': 'Merge' }),
    field: 'spec.target.deletionPolicy',
    message: "deletionPolicy=Delete must not be used when the controller doesn't own the secret",
  },
  {
    name: 'deletionPolicy Delete with creationPolicy None',
    object: patch(ES_V1, { 'spec.target.deletionPolicy': 'Delete', 'spec.target.creationPolicy': 'None' }),
    field: 'spec.target.deletionPolicy',
    message: 'Please set creationPolicy=Owner',
  },
  {
    name: 'deletionPolicy Delete with creationPolicy CreateOrMerge',
    object: patch(ES_V1, {
      'spec.target.deletionPolicy': 'Delete',
      'spec.target.creationPolicy': 'CreateOrMerge',
    }),
    field: 'spec.target.deletionPolicy',
    message: 'creationPolicy=CreateOrMerge',
  },
  {
    name: 'deletionPolicy Merge with creationPolicy None',
    object: patch(ES_V1, { 'spec.target.deletionPolicy': 'Merge', 'spec.target.creationPolicy': 'None' }),
    field: 'spec.target.deletionPolicy',
    message: 'deletionPolicy=Merge must not be used with creationPolicy=None',
  },
  // ---------------------------------------------------------------- esw.io/change-feed (push-refresh.md)
  {
    name: 'gcpsm store with a change feed that is not a Pub/Sub subscription',
    object: patch(GCP, {
      'metadata.annotations': {
        'esw.io/change-feed': 'https://pubsub.example.com/projects/p/subscriptions/s',
      },
    }),
    field: 'metadata.annotations[esw.io/change-feed]',
    message:
      'must be a Pub/Sub subscription (projects/<project>/subscriptions/<subscription>) for a gcpsm store',
  },
  {
    name: 'gcpsm store with a topic as its change feed',
    object: patch(GCP, { 'metadata.annotations': { 'esw.io/change-feed': 'projects/my-project/topics/t' } }),
    field: 'metadata.annotations[esw.io/change-feed]',
    message: 'must be a Pub/Sub subscription',
  },
  {
    name: 'aws store with a Pub/Sub subscription as its change feed',
    object: patch(AWS, {
      'metadata.annotations': { 'esw.io/change-feed': 'projects/my-project/subscriptions/esw-changes' },
    }),
    field: 'metadata.annotations[esw.io/change-feed]',
    message: 'must be an SQS queue URL',
  },
  {
    name: 'a change feed address past 1024 characters',
    object: patch(GCP, {
      'metadata.annotations': {
        'esw.io/change-feed': `projects/my-project/subscriptions/${'a'.repeat(1100)}`,
      },
    }),
    field: 'metadata.annotations[esw.io/change-feed]',
    message: 'must be at most 1024 characters',
  },
  {
    name: 'azurekv store with a change feed other than event-grid',
    object: patch(AZURE, {
      'metadata.annotations': { 'esw.io/change-feed': 'https://my-topic.eventgrid.azure.net' },
    }),
    field: 'metadata.annotations[esw.io/change-feed]',
    message: 'must be "event-grid" (Event Grid delivers to the webhook) for a azurekv store',
  },
  {
    name: 'azurekv store with the Event Grid feed and no delivery secret',
    object: patch(AZURE, { 'metadata.annotations': { 'esw.io/change-feed': 'event-grid' } }),
    field: 'metadata.annotations[esw.io/change-feed-secret]',
    message: 'esw.io/change-feed-secret is required with event-grid: NAME/KEY',
  },
  {
    name: "a SecretStore's delivery secret in another namespace",
    object: patch(AZURE, {
      'metadata.annotations': {
        'esw.io/change-feed': 'event-grid',
        'esw.io/change-feed-secret': 'ops/eg/token',
      },
    }),
    field: 'metadata.annotations[esw.io/change-feed-secret]',
    message: 'esw.io/change-feed-secret must be NAME/KEY',
  },
  // ---------------------------------------------------------------- ESO webhook: data / dataFrom
  {
    name: 'neither data nor dataFrom',
    object: patch(ES_V1, { 'spec.data': DELETE }),
    field: 'spec.data',
    message: 'Required value: either data or dataFrom should be specified',
  },
  {
    name: 'empty data and empty dataFrom (v1beta1)',
    object: patch(ES_V1BETA1, { 'spec.data': [], 'spec.dataFrom': [] }),
    field: 'spec.data',
    message: 'either data or dataFrom should be specified',
  },
  {
    name: 'dataFrom entry with nothing to fetch',
    object: patch(ES_V1, { 'spec.dataFrom': [{}] }),
    field: 'spec.dataFrom[0]',
    message: 'Invalid value: "<object>": must have exactly one of extract, find or sourceRef',
  },
  {
    name: 'dataFrom with extract and find',
    object: patch(ES_V1, { 'spec.dataFrom': [{ extract: { key: 'a' }, find: { path: 'b' } }] }),
    field: 'spec.dataFrom[0]',
    message: 'must have exactly one of extract, find or sourceRef, found extract and find',
  },
  {
    name: 'dataFrom with extract and a generatorRef',
    object: patch(ES_V1, {
      'spec.dataFrom': [
        { extract: { key: 'a' }, sourceRef: { generatorRef: { kind: 'Password', name: 'pw' } } },
      ],
    }),
    field: 'spec.dataFrom[0]',
    message: 'found extract and sourceRef.generatorRef',
  },
  {
    name: 'dataFrom sourceRef with neither storeRef nor generatorRef',
    object: patch(ES_V1, { 'spec.dataFrom': [{ extract: { key: 'a' }, sourceRef: {} }] }),
    field: 'spec.dataFrom[0].sourceRef',
    message: 'must have exactly one of storeRef or generatorRef',
  },
  {
    name: 'dataFrom sourceRef with storeRef and generatorRef',
    object: patch(ES_V1, {
      'spec.dataFrom': [
        { sourceRef: { storeRef: { name: 'other' }, generatorRef: { kind: 'Password', name: 'pw' } } },
      ],
    }),
    field: 'spec.dataFrom[0].sourceRef',
    message: 'must have exactly one of storeRef or generatorRef, not both',
  },
  {
    name: 'duplicate secretKey (deletionPolicy Retain, the default)',
    object: patch(ES_V1, { 'spec.data[1].secretKey': 'username' }),
    field: 'spec.data[1].secretKey',
    message: 'Duplicate value: "username"',
  },
  // ---------------------------------------------------------------- template
  {
    name: 'template type service-account-token',
    object: patch(ES_V1, { 'spec.target.template.type': 'kubernetes.io/service-account-token' }),
    field: 'spec.target.template.type',
    message: 'Forbidden: Secrets of type "kubernetes.io/service-account-token"',
  },
  {
    name: 'template type bootstrap token',
    object: patch(ES_V1, { 'spec.target.template.type': 'bootstrap.kubernetes.io/token' }),
    field: 'spec.target.template.type',
    message: 'Forbidden',
  },
  {
    name: 'templateFrom target not Data/Annotations/Labels',
    object: patch(ES_V1, {
      'spec.target.template.templateFrom': [{ literal: '{{ .a }}', target: 'Secret' }],
    }),
    field: 'spec.target.template.templateFrom[0].target',
    message: 'Unsupported value: "Secret": supported values: "Data", "Annotations", "Labels"',
  },
  {
    name: 'templateFrom configMap without items',
    object: patch(ES_V1, { 'spec.target.template.templateFrom': [{ configMap: { name: 'tpl' } }] }),
    field: 'spec.target.template.templateFrom[0].configMap.items',
    message: 'Required value',
  },
  {
    name: 'templateFrom secret without name',
    object: patch(ES_V1, { 'spec.target.template.templateFrom': [{ secret: { items: [{ key: 'a' }] } }] }),
    field: 'spec.target.template.templateFrom[0].secret.name',
    message: 'Required value',
  },
  {
    name: 'templateFrom configMap in another namespace',
    object: patch(ES_V1, {
      'spec.target.template.templateFrom': [
        { configMap: { name: 'tpl', namespace: 'other', items: [{ key: 'a' }] } },
      ],
    }),
    field: 'spec.target.template.templateFrom[0].configMap.namespace',
    message: "Forbidden: templateFrom reads a ConfigMap of the ExternalSecret's own namespace only",
  },
  {
    name: 'templateFrom secret in another namespace',
    object: patch(ES_V1, {
      'spec.target.template.templateFrom': [
        { secret: { name: 'tpl', namespace: 'x', items: [{ key: 'a' }] } },
      ],
    }),
    field: 'spec.target.template.templateFrom[0].secret.namespace',
    message: 'Forbidden: templateFrom reads a Secret',
  },
  {
    name: 'templateFrom item key with a space',
    object: patch(ES_V1, {
      'spec.target.template.templateFrom': [{ configMap: { name: 'tpl', items: [{ key: 'a b' }] } }],
    }),
    field: 'spec.target.template.templateFrom[0].configMap.items[0].key',
    message: 'Invalid value: "a b"',
  },
  {
    name: 'templateFrom templateAs not Values/KeysAndValues',
    object: patch(ES_V1, {
      'spec.target.template.templateFrom': [
        { configMap: { name: 'tpl', items: [{ key: 'a', templateAs: 'Keys' }] } },
      ],
    }),
    field: 'spec.target.template.templateFrom[0].configMap.items[0].templateAs',
    message: 'Unsupported value: "Keys"',
  },
  {
    name: 'engineVersion v1 in external-secrets.io/v1',
    object: patch(ES_V1, { 'spec.target.template.engineVersion': 'v1' }),
    field: 'spec.target.template.engineVersion',
    message: 'Unsupported value: "v1": supported values: "v2"',
  },
  {
    name: 'template mergePolicy',
    object: patch(ES_V1, { 'spec.target.template.mergePolicy': 'Overwrite' }),
    field: 'spec.target.template.mergePolicy',
    message: 'supported values: "Replace", "Merge"',
  },
  {
    name: 'template labels must be strings',
    object: patch(ES_V1, { 'spec.target.template.metadata.labels': { team: 5 } }),
    field: 'spec.target.template.metadata.labels["team"]',
    message: 'must be of type string',
  },
  // ---------------------------------------------------------------- enums
  {
    name: 'creationPolicy enum',
    object: patch(ES_V1, { 'spec.target.creationPolicy': 'Replace' }),
    field: 'spec.target.creationPolicy',
    message:
      'Unsupported value: "Replace": supported values: "Owner", "Orphan", "Merge", "None", "CreateOrMerge"',
  },
  {
    name: 'CreateOrMerge is a v1 extension only',
    object: patch(ES_V1BETA1, { 'spec.target.creationPolicy': 'CreateOrMerge' }),
    field: 'spec.target.creationPolicy',
    message: 'Unsupported value: "CreateOrMerge": supported values: "Owner", "Orphan", "Merge", "None"',
  },
  {
    name: 'deletionPolicy enum',
    object: patch(ES_V1, { 'spec.target.deletionPolicy': 'Keep' }),
    field: 'spec.target.deletionPolicy',
    message: 'supported values: "Delete", "Merge", "Retain"',
  },
  {
    name: 'refreshPolicy enum',
    object: patch(ES_V1, { 'spec.refreshPolicy': 'Sometimes' }),
    field: 'spec.refreshPolicy',
    message: 'supported values: "CreatedOnce", "Periodic", "OnChange"',
  },
  {
    name: 'decodingStrategy enum',
    object: patch(ES_V1, { 'spec.data[0].remoteRef.decodingStrategy': 'Hex' }),
    field: 'spec.data[0].remoteRef.decodingStrategy',
    message: 'supported values: "Auto", "Base64", "Base64URL", "None"',
  },
  {
    name: 'conversionStrategy enum',
    object: patch(ES_V1, { 'spec.dataFrom': [{ find: { conversionStrategy: 'Latin1' } }] }),
    field: 'spec.dataFrom[0].find.conversionStrategy',
    message: 'supported values: "Default", "Unicode"',
  },
  {
    name: 'metadataPolicy enum',
    object: patch(ES_V1, { 'spec.data[1].remoteRef.metadataPolicy': 'All' }),
    field: 'spec.data[1].remoteRef.metadataPolicy',
    message: 'supported values: "None", "Fetch"',
  },
  {
    name: 'secretStoreRef kind enum',
    object: patch(ES_V1, { 'spec.secretStoreRef.kind': 'Store' }),
    field: 'spec.secretStoreRef.kind',
    message: 'supported values: "SecretStore", "ClusterSecretStore"',
  },
  // ---------------------------------------------------------------- required fields, patterns, lengths
  {
    name: 'remoteRef.key missing',
    object: patch(ES_V1, { 'spec.data[1].remoteRef.key': DELETE }),
    field: 'spec.data[1].remoteRef.key',
    message: 'Required value',
  },
  {
    name: 'remoteRef missing',
    object: patch(ES_V1, { 'spec.data[0].remoteRef': DELETE }),
    field: 'spec.data[0].remoteRef',
    message: 'Required value',
  },
  {
    name: 'secretKey missing',
    object: patch(ES_V1, { 'spec.data[0].secretKey': DELETE }),
    field: 'spec.data[0].secretKey',
    message: 'Required value',
  },
  {
    name: 'secretKey pattern',
    object: patch(ES_V1, { 'spec.data[0].secretKey': 'user name' }),
    field: 'spec.data[0].secretKey',
    message:
      "Invalid value: \"user name\": a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
  },
  {
    name: 'dataFrom extract without key',
    object: patch(ES_V1, { 'spec.dataFrom': [{ extract: { property: 'x' } }] }),
    field: 'spec.dataFrom[0].extract.key',
    message: 'Required value',
  },
  {
    name: 'target.name not a DNS subdomain',
    object: patch(ES_V1, { 'spec.target.name': 'Database_Credentials' }),
    field: 'spec.target.name',
    message: 'a lowercase RFC 1123 subdomain',
  },
  {
    name: 'target.name longer than 253',
    object: patch(ES_V1, { 'spec.target.name': 'a'.repeat(254) }),
    field: 'spec.target.name',
    message: 'Too long: may not be more than 253',
  },
  {
    name: 'secretStoreRef.name not a DNS subdomain',
    object: patch(ES_V1, { 'spec.secretStoreRef.name': 'My Store' }),
    field: 'spec.secretStoreRef.name',
    message: 'a lowercase RFC 1123 subdomain',
  },
  {
    name: 'data sourceRef.storeRef without name',
    object: patch(ES_V1, { 'spec.data[0].sourceRef': { storeRef: { kind: 'ClusterSecretStore' } } }),
    field: 'spec.data[0].sourceRef.storeRef.name',
    message: 'Required value',
  },
  {
    name: 'generatorRef without name',
    object: patch(ES_V1, { 'spec.dataFrom': [{ sourceRef: { generatorRef: { kind: 'Password' } } }] }),
    field: 'spec.dataFrom[0].sourceRef.generatorRef.name',
    message: 'Required value',
  },
  {
    name: 'metadata.name missing',
    object: patch(ES_V1, { 'metadata.name': DELETE }),
    field: 'metadata.name',
    message: 'Required value',
  },
  {
    name: 'metadata.name invalid',
    object: patch(ES_V1, { 'metadata.name': 'DB!' }),
    field: 'metadata.name',
    message: 'Invalid value: "DB!"',
  },
  {
    name: 'spec missing',
    object: patch(ES_V1, { spec: DELETE }),
    field: 'spec',
    message: 'Required value',
  },
  {
    name: 'data of the wrong type',
    object: patch(ES_V1, { 'spec.data': 'username' }),
    field: 'spec.data',
    message: 'Invalid value: "string": spec.data in body must be of type array',
  },
  // ---------------------------------------------------------------- refreshInterval
  {
    name: 'refreshInterval not a Go duration',
    object: patch(ES_V1, { 'spec.refreshInterval': '1 hour' }),
    field: 'spec.refreshInterval',
    message: 'Invalid value: "1 hour": must be a Go duration such as "1h"',
  },
  {
    name: 'refreshInterval in days',
    object: patch(ES_V1, { 'spec.refreshInterval': '1d' }),
    field: 'spec.refreshInterval',
    message: 'must be a Go duration',
  },
  {
    name: 'refreshInterval as a YAML number',
    object: patch(ES_V1, { 'spec.refreshInterval': 0 }),
    field: 'spec.refreshInterval',
    message: 'must be of type string: quote it, e.g. "0"',
  },
  {
    name: 'refreshInterval out of int64 nanoseconds',
    object: patch(ES_V1, { 'spec.refreshInterval': '3000000h' }),
    field: 'spec.refreshInterval',
    message: 'duration out of range',
  },
  // ---------------------------------------------------------------- regular expressions (RE2)
  {
    name: 'find.name.regexp with lookahead',
    object: patch(ES_V1, { 'spec.dataFrom': [{ find: { name: { regexp: '^(?=db).*' } } }] }),
    field: 'spec.dataFrom[0].find.name.regexp',
    message:
      'Invalid value: "^(?=db).*": error parsing regexp: invalid or unsupported Perl syntax: `(?=` (Go RE2 syntax has no lookahead)',
  },
  {
    name: 'find.name.regexp with a backreference',
    object: patch(ES_V1, { 'spec.dataFrom': [{ find: { name: { regexp: '(a)\\1' } } }] }),
    field: 'spec.dataFrom[0].find.name.regexp',
    message: 'error parsing regexp: invalid escape sequence: `\\1` (Go RE2 syntax has no backreferences)',
  },
  {
    name: 'find.name.regexp that does not compile',
    object: patch(ES_V1, { 'spec.dataFrom': [{ find: { name: { regexp: 'db-[a-' } } }] }),
    field: 'spec.dataFrom[0].find.name.regexp',
    message: 'error parsing regexp: missing closing ]: `[a-`',
  },
  {
    name: 'rewrite regexp with lookbehind',
    object: patch(ES_V1, {
      'spec.dataFrom': [{ extract: { key: 'a' }, rewrite: [{ regexp: { source: '(?<!x)y', target: 'z' } }] }],
    }),
    field: 'spec.dataFrom[0].rewrite[0].regexp.source',
    message: 'error parsing regexp: invalid named capture: `(?<!x)y` (Go RE2 syntax has no lookbehind)',
  },
  {
    name: 'rewrite regexp that does not compile',
    object: patch(ES_V1, {
      'spec.dataFrom': [{ extract: { key: 'a' }, rewrite: [{ regexp: { source: 'foo(', target: 'z' } }] }],
    }),
    field: 'spec.dataFrom[0].rewrite[0].regexp.source',
    message: 'Invalid value: "foo(": error parsing regexp: missing closing ): `foo(`',
  },
  {
    name: 'rewrite regexp repeat count beyond RE2 limit',
    object: patch(ES_V1, {
      'spec.dataFrom': [{ extract: { key: 'a' }, rewrite: [{ regexp: { source: 'a{1001}', target: 'z' } }] }],
    }),
    field: 'spec.dataFrom[0].rewrite[0].regexp.source',
    message: 'invalid repeat count',
  },
  {
    name: 'rewrite regexp without target',
    object: patch(ES_V1, {
      'spec.dataFrom': [{ extract: { key: 'a' }, rewrite: [{ regexp: { source: 'a' } }] }],
    }),
    field: 'spec.dataFrom[0].rewrite[0].regexp.target',
    message: 'Required value',
  },
  {
    name: 'rewrite with no operation',
    object: patch(ES_V1, { 'spec.dataFrom': [{ extract: { key: 'a' }, rewrite: [{}] }] }),
    field: 'spec.dataFrom[0].rewrite[0]',
    message: 'must have exactly one of merge, regexp or transform',
  },
  {
    name: 'rewrite with two operations',
    object: patch(ES_V1, {
      'spec.dataFrom': [
        {
          extract: { key: 'a' },
          rewrite: [{ regexp: { source: 'a', target: 'b' }, transform: { template: 'x' } }],
        },
      ],
    }),
    field: 'spec.dataFrom[0].rewrite[0]',
    message: 'must have exactly one of merge, regexp or transform',
  },
  {
    name: 'rewrite merge does not exist in v1beta1',
    object: patch(ES_V1BETA1, { 'spec.dataFrom': [{ extract: { key: 'a' }, rewrite: [{ merge: {} }] }] }),
    field: 'spec.dataFrom[0].rewrite[0]',
    message: 'must have exactly one of regexp or transform',
  },
  {
    name: 'rewrite merge strategy JSON without into',
    object: patch(ES_V1, { 'spec.dataFrom': [{ find: {}, rewrite: [{ merge: { strategy: 'JSON' } }] }] }),
    field: 'spec.dataFrom[0].rewrite[0].merge.into',
    message: 'Required value',
  },
  // ---------------------------------------------------------------- apiVersion / kind
  {
    name: 'unsupported apiVersion',
    object: patch(ES_V1, { apiVersion: 'external-secrets.io/v1alpha1' }),
    field: 'apiVersion',
    message: 'Unsupported value: "external-secrets.io/v1alpha1"',
  },
  {
    name: 'other kind',
    object: patch(ES_V1, { kind: 'PushSecret' }),
    field: 'kind',
    message:
      'Unsupported value: "PushSecret": supported values: "ExternalSecret", "SecretStore", "ClusterSecretStore"',
  },
  // ---------------------------------------------------------------- stores: generic
  {
    name: 'store without provider',
    object: patch(AWS, { 'spec.provider': DELETE }),
    field: 'spec.provider',
    message: 'Required value: exactly one provider must be set',
  },
  {
    name: 'store with two providers',
    object: patch(AWS, { 'spec.provider.vault': VAULT.spec.provider.vault }),
    field: 'spec.provider',
    message: 'must have exactly one provider, found 2: aws, vault',
  },
  {
    name: 'store with an unknown provider only',
    object: STORE({ keyvault: { url: 'x' } }),
    field: 'spec.provider',
    message: 'found none ESO knows',
  },
  {
    name: 'store name not a DNS subdomain',
    object: patch(AWS, { 'metadata.name': 'My_Store' }),
    field: 'metadata.name',
    message: 'a lowercase RFC 1123 subdomain',
  },
  {
    name: 'store namespace not a DNS label',
    object: patch(AWS, { 'metadata.namespace': 'team.a' }),
    field: 'metadata.namespace',
    message: 'a lowercase RFC 1123 label',
  },
  {
    name: 'retryInterval not a Go duration',
    object: patch(AWS, { 'spec.retrySettings': { maxRetries: 3, retryInterval: '5 seconds' } }),
    field: 'spec.retrySettings.retryInterval',
    message: 'must be a Go duration',
  },
  {
    name: 'conditions: namespaceRegexes must compile',
    object: patch(CSS_VAULT, { 'spec.conditions': [{ namespaceRegexes: ['^team-', '['] }] }),
    field: 'spec.conditions[0].namespaceRegexes[1]',
    message: 'Invalid value: "[": error parsing regexp: missing closing ]: `[`',
  },
  {
    name: 'conditions: namespaceRegexes without RE2 lookahead',
    object: patch(CSS_VAULT, { 'spec.conditions': [{ namespaceRegexes: ['^(?!kube-).*'] }] }),
    field: 'spec.conditions[0].namespaceRegexes[0]',
    message: 'invalid or unsupported Perl syntax: `(?!` (Go RE2 syntax has no lookahead)',
  },
  {
    name: 'conditions: namespaces are DNS labels',
    object: patch(CSS_VAULT, { 'spec.conditions': [{ namespaces: ['Team_A'] }] }),
    field: 'spec.conditions[0].namespaces[0]',
    message: 'a lowercase RFC 1123 label',
  },
  {
    name: 'conditions: namespaceSelector operator',
    object: patch(CSS_VAULT, {
      'spec.conditions': [{ namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'Equals' }] } }],
    }),
    field: 'spec.conditions[0].namespaceSelector.matchExpressions[0].operator',
    message: 'Unsupported value: "Equals"',
  },
  // ---------------------------------------------------------------- aws
  {
    name: 'aws region missing',
    object: patch(AWS, { 'spec.provider.aws.region': DELETE }),
    field: 'spec.provider.aws.region',
    message: 'Required value',
  },
  {
    name: 'aws region malformed',
    object: patch(AWS, { 'spec.provider.aws.region': 'us east 1' }),
    field: 'spec.provider.aws.region',
    message: 'region not found',
  },
  {
    name: 'aws service missing',
    object: patch(AWS, { 'spec.provider.aws.service': DELETE }),
    field: 'spec.provider.aws.service',
    message: 'Required value',
  },
  {
    name: 'aws service enum',
    object: patch(AWS, { 'spec.provider.aws.service': 'KMS' }),
    field: 'spec.provider.aws.service',
    message: 'Unsupported value: "KMS": supported values: "SecretsManager", "ParameterStore"',
  },
  {
    name: 'aws recoveryWindowInDays out of range',
    object: patch(AWS, { 'spec.provider.aws.secretsManager': { recoveryWindowInDays: 3 } }),
    field: 'spec.provider.aws.secretsManager.recoveryWindowInDays',
    message: 'must be between 7 and 30 days',
  },
  {
    name: 'aws forceDeleteWithoutRecovery with recoveryWindowInDays',
    object: patch(AWS, {
      'spec.provider.aws.secretsManager': { forceDeleteWithoutRecovery: true, recoveryWindowInDays: 10 },
    }),
    field: 'spec.provider.aws.secretsManager.forceDeleteWithoutRecovery',
    message: 'conflicts with recoveryWindowInDays',
  },
  {
    name: 'aws SecretStore referring to another namespace',
    object: patch(AWS, { 'spec.provider.aws.auth.secretRef.accessKeyIDSecretRef.namespace': 'kube-system' }),
    field: 'spec.provider.aws.auth.secretRef.accessKeyIDSecretRef.namespace',
    message: 'Forbidden: a SecretStore may only refer to its own namespace "team-a", not "kube-system"',
  },
  {
    name: 'aws jwt ServiceAccount in another namespace',
    object: patch(AWS, {
      'spec.provider.aws.auth': { jwt: { serviceAccountRef: { name: 'eso', namespace: 'other' } } },
    }),
    field: 'spec.provider.aws.auth.jwt.serviceAccountRef.namespace',
    message: 'Forbidden',
  },
  {
    name: 'aws secret reference without key',
    object: patch(AWS, { 'spec.provider.aws.auth.secretRef.secretAccessKeySecretRef.key': DELETE }),
    field: 'spec.provider.aws.auth.secretRef.secretAccessKeySecretRef.key',
    message: 'Required value',
  },
  // ---------------------------------------------------------------- vault
  {
    name: 'vault server missing',
    object: patch(VAULT, { 'spec.provider.vault.server': DELETE }),
    field: 'spec.provider.vault.server',
    message: 'Required value',
  },
  {
    name: 'vault server not a URL',
    object: patch(VAULT, { 'spec.provider.vault.server': 'vault.example.com' }),
    field: 'spec.provider.vault.server',
    message: 'must be an absolute URL',
  },
  {
    name: 'vault version enum',
    object: patch(VAULT, { 'spec.provider.vault.version': 'v3' }),
    field: 'spec.provider.vault.version',
    message: 'supported values: "v1", "v2"',
  },
  {
    name: 'vault with two auth methods',
    object: patch(VAULT, { 'spec.provider.vault.auth.kubernetes': { role: 'demo' } }),
    field: 'spec.provider.vault.auth',
    message: 'must have exactly one auth method, found 2: tokenSecretRef, kubernetes',
  },
  {
    name: 'vault auth without a method',
    object: patch(VAULT, { 'spec.provider.vault.auth': { namespace: 'ns1' } }),
    field: 'spec.provider.vault.auth',
    message: 'Required value: one auth method must be set',
  },
  {
    name: 'vault appRole without roleId or roleRef',
    object: patch(VAULT, {
      'spec.provider.vault.auth': {
        appRole: { path: 'approle', secretRef: { name: 's', key: 'secret-id' } },
      },
    }),
    field: 'spec.provider.vault.auth.appRole.roleId',
    message: 'Required value: set roleId or roleRef',
  },
  {
    name: 'vault appRole without secretRef',
    object: patch(VAULT, { 'spec.provider.vault.auth': { appRole: { roleId: 'r' } } }),
    field: 'spec.provider.vault.auth.appRole.secretRef',
    message: 'Required value',
  },
  {
    name: 'vault kubernetes auth without role',
    object: patch(VAULT, { 'spec.provider.vault.auth': { kubernetes: { mountPath: 'kubernetes' } } }),
    field: 'spec.provider.vault.auth.kubernetes.role',
    message: 'Required value',
  },
  {
    name: 'vault jwt auth without a token source',
    object: patch(VAULT, { 'spec.provider.vault.auth': { jwt: { role: 'demo' } } }),
    field: 'spec.provider.vault.auth.jwt.secretRef',
    message: 'set secretRef or kubernetesServiceAccountToken',
  },
  {
    name: 'vault userPass without a password Secret',
    object: patch(VAULT, { 'spec.provider.vault.auth': { userPass: { path: 'userpass', username: 'u' } } }),
    field: 'spec.provider.vault.auth.userPass.secretRef',
    message: 'Required value: the Secret key holding the password',
  },
  {
    name: 'vault cert auth without its private key',
    object: patch(VAULT, {
      'spec.provider.vault.auth': { cert: { clientCert: { name: 'c', key: 'tls.crt' } } },
    }),
    field: 'spec.provider.vault.auth.cert.secretRef',
    message: 'Required value',
  },
  {
    name: 'vault header that would replace the token',
    object: patch(VAULT, { 'spec.provider.vault.headers': { 'X-Vault-Token': 'root' } }),
    field: 'spec.provider.vault.headers["X-Vault-Token"]',
    message: 'Forbidden: is set by external-secrets-webhook itself',
  },
  {
    name: 'vault header with a line break',
    object: patch(VAULT, { 'spec.provider.vault.headers': { 'X-Team': 'a\r\nX-Vault-Token: root' } }),
    field: 'spec.provider.vault.headers["X-Team"]',
    message: 'control characters',
  },
  {
    name: 'vault iam jwt without a ServiceAccount',
    object: patch(VAULT, { 'spec.provider.vault.auth': { iam: { vaultRole: 'r', jwt: {} } } }),
    field: 'spec.provider.vault.auth.iam.jwt.serviceAccountRef',
    message: 'Required value: the ServiceAccount whose IRSA role to assume',
  },
  {
    name: 'vault client TLS with only a certificate',
    object: patch(VAULT, { 'spec.provider.vault.tls': { certSecretRef: { name: 'tls' } } }),
    field: 'spec.provider.vault.tls.keySecretRef',
    message: 'client TLS needs both certSecretRef and keySecretRef',
  },
  {
    name: 'vault checkAndSet with KV v1',
    object: patch(VAULT, {
      'spec.provider.vault.version': 'v1',
      'spec.provider.vault.checkAndSet': { required: true },
    }),
    field: 'spec.provider.vault.checkAndSet.required',
    message: 'not supported with Vault KV version v1',
  },
  {
    name: 'vault caProvider in a ClusterSecretStore without namespace',
    object: patch(CSS_VAULT, {
      'spec.provider.vault.caProvider': { type: 'ConfigMap', name: 'ca', key: 'ca.crt' },
    }),
    field: 'spec.provider.vault.caProvider.namespace',
    message: 'Required value',
  },
  {
    name: 'vault token in another namespace',
    object: patch(VAULT, { 'spec.provider.vault.auth.tokenSecretRef.namespace': 'vault' }),
    field: 'spec.provider.vault.auth.tokenSecretRef.namespace',
    message: 'Forbidden: a SecretStore may only refer to its own namespace',
  },
  // ---------------------------------------------------------------- azurekv
  {
    name: 'azurekv vaultUrl missing',
    object: patch(AZURE, { 'spec.provider.azurekv.vaultUrl': DELETE }),
    field: 'spec.provider.azurekv.vaultUrl',
    message: 'Required value',
  },
  {
    name: 'azurekv authType enum',
    object: patch(AZURE, { 'spec.provider.azurekv.authType': 'Password' }),
    field: 'spec.provider.azurekv.authType',
    message: 'supported values: "ServicePrincipal", "ManagedIdentity", "WorkloadIdentity"',
  },
  {
    name: 'azurekv ServicePrincipal without tenantId',
    object: patch(AZURE, { 'spec.provider.azurekv.tenantId': DELETE }),
    field: 'spec.provider.azurekv.tenantId',
    message: 'Required value: authType ServicePrincipal needs the Azure tenant ID',
  },
  {
    name: 'azurekv ServicePrincipal without authSecretRef',
    object: patch(AZURE, { 'spec.provider.azurekv.authSecretRef': DELETE }),
    field: 'spec.provider.azurekv.authSecretRef',
    message: 'Required value',
  },
  {
    name: 'azurekv ServicePrincipal without client credential',
    object: patch(AZURE, { 'spec.provider.azurekv.authSecretRef.clientSecret': DELETE }),
    field: 'spec.provider.azurekv.authSecretRef.clientSecret',
    message: 'needs clientSecret or clientCertificate',
  },
  {
    name: 'azurekv ServicePrincipal with secret and certificate',
    object: patch(AZURE, {
      'spec.provider.azurekv.authSecretRef.clientCertificate': { name: 'sp', key: 'cert' },
    }),
    field: 'spec.provider.azurekv.authSecretRef.clientCertificate',
    message: 'Forbidden: may not be set together with clientSecret',
  },
  {
    name: 'azurekv ManagedIdentity with authSecretRef',
    object: patch(AZURE, { 'spec.provider.azurekv.authType': 'ManagedIdentity' }),
    field: 'spec.provider.azurekv.authSecretRef',
    message: 'Forbidden: authType ManagedIdentity does not use authSecretRef',
  },
  {
    name: 'azurekv WorkloadIdentity with a client secret',
    object: patch(AZURE, { 'spec.provider.azurekv.authType': 'WorkloadIdentity' }),
    field: 'spec.provider.azurekv.authSecretRef.clientSecret',
    message: 'Forbidden: authType WorkloadIdentity uses a federated token',
  },
  {
    name: 'azurekv AzureStackCloud without customCloudConfig',
    object: patch(AZURE, { 'spec.provider.azurekv.environmentType': 'AzureStackCloud' }),
    field: 'spec.provider.azurekv.customCloudConfig',
    message: 'Required value',
  },
  {
    name: 'azurekv customCloudConfig without useAzureSDK',
    object: patch(AZURE, {
      'spec.provider.azurekv.customCloudConfig': { activeDirectoryEndpoint: 'https://aad' },
    }),
    field: 'spec.provider.azurekv.customCloudConfig',
    message: 'requires useAzureSDK: true',
  },
  {
    name: 'azurekv client secret in another namespace',
    object: patch(AZURE, { 'spec.provider.azurekv.authSecretRef.clientSecret.namespace': 'other' }),
    field: 'spec.provider.azurekv.authSecretRef.clientSecret.namespace',
    message: 'Forbidden',
  },
  // ---------------------------------------------------------------- gcpsm
  {
    name: 'gcpsm static key without projectID',
    object: patch(GCP, { 'spec.provider.gcpsm.projectID': DELETE }),
    field: 'spec.provider.gcpsm.projectID',
    message: 'Required value: a static service account key (auth.secretRef) needs the project ID',
  },
  {
    name: 'gcpsm projectID with a resource prefix',
    object: patch(GCP, { 'spec.provider.gcpsm.projectID': 'projects/my-project' }),
    field: 'spec.provider.gcpsm.projectID',
    message: 'must be a bare GCP project ID',
  },
  {
    name: 'gcpsm workloadIdentity without serviceAccountRef',
    object: patch(GCP, { 'spec.provider.gcpsm.auth': { workloadIdentity: { clusterName: 'c' } } }),
    field: 'spec.provider.gcpsm.auth.workloadIdentity.serviceAccountRef',
    message: 'Required value',
  },
  {
    name: 'gcpsm key file in another namespace',
    object: patch(GCP, { 'spec.provider.gcpsm.auth.secretRef.secretAccessKeySecretRef.namespace': 'other' }),
    field: 'spec.provider.gcpsm.auth.secretRef.secretAccessKeySecretRef.namespace',
    message: 'Forbidden',
  },
  // ---------------------------------------------------------------- fake
  {
    name: 'fake data entry without key',
    object: patch(FAKE, { 'spec.provider.fake.data[0].key': DELETE }),
    field: 'spec.provider.fake.data[0].key',
    message: 'Required value',
  },
  {
    name: 'fake data entry without value (v1)',
    object: patch(FAKE, { 'spec.provider.fake.data[0].value': DELETE }),
    field: 'spec.provider.fake.data[0].value',
    message: 'Required value',
  },
  {
    name: 'fake valueMap was removed in v1',
    object: patch(FAKE, {
      'spec.provider.fake.data[0].value': DELETE,
      'spec.provider.fake.data[0].valueMap': { a: 'b' },
    }),
    field: 'spec.provider.fake.data[0].value',
    message: 'Required value',
  },
  {
    name: 'fake without data',
    object: STORE({ fake: {} }),
    field: 'spec.provider.fake.data',
    message: 'Required value',
  },
  // ---------------------------------------------------------------- ESO 2.9 schema, generated tables
  {
    name: 'engineVersion v1 in v1beta1 (ESO 2.9 schema: v2 only)',
    object: patch(ES_V1BETA1, { 'spec.target.template.engineVersion': 'v1' }),
    field: 'spec.target.template.engineVersion',
    message: 'Unsupported value: "v1": supported values: "v2"',
  },
  {
    name: 'aws service enum lists ESO 2.9 services',
    object: patch(AWS, { 'spec.provider.aws.service': 'KMS' }),
    field: 'spec.provider.aws.service',
    message: 'supported values: "SecretsManager", "ParameterStore", "CertificateManager"',
  },
  {
    name: 'store refreshInterval not a Go duration',
    object: patch(AWS, { 'spec.refreshInterval': 'soon' }),
    field: 'spec.refreshInterval',
    message: 'must be a number of seconds or a Go duration',
  },
  {
    name: 'store refreshInterval in v1beta1 is seconds only',
    object: patch(AWS, { apiVersion: 'external-secrets.io/v1beta1', 'spec.refreshInterval': '5m' }),
    field: 'spec.refreshInterval',
    message: 'spec.refreshInterval in body must be of type integer',
  },
  {
    name: 'schema pattern from the CRD (generatorRef.name)',
    object: patch(ES_V1, { 'spec.dataFrom': [{ sourceRef: { storeRef: { name: 'Store!' } } }] }),
    field: 'spec.dataFrom[0].sourceRef.storeRef.name',
    message: 'a lowercase RFC 1123 subdomain',
  },
  {
    name: 'schema minimum from the CRD (vault jwt token expiry, served or not, is typed)',
    object: patch(AWS, { 'spec.retrySettings.maxRetries': 'three' }),
    field: 'spec.retrySettings.maxRetries',
    message: 'must be of type integer',
  },
  {
    name: 'schema required field the hand rules do not check (sessionTags value)',
    object: patch(AWS, { 'spec.provider.aws.sessionTags': [{ key: 'team' }] }),
    field: 'spec.provider.aws.sessionTags[0].value',
    message: 'Required value',
  },
  {
    name: 'schema enum of a new ESO 2.9 field (nullBytePolicy)',
    object: patch(ES_V1, { 'spec.data[0].remoteRef.nullBytePolicy': 'Drop' }),
    field: 'spec.data[0].remoteRef.nullBytePolicy',
    message: 'Unsupported value: "Drop": supported values: "Ignore", "Fail"',
  },
  {
    name: 'schema type of a map value (find.tags)',
    object: patch(ES_V1, { 'spec.dataFrom': [{ find: { tags: { team: 7 } } }] }),
    field: 'spec.dataFrom[0].find.tags["team"]',
    message: 'must be of type string',
  },
];

t.test(`table: ${cases.length} invalid manifests`, async (t) => {
  t.ok(cases.length >= 60, 'at least 60 invalid manifests');
  for (const c of cases) {
    const { errors } = validateObject(c.object);
    const hit = errors.find((e) => e.field === c.field && e.message.includes(c.message));
    t.ok(hit, `${c.name}: expected ${c.field}: …${c.message}…`, { found: errors });
  }
});

t.test('all errors of an object are reported together, each with its path', async (t) => {
  const es = patch(ES_V1, {
    'spec.target.deletionPolicy': 'Delete',
    'spec.target.creationPolicy': 'Merge',
    'spec.data[0].secretKey': 'bad key',
    'spec.data[1].remoteRef.key': DELETE,
    'spec.refreshInterval': '1 day',
    'spec.dataFrom': [{ find: { name: { regexp: '(?=x)' } } }],
  });
  const { errors } = validateObject(es);
  t.same(errors.map((e) => e.field).sort(), [
    'spec.dataFrom[0].find.name.regexp',
    'spec.data[0].secretKey',
    'spec.data[1].remoteRef.key',
    'spec.refreshInterval',
    'spec.target.deletionPolicy',
  ]);
  t.equal(
    errors.find((e) => e.field === 'spec.data[1].remoteRef.key')?.message,
    'Required value: the name of the secret in the provider',
  );
});

t.test('what ESO accepts is accepted', async (t) => {
  const accepted: [string, unknown][] = [
    ['the base ExternalSecret', ES_V1],
    ['the base ExternalSecret in v1beta1', ES_V1BETA1],
    ['CreateOrMerge in v1', patch(ES_V1, { 'spec.target.creationPolicy': 'CreateOrMerge' })],
    [
      'Delete with Owner',
      patch(ES_V1, { 'spec.target.deletionPolicy': 'Delete', 'spec.target.creationPolicy': 'Owner' }),
    ],
    [
      'Merge with Merge',
      patch(ES_V1, { 'spec.target.deletionPolicy': 'Merge', 'spec.target.creationPolicy': 'Merge' }),
    ],
    [
      'duplicate secretKey with deletionPolicy Delete (ESO checks Retain only)',
      patch(ES_V1, { 'spec.data[1].secretKey': 'username', 'spec.target.deletionPolicy': 'Delete' }),
    ],
    ['dataFrom only', patch(ES_V1, { 'spec.data': DELETE, 'spec.dataFrom': [{ extract: { key: 'a' } }] })],
    [
      'extract from another store',
      patch(ES_V1, {
        'spec.dataFrom': [{ extract: { key: 'a' }, sourceRef: { storeRef: { name: 'other' } } }],
      }),
    ],
    ['refreshInterval "0"', patch(ES_V1, { 'spec.refreshInterval': '0' })],
    ['refreshInterval "1h30m"', patch(ES_V1, { 'spec.refreshInterval': '1h30m' })],
    ['refreshInterval "1.5h"', patch(ES_V1, { 'spec.refreshInterval': '1.5h' })],
    [
      'RE2 named group (?P<name>)',
      patch(ES_V1, { 'spec.dataFrom': [{ find: { name: { regexp: '(?P<app>[a-z]+)-db' } } }] }),
    ],
    [
      'RE2 leading flags and \\z',
      patch(ES_V1, { 'spec.dataFrom': [{ find: { name: { regexp: '(?i)^db\\z' } } }] }),
    ],
    [
      'RE2 POSIX class',
      patch(ES_V1, { 'spec.dataFrom': [{ find: { name: { regexp: '^[[:alpha:]]+$' } } }] }),
    ],
    ['RE2 octal escape', patch(ES_V1, { 'spec.dataFrom': [{ find: { name: { regexp: '\\101' } } }] })],
    [
      'SecretStore naming its own namespace',
      patch(AWS, { 'spec.provider.aws.auth.secretRef.accessKeyIDSecretRef.namespace': 'team-a' }),
    ],
    [
      'ClusterSecretStore with referent credentials (no namespace)',
      patch(AWS, { kind: 'ClusterSecretStore', 'metadata.namespace': DELETE }),
    ],
    [
      'ClusterSecretStore naming any namespace',
      patch(CSS_VAULT, { 'spec.provider.vault.auth.tokenSecretRef.namespace': 'vault' }),
    ],
    ['vault without auth (agent-provided token)', patch(VAULT, { 'spec.provider.vault.auth': DELETE })],
    [
      'vault appRole with roleRef',
      patch(VAULT, {
        'spec.provider.vault.auth': {
          appRole: { roleRef: { name: 'r', key: 'id' }, secretRef: { name: 's', key: 'k' } },
        },
      }),
    ],
    [
      'azurekv ManagedIdentity in a ClusterSecretStore',
      STORE(
        { azurekv: { authType: 'ManagedIdentity', vaultUrl: 'https://v.vault.azure.net' } },
        'ClusterSecretStore',
      ),
    ],
    ['gcpsm with default credentials in a ClusterSecretStore', STORE({ gcpsm: {} }, 'ClusterSecretStore')],
    ['fake with empty data', STORE({ fake: { data: [] } })],
    [
      'gcpsm store with a Pub/Sub subscription as its change feed',
      patch(GCP, {
        'metadata.annotations': { 'esw.io/change-feed': 'projects/feeds-project/subscriptions/esw-changes' },
      }),
    ],
    [
      'aws store with an SQS queue as its change feed',
      patch(AWS, {
        'metadata.annotations': {
          'esw.io/change-feed': 'https://sqs.eu-west-1.amazonaws.com/123456789012/esw-secret-changes',
        },
      }),
    ],
    [
      'azurekv store with the Event Grid feed and its delivery secret',
      patch(AZURE, {
        'metadata.annotations': {
          'esw.io/change-feed': 'event-grid',
          'esw.io/change-feed-secret': 'eg/token',
        },
      }),
    ],
    [
      'azurekv ClusterSecretStore with the Event Grid feed and its delivery secret',
      patch(AZURE, {
        kind: 'ClusterSecretStore',
        'metadata.namespace': DELETE,
        'metadata.annotations': {
          'esw.io/change-feed': 'event-grid',
          'esw.io/change-feed-secret': 'ops/eg/token',
        },
      }),
    ],
    ['a store refresh interval as a Go duration (ESO 2.9)', patch(AWS, { 'spec.refreshInterval': '5m' })],
    ['a store refresh interval in seconds', patch(AWS, { 'spec.refreshInterval': 300 })],
    [
      'templateFrom target empty (Data)',
      patch(ES_V1, { 'spec.target.template.templateFrom': [{ target: '', literal: 'a: b' }] }),
    ],
  ];
  for (const [name, obj] of accepted) {
    const { errors } = validateObject(obj);
    t.same(errors, [], name);
  }
});

t.test('unknown fields and deprecations are warnings', async (t) => {
  const es = patch(ES_V1BETA1, { 'spec.secretStoreRef.key': 'store', 'spec.refreshPolicy': 'Periodic' });
  const r = validateObject(es);
  t.same(r.errors, []);
  t.ok(r.warnings.includes('unknown field "spec.secretStoreRef.key"'));
  t.ok(r.warnings.some((w) => w.includes('v1beta1 ExternalSecret is deprecated')));
  t.ok(
    r.warnings.some((w) => w.startsWith('spec.refreshPolicy')),
    'refreshPolicy in v1beta1 is flagged',
  );

  const merge = validateObject(
    patch(ES_V1BETA1, { 'spec.dataFrom': [{ extract: { key: 'a' }, rewrite: [{ merge: {} }] }] }),
  );
  t.ok(merge.warnings.includes('unknown field "spec.dataFrom[0].rewrite[0].merge"'));

  const v1 = validateObject(ES_V1);
  t.same(v1.warnings, [], 'a clean v1 object has no warnings');
});

t.test('never throws, whatever the input', async (t) => {
  const garbage: unknown[] = [
    null,
    undefined,
    42,
    'ExternalSecret',
    [],
    {},
    { kind: 'ExternalSecret' },
    { apiVersion: 'external-secrets.io/v1', kind: 'ExternalSecret', metadata: 'x', spec: [] },
    patch(ES_V1, { 'spec.data': [null, 5, 'x', [], { secretKey: 7, remoteRef: 'k', sourceRef: [] }] }),
    patch(ES_V1, { 'spec.dataFrom': [null, { rewrite: 'x', find: [], extract: 3 }], 'spec.target': 'x' }),
    patch(ES_V1, {
      'spec.target.template': { templateFrom: [null, { configMap: { items: [null, 3] } }], data: [] },
    }),
    patch(AWS, { 'spec.provider.aws': 'x' }),
    patch(AWS, {
      'spec.provider': { vault: { auth: { appRole: 1, kubernetes: [], jwt: 'x', iam: { secretRef: 2 } } } },
    }),
    patch(AWS, {
      'spec.conditions': [null, { namespaceSelector: { matchExpressions: [null, { values: 'x' }] } }],
    }),
    patch(AWS, { 'spec.provider': { fake: { data: [null, { key: 1, value: { nested: true } }] } } }),
    patch(AWS, { 'spec.provider': { azurekv: { authSecretRef: 'x', customCloudConfig: 1 } } }),
    patch(AWS, { 'spec.provider': { gcpsm: { auth: { secretRef: [], workloadIdentity: 'x' } } } }),
  ];
  for (const g of garbage) {
    const r = validateObject(g);
    t.ok(Array.isArray(r.errors) && Array.isArray(r.warnings));
    for (const e of r.errors) t.match(e, { field: String, message: String });
  }
});

t.test('values from a store never reach a message (fake provider data)', async (t) => {
  const canary = `CANARY-${Math.random().toString(36).slice(2)}`;
  const store = STORE({
    fake: {
      data: [
        { key: 7, value: { secret: canary } },
        { key: 'x', valueMap: { a: canary } },
      ],
    },
  });
  const r = validateObject(store);
  t.ok(r.errors.length > 0);
  const text = JSON.stringify(r);
  t.notOk(text.includes(canary), 'the canary is absent from errors and warnings');
});

t.test('long values are truncated in messages', async (t) => {
  const long = `x${'y'.repeat(300)}`;
  const r = validateObject(patch(ES_V1, { 'spec.refreshInterval': long }));
  const msg = r.errors[0]?.message ?? '';
  t.ok(msg.length < 250, msg);
  t.ok(msg.includes('...'));
});

t.test(
  'property: any JSON at any place of a manifest gives errors/warnings, never an exception',
  async (t) => {
    const { default: fc } = await import('fast-check');
    const places = [
      'spec',
      'spec.data[0]',
      'spec.data[0].remoteRef',
      'spec.dataFrom[0]',
      'spec.dataFrom[0].rewrite[0]',
      'spec.target',
      'spec.target.template',
      'spec.target.template.templateFrom[0]',
      'spec.provider',
      'spec.provider.aws',
      'spec.provider.vault.auth',
      'spec.provider.azurekv',
      'spec.provider.gcpsm.auth',
      'spec.provider.fake.data[0]',
      'spec.conditions[0]',
      'metadata',
    ];
    const bases = [ES_V1, ES_V1BETA1, AWS, VAULT, AZURE, GCP, FAKE, CSS_VAULT];
    let runs = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...bases),
        fc.constantFrom(...places),
        fc.jsonValue(),
        (base, place, value) => {
          runs++;
          const r = validateObject(patch(base, { [place]: value }));
          return r.errors.every((e) => typeof e.field === 'string' && typeof e.message === 'string');
        },
      ),
      { numRuns: 2000, seed: 20261128 },
    );
    t.equal(runs, 2000);
  },
);

t.test('warnings stay few and short', async (t) => {
  const junk: Record<string, string> = {};
  for (let i = 0; i < 101; i++) junk[`spec.target.${'k'.repeat(200)}${i}`] = 'x';
  const r = validateObject(patch(ES_V1, junk));
  t.same(r.errors, []);
  t.equal(r.warnings.length, 21);
  t.equal(r.warnings.at(-1), '… and 81 more unknown fields');
  t.ok(r.warnings.every((w) => w.length < 256));
});
