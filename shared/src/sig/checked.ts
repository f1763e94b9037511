/**
 * The one place where signature inputs are checked (the counterpart of
 * ../kem/checked.ts). Every backend supplies a `SigCore` (operations on
 * inputs of the right length) and gets its `Signer` from `checkedSigner`,
 * which keeps the invariants of ./types.ts:
 * - public key, seed and context are checked before any library sees them
 *   (else KeyFormatError, naming the field, never its bytes);
 * - a signature of the wrong length, or one the library rejects or throws
 *   on, verifies as false; library errors are dropped, never attached;
 * - `secretKey` is the caller's seed copied once at keygen.
 * Browser-safe: no node:* import.
 */
import { randomBytes } from '../backend/random.js';
import { copyBytes } from '../bytes.js';
import { KeyFormatError } from '../errors.js';
import { checkLength } from '../kem/checked.js';
import { MAX_CONTEXT_BYTES, type SigAlgorithm, type SigBackendName, type SigKeyPair, type Signer } from './types.js';

export interface SigSizes {
  readonly algorithm: SigAlgorithm;
  readonly publicKeyLength: number;
  readonly secretKeyLength: number;
  readonly signatureLength: number;
}

/** FIPS 204 table 2 (ML-DSA-65): pk 1952, signature 3309; the secret key is the 32-byte seed ξ (section 6.1). */
export const ML_DSA_65: SigSizes = Object.freeze({
  algorithm: 'ML-DSA-65',
  publicKeyLength: 1952,
  secretKeyLength: 32,
  signatureLength: 3309,
});

/** Backend operations; every argument has already been checked. */
export interface SigCore {
  publicKey(seed: Uint8Array): Uint8Array;
  sign(message: Uint8Array, seed: Uint8Array, context: Uint8Array): Uint8Array;
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array, context: Uint8Array): boolean;
}

const EMPTY = new Uint8Array(0);

function checkContext(context: unknown): asserts context is Uint8Array {
  if (!(context instanceof Uint8Array)) throw new KeyFormatError('signature context must be a Uint8Array');
  if (context.length > MAX_CONTEXT_BYTES) throw new KeyFormatError(`signature context must be at most ${MAX_CONTEXT_BYTES} bytes, got ${context.length}`);
}

function checkMessage(message: unknown): asserts message is Uint8Array {
  if (!(message instanceof Uint8Array)) throw new KeyFormatError('message to sign must be a Uint8Array');
}

export function checkedSigner(sizes: SigSizes, backend: SigBackendName, core: SigCore): Signer {
  const { algorithm } = sizes;
  return Object.freeze({
    ...sizes,
    backend,
    keygen(seed?: Uint8Array): SigKeyPair {
      if (seed !== undefined) checkLength(seed, sizes.secretKeyLength, `${algorithm} seed`);
      const secretKey = seed === undefined ? randomBytes(sizes.secretKeyLength) : copyBytes(seed);
      return { publicKey: core.publicKey(secretKey), secretKey };
    },
    sign(message: Uint8Array, secretKey: Uint8Array, context: Uint8Array = EMPTY): Uint8Array {
      checkMessage(message);
      checkLength(secretKey, sizes.secretKeyLength, `${algorithm} secret key`);
      checkContext(context);
      const signature = core.sign(message, secretKey, context);
      // A library returning anything else is a bug in this module, not bad input.
      if (signature.length !== sizes.signatureLength) throw new Error('signature backend returned a signature of the wrong length');
      return signature;
    },
    verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array, context: Uint8Array = EMPTY): boolean {
      checkMessage(message);
      checkLength(publicKey, sizes.publicKeyLength, `${algorithm} public key`);
      checkContext(context);
      if (!(signature instanceof Uint8Array) || signature.length !== sizes.signatureLength) return false;
      try {
        return core.verify(signature, message, publicKey, context) === true;
      } catch {
        return false;
      }
    },
  });
}
