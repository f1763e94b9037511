/**
 * The key share (docs/E2EE.md section 5): a sender's media key for one
 * recipient, as a KEM encapsulation to the recipient's statement key, the key
 * sealed under HKDF(shared secret, header), and the sender's ML-DSA-65
 * signature over both. Every binding (room, sender, recipient, index,
 * generation, ciphertext) is in the header, which is HKDF info and AAD.
 */
import { expand, extract } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { AEAD_TAG_LENGTH } from '../aead/types.js';
import { concatBytes } from '../bytes.js';
import type { KemAlgorithm } from '../kem/types.js';
import { ML_DSA_65 } from '../sig/checked.js';
import { type E2eeBackends, mlDsa65 } from './backends.js';
import {
  KEM_CIPHERTEXT_LENGTH,
  KEM_CODE,
  KEY_RING_SIZE,
  kemOfCode,
  MAX_IDENTITY_BYTES,
  MAX_ROOM_BYTES,
  MEDIA_KEY_LENGTH,
  MSG_SHARE,
  SHARE_HKDF_SALT,
  SHARE_SIG_CONTEXT,
} from './constants.js';
import { E2eeError } from './errors.js';
import { decodeWith, lpString, readString } from './wire.js';

export interface ShareFields {
  readonly kemAlgorithm: KemAlgorithm;
  readonly generation: number;
  readonly room: string;
  readonly sender: string;
  readonly recipient: string;
}

export interface DecodedShare extends ShareFields {
  readonly keyIndex: number;
  readonly header: Uint8Array;
  readonly ciphertext: Uint8Array;
  readonly sealed: Uint8Array;
  readonly signature: Uint8Array;
}

const SEALED_LENGTH = MEDIA_KEY_LENGTH + AEAD_TAG_LENGTH;
const ZERO_NONCE = new Uint8Array(12);

export const keyIndexOf = (generation: number): number => generation % KEY_RING_SIZE;

/** Type, algorithm, index, generation, room, sender, recipient, ciphertext. */
export function shareHeader(f: ShareFields, ciphertext: Uint8Array): Uint8Array {
  if (!Number.isInteger(f.generation) || f.generation < 1 || f.generation > 0xffff_ffff)
    throw new E2eeError('ERR_E2EE_FORMAT', 'key share: generation must be 1..2^32-1');
  if (ciphertext.length !== KEM_CIPHERTEXT_LENGTH[f.kemAlgorithm]) throw new E2eeError('ERR_E2EE_FORMAT', `key share: not a ${f.kemAlgorithm} ciphertext`);
  const gen = new Uint8Array(4);
  new DataView(gen.buffer).setUint32(0, f.generation);
  return concatBytes(
    Uint8Array.of(MSG_SHARE, KEM_CODE[f.kemAlgorithm], keyIndexOf(f.generation)),
    gen,
    lpString(f.room, 'room', MAX_ROOM_BYTES),
    lpString(f.sender, 'sender', MAX_IDENTITY_BYTES),
    lpString(f.recipient, 'recipient', MAX_IDENTITY_BYTES),
    ciphertext,
  );
}

/** k = HKDF-SHA256(ikm = shared secret, salt = "volly-e2ee.v1 key-share", info = header, 32). */
export function shareAeadKey(sharedSecret: Uint8Array, header: Uint8Array): Uint8Array {
  return expand(sha256, extract(sha256, sharedSecret, SHARE_HKDF_SALT), header, 32);
}

export interface SealInput {
  readonly recipientKemPublicKey: Uint8Array;
  readonly senderSigSecretKey: Uint8Array;
  readonly mediaKey: Uint8Array;
}

/** A whole key share for one recipient: header ‖ sealed media key ‖ sender signature. */
export function sealKeyShare(b: E2eeBackends, f: ShareFields, input: SealInput): Uint8Array {
  if (input.mediaKey.length !== MEDIA_KEY_LENGTH) throw new E2eeError('ERR_E2EE_FORMAT', 'media key must be 32 bytes');
  const { ciphertext, sharedSecret } = b.getKem(f.kemAlgorithm).encapsulate(input.recipientKemPublicKey);
  const header = shareHeader(f, ciphertext);
  const k = shareAeadKey(sharedSecret, header);
  const sealed = new Uint8Array(SEALED_LENGTH);
  b.aead.sealInto(sealed, k, ZERO_NONCE, input.mediaKey, header);
  k.fill(0);
  sharedSecret.fill(0);
  const signed = concatBytes(header, sealed);
  return concatBytes(signed, mlDsa65(b).sign(signed, input.senderSigSecretKey, SHARE_SIG_CONTEXT));
}

/** Parses a key share without checking its signature or opening it. */
export function decodeKeyShare(bytes: Uint8Array): DecodedShare {
  return decodeWith(bytes, 'key share', (r, bytes) => {
    if (r.u8('type') !== MSG_SHARE) r.fail('not a key share');
    const kemAlgorithm = kemOfCode(r.u8('kem_alg')) ?? r.fail('unknown kem_alg');
    const keyIndex = r.u8('key_index');
    const g = r.take(4, 'generation');
    const generation = new DataView(g.buffer).getUint32(0);
    const room = readString(r, 'room', MAX_ROOM_BYTES);
    const sender = readString(r, 'sender', MAX_IDENTITY_BYTES);
    const recipient = readString(r, 'recipient', MAX_IDENTITY_BYTES);
    const ciphertext = r.take(KEM_CIPHERTEXT_LENGTH[kemAlgorithm], 'kem_ciphertext');
    const headerLength = bytes.length - SEALED_LENGTH - ML_DSA_65.signatureLength;
    const sealed = r.take(SEALED_LENGTH, 'sealed');
    const signature = r.take(ML_DSA_65.signatureLength, 'signature');
    r.end();
    if (generation === 0) r.fail('generation 0');
    return { kemAlgorithm, keyIndex, generation, room, sender, recipient, header: bytes.slice(0, headerLength), ciphertext, sealed, signature };
  });
}

export interface OpenInput {
  /** The recipient's own identity, room and KEM key. */
  readonly me: string;
  readonly room: string;
  readonly kemAlgorithm: KemAlgorithm;
  readonly kemSecretKey: Uint8Array;
  /** The sender's ML-DSA-65 key from its verified statement; undefined when there is none. */
  readonly senderSigPublicKey: Uint8Array | undefined;
  /** The last generation accepted from this sender (0: none). */
  readonly lastGeneration: number;
}

/** Checks a decoded share in the order of docs/E2EE.md section 5 and returns the media key; throws E2eeError. */
export function openKeyShare(b: E2eeBackends, share: DecodedShare, input: OpenInput): Uint8Array {
  if (share.recipient !== input.me || share.room !== input.room) throw new E2eeError('ERR_E2EE_BINDING', 'key share is for another recipient or room');
  if (input.senderSigPublicKey === undefined) throw new E2eeError('ERR_E2EE_UNKNOWN_SENDER', 'key share from a participant without a verified statement');
  const signed = concatBytes(share.header, share.sealed);
  if (!mlDsa65(b).verify(share.signature, signed, input.senderSigPublicKey, SHARE_SIG_CONTEXT)) {
    throw new E2eeError('ERR_E2EE_SIGNATURE', 'key share is not signed by its sender');
  }
  if (share.kemAlgorithm !== input.kemAlgorithm || share.keyIndex !== keyIndexOf(share.generation)) {
    throw new E2eeError('ERR_E2EE_ALGORITHM', 'key share algorithm or key index does not match');
  }
  if (share.generation <= input.lastGeneration) throw new E2eeError('ERR_E2EE_REPLAY', 'key share is not newer than the last one');
  const ss = b.getKem(share.kemAlgorithm).decapsulate(share.ciphertext, input.kemSecretKey);
  const k = shareAeadKey(ss, share.header);
  const mediaKey = new Uint8Array(MEDIA_KEY_LENGTH);
  const ok = b.aead.openInto(mediaKey, k, ZERO_NONCE, share.sealed, share.header);
  k.fill(0);
  ss.fill(0);
  if (!ok) throw new E2eeError('ERR_E2EE_AUTH', 'key share does not open');
  return mediaKey;
}
