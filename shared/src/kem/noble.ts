/**
 * Pure-JS KEMs from @noble/post-quantum: runs in browsers and on any Node.
 * - ML-KEM-768 is `ml_kem768` (FIPS 203). Our secret key is the 64-byte seed
 *   d||z; noble's own secret key is the 2400-byte expanded form, derived from
 *   the seed by `keygen(seed)` and cached per secret key.
 * - X-Wing is `ml_kem768_x25519`, noble's build of draft-connolly-cfrg-xwing-kem
 *   (SHAKE256 seed expansion, SHA3-256 combiner with label `\.//^\`); its secret
 *   key already is the 32-byte seed. Checked against the draft's vectors in
 *   shared/test/kem-kat.test.ts.
 * Browser-safe: no node:* import.
 */
import { ml_kem768_x25519 } from '@noble/post-quantum/hybrid.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { checkedKem, type KemCore, ML_KEM_768, SecretKeyCache, X_WING } from './checked.js';
import type { Kem } from './types.js';

// Key pair expanded from a seed; the cache keeps it only while the caller keeps the seed.
const expanded = new SecretKeyCache((seed: Uint8Array) => ml_kem768.keygen(seed));

const mlKemCore: KemCore = {
  publicKey: (seed) => expanded.get(seed).publicKey.slice(),
  encapsulate(publicKey) {
    const { cipherText, sharedSecret } = ml_kem768.encapsulate(publicKey);
    return { ciphertext: cipherText, sharedSecret };
  },
  decapsulate: (ciphertext, seed) => ml_kem768.decapsulate(ciphertext, expanded.get(seed).secretKey),
};

const xWingCore: KemCore = {
  publicKey: (seed) => ml_kem768_x25519.getPublicKey(seed),
  encapsulate(publicKey) {
    const { cipherText, sharedSecret } = ml_kem768_x25519.encapsulate(publicKey);
    return { ciphertext: cipherText, sharedSecret };
  },
  decapsulate: (ciphertext, seed) => ml_kem768_x25519.decapsulate(ciphertext, seed),
};

export const nobleMlKem768: Kem = checkedKem(ML_KEM_768, 'noble', mlKemCore);
export const nobleXWing: Kem = checkedKem(X_WING, 'noble', xWingCore);
