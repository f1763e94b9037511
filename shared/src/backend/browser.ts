/**
 * Crypto backends for browsers (and any bundle built for them): pure JS only,
 * noble for both KEMs, ML-DSA-65 and the AEAD. Imports nothing from node:* nor
 * sodium-native, so esbuild bundles it for the browser platform.
 */
import { nobleAead } from '../aead/noble.js';
import type { Aead, AeadBackendName } from '../aead/types.js';
import { nobleMlKem768, nobleXWing } from '../kem/noble.js';
import type { Kem, KemAlgorithm, KemBackendName } from '../kem/types.js';
import { nobleMlDsa65 } from '../sig/noble.js';
import type { SigAlgorithm, SigBackendName, Signer } from '../sig/types.js';
import { type AeadTable, type KemTable, type SigTable, selectAead, selectKem, selectSigner } from './select.js';

export { randomBytes } from './random.js';

const kems: KemTable = { noble: { 'ML-KEM-768': nobleMlKem768, 'X-Wing': nobleXWing } };
const aeads: AeadTable = { noble: nobleAead };
const signers: SigTable = { noble: { 'ML-DSA-65': nobleMlDsa65 } };

export function getKem(algorithm: KemAlgorithm, backend?: KemBackendName): Kem {
  return selectKem(kems, algorithm, backend);
}

export function getAead(backend?: AeadBackendName): Aead {
  return selectAead(aeads, backend);
}

export function kemBackends(): KemBackendName[] {
  return ['noble'];
}

export function aeadBackends(): AeadBackendName[] {
  return ['noble'];
}

export function getSigner(algorithm: SigAlgorithm, backend?: SigBackendName): Signer {
  return selectSigner(signers, algorithm, backend);
}

export function sigBackends(): SigBackendName[] {
  return ['noble'];
}
