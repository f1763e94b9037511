/**
 * Byte helpers, all from vetted libraries: hex and the constant-time compare
 * from noble, base64url from jose. `fromBase64Url` adds the strictness jose's
 * decoder leaves out (alphabet, length, padding, zero unused bits), so a
 * malformed or non-canonical claim is rejected instead of decoded leniently.
 */
import { equalBytes } from '@noble/ciphers/utils.js';
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { base64url } from 'jose';

export { bytesToHex as toHex, concatBytes, equalBytes, hexToBytes as fromHex, utf8ToBytes as utf8 };

/**
 * A copy into a plain Uint8Array that shares nothing with `b`. Not `b.slice()`:
 * on a node Buffer that is a view, so wiping one would wipe the other.
 */
export const copyBytes = (b: Uint8Array): Uint8Array => new Uint8Array(b);

const strictDecoder = new TextDecoder('utf-8', { fatal: true });
/** Strict UTF-8 decode: invalid sequences throw (callers map that to a typed error). */
export const fromUtf8 = (b: Uint8Array): string => strictDecoder.decode(b);

/** Node's Buffer where the runtime has one: its base64url codec is native (~6x jose's atob path over a first flight). */
interface NodeBufferCtor {
  from(s: string, encoding: 'base64url'): Uint8Array;
  from(b: ArrayBufferLike, offset: number, length: number): { toString(encoding: 'base64url'): string };
}
const NodeBuffer = (globalThis as { Buffer?: NodeBufferCtor }).Buffer;

export const toBase64Url = (b: Uint8Array): string =>
  NodeBuffer ? NodeBuffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url') : base64url.encode(b);

/**
 * Decodes a string already checked canonical. Node: a plain Uint8Array copy,
 * like jose's result, and the temporary (maybe from Buffer's shared pool) is
 * zeroed, since key files decode secrets through here.
 */
function decodeChecked(s: string): Uint8Array {
  if (!NodeBuffer) return base64url.decode(s);
  const tmp = NodeBuffer.from(s, 'base64url');
  const out = new Uint8Array(tmp);
  tmp.fill(0);
  return out;
}

const B64URL = /^[A-Za-z0-9_-]*$/;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * True when `s` is the one canonical unpadded base64url encoding of some
 * bytes (RFC 4648 §5 alphabet, §3.5 canonical): no padding, no character
 * outside the alphabet, no length of 4n+1, and the bits a last partial group
 * leaves unused are zero. Without the last rule, up to 16 strings decode to
 * the same key, so a check on the string (a deny list, a cache key, a log
 * match) would not be a check on the key.
 */
export function isBase64Url(s: string): boolean {
  if (typeof s !== 'string' || !B64URL.test(s)) return false;
  const tail = s.length % 4;
  if (tail === 0) return true;
  if (tail === 1) return false;
  // 2 chars carry 8 bits (4 unused), 3 chars carry 16 bits (2 unused).
  const unused = tail === 2 ? 0b1111 : 0b11;
  return (ALPHABET.indexOf(s.charAt(s.length - 1)) & unused) === 0;
}

/** Strict unpadded base64url (see isBase64Url); null when malformed or not canonical. */
export function fromBase64Url(s: string): Uint8Array | null {
  return isBase64Url(s) ? decodeChecked(s) : null;
}

const isSegmentChar = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x2d;
/** A character a JWT run may hold: base64url or the dot between its parts. */
export const isJwtRunChar = (c: number): boolean => isSegmentChar(c) || c === 0x2e;

/** Redacts one maximal run of [A-Za-z0-9_.-]: segments split at dots. */
function redactRun(run: string): string {
  const seg = run.split('.');
  let out = '';
  let i = 0;
  while (i < seg.length) {
    const s = seg[i] as string;
    // The leftmost `eyJ` of a segment is the only start that can match in it (later ones leave fewer characters).
    const at = s.indexOf('eyJ');
    if (at >= 0 && s.length - at >= 7 && i + 2 < seg.length && (seg[i + 1] as string).length >= 4 && (seg[i + 2] as string).length >= 4) {
      out += `${s.slice(0, at)}[token]`;
      i += 3;
    } else {
      out += s;
      i += 1;
    }
    if (i < seg.length) out += '.';
  }
  return out;
}

/**
 * Replaces anything that looks like a JWT — `eyJ`, 4+ base64url characters, a
 * dot, 4+, a dot, 4+ — with "[token]". LiveKit echoes the whole token in its
 * 401 bodies ("invalid token: <jwt>, error: ..."); such text must not reach a
 * log line or the client. Linear time: the obvious regular expression
 * backtracks over a long base64url run once per `eyJ` in it, which text an
 * attacker controls (metadata quoted back) could exploit.
 */
export function redactTokens(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    let j = i;
    while (j < text.length && !isJwtRunChar(text.charCodeAt(j))) j++;
    out += text.slice(i, j);
    let k = j;
    while (k < text.length && isJwtRunChar(text.charCodeAt(k))) k++;
    if (k > j) out += redactRun(text.slice(j, k));
    i = k;
  }
  return out;
}
