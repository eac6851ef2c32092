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
