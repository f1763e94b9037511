/**
 * ChaCha20-Poly1305 (RFC 8439) behind one interface. Key 32 bytes, nonce 12,
 * tag 16. `sealInto` writes ciphertext||tag into `out` (length
 * plaintext.length + 16) so the framer can put its kind byte in front without
 * a copy. `openInto` returns false on any authentication failure and never
 * leaves partial plaintext readable by the caller on failure.
 */
export const AEAD_KEY_LENGTH = 32;
export const AEAD_NONCE_LENGTH = 12;
export const AEAD_TAG_LENGTH = 16;
export type AeadBackendName = 'sodium' | 'noble';

export interface Aead {
  readonly backend: AeadBackendName;
  sealInto(out: Uint8Array, key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): void;
  /** `out` has length sealed.length - 16. Returns false when the tag does not verify. */
  openInto(out: Uint8Array, key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): boolean;
  /**
   * One direction of a session: key and nonce are checked here, once, and
   * read by reference on every call (the framer rewrites the nonce in place
   * and wipes the key at the end), so per frame only lengths are checked.
   */
  bind(key: Uint8Array, nonce: Uint8Array): BoundAead;
}

/**
 * sealInto/openInto for a bound key and nonce. `out` may also start exactly
 * where the input starts (in place: `open` decrypts into the sealed bytes);
 * any other overlap is a RangeError. A failed `open` zeroes `out`.
 */
export interface BoundAead {
  seal(out: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): void;
  open(out: Uint8Array, sealed: Uint8Array, aad: Uint8Array): boolean;
}
