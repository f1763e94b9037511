/**
 * The proxy's static KEM keys for volly-pq.v2 (docs/PROTOCOL.md, "Server
 * static keys"): X-Wing or ML-KEM-768 key files from
 * `volly-pq keygen --algorithm X-Wing|ML-KEM-768`, listed in
 * VOLLY_SERVER_KEYS beside the ML-DSA-65 identity keys. The first KEM key is
 * current (published first); every listed one still opens first flights, so
 * removing a key from the list is what retires it.
 *
 * A file may carry `notAfter` (Unix seconds): when clients must stop starting
 * sessions with the key. Without it the key is announced for a year from the
 * proxy's start, so a forgotten key still ages out of clients' choice.
 */
import { readFileSync } from 'node:fs';
import { equalBytes, fromBase64Url, getKem, isKemAlgorithm, KEM_ALGORITHMS, toBase64Url, v2 } from '@volly/shared';
import { ServerKeyError } from './errors.js';

/** How long a key without `notAfter` is announced for, from the proxy's start. */
const DEFAULT_LIFETIME_S = 365 * 24 * 3600;

/** One configured KEM key: the published half and the seed that opens first flights to it. */
export interface StaticKemKey extends v2.ServerKeyPair {
  readonly file: string;
}

function readJson(file: string): Record<string, unknown> {
  try {
    const doc: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (doc && typeof doc === 'object' && !Array.isArray(doc)) return doc as Record<string, unknown>;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code) throw new ServerKeyError(`${file}: cannot read (${code})`);
  }
  throw new ServerKeyError(`${file}: not a JSON key file from volly-pq keygen`);
}

/** True when the key file names a KEM algorithm (the rest of VOLLY_SERVER_KEYS is ML-DSA-65 identity keys). */
export function isKemKeyFile(file: string): boolean {
  const { algorithm } = readJson(file);
  return typeof algorithm === 'string' && isKemAlgorithm(algorithm);
}

/** Reads one KEM key file: algorithm, lengths, the secret seed present and matching the public key. */
export function readStaticKemKey(file: string, nowSeconds = Math.floor(Date.now() / 1000)): StaticKemKey {
  const bad = (why: string) => new ServerKeyError(`${file}: ${why}`);
  const { algorithm, publicKey, secretKey, notAfter } = readJson(file);
  if (typeof algorithm !== 'string' || !isKemAlgorithm(algorithm)) throw bad(`"algorithm" must be one of ${KEM_ALGORITHMS.join(', ')}`);
  const kem = getKem(algorithm);
  const pk = typeof publicKey === 'string' ? fromBase64Url(publicKey) : null;
  if (!pk || pk.length !== kem.publicKeyLength) throw bad(`"publicKey" is not a base64url ${algorithm} public key (${kem.publicKeyLength} bytes)`);
  // A v2 key opens first flights: without its secret half it is useless to the proxy.
  if (secretKey === undefined) throw bad(`a ${algorithm} key opens first flights, so its file must hold "secretKey"`);
  const seed = typeof secretKey === 'string' ? fromBase64Url(secretKey) : null;
  if (!seed || seed.length !== kem.secretKeyLength) throw bad(`"secretKey" is not a base64url ${algorithm} seed (${kem.secretKeyLength} bytes)`);
  if (notAfter !== undefined && (!Number.isSafeInteger(notAfter) || (notAfter as number) <= 0))
    throw bad('"notAfter" must be a positive integer (Unix seconds)');
  const pair = kem.keygen(seed);
  if (!equalBytes(pair.publicKey, pk)) {
    seed.fill(0);
    throw bad('"publicKey" is not the public key of "secretKey"');
  }
  if (pair.secretKey !== seed) seed.fill(0);
  const key = v2.staticKey(algorithm, pk, (notAfter as number | undefined) ?? nowSeconds + DEFAULT_LIFETIME_S);
  return { file, key, secretKey: pair.secretKey };
}

/** The KEM key files in list order (the first is current); no key twice. */
export function loadStaticKemKeys(files: readonly string[]): StaticKemKey[] {
  const keys = files.map((f) => readStaticKemKey(f));
  keys.forEach((k, i) => {
    if (keys.findIndex((o) => equalBytes(o.key.id, k.key.id)) !== i) throw new ServerKeyError(`${k.file}: the same key is listed twice`);
  });
  return keys;
}

/** For logs: the key ids (public), never key bytes. */
export const keyIds = (keys: readonly StaticKemKey[]): string[] => keys.map((k) => `${k.key.algorithm}:${toBase64Url(k.key.id)}`);
