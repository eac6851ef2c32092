/**
 * Atomic file replacement for every TLS file this project writes (development certificates,
 * `esw certs`, the built-in certificate mode). A reader — our own certificate watcher, or any
 * other process — sees either the old file or the new one, never a truncated or half-written one:
 * the content goes to a temporary file in the same directory (same file system, so `rename` is
 * atomic), is flushed to disk, and then replaces the target in one step.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Writes `content` to `path` atomically with `mode`. The mode is set on the temporary file at
 * creation, so a private key is never readable by others, even for an instant, and an older,
 * looser file is replaced rather than reused.
 */
export async function writeFileAtomic(path: string, content: string | Buffer, mode = 0o644): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(tmp, 'wx', mode);
    try {
      await handle.writeFile(content);
      await handle.chmod(mode); // the process umask may have narrowed the creation mode
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (err: unknown) {
    await rm(tmp, { force: true });
    throw err;
  }
}
