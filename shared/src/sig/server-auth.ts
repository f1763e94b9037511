/**
 * Server authentication of volly-pq.v1 (docs/PROTOCOL.md, "Server
 * authentication"). The proxy signs the transcript hash of every successful
 * handshake with an ML-DSA-65 identity key; a client that pins the proxy's
 * public keys checks that signature before it decapsulates or seals anything:
 *
 *   signature = ML-DSA.Sign(sk, M = th, ctx = "volly-pq.v1 server-auth")
 *   i.e. over M' = 0x00 ‖ u8(23) ‖ "volly-pq.v1 server-auth" ‖ th   (FIPS 204, pure ML-DSA)
 *   key id    = SHA-256(public key)[0..8]
 *
 * th already binds the algorithm, the session id, the client's public key
 * and the KEM ciphertext, so a relay that terminates the client's handshake
 * with its own encapsulation has nothing it can present: a signature by a
 * pinned key over its transcript does not exist.
 * Browser-safe: no node:* import.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { copyBytes, equalBytes, fromBase64Url, fromHex, toBase64Url, toHex, utf8 } from '../bytes.js';
import { KeyFormatError, ServerAuthError } from '../errors.js';
import { protocolLabel } from '../protocol.js';
import { ML_DSA_65 } from './checked.js';
import type { SigAlgorithm, SigKeyPair, Signer } from './types.js';

/** The FIPS 204 context string of the server's transcript signature (23 ASCII bytes). */
export const SERVER_AUTH_CONTEXT: Uint8Array = utf8(protocolLabel('server-auth'));
/** Bytes of a key id on the wire: SHA-256(public key) truncated. */
export const SERVER_KEY_ID_LENGTH = 8;
/** The one algorithm of server identity keys. */
export const SERVER_KEY_ALGORITHM: SigAlgorithm = 'ML-DSA-65';

export const serverKeyId = (publicKey: Uint8Array): Uint8Array => sha256(publicKey).slice(0, SERVER_KEY_ID_LENGTH);

/** A server identity public key, ready to check signatures against. */
export interface ServerKey {
  readonly algorithm: SigAlgorithm;
  readonly publicKey: Uint8Array;
  readonly keyId: Uint8Array;
}

/** How a server key is published (admin `GET /server-keys`) and how a client may be given one. */
export interface ServerKeyJson {
  /** Hex of the 8-byte key id. */
  readonly keyId?: string;
  readonly algorithm?: string;
  /** Base64url (unpadded) of the public key. */
  readonly publicKey: string;
}

/** A pin as an app may hold it: the raw public key, its base64url, or the published JSON object. */
export type ServerKeyPin = Uint8Array | string | ServerKeyJson | ServerKey;

/** Normalizes one pin; a malformed one (wrong algorithm, length, encoding or key id) throws KeyFormatError. */
export function serverKey(pin: ServerKeyPin): ServerKey {
  let publicKey: Uint8Array | null;
  let algorithm: unknown = SERVER_KEY_ALGORITHM;
  let claimedId: Uint8Array | string | undefined;
  if (pin instanceof Uint8Array) publicKey = copyBytes(pin);
  else if (typeof pin === 'string') publicKey = fromBase64Url(pin);
  else if (pin && typeof pin === 'object') {
    ({ algorithm = SERVER_KEY_ALGORITHM, keyId: claimedId } = pin);
    publicKey = pin.publicKey instanceof Uint8Array ? copyBytes(pin.publicKey) : typeof pin.publicKey === 'string' ? fromBase64Url(pin.publicKey) : null;
  } else publicKey = null;
  if (algorithm !== SERVER_KEY_ALGORITHM) throw new KeyFormatError(`server key algorithm must be ${SERVER_KEY_ALGORITHM}`);
  if (!publicKey || publicKey.length !== ML_DSA_65.publicKeyLength) {
    throw new KeyFormatError(`server key must be a ${ML_DSA_65.publicKeyLength}-byte ${SERVER_KEY_ALGORITHM} public key (raw or base64url)`);
  }
  const keyId = serverKeyId(publicKey);
  if (claimedId !== undefined) {
    const claimed = typeof claimedId === 'string' ? safeHex(claimedId) : claimedId;
    if (!claimed || !equalBytes(claimed, keyId)) throw new KeyFormatError('server key id does not match its public key');
  }
  return { algorithm: SERVER_KEY_ALGORITHM, publicKey, keyId };
}

function safeHex(s: string): Uint8Array | null {
  try {
    return /^[0-9a-fA-F]*$/.test(s) ? fromHex(s) : null;
  } catch {
    return null;
  }
}

/** Normalizes a list of pins (duplicates dropped, order kept). */
export function serverKeys(pins: readonly ServerKeyPin[]): ServerKey[] {
  const out: ServerKey[] = [];
  for (const pin of pins) {
    const k = serverKey(pin);
    if (!out.some((o) => equalBytes(o.publicKey, k.publicKey))) out.push(k);
  }
  return out;
}

export const serverKeyJson = (k: ServerKey): Required<ServerKeyJson> => ({
  keyId: toHex(k.keyId),
  algorithm: k.algorithm,
  publicKey: toBase64Url(k.publicKey),
});

/** What the server side of a handshake needs: the key id it names, and a signature over th. */
export interface TranscriptSigner {
  readonly keyId: Uint8Array;
  sign(transcriptHash: Uint8Array): Uint8Array;
}

/** The server's signer from its identity key pair (seed form) and a signature backend. */
export function transcriptSigner(signer: Signer, keyPair: SigKeyPair): TranscriptSigner {
  const keyId = serverKeyId(keyPair.publicKey);
  return { keyId, sign: (th) => signer.sign(th, keyPair.secretKey, SERVER_AUTH_CONTEXT) };
}

/** What the client side needs: its pins (non-empty) and a signature backend to verify with. */
export interface ServerAuthCheck {
  readonly keys: readonly ServerKey[];
  readonly signer: Signer;
}

/**
 * Checks the response's key id and signature over `th` against the pins;
 * returns the pinned key that signed, else throws ServerAuthError:
 * ERR_SERVER_AUTH_MISSING (no key id or no signature), ERR_SERVER_AUTH_UNKNOWN_KEY
 * (key id of no pinned key), ERR_SERVER_AUTH_INVALID (the signature does not verify).
 */
export function verifyTranscript(check: ServerAuthCheck, th: Uint8Array, keyId: Uint8Array, signature: Uint8Array): ServerKey {
  if (keyId.length === 0 || signature.length === 0)
    throw new ServerAuthError('ERR_SERVER_AUTH_MISSING', 'server did not authenticate the handshake (no signature) while server keys are pinned');
  const key = check.keys.find((k) => equalBytes(k.keyId, keyId));
  if (!key)
    throw new ServerAuthError('ERR_SERVER_AUTH_UNKNOWN_KEY', `server signed with key ${toHex(keyId.subarray(0, SERVER_KEY_ID_LENGTH))}, which is not pinned`);
  if (!check.signer.verify(signature, th, key.publicKey, SERVER_AUTH_CONTEXT)) {
    throw new ServerAuthError('ERR_SERVER_AUTH_INVALID', `server signature by key ${toHex(key.keyId)} does not verify`);
  }
  return key;
}
