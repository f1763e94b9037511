/**
 * The one place where AEAD arguments are checked. Every backend supplies an
 * `AeadCore` (the cipher on arguments already checked) and gets its `Aead`
 * from `checkedAead`, which keeps the invariants of ./types.ts:
 * - sealInto/openInto, before any library call: every argument a Uint8Array
 *   (else TypeError), key 32 bytes (else KeyFormatError), nonce 12 bytes, `out`
 *   exactly the output length and not overlapping any input (else RangeError:
 *   these are caller bugs, never peer input);
 * - bind: the same checks on key and nonce once; per call the types, `out`'s
 *   length, and no overlap but an exact in-place alias of `out` and the input;
 * - a failed open (bad tag, or a sealed input shorter than a tag) zeroes `out`
 *   and returns false: no partial plaintext is ever left readable.
 * Browser-safe: no node:* import.
 */
import { KeyFormatError } from '../errors.js';
import { AEAD_KEY_LENGTH, AEAD_NONCE_LENGTH, AEAD_TAG_LENGTH, type Aead, type AeadBackendName, type BoundAead } from './types.js';

/** The cipher itself; `open` throws when the tag does not verify. Both allow `out` to alias the input exactly. */
export interface AeadCore {
  seal(out: Uint8Array, key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): void;
  open(out: Uint8Array, key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): void;
}

function overlaps(a: Uint8Array, b: Uint8Array): boolean {
  return (
    a.buffer === b.buffer && a.byteLength > 0 && b.byteLength > 0 && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength
  );
}

function checkKeyNonce(key: Uint8Array, nonce: Uint8Array): void {
  if (!(key instanceof Uint8Array) || !(nonce instanceof Uint8Array)) throw new TypeError('AEAD arguments must be Uint8Arrays');
  if (key.length !== AEAD_KEY_LENGTH) throw new KeyFormatError(`AEAD key must be ${AEAD_KEY_LENGTH} bytes`);
  if (nonce.length !== AEAD_NONCE_LENGTH) throw new RangeError(`AEAD nonce must be ${AEAD_NONCE_LENGTH} bytes`);
}

/** `out`, the input and the aad of one call; `inPlace` admits `out` starting exactly where `input` starts. */
function checkCall(out: Uint8Array, input: Uint8Array, aad: Uint8Array, expected: number, inPlace: boolean): void {
  if (!(out instanceof Uint8Array) || !(input instanceof Uint8Array) || !(aad instanceof Uint8Array)) throw new TypeError('AEAD arguments must be Uint8Arrays');
  if (out.length !== expected) throw new RangeError(`AEAD output buffer must be ${expected} bytes`);
  const alias = inPlace && out.buffer === input.buffer && out.byteOffset === input.byteOffset;
  if ((!alias && overlaps(out, input)) || overlaps(out, aad)) throw new RangeError('AEAD output buffer must not overlap an input');
}

/** Runs the core's open; any failure zeroes `out` and answers false. */
function tryOpen(core: AeadCore, out: Uint8Array, key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): boolean {
  try {
    core.open(out, key, nonce, sealed, aad);
    return true;
  } catch {
    // After the checks the only failure left is the tag.
    out.fill(0);
    return false;
  }
}

/** A sealed input shorter than a tag cannot authenticate: false, `out` zeroed, nothing else checked. */
function tooShort(out: Uint8Array, sealed: Uint8Array): boolean {
  if (!(sealed instanceof Uint8Array) || sealed.length >= AEAD_TAG_LENGTH) return false;
  if (out instanceof Uint8Array) out.fill(0);
  return true;
}

export function checkedAead(backend: AeadBackendName, core: AeadCore): Aead {
  return Object.freeze({
    backend,
    sealInto(out: Uint8Array, key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): void {
      checkKeyNonce(key, nonce);
      checkCall(out, plaintext, aad, plaintext?.length + AEAD_TAG_LENGTH, false);
      for (const arg of [key, nonce]) if (overlaps(out, arg)) throw new RangeError('AEAD output buffer must not overlap an input');
      core.seal(out, key, nonce, plaintext, aad);
    },
    openInto(out: Uint8Array, key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): boolean {
      if (tooShort(out, sealed)) return false;
      checkKeyNonce(key, nonce);
      checkCall(out, sealed, aad, sealed?.length - AEAD_TAG_LENGTH, false);
      for (const arg of [key, nonce]) if (overlaps(out, arg)) throw new RangeError('AEAD output buffer must not overlap an input');
      return tryOpen(core, out, key, nonce, sealed, aad);
    },
    bind(key: Uint8Array, nonce: Uint8Array): BoundAead {
      checkKeyNonce(key, nonce);
      return Object.freeze({
        seal(out: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): void {
          checkCall(out, plaintext, aad, plaintext?.length + AEAD_TAG_LENGTH, true);
          core.seal(out, key, nonce, plaintext, aad);
        },
        open(out: Uint8Array, sealed: Uint8Array, aad: Uint8Array): boolean {
          if (tooShort(out, sealed)) return false;
          checkCall(out, sealed, aad, sealed?.length - AEAD_TAG_LENGTH, true);
          return tryOpen(core, out, key, nonce, sealed, aad);
        },
      });
    },
  });
}
