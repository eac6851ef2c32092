/**
 * A small DER reader and writer for the structures the template functions build and read that
 * no schema package covers as plain data (PKCS#12's PBE parameters, key formats, certificate
 * fields). Reading is bounded: lengths are checked against the input, nesting is limited, and a
 * malformed input is one error (`DerError`) with no part of the input in it.
 */

export class DerError extends Error {}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

export interface Der {
  tag: number;
  /** The value bytes (for constructed types: the encoded children). */
  value: Buffer;
  /** The whole element, header included. */
  raw: Buffer;
}

const MAX_DEPTH = 32;

/** One element at `offset` of `buf`. */
export function readDer(buf: Buffer, offset = 0): Der {
  if (offset + 2 > buf.length) throw new DerError('truncated');
  const tag = buf[offset] as number;
  if ((tag & 0x1f) === 0x1f) throw new DerError('high tag numbers are not used here');
  let len = buf[offset + 1] as number;
  let hdr = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || offset + 2 + n > buf.length) throw new DerError('bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[offset + 2 + i] as number);
    hdr += n;
  }
  if (offset + hdr + len > buf.length) throw new DerError('truncated');
  return {
    tag,
    value: buf.subarray(offset + hdr, offset + hdr + len),
    raw: buf.subarray(offset, offset + hdr + len),
  };
}

/** The single element `buf` holds (nothing may follow it). */
export function parseDer(buf: Buffer): Der {
  const d = readDer(buf);
  if (d.raw.length !== buf.length) throw new DerError('trailing data');
  return d;
}

/** The children of a constructed element. */
export function children(d: Der, depth = 0): Der[] {
  if (depth > MAX_DEPTH) throw new DerError('too deep');
  if (!(d.tag & 0x20)) throw new DerError('not constructed');
  const out: Der[] = [];
  let off = 0;
  while (off < d.value.length) {
    const c = readDer(d.value, off);
    out.push(c);
    off += c.raw.length;
  }
  return out;
}

/** Children of a SEQUENCE/SET with an expected tag, at least `min` of them. */
export function seq(d: Der | undefined, min = 0, tag: number = TAG.SEQUENCE): Der[] {
  if (!d || d.tag !== tag) throw new DerError('unexpected element');
  const c = children(d);
  if (c.length < min) throw new DerError('missing elements');
  return c;
}

export function oidOf(d: Der | undefined): string {
  if (!d || d.tag !== TAG.OID || d.value.length === 0) throw new DerError('expected an object identifier');
  const v = d.value;
  const parts: number[] = [];
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    const b = v[i] as number;
    n = n * 128 + (b & 0x7f);
    if (n > Number.MAX_SAFE_INTEGER) throw new DerError('object identifier too large');
    if (!(b & 0x80)) {
      if (parts.length === 0) {
        const first = n < 80 ? Math.trunc(n / 40) : 2;
        parts.push(first, n - first * 40);
      } else parts.push(n);
      n = 0;
    }
  }
  return parts.join('.');
}

export function intOf(d: Der | undefined): bigint {
  if (!d || d.tag !== TAG.INTEGER || d.value.length === 0) throw new DerError('expected an integer');
  let n = BigInt(`0x${d.value.toString('hex')}`);
  if ((d.value[0] as number) & 0x80) n -= 1n << BigInt(d.value.length * 8);
  return n;
}

export function octetsOf(d: Der | undefined): Buffer {
  if (!d || d.tag !== TAG.OCTET_STRING) throw new DerError('expected an octet string');
  return d.value;
}

/** The content of an `[n] EXPLICIT` context element. */
export function explicit(d: Der | undefined, n: number): Der {
  if (!d || d.tag !== (0xa0 | n)) throw new DerError('expected a tagged element');
  return parseDer(d.value);
}

// ------------------------------------------------------------------ writing

function lengthBytes(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let x = n; x > 0; x = Math.floor(x / 256)) bytes.unshift(x % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), lengthBytes(value.length), value]);
}

export const derSeq = (...items: Buffer[]) => tlv(TAG.SEQUENCE, Buffer.concat(items));
export const derSet = (...items: Buffer[]) => tlv(TAG.SET, Buffer.concat(items));
export const derOctets = (b: Buffer) => tlv(TAG.OCTET_STRING, b);
export const derNull = () => Buffer.from([TAG.NULL, 0]);
export const derExplicit = (n: number, inner: Buffer) => tlv(0xa0 | n, inner);

export function derInt(n: bigint | number): Buffer {
  let v = BigInt(n);
  if (v === 0n) return tlv(TAG.INTEGER, Buffer.from([0]));
  const neg = v < 0n;
  if (neg) {
    let bits = 8;
    while (-v > 1n << BigInt(bits - 1)) bits += 8;
    v += 1n << BigInt(bits);
  }
  let hex = v.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let b = Buffer.from(hex, 'hex');
  if (!neg && (b[0] as number) & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(TAG.INTEGER, b);
}

export function derOid(oid: string): Buffer {
  const p = oid.split('.').map(Number);
  const nums = [(p[0] as number) * 40 + (p[1] as number), ...p.slice(2)];
  const out: number[] = [];
  for (const n of nums) {
    const bytes = [n & 0x7f];
    for (let x = Math.floor(n / 128); x > 0; x = Math.floor(x / 128)) bytes.unshift((x & 0x7f) | 0x80);
    out.push(...bytes);
  }
  return tlv(TAG.OID, Buffer.from(out));
}

/** An AlgorithmIdentifier with parameters (or NULL). */
export const derAlg = (oid: string, params: Buffer = derNull()) => derSeq(derOid(oid), params);
