/**
 * Argument checks shared by every AEAD backend, run before any library call:
 * every argument a Uint8Array (else TypeError), key 32 bytes (else
 * KeyFormatError), nonce 12 bytes, `out` exactly the output length and not
 * overlapping any input (else RangeError: these are caller bugs, never peer
 * input). Browser-safe: no node:* import.
 */
import { KeyFormatError } from '../errors.js';
import { AEAD_KEY_LENGTH, AEAD_NONCE_LENGTH, AEAD_TAG_LENGTH } from './types.js';

function overlaps(a: Uint8Array, b: Uint8Array): boolean {
  return (
    a.buffer === b.buffer &&
    a.byteLength > 0 &&
    b.byteLength > 0 &&
    a.byteOffset < b.byteOffset + b.byteLength &&
    b.byteOffset < a.byteOffset + a.byteLength
  );
}

function check(out: Uint8Array, key: Uint8Array, nonce: Uint8Array, input: Uint8Array, aad: Uint8Array, outLength: (n: number) => number): void {
  for (const arg of [out, key, nonce, input, aad])
    if (!(arg instanceof Uint8Array)) throw new TypeError('AEAD arguments must be Uint8Arrays');
  if (key.length !== AEAD_KEY_LENGTH) throw new KeyFormatError(`AEAD key must be ${AEAD_KEY_LENGTH} bytes`);
  if (nonce.length !== AEAD_NONCE_LENGTH) throw new RangeError(`AEAD nonce must be ${AEAD_NONCE_LENGTH} bytes`);
  const expected = outLength(input.length);
  if (out.length !== expected) throw new RangeError(`AEAD output buffer must be ${expected} bytes`);
  for (const arg of [key, nonce, input, aad])
    if (overlaps(out, arg)) throw new RangeError('AEAD output buffer must not overlap an input');
}

/** sealInto: out.length === plaintext.length + 16. */
export function checkSeal(out: Uint8Array, key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): void {
  check(out, key, nonce, plaintext, aad, (n) => n + AEAD_TAG_LENGTH);
}

/**
 * openInto: out.length === sealed.length - 16. Returns false, having checked
 * nothing else, when `sealed` is shorter than a tag: it cannot authenticate.
 */
export function checkOpen(out: Uint8Array, key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): boolean {
  if (sealed instanceof Uint8Array && sealed.length < AEAD_TAG_LENGTH) return false;
  check(out, key, nonce, sealed, aad, (n) => n - AEAD_TAG_LENGTH);
  return true;
}
