/**
 * One interface for every signature backend, as ../kem/types.ts is for KEMs.
 * Invariants every implementation keeps:
 * - `secretKey` is the compact seed form (ML-DSA-65: the 32-byte seed ξ of
 *   FIPS 204 ML-DSA.KeyGen_internal), so keys from one backend sign in the
 *   other and both derive the same public key byte for byte;
 * - `sign` is FIPS 204 ML-DSA.Sign (pure, hedged: fresh randomness per
 *   signature) with the given context string; `verify` is ML-DSA.Verify;
 * - a public key, seed or context of the wrong length or form throws
 *   KeyFormatError before any library call; a signature that is malformed in
 *   any way (length, encoding, value) makes `verify` return false, never throw.
 */
export const SIG_ALGORITHMS = ['ML-DSA-65'] as const;
export type SigAlgorithm = (typeof SIG_ALGORITHMS)[number];
export type SigBackendName = 'native' | 'noble';

/** FIPS 204: a context string is at most 255 bytes. */
export const MAX_CONTEXT_BYTES = 255;

export interface SigKeyPair {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

export interface Signer {
  readonly algorithm: SigAlgorithm;
  readonly backend: SigBackendName;
  readonly publicKeyLength: number;
  readonly secretKeyLength: number;
  readonly signatureLength: number;
  /** Fresh key pair; deterministic from `seed` (secretKeyLength bytes) when given. */
  keygen(seed?: Uint8Array): SigKeyPair;
  /** ML-DSA.Sign(sk, message, context), hedged. `context` defaults to empty. */
  sign(message: Uint8Array, secretKey: Uint8Array, context?: Uint8Array): Uint8Array;
  /** ML-DSA.Verify(pk, message, signature, context). */
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array, context?: Uint8Array): boolean;
}
