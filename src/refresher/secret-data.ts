/** Secret data helpers shared by the ExternalSecret and placeholder syncs. */
import { createHash } from 'node:crypto';

export type SecretData = Map<string, Buffer>;

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
  digests.set(rest, dataHash(decodeData(data)));
  return rest;
}

/** The hash of a Secret's data: computed, or remembered when the data was dropped. */
export function dataDigest(secret: { data?: Record<string, string> | undefined }): string {
  return digests.get(secret) ?? dataHash(decodeData(secret.data));
}
