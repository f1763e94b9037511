/**
 * ChaCha20-Poly1305 (RFC 8439) from @noble/ciphers, pure JS: browsers and any
 * Node. Writes straight into `out` (noble's output argument). noble verifies
 * the tag before it decrypts, so a failed open never produced plaintext; `out`
 * is zeroed anyway, so the caller never reads stale bytes. Browser-safe.
 */
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { checkOpen, checkSeal } from './checked.js';
import type { Aead } from './types.js';

export const nobleAead: Aead = Object.freeze({
  backend: 'noble',
  sealInto(out: Uint8Array, key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): void {
    checkSeal(out, key, nonce, plaintext, aad);
    chacha20poly1305(key, nonce, aad).encrypt(plaintext, out);
  },
  openInto(out: Uint8Array, key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): boolean {
    if (checkOpen(out, key, nonce, sealed, aad)) {
      try {
        chacha20poly1305(key, nonce, aad).decrypt(sealed, out);
        return true;
      } catch {
        // After checkOpen the only failure left is the tag ('invalid tag').
      }
    }
    out.fill(0);
    return false;
  },
});
