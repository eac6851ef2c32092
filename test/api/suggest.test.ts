/** Did-you-mean: the nearest known name when a name is close enough to be a typo of it. */
import t from 'tap';
import { mutateSecret } from '../../src/admission/mutate.ts';
import { didYouMean } from '../../src/api/suggest.ts';
import type { KubeObject } from '../../src/api/types.ts';
import { validateObject } from '../../src/api/validate.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import type { Resolver } from '../../src/resolve/types.ts';

t.test('typos get the nearest name; unrelated names get nothing', async (t) => {
  const fields = ['key', 'property', 'version', 'conversionStrategy', 'decodingStrategy', 'metadataPolicy'];
  t.equal(didYouMean('proprety', fields), 'property');
  t.equal(didYouMean('Property', fields), 'property', 'case is ignored');
  t.equal(didYouMean('verison', fields), 'version');
  t.equal(didYouMean('decodingStrategey', fields), 'decodingStrategy');
  t.equal(didYouMean('kye', fields), 'key');
  t.equal(didYouMean('region', fields), undefined);
  t.equal(didYouMean('x', fields), undefined);
  t.equal(didYouMean('a'.repeat(10_000), fields), undefined, 'hostile lengths are not compared');
  t.equal(
    didYouMean('creationPolcy', ['name', 'creationPolicy', 'deletionPolicy', 'template']),
    'creationPolicy',
  );
});

t.test('the webhook warns with the suggestion too: unknown fields and annotations', async (t) => {
  const { warnings } = validateObject({
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name: 'x', namespace: 'default' },
    spec: {
      secretStoreRef: { name: 's' },
      data: [{ secretKey: 'a', remoteRef: { key: 'k', proprety: 'p' } }],
      refreshIntreval: '1h',
    },
  });
  t.ok(
    warnings.includes('unknown field "spec.data[0].remoteRef.proprety" (did you mean "property"?)'),
    warnings.join('\n'),
  );
  t.ok(warnings.includes('unknown field "spec.refreshIntreval" (did you mean "refreshInterval"?)'));

  const result = await mutateSecret(
    {
      uid: 'u',
      kind: { group: '', version: 'v1', kind: 'Secret' },
      resource: { group: '', version: 'v1', resource: 'secrets' },
      namespace: 'default',
      operation: 'CREATE',
      object: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name: 's',
          labels: { 'esw.io/inject': 'true' },
          annotations: { 'esw.io/store': 'demo', 'esw.io/refresh-intervall': '5m' },
        },
        stringData: { plain: 'no references here' },
      } as unknown as KubeObject,
    },
    { resolver: {} as Resolver, logger: silentLogger() },
  );
  t.ok(
    result.warnings?.includes(
      'unknown annotation esw.io/refresh-intervall is ignored (did you mean "esw.io/refresh-interval"?)',
    ),
    JSON.stringify(result.warnings),
  );
});
