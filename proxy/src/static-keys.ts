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
import { equalBytes, isKemAlgorithm, toBase64Url, v2 } from '@volly/shared';
import { ServerKeyError } from './errors.js';
import { KeyFileError, kemKeyOf, readKeyFileJson } from './key-file.js';

/** How long a key without `notAfter` is announced for, from the proxy's start. */
const DEFAULT_LIFETIME_S = 365 * 24 * 3600;

/** One configured KEM key: the published half and the seed that opens first flights to it. */
export interface StaticKemKey extends v2.ServerKeyPair {
  readonly file: string;
}

/** The file's JSON, errors named with the file. */
function readJson(file: string): Record<string, unknown> {
  try {
    return readKeyFileJson(file);
  } catch (err) {
    throw err instanceof KeyFileError ? new ServerKeyError(`${file}: ${err.message}`) : err;
  }
}

/** True when the key file names a KEM algorithm (the rest of VOLLY_SERVER_KEYS is ML-DSA-65 identity keys). */
export function isKemKeyFile(file: string): boolean {
  const { algorithm } = readJson(file);
  return typeof algorithm === 'string' && isKemAlgorithm(algorithm);
}

/** Reads one KEM key file: algorithm, lengths, the secret seed present and matching the public key. */
export function readStaticKemKey(file: string, nowSeconds = Math.floor(Date.now() / 1000)): StaticKemKey {
  const bad = (why: string) => new ServerKeyError(`${file}: ${why}`);
  const doc = readJson(file);
  const { notAfter } = doc;
  if (doc.secretKey === undefined && isKemAlgorithm(String(doc.algorithm)))
    // A v2 key opens first flights: without its secret half it is useless to the proxy.
    throw bad(`a ${String(doc.algorithm)} key opens first flights, so its file must hold "secretKey"`);
  if (notAfter !== undefined && (!Number.isSafeInteger(notAfter) || (notAfter as number) <= 0))
    throw bad('"notAfter" must be a positive integer (Unix seconds)');
  let kem: ReturnType<typeof kemKeyOf>;
  try {
    kem = kemKeyOf(doc, true);
  } catch (err) {
    throw err instanceof KeyFileError ? bad(err.message) : err;
  }
  const { algorithm, publicKey: pk } = kem;
  const pair = kem.keyPair as NonNullable<typeof kem.keyPair>;
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
