/**
 * Pure-JS ML-DSA-65 from @noble/post-quantum (`ml_dsa65`, FIPS 204): runs in
 * browsers and on any Node. Our secret key is the 32-byte seed ξ; noble's own
 * secret key is the 4032-byte expanded form, derived by `keygen(seed)` and
 * cached per secret key. Signing is hedged (noble draws the 32-byte rnd).
 * Browser-safe: no node:* import.
 */
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { SecretKeyCache } from '../kem/checked.js';
import { checkedSigner, ML_DSA_65, type SigCore } from './checked.js';
import type { Signer } from './types.js';

const expanded = new SecretKeyCache((seed: Uint8Array) => ml_dsa65.keygen(seed));

const mlDsa65Core: SigCore = {
  publicKey: (seed) => expanded.get(seed).publicKey.slice(),
  sign: (message, seed, context) => ml_dsa65.sign(message, expanded.get(seed).secretKey, { context }),
  verify: (signature, message, publicKey, context) => ml_dsa65.verify(signature, message, publicKey, { context }),
};

export const nobleMlDsa65: Signer = checkedSigner(ML_DSA_65, 'noble', mlDsa65Core);
