/**
 * TLS material for the HTTPS server: options shared by the first start and every reload, and a
 * watcher that swaps certificates in place (`setSecureContext`) when the files change — no
 * restart, no dropped connection. Kubernetes updates mounted Secrets by swapping a `..data`
 * symlink, which some file systems report late or not at all, so a slow poll backs up fs.watch.
 */
import { createHash } from 'node:crypto';
import { type FSWatcher, readFileSync, watch } from 'node:fs';
import { dirname } from 'node:path';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** Client CA for mutual TLS (`--client-ca`): clients must present a certificate it signed. */
  clientCaFile?: string | undefined;
}

export interface TlsMaterial {
  cert: string;
  key: string;
  ca?: string;
}

export function readTlsMaterial(files: TlsFiles): TlsMaterial {
  const material: TlsMaterial = {
    cert: readFileSync(files.certFile, 'utf8'),
    key: readFileSync(files.keyFile, 'utf8'),
  };
  if (files.clientCaFile) material.ca = readFileSync(files.clientCaFile, 'utf8');
  // Throws on a cert/key mismatch or a half-written file, before anything is swapped in.
  createSecureContext(secureContextOptions(material));
  return material;
}

export function secureContextOptions(m: TlsMaterial): SecureContextOptions {
  return {
    cert: m.cert,
    key: m.key,
    minVersion: 'TLSv1.2',
    ...(m.ca ? { ca: m.ca } : {}),
  };
}

/** Server options: TLS 1.2 minimum; with a client CA, clients without a valid certificate are refused. */
export function httpsServerOptions(m: TlsMaterial) {
  return {
    ...secureContextOptions(m),
    ...(m.ca ? { requestCert: true, rejectUnauthorized: true } : {}),
  };
}

export interface CertificateWatcherOptions {
  files: TlsFiles;
  logger: Logger;
  /** Called with new, verified material. */
  onChange: (material: TlsMaterial) => void;
  /** Poll period backing up fs.watch; default 10 s. */
  pollMs?: number;
  debounceMs?: number;
}

export class CertificateWatcher {
  readonly #opts: CertificateWatcherOptions;
  #fingerprint: string;
  #watchers: FSWatcher[] = [];
  #poll: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;

  constructor(opts: CertificateWatcherOptions, initial: TlsMaterial) {
    this.#opts = opts;
    this.#fingerprint = fingerprint(initial);
  }

  start(): void {
    const dirs = new Set(
      [this.#opts.files.certFile, this.#opts.files.keyFile, this.#opts.files.clientCaFile]
        .filter((f): f is string => typeof f === 'string')
        .map((f) => dirname(f)),
    );
    for (const dir of dirs) {
      try {
        const w = watch(dir, { persistent: false }, () => this.#schedule());
        w.on('error', () => undefined);
        this.#watchers.push(w);
      } catch (err: unknown) {
        this.#opts.logger.warn(
          { dir, err: errorMessage(err) },
          'cannot watch certificate directory; polling only',
        );
      }
    }
    this.#poll = setInterval(() => this.reload(), this.#opts.pollMs ?? 10_000);
    this.#poll.unref();
  }

  stop(): void {
    for (const w of this.#watchers) w.close();
    this.#watchers = [];
    if (this.#poll) clearInterval(this.#poll);
    if (this.#debounce) clearTimeout(this.#debounce);
  }

  /** Reads the files; swaps them in if they changed and form a valid pair. Returns true on swap. */
  reload(): boolean {
    let material: TlsMaterial;
    try {
      material = readTlsMaterial(this.#opts.files);
    } catch (err: unknown) {
      // Mid-rotation (cert written, key not yet) or a broken file: keep serving the old pair.
      this.#opts.logger.warn(
        { err: errorMessage(err) },
        'certificate files not usable yet; keeping the current ones',
      );
      return false;
    }
    const fp = fingerprint(material);
    if (fp === this.#fingerprint) return false;
    this.#fingerprint = fp;
    this.#opts.onChange(material);
    this.#opts.logger.info({ cert: this.#opts.files.certFile }, 'serving certificate reloaded');
    return true;
  }

  #schedule(): void {
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => this.reload(), this.#opts.debounceMs ?? 100);
    this.#debounce.unref();
  }
}

function fingerprint(m: TlsMaterial): string {
  return createHash('sha256')
    .update(m.cert)
    .update('\0')
    .update(m.key)
    .update('\0')
    .update(m.ca ?? '')
    .digest('hex');
}
