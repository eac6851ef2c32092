/**
 * Development certificates: on a first `npm start` with no certificate configured, a CA and a
 * serving certificate are written to certs/ so the server runs over HTTPS at once and curl can
 * verify it with `--cacert certs/ca.crt`.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createCertificates, serviceDnsNames } from './certs.ts';

export interface WrittenCertificates {
  dir: string;
  created: boolean;
}

export function devCertificateHosts(service: string, namespace: string): string[] {
  return ['localhost', '127.0.0.1', '::1', ...serviceDnsNames(service, namespace)];
}

/** Writes ca.crt, ca.key, tls.crt, tls.key next to `certFile` unless the pair already exists. */
export async function ensureDevCertificates(
  certFile: string,
  keyFile: string,
  hosts: string[],
): Promise<WrittenCertificates> {
  const dir = dirname(certFile);
  if (existsSync(certFile) && existsSync(keyFile)) return { dir, created: false };
  await writeCertificateFiles(dir, hosts, { certFile, keyFile });
  return { dir, created: true };
}

/** `esw certs --out DIR --dns NAME…` and the dev certificates share this. */
export async function writeCertificateFiles(
  dir: string,
  hosts: string[],
  names: { certFile?: string; keyFile?: string; validityDays?: number } = {},
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const bundle = await createCertificates({
    hosts,
    ...(names.validityDays ? { validityDays: names.validityDays } : {}),
  });
  await writeFile(join(dir, 'ca.crt'), bundle.caCert);
  await writePrivate(join(dir, 'ca.key'), bundle.caKey);
  // Key first: a watcher that sees the new certificate must find its key already in place.
  await writePrivate(names.keyFile ?? join(dir, 'tls.key'), bundle.key);
  await writeFile(names.certFile ?? join(dir, 'tls.crt'), bundle.cert);
}

/**
 * A private key, 0600. `mode` only applies when the file is created, so an existing file (an
 * older, looser one) is narrowed first — before the new key is in it.
 */
async function writePrivate(path: string, content: string): Promise<void> {
  await chmod(path, 0o600).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  });
  await writeFile(path, content, { mode: 0o600 });
}
