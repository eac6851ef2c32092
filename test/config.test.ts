import t from 'tap';
import {
  COMMANDS,
  CommandLine,
  type CommandName,
  commandHelp,
  flagsOf,
  parseServeConfig,
} from '../src/config.ts';

t.test('defaults: the embedded standalone server on 8443 with dev certificates', async (t) => {
  const c = parseServeConfig([], {});
  t.equal(c.port, 8443);
  t.equal(c.tlsCert, 'certs/tls.crt');
  t.equal(c.tlsKey, 'certs/tls.key');
  t.equal(c.tlsDefault, true);
  t.equal(c.refresher, true);
  t.equal(c.certMode, 'files');
  t.equal(c.leaseDurationMs, 15_000);
  t.equal(c.shards, 1, 'one Lease, one refreshing replica, unless --shards says otherwise');
  t.equal(c.renewDeadlineMs, 10_000);
  t.equal(c.retryPeriodMs, 2_000);
  t.equal(c.admissionDeadlineMs, 8_000);
  t.equal(c.credentialsRecheckMs, 600_000);
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
  t.equal(parseServeConfig(['--shards', '32'], {}).shards, 32);
  t.equal(parseServeConfig([], { ESW_SHARDS: '8' }).shards, 8);
  for (const bad of ['0', '1025', 'many', '2.5'])
    t.throws(() => parseServeConfig(['--shards', bad], {}), /--shards must be a whole number from 1 to 1024/);
  t.throws(() => parseServeConfig(['--bogus'], {}), /bogus/);
  t.throws(() => parseServeConfig(['--credentials-recheck', 'often'], {}), /--credentials-recheck/);
});

t.test(
  '--renew-deadline must end before the lease duration less 10 %: a replica stops writing a shard before another may take it',
  async (t) => {
    t.throws(
      () => parseServeConfig(['--lease-duration', '15s', '--renew-deadline', '14s'], {}),
      /--renew-deadline \(14000 ms\) must be shorter than --lease-duration \(15000 ms\) less 10 % \(13500 ms\)/,
    );
    t.throws(
      () => parseServeConfig(['--lease-duration', '15s', '--renew-deadline', '13500ms'], {}),
      /--renew-deadline/,
      'the limit itself is refused',
    );
    t.equal(
      parseServeConfig(['--lease-duration', '15s', '--renew-deadline', '13499ms'], {}).renewDeadlineMs,
      13_499,
      'just under it is taken',
    );
    t.equal(parseServeConfig([], {}).renewDeadlineMs, 10_000, 'the defaults hold (10 s of 15 s)');
  },
);

t.test(
  '--credentials-recheck: a duration, from the flag or ESW_CREDENTIALS_RECHECK; 0 turns it off',
  async (t) => {
    t.equal(parseServeConfig(['--credentials-recheck', '5m'], {}).credentialsRecheckMs, 300_000);
    t.equal(parseServeConfig([], { ESW_CREDENTIALS_RECHECK: '30s' }).credentialsRecheckMs, 30_000);
    t.equal(parseServeConfig(['--credentials-recheck', '0s'], {}).credentialsRecheckMs, 0);
  },
);

t.test('mode is explicit: KUBECONFIG alone never switches to cluster mode', async (t) => {
  const standalone = parseServeConfig([], { KUBECONFIG: '/home/me/.kube/config' });
  t.equal(standalone.mode, 'standalone');
  t.equal(standalone.kubeconfig, undefined);
  t.equal(standalone.host, '127.0.0.1', 'standalone serves example values to this machine only');

  const flag = parseServeConfig(['--kubeconfig', '/k'], {});
  t.equal(flag.mode, 'cluster');
  t.equal(flag.host, '0.0.0.0', 'cluster mode: the API server must reach it');
  t.equal(parseServeConfig([], { ESW_KUBECONFIG: '/k' }).mode, 'cluster');

  const pod = parseServeConfig([], { KUBERNETES_SERVICE_HOST: '10.0.0.1' });
  t.equal(pod.mode, 'cluster', 'inside a pod');
  t.equal(
    parseServeConfig(['--stores', 'a.yaml'], { KUBERNETES_SERVICE_HOST: '10.0.0.1' }).mode,
    'standalone',
  );
  t.equal(parseServeConfig(['--host', '0.0.0.0'], {}).host, '0.0.0.0', '--host says otherwise');
  t.equal(parseServeConfig([], { ESW_HOST: '::' }).host, '::');
  t.throws(() => parseServeConfig(['--kubeconfig', '/k', '--stores', 'a.yaml'], {}), /exclude each other/);
});

t.test(
  'every flag: help lists it with its env variable and default, and the parser reads them',
  async (t) => {
    for (const command of Object.keys(COMMANDS) as CommandName[]) {
      const help = commandHelp(command);
      // Help wraps long descriptions: an entry runs from its flag to the next flag.
      const entries = new Map<string, string>();
      let current = '';
      for (const l of help.slice(help.indexOf('\nFlags:\n')).split('\n').slice(2)) {
        const m = /^ {2}(?:-\w, | {4})--([\w-]+)/.exec(l);
        if (m?.[1]) current = m[1];
        if (current) entries.set(current, `${entries.get(current) ?? ''} ${l.trim()}`);
      }
      for (const f of flagsOf(command)) {
        const entryText = entries.get(f.name) ?? '';
        t.ok(entryText, `${command} --help lists --${f.name}`);
        if (f.env) t.match(entryText, `env ${f.env}`, `--${f.name}: env ${f.env}`);
        const shown = f.defaultText ?? f.default;
        if (shown !== undefined) t.match(entryText, `default ${shown}`, `--${f.name}: default`);
        // The parser accepts the flag (and its default converts).
        if (f.name !== 'help') t.doesNotThrow(() => new CommandLine(command, [], {}).raw(f.name));
      }
    }
    // Env equivalents are read, through the same table.
    const fromEnv = parseServeConfig([], {
      ESW_SHUTDOWN_DELAY: '5s',
      ESW_CACHE_TTL: '1m',
      ESW_ADMISSION_DEADLINE: '4s',
      POD_NAME: 'p-1',
      ESW_MUTATING_WEBHOOK: 'm',
      ESW_VALIDATING_WEBHOOK: 'v',
      ESW_LEASE_NAME: 'l',
    });
    t.match(fromEnv, {
      shutdownDelayMs: 5_000,
      cacheTtlMs: 60_000,
      admissionDeadlineMs: 4_000,
      podName: 'p-1',
      mutatingWebhookName: 'm',
      validatingWebhookName: 'v',
      leaseName: 'l',
    });
  },
);

t.test('help defaults are the defaults the parser applies', async (t) => {
  const cl = new CommandLine('serve', [], {});
  for (const f of flagsOf('serve')) {
    if (f.default === undefined || f.kind === 'boolean') continue;
    const flagGiven = new CommandLine('serve', [`--${f.name}`, f.default], {});
    t.same(
      typeof f.kind === 'string' && ['port', 'duration'].includes(f.kind)
        ? cl.number(f.name)
        : cl.string(f.name),
      typeof f.kind === 'string' && ['port', 'duration'].includes(f.kind)
        ? flagGiven.number(f.name)
        : flagGiven.string(f.name),
      `--${f.name} ${f.default} is what no flag means`,
    );
  }
  t.throws(
    () => new CommandLine('certs', ['--days', 'abc'], {}).number('days'),
    /--days must be a whole number/,
  );
  t.throws(() => new CommandLine('certs', ['--days', '0'], {}).number('days'), /--days/);
  t.equal(new CommandLine('certs', [], {}).number('days'), 365);
  t.throws(
    () => new CommandLine('serve', ['--log-level', 'loud'], {}).string('log-level'),
    /--log-level must be/,
  );
  t.throws(() => new CommandLine('validate', ['--port', '1'], {}), /unknown flag --port/);
});
