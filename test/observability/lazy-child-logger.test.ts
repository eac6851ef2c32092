/**
 * The per-request logger fastify hands out is built on first use: no pino child for the common
 * request that logs nothing, the same lines as a real child (bound to the request id) otherwise.
 */
import t from 'tap';
import { createLogger, LazyChildLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { buildApp } from '../../src/server/app.ts';

function capturing(level = 'info') {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level, destination: { write: (l: string) => lines.push(JSON.parse(l)) } });
  let children = 0;
  const original = logger.child;
  // pino children inherit this method: it must build from `this`, not always from the root.
  logger.child = function (this: typeof logger, ...args: Parameters<typeof original>) {
    children++;
    return original.apply(this, args);
  } as typeof original;
  return { logger, lines, children: () => children };
}

t.test('a child is built on the first line only, and logs as a real child', async (t) => {
  const { logger, lines, children } = capturing();
  const lazy = new LazyChildLogger(logger, { reqId: 'req-7' }, {});
  t.equal(lazy.level, 'info', 'the parent level while nothing was logged');
  t.equal(children(), 0, 'nothing built yet');

  lazy.warn({ code: 'X' }, 'first');
  lazy.info('second');
  lazy.debug('below the level');
  t.equal(children(), 1, 'one child, built once');
  t.match(lines, [
    { level: 40, reqId: 'req-7', code: 'X', msg: 'first' },
    { level: 30, reqId: 'req-7', msg: 'second' },
  ]);
  t.equal(lines.length, 2);

  lazy.child({ part: 'p' }).error('nested');
  t.match(lines[2], { level: 50, reqId: 'req-7', part: 'p', msg: 'nested' });

  lazy.level = 'error';
  lazy.warn('dropped');
  lazy.fatal('kept');
  t.equal(lines.length, 4);
  t.match(lines[3], { level: 60, msg: 'kept' });
  t.equal(logger.level, 'info', "the parent's level is untouched");
  lazy.trace('never');
  lazy.silent('never');
  t.equal(lines.length, 4);
});

t.test('fastify hands it to every request: lines from a route carry the request id', async (t) => {
  const { logger, lines, children } = capturing();
  const app = buildApp({
    logger,
    metrics: createMetrics(),
    validate: () => ({ allowed: true }),
    mutate: () => ({ allowed: true }),
    readiness: () => ({ ready: true, reasons: [] }),
  });
  app.get('/log', async (req) => {
    req.log.info('from a route');
    return {};
  });
  t.teardown(() => app.close());
  const before = children();
  t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  t.equal(children(), before, 'a request that logs nothing builds no child');
  t.equal((await app.inject({ method: 'GET', url: '/log' })).statusCode, 200);
  t.equal(children(), before + 1);
  const line = lines.find((l) => l.msg === 'from a route');
  t.match(line, { reqId: String });
});
