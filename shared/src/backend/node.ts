/**
 * Crypto backends for Node. KEM and signature (ML-DSA-65): native
 * (node:crypto, Node >= 24) preferred, noble (pure JS) everywhere. AEAD: sodium (sodium-native, optional
 * dependency) preferred, noble everywhere. Availability is probed once, on
 * first use, never at import.
 */
import { nobleAead } from '../aead/noble.js';
import { loadSodiumAead } from '../aead/sodium.js';
import type { Aead, AeadBackendName } from '../aead/types.js';
import { nativeKemAvailable, nativeKems } from '../kem/native.js';
import { nobleMlKem768, nobleXWing } from '../kem/noble.js';
import type { Kem, KemAlgorithm, KemBackendName } from '../kem/types.js';
import { nativeSigAvailable, nativeSigners } from '../sig/native.js';
import { nobleMlDsa65 } from '../sig/noble.js';
import type { SigAlgorithm, SigBackendName, Signer } from '../sig/types.js';
import { type AeadTable, type KemTable, type SigTable, selectAead, selectKem, selectSigner } from './select.js';

export { randomBytes } from './random.js';

let kems: KemTable | undefined;
let aeads: AeadTable | undefined;
let signers: SigTable | undefined;

function kemTable(): KemTable {
  if (kems === undefined) {
    const noble = { 'ML-KEM-768': nobleMlKem768, 'X-Wing': nobleXWing };
    if (nativeKemAvailable()) {
      const { mlKem768, xWing } = nativeKems();
      kems = { native: { 'ML-KEM-768': mlKem768, 'X-Wing': xWing }, noble };
    } else {
      kems = { noble };
    }
  }
  return kems;
}

function sigTable(): SigTable {
  if (signers === undefined) {
    const noble = { 'ML-DSA-65': nobleMlDsa65 };
    signers = nativeSigAvailable() ? { native: { 'ML-DSA-65': nativeSigners().mlDsa65 }, noble } : { noble };
  }
  return signers;
}

function aeadTable(): AeadTable {
  if (aeads === undefined) {
    const sodium = loadSodiumAead();
    aeads = sodium === undefined ? { noble: nobleAead } : { sodium, noble: nobleAead };
  }
  return aeads;
}

export function getKem(algorithm: KemAlgorithm, backend?: KemBackendName): Kem {
  return selectKem(kemTable(), algorithm, backend);
}

export function getAead(backend?: AeadBackendName): Aead {
  return selectAead(aeadTable(), backend);
}

export function kemBackends(): KemBackendName[] {
  return Object.keys(kemTable()) as KemBackendName[];
}

export function aeadBackends(): AeadBackendName[] {
  return Object.keys(aeadTable()) as AeadBackendName[];
}

export function getSigner(algorithm: SigAlgorithm, backend?: SigBackendName): Signer {
  return selectSigner(sigTable(), algorithm, backend);
}

export function sigBackends(): SigBackendName[] {
  return Object.keys(sigTable()) as SigBackendName[];
}
