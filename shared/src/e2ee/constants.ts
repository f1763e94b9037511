/** The fixed labels, codes and limits of volly-e2ee.v1 (docs/E2EE.md sections 3-7). */
import { utf8 } from '../bytes.js';
import { ML_KEM_768, X_WING } from '../kem/checked.js';
import type { KemAlgorithm } from '../kem/types.js';

/** LiveKit data-message topic of every volly-e2ee.v1 message. */
export const E2EE_TOPIC = 'volly-e2ee.v1';
export const STATEMENT_MAGIC = utf8('VE2S');
/** ML-DSA-65 context strings (FIPS 204 ctx): one per signed object, so a signature of one kind never passes as the other. */
export const STATEMENT_SIG_CONTEXT = utf8('volly-e2ee.v1 statement');
export const SHARE_SIG_CONTEXT = utf8('volly-e2ee.v1 key-share');
export const SHARE_HKDF_SALT = utf8('volly-e2ee.v1 key-share');

export const MSG_ANNOUNCE = 0x01;
export const MSG_SHARE = 0x02;
export const ANNOUNCE_REPLY_WANTED = 0x01;

export const KEM_CODE: Readonly<Record<KemAlgorithm, number>> = Object.freeze({ 'X-Wing': 0x01, 'ML-KEM-768': 0x02 });
export function kemOfCode(code: number): KemAlgorithm | undefined {
  return (Object.keys(KEM_CODE) as KemAlgorithm[]).find((a) => KEM_CODE[a] === code);
}

/** livekit-client's default key ring: key_index = generation mod 16. */
export const KEY_RING_SIZE = 16;
export const MEDIA_KEY_LENGTH = 32;
export const MAX_ROOM_BYTES = 256;
export const MAX_IDENTITY_BYTES = 256;
export const MAX_CONTEXT_BYTES = 128;
/** A statement lives at most a day; a receiver allows this much clock skew on issued_at. */
export const MAX_STATEMENT_LIFETIME_S = 86_400;
export const CLOCK_SKEW_S = 60;

/** Ciphertext bytes per KEM (FIPS 203; the X-Wing draft). */
export const KEM_CIPHERTEXT_LENGTH: Readonly<Record<KemAlgorithm, number>> = Object.freeze({
  'ML-KEM-768': ML_KEM_768.ciphertextLength,
  'X-Wing': X_WING.ciphertextLength,
});
