/**
 * The launcher's V8 flags (bin/node-flags.cjs): the old-generation cap derived from the memory
 * limit (ESW_MEMORY_LIMIT, cgroup v2 `memory.max`, cgroup v1 `memory.limit_in_bytes`, read from
 * fake cgroup files here), an explicit NODE_OPTIONS winning; and bin/esw.cjs giving them to the
 * process that runs the command — the same process, replaced (`process.execve`), not a child.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { nodeFlags, oldSpaceMiB } from '../../bin/node-flags.cjs';

const root = join(import.meta.dirname, '..', '..');
const MiB = 1024 * 1024;
const SEMI = '--max-semi-space-size=8';

/** Fake cgroup files in a test directory: [v2 memory.max, v1 memory.limit_in_bytes]. */
function cgroup(t: Test, v2?: string, v1?: string): string[] {
  const dir = t.testdir({
    ...(v2 === undefined ? {} : { 'memory.max': `${v2}\n` }),
    ...(v1 === undefined ? {} : { 'memory.limit_in_bytes': `${v1}\n` }),
  });
  return [join(dir, 'memory.max'), join(dir, 'memory.limit_in_bytes')];
}

t.test(
  'the cap is the limit less a reserve for what is not old space, never under V8\u2019s half',
  async (t) => {
    t.equal(oldSpaceMiB(512 * MiB), 352, '512Mi: 512 - 96 - 64');
    t.equal(oldSpaceMiB(1024 * MiB), 800, '1Gi: 1024 - 96 - 128');
    t.equal(oldSpaceMiB(2048 * MiB), 1696);
    t.equal(oldSpaceMiB(256 * MiB), 128, "256Mi: V8's own half");
    t.equal(oldSpaceMiB(128 * MiB), 64, "128Mi: V8's own half, not a negative reserve");
  },
);

t.test('cgroup v2 memory.max', async (t) => {
  t.same(nodeFlags({}, cgroup(t, '536870912')), [SEMI, '--max-old-space-size=352']);
  t.same(nodeFlags({}, cgroup(t, 'max', '1073741824')), [SEMI], '"max": no limit, v1 not consulted');
});

t.test('cgroup v1 memory.limit_in_bytes when there is no v2 file', async (t) => {
  t.same(nodeFlags({}, cgroup(t, undefined, '1073741824')), [SEMI, '--max-old-space-size=800']);
  t.same(nodeFlags({}, cgroup(t, undefined, '9223372036854771712')), [SEMI], "v1's no-limit value");
  t.same(nodeFlags({}, cgroup(t)), [SEMI], 'no cgroup files (not Linux, not a container)');
  t.same(nodeFlags({}, cgroup(t, 'garbage', '')), [SEMI], 'unreadable contents: no cap');
});

t.test('ESW_MEMORY_LIMIT (the chart passes limits.memory) is read first', async (t) => {
  const files = cgroup(t, '4294967296');
  t.same(nodeFlags({ ESW_MEMORY_LIMIT: '536870912' }, files), [SEMI, '--max-old-space-size=352']);
  t.same(nodeFlags({ ESW_MEMORY_LIMIT: '1Gi' }, files), [SEMI, '--max-old-space-size=800']);
  t.same(
    nodeFlags({ ESW_MEMORY_LIMIT: '512 MiB' }, files),
    [SEMI, `--max-old-space-size=${oldSpaceMiB(4 * 1024 * MiB)}`],
    'malformed: the cgroup decides',
  );
});

t.test("the user's NODE_OPTIONS wins: no cap of ours over theirs", async (t) => {
  const files = cgroup(t, '536870912');
  t.same(nodeFlags({ NODE_OPTIONS: '--max-old-space-size=200' }, files), [SEMI]);
  t.same(nodeFlags({ NODE_OPTIONS: '--enable-source-maps --max-old-space-size-percentage=60' }, files), [
    SEMI,
  ]);
  t.same(
    nodeFlags({ NODE_OPTIONS: '--enable-source-maps' }, files),
    [SEMI, '--max-old-space-size=352'],
    'other options leave the cap alone',
  );
});

/** Runs `node bin/esw.cjs --version` with a probe preloaded: each process it runs in reports itself. */
function launch(t: Test, env: NodeJS.ProcessEnv): Promise<Array<{ pid: number; execArgv: string[] }>> {
  const dir = t.testdir({});
  const probe = join(dir, 'probe.mjs');
  return writeFile(
    probe,
    `process.stderr.write('PROBE ' + JSON.stringify({ pid: process.pid, execArgv: process.execArgv }) + '\\n');\n`,
  ).then(
    () =>
      new Promise((resolve, reject) => {
        execFile(
          join(root, 'node_modules', 'node', 'bin', 'node'),
          [join(root, 'bin', 'esw.cjs'), '--version'],
          {
            cwd: root,
            env: { ...process.env, ...env, NODE_OPTIONS: `--import ${probe} ${env.NODE_OPTIONS ?? ''}` },
            timeout: 60_000,
          },
          (err, stdout, stderr) => {
            if (err) return reject(err);
            t.match(stdout, /^esw \d/, 'the command ran');
            resolve(
              stderr
                .split('\n')
                .filter((l) => l.startsWith('PROBE '))
                .map((l) => JSON.parse(l.slice(6))),
            );
          },
        );
      }),
  );
}

t.test('esw.cjs runs the command in its own process, with the cap for ESW_MEMORY_LIMIT', async (t) => {
  const [launcher, command, ...more] = await launch(t, { ESW_MEMORY_LIMIT: '512Mi' });
  t.same(more, [], 'two starts of node, no third');
  t.equal(command?.pid, launcher?.pid, 'the launcher was replaced, not given a child');
  t.notOk(launcher?.execArgv.some((a) => a.startsWith('--max-old-space-size')));
  t.match(command?.execArgv, [SEMI, '--max-old-space-size=352']);
});

t.test("esw.cjs with the user's --max-old-space-size: theirs only", async (t) => {
  const [, command] = await launch(t, {
    ESW_MEMORY_LIMIT: '512Mi',
    NODE_OPTIONS: '--max-old-space-size=300',
  });
  t.same(command?.execArgv, [SEMI], 'no cap on the command line: it would override theirs');
});
