/**
 * Issue 11, item 1 through the cluster double: an ExternalSecret whose `find.name.regexp` and
 * `rewrite[].regexp.source` are catastrophic for a backtracking engine, applied through the API
 * server's admission chain and synced by the refresher against the AWS fake. A backtracking
 * engine would spend hours on the 40-character names below (2^40 paths); the sync completing
 * with the right keys is the proof. No assertion on durations.
 */
import { CustomObjectsApi } from '@kubernetes/client-node';
import t from 'tap';
import { startCluster, targetData, waitFor } from '../cluster-helpers.ts';

const RUN = 'a'.repeat(40);

t.test('find.name.regexp (a+)+$ and rewrite (a|a)+c sync the right keys', async (t) => {
  const { api, aws, startReplica } = await startCluster(t);
  aws.put(`db-${RUN}`, 'found');
  aws.put(`${RUN}b`, 'not-found: no run of a at the end');
  aws.put('other', 'not-found');
  const { server } = await startReplica('esw-0');
  await waitFor('replica ready', () => server.readiness().ready || undefined);

  // Through the API server's admission chain: the validating webhook accepts these patterns
  // (valid Go RE2) and the ClusterSecretStore's namespace regex.
  const custom = api.kubeConfig({ token: 'admin-token' }).makeApiClient(CustomObjectsApi);
  await custom.createNamespacedCustomObject({
    group: 'external-secrets.io',
    version: 'v1',
    namespace: 'default',
    plural: 'externalsecrets',
    body: {
      apiVersion: 'external-secrets.io/v1',
      kind: 'ExternalSecret',
      metadata: { name: 'redos', namespace: 'default' },
      spec: {
        refreshInterval: '1h',
        secretStoreRef: { name: 'aws-store', kind: 'SecretStore' },
        target: { name: 'redos-target', creationPolicy: 'Owner' },
        dataFrom: [
          {
            find: { name: { regexp: '(a+)+$' } },
            rewrite: [
              // Matches no key, after exploring 2^40 paths in a backtracking engine.
              { regexp: { source: '(a|a)+c', target: 'never' } },
              // Go's expansion: a named group and a numbered one; `$2x` would name a group "2x".
              { regexp: { source: '^(?P<prefix>db)-(a+)$', target: '${prefix}_${2}x' } },
            ],
          },
        ],
      },
    },
  });

  const data = await waitFor('the target Secret', () => targetData(api, 'redos'));
  t.same(data, { [`db_${RUN}x`]: 'found' });
  const ready = await waitFor('the Ready condition', () => {
    const es = api.get('externalsecrets', 'default', 'redos') as {
      status?: { conditions?: { type: string; status: string }[] };
    };
    return es.status?.conditions?.find((c) => c.type === 'Ready')?.status;
  });
  t.equal(ready, 'True', 'the ExternalSecret is Ready');
});
