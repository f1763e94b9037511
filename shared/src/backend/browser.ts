/**
 * Crypto backends for browsers (and any bundle built for them): pure JS only,
 * noble for both KEMs and the AEAD. Imports nothing from node:* nor
 * sodium-native, so esbuild bundles it for the browser platform.
 */
import { nobleAead } from '../aead/noble.js';
import type { Aead, AeadBackendName } from '../aead/types.js';
import { nobleMlKem768, nobleXWing } from '../kem/noble.js';
import type { Kem, KemAlgorithm, KemBackendName } from '../kem/types.js';
import { type AeadTable, type KemTable, selectAead, selectKem } from './select.js';

export { randomBytes } from './random.js';

const kems: KemTable = { noble: { 'ML-KEM-768': nobleMlKem768, 'X-Wing': nobleXWing } };
const aeads: AeadTable = { noble: nobleAead };

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
