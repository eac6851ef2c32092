/**
 * Certificate rotation and SIGTERM each during a sustained admission load, with zero failed
 * requests. Load is bounded in count (and every request has a timeout).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { silentLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { type CertificateBundle, createCertificates } from '../../src/server/certs.ts';
import { type RunningServer, startServer } from '../../src/server/serve.ts';
import { admissionReview } from '../helpers/admission-review.ts';
import { request } from '../helpers/https.ts';

const review = (uid: string) => admissionReview('ExternalSecret', { metadata: { name: 'x' } }, { uid });

async function replica(t: Test, bundle: CertificateBundle, shutdownDelayMs = 0) {
  const dir = await mkdtemp(join(tmpdir(), 'esw-load-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const tls = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
  await writeFile(tls.certFile, bundle.cert);
  await writeFile(tls.keyFile, bundle.key);
  let served = 0;
  const server = await startServer(
    {
      validate: async () => {
        served++;
        await new Promise((r) => setImmediate(r));
        return { allowed: true };
      },
      mutate: () => ({ allowed: true }),
      notReady: () => [],
    },
    {
      port: 0,
      host: '127.0.0.1',
      tls,
      logger: silentLogger(),
      metrics: createMetrics(),
      certPollMs: 60_000,
      shutdownDelayMs,
    },
  );
  t.teardown(() => server.shutdown());
  return { server, tls, served: () => served };
}

interface Outcome {
  ok: number;
  failed: string[];
}

/** `workers` clients each sending `perWorker` requests back to back over keep-alive agents. */
async function sustainedLoad(
  pick: () => RunningServer,
  ca: string,
  workers: number,
  perWorker: number,
  onProgress: (done: number) => Promise<void> | void,
): Promise<Outcome> {
  const outcome: Outcome = { ok: 0, failed: [] };
  let done = 0;
  const agents = new Map<number, https.Agent>();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (let i = 0; i < perWorker; i++) {
        const server = pick();
        let agent = agents.get(server.port * 100 + w);
        if (!agent) {
          agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
          agents.set(server.port * 100 + w, agent);
        }
        try {
          const res = await request(`https://127.0.0.1:${server.port}/validate`, review(`${w}-${i}`), {
            ca,
            agent,
          });
          if (res.status === 200) outcome.ok++;
          else outcome.failed.push(`HTTP ${res.status}`);
        } catch (err: unknown) {
          outcome.failed.push((err as Error).message);
        }
        done++;
        await onProgress(done);
      }
    }),
  );
  for (const a of agents.values()) a.destroy();
  return outcome;
}

t.test('certificate rotation during sustained load: zero failed requests', async (t) => {
  const bundle = await createCertificates({ hosts: ['localhost', '127.0.0.1'] });
  const { server, tls } = await replica(t, bundle);
  const fingerprints = new Set<string>();
  let rotations = 0;
  const outcome = await sustainedLoad(
    () => server,
    bundle.caCert,
    8,
    150,
    async (done) => {
      if (done % 300 === 0 && rotations < 3) {
        rotations++;
        const next = await createCertificates({
          hosts: ['localhost', '127.0.0.1'],
          ca: { cert: bundle.caCert, key: bundle.caKey },
        });
        await writeFile(tls.keyFile, next.key);
        await writeFile(tls.certFile, next.cert);
        server.watcher.reload();
        const probe = await request(`https://127.0.0.1:${server.port}/healthz`, undefined, {
          ca: bundle.caCert,
        });
        if (probe.peerFingerprint) fingerprints.add(probe.peerFingerprint);
      }
    },
  );
  t.equal(rotations, 3, 'rotated three times mid-load');
  t.equal(fingerprints.size, 3, 'each rotation put a new certificate in front of new connections');
  t.same(outcome.failed, [], 'no request failed');
  t.equal(outcome.ok, 8 * 150);
});

t.test('SIGTERM during sustained load: the draining replica fails no request', async (t) => {
  const bundle = await createCertificates({ hosts: ['localhost', '127.0.0.1'] });
  // Two replicas behind an endpoint list that, like the endpoints controller, only routes to
  // replicas whose readiness passes. The draining replica keeps serving for its shutdown delay
  // (the Deployment's preStop), then closes.
  const a = await replica(t, bundle, 300);
  const b = await replica(t, bundle);
  const replicas = [a.server, b.server];
  let next = 0;
  const pick = () => {
    const ready = replicas.filter((r) => r.readiness().ready);
    next = (next + 1) % ready.length;
    return ready[next] as RunningServer;
  };
  let stopping: Promise<void> | undefined;
  let servedBeforeStop = 0;
  const outcome = await sustainedLoad(pick, bundle.caCert, 8, 150, (done) => {
    if (done === 400) {
      servedBeforeStop = a.served();
      stopping = a.server.shutdown('SIGTERM');
    }
  });
  await stopping;
  t.ok(servedBeforeStop > 0, 'the replica took traffic before SIGTERM');
  t.same(outcome.failed, [], 'no request failed');
  t.equal(outcome.ok, 8 * 150);
  t.ok(b.served() > a.served(), 'the surviving replica took over the rest');
  await t.rejects(
    request(`https://127.0.0.1:${a.server.port}/healthz`, undefined, { ca: bundle.caCert }),
    /ECONNREFUSED/,
  );
});
