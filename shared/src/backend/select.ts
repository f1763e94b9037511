/**
 * Backend choice, shared by ./node.ts and ./browser.ts so both answer the same
 * way: each passes the backends its runtime has, most preferred first
 * (object insertion order). No argument means the first; a named backend the
 * runtime lacks throws BackendUnavailableError; an algorithm that is not one of
 * KEM_ALGORITHMS (SIG_ALGORITHMS) throws AlgorithmError. Browser-safe: no node:* import.
 */
import type { Aead, AeadBackendName } from '../aead/types.js';
import { AlgorithmError, BackendUnavailableError } from '../errors.js';
import { KEM_ALGORITHMS, type Kem, type KemAlgorithm, type KemBackendName } from '../kem/types.js';
import { SIG_ALGORITHMS, type SigAlgorithm, type SigBackendName, type Signer } from '../sig/types.js';

export type KemTable = Partial<Record<KemBackendName, Readonly<Record<KemAlgorithm, Kem>>>>;
export type AeadTable = Partial<Record<AeadBackendName, Aead>>;
export type SigTable = Partial<Record<SigBackendName, Readonly<Record<SigAlgorithm, Signer>>>>;

/** Names come from config and from the wire: quote, cap and escape them before they reach a message. */
const shown = (name: unknown): string => JSON.stringify(String(name).slice(0, 40));

function pick<T>(table: Partial<Record<string, T>>, backend: string | undefined, what: string): T {
  const name = backend ?? Object.keys(table)[0];
  const found = name === undefined ? undefined : table[name];
  if (found === undefined) throw new BackendUnavailableError(`${what} backend ${shown(backend)} is not available in this runtime`);
  return found;
}

export function selectKem(table: KemTable, algorithm: KemAlgorithm, backend?: KemBackendName): Kem {
  if (!(KEM_ALGORITHMS as readonly unknown[]).includes(algorithm)) throw new AlgorithmError(`unsupported KEM algorithm ${shown(algorithm)}`);
  return pick(table, backend, 'KEM')[algorithm];
}

export function selectSigner(table: SigTable, algorithm: SigAlgorithm, backend?: SigBackendName): Signer {
  if (!(SIG_ALGORITHMS as readonly unknown[]).includes(algorithm)) throw new AlgorithmError(`unsupported signature algorithm ${shown(algorithm)}`);
  return pick(table, backend, 'signature')[algorithm];
}

export function selectAead(table: AeadTable, backend?: AeadBackendName): Aead {
  return pick(table, backend, 'AEAD');
}
