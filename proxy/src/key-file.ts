/**
 * Key files as `volly-pq keygen` writes them: JSON `{algorithm, publicKey,
 * secretKey?, ...}`, keys base64url, the secret key as its seed. One reader
 * for every consumer (server identity keys, v2 static KEM keys, the CLI's
 * bound keys); each wraps KeyFileError's message with its own context.
 * Messages name the field and what is wrong, never key bytes.
 */
import { readFileSync } from 'node:fs';
import { equalBytes, fromBase64Url, getKem, isKemAlgorithm, KEM_ALGORITHMS, type KemAlgorithm, type KemKeyPair } from '@volly/shared';

/** What is wrong with a key file (the caller adds the file name and setting). */
export class KeyFileError extends Error {
  readonly code = 'ERR_KEY_FILE';
}

/** The file's JSON object. */
export function readKeyFileJson(file: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new KeyFileError(code ? `cannot read (${code})` : 'not a JSON key file from volly-pq keygen');
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new KeyFileError('not a JSON key file from volly-pq keygen');
  return doc as Record<string, unknown>;
}

/** A KEM key from a key file: the public key, and the pair when the file holds the secret key. */
export interface KemKeyFromFile {
  readonly algorithm: KemAlgorithm;
  readonly publicKey: Uint8Array;
  readonly keyPair: KemKeyPair | undefined;
}

/** Checks a KEM key file's fields: algorithm, lengths, and that the public key is the seed's own. */
export function kemKeyOf(doc: Record<string, unknown>, needSecret: boolean): KemKeyFromFile {
  const { algorithm, publicKey, secretKey } = doc;
  if (typeof algorithm !== 'string' || !isKemAlgorithm(algorithm)) throw new KeyFileError(`"algorithm" must be one of ${KEM_ALGORITHMS.join(', ')}`);
  const kem = getKem(algorithm);
  const pk = typeof publicKey === 'string' ? fromBase64Url(publicKey) : null;
  if (!pk || pk.length !== kem.publicKeyLength) throw new KeyFileError(`"publicKey" is not a base64url ${algorithm} public key (${kem.publicKeyLength} bytes)`);
  if (secretKey === undefined) {
    if (needSecret) throw new KeyFileError('holds no "secretKey"; the key pair from volly-pq keygen is needed');
    return { algorithm, publicKey: pk, keyPair: undefined };
  }
  const seed = typeof secretKey === 'string' ? fromBase64Url(secretKey) : null;
  if (!seed || seed.length !== kem.secretKeyLength) throw new KeyFileError(`"secretKey" is not a base64url ${algorithm} seed (${kem.secretKeyLength} bytes)`);
  const keyPair = kem.keygen(seed);
  if (keyPair.secretKey !== seed) seed.fill(0);
  if (!equalBytes(keyPair.publicKey, pk)) {
    keyPair.secretKey.fill(0);
    throw new KeyFileError('"publicKey" is not the public key of "secretKey"');
  }
  return { algorithm, publicKey: pk, keyPair };
}
