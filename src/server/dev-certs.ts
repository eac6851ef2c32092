/**
 * Development certificates: on a first `npm start` with no certificate configured, a CA and a
 * serving certificate are written to certs/ so the server runs over HTTPS at once and curl can
 * verify it with `--cacert certs/ca.crt`.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from './atomic-file.ts';
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
  // Each file is replaced atomically (private keys created 0600, whatever an older file had),
  // key before certificate: a watcher that sees the new certificate finds its key in place.
  await writeFileAtomic(join(dir, 'ca.crt'), bundle.caCert, 0o644);
  await writeFileAtomic(join(dir, 'ca.key'), bundle.caKey, 0o600);
  await writeFileAtomic(names.keyFile ?? join(dir, 'tls.key'), bundle.key, 0o600);
  await writeFileAtomic(names.certFile ?? join(dir, 'tls.crt'), bundle.cert, 0o644);
}
