/**
 * Byte helpers, all from vetted libraries: hex and the constant-time compare
 * from noble, base64url from jose. `fromBase64Url` adds the strictness jose's
 * decoder leaves out (alphabet and length), so a malformed claim is rejected
 * instead of being decoded leniently.
 */
import { equalBytes } from '@noble/ciphers/utils.js';
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { base64url } from 'jose';

export { bytesToHex as toHex, concatBytes, equalBytes, hexToBytes as fromHex, utf8ToBytes as utf8 };

const strictDecoder = new TextDecoder('utf-8', { fatal: true });
/** Strict UTF-8 decode: invalid sequences throw (callers map that to a typed error). */
export const fromUtf8 = (b: Uint8Array): string => strictDecoder.decode(b);

export const toBase64Url = (b: Uint8Array): string => base64url.encode(b);

const B64URL = /^[A-Za-z0-9_-]*$/;
/** Strict unpadded base64url; null when malformed. */
export function fromBase64Url(s: string): Uint8Array | null {
  if (!B64URL.test(s) || s.length % 4 === 1) return null;
  return base64url.decode(s);
}

/** A JWT-shaped run: three base64url parts, the first starting like a JSON header. */
const JWT_LIKE = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}/g;
/**
 * Replaces anything that looks like a JWT with "[token]". LiveKit echoes the
 * whole token in its 401 bodies ("invalid token: <jwt>, error: ..."); such
 * text must not reach a log line or the client.
 */
export const redactTokens = (s: string): string => s.replace(JWT_LIKE, '[token]');
