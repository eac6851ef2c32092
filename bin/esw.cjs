#!/usr/bin/env node
/*
 * The `esw` command: a launcher that runs on whatever Node.js started it (plain CommonJS that
 * any Node from 16 on runs) and re-executes the command on Node 24, which the project needs:
 *   - the Node 24 that `npm ci` installs from the `node` devDependency (node_modules/node),
 *     else the running Node when it is 24 or newer;
 *   - the compiled dist/main.js when it exists and is not older than src/, else src/main.ts
 *     through Node's type stripping (a checkout that was never built, or edited since);
 *   - with the V8 flags of bin/node-flags.cjs (young generation, an old-generation cap from the
 *     memory limit).
 * The container image's ENTRYPOINT is this launcher too. Where Node can (`process.execve`, Node
 * 22.15 / 23.11 on, not Windows) the process is replaced, so one process runs — in a pod, the one
 * the memory limit is for, as PID 1. Else the command runs as a child: signals are passed on and
 * the exit code comes back, so `esw serve` stops cleanly.
 */
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { nodeFlags } = require('./node-flags.cjs');

const MIN_MAJOR = 24;
const root = path.resolve(__dirname, '..');

function major(version) {
  return Number(String(version).replace(/^v/, '').split('.')[0]);
}

function nodeBinary() {
  const bundled = path.join(
    root,
    'node_modules',
    'node',
    'bin',
    process.platform === 'win32' ? 'node.exe' : 'node',
  );
  if (fs.existsSync(bundled)) return bundled;
  if (major(process.versions.node) >= MIN_MAJOR) return process.execPath;
  return undefined;
}

/** Newest modification time under dir (bounded: sources are a few hundred files). */
function newestMtime(dir, budget) {
  let newest = 0;
  const stack = [dir];
  while (stack.length > 0 && budget.left-- > 0) {
    const current = stack.pop();
    let entries;
    try {
      entries = fs.readdirSync(current, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const p = path.join(current, e.name);
      if (e.isDirectory()) stack.push(p);
      else newest = Math.max(newest, fs.statSync(p).mtimeMs);
    }
  }
  return newest;
}

function entryPoint() {
  const built = path.join(root, 'dist', 'main.js');
  const source = path.join(root, 'src', 'main.ts');
  const hasBuilt = fs.existsSync(built);
  if (!fs.existsSync(source)) return hasBuilt ? built : undefined;
  if (hasBuilt && fs.statSync(built).mtimeMs >= newestMtime(path.join(root, 'src'), { left: 2000 }))
    return built;
  return source;
}

const node = nodeBinary();
const entry = entryPoint();
if (!node) {
  process.stderr.write(
    `esw: needs Node.js ${MIN_MAJOR} or newer, this is ${process.version}. In a checkout, run \`npm ci\` first: ` +
      'it installs Node 24 into node_modules/node and `npx esw` uses it.\n',
  );
  process.exit(2);
}
if (!entry) {
  process.stderr.write(`esw: neither dist/main.js nor src/main.ts found under ${root}\n`);
  process.exit(2);
}

// Node strips types itself except under node_modules (an installed copy of the package, as
// pre-commit installs it): there a load hook does it for the package's own sources.
const installed = root.split(path.sep).includes('node_modules');
const flags =
  entry.endsWith('.ts') && installed
    ? [
        '--disable-warning=ExperimentalWarning',
        '--import',
        pathToFileURL(path.join(__dirname, 'strip-types.mjs')).href,
      ]
    : [];
const args = [...nodeFlags(), ...flags, entry, ...process.argv.slice(2)];
if (typeof process.execve === 'function' && process.platform !== 'win32') {
  process.execve(node, [node, ...args], process.env);
}
const child = spawn(node, args, { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    // A terminal's Ctrl-C reaches the whole process group; the child decides how to stop.
    if (child.exitCode === null) child.kill(signal);
  });
}
child.on('error', (err) => {
  process.stderr.write(`esw: cannot start ${node}: ${err.message}\n`);
  process.exit(2);
});
child.on('exit', (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code === null ? 1 : code);
});
