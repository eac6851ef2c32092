/**
 * The managed-Secret informer hands the refresher back every Secret it writes. Those echoes
 * must cost nothing — no provider call, no write — or a cycle that changes 1,000 targets would
 * pay 1,000 extra provider calls; only a Secret whose data no longer matches its data hash
 * (edited by hand) or a deleted one is restored, as ESO's isSecretValid decides.
 */
import t from 'tap';
import { b64, harness, introExternalSecret, unb64 } from './harness.ts';

const HOUR = 3_600_000;

t.test('echoes of our own writes cost no provider call; tampering is still restored', async (t) => {
  const h = harness({ concurrency: 16 });
  for (let k = 0; k < 10; k++) h.remote.values.set(`key-${k}`, `{"v":"a${k}"}`);
  const all = Array.from({ length: 100 }, (_, i) =>
    introExternalSecret(
      {
        target: { name: `target-${i}` },
        data: [{ secretKey: 'v', remoteRef: { key: `key-${i % 10}`, property: 'v' } }],
      },
      `es-${i}`,
    ),
  );
  for (const es of all) h.refresher.upsertExternalSecret(es);
  h.refresher.start();
  await h.refresher.tick();
  t.equal(h.kube.secrets.size, 100);

  const echo = async () => {
    // The informer's echo arrives a moment after the write, past the cycle's fetch time.
    h.clock.advance(1_000);
    for (const s of h.kube.secrets.values()) h.refresher.targetSecretChanged(structuredClone(s), false);
    await h.refresher.tick();
  };
  let calls = h.remote.calls;
  await echo();
  t.equal(h.remote.calls, calls, 'the creations coming back: no provider call');

  // A cycle that changes every value: one call per key, then the 100 update echoes cost nothing.
  for (let k = 0; k < 10; k++) h.remote.values.set(`key-${k}`, `{"v":"b${k}"}`);
  h.clock.advance(HOUR);
  await h.refresher.tick();
  t.ok(h.remote.calls - calls <= 10, `at most one call per key (${h.remote.calls - calls})`);
  t.equal(unb64(h.kube.secrets.get('default/target-42')?.data?.v), 'b2');
  calls = h.remote.calls;
  const writes = h.kube.secretWrites();
  await echo();
  t.equal(h.remote.calls, calls, 'the updates coming back: no provider call');
  t.equal(h.kube.secretWrites(), writes, 'and no write');

  // Hand edits: data changed under the hash, or the hash annotation removed.
  const edited = h.kube.tamper('default', 'target-1', { v: b64('hacked') });
  h.refresher.targetSecretChanged(edited, false);
  const stripped = h.kube.secrets.get('default/target-2');
  if (stripped?.metadata?.annotations) stripped.metadata.annotations = {};
  h.refresher.targetSecretChanged(structuredClone(stripped ?? {}), false);
  await h.refresher.tick();
  t.equal(unb64(h.kube.secrets.get('default/target-1')?.data?.v), 'b1', 'edited data restored');
  t.ok(
    h.kube.secrets.get('default/target-2')?.metadata?.annotations?.[
      'reconcile.external-secrets.io/data-hash'
    ],
    'hash annotation restored',
  );

  const gone = structuredClone(h.kube.secrets.get('default/target-3') ?? {});
  await h.kube.deleteSecret('default', 'target-3');
  h.refresher.targetSecretChanged(gone, true);
  await h.refresher.tick();
  t.equal(unb64(h.kube.secrets.get('default/target-3')?.data?.v), 'b3', 'deleted target recreated');
  await h.refresher.stop();
});
