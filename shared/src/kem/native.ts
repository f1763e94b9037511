/**
 * KEMs on node:crypto (OpenSSL 3.5, Node >= 24).
 * - ML-KEM-768 is OpenSSL's: keys import from the 64-byte seed d||z
 *   ('raw-seed'), so they are the same keys @noble/post-quantum derives.
 * - X-Wing is composed here, step by step as draft-connolly-cfrg-xwing-kem-10
 *   section "X-Wing Construction" writes it, from node:crypto primitives only
 *   (ML-KEM-768, X25519, SHAKE256, SHA3-256). No primitive is implemented here.
 * Every function returns plain Uint8Arrays; node Buffers that held secrets are
 * zeroed once copied out. Imported private keys are cached per secret key
 * (SecretKeyCache): they live in memory only, as long as the caller keeps the key.
 * Node 20 lacks all of this: `nativeKemAvailable()` says so without throwing,
 * and the namespace import below never names a missing export at link time.
 */
import * as nodeCrypto from 'node:crypto';
import { checkedKem, type KemCore, ML_KEM_768, SecretKeyCache, X_WING } from './checked.js';
import type { Kem } from './types.js';

type KeyObject = nodeCrypto.KeyObject;

/** Zero-copy Buffer view of a Uint8Array (node:crypto raw key inputs are typed as Buffer). */
const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** Copies a secret out of a node Buffer into a plain Uint8Array and zeroes the Buffer. */
function takeSecret(buf: Buffer): Uint8Array {
  const out = new Uint8Array(buf);
  buf.fill(0);
  return out;
}

/** Whether Error.stackTraceLimit may be set (not under --frozen-intrinsics). */
const stackLimitWritable = Object.getOwnPropertyDescriptor(Error, 'stackTraceLimit')?.writable === true;

/**
 * Imports a public key from raw bytes. Node 24's createPublicKey first asks
 * isKeyObject / isCryptoKey of both the options object and the bytes, and
 * each probe answers "no" by throwing and catching an error: four stack
 * traces captured per import, ~40% of its cost (shared/bench/handshake-stages.mjs).
 * With the stack limit at 0 for this one synchronous call those errors are
 * cheap; an import that really fails loses only a stack that checkedKem
 * drops anyway (it throws its own KeyFormatError).
 */
function importPublic(key: Uint8Array, asymmetricKeyType: 'ml-kem-768' | 'x25519'): KeyObject {
  const spec = { key: asBuffer(key), format: 'raw-public', asymmetricKeyType } as const;
  if (!stackLimitWritable) return nodeCrypto.createPublicKey(spec);
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return nodeCrypto.createPublicKey(spec);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

const rawPublic = (key: KeyObject): Uint8Array => new Uint8Array(nodeCrypto.createPublicKey(key).export({ format: 'raw-public' }));

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
    x25519PrivateKey(new Uint8Array(32));
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

function x25519PrivateKey(secret: Uint8Array): KeyObject {
  return nodeCrypto.createPrivateKey({ key: asBuffer(secret), format: 'raw-private', asymmetricKeyType: 'x25519' });
}

/** X25519(sk, pk); OpenSSL fails on an all-zero result (low-order pk), which checkedKem reports. */
function x25519(privateKey: KeyObject, publicKey: Uint8Array): Buffer {
  return nodeCrypto.diffieHellman({ privateKey, publicKey: importPublic(publicKey, 'x25519') });
}

interface XWingKeys {
  readonly mlKem: KeyObject; // from d||z = expanded[0:64]
  readonly x25519: KeyObject; // sk_X = expanded[64:96]
  readonly pkX: Uint8Array;
}

/** expandDecapsulationKey(sk): expanded = SHAKE256(sk, 96 bytes) -> ML-KEM seed d||z, X25519 secret sk_X. */
function expandXWing(seed: Uint8Array): XWingKeys {
  const expanded = nodeCrypto.createHash('shake256', { outputLength: 96 }).update(seed).digest();
  try {
    const x25519 = x25519PrivateKey(expanded.subarray(64, 96));
    return { mlKem: mlKemPrivateKey(expanded.subarray(0, 64)), x25519, pkX: rawPublic(x25519) };
  } finally {
    expanded.fill(0);
  }
}

/** Combiner: SHA3-256(ss_M || ss_X || ct_X || pk_X || XWingLabel); zeroes both component secrets. */
function combine(ssM: Uint8Array, ssX: Uint8Array, ctX: Uint8Array, pkX: Uint8Array): Uint8Array {
  const hash = nodeCrypto.createHash('sha3-256').update(ssM).update(ssX).update(ctX).update(pkX).update(XWING_LABEL);
  ssM.fill(0);
  ssX.fill(0);
  return takeSecret(hash.digest());
}

const xWingKeys = new SecretKeyCache(expandXWing);

const xWingCore: KemCore = {
  publicKey(seed) {
    const { mlKem, pkX } = xWingKeys.get(seed);
    const publicKey = new Uint8Array(X_WING.publicKeyLength);
    publicKey.set(rawPublic(mlKem), 0);
    publicKey.set(pkX, ML_KEM_PK);
    return publicKey;
  },
  encapsulate(publicKey) {
    const pkX = publicKey.subarray(ML_KEM_PK);
    const m = mlKemEncapsulate(publicKey.subarray(0, ML_KEM_PK));
    // ek_X is a fresh random X25519 secret; ct_X = X25519(ek_X, base point) is its public key.
    const ephemeral = nodeCrypto.generateKeyPairSync('x25519');
    const ctX = new Uint8Array(ephemeral.publicKey.export({ format: 'raw-public' }));
    let ssX: Uint8Array;
    try {
      ssX = takeSecret(x25519(ephemeral.privateKey, pkX));
    } catch (error) {
      m.sharedSecret.fill(0);
      throw error;
    }
    const ciphertext = new Uint8Array(X_WING.ciphertextLength);
    ciphertext.set(m.ciphertext, 0);
    ciphertext.set(ctX, ML_KEM_CT);
    return { ciphertext, sharedSecret: combine(m.sharedSecret, ssX, ctX, pkX) };
  },
  decapsulate(ciphertext, seed) {
    const keys = xWingKeys.get(seed);
    const ctX = ciphertext.subarray(ML_KEM_CT);
    const ssX = takeSecret(x25519(keys.x25519, ctX)); // first: it is the step that can fail
    const ssM = takeSecret(nodeCrypto.decapsulate(keys.mlKem, ciphertext.subarray(0, ML_KEM_CT)));
    return combine(ssM, ssX, ctX, keys.pkX);
  },
};

let kems: { mlKem768: Kem; xWing: Kem } | undefined;

/** The native KEMs; call only when nativeKemAvailable(). */
export function nativeKems(): { mlKem768: Kem; xWing: Kem } {
  kems ??= {
    mlKem768: checkedKem(ML_KEM_768, 'native', mlKemCore),
    xWing: checkedKem(X_WING, 'native', xWingCore),
  };
  return kems;
}
