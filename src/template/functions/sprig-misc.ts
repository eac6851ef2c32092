/**
 * Sprig's hashes, random values, UUIDs, URLs and AES helpers (crypto.go, strings.go, url.go).
 * Random output comes from the render's injected source, so tests can pin it; it is never
 * compared byte for byte with Go, only its shape.
 */
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { dict, type GoMap, goBytes, goString, type Value } from '../values.ts';
import { base64DecodeGo } from './sprig-strings.ts';
import { type CallContext, FuncError, type FuncMap, fn } from './types.ts';

const hash = (alg: string) =>
  fn(['string'], ([s]) =>
    createHash(alg)
      .update(s as string, 'utf8')
      .digest('hex'),
  );

function adler32(s: string): string {
  let a = 1;
  let b = 0;
  for (const byte of goBytes(s)) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return (((b << 16) | a) >>> 0).toString();
}

/** Uniform choice from `alphabet` (rejection sampling, as goutils' crypto variants). */
function randomFrom(alphabet: string, count: number, ctx: CallContext): string {
  if (count < 0) throw new FuncError(`randomString: count ${count} < 0`);
  ctx.budget.alloc(count, ctx.where);
  const chars = [...alphabet];
  let out = '';
  const limit = 256 - (256 % chars.length);
  while (out.length < count) {
    for (const b of ctx.env.randomBytes(Math.max(16, count - out.length))) {
      if (b >= limit) continue;
      out += chars[b % chars.length];
      if (out.length === count) break;
    }
  }
  return out;
}

const ALPHA = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const NUM = '0123456789';
const ASCII = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('');

function uuidv4(ctx: CallContext): string {
  const b = ctx.env.randomBytes(16);
  b[6] = ((b[6] as number) & 0x0f) | 0x40;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** sprig's encryptAES: AES-256-CBC, key = password padded with zeros to 32 bytes, random IV, PKCS#7. */
function encryptAES(password: string, plaintext: string, ctx: CallContext): string {
  if (plaintext === '') return '';
  const key = Buffer.alloc(32);
  goBytes(password).copy(key, 0, 0, 32);
  const iv = ctx.env.randomBytes(16);
  const c = createCipheriv('aes-256-cbc', key, iv);
  const body = Buffer.concat([c.update(goBytes(plaintext)), c.final()]);
  return Buffer.concat([iv, body]).toString('base64');
}

function decryptAES(password: string, crypt64: string): string {
  if (crypt64 === '') return '';
  const d = base64DecodeGo(crypt64);
  if (!d.ok) throw new FuncError(d.error);
  const data = d.bytes;
  if (data.length < 16) throw new FuncError('crypto/aes: input not full blocks');
  const key = Buffer.alloc(32);
  goBytes(password).copy(key, 0, 0, 32);
  const iv = data.subarray(0, 16);
  const body = data.subarray(16);
  if (body.length % 16 !== 0) throw new FuncError('crypto/cipher: input not full blocks');
  const c = createDecipheriv('aes-256-cbc', key, iv);
  c.setAutoPadding(false);
  const plain = Buffer.concat([c.update(body), c.final()]);
  // sprig strips the padding by the last byte's value without checking it.
  const pad = plain.length > 0 ? (plain[plain.length - 1] as number) : 0;
  if (pad > plain.length) throw new FuncError('runtime error: slice bounds out of range');
  return goString(plain.subarray(0, plain.length - pad));
}

/** sprig's urlParse: net/url.Parse into a dict of strings. */
function urlParse(v: string): Value {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new FuncError('unable to parse url');
  }
  const userinfo = u.username ? (u.password ? `${u.username}:${u.password}` : u.username) : '';
  return dict([
    ['scheme', u.protocol.replace(/:$/, '')],
    ['host', u.host],
    ['hostname', u.hostname],
    ['path', decodeURIComponent(u.pathname)],
    ['query', u.search.replace(/^\?/, '')],
    ['opaque', ''],
    ['fragment', decodeURIComponent(u.hash.replace(/^#/, ''))],
    ['userinfo', userinfo],
  ]);
}

function urlJoin(d: GoMap | null): string {
  const get = (k: string) => {
    const v = d?.m.get(k);
    if (v === undefined || v === null) return '';
    if (typeof v !== 'string') throw new FuncError(`unable to parse ${k} field`);
    return v;
  };
  const scheme = get('scheme');
  const host = get('host');
  const path = get('path');
  const query = get('query');
  const fragment = get('fragment');
  const userinfo = get('userinfo');
  let out = '';
  if (scheme) out += `${scheme}:`;
  if (scheme || host || userinfo) {
    out += '//';
    if (userinfo) out += `${userinfo}@`;
    out += host;
  }
  if (path && !path.startsWith('/') && (host || userinfo)) out += '/';
  out += encodeURI(path).replace(/%25/g, '%');
  if (query) out += `?${query}`;
  if (fragment) out += `#${encodeURIComponent(fragment)}`;
  return out;
}

export function sprigMisc(): FuncMap {
  const m: FuncMap = new Map();
  m.set('sha1sum', hash('sha1'));
  m.set('sha256sum', hash('sha256'));
  m.set('sha512sum', hash('sha512'));
  m.set(
    'adler32sum',
    fn(['string'], ([s]) => adler32(s as string)),
  );
  const rand = (alphabet: string) =>
    fn(['int'], ([c], ctx) => randomFrom(alphabet, Number((c as { v: bigint }).v), ctx));
  m.set('randAlphaNum', rand(ALPHA + NUM));
  m.set('randAlpha', rand(ALPHA));
  m.set('randNumeric', rand(NUM));
  m.set('randAscii', rand(ASCII));
  m.set(
    'randBytes',
    fn(['int'], ([c], ctx) => {
      const n = Number((c as { v: bigint }).v);
      if (n < 0) throw new FuncError('negative count');
      ctx.budget.alloc(Math.ceil((n * 4) / 3), ctx.where);
      return ctx.env.randomBytes(n).toString('base64');
    }),
  );
  m.set(
    'shuffle',
    fn(['string'], ([s], ctx) => {
      const cps = [...(s as string)];
      for (let i = cps.length - 1; i > 0; i--) {
        const j = ctx.env.randomBytes(4).readUInt32BE() % (i + 1);
        [cps[i], cps[j]] = [cps[j] as string, cps[i] as string];
      }
      return cps.join('');
    }),
  );
  m.set(
    'uuidv4',
    fn([], (_a, ctx) => uuidv4(ctx)),
  );
  m.set(
    'encryptAES',
    fn(['string', 'string'], ([p, t], ctx) => {
      ctx.budget.alloc(((t as string).length * 4) / 3 + 64, ctx.where);
      return encryptAES(p as string, t as string, ctx);
    }),
  );
  m.set(
    'decryptAES',
    fn(['string', 'string'], ([p, c]) => decryptAES(p as string, c as string)),
  );
  m.set(
    'urlParse',
    fn(['string'], ([v]) => urlParse(v as string)),
  );
  m.set(
    'urlJoin',
    fn(['map'], ([d]) => urlJoin(d as GoMap | null)),
  );
  return m;
}
