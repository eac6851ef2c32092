/**
 * `esw certs --out DIR --dns NAME… [--days N] [--force]`: a CA and a serving certificate for a
 * bring-your-own-certificate install (docs/install.md). An existing CA is never replaced
 * silently: every caBundle that trusts it would stop matching the new serving certificate.
 * Exit codes (docs/cli.md): 0 written, 1 a CA exists and --force was not given, 2 bad flags.
 */
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { isDnsSubdomain } from '../api/crd-patterns.ts';
import { ConfigError } from '../config.ts';
import { writeCertificateFiles } from '../server/dev-certs.ts';

export interface CertsOptions {
  out: string | undefined;
  hosts: string[];
  days: number;
  force: boolean;
}

const FILES = ['ca.crt', 'ca.key', 'tls.crt', 'tls.key'] as const;

export async function runCerts(
  opts: CertsOptions,
  io: { out: (s: string) => void; err: (s: string) => void },
): Promise<number> {
  if (!opts.out) throw new ConfigError('--out DIR is required');
  if (opts.hosts.length === 0) throw new ConfigError('--dns NAME is required (at least one DNS name or IP)');
  for (const host of opts.hosts) {
    // A wildcard is allowed in the first label only, as in every TLS client.
    const name = host.startsWith('*.') ? host.slice(2) : host;
    if (isIP(host) === 0 && (name.length > 253 || !isDnsSubdomain(name))) {
      throw new ConfigError(
        `--dns "${host}" is neither an IP address nor a lowercase DNS name (e.g. webhook.ns.svc)`,
      );
    }
  }
  const existing = FILES.slice(0, 2)
    .map((f) => join(opts.out as string, f))
    .filter((f) => existsSync(f));
  if (existing.length > 0 && !opts.force) {
    io.err(
      `esw certs: ${existing.join(' and ')} already exist${existing.length === 1 ? 's' : ''}: a new CA breaks every caBundle that trusts the old one. Use --force to replace it.\n`,
    );
    return 1;
  }
  await writeCertificateFiles(opts.out, opts.hosts, { validityDays: opts.days });
  io.out(
    `wrote ${FILES.map((f) => join(opts.out as string, f)).join(', ')} (serving certificate valid ${opts.days} days)\n`,
  );
  return 0;
}
