/**
 * volly-pq.v1 key schedule (docs/PROTOCOL.md):
 *   th    = SHA-256("volly-pq.v1" || u16(len alg) || alg || u16(len sid) || sid || pk || ct)
 *   k_c2s = HKDF-SHA256(ikm = ss, salt = th, info = "volly-pq.v1 c2s", 32)
 *   k_s2c = HKDF-SHA256(ikm = ss, salt = th, info = "volly-pq.v1 s2c", 32)
 * Invariant: pk and ct have fixed lengths per algorithm (checked by the KEM
 * before we get here), so the unprefixed tail of the transcript is unambiguous.
 * Both keys share ikm and salt, so HKDF-Extract (PRK = HMAC(th, ss)) runs once
 * and only Expand runs per direction: the same bytes as two full HKDFs.
 */
import { expand, extract } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8 } from './bytes.js';
import { KeyFormatError } from './errors.js';
import { type Sha256Parts, sha256Parts } from './sha256.js';

export const PROTOCOL = 'volly-pq.v1';
const LABEL = utf8(PROTOCOL);
const INFO_C2S = utf8('volly-pq.v1 c2s');
const INFO_S2C = utf8('volly-pq.v1 s2c');

export interface DirectionKeys {
  /** Client-to-server key: the client seals with it, the proxy opens. */
  readonly c2s: Uint8Array;
  /** Server-to-client key. */
  readonly s2c: Uint8Array;
}

/** u16 big-endian length || UTF-8 bytes. */
function u16Prefixed(s: string): Uint8Array {
  const b = utf8(s);
  if (b.length > 0xffff) throw new KeyFormatError('transcript field longer than 65535 bytes');
  const out = new Uint8Array(2 + b.length);
  out[0] = b.length >> 8;
  out[1] = b.length & 0xff;
  out.set(b, 2);
  return out;
}

/** Hashed piece by piece: no copy of the ~2.3 KB transcript is made. `hash` exists for tests of either implementation. */
export function transcriptHash(
  algorithm: string,
  sessionId: string,
  publicKey: Uint8Array,
  ciphertext: Uint8Array,
  hash: Sha256Parts = sha256Parts,
): Uint8Array {
  return hash([LABEL, u16Prefixed(algorithm), u16Prefixed(sessionId), publicKey, ciphertext]);
}

export function deriveKeys(sharedSecret: Uint8Array, th: Uint8Array): DirectionKeys {
  if (sharedSecret.length !== 32) throw new KeyFormatError('shared secret must be 32 bytes');
  if (th.length !== 32) throw new KeyFormatError('transcript hash must be 32 bytes');
  const prk = extract(sha256, sharedSecret, th);
  const keys = { c2s: expand(sha256, prk, INFO_C2S, 32), s2c: expand(sha256, prk, INFO_S2C, 32) };
  prk.fill(0);
  return keys;
}
