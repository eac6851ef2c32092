/**
 * Keys and certificates as sprig's crypto.go makes them with Go's crypto/x509: private keys in
 * the PEM forms Go writes (`RSA PRIVATE KEY` PKCS#1, `EC PRIVATE KEY` SEC 1, `DSA PRIVATE KEY`
 * OpenSSL's DSA form, `PRIVATE KEY` PKCS#8 for Ed25519), sprig's parsePrivateKeyPEM, and
 * certificates with the fields x509.CreateCertificate writes for sprig's templates: a random
 * 128-bit serial, the common name (PrintableString where Go would), validity from now, key usage
 * (critical), server and client auth, basic constraints (critical), a subject key ID for CAs,
 * an authority key ID from the issuer, and SANs (DNS names, then IPs). Signed synchronously with
 * node:crypto (SHA-256 with RSA, ECDSA with the curve's hash, Ed25519).
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import {
  children,
  type Der,
  derAlg,
  derExplicit,
  derInt,
  derNull,
  derOctets,
  derOid,
  derSeq,
  derSet,
  intOf,
  oidOf,
  parseDer,
  seq,
  TAG,
  tlv,
} from './der.ts';
import { pemDecode, pemEncode } from './pem.ts';
import { FuncError } from './types.ts';

/** x509.ParseCertificate's check, without keeping the result. */
export function parseCertificate(der: Buffer): void {
  try {
    AsnConvert.parse(der, Certificate);
  } catch {
    throw new FuncError('x509: malformed certificate');
  }
}

interface CertFields {
  tbs: Der[];
  subjectRaw: Buffer;
  ski: Buffer | undefined;
}

function certFields(der: Buffer): CertFields {
  try {
    const [tbsDer] = seq(parseDer(der), 3);
    const tbs = seq(tbsDer, 6);
    const off = (tbs[0] as Der).tag === 0xa0 ? 1 : 0;
    const subject = tbs[off + 4] as Der;
    let ski: Buffer | undefined;
    const extsTag = tbs.find((d) => d.tag === 0xa3);
    if (extsTag) {
      for (const ext of seq(parseDer(extsTag.value))) {
        const parts = seq(ext, 2);
        if (oidOf(parts[0]) === '2.5.29.14') {
          const value = (parts[parts.length - 1] as Der).value;
          ski = Buffer.from(parseDer(value).value);
        }
      }
    }
    return { tbs, subjectRaw: Buffer.from(subject.raw), ski };
  } catch {
    throw new FuncError('x509: malformed certificate');
  }
}

const SHORT_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.5': 'SERIALNUMBER',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'STREET',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.17': 'POSTALCODE',
};

/** pkix.Name.String() of a certificate's subject (RFC 2253 style, last RDN first). */
export function subjectString(der: Buffer): string {
  const { subjectRaw } = certFields(der);
  const rdns = seq(parseDer(subjectRaw)).map((set) =>
    seq(set, 1, TAG.SET)
      .map((atv) => {
        const [t, v] = seq(atv, 2);
        const oid = oidOf(t);
        const value = (v as Der).value.toString('utf8');
        let esc = '';
        for (let i = 0; i < value.length; i++) {
          const c = value[i] as string;
          if (
            ',+"\\<>;'.includes(c) ||
            (i === 0 && (c === ' ' || c === '#')) ||
            (i === value.length - 1 && c === ' ')
          )
            esc += `\\${c}`;
          else esc += c;
        }
        return `${SHORT_NAMES[oid] ?? oid}=${esc}`;
      })
      .join('+'),
  );
  return rdns.reverse().join(',');
}

// ------------------------------------------------------------------ private keys

/** OpenSSL's DSA private key: SEQUENCE { 0, p, q, g, y, x } from a PKCS#8 export. */
function dsaTraditional(key: KeyObject): Buffer {
  const pkcs8 = parseDer(key.export({ type: 'pkcs8', format: 'der' }));
  const [, alg, priv] = seq(pkcs8, 3);
  const [, params] = seq(alg, 2);
  const [p, q, g] = seq(params, 3).map(intOf) as [bigint, bigint, bigint];
  const x = intOf(parseDer((priv as Der).value));
  let y = 1n;
  let b = g % p;
  for (let e = x; e > 0n; e >>= 1n) {
    if (e & 1n) y = (y * b) % p;
    b = (b * b) % p;
  }
  return derSeq(derInt(0), derInt(p), derInt(q), derInt(g), derInt(y), derInt(x));
}

/** DSA's traditional form back to a key object (via PKCS#8). */
function dsaFromTraditional(der: Buffer): KeyObject {
  const [, p, q, g, , x] = seq(parseDer(der), 6).map(intOf) as bigint[];
  const pkcs8 = derSeq(
    derInt(0),
    derAlg('1.2.840.10040.4.1', derSeq(derInt(p as bigint), derInt(q as bigint), derInt(g as bigint))),
    derOctets(derInt(x as bigint)),
  );
  return createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
}

/** sprig's pemBlockForKey. */
export function pemBlockForKey(key: KeyObject): { type: string; bytes: Buffer } {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return { type: 'RSA PRIVATE KEY', bytes: key.export({ type: 'pkcs1', format: 'der' }) };
    case 'ec':
      return { type: 'EC PRIVATE KEY', bytes: key.export({ type: 'sec1', format: 'der' }) };
    case 'dsa':
      return { type: 'DSA PRIVATE KEY', bytes: dsaTraditional(key) };
    default:
      return { type: 'PRIVATE KEY', bytes: key.export({ type: 'pkcs8', format: 'der' }) };
  }
}

/** sprig's parsePrivateKeyPEM (messages without the key's content). */
export function parsePrivateKeyPEM(text: string): KeyObject {
  const { block } = pemDecode(text);
  if (!block) throw new FuncError('no PEM data in input');
  const der = (type: 'pkcs8' | 'pkcs1' | 'sec1', what: string) => {
    try {
      return createPrivateKey({ key: block.bytes, format: 'der', type });
    } catch {
      throw new FuncError(what);
    }
  };
  if (block.type === 'PRIVATE KEY') return der('pkcs8', 'decoding PEM as PKCS#8: the key does not parse');
  if (!block.type.endsWith(' PRIVATE KEY')) throw new FuncError('no private key data in PEM block');
  switch (block.type.slice(0, -12)) {
    case 'RSA':
      return der('pkcs1', 'parsing RSA private key from PEM: the key does not parse');
    case 'EC':
      return der('sec1', 'parsing EC private key from PEM: the key does not parse');
    case 'DSA':
      try {
        return dsaFromTraditional(block.bytes);
      } catch {
        throw new FuncError('parsing DSA private key from PEM: the key does not parse');
      }
    default:
      throw new FuncError('invalid private key type');
  }
}

// ------------------------------------------------------------------ certificates

export interface CertTemplate {
  cn: string;
  ips: Buffer[];
  dns: string[];
  daysValid: bigint;
  isCA: boolean;
  now: Date;
  serial: Buffer;
}

/** Go's asn1 string choice: PrintableString when every byte is printable, else UTF8String. */
function directoryString(s: string): Buffer {
  const printable = /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(s);
  return tlv(printable ? TAG.PRINTABLE_STRING : TAG.UTF8_STRING, Buffer.from(s, 'utf8'));
}

function nameOf(cn: string): Buffer {
  if (cn === '') return derSeq();
  return derSeq(derSet(derSeq(derOid('2.5.4.3'), directoryString(cn))));
}

function asn1Time(d: Date): Buffer {
  const y = d.getUTCFullYear();
  const p = (n: number) => String(n).padStart(2, '0');
  const rest = `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  if (y >= 1950 && y < 2050) return tlv(TAG.UTC_TIME, Buffer.from(`${p(y % 100)}${rest}`));
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(`${String(y).padStart(4, '0')}${rest}`));
}

const ext = (oid: string, critical: boolean, value: Buffer) =>
  derSeq(derOid(oid), ...(critical ? [Buffer.from([TAG.BOOLEAN, 1, 0xff])] : []), derOctets(value));

function signatureAlgorithm(key: KeyObject): { alg: Buffer; hash: string | null } {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return { alg: derAlg('1.2.840.113549.1.1.11', derNull()), hash: 'sha256' };
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'secp384r1') return { alg: derSeq(derOid('1.2.840.10045.4.3.3')), hash: 'sha384' };
      if (curve === 'secp521r1') return { alg: derSeq(derOid('1.2.840.10045.4.3.4')), hash: 'sha512' };
      return { alg: derSeq(derOid('1.2.840.10045.4.3.2')), hash: 'sha256' };
    }
    case 'ed25519':
      return { alg: derSeq(derOid('1.3.101.112')), hash: null };
    default:
      throw new FuncError('error creating certificate: x509: only RSA, ECDSA and Ed25519 keys supported');
  }
}

/**
 * x509.CreateCertificate for sprig's template: `subjectKey` is the new certificate's key,
 * `parent` the issuer's certificate (undefined: self-signed), `signingKey` the issuer's key.
 */
export function createCertificate(
  t: CertTemplate,
  subjectKey: KeyObject,
  parent: Buffer | undefined,
  signingKey: KeyObject,
): Buffer {
  const publicKey = createPublicKey(subjectKey);
  if (!['rsa', 'ec', 'ed25519'].includes(publicKey.asymmetricKeyType ?? '')) {
    throw new FuncError('error creating certificate: x509: unsupported public key type');
  }
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const { alg, hash } = signatureAlgorithm(signingKey);
  const subject = nameOf(t.cn);
  const parentFields = parent ? certFields(parent) : undefined;
  const issuer = parentFields ? parentFields.subjectRaw : subject;
  const notBefore = new Date(Math.trunc(t.now.getTime() / 1000) * 1000);
  const notAfterMs = t.now.getTime() + Number(t.daysValid) * 86_400_000;
  const notAfter = new Date(Math.trunc(notAfterMs / 1000) * 1000);
  if (!Number.isFinite(notAfter.getTime()))
    throw new FuncError('error creating certificate: validity out of range');
  const exts: Buffer[] = [];
  // Key usage bits, reversed into a minimal BIT STRING as Go's marshalKeyUsage does.
  exts.push(
    ext(
      '2.5.29.15',
      true,
      t.isCA ? Buffer.from([0x03, 0x02, 0x02, 0xa4]) : Buffer.from([0x03, 0x02, 0x05, 0xa0]),
    ),
  );
  exts.push(ext('2.5.29.37', false, derSeq(derOid('1.3.6.1.5.5.7.3.1'), derOid('1.3.6.1.5.5.7.3.2'))));
  exts.push(ext('2.5.29.19', true, t.isCA ? derSeq(Buffer.from([TAG.BOOLEAN, 1, 0xff])) : derSeq()));
  if (t.isCA) {
    // Go 1.15+: a CA gets a subject key ID, the SHA-1 of its public key bits.
    const bits = children(parseDer(spki))[1] as Der;
    exts.push(ext('2.5.29.14', false, derOctets(createHash('sha1').update(bits.value.subarray(1)).digest())));
  }
  if (parentFields?.ski && !issuer.equals(subject)) {
    exts.push(ext('2.5.29.35', false, derSeq(tlv(0x80, parentFields.ski))));
  }
  if (t.dns.length > 0 || t.ips.length > 0) {
    const names = [
      ...t.dns.map((d) => tlv(0x82, Buffer.from(d, 'utf8'))),
      ...t.ips.map((ip) => tlv(0x87, ip)),
    ];
    exts.push(ext('2.5.29.17', t.cn === '', derSeq(...names)));
  }
  const tbs = derSeq(
    derExplicit(0, derInt(2)),
    derInt(BigInt(`0x${t.serial.toString('hex') || '0'}`)),
    alg,
    issuer,
    derSeq(asn1Time(notBefore), asn1Time(notAfter)),
    subject,
    spki,
    derExplicit(3, derSeq(...exts)),
  );
  let signature: Buffer;
  try {
    signature = sign(hash, tbs, signingKey);
  } catch {
    throw new FuncError('error creating certificate: the signing key cannot sign');
  }
  return derSeq(tbs, alg, tlv(TAG.BIT_STRING, Buffer.concat([Buffer.from([0]), signature])));
}

/** net.ParseIP: dotted IPv4 (as 4 bytes, Go's To4) or IPv6 text; undefined when it is neither. */
export function parseIp(s: string): Buffer | undefined {
  const v4 = (t: string): number[] | undefined => {
    const parts = t.split('.');
    if (parts.length !== 4) return undefined;
    const out: number[] = [];
    for (const p of parts) {
      if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p[0] === '0')) return undefined;
      const n = Number(p);
      if (n > 255) return undefined;
      out.push(n);
    }
    return out;
  };
  const four = v4(s);
  if (four) return Buffer.from(four);
  if (!s.includes(':') || s.length > 45) return undefined;
  let head = s;
  let tail = '';
  const dbl = s.indexOf('::');
  if (dbl >= 0) {
    head = s.slice(0, dbl);
    tail = s.slice(dbl + 2);
    if (tail.includes('::')) return undefined;
  }
  const groups = (t: string): number[] | undefined => {
    if (t === '') return [];
    const out: number[] = [];
    const parts = t.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i] as string;
      if (i === parts.length - 1 && p.includes('.')) {
        const v = v4(p);
        if (!v) return undefined;
        out.push((v[0] as number) * 256 + (v[1] as number), (v[2] as number) * 256 + (v[3] as number));
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
      out.push(Number.parseInt(p, 16));
    }
    return out;
  };
  const h = groups(head);
  const tl = groups(tail);
  if (!h || !tl) return undefined;
  const fill = 8 - h.length - tl.length;
  if (dbl >= 0 ? fill < 1 : fill !== 0) return undefined;
  const all = [...h, ...Array(dbl >= 0 ? fill : 0).fill(0), ...tl];
  const b = Buffer.alloc(16);
  all.forEach((g, i) => {
    b.writeUInt16BE(g, i * 2);
  });
  // Go writes an IPv4-mapped address as its 4 bytes (To4).
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return b.subarray(12);
  return b;
}

export { pemEncode };
