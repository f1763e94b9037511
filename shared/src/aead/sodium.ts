/**
 * ChaCha20-Poly1305 IETF (RFC 8439) from libsodium (../backend/sodium.ts,
 * optional): `loadSodiumAead()` returns undefined where sodium-native does
 * not load. The caller's Uint8Arrays go in as they are, no Buffer wrapping or
 * copy, and libsodium writes straight into `out`, in place too. A failed open
 * throws in sodium-native; checkedAead zeroes `out` and returns false.
 * Node only; never imported by the browser backend.
 */
import { loadSodium, type Sodium } from '../backend/sodium.js';
import { checkedAead } from './checked.js';
import type { Aead } from './types.js';

/** libsodium computes the tag over the ciphertext before it decrypts, and its AEADs work in place (m == c). */
function sodiumAead(sodium: Sodium): Aead {
  return checkedAead('sodium', {
    seal(out, key, nonce, plaintext, aad) {
      sodium.crypto_aead_chacha20poly1305_ietf_encrypt(out, plaintext, aad, null, nonce, key);
    },
    open(out, key, nonce, sealed, aad) {
      // Throws 'could not verify data' on a bad tag; checkedAead zeroes `out` and answers false.
      sodium.crypto_aead_chacha20poly1305_ietf_decrypt(out, null, sealed, aad, nonce, key);
    },
  });
}

let aead: Aead | undefined;

/** The sodium backend, or undefined when sodium-native is not loadable here. Loads once. */
export function loadSodiumAead(): Aead | undefined {
  const sodium = loadSodium();
  if (sodium === undefined) return undefined;
  aead ??= sodiumAead(sodium);
  return aead;
}
