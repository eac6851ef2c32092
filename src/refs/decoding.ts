/**
 * `decodingStrategy` and `conversionStrategy`, as the External Secrets Operator applies them
 * (`utils.Decode`, `utils.DecodeMap`, `utils.ConvertKeys` in ESO):
 * - None: the bytes as they are. Base64 / Base64URL: Go's padded standard / URL alphabets,
 *   strict about the alphabet and padding, line breaks ignored. Auto: Base64, else Base64URL,
 *   else the bytes as they are.
 * - Default conversion replaces every character of a key that is not a letter, a digit, `-`,
 *   `.` or `_` with `_`; Unicode replaces it with `_UXXXX_` (its code point in hex, at least
 *   four digits: `$` -> `_U0024_`). A collision after conversion is an error.
 * An absent strategy is the CRD default (None, Default).
 */
import type { ConversionStrategy, DecodingStrategy } from '../api/types.ts';
import { EswError } from '../errors.ts';

const STD = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const URL_SAFE = /^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}==|[A-Za-z0-9_-]{3}=)?$/;

/** Strict, padded base64 in the standard or URL alphabet; undefined when `bytes` is not that. */
export function decodeBase64Strict(bytes: Uint8Array, alphabet: 'std' | 'url'): Uint8Array | undefined {
  // latin1 maps each byte to one char, so any non-ASCII byte fails the alphabet check.
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    .toString('latin1')
    .replace(/[\r\n]/g, '');
  if (!(alphabet === 'std' ? STD : URL_SAFE).test(text)) return undefined;
  return Buffer.from(text, alphabet === 'std' ? 'base64' : 'base64url');
}

/**
 * `decodeBase64Strict` of a string, as the API server sends a Secret's `data` values: no round
 * trip through bytes. Any character outside the alphabet (non-ASCII included) fails the check.
 */
export function decodeBase64Text(text: string, alphabet: 'std' | 'url'): Buffer | undefined {
  const clean = /[\r\n]/.test(text) ? text.replace(/[\r\n]/g, '') : text;
  if (!(alphabet === 'std' ? STD : URL_SAFE).test(clean)) return undefined;
  return Buffer.from(clean, alphabet === 'std' ? 'base64' : 'base64url');
}

/**
 * Applies `strategy` to `bytes`. `what` names the value in the error message
 * (`key "db" property "password"`) — the value itself is never part of it.
 */
export function decodeValue(
  strategy: DecodingStrategy | undefined,
  bytes: Uint8Array,
  what: string,
): Uint8Array {
  switch (strategy ?? 'None') {
    case 'None':
      return bytes;
    case 'Base64': {
      const out = decodeBase64Strict(bytes, 'std');
      if (!out)
        throw new EswError('ESW_DECODE', `${what}: value is not valid base64 (decodingStrategy Base64)`);
      return out;
    }
    case 'Base64URL': {
      const out = decodeBase64Strict(bytes, 'url');
      if (!out) {
        throw new EswError(
          'ESW_DECODE',
          `${what}: value is not valid base64url (decodingStrategy Base64URL)`,
        );
      }
      return out;
    }
    case 'Auto':
      return decodeBase64Strict(bytes, 'std') ?? decodeBase64Strict(bytes, 'url') ?? bytes;
    default:
      throw new EswError('ESW_DECODE', `${what}: decodingStrategy "${strategy}" is not supported`);
  }
}

/** `DecodeMap`: decodes every value; the error names the map key that failed. */
export function decodeMap(
  strategy: DecodingStrategy | undefined,
  map: Map<string, Uint8Array>,
  what: string,
): Map<string, Uint8Array> {
  if ((strategy ?? 'None') === 'None') return map;
  const out = new Map<string, Uint8Array>();
  for (const [k, v] of map) out.set(k, decodeValue(strategy, v, `${what} key "${k}"`));
  return out;
}

const KEEP = /^[\p{L}\p{N}._-]$/u;

/** Converts one key name. Unknown strategies leave the key as it is (ESO's behaviour). */
export function convertKey(strategy: ConversionStrategy | undefined, key: string): string {
  const s = strategy ?? 'Default';
  if (s !== 'Default' && s !== 'Unicode') return key;
  let out = '';
  for (const ch of key) {
    if (KEEP.test(ch)) out += ch;
    else if (s === 'Default') out += '_';
    else out += `_U${ch.codePointAt(0)!.toString(16).padStart(4, '0')}_`;
  }
  return out;
}

/** `ConvertKeys`: converts every key; two keys that convert to one name are an error. */
export function convertKeys(
  strategy: ConversionStrategy | undefined,
  map: Map<string, Uint8Array>,
  what: string,
): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const [k, v] of map) {
    const converted = convertKey(strategy, k);
    if (out.has(converted)) {
      throw new EswError(
        'ESW_DECODE',
        `${what}: key name collision during conversion: "${converted}" (conversionStrategy ${strategy ?? 'Default'})`,
      );
    }
    out.set(converted, v);
  }
  return out;
}
