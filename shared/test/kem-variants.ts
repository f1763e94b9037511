/**
 * Every KEM implementation this runtime has, for the suites that must hold for
 * each: the backends getKem serves, plus the native X-Wing on node:crypto's
 * X25519 when the default native X-Wing runs on libsodium's (both ship: the
 * second serves where sodium-native does not load).
 */
import { getKem, kemBackends } from '../src/backend/node.js';
import { nativeXWing } from '../src/kem/native.js';
import type { Kem, KemAlgorithm, KemBackendName } from '../src/kem/types.js';
import { KEM_ALGORITHMS } from '../src/kem/types.js';
import { x25519 } from '../src/kem/x25519.js';

export interface KemVariant {
  readonly label: string;
  readonly algorithm: KemAlgorithm;
  readonly backend: KemBackendName;
  readonly kem: Kem;
}

export const defaultX25519 = (): string | undefined => (kemBackends().includes('native') ? x25519().name : undefined);

export function kemVariants(): KemVariant[] {
  const out: KemVariant[] = [];
  for (const backend of kemBackends()) {
    for (const algorithm of KEM_ALGORITHMS) {
      const x = backend === 'native' && algorithm === 'X-Wing' ? ` (X25519: ${defaultX25519()})` : '';
      out.push({ label: `${algorithm} ${backend}${x}`, algorithm, backend, kem: getKem(algorithm, backend) });
    }
  }
  if (defaultX25519() === 'libsodium') {
    out.push({ label: 'X-Wing native (X25519: node:crypto)', algorithm: 'X-Wing', backend: 'native', kem: nativeXWing('node:crypto') });
  }
  return out;
}
