/**
 * esw_refresher_overdue_objects (the EswSecretsStale alert): periodically refreshed objects whose
 * last successful sync is older than twice their refresh interval. Driven by the refresher's
 * injected clock, never by waiting.
 */
import t from 'tap';
import { ProviderError } from '../../src/providers/types.ts';
import { harness, introExternalSecret } from '../refresher/harness.ts';

t.test('counts ExternalSecrets not synced for more than twice their interval, and only those', async (t) => {
  const h = harness();
  h.remote.values.set('my-app/database-credentials', '{"username":"u","password":"p"}');
  h.refresher.upsertExternalSecret(introExternalSecret({ refreshInterval: '1m' }, 'every-minute'));
  h.refresher.upsertExternalSecret(introExternalSecret({ refreshInterval: '0' }, 'never-refreshed'));
  h.refresher.upsertExternalSecret(
    introExternalSecret({ refreshInterval: '1m', refreshPolicy: 'CreatedOnce' }, 'created-once'),
  );
  h.refresher.start();
  t.teardown(() => h.refresher.stop());
  const overdue = async () => (await h.metrics.overdueObjects.get()).values[0]?.value;

  await h.refresher.tick();
  t.equal(await overdue(), 0, 'all synced');

  h.remote.fault = new ProviderError('Unavailable', 'test: provider down');
  // The failures back off; the clock moves in steps, each followed by a tick (bounded).
  for (let i = 0; i < 12; i++) {
    h.clock.advance(10_000);
    await h.refresher.tick();
  }
  t.equal(await overdue(), 0, '2 minutes without a sync: not yet more than twice 1m');
  for (let i = 0; i < 3; i++) {
    h.clock.advance(10_000);
    await h.refresher.tick();
  }
  t.equal(await overdue(), 1, 'over twice the interval: only the periodic one counts');

  h.remote.fault = undefined;
  for (let i = 0; i < 60 && (await overdue()) !== 0; i++) {
    h.clock.advance(10_000);
    await h.refresher.tick();
  }
  t.equal(await overdue(), 0, 'a successful sync clears it');
});
