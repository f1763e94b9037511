/**
 * The volly-pq.v2 parts of the settings (config.ts wraps their errors with the
 * setting's name): which wire protocols are served, and the split of
 * VOLLY_SERVER_KEYS into ML-DSA-65 identity keys (v1) and KEM static keys (v2).
 */
import type { KemAlgorithm } from '@volly/shared';
import { loadServerKeys, type ServerIdentity } from './server-keys.js';
import { isKemKeyFile, loadStaticKemKeys, type StaticKemKey } from './static-keys.js';

export const PROTOCOLS = ['v1', 'v2'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** VOLLY_PROTOCOLS: v1 and/or v2, comma-separated. Asked for explicitly, v2 needs a KEM key to open first flights with. */
export function parseProtocols(names: readonly string[], explicit: boolean, hasKemKeys: boolean): Protocol[] {
  for (const p of names)
    if (!(PROTOCOLS as readonly string[]).includes(p)) throw new Error(`unknown protocol "${p.slice(0, 32)}" (known: ${PROTOCOLS.join(', ')})`);
  if (names.length === 0) throw new Error('at least one protocol is required');
  if (new Set(names).size !== names.length) throw new Error('a protocol is listed twice');
  if (explicit && names.includes('v2') && !hasKemKeys)
    throw new Error('v2 needs an X-Wing or ML-KEM-768 key in VOLLY_SERVER_KEYS (volly-pq keygen --algorithm X-Wing)');
  return names as Protocol[];
}

/**
 * The key files of VOLLY_SERVER_KEYS, each read and checked now, so a bad one
 * stops the proxy before it listens: ML-DSA-65 identity keys (v1) and KEM
 * static keys (v2), each kind in list order. A KEM key must be of an allowed
 * algorithm (VOLLY_PQ_ALGORITHMS): the proxy would refuse every flight to it.
 */
export function loadKeyFiles(files: readonly string[], allowed: readonly KemAlgorithm[]): { serverKeys?: ServerIdentity[]; staticKeys?: StaticKemKey[] } {
  const kem = files.filter(isKemKeyFile);
  const identity = files.filter((f) => !kem.includes(f));
  const staticKeys = kem.length > 0 ? loadStaticKemKeys(kem) : undefined;
  const refused = staticKeys?.find((k) => !allowed.includes(k.key.algorithm));
  if (refused) throw new Error(`${refused.file}: ${refused.key.algorithm} is not in VOLLY_PQ_ALGORITHMS`);
  return {
    ...(identity.length > 0 || kem.length === 0 ? { serverKeys: loadServerKeys(identity) } : {}),
    ...(staticKeys ? { staticKeys } : {}),
  };
}
