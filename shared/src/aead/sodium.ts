/**
 * ChaCha20-Poly1305 IETF (RFC 8439) from libsodium via sodium-native, an
 * optional native dependency: `loadSodiumAead()` returns undefined when it is
 * not installed or does not load on this platform. sodium-native 5 takes any
 * typed-array view (it checks ArrayBuffer.isView), so the caller's Uint8Arrays
 * go in as they are, no Buffer wrapping or copy, and libsodium writes straight
 * into `out`, in place too. A failed open throws in sodium-native; checkedAead
 * zeroes `out` and returns false.
 * Node only (createRequire); never imported by the browser backend.
 */
import { createRequire } from 'node:module';
import { checkedAead } from './checked.js';
import type { Aead } from './types.js';

/** The two sodium-native functions used here (its own types are not shipped). */
interface SodiumAead {
  crypto_aead_chacha20poly1305_ietf_encrypt(c: Uint8Array, m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array): number;
  crypto_aead_chacha20poly1305_ietf_decrypt(m: Uint8Array, nsec: null, c: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array): number;
}

/** libsodium computes the tag over the ciphertext before it decrypts, and its AEADs work in place (m == c). */
function sodiumAead(sodium: SodiumAead): Aead {
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

let loaded: Aead | null | undefined;

/** The sodium backend, or undefined when sodium-native is not loadable here. Loads once. */
export function loadSodiumAead(): Aead | undefined {
  if (loaded === undefined) {
    try {
      const sodium = createRequire(import.meta.url)('sodium-native') as SodiumAead;
      loaded = typeof sodium.crypto_aead_chacha20poly1305_ietf_encrypt === 'function' ? sodiumAead(sodium) : null;
    } catch {
      loaded = null;
    }
  }
  return loaded ?? undefined;
}
