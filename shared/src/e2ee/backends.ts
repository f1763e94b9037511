/**
 * The crypto a volly-e2ee.v1 party needs, injected so one implementation runs
 * on both backends: ../index.ts binds node:crypto / sodium (noble fallback),
 * ../browser.ts binds noble only.
 */
import type { Aead } from '../aead/types.js';
import type { Kem, KemAlgorithm } from '../kem/types.js';
import type { SigAlgorithm, Signer } from '../sig/types.js';

export interface E2eeBackends {
  getKem(algorithm: KemAlgorithm): Kem;
  getSigner(algorithm: SigAlgorithm): Signer;
  readonly aead: Aead;
  randomBytes(n: number): Uint8Array;
}

export const mlDsa65 = (b: E2eeBackends): Signer => b.getSigner('ML-DSA-65');
