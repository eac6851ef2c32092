/**
 * A burst of watch events (10,000 ExternalSecrets annotated at once, the echoes of a refresh
 * cycle) arrives as megabytes in a few reads. The watch hands at most WATCH_SLICE events to the
 * informer per turn of the event loop and yields in between, so admission requests waiting on the
 * same loop are answered during the burst (bench/RESULTS.md, "Admission under refresh"). No
 * timing: a probe re-armed with setImmediate counts the loop's turns, and no turn may carry more
 * than one slice of events.
 */
import t from 'tap';
import type { Secret } from '../../src/api/types.ts';
import { WATCH_SLICE } from '../../src/kube/http.ts';
import { Informer } from '../../src/kube/informer.ts';
import { KubeApiServer } from '../fakes/kube-apiserver/index.ts';
import { until } from './helpers.ts';

process.env.NO_PROXY = '127.0.0.1,localhost';

t.test('a burst of 3,000 watch events is handed over in slices, the loop turning in between', async (t) => {
  const api = await KubeApiServer.start({ bookmarkIntervalMs: 3_600_000 });
  t.teardown(() => api.close());
  const inf = new Informer<Secret>(api.kubeConfig(), {
    path: '/api/v1/secrets',
    apiVersion: 'v1',
    kind: 'Secret',
    labelSelector: 'burst=true',
  });
  t.teardown(() => inf.stop());
  inf.start();
  await inf.synced;
  await until(() => inf.healthy(), 'watching');

  // The probe: one run per turn of the loop (setImmediate callbacks queued during a check phase
  // run in the next one).
  let turn = 0;
  let probing = true;
  const probe = () => {
    turn++;
    if (probing) setImmediate(probe);
  };
  setImmediate(probe);
  t.teardown(() => {
    probing = false;
  });
  const perTurn = new Map<number, number>();
  let added = 0;
  inf.on('add', () => {
    added++;
    perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1);
  });

  // Small objects, written in one synchronous loop: each read of the stream holds hundreds.
  const n = 3000;
  for (let i = 0; i < n; i++) {
    api.put({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `s${i}`, namespace: 'ns', labels: { burst: 'true' } },
      data: { v: 'MA==' },
    });
  }
  await until(() => added === n, 'every event delivered');
  probing = false;

  const most = Math.max(...perTurn.values());
  t.ok(most <= WATCH_SLICE, `at most ${WATCH_SLICE} events per turn of the loop (most: ${most})`);
  t.ok(perTurn.size >= Math.ceil(n / WATCH_SLICE), `spread over ${perTurn.size} turns`);
  t.equal(inf.cache.size, n, 'nothing lost or reordered into a gap');
  const names = [...inf.cache.keys()];
  t.equal(names[0], 'ns/s0', 'first event first');
  t.equal(names[n - 1], `ns/s${n - 1}`, 'last event last');
});

t.test('the end of a stream waits for the events still buffered', async (t) => {
  const api = await KubeApiServer.start({ bookmarkIntervalMs: 3_600_000 });
  t.teardown(() => api.close());
  const inf = new Informer<Secret>(api.kubeConfig(), {
    path: '/api/v1/secrets',
    apiVersion: 'v1',
    kind: 'Secret',
    labelSelector: 'burst=true',
  });
  t.teardown(() => inf.stop());
  inf.start();
  await inf.synced;
  await until(() => inf.healthy(), 'watching');
  const n = 1000;
  for (let i = 0; i < n; i++) {
    api.put({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `e${i}`, namespace: 'ns', labels: { burst: 'true' } },
      data: { v: 'MA==' },
    });
  }
  // The server ends every watch right after the burst: the informer resumes from the last
  // resourceVersion it handled, so whatever was buffered must have been handled first.
  api.dropWatches();
  await until(() => inf.cache.size === n, 'every object, across the end of the stream');
  t.equal(api.requests({ verb: 'list' }).length, 1, 'no relist: the resumed watch carried on');
});

t.test('a relist after 410 Gone hands its objects over in slices too', async (t) => {
  const api = await KubeApiServer.start({ bookmarkIntervalMs: 3_600_000 });
  t.teardown(() => api.close());
  const n = 2000;
  for (let i = 0; i < n; i++) {
    api.put({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `r${i}`, namespace: 'ns', labels: { burst: 'true' } },
      data: { v: 'MA==' },
    });
  }
  const inf = new Informer<Secret>(api.kubeConfig(), {
    path: '/api/v1/secrets',
    apiVersion: 'v1',
    kind: 'Secret',
    labelSelector: 'burst=true',
  });
  t.teardown(() => inf.stop());
  inf.start();
  await inf.synced;
  await until(() => inf.healthy(), 'watching');

  let turn = 0;
  let probing = true;
  const probe = () => {
    turn++;
    if (probing) setImmediate(probe);
  };
  setImmediate(probe);
  t.teardown(() => {
    probing = false;
  });
  const perTurn = new Map<number, number>();
  let updated = 0;
  inf.on('update', () => {
    updated++;
    perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1);
  });
  // Every object changes while the watch is down and its history is gone: the informer relists.
  api.dropWatches();
  api.compact();
  for (let i = 0; i < n; i++) {
    api.put({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `r${i}`, namespace: 'ns', labels: { burst: 'true' } },
      data: { v: 'MQ==' },
    });
  }
  api.compact();
  await until(() => updated === n, 'every change delivered');
  probing = false;
  const most = Math.max(...perTurn.values());
  t.ok(most <= WATCH_SLICE, `at most ${WATCH_SLICE} objects per turn of the loop (most: ${most})`);
  t.ok(api.requests({ verb: 'list' }).length >= 2, 'delivered by a relist');
});
