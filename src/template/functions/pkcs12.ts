/**
 * ESO's PKCS#12 functions (runtime/template/v2/pkcs12.go): `pkcs12key[Pass]`, `pkcs12cert[Pass]`
 * decode a PFX as go-pkcs12's DecodeChain does; `pemToPkcs12[Pass]`, `fullPemToPkcs12[Pass]` and
 * `pemTruststoreToPKCS12[Pass]` encode one as go-pkcs12's `Modern` encoder does (PBES2 with
 * PBKDF2-HMAC-SHA-256 and AES-256-CBC, 2048 iterations, a SHA-256 MAC) and return it in base64.
 *
 * Decoding reads what PFX files in the wild hold: PBES2 (AES-128/192/256, 3DES; PBKDF2 with
 * SHA-1/256/384/512) and the legacy PBES1 schemes (SHA-1 with 3DES or RC2, which OpenSSL 3 no
 * longer offers, hence RC2 below), MACs with SHA-1/256/384/512. The DER is read with bounds
 * (der.ts); a wrong password or a malformed file is an error that says which, never what.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  pbkdf2Sync,
  timingSafeEqual,
} from 'node:crypto';
import { goBytes } from '../values.ts';
import {
  type Der,
  DerError,
  derAlg,
  derExplicit,
  derInt,
  derOctets,
  derOid,
  derSeq,
  derSet,
  explicit,
  intOf,
  octetsOf,
  oidOf,
  parseDer,
  seq,
  TAG,
  tlv,
} from './der.ts';
import { certPem, orderChain } from './eso.ts';
import { type PemBlock, pemDecode, pemEncode } from './pem.ts';
import { FuncError, type FuncMap, fn } from './types.ts';
import { parseCertificate, subjectString } from './x509.ts';

const OID = {
  data: '1.2.840.113549.1.7.1',
  encryptedData: '1.2.840.113549.1.7.6',
  keyBag: '1.2.840.113549.1.12.10.1.1',
  shroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  localKeyId: '1.2.840.113549.1.9.21',
  friendlyName: '1.2.840.113549.1.9.20',
  javaTrustStore: '2.16.840.1.113894.746875.1.1',
  anyExtendedKeyUsage: '2.5.29.37.0',
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  sha1And3Des: '1.2.840.113549.1.12.1.3',
  sha1AndRc2_128: '1.2.840.113549.1.12.1.5',
  sha1AndRc2_40: '1.2.840.113549.1.12.1.6',
} as const;

const HASHES: Record<string, { name: string; u: number; v: number }> = {
  '1.3.14.3.2.26': { name: 'sha1', u: 20, v: 64 },
  '2.16.840.1.101.3.4.2.1': { name: 'sha256', u: 32, v: 64 },
  '2.16.840.1.101.3.4.2.2': { name: 'sha384', u: 48, v: 128 },
  '2.16.840.1.101.3.4.2.3': { name: 'sha512', u: 64, v: 128 },
};
const HMACS: Record<string, string> = {
  '1.2.840.113549.2.7': 'sha1',
  '1.2.840.113549.2.9': 'sha256',
  '1.2.840.113549.2.10': 'sha384',
  '1.2.840.113549.2.11': 'sha512',
};
const CIPHERS: Record<string, { name: string; keyLen: number }> = {
  '2.16.840.1.101.3.4.1.2': { name: 'aes-128-cbc', keyLen: 16 },
  '2.16.840.1.101.3.4.1.22': { name: 'aes-192-cbc', keyLen: 24 },
  '2.16.840.1.101.3.4.1.42': { name: 'aes-256-cbc', keyLen: 32 },
  '1.2.840.113549.3.7': { name: 'des-ede3-cbc', keyLen: 24 },
};

/** Iteration counts a tenant's PFX may ask for: beyond, the file is refused (CPU bound). */
const MAX_ITERATIONS = 1_000_000;

class P12Error extends FuncError {}

// ------------------------------------------------------------------ passwords and keys

/** The password as a zero-terminated BMPString (UCS-2), as RFC 7292 B.1 and go-pkcs12 use it. */
function bmpPassword(password: string): Buffer {
  const out: number[] = [];
  for (const ch of password) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp > 0xffff) throw new P12Error('pkcs12: string contains characters that cannot be encoded in UCS-2');
    out.push(cp >> 8, cp & 0xff);
  }
  return Buffer.from([...out, 0, 0]);
}

/** RFC 7292 appendix B.2: the PKCS#12 key derivation (keys id 1, IVs id 2, MAC keys id 3). */
function pkcs12Kdf(
  hash: string,
  u: number,
  v: number,
  salt: Buffer,
  password: Buffer,
  iterations: number,
  id: number,
  size: number,
): Buffer {
  const fill = (b: Buffer) => {
    if (b.length === 0) return Buffer.alloc(0);
    const n = Math.ceil(b.length / v) * v;
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = b[i % b.length] as number;
    return out;
  };
  const D = Buffer.alloc(v, id);
  const I = Buffer.concat([fill(salt), fill(password)]);
  const out: Buffer[] = [];
  const c = Math.ceil(size / u);
  for (let i = 1; i <= c; i++) {
    let A = createHash(hash).update(D).update(I).digest();
    for (let j = 1; j < iterations; j++) A = createHash(hash).update(A).digest();
    out.push(A);
    if (i < c) {
      const B = fill(A).subarray(0, v);
      for (let j = 0; j < I.length; j += v) {
        let carry = 1;
        for (let k = v - 1; k >= 0; k--) {
          const x = (I[j + k] as number) + (B[k] as number) + carry;
          I[j + k] = x & 0xff;
          carry = x >> 8;
        }
      }
    }
  }
  return Buffer.concat(out).subarray(0, size);
}

function iterationsOf(d: Der | undefined): number {
  const n = d === undefined ? 1n : intOf(d);
  if (n < 1n || n > BigInt(MAX_ITERATIONS)) throw new P12Error('pkcs12: iteration count out of range');
  return Number(n);
}

// ------------------------------------------------------------------ RC2 (RFC 2268), decryption only

const PITABLE = Buffer.from(
  'd978f9c419ddb5ed28e9fd794aa0d89dc67e37832b76538e624c6488448bfba2' +
    '179a59f587b34f1361456d8d09817d32bd8f40eb86b77b0bf09521225c6b4e82' +
    '54d66593ce60b21c7356c014a78cf1dc1275ca1f3bbee4d1423dd430a33cb626' +
    '6fbf0eda4669075727f21d9bbc944303f811c7f690ef3ee706c3d52fc8661ed7' +
    '08e8eade8052eef784aa72ac354d6a2a961ad2715a1549744b9fd05e0418a4ec' +
    'c2e0416e0f51cbcc2491af50a1f47039997c3a8523b8b47afc02365b25559731' +
    '2d5dfa98e38a92ae05df2910676cbac9d300e6cfe19ea82c6316013f58e289a9' +
    '0d38341bab33ffb0bb480c5fb9b1cd2ec5f3db47e5a59c770aa62068fe7fc1ad',
  'hex',
);

function rc2Decrypt(key: Buffer, bits: number, iv: Buffer, data: Buffer): Buffer {
  if (data.length % 8 !== 0 || iv.length !== 8) throw new P12Error('pkcs12: decryption error');
  // Key expansion.
  const L = Buffer.alloc(128);
  key.copy(L);
  const T = key.length;
  for (let i = T; i < 128; i++)
    L[i] = PITABLE[((L[i - 1] as number) + (L[i - T] as number)) & 0xff] as number;
  const T8 = (bits + 7) >> 3;
  const TM = 0xff % 2 ** (8 + bits - 8 * T8);
  L[128 - T8] = PITABLE[(L[128 - T8] as number) & TM] as number;
  for (let i = 127 - T8; i >= 0; i--) L[i] = PITABLE[(L[i + 1] as number) ^ (L[i + T8] as number)] as number;
  const K = new Uint16Array(64);
  for (let i = 0; i < 64; i++) K[i] = (L[2 * i] as number) | ((L[2 * i + 1] as number) << 8);
  const out = Buffer.alloc(data.length);
  let prev = iv;
  const R = new Uint16Array(4);
  const S = [1, 2, 3, 5];
  for (let off = 0; off < data.length; off += 8) {
    const block = data.subarray(off, off + 8);
    for (let i = 0; i < 4; i++) R[i] = (block[2 * i] as number) | ((block[2 * i + 1] as number) << 8);
    let j = 63;
    const rmix = (i: number) => {
      const r = R[i] as number;
      R[i] = ((r >>> S[i]!) | (r << (16 - S[i]!))) & 0xffff;
      R[i] =
        ((R[i] as number) -
          (K[j] as number) -
          ((R[(i + 3) & 3] as number) & (R[(i + 2) & 3] as number)) -
          (~(R[(i + 3) & 3] as number) & (R[(i + 1) & 3] as number))) &
        0xffff;
      j--;
    };
    const rmash = (i: number) => {
      R[i] = ((R[i] as number) - (K[(R[(i + 3) & 3] as number) & 63] as number)) & 0xffff;
    };
    const mixRound = () => {
      for (let i = 3; i >= 0; i--) rmix(i);
    };
    const mashRound = () => {
      for (let i = 3; i >= 0; i--) rmash(i);
    };
    for (let r = 0; r < 5; r++) mixRound();
    mashRound();
    for (let r = 0; r < 6; r++) mixRound();
    mashRound();
    for (let r = 0; r < 5; r++) mixRound();
    for (let i = 0; i < 4; i++) {
      const v = (R[i] as number) ^ ((prev[2 * i] as number) | ((prev[2 * i + 1] as number) << 8));
      out[off + 2 * i] = v & 0xff;
      out[off + 2 * i + 1] = v >> 8;
    }
    prev = block;
  }
  return unpad(out, 8);
}

function unpad(b: Buffer, blockSize: number): Buffer {
  const n = b.length > 0 ? (b[b.length - 1] as number) : 0;
  if (n === 0 || n > blockSize || n > b.length) throw new P12Error('pkcs12: decryption error');
  for (let i = b.length - n; i < b.length; i++)
    if (b[i] !== n) throw new P12Error('pkcs12: decryption error');
  return b.subarray(0, b.length - n);
}

// ------------------------------------------------------------------ decryption

/** Decrypt `data` under the AlgorithmIdentifier `alg` with the (BMP) password. */
function pbDecrypt(alg: Der, data: Buffer, bmp: Buffer): Buffer {
  const [algOid, params] = seq(alg, 1);
  const oid = oidOf(algOid);
  if (oid === OID.pbes2) {
    const [kdf, enc] = seq(params, 2);
    const [kdfOid, kdfParams] = seq(kdf, 2);
    if (oidOf(kdfOid) !== OID.pbkdf2) throw new P12Error('pkcs12: key derivation algorithm not supported');
    const kp = seq(kdfParams, 2);
    const salt = octetsOf(kp[0]);
    const iterations = iterationsOf(kp[1]);
    let prf = 'sha1';
    for (const extra of kp.slice(2)) {
      if (extra.tag === TAG.SEQUENCE) {
        const p = HMACS[oidOf(seq(extra, 1)[0])];
        if (!p) throw new P12Error('pkcs12: PRF not supported');
        prf = p;
      }
    }
    const [encOid, ivDer] = seq(enc, 2);
    const cipher = CIPHERS[oidOf(encOid)];
    if (!cipher) throw new P12Error('pkcs12: encryption algorithm not supported');
    // PBES2 takes the password as UTF-8 (go-pkcs12 converts the BMPString back).
    const utf8 = Buffer.from(
      Buffer.from(bmp.subarray(0, Math.max(0, bmp.length - 2)))
        .swap16()
        .toString('utf16le'),
      'utf8',
    );
    const key = pbkdf2Sync(utf8, salt, iterations, cipher.keyLen, prf);
    return decipher(cipher.name, key, octetsOf(ivDer), data);
  }
  const [salt, iters] = seq(params, 2);
  const iterations = iterationsOf(iters);
  const s = octetsOf(salt);
  const kdf = (id: number, size: number) => pkcs12Kdf('sha1', 20, 64, s, bmp, iterations, id, size);
  if (oid === OID.sha1And3Des) return decipher('des-ede3-cbc', kdf(1, 24), kdf(2, 8), data);
  if (oid === OID.sha1AndRc2_40) return rc2Decrypt(kdf(1, 5), 40, kdf(2, 8), data);
  if (oid === OID.sha1AndRc2_128) return rc2Decrypt(kdf(1, 16), 128, kdf(2, 8), data);
  throw new P12Error('pkcs12: encryption algorithm not supported');
}

function decipher(name: string, key: Buffer, iv: Buffer, data: Buffer): Buffer {
  try {
    const d = createDecipheriv(name, key, iv);
    return Buffer.concat([d.update(data), d.final()]);
  } catch {
    throw new P12Error('pkcs12: decryption error');
  }
}

// ------------------------------------------------------------------ decoding

interface Decoded {
  keyDer: Buffer | undefined;
  certs: Buffer[];
}

function verifyMac(macData: Der, content: Buffer, bmp: Buffer): boolean {
  const [digestInfo, salt, iters] = seq(macData, 2);
  const [alg, digest] = seq(digestInfo, 2);
  const h = HASHES[oidOf(seq(alg, 1)[0])];
  if (!h) throw new P12Error('pkcs12: unknown digest algorithm');
  const key = pkcs12Kdf(h.name, h.u, h.v, octetsOf(salt), bmp, iterationsOf(iters), 3, h.u);
  const mac = createHmac(h.name, key).update(content).digest();
  const want = octetsOf(digest);
  return mac.length === want.length && timingSafeEqual(mac, want);
}

function decodePfx(input: Buffer, password: string): Decoded {
  let bmp = bmpPassword(password);
  const [version, authSafe, macData] = seq(parseDer(input), 2);
  if (intOf(version) !== 3n) throw new P12Error("pkcs12: can only decode v3 PFX PDU's");
  const [ctype, ctent] = seq(authSafe, 2);
  if (oidOf(ctype) !== OID.data) throw new P12Error('pkcs12: only password-protected PFX is implemented');
  const content = octetsOf(explicit(ctent, 0));
  if (macData === undefined) throw new P12Error('pkcs12: no MAC in data');
  if (!verifyMac(macData, content, bmp)) {
    // As go-pkcs12: an empty password may also be the absent one.
    if (password === '' && verifyMac(macData, content, Buffer.alloc(0))) bmp = Buffer.alloc(0);
    else throw new P12Error('pkcs12: decryption password incorrect');
  }
  const out: Decoded = { keyDer: undefined, certs: [] };
  for (const ci of seq(parseDer(content))) {
    const [t, c] = seq(ci, 2);
    let safe: Buffer;
    const type = oidOf(t);
    if (type === OID.data) safe = octetsOf(explicit(c, 0));
    else if (type === OID.encryptedData) {
      const [ver, eci] = seq(explicit(c, 0), 2);
      if (intOf(ver) !== 0n) throw new P12Error('pkcs12: only version 0 of EncryptedData is supported');
      const [, alg, enc] = seq(eci, 3);
      if (enc?.tag !== 0x80) throw new P12Error('pkcs12: malformed encrypted data');
      safe = pbDecrypt(alg as Der, enc.value, bmp);
    } else
      throw new P12Error(
        'pkcs12: only data and encryptedData content types are supported in authenticated safe',
      );
    for (const bag of seq(parseDer(safe))) {
      const [id, value] = seq(bag, 2);
      const bagId = oidOf(id);
      const v = explicit(value, 0);
      if (bagId === OID.certBag) {
        const [certId, certValue] = seq(v, 2);
        if (oidOf(certId) !== OID.x509Certificate) throw new P12Error('pkcs12: unsupported certificate type');
        out.certs.push(octetsOf(explicit(certValue, 0)));
      } else if (bagId === OID.shroudedKeyBag || bagId === OID.keyBag) {
        if (out.keyDer) throw new P12Error('pkcs12: expected exactly one key bag');
        if (bagId === OID.keyBag) out.keyDer = v.raw;
        else {
          const [alg, enc] = seq(v, 2);
          out.keyDer = pbDecrypt(alg as Der, octetsOf(enc), bmp);
        }
      }
    }
  }
  return out;
}

function decode(input: string, password: string): Decoded {
  try {
    return decodePfx(goBytes(input), password);
  } catch (e) {
    if (e instanceof P12Error) throw e;
    if (e instanceof DerError) throw new P12Error('pkcs12: error reading P12 data: malformed DER');
    throw new P12Error('pkcs12: error reading P12 data');
  }
}

/** Go's MarshalPKCS8PrivateKey of the decoded key (OpenSSL's PKCS#8 export is the same DER). */
function pkcs8Of(der: Buffer): Buffer {
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({
      type: 'pkcs8',
      format: 'der',
    });
  } catch {
    throw new P12Error('unable to parse private key type');
  }
}

export function pkcs12Key(password: string, input: string): string {
  let d: Decoded;
  try {
    d = decode(input, password);
    if (d.certs.length === 0) throw new P12Error('pkcs12: certificate missing');
    if (!d.keyDer) throw new P12Error('pkcs12: private key missing');
  } catch (e) {
    throw new FuncError(`unable to decode pkcs12 with password: ${(e as Error).message}`);
  }
  return pemEncode({ type: 'PRIVATE KEY', bytes: pkcs8Of(d.keyDer) });
}

export function pkcs12Cert(password: string, input: string): string {
  let d: Decoded;
  try {
    d = decode(input, password);
    if (d.certs.length === 0) throw new P12Error('pkcs12: certificate missing');
    if (!d.keyDer) throw new P12Error('pkcs12: private key missing');
  } catch (e) {
    throw new FuncError(`unable to decode pkcs12 certificate with password: ${(e as Error).message}`);
  }
  const pem = d.certs.map((c) => pemEncode({ type: 'CERTIFICATE', bytes: c })).join('');
  try {
    return orderChain(pem).map(certPem).join('');
  } catch {
    // As ESO: a chain that cannot be ordered comes back as it was stored.
    return pem;
  }
}

// ------------------------------------------------------------------ encoding (go-pkcs12 Modern)

const SALT_LEN = 16;
const ITERATIONS = 2048;

export type RandomSource = (n: number) => Buffer;

function pbes2Encrypt(data: Buffer, password: string, random: RandomSource): { alg: Buffer; enc: Buffer } {
  const salt = random(SALT_LEN);
  const iv = random(16);
  const key = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, ITERATIONS, 32, 'sha256');
  const c = createCipheriv('aes-256-cbc', key, iv);
  const enc = Buffer.concat([c.update(data), c.final()]);
  const alg = derAlg(
    OID.pbes2,
    derSeq(
      derAlg(OID.pbkdf2, derSeq(derOctets(salt), derInt(ITERATIONS), derAlg('1.2.840.113549.2.9'))),
      derAlg('2.16.840.1.101.3.4.1.42', derOctets(iv)),
    ),
  );
  return { alg, enc };
}

const attr = (oid: string, ...values: Buffer[]) => derSeq(derOid(oid), derSet(...values));

function certBag(der: Buffer, attrs: Buffer[]): Buffer {
  const value = derSeq(derOid(OID.x509Certificate), derExplicit(0, derOctets(der)));
  return derSeq(derOid(OID.certBag), derExplicit(0, value), ...(attrs.length ? [derSet(...attrs)] : []));
}

function encryptedSafe(bags: Buffer[], password: string, random: RandomSource): Buffer {
  const { alg, enc } = pbes2Encrypt(derSeq(...bags), password, random);
  const eci = derSeq(derOid(OID.data), alg, tlv(0x80, enc));
  return derSeq(derOid(OID.encryptedData), derExplicit(0, derSeq(derInt(0), eci)));
}

function pfx(safes: Buffer[], password: string, random: RandomSource): Buffer {
  const authSafe = derSeq(...safes);
  const salt = random(SALT_LEN);
  const key = pkcs12Kdf('sha256', 32, 64, salt, bmpPassword(password), ITERATIONS, 3, 32);
  const mac = createHmac('sha256', key).update(authSafe).digest();
  const macData = derSeq(
    derSeq(derAlg('2.16.840.1.101.3.4.2.1'), derOctets(mac)),
    derOctets(salt),
    derInt(ITERATIONS),
  );
  return derSeq(derInt(3), derSeq(derOid(OID.data), derExplicit(0, derOctets(authSafe))), macData);
}

/** ESO's parsePrivateKey: PKCS#1, PKCS#8 or SEC 1 DER. */
function keyOf(block: PemBlock | undefined): Buffer {
  if (!block) throw new FuncError('runtime error: invalid memory address or nil pointer dereference');
  for (const type of ['pkcs1', 'pkcs8', 'sec1'] as const) {
    try {
      return createPrivateKey({ key: block.bytes, format: 'der', type }).export({
        type: 'pkcs8',
        format: 'der',
      });
    } catch {
      // the next encoding, as ESO's parsePrivateKey
    }
  }
  throw new FuncError('unable to parse private key type');
}

function certsOf(pemText: string, all: boolean): Buffer[] {
  const out: Buffer[] = [];
  let rest = pemText;
  do {
    const r = pemDecode(rest);
    // ESO dereferences the block unchecked: Go recovers that panic into an error.
    if (!r.block) throw new FuncError('runtime error: invalid memory address or nil pointer dereference');
    parseCertificate(r.block.bytes);
    out.push(r.block.bytes);
    rest = r.rest;
  } while (all && rest.length > 0);
  return out;
}

/** pemToPkcs12Pass / fullPemToPkcs12Pass: the key and its certificate (and the chain after it). */
export function pemToPkcs12(
  cert: string,
  key: string,
  password: string,
  full: boolean,
  random: RandomSource,
): string {
  const certs = certsOf(cert, false);
  const rest = full ? pemDecode(cert).rest : '';
  const chain = full && rest.length > 0 ? certsOf(rest, true) : [];
  const keyDer = keyOf(pemDecode(key).block);
  const leaf = certs[0] as Buffer;
  const localKeyId = attr(OID.localKeyId, derOctets(createHash('sha1').update(leaf).digest()));
  const encKey = pbes2Encrypt(keyDer, password, random);
  const keyBag = derSeq(
    derOid(OID.shroudedKeyBag),
    derExplicit(0, derSeq(encKey.alg, derOctets(encKey.enc))),
    derSet(localKeyId),
  );
  const certSafe = encryptedSafe(
    [certBag(leaf, [localKeyId]), ...chain.map((c) => certBag(c, []))],
    password,
    random,
  );
  const keySafe = derSeq(derOid(OID.data), derExplicit(0, derOctets(derSeq(keyBag))));
  return pfx([certSafe, keySafe], password, random).toString('base64');
}

/** pemTruststoreToPKCS12Pass: every certificate, marked trusted for any purpose (Java's trust store). */
export function pemTruststoreToPkcs12(cert: string, password: string, random: RandomSource): string {
  const certs = cert.length > 0 ? certsOf(cert, true) : [];
  const trusted = attr(OID.javaTrustStore, derOid(OID.anyExtendedKeyUsage));
  const bags = certs.map((c) => certBag(c, [trusted, attr(OID.friendlyName, bmpOf(subjectString(c)))]));
  return pfx([encryptedSafe(bags, password, random)], password, random).toString('base64');
}

function bmpOf(s: string): Buffer {
  return tlv(TAG.BMP_STRING, bmpPassword(s).subarray(0, -2));
}

export function pkcs12Functions(): FuncMap {
  const m: FuncMap = new Map();
  const random = (ctx: { env: { randomBytes: (n: number) => Buffer } }) => (n: number) =>
    ctx.env.randomBytes(n);
  const S = (v: unknown) => v as string;
  m.set(
    'pkcs12key',
    fn(['string'], ([i]) => pkcs12Key('', S(i))),
  );
  m.set(
    'pkcs12keyPass',
    fn(['string', 'string'], ([p, i]) => pkcs12Key(S(p), S(i))),
  );
  m.set(
    'pkcs12cert',
    fn(['string'], ([i]) => pkcs12Cert('', S(i))),
  );
  m.set(
    'pkcs12certPass',
    fn(['string', 'string'], ([p, i]) => pkcs12Cert(S(p), S(i))),
  );
  m.set(
    'pemToPkcs12',
    fn(['string', 'string'], ([c, k], ctx) => pemToPkcs12(S(c), S(k), '', false, random(ctx))),
  );
  m.set(
    'pemToPkcs12Pass',
    fn(['string', 'string', 'string'], ([c, k, p], ctx) => pemToPkcs12(S(c), S(k), S(p), false, random(ctx))),
  );
  m.set(
    'fullPemToPkcs12',
    fn(['string', 'string'], ([c, k], ctx) => pemToPkcs12(S(c), S(k), '', true, random(ctx))),
  );
  m.set(
    'fullPemToPkcs12Pass',
    fn(['string', 'string', 'string'], ([c, k, p], ctx) => pemToPkcs12(S(c), S(k), S(p), true, random(ctx))),
  );
  m.set(
    'pemTruststoreToPKCS12',
    fn(['string'], ([c], ctx) => pemTruststoreToPkcs12(S(c), '', random(ctx))),
  );
  m.set(
    'pemTruststoreToPKCS12Pass',
    fn(['string', 'string'], ([c, p], ctx) => pemTruststoreToPkcs12(S(c), S(p), random(ctx))),
  );
  return m;
}
