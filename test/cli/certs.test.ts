/** `esw certs` in-process: flag validation, --days, --force (test/cli/npx.test.ts runs it through npx). */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { certificateHosts, certificateNotAfter } from '../../src/server/certs.ts';
import { esw } from '../helpers/esw.ts';

t.test('bad flags are usage errors (exit 2) that name the flag', async (t) => {
  const dir = t.testdir({});
  for (const [args, message] of [
    [['--days', 'abc'], '--days must be a whole number of days from 1 to 3650, got "abc"'],
    [['--days', '0'], '--days must be a whole number of days from 1 to 3650, got "0"'],
    [['--days', '36500'], 'got "36500"'],
    [['--dns', 'Not A Name'], '--dns "Not A Name" is neither an IP address nor a lowercase DNS name'],
    [['--bogus'], 'unknown flag --bogus'],
  ] as const) {
    const r = await esw(['certs', '--out', dir, '--dns', 'localhost', ...args]);
    t.equal(r.code, 2, args.join(' '));
    t.match(r.err, message);
    t.match(r.err, "Run 'esw certs --help' for every flag.");
  }
  t.match((await esw(['certs', '--dns', 'localhost'])).err, '--out DIR is required');
  t.match((await esw(['certs', '--out', dir])).err, '--dns NAME is required');
});

t.test('--days sets the lifetime; an existing CA is replaced only with --force', async (t) => {
  const dir = t.testdir({});
  const first = await esw([
    'certs',
    '--out',
    dir,
    '--dns',
    'webhook.ns.svc',
    '--dns',
    '10.0.0.1',
    '--days',
    '30',
  ]);
  t.equal(first.code, 0, first.err);
  const cert = await readFile(join(dir, 'tls.crt'), 'utf8');
  t.same(certificateHosts(cert).sort(), ['10.0.0.1', 'webhook.ns.svc']);
  const days = ((certificateNotAfter(cert)?.getTime() ?? 0) - Date.now()) / 86_400_000;
  t.ok(days > 29 && days <= 30, `30 days, got ${days}`);

  const ca = await readFile(join(dir, 'ca.crt'), 'utf8');
  const refused = await esw(['certs', '--out', dir, '--dns', 'webhook.ns.svc']);
  t.equal(refused.code, 1);
  t.match(refused.err, 'ca.crt and');
  t.equal(await readFile(join(dir, 'ca.crt'), 'utf8'), ca, 'the CA is kept');
  t.equal(await readFile(join(dir, 'tls.crt'), 'utf8'), cert, 'and so is the certificate');

  const forced = await esw(['certs', '--out', dir, '--dns', 'webhook.ns.svc', '--force']);
  t.equal(forced.code, 0);
  t.not(await readFile(join(dir, 'ca.crt'), 'utf8'), ca, '--force replaces it');
});

t.test('--help and --version for every command; unknown commands are usage errors', async (t) => {
  for (const command of ['serve', 'validate', 'render', 'certs']) {
    const r = await esw([command, '--help']);
    t.equal(r.code, 0);
    t.match(r.out, `Usage: esw ${command}`);
    t.equal(r.err, '');
    t.same(await esw(['help', command]), r, `esw help ${command}`);
  }
  t.match((await esw(['--version'])).out, /^esw \d+\.\d+\.\d+ \(node v\d+/);
  t.match((await esw(['-h'])).out, /Commands:\n {2}serve/);
  const none = await esw([]);
  t.equal(none.code, 2);
  t.match(none.err, 'Usage: esw <command>');
  const unknown = await esw(['frobnicate']);
  t.equal(unknown.code, 2);
  t.match(unknown.err, 'unknown command "frobnicate"');
  const noPath = await esw(['validate']);
  t.equal(noPath.code, 2);
  t.match(noPath.err, 'validate needs at least one PATH (or -)');
});
