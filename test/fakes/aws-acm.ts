/**
 * A wire-level fake of AWS Certificate Manager: JSON 1.1 (`x-amz-target:
 * CertificateManager.<Operation>`) for DescribeCertificate and ExportCertificate. Certificates
 * hold a PEM certificate, chain and private key, a serial number and the export option; an export
 * encrypts the private key with the caller's passphrase as ACM does (PKCS#8, PBES2, AES-256-CBC)
 * and enforces ACM's passphrase rules (4–128 characters, none of `#`, `$`, `%`). The fake keeps
 * only a digest of each passphrase, to prove they are fresh.
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { AwsJsonError, AwsJsonFake, type JsonBody } from './aws-json.ts';

export interface AcmCertificate {
  cert: string;
  chain?: string;
  /** Unencrypted PKCS#8 PEM, as the test created it. */
  key: string;
  exportable?: boolean;
}

interface Entry extends AcmCertificate {
  arn: string;
  serial: string;
}

export class AwsAcmFake extends AwsJsonFake {
  readonly #certs = new Map<string, Entry>();
  /** sha256 of each export's passphrase, and its length (never the passphrase itself). */
  readonly passphrases: { digest: string; length: number }[] = [];
  #seq = 0;

  private constructor() {
    super('CertificateManager');
  }

  static async start(): Promise<AwsAcmFake> {
    const fake = new AwsAcmFake();
    await fake.listen();
    return fake;
  }

  /** Imports (or re-imports, as a renewal does) a certificate; returns its ARN. */
  put(c: AcmCertificate, arn?: string): string {
    const id =
      arn ??
      `arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-4000-8000-${String(++this.#seq).padStart(12, '0')}`;
    // ACM's serial: the certificate's serial number as colon-separated hex bytes.
    const hex = new X509Certificate(c.cert).serialNumber.toLowerCase();
    const serial = (hex.length % 2 ? `0${hex}` : hex).match(/../g)?.join(':') ?? '';
    this.#certs.set(id, { ...c, exportable: c.exportable ?? true, arn: id, serial });
    return id;
  }

  protected namesOf(_op: string, body: JsonBody): string[] {
    return [String(body.CertificateArn ?? '')];
  }

  protected dispatch(op: string, body: JsonBody): unknown {
    const arn = String(body.CertificateArn ?? '');
    if (!/^arn:aws[\w-]*:acm:[\w-]+:\d{12}:certificate\/[\w-]+$/.test(arn)) {
      throw new AwsJsonError(400, 'ValidationException', 'The certificate ARN is not valid');
    }
    const c = this.#certs.get(arn);
    if (!c) {
      throw new AwsJsonError(400, 'ResourceNotFoundException', `Could not find certificate ${arn}.`);
    }
    if (op === 'DescribeCertificate') {
      return {
        Certificate: {
          CertificateArn: c.arn,
          DomainName: 'app.example.com',
          Serial: c.serial,
          Status: 'ISSUED',
          Type: 'PRIVATE',
          KeyAlgorithm: 'EC_prime256v1',
          Options: {
            CertificateTransparencyLoggingPreference: 'ENABLED',
            Export: c.exportable ? 'ENABLED' : 'DISABLED',
          },
        },
      };
    }
    if (op === 'ExportCertificate') return this.#export(c, body);
    throw new AwsJsonError(400, 'UnknownOperationException', `unknown operation ${op}`);
  }

  #export(c: Entry, body: JsonBody) {
    if (!c.exportable) throw new AwsJsonError(400, 'ValidationException', 'Certificate is not exportable');
    const passphrase = Buffer.from(String(body.Passphrase ?? ''), 'base64').toString('utf8');
    if (passphrase.length < 4 || passphrase.length > 128 || /[#$%]/.test(passphrase)) {
      throw new AwsJsonError(400, 'ValidationException', 'The passphrase is not valid');
    }
    this.passphrases.push({
      digest: createHash('sha256').update(passphrase).digest('hex'),
      length: passphrase.length,
    });
    const PrivateKey = createPrivateKey(c.key).export({
      type: 'pkcs8',
      format: 'pem',
      cipher: 'aes-256-cbc',
      passphrase,
    }) as string;
    return { Certificate: c.cert, ...(c.chain ? { CertificateChain: c.chain } : {}), PrivateKey };
  }
}
