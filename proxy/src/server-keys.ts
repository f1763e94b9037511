/**
 * The proxy's server identity keys (VOLLY_SERVER_KEYS, docs/PROTOCOL.md
 * "Server authentication"): ML-DSA-65 key files from
 * `volly-pq keygen --algorithm ML-DSA-65`. The first key signs the transcript
 * hash of every PQ handshake; every key is published on the admin listener
 * (`GET /server-keys`) for token servers to hand to clients as pins. Rotation:
 * publish the next key (listed second, its file may hold only the public key)
 * until clients pin it, then list it first.
 */
import {
  equalBytes,
  fromBase64Url,
  getSigner,
  SERVER_KEY_ALGORITHM,
  type ServerKey,
  type ServerKeyJson,
  serverKey,
  serverKeyJson,
  type TranscriptSigner,
  toHex,
  transcriptSigner,
} from '@volly/shared';
import { ServerKeyError } from './errors.js';
import { KeyFileError, readKeyFileJson } from './key-file.js';

/** One configured key: its public half, and (when its file holds the seed) a signer. The seed lives only inside `signer`. */
export interface ServerIdentity extends ServerKey {
  readonly file: string;
  readonly signer: TranscriptSigner | undefined;
}

export type { ServerKeyError };

/** Reads and checks one key file: algorithm, lengths, and that the public key is the seed's own. */
export function readServerKeyFile(file: string): ServerIdentity {
  const bad = (why: string) => new ServerKeyError(`${file}: ${why}`);
  let doc: Record<string, unknown>;
  try {
    doc = readKeyFileJson(file);
  } catch (err) {
    throw err instanceof KeyFileError ? bad(err.message) : err;
  }
  const { algorithm, publicKey, secretKey, keyId } = doc ?? {};
  if (algorithm !== SERVER_KEY_ALGORITHM) throw bad(`"algorithm" must be ${SERVER_KEY_ALGORITHM} (volly-pq keygen --algorithm ${SERVER_KEY_ALGORITHM})`);
  const signer = getSigner(SERVER_KEY_ALGORITHM);
  const pk = typeof publicKey === 'string' ? fromBase64Url(publicKey) : null;
  if (!pk || pk.length !== signer.publicKeyLength)
    throw bad(`"publicKey" is not a base64url ${SERVER_KEY_ALGORITHM} public key (${signer.publicKeyLength} bytes)`);
  const key = serverKey(pk);
  if (keyId !== undefined && keyId !== toHex(key.keyId)) throw bad('"keyId" is not the key id of "publicKey"');
  if (secretKey === undefined) return { ...key, file, signer: undefined };
  const seed = typeof secretKey === 'string' ? fromBase64Url(secretKey) : null;
  if (!seed || seed.length !== signer.secretKeyLength)
    throw bad(`"secretKey" is not a base64url ${SERVER_KEY_ALGORITHM} seed (${signer.secretKeyLength} bytes)`);
  const pair = signer.keygen(seed);
  seed.fill(0);
  if (!equalBytes(pair.publicKey, pk)) throw bad('"publicKey" is not the public key of "secretKey"');
  return { ...key, file, signer: transcriptSigner(signer, pair) };
}

/** A comma-separated list of key files: the first must hold its seed (it signs); no key twice. */
export function loadServerKeys(files: readonly string[]): ServerIdentity[] {
  if (files.length === 0) throw new ServerKeyError('expected at least one key file');
  const keys = files.map(readServerKeyFile);
  if (!keys[0]?.signer) throw new ServerKeyError(`${files[0]}: the first key signs, so its file must hold "secretKey"`);
  keys.forEach((k, i) => {
    if (keys.findIndex((o) => equalBytes(o.keyId, k.keyId)) !== i) throw new ServerKeyError(`${k.file}: the same key is listed twice`);
  });
  return keys;
}

/** What the admin listener publishes: every key, the signing one marked. */
export function publishedServerKeys(keys: readonly ServerIdentity[] | undefined): { keys: Array<Required<ServerKeyJson> & { signing: boolean }> } {
  return { keys: (keys ?? []).map((k, i) => ({ ...serverKeyJson(k), signing: i === 0 })) };
}
