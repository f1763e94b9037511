/**
 * The one place where KEM inputs are checked. Every backend supplies a
 * `KemCore` (operations on inputs of the right length) and gets its `Kem`
 * from `checkedKem`, which keeps the invariants of ./types.ts:
 * - every input is a Uint8Array of exactly the algorithm's length before any
 *   library sees it (else KeyFormatError);
 * - a library exception on a right-length input (FIPS 203 modulus check of an
 *   encapsulation key, X25519 low-order point) becomes a KeyFormatError whose
 *   message names the field, never its bytes; the library error is dropped,
 *   not attached as `cause`, so no library message can carry key material;
 * - `secretKey` is the caller's seed copied once at keygen, so later changes
 *   to the seed buffer do not reach the key pair;
 * - every shared secret is 32 bytes.
 * Browser-safe: no node:* import.
 */
import { equalBytes } from '@noble/ciphers/utils.js';
import { randomBytes } from '../backend/random.js';
import { copyBytes } from '../bytes.js';
import { KeyFormatError } from '../errors.js';
import type { Encapsulation, Kem, KemAlgorithm, KemBackendName, KemKeyPair } from './types.js';

export interface KemSizes {
  readonly algorithm: KemAlgorithm;
  readonly publicKeyLength: number;
  readonly secretKeyLength: number;
  readonly ciphertextLength: number;
}

/** FIPS 203 table 3 (ML-KEM-768); secret key is the 64-byte seed d||z (section 7.1). */
export const ML_KEM_768: KemSizes = Object.freeze({
  algorithm: 'ML-KEM-768',
  publicKeyLength: 1184,
  secretKeyLength: 64,
  ciphertextLength: 1088,
});

/** draft-connolly-cfrg-xwing-kem section "Encoding and sizes": pk_M||pk_X, ct_M||ct_X, 32-byte seed. */
export const X_WING: KemSizes = Object.freeze({
  algorithm: 'X-Wing',
  publicKeyLength: 1184 + 32,
  secretKeyLength: 32,
  ciphertextLength: 1088 + 32,
});

export const SHARED_SECRET_LENGTH = 32;

/** Backend operations; every argument has already been length-checked. */
export interface KemCore {
  /** Public key of the key pair whose secret key is `secretKey` (the seed). */
  publicKey(secretKey: Uint8Array): Uint8Array;
  encapsulate(publicKey: Uint8Array): Encapsulation;
  decapsulate(ciphertext: Uint8Array, secretKey: Uint8Array): Uint8Array;
}

export function checkLength(bytes: unknown, length: number, what: string): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new KeyFormatError(`${what} must be a Uint8Array`);
  if (bytes.length !== length) throw new KeyFormatError(`${what} must be ${length} bytes, got ${bytes.length}`);
}

/** Runs `op`; any exception it throws becomes a KeyFormatError with `message` alone. */
function asKeyFormat<T>(message: string, op: () => T): T {
  try {
    return op();
  } catch {
    throw new KeyFormatError(message);
  }
}

export function checkedKem(sizes: KemSizes, backend: KemBackendName, core: KemCore): Kem {
  const { algorithm } = sizes;
  return Object.freeze({
    ...sizes,
    backend,
    keygen(seed?: Uint8Array): KemKeyPair {
      if (seed !== undefined) checkLength(seed, sizes.secretKeyLength, `${algorithm} seed`);
      const secretKey = seed === undefined ? randomBytes(sizes.secretKeyLength) : copyBytes(seed);
      return { publicKey: core.publicKey(secretKey), secretKey };
    },
    encapsulate(publicKey: Uint8Array): Encapsulation {
      checkLength(publicKey, sizes.publicKeyLength, `${algorithm} public key`);
      const result = asKeyFormat(`${algorithm} public key is not a valid encapsulation key`, () => core.encapsulate(publicKey));
      assertSharedSecret(result.sharedSecret);
      return result;
    },
    decapsulate(ciphertext: Uint8Array, secretKey: Uint8Array): Uint8Array {
      checkLength(ciphertext, sizes.ciphertextLength, `${algorithm} ciphertext`);
      checkLength(secretKey, sizes.secretKeyLength, `${algorithm} secret key`);
      const sharedSecret = asKeyFormat(`${algorithm} ciphertext is not valid for this key`, () => core.decapsulate(ciphertext, secretKey));
      assertSharedSecret(sharedSecret);
      return sharedSecret;
    },
  });
}

function assertSharedSecret(ss: Uint8Array): void {
  // A library returning anything else is a bug in this module, not bad input.
  if (ss.length !== SHARED_SECRET_LENGTH) throw new Error('KEM backend returned a shared secret of the wrong length');
}

/**
 * Per-secret-key cache of derived state (an imported KeyObject, an expanded
 * decapsulation key). Keyed by the identity of the secretKey array and held
 * weakly, so an entry lives exactly as long as the caller keeps the key and
 * never leaves memory. Each entry also holds a copy of the seed it was derived
 * from and is used only while the array still holds those bytes (compared in
 * constant time), so a caller that refills the same buffer with another seed
 * gets a fresh derivation, never a stale key.
 */
export class SecretKeyCache<T> {
  readonly #entries = new WeakMap<Uint8Array, { readonly seed: Uint8Array; readonly value: T }>();
  readonly #derive: (secretKey: Uint8Array) => T;

  constructor(derive: (secretKey: Uint8Array) => T) {
    this.#derive = derive;
  }

  get(secretKey: Uint8Array): T {
    const hit = this.#entries.get(secretKey);
    if (hit !== undefined && equalBytes(hit.seed, secretKey)) return hit.value;
    const value = this.#derive(secretKey);
    this.#entries.set(secretKey, { seed: copyBytes(secretKey), value });
    return value;
  }
}
