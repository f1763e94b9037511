/**
 * ML-DSA-65 on node:crypto (OpenSSL 3.5, Node >= 24): keys import from the
 * 32-byte seed ξ ('raw-seed'), so they are the keys @noble/post-quantum
 * derives from the same seed; `crypto.sign(null, m, {key, context})` is
 * FIPS 204 ML-DSA.Sign (hedged) with the context string, `crypto.verify` its
 * counterpart. Imported keys are cached per key array (SecretKeyCache): the
 * proxy signs every handshake with one key, a client verifies against a
 * handful of pins. Node 20 lacks ML-DSA: `nativeSigAvailable()` says so
 * without throwing.
 */
import * as nodeCrypto from 'node:crypto';
import { SecretKeyCache } from '../kem/checked.js';
import { checkedSigner, ML_DSA_65, type SigCore } from './checked.js';
import type { Signer } from './types.js';

type KeyObject = nodeCrypto.KeyObject;

const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

const privateKey = (seed: Uint8Array): KeyObject => nodeCrypto.createPrivateKey({ key: asBuffer(seed), format: 'raw-seed', asymmetricKeyType: 'ml-dsa-65' });
const publicKey = (raw: Uint8Array): KeyObject => nodeCrypto.createPublicKey({ key: asBuffer(raw), format: 'raw-public', asymmetricKeyType: 'ml-dsa-65' });

let available: boolean | undefined;

/** Whether this runtime signs and verifies ML-DSA-65 with a context string. Probed once. */
export function nativeSigAvailable(): boolean {
  available ??= probe();
  return available;
}

function probe(): boolean {
  try {
    const key = privateKey(new Uint8Array(ML_DSA_65.secretKeyLength));
    const context = Uint8Array.of(1);
    const message = Uint8Array.of(2);
    const signature = nodeCrypto.sign(null, message, { key, context });
    return nodeCrypto.verify(null, message, { key: nodeCrypto.createPublicKey(key), context }, signature);
  } catch {
    return false;
  }
}

const privateKeys = new SecretKeyCache(privateKey);
const publicKeys = new SecretKeyCache(publicKey);

const mlDsa65Core: SigCore = {
  publicKey: (seed) => new Uint8Array(nodeCrypto.createPublicKey(privateKeys.get(seed)).export({ format: 'raw-public' })),
  sign: (message, seed, context) => new Uint8Array(nodeCrypto.sign(null, message, { key: privateKeys.get(seed), context })),
  verify: (signature, message, pk, context) => nodeCrypto.verify(null, message, { key: publicKeys.get(pk), context }, signature),
};

let signers: { mlDsa65: Signer } | undefined;

/** The native signers; call only when nativeSigAvailable(). */
export function nativeSigners(): { mlDsa65: Signer } {
  signers ??= { mlDsa65: checkedSigner(ML_DSA_65, 'native', mlDsa65Core) };
  return signers;
}
