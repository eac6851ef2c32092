/**
 * The bound on one answer of a provider endpoint a store's author chooses (Vault `server`, Azure
 * `vaultUrl`; docs/threat-model.md, T37). The SDKs read whatever such an endpoint sends into
 * memory before parsing it, so a tenant's own endpoint streaming hundreds of MiB took the whole
 * process — every tenant's admissions and the refresher — past its memory limit. Each transport
 * reads the answer as a stream through `readBounded` instead, after any decompression.
 */
import type { Readable } from 'node:stream';

/**
 * Above any answer a Secret can use: a Kubernetes Secret holds at most 1 MiB, JSON escapes at most
 * 6 bytes a byte, and a Vault LIST of 10,000 keys is a few MiB.
 */
export const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

/** Thrown for an answer over MAX_ANSWER_BYTES; each provider's error mapping words it. */
export class AnswerTooLarge extends Error {
  constructor() {
    super(`answer larger than ${MAX_ANSWER_BYTES / (1024 * 1024)} MiB`);
    this.name = 'AnswerTooLarge';
  }
}

/** The stream's text; past the bound it is destroyed (its connection closed) and AnswerTooLarge thrown. */
export async function readBounded(stream: NodeJS.ReadableStream | Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += bytes.length;
    if (size > MAX_ANSWER_BYTES) {
      (stream as Readable).destroy();
      throw new AnswerTooLarge();
    }
    chunks.push(bytes);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}
