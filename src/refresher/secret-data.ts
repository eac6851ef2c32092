/** Secret data helpers shared by the ExternalSecret and placeholder syncs. */
import { createHash } from 'node:crypto';

export type SecretData = Map<string, Buffer>;

/** ESO's annotation on every target: the hash of the data written (ESO's isSecretValid). */
export const ES_HASH_ANNOTATION = 'reconcile.external-secrets.io/data-hash';

/** sha256 over keys in order, each key and value separated by NUL: stable for equal data. */
export function dataHash(data: SecretData): string {
  const h = createHash('sha256');
  for (const key of [...data.keys()].sort()) {
    h.update(key)
      .update('\0')
      .update(data.get(key) as Buffer)
      .update('\0');
  }
  return h.digest('hex');
}

/**
 * ESO's data-hash of a Secret target (esutils.ObjectHash of `secret.Data`): sha3-224, hex, of Go's
 * `fmt.Sprintf("%+v", map[string][]byte)` — `map[key:[104 105] other:[]]`, keys in byte order,
 * bytes in decimal. Written on Secret targets so one ESO wrote is recognised as intact after a
 * migration (no provider call, no write), and one written here is intact for ESO.
 */
export function esoDataHash(data: SecretData): string {
  const h = createHash('sha3-224');
  h.update('map[');
  // Streamed in chunks: a 1 MiB value is ~4 MiB of decimal text, never built as one string.
  const chunk = Buffer.allocUnsafe(16 * 1024);
  [...data.keys()].sort(compareBytes).forEach((key, i) => {
    h.update(`${i > 0 ? ' ' : ''}${key}:[`, 'utf8');
    let n = 0;
    const value = data.get(key) as Buffer;
    for (let j = 0; j < value.length; j++) {
      if (n > chunk.length - 4) {
        h.update(chunk.subarray(0, n));
        n = 0;
      }
      if (j > 0) chunk[n++] = 0x20;
      const b = value[j] as number;
      if (b >= 100) chunk[n++] = 0x30 + Math.floor(b / 100);
      if (b >= 10) chunk[n++] = 0x30 + (Math.floor(b / 10) % 10);
      chunk[n++] = 0x30 + (b % 10);
    }
    h.update(chunk.subarray(0, n));
    h.update(']');
  });
  h.update(']');
  return h.digest('hex');
}

/** Go's string order: byte by byte of the UTF-8 encoding. */
function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Data up to this many bytes (keys and values) carries ESO's hash; larger data this webhook's
 * sha256. ESO's hashes ~3.6 times the data as decimal text with sha3, 10 to 20 times the cost of
 * a sha256 of the bytes (bench/data-hash.ts: ~50 ms of the event loop for a 1 MiB Secret), and
 * the informer hashes every Secret event; 8 KiB holds credentials, tokens, most TLS Secrets.
 */
export const ESO_HASH_MAX_BYTES = 8 * 1024;

function dataSize(data: SecretData): number {
  let n = 0;
  for (const [k, v] of data) n += Buffer.byteLength(k) + v.length;
  return n;
}

/**
 * The data hash of a Secret target to compare with the hash `written` on it: in the format it
 * was written in — this webhook's sha256 (64 hex digits) or ESO's sha3-224 (esoDataHash, 56) —
 * so targets ESO wrote, and targets written here before the switch, stay intact. ESO's format
 * is computed only up to ESO_HASH_MAX_BYTES: a larger target ESO wrote reads as changed once,
 * and is rewritten with the sha256.
 */
export function targetDataHash(data: SecretData, written: string | undefined): string {
  return written?.length === 64 || dataSize(data) > ESO_HASH_MAX_BYTES ? dataHash(data) : esoDataHash(data);
}

/**
 * The hash to write on a Secret target: ESO's up to ESO_HASH_MAX_BYTES, else the sha256; a hash
 * already written in the earlier sha256 format is kept while it matches (no write for the format
 * alone).
 */
export function writeDataHash(data: SecretData, before: string | undefined): string {
  if (before?.length === 64 && dataHash(data) === before) return before;
  return dataSize(data) > ESO_HASH_MAX_BYTES ? dataHash(data) : esoDataHash(data);
}

export function decodeData(data: Record<string, string> | undefined): SecretData {
  return new Map(Object.entries(data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
}

export function encodeData(data: SecretData): Record<string, string> {
  return Object.fromEntries(
    [...data.keys()].sort().map((k) => [k, (data.get(k) as Buffer).toString('base64')]),
  );
}

export function utf8Values(data: SecretData): Record<string, string> {
  return Object.fromEntries([...data].map(([k, v]) => [k, v.toString('utf8')]));
}

/**
 * Digests of data that was dropped: the informers cache Secrets without their data, and record
 * here the hash the data had, so the refresher can still tell an intact target (our own write
 * coming back) from one edited by hand without holding any value.
 */
const digests = new WeakMap<object, string>();

/** A copy of `secret` without data, remembering its data hash. */
export function withDataDigest<T extends { data?: Record<string, string> | undefined; stringData?: unknown }>(
  secret: T,
): Omit<T, 'data' | 'stringData'> {
  const { data, stringData: _s, ...rest } = secret;
  digests.set(rest, targetDataHash(decodeData(data), writtenHash(secret)));
  return rest;
}

function writtenHash(secret: object): string | undefined {
  return (secret as { metadata?: { annotations?: Record<string, string> } }).metadata?.annotations?.[
    ES_HASH_ANNOTATION
  ];
}

/** The hash of a Secret's data: computed, or remembered when the data was dropped. */
export function dataDigest(secret: { data?: Record<string, string> | undefined }): string {
  return digests.get(secret) ?? targetDataHash(decodeData(secret.data), writtenHash(secret));
}

/** The Secret's data matches the hash written with it: nobody edited it since. */
export function intact(secret: { data?: Record<string, string> | undefined }): boolean {
  const written = writtenHash(secret);
  return written !== undefined && written === dataDigest(secret);
}
