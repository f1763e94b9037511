/**
 * X25519 (RFC 7748) for the native X-Wing: libsodium's crypto_scalarmult
 * when sodium-native loads, node:crypto otherwise. Both are vetted; libsodium
 * is preferred because it works on raw bytes, where node:crypto needs a
 * KeyObject for every key it touches (an import per peer key, a key-pair
 * object per ephemeral): about half of X-Wing's X25519 cost
 * (shared/bench/x25519.mjs).
 *
 * Invariants, for both:
 * - `dh` throws when the result is all-zero (a small-order peer key): OpenSSL
 *   refuses to derive it, libsodium checks the point and the result; the
 *   caller (checkedKem) turns that into a KeyFormatError;
 * - every secret a function makes and drops is zeroed before it returns;
 * - a `Private` holds the secret as long as the caller holds it (the X-Wing
 *   key cache), and `wipe` ends it where the backend allows (libsodium: the
 *   bytes are zeroed; node:crypto: the KeyObject is left to the GC).
 * Node only; never imported by the browser backend.
 */
import * as nodeCrypto from 'node:crypto';
import { loadSodium, type Sodium } from '../backend/sodium.js';
import { copyBytes } from '../bytes.js';
import { asBuffer, importPublic, rawPublic, takeSecret } from './node-keys.js';

export interface X25519<Private> {
  readonly name: 'libsodium' | 'node:crypto';
  /** The private key for a 32-byte secret (copied or imported; the caller keeps its own bytes). */
  privateKey(secret: Uint8Array): Private;
  /** X25519(sk, 9). */
  publicKey(sk: Private): Uint8Array;
  /** X25519(sk, pk) as a plain Uint8Array; throws on an all-zero result. */
  dh(sk: Private, publicKey: Uint8Array): Uint8Array;
  /** A fresh random key pair. */
  ephemeral(): { readonly sk: Private; readonly publicKey: Uint8Array };
  wipe(sk: Private): void;
}

const SIZE = 32;

function sodiumX25519(sodium: Sodium): X25519<Uint8Array> {
  const publicKey = (sk: Uint8Array) => {
    const pk = new Uint8Array(SIZE);
    sodium.crypto_scalarmult_base(pk, sk);
    return pk;
  };
  return {
    name: 'libsodium',
    privateKey: copyBytes,
    publicKey,
    dh(sk, pk) {
      const out = new Uint8Array(SIZE);
      sodium.crypto_scalarmult(out, sk, pk);
      return out;
    },
    ephemeral() {
      const sk = nodeCrypto.randomFillSync(new Uint8Array(SIZE));
      return { sk, publicKey: publicKey(sk) };
    },
    wipe: (sk) => sk.fill(0),
  };
}

const nodeX25519: X25519<nodeCrypto.KeyObject> = {
  name: 'node:crypto',
  privateKey: (secret) => nodeCrypto.createPrivateKey({ key: asBuffer(secret), format: 'raw-private', asymmetricKeyType: 'x25519' }),
  publicKey: rawPublic,
  dh: (sk, pk) => takeSecret(nodeCrypto.diffieHellman({ privateKey: sk, publicKey: importPublic(pk, 'x25519') })),
  ephemeral() {
    const { privateKey, publicKey } = nodeCrypto.generateKeyPairSync('x25519');
    return { sk: privateKey, publicKey: new Uint8Array(publicKey.export({ format: 'raw-public' })) };
  },
  wipe: () => {},
};

/** libsodium's X25519 when it loads, else node:crypto's; `prefer` picks one (tests compare them). */
export function x25519(prefer?: 'libsodium' | 'node:crypto'): X25519<unknown> {
  const sodium = prefer === 'node:crypto' ? undefined : loadSodium();
  if (prefer === 'libsodium' && sodium === undefined) throw new Error('sodium-native does not load here');
  return (sodium === undefined ? nodeX25519 : sodiumX25519(sodium)) as X25519<unknown>;
}
