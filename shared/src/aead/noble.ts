/**
 * ChaCha20-Poly1305 (RFC 8439) from @noble/ciphers, pure JS: browsers and any
 * Node. Writes straight into `out` (noble's output argument), in place too:
 * noble verifies the tag over the sealed bytes before it copies and decrypts
 * them, so a failed open never produced plaintext (and checkedAead zeroes
 * `out` anyway). Browser-safe.
 */
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { checkedAead } from './checked.js';

export const nobleAead = checkedAead('noble', {
  seal(out, key, nonce, plaintext, aad) {
    chacha20poly1305(key, nonce, aad).encrypt(plaintext, out);
  },
  open(out, key, nonce, sealed, aad) {
    chacha20poly1305(key, nonce, aad).decrypt(sealed, out);
  },
});
