/**
 * One reader for the container's memory limit: the launcher's heap cap (bin/node-flags.cjs) and
 * the server's budget of request bytes in flight (src/server/request-bounds.ts) follow the same
 * limit, read from fake cgroup mounts laid out as a container sees /sys/fs/cgroup: v2, v1, a
 * hybrid host, none, and ESW_MEMORY_LIMIT before any of them.
 */
import t, { type Test } from 'tap';
import * as launcher from '../../bin/node-flags.cjs';
import { defaultInflightBytes, memoryLimit, parseBytes } from '../../src/server/request-bounds.ts';

const MiB = 1024 * 1024;
const SEMI = '--max-semi-space-size=8';

/** What each side makes of one mount: the launcher's flags and the server's default budget. */
function bothSides(env: NodeJS.ProcessEnv, root: string): { flags: string[]; inflight: number } {
  const files = launcher.cgroupFiles(root);
  return { flags: launcher.nodeFlags(env, files), inflight: defaultInflightBytes(memoryLimit(env, files)) };
}

/** A cgroup v2 container: the unified tree at the mount, the memory controller on it. */
function v2(t: Test, max: string): string {
  return t.testdir({ 'cgroup.controllers': 'cpuset cpu io memory pids\n', 'memory.max': `${max}\n` });
}

/** A cgroup v1 container: one directory a controller. */
function v1(t: Test, limit: string): string {
  return t.testdir({
    memory: { 'memory.limit_in_bytes': `${limit}\n`, 'memory.usage_in_bytes': '73400320\n' },
    cpu: { 'cpu.shares': '1024\n' },
  });
}

t.test('the server reads the limit with the launcher’s own functions', async (t) => {
  t.equal(memoryLimit, launcher.memoryLimit);
  t.equal(parseBytes, launcher.parseBytes);
});

t.test('cgroup v2: memory.max', async (t) => {
  t.same(bothSides({}, v2(t, '536870912')), {
    flags: [SEMI, '--max-old-space-size=352'],
    inflight: 32 * MiB,
  });
  t.same(bothSides({}, v2(t, '1073741824')), {
    flags: [SEMI, '--max-old-space-size=800'],
    inflight: 64 * MiB,
  });
  t.same(bothSides({}, v2(t, 'max')), { flags: [SEMI], inflight: 32 * MiB }, '"max": no limit');
});

t.test('cgroup v1: memory/memory.limit_in_bytes', async (t) => {
  t.same(bothSides({}, v1(t, '1073741824')), {
    flags: [SEMI, '--max-old-space-size=800'],
    inflight: 64 * MiB,
  });
  t.same(
    bothSides({}, v1(t, '9223372036854771712')),
    { flags: [SEMI], inflight: 32 * MiB },
    "v1's no-limit value",
  );
});

t.test('hybrid host: the v2 memory.max decides where there is one, else v1', async (t) => {
  // A v1-limited container on a hybrid host: systemd's v2 tree sits at unified/ and holds no
  // controller, so there is no memory.max at the mount and the v1 limit is read.
  const hybrid = t.testdir({
    memory: { 'memory.limit_in_bytes': '1073741824\n' },
    unified: { 'cgroup.controllers': '', 'cgroup.procs': '1\n' },
  });
  t.same(bothSides({}, hybrid), { flags: [SEMI, '--max-old-space-size=800'], inflight: 64 * MiB });
  // memory.max at the mount: the memory controller is on v2 for this cgroup, and it is on one
  // hierarchy at a time — its "max" is the answer; a v1 file beside it limits nothing of ours.
  const both = t.testdir({
    'memory.max': 'max\n',
    memory: { 'memory.limit_in_bytes': '1073741824\n' },
  });
  t.same(bothSides({}, both), { flags: [SEMI], inflight: 32 * MiB }, 'no limit on either side');
});

t.test('no cgroup mount (not Linux, not a container): no cap, the default budget', async (t) => {
  t.same(bothSides({}, t.testdir({})), { flags: [SEMI], inflight: 32 * MiB });
});

t.test('ESW_MEMORY_LIMIT comes before any cgroup file, on both sides', async (t) => {
  const env = { ESW_MEMORY_LIMIT: '256Mi' };
  const expected = { flags: [SEMI, '--max-old-space-size=128'], inflight: 16 * MiB };
  t.same(bothSides(env, v2(t, '1073741824')), expected, 'over v2');
  t.same(bothSides(env, v1(t, '1073741824')), expected, 'over v1');
  t.same(bothSides(env, v2(t, 'max')), expected, 'over v2 "max"');
  t.same(bothSides(env, t.testdir({})), expected, 'with no cgroup');
  t.same(
    bothSides({ ESW_MEMORY_LIMIT: '0' }, v2(t, '1073741824')),
    { flags: [SEMI, '--max-old-space-size=800'], inflight: 64 * MiB },
    '0: the cgroup decides',
  );
});
