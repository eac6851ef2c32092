import t from 'tap';
import { parseServeConfig } from '../src/config.ts';

t.test('defaults: the embedded standalone server on 8443 with dev certificates', async (t) => {
  const c = parseServeConfig([], {});
  t.equal(c.port, 8443);
  t.equal(c.tlsCert, 'certs/tls.crt');
  t.equal(c.tlsKey, 'certs/tls.key');
  t.equal(c.tlsDefault, true);
  t.equal(c.refresher, true);
  t.equal(c.certMode, 'files');
  t.equal(c.leaseDurationMs, 15_000);
  t.equal(c.renewDeadlineMs, 10_000);
  t.equal(c.retryPeriodMs, 2_000);
  t.equal(c.admissionDeadlineMs, 8_000);
  t.equal(c.credentialsRecheckMs, 60_000);
  t.same(c.stores, []);
});

t.test('flags win over environment', async (t) => {
  const env = {
    ESW_PORT: '9000',
    ESW_LOG_LEVEL: 'warn',
    ESW_STORES: 'a.yaml,b.yaml',
    ESW_NO_REFRESHER: 'true',
  };
  const fromEnv = parseServeConfig([], env);
  t.equal(fromEnv.port, 9000);
  t.equal(fromEnv.logLevel, 'warn');
  t.same(fromEnv.stores, ['a.yaml', 'b.yaml']);
  t.equal(fromEnv.refresher, false);
  const fromFlags = parseServeConfig(
    ['--port', '9443', '--log-level', 'debug', '--stores', 'x.yaml', 'y.yaml', '--lease-duration', '30s'],
    env,
  );
  t.equal(fromFlags.port, 9443);
  t.equal(fromFlags.logLevel, 'debug');
  t.same(fromFlags.stores, ['x.yaml', 'y.yaml']);
  t.equal(fromFlags.leaseDurationMs, 30_000);
});

t.test('certificate flags', async (t) => {
  const c = parseServeConfig(
    ['--tls-cert', '/t/tls.crt', '--tls-key', '/t/tls.key', '--client-ca', '/t/ca.crt'],
    {},
  );
  t.equal(c.tlsDefault, false);
  t.equal(c.clientCa, '/t/ca.crt');
  t.throws(() => parseServeConfig(['--tls-cert', 'a'], {}), /given together/);
  t.throws(() => parseServeConfig(['--cert-mode', 'magic'], {}), /cert-mode/);
  t.equal(parseServeConfig(['--cert-mode', 'builtin'], {}).certMode, 'builtin');
});

t.test('bad values are refused with the flag named', async (t) => {
  t.throws(() => parseServeConfig(['--port', 'http'], {}), /--port/);
  t.throws(() => parseServeConfig(['--port', '70000'], {}), /--port/);
  t.throws(() => parseServeConfig(['--lease-duration', 'soon'], {}), /--lease-duration/);
  t.throws(() => parseServeConfig(['--bogus'], {}), /bogus/);
  t.throws(() => parseServeConfig(['--credentials-recheck', 'often'], {}), /--credentials-recheck/);
});

t.test(
  '--credentials-recheck: a duration, from the flag or ESW_CREDENTIALS_RECHECK; 0 turns it off',
  async (t) => {
    t.equal(parseServeConfig(['--credentials-recheck', '5m'], {}).credentialsRecheckMs, 300_000);
    t.equal(parseServeConfig([], { ESW_CREDENTIALS_RECHECK: '30s' }).credentialsRecheckMs, 30_000);
    t.equal(parseServeConfig(['--credentials-recheck', '0s'], {}).credentialsRecheckMs, 0);
  },
);
