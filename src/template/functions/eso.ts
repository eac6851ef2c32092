/**
 * The functions ESO adds to sprig (runtime/template/v2), with ESO's output formats: toYaml /
 * fromYaml, filterPEM, filterCertChain, certSANs, jwkPublicKeyPem / jwkPrivateKeyPem (PKIX and
 * PKCS#8 PEM), rsaDecrypt. Keys and certificates are read with Node's crypto and the maintained
 * @peculiar ASN.1 schemas; nothing here quotes input in an error.
 */
import {
  createPrivateKey,
  createPublicKey,
  constants as cryptoConstants,
  type KeyObject,
  privateDecrypt,
} from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  AuthorityKeyIdentifier,
  Certificate,
  id_ce_authorityKeyIdentifier,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
} from '@peculiar/asn1-x509';
import { goBytes, goString, strings } from '../values.ts';
import { type PemBlock, pemDecode, pemEncode } from './pem.ts';
import { FuncError, type FuncMap, fn } from './types.ts';
import { fromYaml } from './yaml.ts';
import { marshalYaml, YamlTooLarge } from './yaml-emit.ts';

interface Cert {
  raw: Buffer;
  ski: Buffer | undefined;
  aki: Buffer | undefined;
  sans: string[];
}

function parseCert(der: Buffer): Cert {
  let cert: Certificate;
  try {
    cert = AsnConvert.parse(der, Certificate);
  } catch {
    throw new FuncError('x509: malformed certificate');
  }
  let ski: Buffer | undefined;
  let aki: Buffer | undefined;
  const dns: string[] = [];
  const ips: string[] = [];
  const emails: string[] = [];
  const uris: string[] = [];
  for (const ext of cert.tbsCertificate.extensions ?? []) {
    const value = Buffer.from(ext.extnValue.buffer);
    if (ext.extnID === id_ce_subjectKeyIdentifier) {
      ski = Buffer.from(AsnConvert.parse(value, SubjectKeyIdentifier).buffer);
    } else if (ext.extnID === id_ce_authorityKeyIdentifier) {
      const id = AsnConvert.parse(value, AuthorityKeyIdentifier).keyIdentifier;
      if (id) aki = Buffer.from(id.buffer);
    } else if (ext.extnID === id_ce_subjectAltName) {
      for (const name of AsnConvert.parse(value, SubjectAlternativeName)) {
        if (name.dNSName !== undefined) dns.push(name.dNSName);
        else if (name.iPAddress !== undefined) ips.push(normalizeIp(name.iPAddress));
        else if (name.rfc822Name !== undefined) emails.push(name.rfc822Name);
        else if (name.uniformResourceIdentifier !== undefined) uris.push(name.uniformResourceIdentifier);
      }
    }
  }
  return { raw: der, ski, aki, sans: [...dns, ...ips, ...emails, ...uris] };
}

/** The schema gives IPs as text; re-format as Go's net.IP.String(). */
function normalizeIp(text: string): string {
  if (!text.includes(':')) return text;
  const [head, tail] = text.includes('::') ? (text.split('::') as [string, string]) : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => {
    b.writeUInt16BE(Number.parseInt(g || '0', 16) & 0xffff, i * 2);
  });
  return formatIp(b);
}

/** net.IP.String(): dotted IPv4 (also for v4-mapped v6), compressed lowercase IPv6. */
function formatIp(b: Buffer): string {
  if (b.length === 4) return [...b].join('.');
  if (b.length !== 16) return `?${b.toString('hex')}`;
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff)
    return [...b.subarray(12)].join('.');
  const groups = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2));
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

function decodeAll(input: string): { blocks: PemBlock[]; rest: string } {
  const blocks: PemBlock[] = [];
  let rest = input;
  for (;;) {
    const r = pemDecode(rest);
    if (!r.block) return { blocks, rest: r.rest };
    blocks.push(r.block);
    rest = r.rest;
  }
}

function trimJunk(input: string): string {
  const i = input.indexOf('-----BEGIN');
  return i < 0 ? input : input.slice(i);
}

function filterPEM(kind: string, input: string): string {
  const { blocks, rest } = decodeAll(trimJunk(input));
  const out = blocks.filter((b) => b.type.toLowerCase() === kind.toLowerCase()).map((b) => pemEncode(b));
  if (out.length === 0 && rest.length !== 0) throw new FuncError('error filtering pem: found junk');
  return out.join('');
}

/** Leaf → intermediates → root, by AuthorityKeyId / SubjectKeyId (no trust checks, as ESO). */
export function orderChain(input: string): Cert[] {
  const certs = decodeAll(input).blocks.map((b) => parseCert(b.bytes));
  const same = (a: Buffer | undefined, b: Buffer | undefined) =>
    (a ?? Buffer.alloc(0)).equals(b ?? Buffer.alloc(0));
  const parent = certs.map(() => -1);
  const isParent = certs.map(() => false);
  certs.forEach((c, i) => {
    for (let j = 0; j < certs.length; j++) {
      if (i !== j && same(c.aki, certs[j]?.ski)) {
        parent[i] = j;
        isParent[j] = true;
        break;
      }
    }
  });
  let leaf = -1;
  for (let i = 0; i < certs.length; i++) {
    if (!isParent[i]) {
      if (leaf >= 0) throw new FuncError('found multiple leaf or disjunct certificates');
      leaf = i;
    }
  }
  if (leaf < 0) throw new FuncError('no leaf certificate found');
  const ordered: Cert[] = [];
  for (let n = leaf; n >= 0; n = parent[n] ?? -1) {
    if (ordered.length >= certs.length) throw new FuncError('constructing chain resulted in cycle');
    ordered.push(certs[n] as Cert);
  }
  return ordered;
}

const isRoot = (c: Cert) => c.aki === undefined || c.aki.equals(c.ski ?? Buffer.alloc(0));
export const certPem = (c: Cert) => pemEncode({ type: 'CERTIFICATE', bytes: c.raw });

function filterCertChain(kind: string, input: string): string {
  const ordered = orderChain(input);
  if (kind === 'leaf') {
    const c = ordered[0] as Cert;
    if (c.aki !== undefined && !c.aki.equals(c.ski ?? Buffer.alloc(0))) return certPem(c);
  } else if (kind === 'intermediate') {
    let out = '';
    for (const c of ordered.slice(1)) {
      if (isRoot(c)) break;
      out += certPem(c);
    }
    return out;
  } else if (kind === 'root') {
    const c = ordered[ordered.length - 1] as Cert;
    if (isRoot(c)) return certPem(c);
  }
  return '';
}

function certSANs(input: string): string[] {
  const { block } = pemDecode(trimJunk(input));
  if (!block) throw new FuncError('failed to decode PEM block');
  return parseCert(block.bytes).sans;
}

function jwk(text: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch {
    throw new FuncError('failed to parse JWK');
  }
}

function jwkPublicKeyPem(text: string): string {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk(text) as never, format: 'jwk' });
  } catch (e) {
    if (e instanceof FuncError) throw e;
    throw new FuncError('failed to read the JWK as a public key');
  }
  return pemEncode({ type: 'PUBLIC KEY', bytes: key.export({ type: 'spki', format: 'der' }) });
}

function jwkPrivateKeyPem(text: string): string {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: jwk(text) as never, format: 'jwk' });
  } catch (e) {
    if (e instanceof FuncError) throw e;
    throw new FuncError('failed to read the JWK as a private key');
  }
  return pemEncode({ type: 'PRIVATE KEY', bytes: key.export({ type: 'pkcs8', format: 'der' }) });
}

function readPrivateKey(der: Buffer): KeyObject {
  for (const type of ['pkcs1', 'pkcs8', 'sec1'] as const) {
    try {
      return createPrivateKey({ key: der, format: 'der', type });
    } catch {
      // try the next encoding, as ESO's parsePrivateKey does
    }
  }
  throw new FuncError('could not parse private key: unable to parse private key type');
}

function rsaDecrypt(scheme: string, hash: string, input: string, privateKey: string): string {
  if (scheme === 'None') return input;
  if (scheme !== 'RSA-OAEP') throw new FuncError(`decryption scheme ${scheme.slice(0, 40)} is not supported`);
  const { block } = pemDecode(privateKey);
  if (!block) throw new FuncError('failed to decode PEM block');
  const key = readPrivateKey(block.bytes);
  if (key.asymmetricKeyType !== 'rsa') throw new FuncError('could not parse RSA private key');
  const oaepHash = hash === 'SHA1' ? 'sha1' : hash === 'SHA512' ? 'sha512' : 'sha256';
  try {
    return goString(
      privateDecrypt({ key, padding: cryptoConstants.RSA_PKCS1_OAEP_PADDING, oaepHash }, goBytes(input)),
    );
  } catch {
    throw new FuncError('error decrypting data with RSA: crypto/rsa: decryption error');
  }
}

export function esoFunctions(): FuncMap {
  const m: FuncMap = new Map();
  m.set(
    'toYaml',
    fn(['any'], ([v], ctx) => {
      let out: string | undefined;
      try {
        out = marshalYaml(v ?? null, ctx.budget.limits.valueBytes);
      } catch (e) {
        if (e instanceof YamlTooLarge) ctx.budget.fail('value', ctx.where);
        throw e;
      }
      // ESO swallows a marshalling error into "".
      ctx.budget.alloc(out?.length ?? 0, ctx.where);
      return out ?? '';
    }),
  );
  m.set(
    'fromYaml',
    fn(['string'], ([s]) => fromYaml(s as string)),
  );
  m.set(
    'filterPEM',
    fn(['string', 'string'], ([k, s]) => filterPEM(k as string, s as string)),
  );
  m.set(
    'filterCertChain',
    fn(['string', 'string'], ([k, s]) => filterCertChain(k as string, s as string)),
  );
  m.set(
    'certSANs',
    fn(['string'], ([s]) => strings(certSANs(s as string))),
  );
  m.set(
    'jwkPublicKeyPem',
    fn(['string'], ([s]) => jwkPublicKeyPem(s as string)),
  );
  m.set(
    'jwkPrivateKeyPem',
    fn(['string'], ([s]) => jwkPrivateKeyPem(s as string)),
  );
  m.set(
    'rsaDecrypt',
    fn(['string', 'string', 'string', 'string'], ([a, b, c, d]) =>
      rsaDecrypt(a as string, b as string, c as string, d as string),
    ),
  );
  return m;
}
