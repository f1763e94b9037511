/**
 * ChaCha20-Poly1305 IETF (RFC 8439) from libsodium via sodium-native, an
 * optional native dependency: `loadSodiumAead()` returns undefined when it is
 * not installed or does not load on this platform. sodium-native 5 takes any
 * typed-array view (it checks ArrayBuffer.isView), so the caller's Uint8Arrays
 * go in as they are, no Buffer wrapping or copy, and libsodium writes straight
 * into `out`. A failed open throws in sodium-native; we zero `out` and return false.
 * Node only (createRequire); never imported by the browser backend.
 */
import { createRequire } from 'node:module';
import { checkOpen, checkSeal } from './checked.js';
import type { Aead } from './types.js';

/** The two sodium-native functions used here (its own types are not shipped). */
interface SodiumAead {
  crypto_aead_chacha20poly1305_ietf_encrypt(
    c: Uint8Array,
    m: Uint8Array,
    ad: Uint8Array | null,
    nsec: null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  crypto_aead_chacha20poly1305_ietf_decrypt(
    m: Uint8Array,
    nsec: null,
    c: Uint8Array,
    ad: Uint8Array | null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
}

function sodiumAead(sodium: SodiumAead): Aead {
  return Object.freeze({
    backend: 'sodium',
    sealInto(out: Uint8Array, key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): void {
      checkSeal(out, key, nonce, plaintext, aad);
      sodium.crypto_aead_chacha20poly1305_ietf_encrypt(out, plaintext, aad, null, nonce, key);
    },
    openInto(out: Uint8Array, key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): boolean {
      if (checkOpen(out, key, nonce, sealed, aad)) {
        try {
          sodium.crypto_aead_chacha20poly1305_ietf_decrypt(out, null, sealed, aad, nonce, key);
          return true;
        } catch {
          // After checkOpen the only failure left is the tag ('could not verify data').
        }
      }
      out.fill(0);
      return false;
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
