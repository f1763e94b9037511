/**
 * One interface for every KEM backend. Invariants every implementation keeps:
 * - lengths of every input are checked before any library call, and a wrong
 *   length throws KeyFormatError (never a library exception);
 * - the shared secret is always 32 bytes;
 * - `secretKey` is the compact seed form (ML-KEM-768: d||z, 64 bytes;
 *   X-Wing: 32 bytes as in draft-connolly-cfrg-xwing-kem), so keys from one
 *   backend decapsulate in the other byte for byte.
 */
export const KEM_ALGORITHMS = ['ML-KEM-768', 'X-Wing'] as const;
export type KemAlgorithm = (typeof KEM_ALGORITHMS)[number];
export type KemBackendName = 'native' | 'noble';

export interface KemKeyPair {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

export interface Encapsulation {
  readonly ciphertext: Uint8Array;
  readonly sharedSecret: Uint8Array;
}

export interface Kem {
  readonly algorithm: KemAlgorithm;
  readonly backend: KemBackendName;
  readonly publicKeyLength: number;
  readonly secretKeyLength: number;
  readonly ciphertextLength: number;
  /** Fresh key pair; deterministic from `seed` (secretKeyLength bytes) when given. */
  keygen(seed?: Uint8Array): KemKeyPair;
  encapsulate(publicKey: Uint8Array): Encapsulation;
  decapsulate(ciphertext: Uint8Array, secretKey: Uint8Array): Uint8Array;
}
