/*
 * The V8 flags `esw` runs with (bin/esw.cjs, the container image's ENTRYPOINT and `npm start` go
 * through it). Plain CommonJS, as the launcher: no dependency, any Node from 16 on.
 *
 *   - `--max-semi-space-size=8`: a young generation of 8 MiB semi-spaces instead of V8's default
 *     (up to 64): the refresher's per-sync garbage is short-lived, and the default let the RSS of a
 *     10,000-ExternalSecret first sync peak ~100 MiB higher for no faster a sync.
 *   - `--max-old-space-size` from the container's memory limit: V8 sizes its old generation from
 *     the memory it sees (half of a cgroup's limit, up to 4 GiB), so in a 512Mi pod the heap can
 *     use only ~256 MiB — and on a machine with no limit it lets garbage pile up far beyond what
 *     the pod would be granted. The limit minus a reserve for what is not old space (the young
 *     generation, code and the node binary's own pages, Buffers, sockets, TLS) is given to the
 *     old generation instead, never less than V8's own half.
 *
 * An explicit `--max-old-space-size` (or `-percentage`) in NODE_OPTIONS wins: none is added, since
 * a flag on the command line would override the user's.
 * (bench/RESULTS.md, Scale; docs/install.md, Memory.)
 *
 * The memory limit is read here and nowhere else: the server loads this file to size its budget of
 * request bytes in flight (src/server/request-bounds.ts), so the heap cap and the budget follow
 * the same limit. It ships beside dist/ in the image (Dockerfile) and in the package (`files`).
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const MiB = 1024 * 1024;
/** Outside the old generation, whatever the limit: young generation, binary, code, sockets. */
const RESERVE_FIXED = 96 * MiB;
/** And a share of the limit: Buffers and request bodies grow with it (1/16 is the in-flight budget). */
const RESERVE_SHARE = 1 / 8;
/**
 * The limit files below a cgroup mount: v2's, then v1's. The first one there decides, "max" too.
 * A kernel binds the memory controller to one hierarchy at a time, and v2 shows `memory.max` only
 * where that controller is on v2 for this cgroup — so beside it, a v1 memory file is not this
 * process's limit. A v1-limited container on a hybrid host (systemd's v2 tree at `unified/`, with no
 * controller) has no `memory.max` here: its v1 file is read. (docs/install.md, Memory.)
 */
function cgroupFiles(root) {
  return [path.join(root, 'memory.max'), path.join(root, 'memory', 'memory.limit_in_bytes')];
}
const CGROUP_FILES = cgroupFiles('/sys/fs/cgroup');
const UNITS = { '': 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9, Ki: 1024, Mi: MiB, Gi: 1024 * MiB };

/** Bytes from `536870912` or a Kubernetes quantity (`512Mi`); undefined when malformed or 0. */
function parseBytes(text) {
  const m = /^\s*(\d{1,15})(k|K|M|G|Ki|Mi|Gi)?\s*$/.exec(String(text));
  if (!m) return undefined;
  const n = Number(m[1]) * UNITS[m[2] || ''];
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/**
 * The memory limit: `ESW_MEMORY_LIMIT` (the chart sets it from `limits.memory` through the Downward
 * API), else the cgroup's; undefined when there is none.
 */
function memoryLimit(env = process.env, files = CGROUP_FILES) {
  const fromEnv = env.ESW_MEMORY_LIMIT ? parseBytes(env.ESW_MEMORY_LIMIT) : undefined;
  if (fromEnv) return fromEnv;
  for (const file of files) {
    let text;
    try {
      text = fs.readFileSync(file, 'utf8').trim();
    } catch {
      continue;
    }
    // "max" (v2) and v1's huge page-rounded number mean no limit.
    const n = Number(text);
    return Number.isSafeInteger(n) && n > 0 && n < 2 ** 50 ? n : undefined;
  }
  return undefined;
}

/** The old generation's cap in MiB for a memory limit in bytes. */
function oldSpaceMiB(limit) {
  const reserved = limit - RESERVE_FIXED - Math.floor(limit * RESERVE_SHARE);
  return Math.floor(Math.max(reserved, limit / 2) / MiB);
}

/** The flags for this environment: `env` and the cgroup files are injectable for tests. */
function nodeFlags(env = process.env, files = CGROUP_FILES) {
  const flags = ['--max-semi-space-size=8'];
  if (/--max-old-space-size/.test(env.NODE_OPTIONS || '')) return flags;
  const limit = memoryLimit(env, files);
  if (limit !== undefined) flags.push(`--max-old-space-size=${oldSpaceMiB(limit)}`);
  return flags;
}

module.exports = { nodeFlags, oldSpaceMiB, memoryLimit, parseBytes, cgroupFiles };
