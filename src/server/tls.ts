/**
 * TLS material for the HTTPS server: options shared by the first start and every reload, and a
 * watcher that swaps certificates in place (`setSecureContext`) when the files change — no
 * restart, no dropped connection. Kubernetes updates mounted Secrets by swapping a `..data`
 * symlink, which some file systems report late or not at all, so a slow poll backs up fs.watch.
 *
 * Whoever writes the files (cert-manager's CSI driver, a script, `esw certs`) may be caught
 * mid-write: `writeFile` truncates before it writes. Node's `createSecureContext` accepts an
 * empty certificate or key without complaint, and a context without a certificate fails every
 * new handshake — so a pair is checked in full before it is served (see `checkTlsMaterial`).
 */
import { createHash, createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
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

/** Why a pair of TLS files cannot be served; the message names files and dates, never key bytes. */
export class TlsMaterialError extends Error {
  override readonly name = 'TlsMaterialError';
  /** `expired` and `not-yet-valid` describe a complete pair; everything else an unusable one. */
  readonly reason: 'empty' | 'unparsable' | 'mismatch' | 'expired' | 'not-yet-valid';
  constructor(reason: TlsMaterialError['reason'], message: string) {
    super(message);
    this.reason = reason;
  }
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Every certificate of a PEM bundle, leaf first; throws unless the whole bundle parses. */
function parseCertificates(pem: string, what: string): X509Certificate[] {
  if (pem.trim() === '') throw new TlsMaterialError('empty', `${what} is empty`);
  const blocks = pem.match(PEM_CERT) ?? [];
  // A truncated trailing block has a BEGIN line and no END line: count BEGINs, not matches.
  const begins = pem.split('-----BEGIN ').length - 1;
  if (blocks.length === 0 || blocks.length !== begins) {
    throw new TlsMaterialError('unparsable', `${what} is not a complete PEM certificate bundle`);
  }
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch {
      throw new TlsMaterialError('unparsable', `${what}: certificate ${i + 1} does not parse`);
    }
  });
}

function parsePrivateKey(pem: string, what: string): KeyObject {
  if (pem.trim() === '') throw new TlsMaterialError('empty', `${what} is empty`);
  try {
    return createPrivateKey(pem);
  } catch {
    // The parser's own text may quote the input: our words only.
    throw new TlsMaterialError('unparsable', `${what} is not a complete PEM private key`);
  }
}

/**
 * Checks that `m` is a pair worth serving: both PEMs non-empty and parsed in full (every
 * certificate of the chain, the key), the key belongs to the leaf certificate, the leaf is
 * valid at `now`, and the client CA (when configured) parses. Throws TlsMaterialError otherwise.
 */
export function checkTlsMaterial(m: TlsMaterial, files: TlsFiles, now: Date = new Date()): void {
  const [leaf] = parseCertificates(m.cert, `certificate ${files.certFile}`);
  const key = parsePrivateKey(m.key, `key ${files.keyFile}`);
  if (!leaf?.checkPrivateKey(key)) {
    throw new TlsMaterialError(
      'mismatch',
      `key ${files.keyFile} does not belong to certificate ${files.certFile}`,
    );
  }
  if (m.ca !== undefined) parseCertificates(m.ca, `client CA ${files.clientCaFile}`);
  // Anything parseCertificates accepts but OpenSSL refuses still stops here, before a swap.
  try {
    createSecureContext(secureContextOptions(m));
  } catch {
    throw new TlsMaterialError(
      'unparsable',
      `certificate ${files.certFile} and key ${files.keyFile} are refused by TLS`,
    );
  }
  const notBefore = new Date(leaf.validFrom);
  const notAfter = new Date(leaf.validTo);
  if (now < notBefore) {
    throw new TlsMaterialError(
      'not-yet-valid',
      `certificate ${files.certFile} is not valid before ${notBefore.toISOString()}`,
    );
  }
  if (now > notAfter) {
    throw new TlsMaterialError(
      'expired',
      `certificate ${files.certFile} expired at ${notAfter.toISOString()}`,
    );
  }
}

function readFiles(files: TlsFiles): TlsMaterial {
  const material: TlsMaterial = {
    cert: readFileSync(files.certFile, 'utf8'),
    key: readFileSync(files.keyFile, 'utf8'),
  };
  if (files.clientCaFile) material.ca = readFileSync(files.clientCaFile, 'utf8');
  return material;
}

/**
 * The pair to start with. A missing, empty, unparsable or mismatched pair is fatal (there is
 * nothing to serve). An expired or not-yet-valid one is served with a warning: refusing to start
 * would not make a renewed certificate arrive sooner, and the watcher swaps it in when it does.
 */
export function readTlsMaterial(files: TlsFiles, opts: { logger?: Logger; now?: Date } = {}): TlsMaterial {
  const material = readFiles(files);
  try {
    checkTlsMaterial(material, files, opts.now);
  } catch (err: unknown) {
    const dated =
      err instanceof TlsMaterialError && (err.reason === 'expired' || err.reason === 'not-yet-valid');
    if (!dated) throw err;
    opts.logger?.error({ err: err.message }, 'serving certificate is outside its validity period');
  }
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
  /** Clock for the validity check; tests inject one. */
  now?: () => Date;
}

export class CertificateWatcher {
  readonly #opts: CertificateWatcherOptions;
  #fingerprint: string;
  #watchers: FSWatcher[] = [];
  #poll: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;
  /** The last problem logged, so a pair that stays broken is reported once, not on every poll. */
  #lastProblem: string | undefined;

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

  /**
   * Reads the files; swaps them in if they changed and form a complete, matching, currently
   * valid pair. Anything else keeps the current context and is logged once. Returns true on swap.
   */
  reload(): boolean {
    let material: TlsMaterial;
    try {
      material = readFiles(this.#opts.files);
    } catch (err: unknown) {
      // Mid-rotation (a file renamed away for an instant) or a broken mount: keep serving.
      this.#problem(`certificate files cannot be read: ${errorCode(err)}`);
      return false;
    }
    const fp = fingerprint(material);
    if (fp === this.#fingerprint) {
      this.#lastProblem = undefined;
      return false;
    }
    try {
      checkTlsMaterial(material, this.#opts.files, this.#opts.now?.());
    } catch (err: unknown) {
      this.#problem(err instanceof TlsMaterialError ? err.message : 'certificate files are not usable');
      return false;
    }
    this.#fingerprint = fp;
    this.#lastProblem = undefined;
    this.#opts.onChange(material);
    this.#opts.logger.info({ cert: this.#opts.files.certFile }, 'serving certificate reloaded');
    return true;
  }

  #problem(problem: string): void {
    if (problem === this.#lastProblem) return;
    this.#lastProblem = problem;
    this.#opts.logger.warn({ problem }, 'new certificate files not usable (yet); keeping the current ones');
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

/** The errno code of a failed read (ENOENT, EACCES…) — never the error's free text. */
function errorCode(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : 'unknown error';
}
