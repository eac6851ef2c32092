/**
 * AWS Certificate Manager (`service: CertificateManager`, ESO 2.9) on @aws-sdk/client-acm, with
 * ESO's semantics (pkg/provider/aws/certificatemanager):
 * - `remoteRef.key` is the certificate ARN (the store's `prefix` does not apply);
 * - DescribeCertificate first (free): a certificate whose `Options.Export` is not ENABLED is
 *   refused; its serial number says whether the last export still holds;
 * - ExportCertificate (paid past 10,000 calls a month) only for a certificate not exported yet
 *   or renewed since, with a fresh random 32-character alphanumeric passphrase (ACM refuses `#`,
 *   `$` and `%`) that never leaves this function;
 * - the value is one PEM bundle: the certificate, its chain, and the private key decrypted to an
 *   unencrypted PKCS#8 `PRIVATE KEY` block, each without trailing newlines, joined by `\n`, with a
 *   final `\n` (templates pick the parts with filterPEM / filterCertChain).
 * `property`, `version`, `metadataPolicy: Fetch`, `dataFrom.extract` and `find` are not part of
 * ESO's ACM provider and are refused at admission (src/api/ref-support.ts).
 */
import { createPrivateKey, randomInt } from 'node:crypto';
import { type ACMClient, DescribeCertificateCommand, ExportCertificateCommand } from '@aws-sdk/client-acm';
import { LRUCache } from 'lru-cache';
import { type CallOptions, type ProviderClient, ProviderError, type RemoteKey } from '../types.ts';
import { awsError } from './errors.ts';

const PASSPHRASE_LENGTH = 32;
const PASSPHRASE_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
/** Exports remembered per client, as ESO's export cache (bounded; checked against the serial). */
const EXPORT_CACHE_ENTRIES = 128;

interface Exported {
  serial: string;
  pem: Uint8Array;
}

export class CertificateManagerReader implements ProviderClient {
  readonly #acm: ACMClient;
  readonly #exports = new LRUCache<string, Exported>({ max: EXPORT_CACHE_ENTRIES });
  /** Injectable for tests that prove the passphrase is fresh each export. */
  readonly #passphrase: () => string;

  constructor(acm: ACMClient, passphrase: () => string = randomPassphrase) {
    this.#acm = acm;
    this.#passphrase = passphrase;
  }

  async getSecret(ref: RemoteKey, opts: CallOptions): Promise<Uint8Array> {
    const arn = ref.key;
    const subject = `certificate "${arn}"`;
    if (!arn) throw new ProviderError('Invalid', 'aws: the certificate ARN must be given in remoteRef.key');
    if (ref.version) {
      throw new ProviderError('Invalid', `aws: ${subject}: ACM certificates have no versions`);
    }
    let serial: string;
    try {
      const out = await this.#acm.send(new DescribeCertificateCommand({ CertificateArn: arn }), {
        abortSignal: opts.signal,
      });
      if (out.Certificate?.Options?.Export !== 'ENABLED') {
        throw new ProviderError(
          'Invalid',
          `aws: ${subject} is not exportable (Options.Export is not ENABLED)`,
        );
      }
      serial = out.Certificate.Serial ?? '';
    } catch (err: unknown) {
      throw awsError(err, subject, opts.signal);
    }
    const known = this.#exports.get(arn);
    if (known && serial !== '' && known.serial === serial) return known.pem;

    const passphrase = this.#passphrase();
    let pem: Uint8Array;
    try {
      const out = await this.#acm.send(
        new ExportCertificateCommand({ CertificateArn: arn, Passphrase: Buffer.from(passphrase) }),
        { abortSignal: opts.signal },
      );
      pem = bundle(out, passphrase, subject);
    } catch (err: unknown) {
      throw awsError(err, subject, opts.signal);
    }
    this.#exports.set(arn, { serial, pem });
    return pem;
  }

  async close(): Promise<void> {
    this.#exports.clear();
    this.#acm.destroy();
  }
}

function bundle(
  out: { Certificate?: string; CertificateChain?: string; PrivateKey?: string },
  passphrase: string,
  subject: string,
): Uint8Array {
  const parts: string[] = [];
  if (out.Certificate !== undefined) parts.push(trimNewlines(out.Certificate));
  if (out.CertificateChain !== undefined) parts.push(trimNewlines(out.CertificateChain));
  if (out.PrivateKey !== undefined) parts.push(trimNewlines(decryptKey(out.PrivateKey, passphrase, subject)));
  if (parts.length === 0) {
    throw new ProviderError('Invalid', `aws: ${subject}: ExportCertificate returned no data`);
  }
  return new TextEncoder().encode(`${parts.join('\n')}\n`);
}

/**
 * The exported `ENCRYPTED PRIVATE KEY` (PKCS#8, PBES2) as an unencrypted PKCS#8 `PRIVATE KEY`
 * PEM; a key that is already unencrypted is returned as it came. OpenSSL's text never leaves.
 */
function decryptKey(pem: string, passphrase: string, subject: string): string {
  const type = /-----BEGIN ([A-Z ]+)-----/.exec(pem)?.[1];
  if (type === 'PRIVATE KEY') return pem;
  if (type !== 'ENCRYPTED PRIVATE KEY') {
    throw new ProviderError('Invalid', `aws: ${subject}: the exported private key is not PKCS#8 PEM`);
  }
  try {
    return createPrivateKey({ key: pem, format: 'pem', passphrase }).export({
      type: 'pkcs8',
      format: 'pem',
    }) as string;
  } catch {
    throw new ProviderError('Invalid', `aws: ${subject}: the exported private key could not be decrypted`);
  }
}

function trimNewlines(s: string): string {
  return s.replace(/[\r\n]+$/, '');
}

/** 32 characters from [a-zA-Z0-9], uniformly (ACM refuses `#`, `$` and `%` in passphrases). */
export function randomPassphrase(): string {
  let s = '';
  for (let i = 0; i < PASSPHRASE_LENGTH; i++) s += PASSPHRASE_CHARS[randomInt(PASSPHRASE_CHARS.length)];
  return s;
}
