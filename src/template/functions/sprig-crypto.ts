/**
 * Sprig's password, key and certificate functions (crypto.go, as ESO vendors it): `bcrypt`,
 * `htpasswd` (with ESO's algorithm argument), `derivePassword` (the Master Password algorithm:
 * scrypt, then HMAC-SHA-256 into a template of character classes), `genPrivateKey`,
 * `buildCustomCert`, `genCA`, `genSelfSignedCert`, `genSignedCert` and their `WithKey` forms.
 *
 * Randomness comes from the render's source and the clock from its `now`; outputs are random by
 * nature, so the tests compare their shape with Go's (Go parses and verifies what these make,
 * and these read what Go makes). Key generations and slow hashes are counted by the budget
 * before they run. Sprig returns some failures as output text (`Unknown type x`); those are
 * kept, and no error message repeats a key, a password or a certificate.
 */
import { createHash, createHmac, generateKeyPairSync, type KeyObject, scryptSync } from 'node:crypto';
import bcryptjs from 'bcryptjs';
import { byteLength, type GoInt, GoSlice, GoStruct, goBytes, goString, type Value } from '../values.ts';
import { pemDecode, pemEncode } from './pem.ts';
import { base64DecodeGo } from './sprig-strings.ts';
import { type CallContext, FuncError, type FuncMap, fn } from './types.ts';
import { createCertificate, parseCertificate, parseIp, parsePrivateKeyPEM, pemBlockForKey } from './x509.ts';

// ------------------------------------------------------------------ passwords

function bcrypt(input: string, ctx: CallContext): string {
  ctx.budget.expensive('hashes', ctx.where);
  // Current x/crypto (what ESO builds with) refuses passwords over 72 bytes; sprig prints the error.
  if (byteLength(input) > 72)
    return 'failed to encrypt string with bcrypt: bcrypt: password length exceeds 72 bytes';
  const salt = `$2a$10$${bcryptjs.encodeBase64(ctx.env.randomBytes(16), 16)}`;
  return bcryptjs.hashSync(input, salt);
}

function htpasswd(user: string, password: string, algorithm: string, ctx: CallContext): string {
  // Sprig's output (not an error) for a user name with a colon; it is template data.
  if (user.includes(':')) return `invalid username: ${user}`;
  if (algorithm === 'sha') {
    return `${user}:{SHA}${createHash('sha1').update(goBytes(password)).digest('base64')}`;
  }
  return `${user}:${bcrypt(password, ctx)}`;
}

const TEMPLATES: Record<string, string[]> = {
  maximum: ['anoxxxxxxxxxxxxxxxxx', 'axxxxxxxxxxxxxxxxxno'],
  long: [
    'CvcvnoCvcvCvcv',
    'CvcvCvcvnoCvcv',
    'CvcvCvcvCvcvno',
    'CvccnoCvcvCvcv',
    'CvccCvcvnoCvcv',
    'CvccCvcvCvcvno',
    'CvcvnoCvccCvcv',
    'CvcvCvccnoCvcv',
    'CvcvCvccCvcvno',
    'CvcvnoCvcvCvcc',
    'CvcvCvcvnoCvcc',
    'CvcvCvcvCvccno',
    'CvccnoCvccCvcv',
    'CvccCvccnoCvcv',
    'CvccCvccCvcvno',
    'CvcvnoCvccCvcc',
    'CvcvCvccnoCvcc',
    'CvcvCvccCvccno',
    'CvccnoCvcvCvcc',
    'CvccCvcvnoCvcc',
    'CvccCvcvCvccno',
  ],
  medium: ['CvcnoCvc', 'CvcCvcno'],
  short: ['Cvcn'],
  basic: ['aaanaaan', 'aannaaan', 'aaannaaa'],
  pin: ['nnnn'],
};

const CHARACTERS: Record<string, string> = {
  V: 'AEIOU',
  C: 'BCDFGHJKLMNPQRSTVWXYZ',
  v: 'aeiou',
  c: 'bcdfghjklmnpqrstvwxyz',
  A: 'AEIOUBCDFGHJKLMNPQRSTVWXYZ',
  a: 'AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz',
  n: '0123456789',
  o: "@&%?,=[]_:-+*$#!'^~;()/.",
  x: 'AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()',
};

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** The Master Password algorithm, as sprig's derivePassword. */
function derivePassword(
  counter: number,
  type: string,
  password: string,
  user: string,
  site: string,
  ctx: CallContext,
): string {
  const templates = TEMPLATES[type];
  if (!Object.hasOwn(TEMPLATES, type) || !templates) return `cannot find password template ${type}`;
  ctx.budget.expensive('hashes', ctx.where);
  const seedName = Buffer.from('com.lyndir.masterpassword');
  const userB = goBytes(user);
  const siteB = goBytes(site);
  const salt = Buffer.concat([seedName, u32(userB.length), userB]);
  const key = scryptSync(goBytes(password), salt, 64, { N: 32768, r: 8, p: 2, maxmem: 64 * 1024 * 1024 });
  const seed = createHmac('sha256', key)
    .update(Buffer.concat([seedName, u32(siteB.length), siteB, u32(counter)]))
    .digest();
  const temp = templates[(seed[0] as number) % templates.length] as string;
  let out = '';
  for (let i = 0; i < temp.length; i++) {
    const chars = CHARACTERS[temp[i] as string] as string;
    out += chars[(seed[i + 1] as number) % chars.length];
  }
  return out;
}

// ------------------------------------------------------------------ keys and certificates

function generateKey(type: string, ctx: CallContext): KeyObject | undefined {
  switch (type) {
    case '':
    case 'rsa':
      ctx.budget.expensive('keys', ctx.where);
      return generateKeyPairSync('rsa', { modulusLength: 4096 }).privateKey;
    case 'dsa':
      ctx.budget.expensive('keys', ctx.where);
      return generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 }).privateKey;
    case 'ecdsa':
      ctx.budget.expensive('keys', ctx.where);
      return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    case 'ed25519':
      ctx.budget.expensive('keys', ctx.where);
      return generateKeyPairSync('ed25519').privateKey;
    default:
      return undefined;
  }
}

function rsa2048(ctx: CallContext): KeyObject {
  ctx.budget.expensive('keys', ctx.where);
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
}

/** sprig's `certificate` struct: `{Cert Key}` when printed. */
export function certificateValue(cert: string, key: string): GoStruct {
  return new GoStruct({
    type: 'sprig.certificate',
    fields: new Map<string, Value>([
      ['Cert', cert],
      ['Key', key],
    ]),
    print: () => `{${cert} ${key}}`,
  });
}

function fieldOf(c: Value, name: 'Cert' | 'Key'): string {
  const v = (c as GoStruct).fields.get(name);
  return typeof v === 'string' ? v : '';
}

function ipsOf(list: Value): Buffer[] {
  if (!(list instanceof GoSlice)) return [];
  return list.items.map((x) => {
    // sprig quotes the value here; these messages do not.
    if (typeof x !== 'string') throw new FuncError('error parsing ip: not a string');
    const ip = parseIp(x);
    if (!ip) throw new FuncError('error parsing ip: not an IP address');
    return ip;
  });
}

function dnsOf(list: Value): string[] {
  if (!(list instanceof GoSlice)) return [];
  return list.items.map((x) => {
    if (typeof x !== 'string') throw new FuncError('error processing alternate dns name: not a string');
    return x;
  });
}

interface Req {
  cn: string;
  ips: Value;
  dns: Value;
  days: Value;
  isCA: boolean;
}

function issue(req: Req, key: KeyObject, ca: Value | undefined, ctx: CallContext): GoStruct {
  const ips = ipsOf(req.ips);
  const dns = dnsOf(req.dns);
  let parent: Buffer | undefined;
  let signer = key;
  if (ca !== undefined) {
    const block = pemDecode(fieldOf(ca, 'Cert')).block;
    if (!block) throw new FuncError('unable to decode certificate');
    try {
      parseCertificate(block.bytes);
    } catch {
      throw new FuncError('error parsing certificate: the certificate does not parse');
    }
    parent = block.bytes;
    try {
      signer = parsePrivateKeyPEM(fieldOf(ca, 'Key'));
    } catch (e) {
      throw new FuncError(`error parsing private key: ${(e as Error).message}`);
    }
  }
  const serial = ctx.env.randomBytes(16);
  const der = createCertificate(
    { cn: req.cn, ips, dns, daysValid: (req.days as GoInt).v, isCA: req.isCA, now: ctx.env.now(), serial },
    key,
    parent,
    signer,
  );
  const cert = pemEncode({ type: 'CERTIFICATE', bytes: der });
  ctx.budget.alloc(cert.length * 3, ctx.where);
  return certificateValue(cert, pemEncode(pemBlockForKey(key)));
}

function withKey(pem: string): KeyObject {
  try {
    return parsePrivateKeyPEM(pem);
  } catch (e) {
    throw new FuncError(`parsing private key: ${(e as Error).message}`);
  }
}

function buildCustomCert(b64cert: string, b64key: string): GoStruct {
  const cert = base64DecodeGo(b64cert);
  if (!cert.ok) throw new FuncError('unable to decode base64 certificate');
  const key = base64DecodeGo(b64key);
  if (!key.ok) throw new FuncError('unable to decode base64 private key');
  const block = pemDecode(goString(cert.bytes)).block;
  if (!block) throw new FuncError('unable to decode certificate');
  try {
    parseCertificate(block.bytes);
  } catch {
    throw new FuncError('error parsing certificate: decodedCert.Bytes: the certificate does not parse');
  }
  try {
    parsePrivateKeyPEM(goString(key.bytes));
  } catch (e) {
    throw new FuncError(`error parsing private key: ${(e as Error).message}`);
  }
  return certificateValue(goString(cert.bytes), goString(key.bytes));
}

export function sprigCrypto(): FuncMap {
  const m: FuncMap = new Map();
  m.set(
    'bcrypt',
    fn(['string'], ([s], ctx) => bcrypt(s as string, ctx)),
  );
  m.set(
    'htpasswd',
    fn(['string', 'string', 'string'], ([u, p, a], ctx) =>
      htpasswd(u as string, p as string, a as string, ctx),
    ),
  );
  m.set(
    'derivePassword',
    fn(['uint32', 'string', 'string', 'string', 'string'], ([c, t, p, u, s], ctx) =>
      derivePassword(Number((c as GoInt).v), t as string, p as string, u as string, s as string, ctx),
    ),
  );
  m.set(
    'genPrivateKey',
    fn(['string'], ([t], ctx) => {
      const key = generateKey(t as string, ctx);
      if (!key) return `Unknown type ${t as string}`;
      return pemEncode(pemBlockForKey(key));
    }),
  );
  m.set(
    'buildCustomCert',
    fn(['string', 'string'], ([c, k]) => buildCustomCert(c as string, k as string)),
  );
  m.set(
    'genCA',
    fn(['string', 'int'], ([cn, d], ctx) =>
      issue(
        { cn: cn as string, ips: null, dns: null, days: d ?? null, isCA: true },
        rsa2048(ctx),
        undefined,
        ctx,
      ),
    ),
  );
  m.set(
    'genCAWithKey',
    fn(['string', 'int', 'string'], ([cn, d, k], ctx) =>
      issue(
        { cn: cn as string, ips: null, dns: null, days: d ?? null, isCA: true },
        withKey(k as string),
        undefined,
        ctx,
      ),
    ),
  );
  m.set(
    'genSelfSignedCert',
    fn(['string', 'list', 'list', 'int'], ([cn, ips, dns, d], ctx) =>
      issue(
        { cn: cn as string, ips: ips ?? null, dns: dns ?? null, days: d ?? null, isCA: false },
        rsa2048(ctx),
        undefined,
        ctx,
      ),
    ),
  );
  m.set(
    'genSelfSignedCertWithKey',
    fn(['string', 'list', 'list', 'int', 'string'], ([cn, ips, dns, d, k], ctx) =>
      issue(
        { cn: cn as string, ips: ips ?? null, dns: dns ?? null, days: d ?? null, isCA: false },
        withKey(k as string),
        undefined,
        ctx,
      ),
    ),
  );
  m.set(
    'genSignedCert',
    fn(['string', 'list', 'list', 'int', 'certificate'], ([cn, ips, dns, d, ca], ctx) =>
      issue(
        { cn: cn as string, ips: ips ?? null, dns: dns ?? null, days: d ?? null, isCA: false },
        rsa2048(ctx),
        ca ?? null,
        ctx,
      ),
    ),
  );
  m.set(
    'genSignedCertWithKey',
    fn(['string', 'list', 'list', 'int', 'certificate', 'string'], ([cn, ips, dns, d, ca, k], ctx) =>
      issue(
        { cn: cn as string, ips: ips ?? null, dns: dns ?? null, days: d ?? null, isCA: false },
        withKey(k as string),
        ca ?? null,
        ctx,
      ),
    ),
  );
  return m;
}
