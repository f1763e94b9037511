// A KEM key file as `volly-pq keygen --algorithm A --out FILE` writes it
// (algorithm, base64url public key and seed, mode 0600), in a temporary
// directory the harness removes at exit: the proxy's VOLLY_SERVER_KEYS, or
// the key a tunnel holds for a bound token.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getKem, type KemAlgorithm, type KemKeyPair, toBase64Url } from '@volly/shared';
import { makeTempDir } from './process.ts';

/** Writes a key file for `pair` (default: a fresh key pair of `algorithm`) and returns its path. */
export function kemKeyFile(algorithm: KemAlgorithm = 'X-Wing', pair: KemKeyPair = getKem(algorithm).keygen()): string {
  const file = join(makeTempDir('kem-key'), `${algorithm.toLowerCase()}.json`);
  writeFileSync(file, JSON.stringify({ algorithm, publicKey: toBase64Url(pair.publicKey), secretKey: toBase64Url(pair.secretKey) }), { mode: 0o600 });
  return file;
}
