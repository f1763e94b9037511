/**
 * KEMs on node:crypto (OpenSSL 3.5, Node >= 24).
 * - ML-KEM-768 is OpenSSL's: keys import from the 64-byte seed d||z
 *   ('raw-seed'), so they are the same keys @noble/post-quantum derives.
 * - X-Wing is composed here, step by step as draft-connolly-cfrg-xwing-kem-10
 *   section "X-Wing Construction" writes it, from vetted primitives only:
 *   node:crypto's ML-KEM-768, SHAKE256 and SHA3-256, and X25519 from
 *   libsodium where sodium-native loads, else node:crypto (./x25519.ts).
 *   No primitive is implemented here.
 * Every function returns plain Uint8Arrays; node Buffers that held secrets are
 * zeroed once copied out. Imported private keys are cached per secret key
 * (SecretKeyCache): they live in memory only, as long as the caller keeps the key.
 * Node 20 lacks all of this: `nativeKemAvailable()` says so without throwing,
 * and the namespace import below never names a missing export at link time.
 */
import * as nodeCrypto from 'node:crypto';
import { checkedKem, type KemCore, ML_KEM_768, SecretKeyCache, X_WING } from './checked.js';
import { asBuffer, importPublic, rawPublic, takeSecret } from './node-keys.js';
import type { Kem } from './types.js';
import { type X25519, x25519 } from './x25519.js';

type KeyObject = nodeCrypto.KeyObject;

let available: boolean | undefined;

/** Whether this runtime has every primitive both native KEMs need. Probed once. */
export function nativeKemAvailable(): boolean {
  available ??= probe();
  return available;
}

function probe(): boolean {
  if (typeof nodeCrypto.encapsulate !== 'function' || typeof nodeCrypto.decapsulate !== 'function') return false;
  try {
    mlKemPrivateKey(new Uint8Array(ML_KEM_768.secretKeyLength));
    x25519('node:crypto').privateKey(new Uint8Array(32));
    nodeCrypto.createHash('shake256', { outputLength: 1 });
    nodeCrypto.createHash('sha3-256');
    return true;
  } catch {
    return false;
  }
}

// ---- ML-KEM-768 (FIPS 203) ----

function mlKemPrivateKey(seed: Uint8Array): KeyObject {
  return nodeCrypto.createPrivateKey({ key: asBuffer(seed), format: 'raw-seed', asymmetricKeyType: 'ml-kem-768' });
}

/** Encapsulate to a raw 1184-byte key; OpenSSL's import runs the FIPS 203 modulus check. */
function mlKemEncapsulate(publicKey: Uint8Array): { ciphertext: Uint8Array; sharedSecret: Uint8Array } {
  const { ciphertext, sharedKey } = nodeCrypto.encapsulate(importPublic(publicKey, 'ml-kem-768'));
  return { ciphertext: new Uint8Array(ciphertext), sharedSecret: takeSecret(sharedKey) };
}

const mlKemKeys = new SecretKeyCache(mlKemPrivateKey);

const mlKemCore: KemCore = {
  publicKey: (seed) => rawPublic(mlKemKeys.get(seed)),
  encapsulate: mlKemEncapsulate,
  decapsulate: (ciphertext, seed) => takeSecret(nodeCrypto.decapsulate(mlKemKeys.get(seed), ciphertext)),
};

// ---- X-Wing (draft-connolly-cfrg-xwing-kem-10) ----

const ML_KEM_PK = ML_KEM_768.publicKeyLength; // pk = pk_M (1184) || pk_X (32)
const ML_KEM_CT = ML_KEM_768.ciphertextLength; // ct = ct_M (1088) || ct_X (32)
/** XWingLabel, the 6 ASCII bytes `\.//^\` (hex 5c2e2f2f5e5c). */
const XWING_LABEL = Uint8Array.of(0x5c, 0x2e, 0x2f, 0x2f, 0x5e, 0x5c);

interface XWingKeys {
  readonly mlKem: KeyObject; // from d||z = expanded[0:64]
  readonly skX: unknown; // sk_X = expanded[64:96], held by the X25519 backend
  readonly pkX: Uint8Array;
}

/** Combiner: SHA3-256(ss_M || ss_X || ct_X || pk_X || XWingLabel); zeroes both component secrets. */
function combine(ssM: Uint8Array, ssX: Uint8Array, ctX: Uint8Array, pkX: Uint8Array): Uint8Array {
  const hash = nodeCrypto.createHash('sha3-256').update(ssM).update(ssX).update(ctX).update(pkX).update(XWING_LABEL);
  ssM.fill(0);
  ssX.fill(0);
  return takeSecret(hash.digest());
}

function xWingCore(x: X25519<unknown>): KemCore {
  /** expandDecapsulationKey(sk): expanded = SHAKE256(sk, 96 bytes) -> ML-KEM seed d||z, X25519 secret sk_X. */
  const expand = (seed: Uint8Array): XWingKeys => {
    const expanded = nodeCrypto.createHash('shake256', { outputLength: 96 }).update(seed).digest();
    try {
      const skX = x.privateKey(expanded.subarray(64, 96));
      return { mlKem: mlKemPrivateKey(expanded.subarray(0, 64)), skX, pkX: x.publicKey(skX) };
    } finally {
      expanded.fill(0);
    }
  };
  const keys = new SecretKeyCache(expand);
  return {
    publicKey(seed) {
      const { mlKem, pkX } = keys.get(seed);
      const publicKey = new Uint8Array(X_WING.publicKeyLength);
      publicKey.set(rawPublic(mlKem), 0);
      publicKey.set(pkX, ML_KEM_PK);
      return publicKey;
    },
    encapsulate(publicKey) {
      const pkX = publicKey.subarray(ML_KEM_PK);
      const m = mlKemEncapsulate(publicKey.subarray(0, ML_KEM_PK));
      // ek_X is a fresh random X25519 secret; ct_X = X25519(ek_X, base point) is its public key.
      const ephemeral = x.ephemeral();
      const ctX = ephemeral.publicKey;
      let ssX: Uint8Array;
      try {
        ssX = x.dh(ephemeral.sk, pkX);
      } catch (error) {
        m.sharedSecret.fill(0);
        throw error;
      } finally {
        x.wipe(ephemeral.sk);
      }
      const ciphertext = new Uint8Array(X_WING.ciphertextLength);
      ciphertext.set(m.ciphertext, 0);
      ciphertext.set(ctX, ML_KEM_CT);
      return { ciphertext, sharedSecret: combine(m.sharedSecret, ssX, ctX, pkX) };
    },
    decapsulate(ciphertext, seed) {
      const k = keys.get(seed);
      const ctX = ciphertext.subarray(ML_KEM_CT);
      const ssX = x.dh(k.skX, ctX); // first: it is the step that can fail
      const ssM = takeSecret(nodeCrypto.decapsulate(k.mlKem, ciphertext.subarray(0, ML_KEM_CT)));
      return combine(ssM, ssX, ctX, k.pkX);
    },
  };
}

let kems: { mlKem768: Kem; xWing: Kem } | undefined;

/** The native KEMs; call only when nativeKemAvailable(). */
export function nativeKems(): { mlKem768: Kem; xWing: Kem } {
  kems ??= {
    mlKem768: checkedKem(ML_KEM_768, 'native', mlKemCore),
    xWing: nativeXWing(),
  };
  return kems;
}

/** The native X-Wing on the preferred X25519 (libsodium where it loads), or on the one named (tests run the vectors on both). */
export function nativeXWing(x25519Backend?: 'libsodium' | 'node:crypto'): Kem {
  return checkedKem(X_WING, 'native', xWingCore(x25519(x25519Backend)));
}
