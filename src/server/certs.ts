/**
 * Certificate authority and serving certificates for the webhook: `esw certs`, the development
 * certificates written on first start, the built-in certificate mode and the tests all use this.
 * ECDSA P-256 keys: fast to create, accepted by every API server and by Node's TLS.
 */
// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

type Key = webcrypto.CryptoKey;

// biome-ignore lint/suspicious/noExplicitAny: @peculiar/x509 types the provider as the DOM Crypto
x509.cryptoProvider.set(webcrypto as any);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

export interface CertificateAuthority {
  cert: string;
  key: string;
}

export interface CertificateBundle {
  /** PEM of the CA certificate: the webhook configurations' `caBundle` (base64 of this). */
  caCert: string;
  caKey: string;
  /** PEM of the serving certificate followed by nothing else (the CA is distributed separately). */
  cert: string;
  key: string;
  notBefore: Date;
  notAfter: Date;
}

export interface CertificateOptions {
  /** DNS names and IP addresses for the serving certificate's SANs. */
  hosts: string[];
  /** Serving certificate lifetime; default 365 days. The CA lives ten times as long. */
  validityDays?: number;
  /** Reuse this CA instead of creating one (rotation keeps the caBundle stable). */
  ca?: CertificateAuthority;
  commonName?: string;
  now?: () => Date;
  /** Optional client-auth usage (mutual TLS tests). */
  clientAuth?: boolean;
}

export const serviceDnsNames = (service: string, namespace: string): string[] => [
  service,
  `${service}.${namespace}`,
  `${service}.${namespace}.svc`,
  `${service}.${namespace}.svc.cluster.local`,
];

export async function createCertificateAuthority(
  opts: { validityDays?: number; now?: () => Date; commonName?: string } = {},
): Promise<CertificateAuthority> {
  const now = opts.now?.() ?? new Date();
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${opts.commonName ?? 'external-secrets-webhook CA'}`,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + (opts.validityDays ?? 3650) * DAY_MS),
    signingAlgorithm: ALG,
    keys: keys as never,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
    ],
  });
  return { cert: cert.toString('pem'), key: await exportKeyPem(keys.privateKey as Key) };
}

export async function createCertificates(opts: CertificateOptions): Promise<CertificateBundle> {
  const now = opts.now?.() ?? new Date();
  const ca = opts.ca ?? (await createCertificateAuthority({ now: () => now }));
  const caCert = new x509.X509Certificate(ca.cert);
  const caKey = await importKeyPem(ca.key);
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const notBefore = new Date(now.getTime() - 60_000);
  const notAfter = new Date(now.getTime() + (opts.validityDays ?? 365) * DAY_MS);
  const sans = opts.hosts.map((h) =>
    isIP(h) ? { type: 'ip' as const, value: h } : { type: 'dns' as const, value: h },
  );
  const usages = [x509.ExtendedKeyUsage.serverAuth];
  if (opts.clientAuth) usages.push(x509.ExtendedKeyUsage.clientAuth);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${opts.commonName ?? opts.hosts[0] ?? 'external-secrets-webhook'}`,
    issuer: caCert.subject,
    notBefore,
    notAfter,
    signingAlgorithm: ALG,
    publicKey: keys.publicKey as never,
    signingKey: caKey as never,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension(usages, false),
      new x509.SubjectAlternativeNameExtension(sans, false),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
    ],
  });
  return {
    caCert: ca.cert,
    caKey: ca.key,
    cert: cert.toString('pem'),
    key: await exportKeyPem(keys.privateKey as Key),
    notBefore,
    notAfter,
  };
}

/** When a PEM certificate expires, or undefined if it cannot be parsed. */
export function certificateNotAfter(pem: string): Date | undefined {
  try {
    return new x509.X509Certificate(pem).notAfter;
  } catch {
    return undefined;
  }
}

/** The DNS and IP SANs of a PEM certificate. */
export function certificateHosts(pem: string): string[] {
  const cert = new x509.X509Certificate(pem);
  const ext = cert.getExtension(x509.SubjectAlternativeNameExtension);
  return ext ? ext.names.items.map((n) => n.value) : [];
}

async function exportKeyPem(key: Key): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trimEnd()}\n-----END PRIVATE KEY-----\n`;
}

async function importKeyPem(pem: string): Promise<Key> {
  const b64 = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  return webcrypto.subtle.importKey('pkcs8', Buffer.from(b64, 'base64'), ALG, false, ['sign']);
}

function serial(): string {
  // Positive 16-byte serial: the high bit cleared so DER does not read it as negative.
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] as number) & 0x7f;
  return Buffer.from(bytes).toString('hex');
}
